"""The Exports and Requests areas and the dashboard's requests, through Pilot at 80x24
(SQLite: the services under them run on both backends in their own tests)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from console import clock
from console.app import ConsoleApp
from console.catalog import SubjectKind
from console.requests.register import add_request
from models.business import Employee
from models.exports import Export
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.exporthelp import seed
from tests.tuihelp import log_in, screen_text, table_rows, wait_for_screen

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def wait_for(pilot, app, predicate, what: str, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"{what} never showed; screen was:\n{screen_text(app)}")


async def open_area(pilot, app, key: str, screen: str) -> None:
    await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
    await wait_for_screen(pilot, app, "DashboardScreen")
    await pilot.press(key)
    await wait_for_screen(pilot, app, screen)


async def test_export_form_writes_a_bundle_that_shows_in_the_register(runtime, db) -> None:
    seed(runtime)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_area(pilot, app, "8", "ExportsScreen")
        assert "Bundles are signed by key " + runtime.keys.key_id in screen_text(app)
        await pilot.press("n")
        await wait_for_screen(pilot, app, "ExportFormScreen")
        form = app.screen
        form.query_one("#subject").value = "employee:2"
        form.query_one("#protection").value = "none"
        await pilot.pause()
        assert not form.query_one("#row-recipients").display
        form.query_one("#to").value = "Omar (by post)"
        await pilot.click("#start")
        await wait_for_screen(pilot, app, "ExportsScreen")
        await wait_for(pilot, app, lambda: any(
            r[-1] == "done" for r in table_rows(app, "#register")), "the finished export")
        row = table_rows(app, "#register")[0]
        assert row[2] == "subject" and row[4] == "Omar (by post)" and row[6] == "NONE"
        export = db.exec(select(Export)).one()
        assert Path(export.path).exists() and export.protection == "none"
        assert Path(export.path).name in screen_text(app)
        # A bad person is reported in the form, which stays open.
        await pilot.press("n")
        await wait_for_screen(pilot, app, "ExportFormScreen")
        app.screen.query_one("#subject").value = "employee:999"
        app.screen.query_one("#protection").value = "none"
        await pilot.pause()
        await pilot.click("#start")
        await wait_for(pilot, app, lambda: "no employee with id 999" in screen_text(app),
                       "the error in the form")
        assert type(app.screen).__name__ == "ExportFormScreen"


async def test_requests_area_registers_fulfils_and_the_dashboard_warns(runtime, db, root
                                                                       ) -> None:
    seed(runtime)
    add_request(db, root, "erasure", (SubjectKind.CUSTOMER, 3),
                settings=runtime.settings.requests,
                received_on=clock.now().date() - timedelta(days=40))
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await wait_for(pilot, app, lambda: "OVERDUE 10d" in screen_text(app),
                       "the overdue request on the dashboard")
        assert "Data-subject requests due" in screen_text(app)
        await pilot.press("9")
        await wait_for_screen(pilot, app, "RequestsScreen")
        assert "1 pending · 1 overdue" in screen_text(app)
        await pilot.press("a")
        await wait_for_screen(pilot, app, "AddRequestScreen")
        app.screen.query_one("#kind").value = "rectification"
        app.screen.query_one("#subject").value = "employee:2"
        await pilot.pause()
        await pilot.click("#go")
        await wait_for_screen(pilot, app, "RequestsScreen")
        await wait_for(pilot, app, lambda: len(table_rows(app, "#requests-table")) == 2,
                       "the new request")
        await wait_for(pilot, app, lambda: "#2 rectification for employee 2" in
                       screen_text(app), "the new request selected")
        await pilot.press("f")
        await wait_for_screen(pilot, app, "FulfilScreen")
        assert "first_name" in screen_text(app)
        app.screen.query_one("#changes").value = "email=omar.new@example.com; phone="
        await pilot.click("#go")
        await wait_for_screen(pilot, app, "RequestsScreen")
        await wait_for(pilot, app, lambda: any(
            r[0] == "2" and r[-1] == "fulfilled" for r in table_rows(app, "#requests-table")),
            "the fulfilled request")
        row = db.get(Employee, 2, populate_existing=True)
        assert row.email == "omar.new@example.com" and row.phone is None
        await pilot.press("d")
        await wait_for_screen(pilot, app, "TextReportScreen")
        assert "email:" in screen_text(app) and "omar.new@example.com" in screen_text(app)


async def test_exports_area_verifies_the_selected_bundle_and_discards_an_unfinished_one(
        runtime, db, root, tmp_path: Path) -> None:
    from console.export.service import ExportSpec, create_export, export_now
    from tests.exporthelp import keypair

    seed(runtime)
    identity, recipient = keypair(tmp_path)
    done = export_now(runtime, db, root, ExportSpec(
        kind="subject", subject=(SubjectKind.EMPLOYEE, 2), recipients=(recipient,)))
    unfinished = create_export(db, root, ExportSpec(kind="handover", no_encrypt=True),
                               settings=runtime.settings, keys=runtime.keys).export
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_area(pilot, app, "8", "ExportsScreen")
        await wait_for(pilot, app, lambda: len(table_rows(app, "#register")) == 2,
                       "both exports")
        table = app.screen.query_one("#register")

        async def verify() -> str:
            ids = [r[0] for r in table_rows(app, "#register")]
            table.move_cursor(row=ids.index(str(done.id)))
            await pilot.pause()
            await pilot.press("v")
            await wait_for_screen(pilot, app, "OpenBundleScreen")
            app.screen.query_one("#identity").value = str(identity)
            await pilot.click("#go")
            await wait_for_screen(pilot, app, "TextReportScreen")
            text = screen_text(app)
            await pilot.press("escape")
            await wait_for_screen(pilot, app, "ExportsScreen")
            return text

        good = await verify()
        assert f"Export #{done.id}: verified" in good and ": OK" in good
        data = bytearray(Path(done.path).read_bytes())
        data[len(data) // 2] ^= 1
        Path(done.path).write_bytes(bytes(data))
        bad = await verify()
        assert f"Export #{done.id}: FAILED" in bad and "altered" in bad
        ids = [r[0] for r in table_rows(app, "#register")]
        table.move_cursor(row=ids.index(str(unfinished.id)))
        await pilot.pause()
        await pilot.press("x")
        await wait_for_screen(pilot, app, "ConfirmScreen")
        await pilot.click("#confirm")
        await wait_for_screen(pilot, app, "ExportsScreen")
        await wait_for(pilot, app, lambda: any(
            r[0] == str(unfinished.id) and r[-1] == "discarded"
            for r in table_rows(app, "#register")), "the discarded export")
        db.rollback()  # end the test session's read snapshot
        assert db.get(Export, unfinished.id, populate_existing=True).state == "discarded"
