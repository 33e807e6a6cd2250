"""Support access in the TUI (Pilot, 80x24): the engineer's session closes when the grant
is revoked or expires, whatever screen is open; banner, masking; the admin's support
screen, forms that validate as you type, dashboard and live monitor."""

from __future__ import annotations

from sqlmodel import select

from console.app import ConsoleApp
from console.support import create_grant, request_access, revoke_grant
from console.support_sessions import note_screen
from models.audit import AuditEvent
from models.identity import LoginSession
from models.support import SupportGrant
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.supporthelp import GOOD, add_engineer, log_in, support_session, totp_now
from tests.tuihelp import log_in as tui_log_in
from tests.tuihelp import screen_text, settle, table_rows, wait_for_screen, wait_until


async def wait_for_end(pilot, app: ConsoleApp, seconds: float = 5.0) -> str:
    for _ in range(int(seconds / 0.05)):
        if app.end_reason:
            return app.end_reason
        await pilot.pause(0.05)
    raise AssertionError(f"the session did not end; on {type(app.screen).__name__}")


def engineer_app(runtime, db, admin, *, hours: float = 4, scope: str = "logs.read"):
    add_engineer(runtime, db)
    grant = create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                         scope=scope, hours=hours, **GOOD)
    principal = support_session(runtime, db)
    return grant, principal, ConsoleApp(runtime, host="testhost", principal=principal,
                                        exit_on_session_end=True)


async def test_revoke_ends_the_engineers_tui_whatever_is_open(runtime, db, admin) -> None:
    grant, principal, app = engineer_app(runtime, db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, app, "DashboardScreen")
        text = screen_text(app)
        assert f"SUPPORT ACCESS #{grant.id} · logs.read · PII masked · until" in text
        assert "3:59:" in text  # the live countdown
        await pilot.press("5")
        await wait_for_screen(pilot, app, "SupportScreen")
        await pilot.press("g", "e")  # an open form does not keep the session alive
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "AccessForm"
        revoke_grant(db, admin, grant.id, reason="issue fixed")
        reason = await wait_for_end(pilot, app)
    assert reason == (f"support access ended: grant #{grant.id} was revoked by admin "
                      "(issue fixed)")
    db.rollback()
    login = db.get(LoginSession, principal.session_id)
    db.refresh(login)
    assert login.ended_at is not None and "revoked" in login.end_reason
    screens = db.exec(select(AuditEvent.target).where(AuditEvent.action == "ui.screen")
                      .where(AuditEvent.session_id == principal.session_id)).all()
    assert set(screens) == {"screen:dashboard", "screen:support"}


async def test_expiry_ends_the_engineers_tui(runtime, db, admin, clock) -> None:
    grant, _, app = engineer_app(runtime, db, admin, hours=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, app, "DashboardScreen")
        clock.set(grant.ends_at)
        reason = await wait_for_end(pilot, app)
    assert reason.startswith(f"support access ended: grant #{grant.id} expired at")


async def test_engineer_outside_a_session_can_only_request_and_sees_masked(runtime,
                                                                          db) -> None:
    add_engineer(runtime, db)
    jane = log_in(runtime, db, "fp-jane")
    request_access(db, jane, settings=runtime.settings.support, scope="logs.read",
                   reason="mail to anna.berg@example.com bounced", ticket="FP-7")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await tui_log_in(pilot, app, "fp-jane", ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "TotpPromptScreen")
        app.screen.query_one("#code").value = totp_now()
        await pilot.press("enter")
        await wait_for_screen(pilot, app, "SupportScreen")
        text = screen_text(app)
        assert "No support access in this session" in text
        rows = table_rows(app, "#requests")
        assert rows[0][1] == "fp-jane" and "anna.berg@" not in rows[0][-1]
        assert "@example.com" in rows[0][-1]
        await pilot.press("4")  # Logs needs logs.read: not available
        await settle(pilot, app)
        assert type(app.screen).__name__ == "SupportScreen"


async def test_admin_approves_with_a_shorter_window(runtime, db) -> None:
    add_engineer(runtime, db)
    jane = log_in(runtime, db, "fp-jane")
    request = request_access(db, jane, settings=runtime.settings.support,
                             scope="logs.read,jobs.read",
                             reason="mail to anna.berg@example.com bounced", ticket="FP-7")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await tui_log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("5")
        await wait_for_screen(pilot, app, "SupportScreen")
        rows = table_rows(app, "#requests")
        assert rows[0][:4] == [str(request.id), "fp-jane", "jobs.read,logs.read", "4 h"]
        assert "anna.berg@example.com" in rows[0][-1]  # staff with pii.read see it
        await pilot.press("s")
        await wait_until(pilot, app, lambda: bool(app.screen.query("#hours")), "the approve form")
        form = app.screen
        hours = form.query_one("#hours")
        submit = form.query_one("#submit")
        hours.value = "5"
        await wait_until(pilot, app, lambda: "at most the 4 h asked for" in screen_text(app),
                         "the too-long window refused")
        assert submit.disabled
        hours.value = "1.5"
        await wait_until(pilot, app, lambda: not submit.disabled, "submit enabled")
        form.query_one("#scope").deselect("jobs.read")
        await pilot.pause(0.1)
        submit.press()
        await wait_for_screen(pilot, app, "ConfirmScreen")
        assert "fp-jane gets logs.read for 1.5 h" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert table_rows(app, "#requests") == []
        await pilot.press("g")
        await settle(pilot, app)
        active = table_rows(app, "#active")
        assert active[0][1:3] == ["fp-jane", "logs.read"] and active[0][4].startswith("1:29:")
    db.rollback()
    grant = db.exec(select(SupportGrant)).one()
    assert (grant.minutes, grant.requested_minutes, grant.scope) == (90, 240, "logs.read")


async def test_dashboard_and_live_monitor(runtime, db, admin) -> None:
    grant, engineer, _ = engineer_app(runtime, db, admin)
    note_screen(db, engineer, "screen:logs")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await tui_log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        access = table_rows(app, "#support-access")
        assert access[0][0] == "fp-jane" and access[0][4] == f"#{grant.id}"
        await pilot.press("5")
        await wait_for_screen(pilot, app, "SupportScreen")
        await pilot.press("m")
        await wait_for_screen(pilot, app, "SupportMonitorScreen")
        await settle(pilot, app)
        text = screen_text(app)
        assert "fp-jane: opened the logs screen" in text
        assert table_rows(app, "#live-sessions")[0][:2] == ["fp-jane", f"#{grant.id}"]
        note_screen(db, engineer, "screen:jobs")
        for _ in range(60):  # the feed follows live
            await pilot.pause(0.05)
            if "opened the jobs screen" in screen_text(app):
                break
        assert "fp-jane: opened the jobs screen" in screen_text(app)
        await pilot.press("r")
        await pilot.pause(0.2)
        app.screen.query_one("#reason").value = "enough for today"
        await pilot.pause(0.1)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("enter")
        await settle(pilot, app)
    db.rollback()
    db.refresh(grant)
    assert grant.end_reason == "revoked" and grant.end_note == "enough for today"


async def test_staff_without_support_permissions_are_told_why(runtime, db) -> None:
    from tests.supporthelp import add_user

    add_user(runtime, db, "oscar", roles=("operator",))
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await tui_log_in(pilot, app, "oscar", ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        assert "FlowPro support access now" not in screen_text(app)
        await pilot.press("5")
        await wait_for_screen(pilot, app, "SupportScreen")
        assert "oscar lacks the permission support.approve" in screen_text(app)
        assert table_rows(app, "#requests") == []
