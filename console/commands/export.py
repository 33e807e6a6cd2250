"""Exports: a person's data, the handover, the logs; verify a bundle; the register."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from console.commands.base import CliState, emit_json, fail, print_table, read_secret, safe_text
from console.commands.logs import build_filter, filter_options

if TYPE_CHECKING:
    from console.export.service import ExportSpec

PURPOSES = ("data-subject-request", "handover", "legal-order", "written-consent")


@click.group()
def export() -> None:
    """Export the client's data as signed, checksummed, encrypted bundles (JSON Lines + CSV)
    that standard tools read and verify; the register of what was disclosed."""


def bundle_options(fn: Any) -> Any:
    for option in reversed((
        click.option("--recipient", "recipients", multiple=True, metavar="AGE_PUBKEY",
                     help="Encrypt to this age recipient (age1..., repeatable)."),
        click.option("--passphrase-stdin", is_flag=True,
                     help="Encrypt with a passphrase read from standard input."),
        click.option("--no-encrypt", is_flag=True,
                     help="Write the bundle in the clear (it holds personal data: warns)."),
        click.option("--output", type=click.Path(path_type=Path, file_okay=False),
                     help="Directory for the bundle (default: [exports] output_dir)."),
        click.option("--purpose", type=click.Choice(PURPOSES),
                     help="Why the data leaves (recorded in the disclosure register)."),
        click.option("--reference", default="",
                     help="The legal order's or the written consent's reference."),
        click.option("--to", "disclosed_to", default="", metavar="WHO",
                     help="Who receives it (recorded in the disclosure register)."),
        click.option("--directory", is_flag=True,
                     help="Leave the bundle as a directory instead of one .tar "
                          "(with --no-encrypt)."),
        click.option("--queue", is_flag=True,
                     help="Hand it to the scheduler instead of writing it here."),
    )):
        fn = option(fn)
    return fn


def _spec(kind: str, options: dict[str, Any], **extra: Any) -> ExportSpec:
    from console.export.purposes import Purpose
    from console.export.service import ExportSpec

    passphrase = None
    if options["passphrase_stdin"]:
        passphrase = read_secret("", from_stdin=True)
    if options["directory"] and not options["no_encrypt"]:
        fail("--directory only goes with --no-encrypt (an encrypted bundle is one file)", 2)
    purpose = Purpose(options["purpose"]) if options["purpose"] else None
    return ExportSpec(kind=kind, purpose=purpose, reference=options["reference"],
                      disclosed_to=options["disclosed_to"],
                      recipients=tuple(options["recipients"]), passphrase=passphrase,
                      no_encrypt=options["no_encrypt"], output_dir=options["output"],
                      packaging="directory" if options["directory"] else "tar", **extra)


def run_export(state: CliState, spec: ExportSpec, *, queue: bool) -> None:
    """Create the export, run it (a progress bar on a terminal) and print the bundle's path;
    with `queue`, hand it to the scheduler and say so."""
    from console import jobs as jobs_service
    from console.commands.jobs import _foreground
    from console.export.register import get_export
    from console.export.service import create_export, start_export

    db = state.session()
    actor = state.principal(db)
    runtime = state.runtime()
    created = create_export(db, actor, spec, settings=runtime.settings, keys=runtime.keys)
    for warning in created.warnings:
        click.echo(f"warning: {warning}", err=True)
    where = jobs_service.Where.SCHEDULER if queue else jobs_service.Where.HERE
    started = start_export(db, actor, created.export, where=where,
                           lease_seconds=runtime.settings.jobs.lease_seconds)
    export_id = created.export.id or 0
    if started.claim is None:
        click.echo(f"export #{export_id} queued for the scheduler (job #{started.run.id}); "
                   f"see `flowpro-console export show {export_id}`", err=True)
        return
    final, _by_user = _foreground(state, started)
    view = get_export(state.session(), actor, export_id)
    if view.state != "done":
        detail = (final.error or final.message) if final is not None else "taken over"
        fail(f"export #{export_id} {view.state}: {detail}; resume with `flowpro-console "
             f"jobs resume {started.run.id}` or discard it with `flowpro-console export "
             f"discard {export_id}`", 1)
    click.echo(f"export #{export_id}: {view.rows:,} rows in {len(view.categories)} "
               f"categor{'y' if len(view.categories) == 1 else 'ies'}, {view.size_bytes:,} "
               f"bytes, {_protection(view)}; manifest sha256 {view.manifest_sha256}",
               err=True)
    click.echo(view.path)


def _protection(view: Any) -> str:
    if view.protection == "recipients":
        return f"encrypted to {len(view.recipients)} age recipient(s)"
    return "encrypted with a passphrase" if view.protection == "passphrase" else \
        "NOT encrypted"


@export.command("subject")
@click.option("--employee", type=int, metavar="ID", help="The employee (their id).")
@click.option("--customer", type=int, metavar="ID", help="The customer (their id).")
@bundle_options
@click.pass_obj
def export_subject(state: CliState, employee: int | None, customer: int | None,
                   **options: Any) -> None:
    """Everything the catalog knows about one person (access / portability request):
    profile, payroll, attendance, sales, audit events and log lines naming them."""
    from console.catalog import SubjectKind

    if (employee is None) == (customer is None):
        fail("name exactly one person: --employee ID or --customer ID", 2)
    subject = (SubjectKind.EMPLOYEE, employee) if employee is not None else \
        (SubjectKind.CUSTOMER, customer)
    queue = options.pop("queue")
    run_export(state, _spec("subject", options, subject=subject), queue=queue)


@export.command("handover")
@click.option("--categories", metavar="A,B", default="",
              help="Only these categories (default: every one; see `export categories`).")
@bundle_options
@click.pass_obj
def export_handover(state: CliState, categories: str, **options: Any) -> None:
    """The whole client dataset, every category (or --categories): for termination or a
    move to another vendor."""
    chosen = tuple(c.strip() for c in categories.split(",") if c.strip())
    queue = options.pop("queue")
    run_export(state, _spec("handover", options, categories=chosen), queue=queue)


@export.command("logs")
@filter_options
@bundle_options
@click.pass_obj
def export_logs(state: CliState, levels: Any, sources: Any, hosts: Any, since: Any,
                until: Any, text: str, regex: str, **options: Any) -> None:
    """The processing logs matching the filters (the log browser's view), as a bundle."""
    from console.export.parts import filter_to_json
    from console.logs.query import check_filter

    flt = build_filter(state, levels, sources, hosts, since, until, text, regex)
    check_filter(flt)
    queue = options.pop("queue")
    run_export(state, _spec("logs", options, log_filter=filter_to_json(flt)), queue=queue)


@export.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--identity", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="age identity file (age-keygen output) to decrypt a .tar.age.")
@click.option("--passphrase-stdin", is_flag=True,
              help="Read the passphrase of a passphrase-encrypted bundle from stdin.")
@click.pass_obj
def export_verify(state: CliState, path: Path, identity: Path | None,
                  passphrase_stdin: bool) -> None:
    """Check a bundle: its signature, every checksum, every row count (exit 1 and say what
    is wrong otherwise)."""
    from console.export.agecrypt import load_identities
    from console.export.verify import verify_bundle

    identities = load_identities(identity) if identity else None
    passphrase = read_secret("", from_stdin=True) if passphrase_stdin else None
    keys = _local_keys(state)
    report = verify_bundle(path, identities=identities, passphrase=passphrase, keys=keys)
    for line in report.lines():
        click.echo(safe_text(line))
    if keys is None and report.key_id:
        click.echo("  note: no installation here to compare the signing key with; compare "
                   f"the key id {report.key_id} with `flowpro-console export key` on the "
                   "sender's console", err=True)
    if not report.ok:
        sys.exit(1)


def _local_keys(state: CliState) -> Any:
    from console.errors import ConsoleError
    from console.keys import KeyStore

    try:
        settings = state.settings()
    except ConsoleError:
        return None
    keys = KeyStore(settings.data_dir)
    return keys if keys.exists() else None


@export.command("list")
@click.option("--purpose", type=click.Choice(PURPOSES))
@click.option("--kind", type=click.Choice(["subject", "handover", "logs"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def export_list(state: CliState, purpose: str | None, kind: str | None, limit: int,
                as_json: bool) -> None:
    """The disclosure register: every export, why, for whom, how protected, newest first."""
    from console.export.register import list_exports

    db = state.session()
    views = list_exports(db, state.principal(db), limit=limit, purpose=purpose, kind=kind)
    if as_json:
        emit_json([v.to_json() for v in views])
        return
    print_table(("id", "made (UTC)", "kind", "purpose", "to", "subject", "rows", "protection",
                 "state", "by"),
                [(v.id, v.created_at.strftime("%Y-%m-%d %H:%M"), v.kind,
                  v.purpose + (f" ({v.reference})" if v.reference else ""), v.disclosed_to,
                  v.subject, f"{v.rows:,}", v.protection + (" masked" if v.masked else ""),
                  v.state, v.created_by) for v in views])


@export.command("show")
@click.argument("export_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def export_show(state: CliState, export_id: int, as_json: bool) -> None:
    """One export of the register in full."""
    from console.export.register import get_export

    db = state.session()
    view = get_export(db, state.principal(db), export_id)
    if as_json:
        emit_json(view.to_json())
        return
    rows = [("export", f"#{view.id}"), ("kind", view.kind), ("purpose", view.purpose),
            ("reference", view.reference), ("for", view.disclosed_to),
            ("subject", view.subject), ("categories", ", ".join(view.categories)),
            ("filters", str(view.filters) if view.filters else ""),
            ("protection", _protection(view)), ("recipients", ", ".join(view.recipients)),
            ("masked", "yes" if view.masked else ""), ("state", view.state),
            ("path", view.path), ("rows", f"{view.rows:,}"),
            ("bytes", f"{view.size_bytes:,}" if view.size_bytes else ""),
            ("manifest sha256", view.manifest_sha256), ("made by", view.created_by),
            ("made", view.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("finished", view.finished_at.strftime("%Y-%m-%d %H:%M:%S UTC")
             if view.finished_at else ""),
            ("job", f"#{view.job_run_id}" if view.job_run_id else ""),
            ("request", f"#{view.request_id}" if view.request_id else ""),
            ("error", view.error), ("notes", "; ".join(view.notes))]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value:
            click.echo(f"{key.ljust(width)}  {safe_text(value)}")


@export.command("discard")
@click.argument("export_id", type=int)
@click.pass_obj
def export_discard(state: CliState, export_id: int) -> None:
    """Delete what an unfinished export left on disk and mark it discarded."""
    from console.export.register import discard_export

    db = state.session()
    discard_export(db, state.principal(db), export_id)
    click.echo(f"export #{export_id} discarded; its unfinished files are gone")


@export.command("key")
@click.pass_obj
def export_key(state: CliState) -> None:
    """The public key that signs bundles, and its id (give both to the recipients)."""
    from console.keys import KeyStore

    keys = KeyStore(state.settings().data_dir)
    keys.check_permissions()
    click.echo(f"key id {keys.key_id}", err=True)
    click.echo(keys.public_key_pem().decode(), nl=False)


@export.command("categories")
def export_categories() -> None:
    """The data categories that can be exported."""
    from console.catalog import CATEGORIES

    print_table(("name", "owner", "what"),
                [(c.name.value, c.owner.value, c.description[:70]) for c in CATEGORIES])
