"""Opening the terminal UI (the only place Textual gets imported)."""

from __future__ import annotations

import os
import sys

import click

from console.commands.base import CliState, fail


def prepare_terminal(state: CliState, *, hint: str = "use the subcommands (see --help) in "
                     "scripts") -> None:
    """Check for a terminal and the data directory's keys, apply the colour settings, send
    logging to a file."""
    settings = state.settings()
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        fail(f"the console needs a terminal; {hint}", 2)
    color = settings.ui.color_system.value
    if color == "none":
        os.environ["NO_COLOR"] = "1"
    elif color != "auto":
        os.environ["TEXTUAL_COLOR_SYSTEM"] = color
    # Checks that need no database run now, so the refusal comes before the screen opens.
    from console.runtime import precheck

    precheck(settings)
    _log_to_file(settings.data_dir / "console.log")


def open_tui(state: CliState) -> None:
    """Open the console on the configured installation; returns when the user quits.
    The database opens in the background while the login screen is painted."""
    settings = state.settings()
    prepare_terminal(state)
    from console.app import ConsoleApp
    from console.terminal import TerminalWatch

    app = ConsoleApp(settings=settings, opener=state.runtime)
    watch = TerminalWatch(app.terminal_lost)
    watch.start()
    try:
        app.run(mouse=settings.ui.mouse and not state.no_mouse)
    finally:
        watch.stop()
    if app.return_code:
        sys.exit(app.return_code)
    # A terminal lost mid-exit or an error message from the app was already printed.


def _log_to_file(path) -> None:
    """Errors go to a file: anything printed to the terminal would garble the screen."""
    import logging

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _same_owner_as_directory(fd, path)
        handler: logging.Handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _same_owner_as_directory(fd: int, path) -> None:
    """Root opening the console on an installation another account owns (the support
    account runs it too, through the SSH gate) must not leave a log file that account
    cannot write: hand it to the data directory's owner, as SQLite does with its WAL."""
    if os.geteuid() != 0:
        return
    directory = os.stat(os.path.dirname(os.path.abspath(path)))
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) != (directory.st_uid, directory.st_gid):
        os.fchown(fd, directory.st_uid, directory.st_gid)


@click.command()
@click.pass_obj
def tui(state: CliState) -> None:
    """Open the console (the same as running flowpro-console without a command)."""
    open_tui(state)
