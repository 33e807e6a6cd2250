"""What every command shares: the opened installation, the acting principal, output."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from sqlmodel import Session

    from console.config import Settings
    from console.principal import Principal
    from console.runtime import Runtime


def fail(message: str, code: int = 1) -> NoReturn:
    # One line: newlines in a message would let it impersonate other output.
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


@dataclass
class CliState:
    config_flag: str | None = None
    as_user: str | None = None
    no_mouse: bool = False
    _settings: Settings | None = None
    _runtime: Runtime | None = None
    _principal: Principal | None = None
    _sessions: list[Session] = field(default_factory=list)

    def settings(self) -> Settings:
        if self._settings is None:
            from console.config import load_settings

            self._settings = load_settings(self.config_flag)
        return self._settings

    def runtime(self) -> Runtime:
        if self._runtime is None:
            from console.runtime import open_runtime

            self._runtime = open_runtime(self.settings())
        return self._runtime

    def session(self) -> Session:
        db = self.runtime().database.session()
        self._sessions.append(db)
        return db

    def principal(self, db: Session) -> Principal:
        """The OS owner (trusted, like peer auth), or the `--user` after a password."""
        if self._principal is not None:
            return self._principal
        from console.errors import AccessDenied
        from console.install import is_trusted_os_user
        from console.principal import os_principal, ssh_source

        settings = self.settings()
        source = ssh_source()
        if self.as_user:
            self._principal = self._log_in(db, self.as_user, source)
        elif is_trusted_os_user(settings):
            self._principal = os_principal(getpass.getuser(), source=source)
        else:
            raise AccessDenied(
                f"the OS user {getpass.getuser()} does not own {settings.data_dir}: "
                "run as its owner, or pass --user NAME to log in as a console user")
        return self._principal

    def _log_in(self, db: Session, username: str, source: str | None) -> Principal:
        """Password, then the TOTP code when the account uses one (asked on the terminal)."""
        from console.auth import LoginStep, begin_login, finish_login
        from console.errors import AuthenticationFailed

        runtime, security = self.runtime(), self.settings().security
        password = read_secret(f"Password for {username}: ")
        pending = begin_login(runtime.database, db, security, username, password,
                              channel="cli", source=source)
        if pending.step is LoginStep.ENROL:
            raise AuthenticationFailed("Login incomplete: this account must set up TOTP "
                                       "first; log in to the console (terminal UI) once to "
                                       "enrol.")
        code = click.prompt("TOTP code", err=True) if pending.step is LoginStep.TOTP else None
        principal = finish_login(runtime.database, db, security, runtime.keys, pending,
                                 code=code)
        if pending.must_change_password:
            click.echo(f"note: {username} has a temporary password and may do nothing else "
                       f"until it is changed: flowpro-console --user {username} users passwd",
                       err=True)
        return principal

    def close(self) -> None:
        if self._principal is not None and self._principal.session_id and self._runtime:
            from console.auth import end_session

            with self._runtime.database.scope() as db:
                end_session(db, self._principal, reason="command finished")
        for db in self._sessions:
            db.close()
        if self._runtime is not None:
            self._runtime.close()


def read_secret(prompt: str, *, from_stdin: bool = False, confirm: bool = False) -> str:
    """A secret from stdin (`--...-stdin`) or a prompt; never from an argument."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
        if not value:
            fail("expected the secret on standard input, got nothing", 2)
        return value
    if not sys.stdin.isatty():
        fail("no terminal to ask for a password on: pass it with --password-stdin", 2)
    value = click.prompt(prompt.rstrip(": "), hide_input=True,
                         confirmation_prompt=confirm)
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def safe_text(value: object) -> str:
    """Printable: control characters (escape sequences) shown as \\x.. escapes."""
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain, aligned text table (for terminals and for grep)."""
    body = [[safe_text(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
               .rstrip())
    for row in body:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
