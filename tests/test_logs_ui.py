"""The log browser through Pilot at 80x24, and the logs CLI through the entry point."""

from __future__ import annotations

import json
import os
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from console.app import ConsoleApp
from console.logs.ingest import ingest
from models.exports import Export
from tests.clihelp import run_cli, write_config
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.tuihelp import log_in, screen_text, settle, wait_for_screen

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
HOSTILE = "[bold]not bold[/bold] \x1b[31mred\x1b[0m"


def lines(start: datetime, n: int, tag: str = "job") -> str:
    out = []
    for i in range(n):
        t = start + timedelta(seconds=i * 30)
        msg = "error: payment gateway refused" if i % 5 == 0 else f"{tag} {i} done"
        out.append(f"{t:%b} {t.day:2d} {t:%H:%M:%S} srv01 app[1]: {msg}")
    return "\n".join(out) + "\n"


async def until(pilot, app, predicate, timeout: float = 40) -> None:
    """Wait (without a timing assertion) until the screen shows what `predicate` wants."""
    for _ in range(int(timeout / 0.1)):
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        if predicate(screen_text(app)):
            return
    raise AssertionError(f"timed out; the screen shows:\n{screen_text(app)}")


def seed(db, root, path: Path) -> Path:
    path.write_text(lines(T0, 60) + f"{T0:%b} {T0.day:2d} 09:00:00 srv01 app[1]: {HOSTILE}\n")
    os.utime(path, (T0.timestamp() + 7200, T0.timestamp() + 7200))
    ingest(db, root, [path], zone_name="UTC", final=True)
    return path


async def test_browser_filter_search_follow_and_escapes(runtime, db, root, tmp_path) -> None:
    log = seed(db, root, tmp_path / "app.log")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("4")
        await wait_for_screen(pilot, app, "LogsScreen")
        await until(pilot, app, lambda t: "61 entries" in t and "not bold" in t)
        text = screen_text(app)
        assert "[bold]not bold[/bold] \\x1b[31mred" in text  # literal, not interpreted
        screen = app.screen
        # a level filter (as the picker applies it)
        from dataclasses import replace

        screen.apply_filter(replace(screen.flt, levels=frozenset({3})))
        await until(pilot, app, lambda t: "12 entries" in t and "job 7 done" not in t
                    and "payment gateway refused" in t)
        text = screen_text(app)
        assert "level error" in text and "job 7 done" not in text
        assert "payment gateway refused" in text and "12 entries" in text
        # search: / then n
        await pilot.press("c")
        await until(pilot, app, lambda t: "61 entries" in t and "no filters" in t
                    and "not bold" in t)
        await pilot.press("slash")
        await until(pilot, app, lambda t: "Search" in t)
        app.screen.query_one("#ask").value = "job 11"
        await pilot.press("enter")
        await until(pilot, app, lambda t: "search job 11" in t)
        for _ in range(400):
            current = screen.view.current
            if current is not None and current.message == "job 11 done":
                break
            await pilot.pause(0.1)
        assert current is not None and current.message == "job 11 done"
        await pilot.press("G")
        await settle(pilot, app, 4)
        # follow mode sees a line appended during the test
        await pilot.press("f")
        await until(pilot, app, lambda t: "FOLLOWING" in t)
        with open(log, "a") as fh:
            fh.write(f"{T0:%b} {T0.day:2d} 09:05:00 srv01 app[1]: freshly appended line\n")
        ingest(db, root, [log], zone_name="UTC", final=True)
        await until(pilot, app, lambda t: "freshly appended line" in t)
        # the full entry
        await pilot.press("enter")
        await wait_for_screen(pilot, app, "DetailScreen")
        raw = str(app.screen.query_one("#detail-raw").render())
        assert raw.endswith("srv01 app[1]: freshly appended line")
        assert '"host": "srv01"' in str(app.screen.query_one("#detail-fields").render())
        await pilot.press("escape")
        # export the current view to a file here
        await wait_for_screen(pilot, app, "LogsScreen")
        await pilot.press("E")
        await wait_for_screen(pilot, app, "AskScreen")
        target = tmp_path / "view.csv"
        app.screen.query_one("#ask").value = str(target)
        await pilot.press("enter")
        for _ in range(400):
            await app.workers.wait_for_complete()
            await pilot.pause(0.1)
            if target.exists() and len(target.read_text().splitlines()) == 63:
                break
        assert len(target.read_text().splitlines()) == 63  # header + 62 entries
        # ... and as a bundle in the disclosure register, with the view's filter
        screen.apply_filter(replace(screen.flt, levels=frozenset({3})))
        await until(pilot, app, lambda t: "level error" in t)
        await pilot.press("e")
        await wait_for_screen(pilot, app, "ExportFormScreen")
        form = app.screen
        assert "levels error" in str(form.query_one("#view-filter").render())
        assert not form.query_one("#row-text").display  # the view, not the form's words
        form.query_one("#protection").value = "none"
        form.query_one("#to").value = "the payroll vendor"
        await pilot.pause()
        await pilot.click("#start")
        await wait_for_screen(pilot, app, "LogsScreen")
        # the form's styles must not reach the browser (a "#view" rule once did: one row)
        assert screen.view.size.height >= 15
        db.rollback()
        for _ in range(300):
            await pilot.pause(0.1)
            bundle = db.exec(select(Export)).first()
            db.rollback()
            if bundle is not None and bundle.state == "done":
                break
        assert bundle is not None and bundle.state == "done", bundle
        assert bundle.kind == "logs" and bundle.disclosed_to == "the payroll vendor"
        assert json.loads(bundle.filters).get("levels") == [3], bundle.filters
        with tarfile.open(bundle.path) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("logs.jsonl"))
            rows = tar.extractfile(member).read().decode().splitlines()  # type: ignore[union-attr]
        assert len(rows) == 12 and all(json.loads(r)["level"] == "error" for r in rows)


