"""Retention on SQLite and PostgreSQL: policies and legal minimums, holds by category,
subject and range, preview == run, anonymization leaves no PII, processing logs go by
month partitions, drift stops a run, the audit trail still verifies after its purge."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from console import audit, jobs
from console.errors import ValidationError
from console.logs.ingest import ingest
from console.logs.retention import list_months
from console.retention.holds import add_hold, release_hold
from console.retention.policies import list_policies, set_policy
from console.retention.preview import get_plan, preview
from models.audit import AuditEvent
from models.business import AttendanceRecord, Employee, PayrollRecord, SaleTransaction
from models.jobs import JobState
from models.retention import RetentionRun
from tests.retentionhelp import CUSTOMER_BASE, EMPLOYEE_BASE, TODAY, employee_pii, row_values, seed

AS_OF = TODAY


@pytest.fixture
def today(clock):
    clock._now = datetime.combine(TODAY, time(12), UTC)
    return clock


def apply(runtime, db, actor, plan_id: int, **kw):
    started = jobs.start_run(db, actor, "retention", {"plan": plan_id}, where=jobs.Where.HERE)
    assert started.claim is not None
    final = jobs.execute(runtime, started.claim, actor, **kw)
    db.rollback()
    return final


def counts(db) -> dict[str, int]:
    db.rollback()
    return {name: int(db.exec(select(func.count()).select_from(model)).one())
            for name, model in (("payroll", PayrollRecord), ("attendance", AttendanceRecord),
                                ("sales", SaleTransaction), ("employees", Employee))}


def log_file(tmp_path: Path, days: list[date], per_day: int = 3) -> Path:
    path = tmp_path / "app.jsonl"
    with path.open("w") as fh:
        for day in days:
            for i in range(per_day):
                ts = datetime.combine(day, time(10, i), UTC)
                fh.write(json.dumps({"ts": ts.isoformat(), "level": "info",
                                     "message": f"request {day} #{i}"}) + "\n")
    return path


def test_policies_defaults_legal_minimum_and_audited_change(runtime, db, admin, today) -> None:
    config = runtime.settings.retention
    table = {p.category: p for p in list_policies(db, admin, config)}
    assert table["payroll"].keep == "7 years" and table["payroll"].action == "anonymize"
    assert table["processing_logs"].keep == "90 days"
    assert table["attendance"].keep == "3 years"
    with pytest.raises(ValidationError, match="at least 6 years"):
        set_policy(db, admin, "payroll", config, keep="5 years")
    with pytest.raises(ValidationError, match="no personal-data"):
        set_policy(db, admin, "job_runs", config, action="anonymize")
    changed = set_policy(db, admin, "attendance", config, keep="2 years")
    assert changed.keep == "2 years" and changed.source == "console"
    db.rollback()
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "retention.policy_set")
                     .order_by(col(AuditEvent.id))).all()
    assert [e.outcome for e in events] == ["error", "error", "ok"]
    details = json.loads(events[-1].details)
    assert details["before"]["keep"] == "3 years" and details["after"]["keep"] == "2 years"
    assert "at least 6 years" in events[0].details


def test_preview_equals_run_and_run_report(runtime, db, admin, today, tmp_path) -> None:
    seed(db, employees=3, customers=2, years=9)
    logs = log_file(tmp_path, [AS_OF - timedelta(days=d) for d in (200, 130, 95, 91, 89, 10)])
    ingest(db, admin, [logs], zone_name="UTC", final=True)
    before = counts(db)
    plan = preview(db, admin, runtime.settings.retention, as_of=AS_OF)
    items = {i.category: i for i in plan.items}
    assert items["attendance"].due > 0 and items["payroll"].due > 0
    assert items["processing_logs"].due == 12  # 4 days x 3 entries older than 90 days
    assert items["employees"].due == 1  # terminated 8 years ago
    final = apply(runtime, db, admin, plan.id)
    assert final.state == JobState.SUCCEEDED, final.error
    after = counts(db)
    assert before["attendance"] - after["attendance"] == items["attendance"].due
    result = final_result(db, final.id)
    for name, item in items.items():
        got = result["categories"][name]
        assert got["deleted"] + got["anonymized"] == item.due, name
        assert got["skipped"] == 0
    assert sum(m.rows for m in list_months(db, admin)) == 6
    # What was due is gone: a new preview finds nothing more.
    again = preview(db, admin, runtime.settings.retention, as_of=AS_OF)
    assert all(i.due == 0 for i in again.items), [(i.category, i.due) for i in again.items]
    applied = get_plan(db, admin, plan.id)
    assert applied.state == "applied"
    applies = db.exec(select(AuditEvent).where(AuditEvent.action == "retention.apply")).all()
    assert {e.target for e in applies} == {f"category:{c}" for c in items}


def final_result(db, job_id: int) -> dict:
    db.rollback()
    from models.jobs import JobRun

    return json.loads(db.get(JobRun, job_id).result)


def test_holds_by_category_subject_and_range_each_block(runtime, db, admin, today,
                                                         tmp_path) -> None:
    seed(db, employees=3, customers=2, years=9)
    config = runtime.settings.retention
    first = preview(db, admin, config, as_of=AS_OF)
    due = {i.category: i.due for i in first.items}
    by_category = add_hold(db, admin, name="audit 2026", reason="tax audit",
                           category_name="attendance")
    by_subject = add_hold(db, admin, name="claim", reason="court claim",
                          employee=EMPLOYEE_BASE + 1)
    by_range = add_hold(db, admin, name="fy2018", reason="FY2018 inquiry",
                        category_name="sales", range_from=date(2018, 1, 1),
                        range_to=date(2018, 12, 31))
    plan = preview(db, admin, config, as_of=AS_OF)
    items = {i.category: i for i in plan.items}
    assert items["attendance"].due == 0 and items["attendance"].held == due["attendance"]
    holds = {h["name"]: h["rows"] for h in items["payroll"].holds}
    assert holds["claim"] > 0 and items["payroll"].due == due["payroll"] - holds["claim"]
    sales_holds = {h["name"]: h["rows"] for h in items["sales"].holds}
    assert sales_holds["fy2018"] > 0 and sales_holds["claim"] > 0
    final = apply(runtime, db, admin, plan.id)
    assert final.state == JobState.SUCCEEDED, final.error
    db.rollback()
    # Nothing a hold covers was changed.
    assert db.exec(select(func.count()).select_from(AttendanceRecord)).one() > 0
    kept = db.exec(select(PayrollRecord).where(PayrollRecord.employee_id == EMPLOYEE_BASE + 1)
                   ).all()
    assert kept and all(r.bank_account for r in kept)
    fy = db.exec(select(SaleTransaction).where(
        col(SaleTransaction.occurred_at) >= datetime(2018, 1, 1, tzinfo=UTC),
        col(SaleTransaction.occurred_at) < datetime(2019, 1, 1, tzinfo=UTC))).all()
    assert fy and all(r.card_last4 for r in fy)
    result = final_result(db, final.id)
    assert result["categories"]["attendance"]["holds"]["audit 2026"] == due["attendance"]
    # Released, never deleted: the next plan lets the rows go.
    release_hold(db, admin, by_category.id, reason="audit closed")
    later = {i.category: i for i in preview(db, admin, config, as_of=AS_OF).items}
    claim = {h["name"]: h["rows"] for h in later["attendance"].holds}
    assert "audit 2026" not in claim and claim["claim"] > 0  # the subject hold still keeps
    assert later["attendance"].due == due["attendance"] - claim["claim"]
    assert by_subject.id and by_range.id


def test_anonymization_by_retention_leaves_no_pii(runtime, db, admin, today) -> None:
    seed(db, employees=2, customers=1, years=9)
    plan = preview(db, admin, runtime.settings.retention, as_of=AS_OF)
    final = apply(runtime, db, admin, plan.id)
    assert final.state == JobState.SUCCEEDED, final.error
    db.rollback()
    gone = db.get(Employee, EMPLOYEE_BASE)
    # Every PII value the catalog declares (the employee number is a record key, not PII).
    originals = [str(v) for k, v in employee_pii(0).items() if k != "date_of_birth"]
    assert gone is not None
    for value in row_values(gone):
        assert not any(o in value for o in originals), value
    old_pay = db.exec(select(PayrollRecord).where(
        col(PayrollRecord.period) < date(2019, 1, 1))).all()
    assert old_pay
    for row in old_pay:
        assert row.bank_account is None and row.employee_id not in (EMPLOYEE_BASE,
                                                                    EMPLOYEE_BASE + 1)
        assert row.gross_cents >= 500_000  # amounts kept
    old_sales = db.exec(select(SaleTransaction).where(
        col(SaleTransaction.occurred_at) < datetime(2019, 1, 1, tzinfo=UTC))).all()
    assert old_sales and all(s.card_last4 is None and s.customer_id != CUSTOMER_BASE
                             for s in old_sales)


def test_drift_stops_the_run_before_changing_anything(runtime, db, admin, today) -> None:
    seed(db, employees=3, customers=1, years=9)
    plan = preview(db, admin, runtime.settings.retention, as_of=AS_OF)
    add_hold(db, admin, name="everything", reason="litigation")
    before = counts(db)
    final = apply(runtime, db, admin, plan.id)
    assert final.state == JobState.FAILED
    assert "drifted" in final.error and "retention preview" in final.error
    assert counts(db) == before
    run = db.exec(select(RetentionRun)).one()
    assert run.state == "drifted"


def test_audit_trail_purge_keeps_verify_working(runtime, db, admin, clock) -> None:
    db.rollback()
    first = db.exec(select(func.count()).select_from(AuditEvent)).one()
    clock.advance(days=8 * 365)  # the installation's events are now 8 years old
    for i in range(3):
        audit.record_alone(db, admin, "test.recent", target=f"t:{i}")
    plan = preview(db, admin, runtime.settings.retention, category_name="audit_events")
    assert plan.items[0].due >= first
    final = apply(runtime, db, admin, plan.id)
    assert final.state == JobState.SUCCEEDED, final.error
    report = audit.verify(db, admin, runtime.keys)
    assert report.ok, report.reason
    assert report.purged_through is not None
    db.rollback()
    left = db.exec(select(AuditEvent.action)).all()
    assert "test.recent" in left and "retention.apply" in left
    # Deleting an event after the anchor is still detected.
    from sqlalchemy import delete

    from console.db import writing

    victim = db.exec(select(AuditEvent).where(AuditEvent.action == "test.recent")).first()
    with writing(db):
        db.execute(delete(AuditEvent).where(AuditEvent.id == victim.id))
    assert not audit.verify(db, admin, runtime.keys).ok


def test_plan_zero_makes_its_own_plan_and_applies_it(runtime, db, root) -> None:
    """What the daily schedule does: `retention` with plan 0 plans as of today, then
    applies that plan; both are recorded."""
    seed(db, employees=2, customers=1, years=9)
    final = apply(runtime, db, root, 0)
    assert final.state == JobState.SUCCEEDED, final.error
    from models.retention import RetentionPlan

    plan = db.exec(select(RetentionPlan)).one()
    assert plan.state == "applied" and plan.source == "job" and plan.total_due > 0
    result = final_result(db, final.id)
    assert result["plan"] == plan.id
    assert sum(c["deleted"] + c["anonymized"] for c in result["categories"].values()) == \
        plan.total_due
    actions = db.exec(select(AuditEvent.action)).all()
    assert "retention.preview" in actions and "retention.run" in actions


def test_processing_log_holds_keep_their_range(runtime, db, admin, today, tmp_path) -> None:
    days = [AS_OF - timedelta(days=d) for d in (150, 120, 100, 95)]
    ingest(db, admin, [log_file(tmp_path, days)], zone_name="UTC", final=True)
    add_hold(db, admin, name="incident", reason="security incident review",
             category_name="processing_logs", range_from=days[1], range_to=days[1])
    plan = preview(db, admin, runtime.settings.retention, as_of=AS_OF,
                   category_name="processing_logs")
    item = plan.items[0]
    assert (item.due, item.held) == (9, 3)
    assert item.holds == [{"id": 1, "name": "incident", "rows": 3}]
    final = apply(runtime, db, admin, plan.id)
    assert final.state == JobState.SUCCEEDED, final.error
    from console.logs.export import iter_entries
    from console.logs.query import LogFilter

    left = list(iter_entries(db, admin, LogFilter()))
    assert len(left) == 3 and all(e.ts.date() == days[1] for e in left)


def test_termination_grace_window_then_purge_keeps_holds_and_minimums(
        runtime, db, admin, today, monkeypatch) -> None:
    from console.config import AgreementSettings
    from console.errors import Conflict
    from console.retention import termination
    from console.runtime import Runtime

    seed(db, employees=3, customers=1, years=9)
    hold = add_hold(db, admin, name="claim", reason="court", employee=EMPLOYEE_BASE + 2)
    settings = runtime.settings.model_copy(update={
        "agreement": AgreementSettings(end_date=TODAY - timedelta(days=1), grace_days=30)})
    rt = Runtime(settings=settings, database=runtime.database, keys=runtime.keys)
    monkeypatch.setattr(termination, "handover_export", lambda *a, **k: "export #7 sha256:x")
    with pytest.raises(ValidationError, match="type exactly"):
        termination.export_step(db, admin, rt, confirm="ok")
    status = termination.export_step(db, admin, rt, confirm=termination.EXPORT_PHRASE)
    assert status.phase == termination.Phase.GRACE and status.export_reference
    with pytest.raises(Conflict, match="grace window"):
        termination.purge_plan(db, admin, settings, confirm=termination.PURGE_PHRASE)
    today.advance(days=31)
    plan = termination.purge_plan(db, admin, settings, confirm=termination.PURGE_PHRASE)
    assert plan.purpose == "termination"
    assert termination.status(db, admin, settings).phase == termination.Phase.PURGING
    final = apply(runtime, db, admin, plan.id)
    assert final.state == JobState.SUCCEEDED, final.error
    assert termination.status(db, admin, settings).phase == termination.Phase.PURGED
    db.rollback()
    left = db.exec(select(PayrollRecord)).all()
    cutoff = (TODAY + timedelta(days=31)) - timedelta(days=6 * 365)
    # Kept: what the legal minimum covers, and everything of the held employee.
    assert all(r.period >= cutoff or r.employee_id == EMPLOYEE_BASE + 2 for r in left)
    assert any(r.employee_id == EMPLOYEE_BASE + 2 and r.period < cutoff for r in left)
    assert db.exec(select(func.count()).select_from(AttendanceRecord).where(
        AttendanceRecord.employee_id != EMPLOYEE_BASE + 2)).one() == 0
    assert db.get(Employee, EMPLOYEE_BASE + 2) is not None and hold.id
    actions = [e.action for e in db.exec(select(AuditEvent)).all()]
    assert "termination.export" in actions and "termination.purge" in actions
