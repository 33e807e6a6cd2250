"""Confirm a privileged change to an account with a reason for the audit trail
(disable, enable, unlock, TOTP reset): the form runs the service and stays open on errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from console.users import validate_reason
from screens.widgets.form import FormField, FormScreen, wrapped


class ReasonScreen(FormScreen[str | None]):
    """Dismisses with the reason once `fn(db, actor, target, reason=...)` succeeded."""

    CSS_PATH = "reason.tcss"

    def __init__(self, title: str, message: str, *, confirm_label: str,
                 fn: Callable[..., Any], target: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label
        self.fn = fn
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-box"):
            yield Static(wrapped(self.title_text), classes="form-title")
            yield Static(wrapped(self.message))
            yield FormField("Reason (recorded in the audit trail)", name="reason",
                            check=validate_reason, max_length=255,
                            placeholder="e.g. left the company")
            yield Static("", id="form-error", classes="error-line")
            with Horizontal(classes="form-buttons"):
                yield Button(self.confirm_label, id="save", variant="warning", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self.save()

    def on_input_submitted(self) -> None:
        if not self.query_one("#save", Button).disabled:
            self.save()

    def save(self) -> None:
        reason = self.query_one(FormField).value.strip()
        self.run(self.fn, self.target, reason=reason, on_done=lambda _r: self.dismiss(reason))
