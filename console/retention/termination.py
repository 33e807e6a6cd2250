"""Termination mode: at the service agreement's end, the handover export, then a grace
window ([agreement] grace_days) for the client to ask for a backup, then the purge of all
the client's data except what legal holds and legal minimums keep (listed). Each step is
confirmed by an administrator typing a phrase, and audited.

The handover export itself is issue 8's (`console.export.service.start_handover`); this
module calls it through one boundary, `handover_export`, and says clearly when this build
does not have it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from console import audit, clock
from console.catalog import Owner, categories
from console.config import Settings
from console.contract import service
from console.db import writing
from console.errors import Conflict, ConsoleError, ValidationError
from console.permissions import Permission
from console.principal import Principal
from console.retention import holds as holds_api
from console.retention.policies import describe_days
from console.retention.preview import ALL, Entry, PlanView, plan_view, save_plan
from console.retention.selection import run_order
from console.runtime import Runtime
from models.retention import RetentionPlan, TerminationStep

EXPORT_PHRASE = "hand over all client data"
PURGE_PHRASE = "purge all client data"


class Phase:
    NONE = "no end date"  # [agreement] end_date not set
    ACTIVE = "active"  # before the end date
    EXPORT_DUE = "export due"  # ended; the handover export is next
    GRACE = "grace window"  # exported; waiting for the grace window to pass
    PURGE_DUE = "purge due"  # the grace window is over
    PURGING = "purging"  # the purge is planned; its retention run applies it
    PURGED = "purged"


@dataclass
class Status:
    end_date: date | None
    grace_days: int
    phase: str
    days_left: int | None  # to the end date (negative: since)
    grace_ends_at: datetime | None = None
    export_reference: str = ""
    exported_at: datetime | None = None
    purge_reference: str = ""
    purged_at: datetime | None = None
    holds: list[str] = field(default_factory=list)  # what stays, in words
    legal_minimums: list[str] = field(default_factory=list)
    next_step: str = ""

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


class HandoverUnavailable(ConsoleError):
    """The handover export (issue 8) is not part of this build."""


def _steps(db: Session, end: date) -> dict[str, TerminationStep]:
    rows = db.execute(select(TerminationStep).where(TerminationStep.agreement_end == end)
                      .order_by(col(TerminationStep.id))).scalars()
    return {r.step: r for r in rows}


def countdown(settings: Settings, today: date | None = None) -> int | None:
    """Days until the agreement ends (negative: since it ended); None without an end date.
    For the dashboard: no database access."""
    end = settings.agreement.end_date
    if end is None:
        return None
    return (end - (today or clock.now().date())).days


def _status(db: Session, settings: Settings) -> Status:
    end = settings.agreement.end_date
    grace = settings.agreement.grace_days
    kept = [f"hold #{h.id} {h.name!r}: {holds_api.describe(h)}"
            for h in holds_api.active_holds(db)]
    minimums = [f"{c.name.value}: {describe_days(c.legal_minimum_days)} "
                f"({c.legal_minimum_basis})" for c in categories(Owner.CLIENT)
                if c.legal_minimum_days]
    if end is None:
        return Status(None, grace, Phase.NONE, None, holds=kept, legal_minimums=minimums,
                      next_step="set [agreement] end_date in config.toml when the service "
                      "agreement ends")
    now = clock.now()
    status = Status(end, grace, Phase.ACTIVE, countdown(settings, now.date()), holds=kept,
                    legal_minimums=minimums)
    steps = _steps(db, end)
    exported, purged = steps.get("export"), steps.get("purge")
    if exported is not None:
        status.exported_at, status.export_reference = exported.at, exported.reference
        status.grace_ends_at = exported.grace_ends_at
    if purged is not None:
        status.purged_at, status.purge_reference = purged.at, purged.reference
    plan = db.get(RetentionPlan, int(purged.reference.split("#")[1])) if purged else None
    if plan is not None and plan.state == "applied":
        status.phase, status.next_step = Phase.PURGED, "nothing: the client's data is purged"
    elif plan is not None and plan.state in ("open", "applying"):
        status.phase = Phase.PURGING
        status.next_step = (f"apply the purge: flowpro-console retention run --plan {plan.id}"
                            if plan.state == "open" else
                            f"the purge (plan #{plan.id}) is being applied by retention run "
                            f"#{plan.run_id}; see flowpro-console jobs list --kind retention")
    elif now.date() < end:
        status.next_step = f"the agreement ends on {end}; the handover export comes then"
    elif exported is None:
        status.phase = Phase.EXPORT_DUE
        status.next_step = ("produce the handover export: flowpro-console termination "
                            "export")
    elif (exported.grace_ends_at is not None and now < exported.grace_ends_at
          and plan is None):
        status.phase = Phase.GRACE
        status.next_step = (f"the grace window ends {exported.grace_ends_at:%Y-%m-%d %H:%M} "
                            "UTC; then: flowpro-console termination purge")
    else:
        status.phase = Phase.PURGE_DUE
        status.next_step = "purge the client's data: flowpro-console termination purge"
    return status


@service("retention.read")
def status(db: Session, actor: Principal, settings: Settings) -> Status:
    """Where the termination workflow stands: end date, countdown, steps done, what holds
    and legal minimums will keep. Needs retention.read."""
    actor.require(Permission.RETENTION_READ)
    result = _status(db, settings)
    db.rollback()
    return result


def _confirm(typed: str, phrase: str) -> None:
    if " ".join(typed.lower().split()) != phrase:
        raise ValidationError("confirm", f"type exactly {phrase!r} to confirm this step")


def handover_export(db: Session, actor: Principal, runtime: Runtime, *,
                    recipients: tuple[str, ...] = (), passphrase: str | None = None
                    ) -> str:
    """The boundary to issue 8 (`console.export.service.start_handover`, then
    `console.export.register.get_export`): produce the handover export of every category
    and return its reference ('export #ID sha256:...'). Raises HandoverUnavailable when this
    build has no exports, ConsoleError when the export fails."""
    try:
        from console.export import register  # type: ignore[import-not-found]
        from console.export import service as exports  # type: ignore[import-not-found]
    except ImportError:
        raise HandoverUnavailable(
            "this build has no handover export (the exports feature, issue 8, is not "
            "installed): the termination workflow cannot go past its export step") from None
    from console import jobs

    begun = exports.start_handover(db, actor, settings=runtime.settings, keys=runtime.keys,
                                   recipients=recipients, passphrase=passphrase,
                                   where=jobs.Where.HERE)
    started = begun.started
    if started.claim is not None:
        jobs.execute(runtime, started.claim, actor)
    db.rollback()
    export = register.get_export(db, actor, begun.export.id)
    if export.state != "done":
        raise ConsoleError(f"the handover export #{begun.export.id} did not finish "
                           f"({export.state}); see `flowpro-console jobs list`")
    return f"export #{begun.export.id} sha256:{export.manifest_sha256}"


@service("termination.export", audit_errors=True)
def export_step(db: Session, actor: Principal, runtime: Runtime, *, confirm: str, recipients: tuple[str, ...] = (),
                passphrase: str | None = None) -> Status:
    """Produce the handover export and start the grace window. Needs retention.manage and
    export.run; the administrator types EXPORT_PHRASE. Raises ValidationError (the phrase),
    Conflict (no end date, before it, already exported), HandoverUnavailable."""
    actor.require(Permission.RETENTION_MANAGE)
    actor.require(Permission.EXPORT_RUN)
    _confirm(confirm, EXPORT_PHRASE)
    settings = runtime.settings
    now = _status(db, settings)
    if now.phase in (Phase.NONE, Phase.ACTIVE):
        raise Conflict(f"the agreement has not ended ({now.next_step})")
    if now.phase != Phase.EXPORT_DUE:
        raise Conflict(f"the handover export was made already ({now.export_reference}, "
                       f"{now.exported_at:%Y-%m-%d}); next: {now.next_step}")
    db.rollback()
    reference = handover_export(db, actor, runtime, recipients=recipients,
                                passphrase=passphrase)
    end = settings.agreement.end_date
    assert end is not None
    with writing(db):
        at = clock.now()
        grace = at + timedelta(days=settings.agreement.grace_days)
        db.add(TerminationStep(step="export", agreement_end=end, at=at, by=actor.name,
                               reference=reference[:255], grace_ends_at=grace))
        audit.record(db, actor, "termination.export", target=f"agreement:{end}", details={
            "export": reference, "grace_days": settings.agreement.grace_days,
            "grace_ends_at": grace.isoformat()})
    return _status(db, settings)


def purge_entries() -> list[Entry]:
    """Every client category, every row (holds, legal minimums, restrictions and remaining
    references keep theirs), subjects last."""
    return [Entry(c, "delete", ALL, None) for c in run_order(list(categories(Owner.CLIENT)))]


@service("termination.purge", audit_errors=True)
def purge_plan(db: Session, actor: Principal, settings: Settings, *, confirm: str,
               source: str = "cli") -> PlanView:
    """After the grace window: plan the purge of all client data (what holds and legal
    minimums keep is listed per category) and record the step; the caller applies the
    plan with a retention run (`console.jobs.start_run(..., "retention", {"plan": id})`).
    Needs retention.manage; the administrator types PURGE_PHRASE. Raises ValidationError
    (the phrase), Conflict (not yet: no export, grace window running; purged already)."""
    actor.require(Permission.RETENTION_MANAGE)
    _confirm(confirm, PURGE_PHRASE)
    now = _status(db, settings)
    if now.phase != Phase.PURGE_DUE:
        raise Conflict(f"the purge is not due ({now.phase}): {now.next_step}")
    end = settings.agreement.end_date
    assert end is not None
    today = clock.now().date()
    recorded: list[int] = []

    def record(plan: Any) -> None:
        db.add(TerminationStep(step="purge", agreement_end=end, at=clock.now(), by=actor.name,
                               reference=f"plan #{plan.id}"))
        audit.record(db, actor, "termination.purge", target=f"agreement:{end}", details={
            "plan": plan.id, "holds": now.holds, "legal_minimums": now.legal_minimums})
        recorded.append(plan.id or 0)

    plan = save_plan(db, actor, purge_entries(), as_of=today, source=source,
                     purpose="termination", samples=settings.retention.sample_rows,
                     then=record)
    return plan_view(db, plan)
