"""Form fields that validate as you type with the services' own rules, and show the rule
that fails under the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label, Static

from console.display import printable
from console.errors import ConsoleError, ValidationError

T = TypeVar("T")

Check = Callable[[str], object]  # raises console.errors.ValidationError when the value is bad


class Rule(Validator):
    """A Textual validator around a console validation function."""

    def __init__(self, check: Check) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        try:
            self.check(value)
        except ValidationError as exc:
            return self.failure(exc.reason)
        return self.success()


class FormField(Vertical):
    """A label, an input and, under it, what is wrong with the value (if anything)."""

    DEFAULT_CSS = """
    FormField { height: auto; }
    FormField > Label { color: $foreground-muted; }
    FormField > Input { background: $boost; }
    FormField > Input:focus { background: $primary 30%; }
    FormField > Input.-invalid { background: $error 30%; }
    FormField > .field-error { color: $error; height: auto; display: none; }
    """

    class Changed(Message):
        def __init__(self, field: FormField) -> None:
            super().__init__()
            self.field = field

    def __init__(self, label: str, *, name: str, value: str = "", placeholder: str = "",
                 password: bool = False, check: Check | None = None, max_length: int = 0,
                 disabled: bool = False) -> None:
        super().__init__(id=f"field-{name}")
        self.label = label
        self.field_name = name
        self.initial = value
        self.placeholder = placeholder
        self.password = password
        self.check = check
        self.max_length = max_length
        self.input_disabled = disabled
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Label(self.label)
        yield Input(self.initial, placeholder=self.placeholder, password=self.password,
                    id=self.field_name, max_length=self.max_length,
                    validators=[Rule(self.check)] if self.check else None,
                    validate_on=["changed", "blur"], disabled=self.input_disabled,
                    compact=True)
        yield Static("", classes="field-error")

    def on_mount(self) -> None:
        self.problem = self._problem_of(self.initial)

    @property
    def value(self) -> str:
        return self.query_one(Input).value

    @property
    def valid(self) -> bool:
        return self.problem is None

    def _problem_of(self, value: str) -> str | None:
        if self.check is None:
            return None
        try:
            self.check(value)
        except ValidationError as exc:
            return exc.reason
        return None

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        result = event.validation_result
        self.problem = (None if result is None or result.is_valid
                        else result.failure_descriptions[0])
        # Say nothing about an empty field until it has been typed into.
        self.show(self.problem if event.value or self.initial else None)
        self.post_message(self.Changed(self))

    def recheck(self) -> None:
        """Validate the current value again (when the rule depends on another field)."""
        value = self.value
        self.problem = self._problem_of(value)
        self.show(self.problem if value else None)

    def show(self, problem: str | None) -> None:
        """Show a problem under the field (from typing, or from the service on save)."""
        error = self.query_one(".field-error", Static)
        error.update(wrapped(problem or ""))
        error.display = bool(problem)
        self.query_one(Input).set_class(bool(problem), "-invalid")


def wrapped(message: str) -> Text:
    """A message shown literally but wrapped to the width (unlike `literal`)."""
    return Text(printable(message), end="")


class FormScreen(ModalScreen[T]):
    """A modal form: FormFields, an error line (#form-error) and Save (#save) / Cancel
    (#cancel) buttons. Save is enabled only while every field is valid; the service runs in
    a worker and its errors come back into the form (the field's rule, or the error line)
    instead of closing it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False

    def on_mount(self) -> None:
        self.query_one("#form-error", Static).display = False
        self.call_after_refresh(self.update_save)

    def on_form_field_changed(self, _event: FormField.Changed) -> None:
        self.update_save()

    def extra_valid(self) -> bool:
        """Subclasses add conditions beyond the fields (say, matching passwords)."""
        return True

    def update_save(self) -> None:
        ok = all(f.valid for f in self.query(FormField)) and self.extra_valid()
        self.query_one("#save", Button).disabled = self.busy or not ok

    def run(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None],
            **kwargs: Any) -> None:
        """Call a service as the logged-in user (see ConsoleApp.run_service)."""
        self.busy = True
        self.update_save()
        self.say("Saving…")

        def done(result: Any) -> None:
            self.busy = False
            on_done(result)

        self.app.run_service(self, fn, *args, on_done=done, on_error=self.failed,  # type: ignore[attr-defined]
                             group="form", **kwargs)

    def failed(self, error: ConsoleError) -> None:
        self.busy = False
        self.say("")
        if isinstance(error, ValidationError):
            name = error.field.replace(" ", "_")
            fields = [f for f in self.query(FormField) if f.field_name == name]
            if fields:
                fields[0].show(error.reason)
                fields[0].problem = error.reason
                fields[0].query_one(Input).focus()
                self.update_save()
                return
        self.say(error.message)
        self.update_save()

    def say(self, message: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(wrapped(message))
        error.display = bool(message)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)
