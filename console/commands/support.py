"""FlowPro support access: requests, approvals, grants, receipts, statements, and the
support session that the SSH gate forces."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from console.commands.base import CliState, emit_json, fail, print_table, safe_text


def _utc(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


HOURS = click.option("--hours", type=float, metavar="H",
                     help="Window in hours (default and maximum from [support]).")


@click.group()
def support() -> None:
    """Time-boxed access for FlowPro support engineers: request, approve, grant, revoke."""


@support.command("request")
@click.option("--scope", required=True, metavar="PERM[,PERM]",
              help="Permissions asked for, within the support ceiling (e.g. logs.read).")
@click.option("--reason", required=True, help="Why the access is needed.")
@click.option("--ticket", required=True, metavar="ID", help="FlowPro ticket id, e.g. FP-1234.")
@HOURS
@click.option("--engineer", metavar="NAME",
              help="For staff filing a request for an engineer (vendors ask for themselves).")
@click.pass_obj
def request(state: CliState, scope: str, reason: str, ticket: str, hours: float | None,
            engineer: str | None) -> None:
    """Ask for support access; it waits for approval (and expires unanswered)."""
    from console.support import request_access
    from console.support_rules import utc_text

    db = state.session()
    req = request_access(db, state.principal(db), settings=state.settings().support,
                         scope=scope, reason=reason, ticket=ticket, hours=hours,
                         engineer=engineer)
    click.echo(req.id)
    click.echo(f"request #{req.id} for {req.engineer} waits for approval until "
               f"{utc_text(req.expires_at)}", err=True)


@support.command("extend")
@click.argument("grant_id", type=int)
@click.option("--reason", required=True, help="Why more time is needed.")
@HOURS
@click.option("--ticket", metavar="ID", help="Ticket id (default: the grant's).")
@click.option("--scope", metavar="PERM[,PERM]", help="Scope (default: the grant's).")
@click.pass_obj
def extend(state: CliState, grant_id: int, reason: str, hours: float | None,
           ticket: str | None, scope: str | None) -> None:
    """Ask for more time on an active grant: a new request that needs approval."""
    from console.support import request_extension

    db = state.session()
    req = request_extension(db, state.principal(db), grant_id,
                            settings=state.settings().support, reason=reason, hours=hours,
                            ticket=ticket, scope=scope)
    click.echo(req.id)
    click.echo(f"extension request #{req.id} for grant #{grant_id} waits for approval",
               err=True)


@support.command("approve")
@click.argument("request_id", type=int)
@HOURS
@click.option("--scope", metavar="PERM[,PERM]", help="Narrow the scope (never widen it).")
@click.option("--note", default="", help="A note for the record.")
@click.pass_obj
def approve(state: CliState, request_id: int, hours: float | None, scope: str | None,
            note: str) -> None:
    """Approve a waiting request, optionally shorter or narrower; prints the grant id."""
    from console.support import approve_request
    from console.support_rules import utc_text

    db = state.session()
    result = approve_request(db, state.principal(db), request_id,
                             settings=state.settings().support, hours=hours, scope=scope,
                             note=note)
    if result.grant is None:
        click.echo(f"approved; request #{request_id} needs {result.approvals_needed} more "
                   "approval(s) from someone else")
        return
    click.echo(result.grant.id)
    click.echo(f"grant #{result.grant.id}: {result.grant.engineer} may use "
               f"{result.grant.scope} until {utc_text(result.grant.ends_at)}", err=True)


@support.command("deny")
@click.argument("request_id", type=int)
@click.option("--reason", required=True, help="Why not.")
@click.pass_obj
def deny(state: CliState, request_id: int, reason: str) -> None:
    """Refuse a waiting request."""
    from console.support import deny_request

    db = state.session()
    deny_request(db, state.principal(db), request_id, reason=reason)
    click.echo(f"denied request #{request_id}")


@support.command("grant")
@click.option("--engineer", required=True, metavar="NAME", help="The FlowPro account.")
@click.option("--scope", required=True, metavar="PERM[,PERM]",
              help="Permissions, within the support ceiling (pii.read only if named).")
@click.option("--reason", required=True, help="Why access is given.")
@click.option("--ticket", required=True, metavar="ID", help="FlowPro ticket id, e.g. FP-1234.")
@HOURS
@click.pass_obj
def grant(state: CliState, engineer: str, scope: str, reason: str, ticket: str,
          hours: float | None) -> None:
    """Give an engineer access now; prints the grant id."""
    from console.support import create_grant
    from console.support_rules import utc_text

    db = state.session()
    created = create_grant(db, state.principal(db), settings=state.settings().support,
                           engineer=engineer, scope=scope, reason=reason, ticket=ticket,
                           hours=hours)
    click.echo(created.id)
    click.echo(f"grant #{created.id}: {engineer} may use {created.scope} until "
               f"{utc_text(created.ends_at)}", err=True)


@support.command("revoke")
@click.argument("grant_id", type=int)
@click.option("--reason", required=True, help="Why access ends now.")
@click.pass_obj
def revoke(state: CliState, grant_id: int, reason: str) -> None:
    """End a grant now: the session closes within a second, the SSH key stops working."""
    from console.support import revoke_grant

    db = state.session()
    ended = revoke_grant(db, state.principal(db), grant_id, reason=reason)
    click.echo(f"revoked grant #{ended.id} of {ended.engineer}")


@support.command("list")
@click.option("--requests", "only_requests", is_flag=True, help="Only requests.")
@click.option("--grants", "only_grants", is_flag=True, help="Only grants.")
@click.option("--status", help="Grants: active|expired|revoked|superseded; requests: "
              "pending|approved|denied|expired|cancelled.")
@click.option("--engineer", metavar="NAME", help="Only this engineer's.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(state: CliState, only_requests: bool, only_grants: bool, status: str | None,
          engineer: str | None, as_json: bool) -> None:
    """Support requests and grants, newest first."""
    from console.support_rules import GrantStatus, RequestStatus, duration_text
    from console.support_views import list_grants, list_requests

    db = state.session()
    actor = state.principal(db)
    want_requests = not only_grants and (status is None or status in set(RequestStatus))
    want_grants = not only_requests and (status is None or status in set(GrantStatus))
    if status is not None and not (want_requests or want_grants):
        fail(f"--status {safe_text(status)}: use one of "
             f"{', '.join(sorted({*RequestStatus, *GrantStatus}))}", 2)
    requests = list_requests(db, actor, status=status, engineer=engineer) \
        if want_requests else []
    grants = list_grants(db, actor, status=status, engineer=engineer) if want_grants else []
    if as_json:
        emit_json({"requests": [r.to_dict() for r in requests],
                   "grants": [g.to_dict() for g in grants]})
        return
    if want_requests:
        click.echo("Requests")
        print_table(("id", "kind", "engineer", "scope", "window", "ticket", "status",
                     "asked (UTC)", "by"),
                    [(r.id, r.kind, r.engineer, ",".join(r.scope), duration_text(r.minutes),
                      r.ticket, r.status, _utc(r.requested_at), r.decided_by) for r in requests])
    if want_grants:
        click.echo("Grants" if not want_requests else "\nGrants")
        print_table(("id", "engineer", "scope", "status", "from (UTC)", "until (UTC)",
                     "approved by", "ticket"),
                    [(g.id, g.engineer, ",".join(g.scope), g.status, _utc(g.starts_at),
                      _utc(g.until), g.approved_by, g.ticket) for g in grants])


@support.command("show")
@click.argument("grant_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(state: CliState, grant_id: int, as_json: bool) -> None:
    """One grant: its request, approvals, window, end and support sessions."""
    from console.support_rules import duration_text
    from console.support_views import grant_detail

    db = state.session()
    detail = grant_detail(db, state.principal(db), grant_id)
    if as_json:
        emit_json(detail.to_dict())
        return
    g = detail.grant
    pii = "personal data visible" if "pii.read" in g.scope else "personal data masked"
    lines = [f"Grant #{g.id}: {g.engineer}, {g.status}",
             f"  scope:    {', '.join(g.scope)} ({pii})",
             f"  window:   {_utc(g.starts_at)} to {_utc(g.ends_at)} UTC "
             f"({duration_text(g.minutes)}; asked for {duration_text(g.requested_minutes)})",
             f"  reason:   {g.reason}", f"  ticket:   {g.ticket}",
             f"  asked by: {g.requested_by}"
             + (f" (request #{g.request_id})" if g.request_id else " (direct grant)"),
             f"  approved: {g.approved_by}"]
    if g.ended_by:
        lines.append(f"  ended:    {g.end_reason} by {g.ended_by} at {_utc(g.ended_at)} UTC: "
                     f"{g.end_note}")
    elif g.status == "expired":
        lines.append(f"  ended:    expired at {_utc(g.ends_at)} UTC")
    if len(detail.chain) > 1:
        lines.append(f"  extensions: {' -> '.join(f'#{i}' for i in detail.chain)}")
    if detail.request and detail.request.approvals:
        for a in detail.request.approvals:
            lines.append(f"  approval: {a['approver']} at {_utc(a['at'])} UTC for "
                         f"{duration_text(a['minutes'])}, {','.join(a['scope'])}"
                         + (f" ({a['note']})" if a["note"] else ""))
    for line in lines:
        click.echo(safe_text(line))
    click.echo("Support sessions")
    print_table(("started (UTC)", "ended (UTC)", "from", "actions", "end", "receipt"),
                [(_utc(s.started_at), _utc(s.ended_at), s.source or "local", s.actions,
                  s.end_reason or "open", f"#{s.receipt_id}" if s.receipt_id else "")
                 for s in detail.sessions])


@support.command("receipt")
@click.argument("grant_id", type=int)
@click.option("--verify", is_flag=True, help="Check signatures and the events covered; exit 1 "
              "if any receipt fails.")
@click.pass_obj
def receipt(state: CliState, grant_id: int, verify: bool) -> None:
    """The signed receipts of a grant's support sessions."""
    from console.receipts import grant_receipts, verify_grant_receipts
    from console.support_sessions import close_abandoned

    runtime = state.runtime()
    db = state.session()
    actor = state.principal(db)
    close_abandoned(db, runtime.keys)
    receipts = grant_receipts(db, actor, grant_id)
    if verify:
        checks = verify_grant_receipts(db, actor, runtime.keys, grant_id)
        for check in checks:
            click.echo(f"receipt #{check.receipt_id}: " + (
                "valid (signature and covered audit events intact)" if check.ok
                else f"INVALID: {check.problem}"))
        if not checks:
            click.echo(f"grant #{grant_id} has no receipts yet (no support session ended)")
        if any(not c.ok for c in checks):
            sys.exit(1)
        return
    if not receipts:
        click.echo(f"grant #{grant_id} has no receipts yet (no support session ended)")
    for r in receipts:
        click.echo(f"Receipt #{r.id} (session {r.session_id}, signed {_utc(r.created_at)} UTC)")
        for line in r.summary.splitlines():
            click.echo(safe_text(line))
        click.echo(f"Signature (Ed25519, key {r.key_id}): {r.signature}\n")