def test_cli_ingest_search_tail_export(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "c.toml", extra='[logs]\ntimezone = "UTC"\n')
    log = tmp_path / "app.log"
    log.write_text(lines(T0, 20) + "not a log line at all\n")
    os.utime(log, (T0.timestamp() + 7200, T0.timestamp() + 7200))
    result = run_cli("logs", "ingest", str(log), config=cfg)
    assert result.code == 0, result.err
    assert "21 lines, 21 entries (1 unparsed)" in result.out and "lines/s" in result.out
    found = run_cli("logs", "search", "--level", "error", "--format", "csv", config=cfg)
    assert found.code == 0 and found.out.count("payment gateway refused") == 4
    tail = run_cli("logs", "tail", "-n", "2", config=cfg)
    assert tail.code == 0 and "not a log line" in tail.out and len(tail.out.splitlines()) == 2
    out = tmp_path / "x.jsonl"
    exported = run_cli("logs", "export", "--text", "gateway", "-o", str(out), config=cfg)
    assert exported.code == 0 and len(out.read_text().splitlines()) == 4
    bad = run_cli("logs", "search", "--since", "someday", config=cfg)
    assert bad.code == 2 and "not a time" in bad.err and "Traceback" not in bad.err
    months = run_cli("logs", "months", config=cfg)
    assert "2026-11" in months.out


def test_cli_ingest_follow_reads_appended_lines_until_interrupted(installation,
                                                                  tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.clihelp import entry_point

    cfg = write_config(installation, tmp_path / "c.toml",
                       extra='[logs]\ntimezone = "UTC"\nfollow_poll_seconds = 0.2\n')
    log = tmp_path / "live.log"
    log.write_text(lines(T0, 3))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPRO_", "SSH_"))}
    proc = subprocess.Popen([*entry_point(), "--config", str(cfg), "logs", "ingest", "--follow",
                             str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert "3 entries" in (proc.stdout.readline() + proc.stdout.readline())
        with open(log, "a") as fh:
            fh.write(f"{T0:%b} {T0.day:2d} 09:30:00 srv01 app[1]: appended while following\n")
        for _ in range(150):  # a bounded wait, no timing assertion
            found = run_cli("logs", "search", "--text", "appended following", config=cfg)
            if "appended while following" in found.out:
                break
            time.sleep(0.2)
        assert "appended while following" in found.out
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in err and "Traceback" not in err
    listed = run_cli("audit", "list", "--action", "logs.ingest", "--json", config=cfg)
    assert '"lines": 1' in listed.out  # the followed line has its audit event too


async def test_browser_masks_personal_data_for_an_auditor(runtime, db, root, tmp_path) -> None:
    from console.users import create_user

    create_user(db, root, "audrey", security=runtime.settings.security,
                password=ADMIN_PASSWORD, roles=("auditor",))
    log = tmp_path / "p.log"
    log.write_text(f"{T0:%b} {T0.day:2d} 08:00:00 srv01 app[1]: payslip for "
                   "jane.doe@example.com, call +1-555-123-4567\n")
    os.utime(log, (T0.timestamp() + 7200, T0.timestamp() + 7200))
    ingest(db, root, [log], zone_name="UTC", final=True)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, "audrey", ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("4")
        await wait_for_screen(pilot, app, "LogsScreen")
        await until(pilot, app, lambda t: "payslip for" in t)
        text = screen_text(app)
        assert "personal data masked" in text
        assert "jane.doe" not in text and "j•••@example.com" in text
        await pilot.press("enter")
        await wait_for_screen(pilot, app, "DetailScreen")
        raw = str(app.screen.query_one("#detail-raw").render())
        assert "jane.doe" not in raw and "555-123-4567" not in raw


async def test_browser_opens_on_the_newest_of_many(runtime, db, root, tmp_path) -> None:
    log = tmp_path / "many.log"
    log.write_text(lines(T0, 700))  # more than a page: the count arrives after the rows
    os.utime(log, (T0.timestamp() + 86400, T0.timestamp() + 86400))
    ingest(db, root, [log], zone_name="UTC", final=True)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("4")
        await wait_for_screen(pilot, app, "LogsScreen")
        await until(pilot, app, lambda t: "job 699 done" in t and "row 700" in t)
        await pilot.press("g")
        await until(pilot, app, lambda t: "payment gateway refused" in t and "row 1 " in t + " ")
        assert "job 1 done" in screen_text(app)
