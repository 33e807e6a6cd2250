"""The audit trail: verify, checkpoint, list."""

from __future__ import annotations

import click

from console.commands.base import CliState, emit_json, fail, print_table


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.pass_obj
def audit_verify(state: CliState) -> None:
    """Walk the hash chain and the signed checkpoints; exit 1 at the first bad event."""
    from console import audit as service

    db = state.session()
    report = service.verify(db, state.principal(db), state.runtime().keys)
    if not report.ok:
        fail(report.summary(), 1)
    click.echo(report.summary())


@audit.command("checkpoint")
@click.pass_obj
def audit_checkpoint(state: CliState) -> None:
    """Sign the current head of the chain now."""
    from console import audit as service

    db = state.session()
    cp = service.checkpoint(db, state.principal(db), state.runtime().keys)
    click.echo(f"signed checkpoint {cp.id} at event {cp.last_event_id}" if cp
               else "nothing new to sign")


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 5000), default=50, show_default=True)
@click.option("--actor", help="Only events by this actor.")
@click.option("--action", "action_prefix", help="Only actions starting with this (e.g. users.).")
@click.option("--target", help="Only events about this target (e.g. user:alice).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def audit_list(state: CliState, limit: int, actor: str | None, action_prefix: str | None,
               target: str | None, as_json: bool) -> None:
    """The newest audit events, newest first."""
    from console import audit as service

    db = state.session()
    events = service.recent(db, state.principal(db), limit=limit, actor_name=actor,
                            action_prefix=action_prefix, target=target)
    if as_json:
        emit_json([{**e.model_dump(exclude={"prev_hash"}),
                    "details": service.details_of(e)} for e in events])
        return
    print_table(("id", "time (UTC)", "actor", "action", "target", "outcome"),
                [(e.id, e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target,
                  e.outcome) for e in events])
