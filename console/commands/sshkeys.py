"""SSH public keys of FlowPro (vendor) accounts: `ssh-key add|list|remove`.

The lead attaches this group under `users` (`flowpro-console users ssh-key ...`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from console.commands.base import CliState, emit_json, fail, print_table


@click.group("ssh-key")
def ssh_key() -> None:
    """SSH public keys of FlowPro support accounts (they work only during a grant)."""


@ssh_key.command("add")
@click.argument("name")
@click.option("--key-file", required=True, metavar="PATH",
              help="The public key (.pub file); - reads it from standard input.")
@click.pass_obj
def add(state: CliState, name: str, key_file: str) -> None:
    """Add a public key to the vendor account NAME."""
    from console.sshkeys import add_key

    if key_file == "-":
        text = sys.stdin.read(65536)
    else:
        path = Path(key_file)
        try:
            if path.stat().st_size > 65536:
                fail(f"{path} is too large to be a public key", 2)
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}", 2)
        if "PRIVATE KEY" in text:
            fail(f"{path} is a private key: give the .pub file (and keep the private key "
                 "where it was)", 2)
    db = state.session()
    key = add_key(db, state.principal(db), name, text)
    click.echo(f"added {key.algorithm} key {key.fingerprint} to {name}")


@ssh_key.command("list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(state: CliState, name: str | None, as_json: bool) -> None:
    """The SSH keys of NAME (or of every account)."""
    from console.sshkeys import list_keys

    db = state.session()
    keys = list_keys(db, state.principal(db), name)
    if as_json:
        emit_json([k.to_dict() for k in keys])
        return
    print_table(("user", "type", "bits", "fingerprint", "comment", "added (UTC)", "by"),
                [(k.username, k.algorithm, k.bits, k.fingerprint, k.comment,
                  k.added_at.strftime("%Y-%m-%d %H:%M"), k.added_by) for k in keys])


@ssh_key.command("remove")
@click.argument("name")
@click.argument("fingerprint")
@click.pass_obj
def remove(state: CliState, name: str, fingerprint: str) -> None:
    """Remove the key with FINGERPRINT (SHA256:...) from NAME."""
    from console.sshkeys import remove_key

    db = state.session()
    key = remove_key(db, state.principal(db), name, fingerprint)
    click.echo(f"removed {key.algorithm} key {key.fingerprint} from {name}")
