"""The Retention area through Pilot at 80x24: a policy edited inline, a hold placed through
the form and released, a preview with bars applied as a job, the run in the history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import func
from sqlmodel import select

from console.app import ConsoleApp
from models.business import AttendanceRecord
from models.retention import LegalHold, RetentionPolicy, RetentionRun
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.retentionhelp import TODAY, seed
from tests.tuihelp import log_in, screen_text, settle, table_rows, wait_for_screen


async def wait_for(pilot, app, predicate, what: str, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"{what} never showed; screen was:\n{screen_text(app)}")


async def test_retention_area_end_to_end(runtime, db, clock) -> None:
    clock._now = datetime.combine(TODAY, time(12), UTC)
    seed(db, employees=2, customers=1, years=5)
    db.rollback()
    attendance_before = db.exec(select(func.count()).select_from(AttendanceRecord)).one()
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("7")
        await wait_for_screen(pilot, app, "RetentionScreen")
        await wait_for(pilot, app, lambda: len(table_rows(app, "#policies")) == 9, "policies")
        policies = {r[0]: r for r in table_rows(app, "#policies")}
        assert policies["payroll"][1:5] == ["7 years", "anonymize", "yes", "6 years"]
        assert "Agreement: no end date" in screen_text(app)

        # Inline edit: attendance kept 2 years instead of 3.
        table = app.screen.query_one("#policies")
        table.move_cursor(row=[r[0] for r in table_rows(app, "#policies")].index("attendance"))
        await pilot.press("e")
        await settle(pilot, app)
        keep = app.screen.query_one("#edit-keep")
        assert keep.value == "3 years"
        keep.value = "2 years"
        await pilot.press("enter")
        await wait_for(pilot, app, lambda: {r[0]: r[1] for r in table_rows(
            app, "#policies")}["attendance"] == "2 years", "the edited policy")
        db.rollback()
        assert db.get(RetentionPolicy, "attendance").keep_value == 2

        # A hold through the form, on one employee's data.
        await pilot.press("a")
        await wait_for_screen(pilot, app, "HoldFormScreen")
        form = app.screen
        form.query_one("#name").value = "claim"
        form.query_one("#reason").value = "court claim"
        form.query_one("#employee").value = "7001"
        await settle(pilot, app)
        form.query_one("#save").press()
        await wait_for_screen(pilot, app, "RetentionScreen")
        await wait_for(pilot, app, lambda: len(table_rows(app, "#holds")) == 1, "the hold")
        assert "employee 7001" in table_rows(app, "#holds")[0][2]

        # Preview with bars, then apply it as a job.
        await pilot.press("n")
        await wait_for(pilot, app, lambda: len(table_rows(app, "#preview")) >= 7, "preview")
        preview = {r[0]: r for r in table_rows(app, "#preview")}
        due = int(preview["attendance"][2].replace(",", ""))
        assert due > 0 and "█" in preview["attendance"][3]
        assert int(preview["attendance"][4].replace(",", "")) > 0  # the hold keeps some
        assert "y applies it" in screen_text(app)
        await pilot.press("y")
        await wait_for_screen(pilot, app, "ConfirmScreen")
        await pilot.press("enter")
        await wait_for_screen(pilot, app, "RetentionScreen")
        await wait_for(pilot, app, lambda: any(r[4] == "done" for r in table_rows(
            app, "#runs")), "the finished run", timeout=60)
    db.rollback()
    assert db.exec(select(RetentionRun)).one().state == "done"
    after = db.exec(select(func.count()).select_from(AttendanceRecord)).one()
    assert attendance_before - after == due
    assert db.exec(select(LegalHold)).one().released_at is None


async def test_dashboard_counts_down_to_the_agreement_end(runtime, clock) -> None:
    from console.config import AgreementSettings
    from console.runtime import Runtime

    clock._now = datetime.combine(TODAY, time(12), UTC)
    settings = runtime.settings.model_copy(update={
        "agreement": AgreementSettings(end_date=date(2026, 7, 5), grace_days=30)})
    app = ConsoleApp(Runtime(settings=settings, database=runtime.database, keys=runtime.keys),
                     host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await settle(pilot, app)
        assert "Service agreement ends 2026-07-05: 20 days left" in screen_text(app)
        await pilot.press("7")
        await wait_for_screen(pilot, app, "RetentionScreen")
        await wait_for(pilot, app, lambda: "Agreement ends 2026-07-05 (in 20 days)"
                       in screen_text(app), "the agreement line")
