"""Applying a plan, step by step (the `retention` job kind calls these).

Phases of a run: `check` (the plan is still valid and the database has not drifted from
it beyond `[retention] drift_threshold_percent`; else the run stops before changing
anything, saying by how much), `purge` (category by category, batch by batch; each batch
commits with the run's checkpoint, compare-and-set on its cursor, so a crash or a second
runner never applies a batch twice), `vacuum` (SQLite: `PRAGMA incremental_vacuum` in
steps; PostgreSQL: `VACUUM (ANALYZE)` per table) and `done`. Each category's end is one
audit event (`retention.apply`), the run's end another (`retention.run`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, false, update
from sqlmodel import Session, col, select

from console import audit, clock
from console.catalog import category
from console.db import writing
from console.jobs import JobContext, JobFailed
from console.retention import holds as holds_api
from console.retention import partitions
from console.retention import policies as policies_api
from console.retention.engine import (
    DeleteStatements,
    Pace,
    Window,
    anonymize_batch,
    audit_prefix_batch,
    next_window,
    sqlite_tuned,
    start_cursor,
)
from console.retention.plans import PREFIX_ONLY, analyze, dumps, measure_drift, rules_from
from console.retention.preview import ALL, policy_entries, save_plan
from console.retention.selection import Clause, Rule, partitioned
from models.retention import RetentionPlan, RetentionPlanItem, RetentionRun, RetentionRunItem

_ITEMS = RetentionRunItem.__table__  # type: ignore[attr-defined]
# A batch's checkpoint: compare-and-set on the cursor, counts added. Core and built once, so
# that no statement is compiled while the batch holds the write lock.
_ADVANCE = update(_ITEMS).where(
    _ITEMS.c.id == bindparam("_id"), _ITEMS.c.cursor == bindparam("_old"),
    _ITEMS.c.done == false()).values(
    cursor=bindparam("_cursor"), done=bindparam("_done"),
    skipped=_ITEMS.c.skipped + bindparam("_skipped"),
    batches=_ITEMS.c.batches + bindparam("_batches"), batch_rows=bindparam("_rows"),
    max_batch_ms=bindparam("_max"), deleted=_ITEMS.c.deleted + bindparam("_deleted"),
    anonymized=_ITEMS.c.anonymized + bindparam("_anonymized"), note=bindparam("_note"))
FIRST_BATCH = 200
STEP_SECONDS = 0.5  # batches per job step: the framework's per-step cost is paid rarely
_PACES: dict[tuple[int, str], Pace] = {}


def plan_items(db: Session, plan_id: int) -> list[RetentionPlanItem]:
    return list(db.execute(select(RetentionPlanItem).where(RetentionPlanItem.plan_id == plan_id)
                           .order_by(col(RetentionPlanItem.position))).scalars())


def run_items(db: Session, run_id: int) -> list[RetentionRunItem]:
    return list(db.execute(select(RetentionRunItem).where(RetentionRunItem.run_id == run_id)
                           .order_by(col(RetentionRunItem.id))).scalars())


def find_run(db: Session, job_run_id: int) -> RetentionRun | None:
    return db.execute(select(RetentionRun).where(RetentionRun.job_run_id == job_run_id)
                      ).scalars().first()


def plan_problem(plan: RetentionPlan | None, plan_id: int) -> str:
    """Why a plan cannot be applied ('' when it can be)."""
    if plan is None:
        return f"no retention plan #{plan_id}; make one with `flowpro-console retention preview`"
    if plan.state == "applying":
        return (f"plan #{plan_id} is being applied by retention run #{plan.run_id}; resume "
                "that run's job instead (flowpro-console jobs list --kind retention)")
    if plan.state == "applied":
        return f"plan #{plan_id} was applied by retention run #{plan.run_id} already"
    if plan.state != "open":
        return (f"plan #{plan_id} is {plan.state} and cannot be applied; make a new one with "
                "`flowpro-console retention preview`")
    if plan.as_of > clock.now().date():
        return (f"plan #{plan_id} is as of {plan.as_of}, in the future: such a plan shows what "
                "will be due, it cannot be applied before then")
    return ""


def begin(ctx: JobContext, plan_id: int) -> RetentionRun:
    """Create the retention run of this job (once): for plan 0, make a plan as of today
    first, in the same transaction."""
    db = ctx.db
    found = find_run(db, ctx.run_id)
    if found is not None:
        return found
    created: list[RetentionRun] = []

    def attach(plan: RetentionPlan) -> None:
        run = RetentionRun(plan_id=plan.id or 0, job_run_id=ctx.run_id, started_at=clock.now(),
                           started_by=ctx.actor.name)
        db.add(run)
        db.flush()
        taken = db.execute(update(RetentionPlan).where(
            col(RetentionPlan.id) == plan.id, col(RetentionPlan.state) == "open").values(
            state="applying", run_id=run.id)).rowcount
        if taken != 1:
            raise JobFailed(plan_problem(db.get(RetentionPlan, plan.id), plan.id or 0)
                            or f"plan #{plan.id} cannot be applied")
        created.append(run)

    if plan_id:
        problem = plan_problem(db.get(RetentionPlan, plan_id), plan_id)
        if problem:
            raise JobFailed(problem)
        db.rollback()
        with writing(db):
            plan = db.get(RetentionPlan, plan_id)
            assert plan is not None
            attach(plan)
    else:
        today = clock.now().date()
        config = ctx.settings.retention
        save_plan(db, ctx.actor, policy_entries(db, config, today), as_of=today,
                  source="scheduler" if ctx.actor.kind.value == "scheduler" else "job",
                  samples=config.sample_rows, then=attach)
    return created[0]


def _rules(db: Session, plan: RetentionPlan, items: list[RetentionPlanItem]
           ) -> tuple[list[Rule], dict[str, Clause]]:
    return rules_from(db, [(category(i.category), i.action,
                            None if i.keep == ALL else i.cutoff) for i in items], plan.as_of)


def _policy_changes(ctx: JobContext, items: list[RetentionPlanItem]) -> list[str]:
    table = policies_api.effective(ctx.db, ctx.settings.retention)
    changes = []
    for item in items:
        now = table[item.category]
        if not now.enabled or now.keep != item.keep or now.action != item.action:
            then = f"{item.keep} {item.action}"
            current = f"{now.keep} {now.action}" if now.enabled else "off"
            changes.append(f"the policy of {item.category} changed since the plan "
                           f"({then} -> {current})")
    return changes


def check(ctx: JobContext, run: RetentionRun) -> None:
    """Stop (JobFailed, nothing changed) if the plan no longer holds; else set the run up."""
    db = ctx.db
    plan = db.get(RetentionPlan, run.plan_id)
    assert plan is not None
    items = plan_items(db, plan.id or 0)
    problems = []
    if plan.as_of > clock.now().date():
        problems.append(f"plan #{plan.id} is as of {plan.as_of}, in the future")
    if plan.purpose == "retention":
        problems += _policy_changes(ctx, items)
    rules, going = _rules(db, plan, items)
    drifts, counts = [], []
    for item, rule in zip(items, rules, strict=True):
        drift, now = measure_drift(db, rule, going, json.loads(item.ranges))
        if not json.loads(item.ranges):
            now = analyze(db, rule, going)
        drifts.append(drift)
        counts.append(now)
    planned = sum(d.planned for d in drifts)
    changed = sum(d.gone + d.new for d in drifts)
    percent = 100.0 * changed / planned if planned else 0.0
    threshold = ctx.settings.retention.drift_threshold_percent
    drift_doc = {"percent": round(percent, 3), "threshold": threshold,
                 "categories": [d.__dict__ | {"percent": round(d.percent, 3)} for d in drifts]}
    if percent > threshold:
        lines = "; ".join(d.describe() for d in drifts if d.gone or d.new)
        problems.append(f"the database drifted {percent:.1f}% from plan #{plan.id} (threshold "
                        f"{threshold:g}%): {lines}")
    db.rollback()
    if problems:
        message = ("stopped before changing anything: " + "; ".join(problems)
                   + ". Make a new plan: flowpro-console retention preview")
        with writing(db):
            db.execute(update(RetentionRun).where(col(RetentionRun.id) == run.id).values(
                state="drifted", phase="stopped", error=message, drift=dumps(drift_doc),
                ended_at=clock.now()))
            db.execute(update(RetentionPlan).where(col(RetentionPlan.id) == plan.id)
                       .values(state="stale"))
            audit.record(db, ctx.actor, "retention.run", target=f"retention:{run.id}",
                         outcome=audit.Outcome.ERROR,
                         details={"plan": plan.id, "error": message, "drift": drift_doc})
        raise JobFailed(message)
    with writing(db):
        moved = db.execute(update(RetentionRun).where(
            col(RetentionRun.id) == run.id, col(RetentionRun.phase) == "check").values(
            phase="purge", drift=dumps(drift_doc))).rowcount
        if moved != 1:
            raise JobFailed(f"retention run #{run.id} was taken over by another runner")
        for item, drift, now in zip(items, drifts, counts, strict=True):
            cursor = (partitions.start_cursor(json.loads(item.ranges))
                      if partitioned(category(item.category))
                      else start_cursor(json.loads(item.ranges)))
            db.add(RetentionRunItem(
                run_id=run.id or 0, category=item.category, action=item.action,
                planned=drift.planned, cursor=dumps(cursor), done=False,
                held=now.held, restricted=now.restricted, referenced=now.referenced,
                legal_minimum=now.legal_minimum, holds=dumps(now.holds),
                skipped=0, batch_rows=FIRST_BATCH, note=item.note[:500]))


@dataclass(frozen=True)
class BatchOutcome:
    changed: int
    planned: int
    hold_ms: float
    finished: bool


def _item_audit(ctx: JobContext, run: RetentionRun, item: RetentionRunItem,
                plan_item: RetentionPlanItem) -> None:
    values = {"run": run.id, "plan": run.plan_id, "action": item.action,
              "keep": plan_item.keep, "cutoff": plan_item.cutoff.isoformat(),
              "planned": item.planned, "deleted": item.deleted, "anonymized": item.anonymized,
              "skipped": item.skipped, "held": item.held,
              "holds": {h["name"]: h["rows"] for h in json.loads(item.holds)},
              "restricted": item.restricted, "referenced": item.referenced,
              "legal_minimum": item.legal_minimum, "batches": item.batches,
              "max_batch_ms": round(item.max_batch_ms, 2), "note": item.note or None}
    audit.record(ctx.db, ctx.actor, "retention.apply", target=f"category:{item.category}",
                 details=values)


def purge_step(ctx: JobContext, run: RetentionRun) -> bool:
    """Batches of one category for up to STEP_SECONDS (or its end); True when every
    category is done. Each batch commits with its checkpoint, so stopping between any two
    loses nothing."""
    db = ctx.db
    items = [i for i in run_items(db, run.id or 0) if not i.done]
    if not items:
        return True
    item = items[0]
    plan = db.get(RetentionPlan, run.plan_id)
    assert plan is not None
    plan_list = plan_items(db, plan.id or 0)
    plan_item = next(p for p in plan_list if p.category == item.category)
    rules, going = _rules(db, plan, plan_list)
    rule = next(r for r in rules if r.category.name.value == item.category)
    ranges = json.loads(plan_item.ranges)
    db.expunge(item)  # a local copy, kept in step with each batch's UPDATE
    db.expunge(plan_item)
    key = (run.id or 0, item.category)
    settings = ctx.settings.retention
    pace = _PACES.setdefault(key, Pace(item.batch_rows or FIRST_BATCH,
                                       settings.batch_target_ms))
    statements = (DeleteStatements(rule, going) if rule.action == "delete"
                  and not partitioned(rule.category)
                  and rule.category.name not in PREFIX_ONLY else None)
    deadline = time.monotonic() + STEP_SECONDS
    with sqlite_tuned(db):
        return _batches(ctx, run, item, plan_item, rule, going, ranges, pace, statements,
                        key, deadline)


def _batches(ctx: JobContext, run: RetentionRun, item: RetentionRunItem,
             plan_item: RetentionPlanItem, rule: Rule, going: dict[str, Clause],
             ranges: list[list[Any]], pace: Pace, statements: DeleteStatements | None,
             key: tuple[int, str], deadline: float) -> bool:
    db = ctx.db
    settings = ctx.settings.retention
    while True:
        raw = json.loads(item.cursor)
        cursor = tuple(raw) if raw else None
        if partitioned(rule.category):
            window = Window([cursor] if cursor else [], 0, None)
        else:
            window = next_window(ranges, cursor, pace.rows) if cursor else Window([], 0, None)
        if db.in_transaction():
            db.rollback()
        if window.terms and not pace.first:
            time.sleep(settings.pause_ms / 1000)  # let waiting writers in
        outcome = _apply(ctx, run, item, plan_item, rule, going, window, pace, statements)
        pace.update(outcome.planned, outcome.hold_ms)
        ctx.advance(outcome.planned, f"{item.category}: {item.action} "
                    f"{item.deleted + item.anonymized:,}/{item.planned:,}")
        if outcome.finished:
            if outcome.hold_ms > item.max_batch_ms:
                with writing(db):
                    db.execute(update(RetentionRunItem).where(
                        col(RetentionRunItem.id) == item.id).values(
                        max_batch_ms=outcome.hold_ms))
            _PACES.pop(key, None)
            return False
        if time.monotonic() >= deadline or ctx.should_stop():
            return False


def _apply(ctx: JobContext, run: RetentionRun, item: RetentionRunItem,
           plan_item: RetentionPlanItem, rule: Rule, going: dict[str, Clause],
           window: Window, pace: Pace, statements: DeleteStatements | None) -> BatchOutcome:
    db = ctx.db
    stopped: int | None = None
    with writing(db):
        started = time.perf_counter()
        changed = 0
        if window.terms and partitioned(rule.category):
            step = partitions.apply_step(db, rule.category, holds_api.active_holds(db),
                                         json.loads(plan_item.ranges), list(window.terms[0]),
                                         pace.rows)
            changed = step.deleted
            window = Window(window.terms, changed, tuple(step.cursor) if step.cursor else None)
        elif window.terms:
            if rule.category.name in PREFIX_ONLY:
                if ctx.keys is None:
                    raise JobFailed("purging the audit trail needs the signing key")
                result = audit_prefix_batch(db, rule, going, window, ctx.keys, run.id or 0)
                changed, stopped = result.deleted, result.stopped_at
            elif statements is not None:
                changed = statements.run(db, window.terms)
            else:
                if ctx.keys is None:
                    raise JobFailed("anonymizing needs the pseudonym key")
                changed = anonymize_batch(db, rule, going, window, ctx.keys.pseudonym_key())
        finished = window.next_cursor is None or stopped is not None
        skipped = window.planned - changed
        if partitioned(rule.category):  # planned counts per month, not per step
            skipped = max(0, item.planned - item.deleted - changed) if finished else 0
        if stopped is not None:  # the rest of the plan's range waits for a later plan
            skipped = item.planned - item.deleted - item.skipped - changed
        note = ((f"stopped at audit event {stopped}: it must be kept, so the chain is "
                 "purged up to the event before it")[:500] if stopped is not None
                else item.note)
        values: dict[str, Any] = {
            "_id": item.id, "_old": item.cursor, "_cursor": dumps(window.next_cursor),
            "_done": finished, "_skipped": skipped, "_batches": 1 if window.terms else 0,
            "_rows": pace.rows, "_max": max(item.max_batch_ms, pace.last_ms),
            "_deleted": changed if rule.action == "delete" else 0,
            "_anonymized": changed if rule.action != "delete" else 0, "_note": note}
        moved = db.connection().execute(_ADVANCE, values).rowcount
        if moved != 1:
            raise JobFailed(f"retention run #{run.id} was taken over by another runner")
        values["cursor"], values["note"] = values["_cursor"], note
        item.cursor, item.done = values["cursor"], finished
        item.skipped += skipped
        item.batches += 1 if window.terms else 0
        item.batch_rows, item.max_batch_ms = pace.rows, max(item.max_batch_ms, pace.last_ms)
        if rule.action == "delete":
            item.deleted += changed
        else:
            item.anonymized += changed
        if stopped is not None:
            item.note = values["note"]
        if finished:
            _item_audit(ctx, run, item, plan_item)
    hold_ms = (time.perf_counter() - started) * 1000
    return BatchOutcome(changed, window.planned, hold_ms, finished)


def finish(ctx: JobContext, run: RetentionRun) -> None:
    db = ctx.db
    items = run_items(db, run.id or 0)
    with writing(db):
        moved = db.execute(update(RetentionRun).where(
            col(RetentionRun.id) == run.id, col(RetentionRun.phase) == "vacuum").values(
            phase="done", state="done", ended_at=clock.now())).rowcount
        if moved != 1:
            return
        db.execute(update(RetentionPlan).where(col(RetentionPlan.id) == run.plan_id)
                   .values(state="applied"))
        audit.record(db, ctx.actor, "retention.run", target=f"retention:{run.id}", details={
            "plan": run.plan_id, "job": ctx.run_id,
            "deleted": {i.category: i.deleted for i in items if i.deleted},
            "anonymized": {i.category: i.anonymized for i in items if i.anonymized},
            "kept": {i.category: i.held + i.restricted + i.referenced + i.legal_minimum
                     for i in items},
            "bytes_freed": run.bytes_freed, "pages_freed": run.pages_freed,
            "max_batch_ms": round(max((i.max_batch_ms for i in items), default=0.0), 2)})

