"""`flowpro-console`: the command line. Every TUI action exists here too.

Only click is imported at start-up; a command imports the services it needs when it runs,
and Textual is imported only when the TUI opens, so `--help` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import click

from console import __version__
from console.commands import COMMANDS
from console.commands.base import CliState, fail


class LazyGroup(click.Group):
    """Subcommands live in console/commands/<module>.py and load on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module_name, attr = COMMANDS[name]
            module = importlib.import_module(f"console.commands.{module_name}")
            return getattr(module, attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", metavar="PATH", envvar="FLOWPRO_CONSOLE_CONFIG",
              help="Config file (default: ./config.toml, then /etc/flowpro-console/config.toml).")
@click.option("--user", "as_user", metavar="NAME",
              help="Act as this console user (asks for the password) instead of the OS owner.")
@click.option("--no-mouse", is_flag=True, help="Do not capture the mouse (slow SSH links).")
@click.version_option(__version__, prog_name="flowpro-console")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, as_user: str | None,
        no_mouse: bool) -> None:
    """FlowPro Console: govern the client's payroll, HRM and POS data on its own servers.

    Without a command, opens the console (the terminal UI).
    """
    ctx.obj = CliState(config_flag=config_path, as_user=as_user, no_mouse=no_mouse)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        from console.commands.tui import open_tui

        open_tui(ctx.obj)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors, meaningful exit codes, never a traceback on bad input."""
    from console.errors import ConsoleError

    try:
        cli.main(args=argv, prog_name="flowpro-console", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConsoleError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
    except Exception as exc:
        fault = _storage_fault(exc)
        if fault is None:
            raise
        fail(fault.message, fault.exit_code)


def _storage_fault(exc: BaseException):
    """A database or disk fault (full, read-only, busy) as a one-line error, else None."""
    if "sqlalchemy" not in sys.modules:
        return None
    from console.db import storage_error

    return storage_error(exc)
