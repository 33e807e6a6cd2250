"""Change your own password. Forced right after logging in with a temporary password (then
the current one is not asked again, and cancelling logs out)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from console.account import change_password
from console.display import literal
from console.errors import ValidationError
from console.passwords import check_policy
from screens.widgets.form import FormField, FormScreen, wrapped


class ChangePasswordScreen(FormScreen[bool | None]):
    """Dismisses with True once changed; False/None when cancelled."""

    CSS_PATH = "password.tcss"

    def __init__(self, *, forced: bool = False) -> None:
        super().__init__()
        self.forced = forced

    @property
    def username(self) -> str:
        principal = self.app.principal  # type: ignore[attr-defined]
        return principal.name if principal else ""

    def _policy(self, value: str) -> None:
        check_policy(self.app.settings.security, value,  # type: ignore[attr-defined]
                     username=self.username)

    def _same(self, value: str) -> None:
        if value != self.query_one("#field-new", FormField).value:
            raise ValidationError("repeat", "does not match the new password")

    def compose(self) -> ComposeResult:
        with Vertical(id="password-box"):
            yield Static(literal(f"Change the password of {self.username}"),
                         classes="form-title")
            if self.forced:
                yield Static(wrapped("You logged in with a temporary password: choose your "
                                     "own now. Nothing else works until you do."),
                             classes="hint")
            else:
                yield FormField("Current password", name="current", password=True,
                                max_length=1024, check=_not_empty)
            yield FormField("New password", name="new", password=True, max_length=1024,
                            check=self._policy)
            yield FormField("Repeat the new password", name="repeat", password=True,
                            max_length=1024, check=self._same)
            yield Static("", id="form-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button("Change password", id="save", variant="primary", compact=True)
                yield Button("Log out" if self.forced else "Cancel", id="cancel",
                             compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.run_worker(_warm_up, thread=True, group="warm-up")

    def on_form_field_changed(self, event: FormField.Changed) -> None:
        if event.field.field_name == "new":
            repeat = self.query_one("#field-repeat", FormField)
            if repeat.value:
                repeat.recheck()
        self.update_save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not self.query_one("#save", Button).disabled:
            self.save()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self.save()

    def save(self) -> None:
        fields = {f.field_name: f.value for f in self.query(FormField)}
        self.run(change_password, security=self.app.settings.security,  # type: ignore[attr-defined]
                 new=fields["new"], current=fields.get("current"),
                 on_done=lambda _r: self.dismiss(True))

    def action_cancel(self) -> None:
        self.dismiss(False)


def _not_empty(value: str) -> None:
    if not value:
        raise ValidationError("current password", "enter your current password")


def _warm_up() -> None:
    """Load zxcvbn's word lists off the UI thread before the first keystroke needs them."""
    from zxcvbn import zxcvbn

    zxcvbn("warm-up")
