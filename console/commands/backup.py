"""Backups of the database: create, list, verify, restore."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from console.commands.base import CliState, emit_json, fail, print_table, read_secret, safe_text


@click.group()
def backup() -> None:
    """Encrypted, signed, checksummed copies of the whole database."""


@backup.command("create")
@click.option("--recipient", "recipients", multiple=True, metavar="AGE_PUBKEY",
              help="Encrypt to this age recipient (repeatable; default: [backups] recipients).")
@click.option("--passphrase-stdin", is_flag=True, help="Encrypt with a passphrase from stdin.")
@click.option("--no-encrypt", is_flag=True, help="Write it in the clear (warns).")
@click.option("--queue", is_flag=True, help="Hand it to the scheduler.")
@click.pass_obj
def backup_create(state: CliState, recipients: tuple[str, ...], passphrase_stdin: bool,
                  no_encrypt: bool, queue: bool) -> None:
    """Make a backup now (a consistent copy while the console keeps running); prints its
    path. The oldest beyond [backups] keep are removed."""
    from console import jobs
    from console.commands.jobs import _foreground
    from console.export.backup import BackupSpec, create_backup, list_backups

    passphrase = read_secret("", from_stdin=True) if passphrase_stdin else None
    db = state.session()
    actor = state.principal(db)
    runtime = state.runtime()
    made = create_backup(db, actor, BackupSpec(recipients, passphrase, no_encrypt),
                         settings=runtime.settings, keys=runtime.keys)
    if no_encrypt:
        click.echo("warning: the backup is NOT encrypted and holds all the data", err=True)
    where = jobs.Where.SCHEDULER if queue else jobs.Where.HERE
    started = jobs.start_run(db, actor, "backup", {"backup_id": made.id}, where=where,
                             lease_seconds=runtime.settings.jobs.lease_seconds)
    if started.claim is None:
        click.echo(f"backup #{made.id} queued for the scheduler (job #{started.run.id})",
                   err=True)
        return
    final, _ = _foreground(state, started)
    view = next((b for b in list_backups(state.session(), actor) if b.id == made.id), None)
    if view is None or view.state != "done":
        detail = (final.error or final.message) if final is not None else "taken over"
        fail(f"backup #{made.id} did not finish: {detail}; resume it with `flowpro-console "
             f"jobs resume {started.run.id}`", 1)
    removed = (final.result or {}).get("removed") if final is not None else None
    click.echo(f"backup #{view.id}: {view.size_bytes:,} bytes, {view.protection}; sha256 "
               f"{view.sha256}" + (f"; removed the oldest: {', '.join(removed)}" if removed
                                   else ""), err=True)
    click.echo(view.path)


@backup.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed backups.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def backup_list(state: CliState, include_removed: bool, as_json: bool) -> None:
    """Backups, newest first."""
    from console.export.backup import list_backups

    db = state.session()
    views = list_backups(db, state.principal(db), include_removed=include_removed)
    if as_json:
        emit_json([v.to_json() for v in views])
        return
    print_table(("id", "made (UTC)", "state", "backend", "protection", "bytes", "path"),
                [(v.id, v.created_at.strftime("%Y-%m-%d %H:%M"), v.state, v.backend,
                  v.protection, f"{v.size_bytes:,}", v.path) for v in views])


def _secrets(identity: Path | None, passphrase_stdin: bool
             ) -> tuple[list[object] | None, str | None]:
    from console.export.agecrypt import load_identities

    identities = load_identities(identity) if identity else None
    passphrase = read_secret("", from_stdin=True) if passphrase_stdin else None
    return identities, passphrase


@backup.command("verify")
@click.argument("backup_ref", metavar="ID|PATH")
@click.option("--identity", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="age identity file to decrypt it.")
@click.option("--passphrase-stdin", is_flag=True, help="Its passphrase, from stdin.")
@click.pass_obj
def backup_verify(state: CliState, backup_ref: str, identity: Path | None,
                  passphrase_stdin: bool) -> None:
    """Check a backup: signature (by this installation's key), every checksum."""
    from console.export.backup import find_backup
    from console.export.verify import verify_bundle

    identities, passphrase = _secrets(identity, passphrase_stdin)
    db = state.session()
    state.principal(db)
    path, _row = find_backup(db, backup_ref, state.settings())
    report = verify_bundle(path, identities=identities, passphrase=passphrase,
                           keys=state.runtime().keys)
    if report.ok and (report.manifest or {}).get("format") != "flowpro-backup":
        report.ok = False
        report.problems.append("this is an export bundle, not a backup")
    for line in report.lines():
        click.echo(safe_text(line))
    if not report.ok:
        sys.exit(1)


@backup.command("restore")
@click.argument("backup_ref", metavar="ID|PATH")
@click.option("--identity", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="age identity file to decrypt it.")
@click.option("--passphrase-stdin", is_flag=True, help="Its passphrase, from stdin.")
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
@click.pass_obj
def backup_restore(state: CliState, backup_ref: str, identity: Path | None,
                   passphrase_stdin: bool, yes: bool) -> None:
    """Replace the database with a backup. Refuses one that does not verify; re-applies
    the erasure ledger before the console opens again. OS owner only; stop the scheduler
    and ask console users to log out first."""
    import getpass

    from console.errors import AccessDenied
    from console.export.restore import restore
    from console.install import is_trusted_os_user
    from console.principal import os_principal, ssh_source

    settings = state.settings()
    if not is_trusted_os_user(settings):
        raise AccessDenied("only root or the OS owner of the data directory may restore")
    identities, passphrase = _secrets(identity, passphrase_stdin)
    if not yes:
        if not sys.stdin.isatty():
            fail("restoring replaces the database: pass --yes to confirm", 2)
        click.confirm("Replace the database with this backup?", abort=True, err=True)
    actor = os_principal(getpass.getuser(), source=ssh_source())
    report = restore(settings, backup_ref, actor, identities=identities, passphrase=passphrase)
    click.echo(f"restored {report.backup} ({report.backend})")
    if report.moved_aside:
        click.echo(f"the database it replaced is kept as {report.moved_aside}")
    if report.upgraded:
        click.echo(f"migrations applied: {', '.join(report.upgraded)}")
    click.echo(f"erasure ledger: {report.ledger_entries} entr"
               f"{'y' if report.ledger_entries == 1 else 'ies'}; "
               f"{report.erased_again} person(s) erased again")
