"""Data-subject requests: list, add, show, fulfil, close; re-apply the erasure ledger."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from console.commands.base import CliState, emit_json, fail, print_table, read_secret, safe_text

KINDS = ("access", "rectification", "erasure", "portability", "restriction", "objection")
STATES = ("open", "in-progress", "fulfilled", "closed")


@click.group()
def requests() -> None:
    """Data-subject requests: access, rectification, erasure, portability, restriction,
    objection."""


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not a date (YYYY-MM-DD)", 2)


def _subject(employee: int | None, customer: int | None) -> Any:
    from console.catalog import SubjectKind

    if (employee is None) == (customer is None):
        fail("name exactly one person: --employee ID or --customer ID", 2)
    return (SubjectKind.EMPLOYEE, employee) if employee is not None else \
        (SubjectKind.CUSTOMER, customer)


def _due(view: Any) -> str:
    if not view.pending:
        return ""
    if view.days_left < 0:
        return f"OVERDUE {-view.days_left}d"
    return "today" if view.days_left == 0 else f"in {view.days_left}d"


@requests.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="Only requests in this state (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def requests_list(state: CliState, states: tuple[str, ...], as_json: bool) -> None:
    """Requests: pending ones first, by due date."""
    from console.requests.register import list_requests

    db = state.session()
    views = list_requests(db, state.principal(db), states=states)
    if as_json:
        emit_json([v.to_json() for v in views])
        return
    print_table(("id", "kind", "subject", "received", "due", "state", "handler", "outcome"),
                [(v.id, v.kind, v.subject, v.received_on, f"{v.due_on} {_due(v)}".strip(),
                  v.state, v.handler, v.outcome) for v in views])


@requests.command("add")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--employee", type=int, metavar="ID", help="The employee it is about.")
@click.option("--customer", type=int, metavar="ID", help="The customer it is about.")
@click.option("--received", metavar="YYYY-MM-DD", help="When it came (default: today).")
@click.option("--due", metavar="YYYY-MM-DD", help="Due date (default: [requests] due_days on).")
@click.option("--handler", default="", help="Who handles it (default: you).")
@click.option("--notes", default="", help="Notes (refer to people by id, not by name).")
@click.pass_obj
def requests_add(state: CliState, kind: str, employee: int | None, customer: int | None,
                 received: str | None, due: str | None, handler: str, notes: str) -> None:
    """Register a request."""
    from console.requests.register import add_request

    db = state.session()
    view = add_request(db, state.principal(db), kind, _subject(employee, customer),
                       settings=state.settings().requests,
                       received_on=_date(received, "--received"), due_on=_date(due, "--due"),
                       handler=handler, notes=notes)
    click.echo(f"request #{view.id}: {view.kind} for {view.subject}, due {view.due_on}")


@requests.command("show")
@click.argument("request_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def requests_show(state: CliState, request_id: int, as_json: bool) -> None:
    """One request: its details, what was done for it, the response."""
    import json

    from console.requests.register import get_request

    db = state.session()
    view = get_request(db, state.principal(db), request_id)
    if as_json:
        emit_json(view.to_json())
        return
    rows = [("request", f"#{view.id} {view.kind}"), ("subject", view.subject),
            ("received", str(view.received_on)), ("due", f"{view.due_on} {_due(view)}".strip()),
            ("state", view.state + (f" ({view.outcome})" if view.outcome else "")),
            ("handler", view.handler), ("notes", view.notes.replace("\n", " | ")),
            ("fulfilled", view.fulfilled_at.strftime("%Y-%m-%d %H:%M UTC")
             if view.fulfilled_at else ""),
            ("response", json.dumps(view.response, sort_keys=True) if view.response else "")]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value:
            click.echo(f"{key.ljust(width)}  {safe_text(value)}")
    if view.kind == "rectification" and view.fulfilled_at:
        from console.requests.register import request_changes

        for change in request_changes(db, state.principal(db), request_id,
                                      state.runtime().keys):
            click.echo(f"  {change.at:%Y-%m-%d %H:%M} {change.field}: "
                       f"{safe_text(change.before)!s} -> {safe_text(change.after)!s}")
    for action in view.actions:
        refs = " ".join(x for x in (f"export #{action.export_id}" if action.export_id else "",
                                    f"job #{action.job_run_id}" if action.job_run_id else "")
                        if x)
        click.echo(f"  {action.at:%Y-%m-%d %H:%M} {safe_text(action.by)}: {action.action} "
                   f"{refs}".rstrip())


@requests.command("fulfil")
@click.argument("request_id", type=int)
@click.option("--set", "changes", multiple=True, metavar="FIELD=VALUE",
              help="Rectification: the corrected value (repeatable; empty VALUE clears).")
@click.option("--lift", is_flag=True, help="Restriction/objection: end the restriction.")
@click.option("--note", default="", help="Restriction/objection: why.")
@click.option("--recipient", "recipients", multiple=True, metavar="AGE_PUBKEY",
              help="Access/portability: encrypt the bundle to this age recipient.")
@click.option("--passphrase-stdin", is_flag=True,
              help="Access/portability: encrypt with a passphrase from stdin.")
@click.option("--no-encrypt", is_flag=True, help="Access/portability: in the clear (warns).")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False),
              help="Access/portability: directory for the bundle.")
@click.option("--queue", is_flag=True, help="Access/portability: hand it to the scheduler.")
@click.option("--yes", is_flag=True, help="Erasure: do not ask.")
@click.pass_obj
def requests_fulfil(state: CliState, request_id: int, changes: tuple[str, ...], lift: bool,
                    note: str, recipients: tuple[str, ...], passphrase_stdin: bool,
                    no_encrypt: bool, output: Path | None, queue: bool, yes: bool) -> None:
    """Do what the request asks: export (access, portability), correct (rectification),
    anonymize (erasure, except what holds and legal minimums keep), restrict."""
    import json

    from console import jobs
    from console.commands.jobs import _foreground
    from console.requests.fulfil import Fulfilment, fulfil
    from console.requests.register import get_request

    db = state.session()
    actor = state.principal(db)
    current = get_request(db, actor, request_id)
    values: dict[str, str] = {}
    for item in changes:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--set: expected FIELD=VALUE, got {item!r}", 2)
        values[name.strip()] = value
    if current.kind == "erasure" and not yes:
        if not sys.stdin.isatty():
            fail("erasure cannot be undone: pass --yes to confirm", 2)
        click.confirm(f"Anonymize {current.subject} for good?", abort=True, err=True)
    passphrase = read_secret("", from_stdin=True) if passphrase_stdin else None
    how = Fulfilment(recipients=recipients, passphrase=passphrase, no_encrypt=no_encrypt,
                     output_dir=output, changes=values, lift=lift, note=note)
    where = jobs.Where.SCHEDULER if queue else jobs.Where.HERE
    done = fulfil(db, actor, request_id, how, runtime=state.runtime(), where=where)
    for warning in done.warnings:
        click.echo(f"warning: {warning}", err=True)
    if done.started is not None:
        if done.started.claim is None:
            click.echo(f"request #{request_id}: export #{done.export_id} queued for the "
                       "scheduler", err=True)
            return
        final, _ = _foreground(state, done.started)
        view = get_request(state.session(), actor, request_id)
        if view.state != "fulfilled":
            detail = final.error if final is not None else "taken over"
            fail(f"request #{request_id}: the export did not finish: {detail}; resume it "
                 f"with `flowpro-console jobs resume {done.started.run.id}`", 1)
        click.echo(f"request #{request_id} fulfilled: bundle {view.response.get('bundle')}")
        return
    view = done.request
    click.echo(f"request #{request_id} fulfilled ({view.kind} for {view.subject})")
    response = view.response
    if view.kind == "erasure":
        for category, count in response.get("anonymized", {}).items():
            click.echo(f"  {category}: {count} row(s) anonymized")
        for category, reasons in response.get("kept", {}).items():
            for reason in reasons:
                click.echo(f"  kept in {category}: {safe_text(reason)}")
        for line in response.get("notes", []):
            click.echo(f"  note: {safe_text(line)}")
    else:
        click.echo("  " + safe_text(json.dumps(response, sort_keys=True)))


@requests.command("close")
@click.argument("request_id", type=int)
@click.option("--outcome", type=click.Choice(["fulfilled", "rejected", "withdrawn"]),
              default="fulfilled", show_default=True)
@click.option("--note", default="", help="Why (needed when rejected or withdrawn).")
@click.pass_obj
def requests_close(state: CliState, request_id: int, outcome: str, note: str) -> None:
    """Close a request once answered."""
    from console.requests.register import close_request

    db = state.session()
    view = close_request(db, state.principal(db), request_id, outcome=outcome, note=note)
    click.echo(f"request #{view.id} closed ({view.outcome})")


@requests.command("reapply-erasures")
@click.pass_obj
def requests_reapply(state: CliState) -> None:
    """Erase again everyone the erasure ledger names (after a database was restored from a
    backup); also finishes a restore that was interrupted."""
    from console.requests.erasure import reapply_erasures
    from console.runtime import RESTORING, open_runtime

    settings = state.settings()
    runtime = open_runtime(settings, restoring=True)
    try:
        with runtime.database.scope() as db:
            done = reapply_erasures(db, state.principal(db), runtime.keys,
                                    data_dir=settings.data_dir)
    finally:
        runtime.close()
    (settings.data_dir / RESTORING).unlink(missing_ok=True)
    click.echo(f"erasure ledger: {done.entries} entr{'y' if done.entries == 1 else 'ies'} "
               f"({done.merged_from_file} added from the ledger file); "
               f"{len(done.erased_again)} person(s) erased again; {done.not_found} no longer "
               "in the database")
