"""The form that starts an export (subject, handover, logs) or a backup: what, why, for
whom and how it is protected, one row per field so that it fits 80x24."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from console.display import literal
from console.errors import ConsoleError, ValidationError
from console.logs.common import LABELS, Level
from console.logs.query import LogFilter

KINDS = (("A person (access / portability)", "subject"), ("Handover: every category", "handover"),
         ("Processing logs", "logs"), ("Backup of the database", "backup"))
PURPOSES = (("data-subject request", "data-subject-request"), ("handover", "handover"),
            ("legal order", "legal-order"), ("written consent", "written-consent"))
PROTECTION = (("age recipients", "recipients"), ("passphrase", "passphrase"),
              ("none (in the clear)", "none"))


@dataclass(frozen=True)
class ExportRequest:
    """What the form collected (the passphrase never appears in a repr)."""

    kind: str
    values: dict[str, str]
    passphrase: str | None = field(default=None, repr=False)
    log_filter: LogFilter | None = None  # the log browser's view, for kind "logs"


class ExportFormScreen(ModalScreen[ExportRequest | None]):
    """Dismisses with what to export, or None. `submit` (set by the caller) starts it and
    reports errors back into the form."""

    CSS_PATH = "export_form.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export_form.cancel")]

    def __init__(self, kind: str = "subject", *, subject: str = "",
                 log_filter: LogFilter | None = None) -> None:
        """`log_filter`: the log browser's current view, exported as it is (shown, not
        edited: the words and level rows give way to it)."""
        super().__init__()
        self.kind = kind
        self.subject = subject
        self.log_filter = log_filter
        self.submit: Any = None

    def _row(self, label: str, widget: Any, row_id: str) -> Horizontal:
        return Horizontal(Label(label, classes="row-label"), widget, classes="form-row",
                          id=f"row-{row_id}")

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static("New export", classes="form-title")
            yield self._row("What", Select(KINDS, value=self.kind, allow_blank=False,
                                           id="kind", compact=True), "kind")
            yield self._row("Person", Input(self.subject, placeholder="employee:12 or "
                                            "customer:40", id="subject", compact=True),
                            "subject")
            yield self._row("Categories", Input(placeholder="all (or e.g. employees,payroll)",
                                                id="categories", compact=True), "categories")
            yield self._row("Log view", Static(literal(_describe(self.log_filter)),
                                               id="view-filter"), "view")
            yield self._row("Log filter", Input(placeholder='words ("a phrase", -word)',
                                                id="text", compact=True), "text")
            yield self._row("Log level", Input(placeholder="e.g. warn+ or error,crit",
                                               id="level", compact=True), "level")
            yield self._row("Purpose", Select(PURPOSES, value="data-subject-request",
                                              allow_blank=False, id="purpose", compact=True),
                            "purpose")
            yield self._row("Reference", Input(placeholder="order or consent reference",
                                               id="reference", compact=True), "reference")
            yield self._row("For", Input(placeholder="who receives it", id="to",
                                         compact=True), "to")
            yield self._row("Protect with", Select(PROTECTION, value="recipients",
                                                   allow_blank=False, id="protection",
                                                   compact=True), "protection")
            yield self._row("Recipients", Input(placeholder="age1... (space-separated; empty: "
                                                "from the config)", id="recipients",
                                                compact=True), "recipients")
            yield self._row("Passphrase", Input(password=True, placeholder="12 characters or "
                                                "more", id="passphrase", compact=True),
                            "passphrase")
            yield self._row("Again", Input(password=True, id="passphrase2", compact=True),
                            "passphrase2")
            yield Static("", id="form-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button("Start", id="start", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._arrange()
        self.query_one("#kind", Select).focus()

    @on(Select.Changed)
    def _changed(self, event: Select.Changed) -> None:
        if event.select.id == "kind":
            kind = str(event.value)
            purpose = self.query_one("#purpose", Select)
            if kind == "handover":
                purpose.value = "handover"
            elif kind == "subject":
                purpose.value = "data-subject-request"
        self._arrange()

    def _arrange(self) -> None:
        kind = str(self.query_one("#kind", Select).value)
        protection = str(self.query_one("#protection", Select).value)
        shown = {"subject": kind == "subject", "categories": kind == "handover",
                 "view": kind == "logs" and self.log_filter is not None,
                 "text": kind == "logs" and self.log_filter is None,
                 "level": kind == "logs" and self.log_filter is None,
                 "purpose": kind != "backup", "reference": kind != "backup",
                 "to": kind != "backup", "recipients": protection == "recipients",
                 "passphrase": protection == "passphrase",
                 "passphrase2": protection == "passphrase"}
        for name, visible in shown.items():
            self.query_one(f"#row-{name}").display = visible
        self.query_one(".form-title", Static).update(
            "New backup" if kind == "backup" else "New export")

    def values(self) -> ExportRequest:
        kind = str(self.query_one("#kind", Select).value)
        collected = {name: self.query_one(f"#{name}", Input).value.strip()
                     for name in ("subject", "categories", "text", "level", "reference",
                                  "to", "recipients")}
        collected["purpose"] = str(self.query_one("#purpose", Select).value)
        collected["protection"] = str(self.query_one("#protection", Select).value)
        passphrase = None
        if collected["protection"] == "passphrase":
            passphrase = self.query_one("#passphrase", Input).value
            if passphrase != self.query_one("#passphrase2", Input).value:
                raise ValidationError("passphrase", "the two passphrases differ")
        return ExportRequest(kind, collected, passphrase,
                             log_filter=self.log_filter if kind == "logs" else None)

    @on(Button.Pressed, "#start")
    @on(Input.Submitted)
    def _start(self) -> None:
        try:
            request = self.values()
        except ValidationError as exc:
            self.show_error(exc)
            return
        self.query_one("#start", Button).disabled = True
        self.say("Starting…")
        if self.submit is not None:
            self.submit(self, request)
        else:
            self.dismiss(request)

    def show_error(self, error: ConsoleError) -> None:
        self.query_one("#start", Button).disabled = False
        self.say(error.message)
        if isinstance(error, ValidationError):
            target = {"recipient": "recipients", "encryption": "protection",
                      "passphrase": "passphrase", "reference": "reference",
                      "subject": "subject", "categories": "categories",
                      "purpose": "purpose", "text": "text", "filter": "level"}.get(error.field)
            if target:
                self.query_one(f"#{target}").focus()

    def say(self, message: str) -> None:
        self.query_one("#form-error", Static).update(literal(message))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _describe(flt: LogFilter | None) -> str:
    """The view's filters in one line, as the browser's chips name them."""
    if flt is None:
        return ""
    parts = []
    for name, value in flt.describe().items():
        if name == "levels":
            value = [LABELS[Level(v)] for v in value]  # type: ignore[union-attr]
        parts.append(f"{name} {','.join(map(str, value)) if isinstance(value, list) else value}")
    return " · ".join(parts) or "every entry (no filters)"
