"""Place a legal hold: name, reason, and what it covers (a category, a data subject, a
range of the rows' age, or a combination). The service checks it all; its errors come
back into the form."""

from __future__ import annotations

from datetime import date

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from console.errors import ValidationError
from console.retention.holds import HoldView, add_hold
from screens.widgets.form import FormField, FormScreen


def _text(value: str) -> None:
    if not value.strip():
        raise ValidationError("value", "required")


def _day(value: str) -> None:
    if value.strip():
        try:
            date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("date", "a day like 2024-12-31") from None


def _id(value: str) -> None:
    if value.strip() and not value.strip().isdigit():
        raise ValidationError("id", "a number (the id), or empty")


class HoldFormScreen(FormScreen[HoldView | None]):
    """Dismisses with the placed hold, or None when cancelled."""

    CSS_PATH = "hold_form.tcss"

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Static("Place a legal hold", classes="form-title")
            with Horizontal(classes="form-row"):
                yield FormField("Name", name="name", check=_text, max_length=100,
                                placeholder="e.g. tax audit 2026")
                yield FormField("Category (empty: all)", name="category", max_length=64,
                                placeholder="e.g. payroll")
            yield FormField("Reason", name="reason", check=_text, max_length=500,
                            placeholder="why the data must be kept")
            with Horizontal(classes="form-row"):
                yield FormField("Employee id", name="employee", check=_id, max_length=12)
                yield FormField("Customer id", name="customer", check=_id, max_length=12)
            with Horizontal(classes="form-row"):
                yield FormField("Aged from", name="from", check=_day, max_length=10,
                                placeholder="YYYY-MM-DD")
                yield FormField("Aged to", name="to", check=_day, max_length=10,
                                placeholder="YYYY-MM-DD")
            yield Static("", id="form-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button("Place hold", id="save", variant="warning", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def extra_valid(self) -> bool:
        fields = {f.field_name: f.value.strip() for f in self.query(FormField)}
        return bool(fields["name"] and fields["reason"])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self.save()

    def on_input_submitted(self) -> None:
        if not self.query_one("#save", Button).disabled:
            self.save()

    def save(self) -> None:
        f = {field.field_name: field.value.strip() for field in self.query(FormField)}
        self.run(add_hold, name=f["name"], reason=f["reason"],
                 category_name=f["category"] or None,
                 employee=int(f["employee"]) if f["employee"] else None,
                 customer=int(f["customer"]) if f["customer"] else None,
                 range_from=date.fromisoformat(f["from"]) if f["from"] else None,
                 range_to=date.fromisoformat(f["to"]) if f["to"] else None,
                 on_done=self.dismiss)
