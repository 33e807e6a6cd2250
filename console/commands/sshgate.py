"""The SSH gate for FlowPro support engineers (sshd's AuthorizedKeysCommand)."""

from __future__ import annotations

import sys

import click

from console.commands.base import CliState, fail


@click.group("ssh")
def ssh() -> None:
    """The SSH gate: which keys sshd may accept for FlowPro support right now."""


@ssh.command("authorized-keys")
@click.argument("os_user", metavar="OSUSER")
@click.pass_obj
def authorized_keys(state: CliState, os_user: str) -> None:
    """Print the authorized_keys lines for OSUSER now (for sshd's AuthorizedKeysCommand).

    One line per key of each engineer with an active grant; nothing for any other
    account. Errors go to stderr with exit code 1, so sshd offers no key.
    """
    from console.sshgate import GateError
    from console.sshgate import authorized_keys as answer

    try:
        lines = answer(state.config_flag, os_user)
    except GateError as exc:
        fail(str(exc), 1)
    except Exception as exc:  # noqa: BLE001 - sshd reads stdout: never a traceback there
        fail(f"the SSH gate failed: {type(exc).__name__}: {exc}", 1)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()
