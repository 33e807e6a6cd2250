"""Errors a person can cause, with messages a person can act on.

The CLI prints `str(error)` on one line and exits with `exit_code`; the TUI shows it as a
notification. Nothing secret ever goes into a message.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every error a user can cause. The message says what is wrong and what to do."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ConsoleError):
    """The configuration is missing, malformed or out of range."""

    exit_code = 2


class ValidationError(ConsoleError):
    """An input value breaks a rule; `field` names the input."""

    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NotFound(ConsoleError):
    """The named thing does not exist."""


class Conflict(ConsoleError):
    """The change conflicts with the current state (exists already, in use, last admin...)."""


class AccessDenied(ConsoleError):
    """The acting principal lacks a permission. Always audited with outcome `denied`."""

    exit_code = 3

    def __init__(self, message: str, *, permission: str | None = None) -> None:
        super().__init__(message)
        self.permission = permission


class SessionEnded(AccessDenied):
    """The principal's session is over (user disabled, grant expired or revoked, logged out)."""

    exit_code = 3


class AuthenticationFailed(ConsoleError):
    """Login failed. One generic message for every cause, so nothing is revealed."""

    exit_code = 3

    def __init__(self, message: str = "Login failed: wrong username or password.") -> None:
        super().__init__(message)


class StorageError(ConsoleError):
    """The database or the disk under it refused the work (full, read-only, busy, damaged).
    The transaction was rolled back: nothing was changed. `transient`: running it again
    may succeed (a lock wait or a deadlock lost to a concurrent change)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SchemaOutdated(ConsoleError):
    """The database schema is behind (or ahead of) this version of the console."""

    exit_code = 2
