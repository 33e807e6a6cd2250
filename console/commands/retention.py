"""Retention: policies, legal holds, previews (plans) and runs; the termination workflow."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from console.commands.base import CliState, emit_json, fail, print_table, safe_text

if TYPE_CHECKING:
    from console.retention.preview import PlanView

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def retention() -> None:
    """Keep data exactly as long as policy says, then delete or anonymize it."""


def _day(value: datetime | None) -> Any:
    return value.date() if value is not None else None


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@retention.command("policies")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def retention_policies(state: CliState, as_json: bool) -> None:
    """Each data category's policy: keep period, action, legal basis and minimum."""
    from console.retention.policies import list_policies

    db = state.session()
    rows = list_policies(db, state.principal(db), state.settings().retention)
    if as_json:
        emit_json([p.to_json() for p in rows])
        return
    print_table(("category", "keep", "action", "enabled", "legal minimum", "source", "basis"),
                [(p.category, p.keep or "-", p.action or "-", "yes" if p.enabled else "no",
                  p.legal_minimum or "-", p.source, (p.problem or p.basis)[:60])
                 for p in rows])


@retention.command("set")
@click.argument("category")
@click.option("--keep", help="Keep period: '90 days', '18 months', '7 years'.")
@click.option("--action", type=click.Choice(["delete", "anonymize"]))
@click.option("--basis", help="The legal basis, in words.")
@click.option("--enable/--disable", "enabled", default=None,
              help="Apply the policy, or keep the category indefinitely.")
@click.option("--reset", is_flag=True, help="Drop the console's change: the config applies.")
@click.pass_obj
def retention_set(state: CliState, category: str, keep: str | None, action: str | None,
                  basis: str | None, enabled: bool | None, reset: bool) -> None:
    """Change a category's policy (audited with before and after)."""
    from console.retention.policies import reset_policy, set_policy

    db = state.session()
    actor = state.principal(db)
    config = state.settings().retention
    if reset:
        if any(v is not None for v in (keep, action, basis, enabled)):
            fail("--reset takes no other option", 2)
        policy = reset_policy(db, actor, category, config)
    else:
        if all(v is None for v in (keep, action, basis, enabled)):
            fail("say what to change: --keep, --action, --basis, --enable/--disable or "
                 "--reset", 2)
        policy = set_policy(db, actor, category, config, keep=keep, action=action,
                            basis=basis, enabled=enabled)
    state_text = "enabled" if policy.enabled else "disabled"
    click.echo(f"{policy.category}: keep {policy.keep}, then {policy.action} ({state_text}, "
               f"source {policy.source})")


def _print_plan(plan: PlanView) -> None:
    click.echo(f"plan #{plan.id} as of {plan.as_of} ({plan.purpose}, by {plan.created_by}): "
               f"{plan.total_due:,} row(s) due")
    print_table(("category", "action", "keep", "cutoff", "due", "held", "legal min", "other",
                 "oldest", "newest"),
                [(i.category, i.action, i.keep, i.cutoff or "all", f"{i.due:,}",
                  f"{i.held:,}", f"{i.legal_minimum:,}", f"{i.restricted + i.referenced:,}",
                  i.oldest[:10], i.newest[:10]) for i in plan.items])
    for item in plan.items:
        for hold in item.holds:
            if hold["rows"]:
                click.echo(f"  {item.category}: {hold['rows']:,} row(s) kept by hold "
                           f"#{hold['id']} {safe_text(hold['name'])!r}")
        if item.note:
            click.echo(f"  {item.category}: {safe_text(item.note)}")
        for sample in item.samples:
            click.echo(f"  {item.category} sample: " + ", ".join(
                f"{k}={safe_text(v)}" for k, v in sample.items()))
    if plan.total_due and plan.state == "open":
        from console import clock

        if plan.as_of > clock.now().date():
            click.echo(f"as of a future day: it shows what will be due; make a new preview "
                       f"on or after {plan.as_of} to apply it")
        else:
            click.echo(f"apply it with: flowpro-console retention run --plan {plan.id}")


