"""Messages that screens and workers post up to the app."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from console.principal import Principal


@dataclass
class LoggedIn(Message):
    """The login screen authenticated someone."""

    principal: Principal
    must_change_password: bool = False


@dataclass
class SessionOver(Message):
    """The session must end (account disabled, grant ended, idle, logout)."""

    reason: str
