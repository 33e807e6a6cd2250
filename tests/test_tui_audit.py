"""The audit screen: browse, filter, open, verify."""

from __future__ import annotations

from sqlalchemy import text

from console.app import ConsoleApp
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.tuihelp import log_in, screen_text, settle, table_rows, wait_for_screen


async def test_browse_filter_open_and_verify(runtime, db) -> None:
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("0")
        await wait_for_screen(pilot, app, "AuditScreen")
        rows = table_rows(app, "#audit-events")
        assert rows[0][3] == "auth.login"  # newest first
        assert {"console.init", "users.add"} <= {r[3] for r in rows}

        app.screen.query_one("#f-action").value = "users."
        app.screen.query_one("#f-action").focus()
        await pilot.press("enter")
        await settle(pilot, app)
        assert {r[3] for r in table_rows(app, "#audit-events")} == {"users.add"}

        await pilot.press("enter")  # open the highlighted event
        await settle(pilot, app)
        assert "details" in screen_text(app) and "previous" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot, app)

        await pilot.press("v")
        await settle(pilot, app, rounds=5)
        assert "OK:" in str(app.screen.query_one("#audit-status").render())

        db.exec(text("UPDATE audit_events SET target = 'user:mallory' WHERE action = "
                     "'users.add'"))
        db.commit()
        await pilot.press("v")
        await settle(pilot, app, rounds=5)
        assert "FAILED" in str(app.screen.query_one("#audit-status").render())


async def test_auditor_without_users_read_sees_no_users_area(runtime, db, root) -> None:
    from console.users import create_user

    create_user(db, root, "aud", security=runtime.settings.security,
                password="Glacier-Pebble-Violin-58", roles=("auditor",))
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, "aud", "Glacier-Pebble-Violin-58")
        await wait_for_screen(pilot, app, "DashboardScreen")
        nav = screen_text(app).splitlines()[1]
        assert "Audit" in nav and "Users" not in nav
        await pilot.press("2")
        await settle(pilot, app)
        assert type(app.screen).__name__ == "DashboardScreen"