@retention.command("preview")
@click.option("--category", help="Only this data category.")
@click.option("--as-of", "as_of", type=DAY, help="Measure ages as of this day (default today).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def retention_preview(state: CliState, category: str | None, as_of: datetime | None,
                      as_json: bool) -> None:
    """What the policies make due: per category rows to delete or anonymize, what holds and
    legal minimums keep, oldest and newest, masked samples. Saved as a plan."""
    from console.retention.preview import preview

    db = state.session()
    plan = preview(db, state.principal(db), state.settings().retention, as_of=_day(as_of),
                   category_name=category, source="cli")
    if as_json:
        emit_json(plan.to_json())
        return
    _print_plan(plan)


@retention.command("plan")
@click.argument("plan_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def retention_plan(state: CliState, plan_id: int, as_json: bool) -> None:
    """Show a saved plan."""
    from console.retention.preview import get_plan

    db = state.session()
    plan = get_plan(db, state.principal(db), plan_id)
    if as_json:
        emit_json(plan.to_json())
        return
    click.echo(f"state: {plan.state}" + (f" (retention run #{plan.run_id})" if plan.run_id
                                         else ""))
    _print_plan(plan)


@retention.command("run")
@click.option("--plan", "plan_id", type=int, required=True,
              help="The plan to apply (`retention preview` prints its id).")
@click.option("--queue", is_flag=True,
              help="Hand it to the scheduler instead of running it in this process.")
@click.pass_obj
def retention_run(state: CliState, plan_id: int, queue: bool) -> None:
    """Apply a plan as a job: short batches, resumable; stops before changing anything if
    the data drifted from the plan."""
    from console import jobs
    from console.commands.jobs import _after_start

    db = state.session()
    actor = state.principal(db)
    where = jobs.Where.SCHEDULER if queue else jobs.Where.HERE
    started = jobs.start_run(db, actor, "retention", {"plan": plan_id}, where=where,
                             lease_seconds=state.settings().jobs.lease_seconds)
    _after_start(state, started, "started")


@retention.command("runs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def retention_runs(state: CliState, limit: int, as_json: bool) -> None:
    """Retention runs, newest first: what each deleted, anonymized and kept."""
    from console.retention.history import list_runs

    db = state.session()
    runs = list_runs(db, state.principal(db), limit=limit)
    if as_json:
        emit_json([r.to_json() for r in runs])
        return
    print_table(("run", "plan", "purpose", "as of", "started (UTC)", "state", "changed",
                 "kept", "max batch ms", "freed"),
                [(r.id, r.plan_id, r.purpose, r.as_of, _when(r.started_at), r.state,
                  f"{r.changed:,}", f"{r.kept:,}", f"{r.max_batch_ms:.1f}",
                  f"{r.bytes_freed:,} B") for r in runs])


@retention.group("hold")
def hold() -> None:
    """Legal holds: what they cover is never deleted or anonymized."""


@hold.command("add")
@click.option("--name", required=True)
@click.option("--reason", required=True)
@click.option("--category", help="Only this data category.")
@click.option("--employee", type=int, help="Only this employee's data (id).")
@click.option("--customer", type=int, help="Only this customer's data (id).")
@click.option("--from", "range_from", type=DAY, help="Only rows aged from this day.")
@click.option("--to", "range_to", type=DAY, help="Only rows aged up to this day.")
@click.pass_obj
def hold_add(state: CliState, name: str, reason: str, category: str | None,
             employee: int | None, customer: int | None, range_from: datetime | None,
             range_to: datetime | None) -> None:
    """Place a legal hold."""
    from console.retention.holds import add_hold

    db = state.session()
    view = add_hold(db, state.principal(db), name=name, reason=reason, category_name=category,
                    employee=employee, customer=customer, range_from=_day(range_from),
                    range_to=_day(range_to))
    click.echo(f"hold #{view.id} {safe_text(view.name)!r} placed: covers "
               f"{safe_text(view.covers)}")


@hold.command("release")
@click.argument("hold_id", type=int)
@click.option("--reason", required=True, help="Why the hold ends.")
@click.pass_obj
def hold_release(state: CliState, hold_id: int, reason: str) -> None:
    """Release a hold (it stays on record)."""
    from console.retention.holds import release_hold

    db = state.session()
    view = release_hold(db, state.principal(db), hold_id, reason=reason)
    click.echo(f"hold #{view.id} {safe_text(view.name)!r} released")


@hold.command("list")
@click.option("--active", is_flag=True, help="Only holds not released.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def hold_list(state: CliState, active: bool, as_json: bool) -> None:
    """Legal holds, active first."""
    from dataclasses import asdict

    from console.retention.holds import list_holds

    db = state.session()
    holds = list_holds(db, state.principal(db), include_released=not active)
    if as_json:
        emit_json([asdict(h) | {"active": h.active} for h in holds])
        return
    print_table(("id", "name", "covers", "placed", "by", "released", "reason"),
                [(h.id, h.name, h.covers, _when(h.created_at), h.created_by,
                  _when(h.released_at) or "-", h.reason[:50]) for h in holds])


# -- termination -------------------------------------------------------------------------


@click.group()
def termination() -> None:
    """The end of the service agreement: handover export, grace window, purge."""


@termination.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def termination_status(state: CliState, as_json: bool) -> None:
    """Where the termination workflow stands, and what holds and legal minimums keep."""
    from console.retention import termination as service

    db = state.session()
    status = service.status(db, state.principal(db), state.settings())
    if as_json:
        emit_json(status.to_json())
        return
    if status.end_date is None:
        click.echo("agreement: no end date set")
    else:
        days = status.days_left or 0
        when = (f"in {days} day(s)" if days > 0 else "today" if days == 0
                else f"{-days} day(s) ago")
        click.echo(f"agreement ends: {status.end_date} ({when}); grace window "
                   f"{status.grace_days} days")
    click.echo(f"phase: {status.phase}")
    if status.export_reference:
        click.echo(f"handover export: {safe_text(status.export_reference)} "
                   f"({_when(status.exported_at)} UTC); grace ends "
                   f"{_when(status.grace_ends_at)} UTC")
    if status.purge_reference:
        click.echo(f"purge: {status.purge_reference} ({_when(status.purged_at)} UTC)")
    for line in status.holds:
        click.echo(f"kept by {safe_text(line)}")
    for line in status.legal_minimums:
        click.echo(f"kept by legal minimum: {line}")
    click.echo(f"next: {status.next_step}")


def _typed(confirm: str | None, phrase: str) -> str:
    import sys

    if confirm is not None:
        return confirm
    if not sys.stdin.isatty():
        fail(f"this step needs a typed confirmation: --confirm {phrase!r}", 2)
    return str(click.prompt(f"Type {phrase!r} to confirm"))


@termination.command("export")
@click.option("--confirm", help="The confirmation phrase (asked for when left out).")
@click.option("--recipient", "recipients", multiple=True,
              help="age recipient of the handover bundle (repeatable; default: [exports] "
                   "recipients for 'handover').")
@click.option("--passphrase-stdin", is_flag=True,
              help="Encrypt the bundle with a passphrase read from standard input.")
@click.pass_obj
def termination_export(state: CliState, confirm: str | None, recipients: tuple[str, ...],
                       passphrase_stdin: bool) -> None:
    """Produce the handover export and start the grace window."""
    from console.commands.base import read_secret
    from console.retention import termination as service

    if passphrase_stdin and confirm is None:
        fail("with --passphrase-stdin, give the confirmation as --confirm", 2)
    typed = _typed(confirm, service.EXPORT_PHRASE)
    passphrase = read_secret("", from_stdin=True) if passphrase_stdin else None
    db = state.session()
    status = service.export_step(db, state.principal(db), state.runtime(), confirm=typed,
                                 recipients=recipients, passphrase=passphrase)
    click.echo(f"handover export done: {safe_text(status.export_reference)}; the grace "
               f"window ends {_when(status.grace_ends_at)} UTC")


@termination.command("purge")
@click.option("--confirm", help="The confirmation phrase (asked for when left out).")
@click.option("--plan-only", is_flag=True, help="Make the purge plan, apply it later.")
@click.pass_obj
def termination_purge(state: CliState, confirm: str | None, plan_only: bool) -> None:
    """After the grace window: purge all client data except what holds and legal minimums
    keep (listed), as a retention run."""
    from console import jobs
    from console.commands.jobs import _after_start
    from console.retention import termination as service

    typed = _typed(confirm, service.PURGE_PHRASE)
    db = state.session()
    actor = state.principal(db)
    plan = service.purge_plan(db, actor, state.settings(), confirm=typed)
    _print_plan(plan)
    if plan_only:
        return
    started = jobs.start_run(db, actor, "retention", {"plan": plan.id}, where=jobs.Where.HERE,
                             lease_seconds=state.settings().jobs.lease_seconds)
    _after_start(state, started, "started")
