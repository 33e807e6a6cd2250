"""The requests area's forms: register a request, fulfil one (by its kind), close one.
One row per field, so each fits 80x24."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from console.display import literal
from console.errors import ConsoleError, ValidationError

KINDS = ("access", "rectification", "erasure", "portability", "restriction", "objection")
PROTECTION = (("age recipients", "recipients"), ("passphrase", "passphrase"),
              ("none (in the clear)", "none"))


class _RowForm(ModalScreen[Any]):
    """A titled box of label/input rows, an error line and two buttons."""

    CSS_PATH = "request_forms.tcss"
    # Its rules are scoped to this class (a stylesheet loaded by any screen applies to
    # every screen after it: unscoped, '.form-buttons' here set other forms' buttons).
    DEFAULT_CLASSES = "request-form"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="request_form.cancel")]
    TITLE_TEXT = ""
    GO = "Save"

    def __init__(self) -> None:
        super().__init__()
        self.submit: Any = None

    def row(self, label: str, widget: Any, name: str) -> Horizontal:
        return Horizontal(Label(label, classes="row-label"), widget, classes="form-row",
                          id=f"row-{name}")

    def rows(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes="form-box"):
            yield Static(literal(self.TITLE_TEXT), classes="form-title")
            yield from self.rows()
            yield Static("", id="form-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button(self.GO, id="go", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def collect(self) -> Any:
        raise NotImplementedError

    @on(Button.Pressed, "#go")
    @on(Input.Submitted)
    def _go(self) -> None:
        try:
            collected = self.collect()
        except ValidationError as exc:
            self.show_error(exc)
            return
        self.query_one("#go", Button).disabled = True
        self.say("Working…")
        if self.submit is not None:
            self.submit(self, collected)
        else:
            self.dismiss(collected)

    def show_error(self, error: ConsoleError) -> None:
        self.query_one("#go", Button).disabled = False
        self.say(error.message)

    def say(self, message: str) -> None:
        self.query_one("#form-error", Static).update(literal(message))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class NewRequest:
    kind: str
    subject: str
    received: str
    handler: str
    notes: str


class AddRequestScreen(_RowForm):
    TITLE_TEXT = "Register a data-subject request"
    GO = "Register"

    def __init__(self, today: str) -> None:
        super().__init__()
        self.today = today

    def rows(self) -> ComposeResult:
        yield self.row("Kind", Select([(k, k) for k in KINDS], value="access",
                                      allow_blank=False, id="kind", compact=True), "kind")
        yield self.row("Person", Input(placeholder="employee:12 or customer:40", id="subject",
                                       compact=True), "subject")
        yield self.row("Received", Input(self.today, placeholder="YYYY-MM-DD", id="received",
                                         compact=True), "received")
        yield self.row("Handler", Input(placeholder="you (or a username)", id="handler",
                                        compact=True), "handler")
        yield self.row("Notes", Input(placeholder="refer to people by id, not by name",
                                      id="notes", compact=True), "notes")

    def collect(self) -> NewRequest:
        return NewRequest(str(self.query_one("#kind", Select).value), self.value("subject"),
                          self.value("received"), self.value("handler"), self.value("notes"))


@dataclass(frozen=True)
class FulfilValues:
    protection: str = "recipients"
    recipients: str = ""
    passphrase: str | None = field(default=None, repr=False)
    changes: str = ""
    note: str = ""
    lift: bool = False


class FulfilScreen(_RowForm):
    """What fulfilling a request needs, by kind: the export's protection (access,
    portability), the corrections (rectification), a note and lift (restriction)."""

    GO = "Fulfil"

    def __init__(self, request_id: int, kind: str, subject: str, fields: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.fields = fields
        self.TITLE_TEXT = f"Fulfil request #{request_id}: {kind} for {subject}"

    def rows(self) -> ComposeResult:
        if self.kind in ("access", "portability"):
            yield Static("Their data is exported as a bundle (JSON Lines + CSV, signed).",
                         classes="hint")
            yield self.row("Protect with", Select(PROTECTION, value="recipients",
                                                  allow_blank=False, id="protection",
                                                  compact=True), "protection")
            yield self.row("Recipients", Input(placeholder="age1... (empty: from the config)",
                                               id="recipients", compact=True), "recipients")
            yield self.row("Passphrase", Input(password=True, id="passphrase", compact=True),
                           "passphrase")
            yield self.row("Again", Input(password=True, id="passphrase2", compact=True),
                           "passphrase2")
        elif self.kind == "rectification":
            yield Static(literal(f"Fields: {self.fields}"), classes="hint")
            yield self.row("Corrections", Input(placeholder="email=new@example.com; "
                                                "address=", id="changes", compact=True),
                           "changes")
        else:
            yield self.row("Why", Input(placeholder="e.g. disputes the accuracy", id="note",
                                        compact=True), "note")
            yield self.row("", Checkbox("Lift the restriction instead", id="lift",
                                        compact=True), "lift")

    def on_mount(self) -> None:
        self._arrange()

    @on(Select.Changed)
    def _arrange(self) -> None:
        if self.kind not in ("access", "portability"):
            return
        protection = str(self.query_one("#protection", Select).value)
        self.query_one("#row-recipients").display = protection == "recipients"
        for name in ("passphrase", "passphrase2"):
            self.query_one(f"#row-{name}").display = protection == "passphrase"

    def collect(self) -> FulfilValues:
        if self.kind in ("access", "portability"):
            protection = str(self.query_one("#protection", Select).value)
            passphrase = None
            if protection == "passphrase":
                passphrase = self.query_one("#passphrase", Input).value
                if passphrase != self.query_one("#passphrase2", Input).value:
                    raise ValidationError("passphrase", "the two passphrases differ")
            return FulfilValues(protection, self.value("recipients"), passphrase)
        if self.kind == "rectification":
            return FulfilValues(changes=self.query_one("#changes", Input).value)
        return FulfilValues(note=self.value("note"),
                            lift=self.query_one("#lift", Checkbox).value)


def parse_changes(text: str) -> dict[str, str]:
    """'email=a@b.c; address=' -> {'email': 'a@b.c', 'address': ''}."""
    changes: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValidationError("changes", f"write FIELD=VALUE, separated by ';' (got "
                                  f"{part.strip()!r})")
        changes[name.strip()] = value.strip()
    return changes


@dataclass(frozen=True)
class Closing:
    outcome: str
    note: str


class CloseRequestScreen(_RowForm):
    GO = "Close"

    def __init__(self, request_id: int, fulfilled: bool) -> None:
        super().__init__()
        self.fulfilled = fulfilled
        self.TITLE_TEXT = f"Close request #{request_id}"

    def rows(self) -> ComposeResult:
        outcomes = ["fulfilled", "rejected", "withdrawn"] if self.fulfilled else \
            ["rejected", "withdrawn"]
        yield self.row("Outcome", Select([(o, o) for o in outcomes], value=outcomes[0],
                                         allow_blank=False, id="outcome", compact=True),
                       "outcome")
        yield self.row("Note", Input(placeholder="why (needed unless fulfilled)", id="note",
                                     compact=True), "note")

    def collect(self) -> Closing:
        return Closing(str(self.query_one("#outcome", Select).value), self.value("note"))
