"""The support access form: a new grant, a request, an extension, or an approval with a
shorter window / narrower scope. It validates as the user types (with the same pure rules
the services apply) and only lets a valid form be submitted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from console.config import SupportSettings
from console.display import literal
from console.errors import ValidationError
from console.permissions import SUPPORT_CEILING, Permission
from console.support_rules import (
    check_text,
    check_ticket,
    duration_text,
    parse_hours,
    parse_scope,
    window_minutes,
)
from console.users import validate_username


class FormMode(StrEnum):
    GRANT = "grant"  # staff gives access now
    REQUEST = "request"  # an engineer asks
    EXTEND = "extend"  # more time on an active grant
    APPROVE = "approve"  # approve, shorter and/or narrower


@dataclass(frozen=True)
class AccessFormResult:
    scope: tuple[str, ...]
    hours: float | None
    engineer: str = ""
    reason: str = ""
    ticket: str = ""
    note: str = ""


SUBMIT = {FormMode.GRANT: "Grant", FormMode.REQUEST: "Send request",
          FormMode.EXTEND: "Ask for more time", FormMode.APPROVE: "Approve"}


class AccessForm(ModalScreen[AccessFormResult | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="support-form.cancel")]
    DEFAULT_CSS = """
    AccessForm { align: center middle; }
    AccessForm > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; padding: 0 1; background: $surface;
    }
    AccessForm #form-title { text-style: bold; }
    AccessForm #form-info { color: $foreground-muted; }
    AccessForm .row { height: 1; margin-top: 1; }
    AccessForm .row Label { width: 10; }
    AccessForm .row Input { width: 1fr; }
    AccessForm Input.-invalid { color: $error; }
    AccessForm SelectionList { height: auto; max-height: 8; margin-top: 1; }
    AccessForm #form-error { color: $error; height: auto; min-height: 1; margin-top: 1; }
    AccessForm #form-buttons { height: 1; margin-top: 1; }
    AccessForm #form-buttons Button { margin-right: 2; }
    """

    def __init__(self, mode: FormMode, settings: SupportSettings, *, title: str,
                 info: str = "", scope_choices: tuple[str, ...] | None = None,
                 scope: tuple[str, ...] = (), max_minutes: int | None = None,
                 hours: str = "", ticket: str = "") -> None:
        super().__init__()
        self.mode = mode
        self.settings = settings
        self.title_text = title
        self.info = info
        self.choices = scope_choices or tuple(sorted(p.value for p in SUPPORT_CEILING))
        self.preset_scope = scope
        self.max_minutes = max_minutes
        self.preset_hours = hours
        self.preset_ticket = ticket

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), id="form-title")
            if self.info:
                yield Static(literal(self.info), id="form-info")
            if self.mode == FormMode.GRANT:
                with Horizontal(classes="row"):
                    yield Label("Engineer")
                    yield Input(id="engineer", placeholder="FlowPro account, e.g. fp-jane",
                                max_length=64, compact=True)
            yield SelectionList[str](
                *(Selection(f"{name}  {Permission(name).description}", name,
                            name in self.preset_scope) for name in self.choices),
                id="scope", compact=True)
            with Horizontal(classes="row"):
                yield Label("Hours")
                limit = (duration_text(self.max_minutes) if self.max_minutes
                         else f"{self.settings.max_hours:g} h")
                yield Input(self.preset_hours, id="hours", compact=True,
                            placeholder=f"default {self.settings.default_hours:g}, at most {limit}")
            if self.mode != FormMode.APPROVE:
                with Horizontal(classes="row"):
                    yield Label("Reason")
                    yield Input(id="reason", max_length=500, compact=True,
                                placeholder="why the access is needed")
                with Horizontal(classes="row"):
                    yield Label("Ticket")
                    yield Input(self.preset_ticket, id="ticket", max_length=64, compact=True,
                                placeholder=f"matching {self.settings.ticket_pattern}")
            else:
                with Horizontal(classes="row"):
                    yield Label("Note")
                    yield Input(id="note", max_length=500, compact=True,
                                placeholder="optional, for the record")
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button(SUBMIT[self.mode], id="submit", variant="primary", compact=True,
                             disabled=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.validate_form()

    def _value(self, selector: str) -> str:
        found = self.query(selector)
        return found.first(Input).value if found else ""

    def _check(self) -> tuple[AccessFormResult | None, str, str]:
        """(result, message, field) — result None while something is wrong."""
        try:
            engineer = ""
            if self.mode == FormMode.GRANT:
                engineer = self._value("#engineer").strip()
                if not engineer:
                    raise ValidationError("engineer", "name the FlowPro account")
                validate_username(engineer)
            scope = parse_scope(self.query_one("#scope", SelectionList).selected)
            hours = parse_hours(self._value("#hours"))
            if self.max_minutes is not None and hours is not None and \
                    round(hours * 60) > self.max_minutes:
                raise ValidationError("hours", f"at most the {duration_text(self.max_minutes)} "
                                      "asked for: an approver may only shorten the window")
            window_minutes(self.settings, hours)
            reason = ticket = note = ""
            if self.mode != FormMode.APPROVE:
                reason = check_text("reason", self._value("#reason"))
                ticket = check_ticket(self.settings, self._value("#ticket"))
            else:
                note = check_text("note", self._value("#note"), required=False)
        except ValidationError as exc:
            return None, exc.message, {"username": "engineer"}.get(exc.field, exc.field)
        return AccessFormResult(tuple(sorted(p.value for p in scope)), hours, engineer,
                                reason, ticket, note), "", ""

    @on(Input.Changed)
    @on(SelectionList.SelectedChanged)
    def validate_form(self) -> None:
        result, message, field = self._check()
        self.query_one("#form-error", Static).update(literal(message))
        for name in ("engineer", "hours", "reason", "ticket", "note"):
            for widget in self.query(f"#{name}"):
                widget.set_class(field == name, "-invalid")
        self.query_one("#submit", Button).disabled = result is None

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        result, _, _ = self._check()
        if result is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