@support.command("statement")
@click.option("--month", metavar="YYYY-MM", help="The month to account for (UTC).")
@click.option("--json", "as_json", is_flag=True, help="The signed statement as JSON.")
@click.option("--verify", "verify_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Check a statement saved with --json instead.")
@click.pass_obj
def statement(state: CliState, month: str | None, as_json: bool,
              verify_file: Path | None) -> None:
    """Every support request, grant, session and action of a month, signed."""
    from console.receipts import monthly_statement, statement_text, verify_statement

    runtime = state.runtime()
    if verify_file is not None:
        try:
            document = json.loads(verify_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            fail(f"cannot read {verify_file}: {exc}", 2)
        ok, why = verify_statement(runtime.keys, document if isinstance(document, dict) else {})
        if not ok:
            fail(f"{verify_file}: INVALID: {why}", 1)
        click.echo(f"{verify_file}: valid statement for {document['statement']['month']}, "
                   f"signed by key {document['key_id']}")
        return
    if not month:
        fail("give --month YYYY-MM (or --verify FILE)", 2)
    db = state.session()
    document = monthly_statement(db, state.principal(db), runtime.keys, month)
    if as_json:
        emit_json(document)
        return
    for line in statement_text(document).splitlines():
        click.echo(safe_text(line))


@click.command("support-session")
@click.option("--as", "engineer", required=True, metavar="ENGINEER",
              help="The FlowPro account (fixed per key by the SSH gate).")
@click.pass_obj
def support_session(state: CliState, engineer: str) -> None:
    """Open the console as a FlowPro engineer: the SSH gate's forced command.

    Asks for the engineer's TOTP code, then opens the console with the grant's scope until
    the engineer quits or the grant ends (expiry or revocation); then signs the receipt.
    """
    from console.commands.support_run import run_support_session

    run_support_session(state, engineer)
