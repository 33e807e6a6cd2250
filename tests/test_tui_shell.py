"""The TUI shell through Pilot: log in, see the real counts, move around, log out."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from console import clock
from console.app import ConsoleApp
from models.audit import AuditEvent
from models.business import Employee
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.tuihelp import log_in, screen_text, settle, table_rows, wait_for_screen


async def test_login_shows_dashboard_with_real_counts(runtime, db) -> None:
    with db.begin():
        for i in range(3):
            db.add(Employee(employee_no=f"E{i}", first_name="A", hired_on=date(2020, 1, 1),
                            updated_at=clock.now()))
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        rows = {r[0]: r for r in table_rows(app, "#categories")}
        assert rows["Employees"][2] == "3"
        assert rows["Audit trail"][2] != "0"
        assert any(r[2] == "auth.login" for r in table_rows(app, "#events"))
        assert any(r[0] == ADMIN for r in table_rows(app, "#sessions"))
        text = screen_text(app)
        assert "admin (admin)" in text and "Data under governance" in text
        await pilot.press("ctrl+l")
        await wait_for_screen(pilot, app, "LoginScreen")
    db.rollback()
    actions = [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
    assert actions[-2:] == ["auth.login", "auth.logout"]


async def test_wrong_password_stays_on_login_with_generic_message(runtime) -> None:
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, "not-the-password")
        await settle(pilot, app)
        assert type(app.screen).__name__ == "LoginScreen"
        assert "wrong username or password" in screen_text(app)
        assert app.screen.query_one("#password").value == ""


async def test_banner_is_shown_literally(installation) -> None:
    from console.runtime import open_runtime

    settings = installation.model_copy(update={"ui": installation.ui.model_copy(
        update={"login_banner": "[bold red]Authorized use only[/] \x1b[31m"})})
    runtime = open_runtime(settings)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)):
        text = screen_text(app)
        assert "[bold red]Authorized use only[/] \\x1b[31m" in text
    runtime.close()


async def test_bindings_are_remappable_from_config(installation) -> None:
    from console.config import parse_settings
    from console.runtime import open_runtime

    doc = installation.model_dump(exclude={"source", "base_dir"})
    doc["keys"] = {"nav.audit": "f9"}
    runtime = open_runtime(parse_settings(doc, env={}))
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        assert "f9 Audit" in screen_text(app).replace("F9", "f9")
        await pilot.press("f9")
        await wait_for_screen(pilot, app, "AuditScreen")
    runtime.close()


async def test_command_palette_opens_areas(runtime) -> None:
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("colon")
        await pilot.pause(0.2)
        await pilot.press(*"go to audit")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, "AuditScreen")
