"""The hostile-strings corpus (tests/hostile.py: the Big List of Naughty Strings plus
terminal escapes, OSC 52, BIDI overrides, markup, NUL, SQL and FTS syntax, a 10 MB line)
through log ingest, search and export, user names and display names, and grant reasons:
stored losslessly, exported exactly, shown literally, and never an error or an injection
in a filter. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlmodel import select

from console.errors import ConsoleError, ValidationError
from console.logs.export import export, iter_entries
from console.logs.ingest import ingest
from console.logs.query import LogFilter
from console.logs.text import checker, parse_text
from tests.clihelp import run_cli, write_config
from tests.hostile import MARKUP, SQLISH, TERMINAL, big_line, blns, corpus, sample

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def jsonl_file(path: Path, messages: list[str]) -> Path:
    with open(path, "wb") as fh:
        for i, message in enumerate(messages):
            fh.write(orjson.dumps({"ts": f"2026-11-20T08:{i // 60 % 60:02d}:{i % 60:02d}Z",
                                   "host": "srv01", "message": message}) + b"\n")
    stamp = T0.timestamp() + 86400
    os.utime(path, (stamp, stamp))
    return path


def test_hostile_log_lines_are_stored_exported_and_searched_exactly(runtime, db, root,
                                                                    tmp_path, backend) -> None:
    strings = corpus()
    report = ingest(db, root, [jsonl_file(tmp_path / "h.jsonl", strings)], zone_name="UTC",
                    final=True)
    assert report.entries == len(strings)
    stored = [e.message for e in iter_entries(db, root, LogFilter())]
    assert stored == strings  # lossless, in order (NUL included)

    out = io.StringIO()
    assert export(db, root, LogFilter(), out, fmt="jsonl") == len(strings)
    assert [orjson.loads(line)["message"] for line in out.getvalue().split("\n")[:-1]] == strings
    out = io.StringIO(newline="")
    export(db, root, LogFilter(), out, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [r["message"] for r in rows] == strings

    # The export bundle (the export job, unencrypted directory): JSON Lines and CSV exact.
    from console.export.purposes import Purpose
    from console.export.service import ExportSpec, export_now
    from console.export.verify import verify_bundle

    bundle = export_now(runtime, db, root, ExportSpec(
        kind="logs", no_encrypt=True, purpose=Purpose.HANDOVER, packaging="directory"))
    folder = Path(bundle.path)
    assert verify_bundle(folder, keys=runtime.keys).ok
    data = (folder / "data" / "processing_logs.jsonl").read_text(encoding="utf-8")
    assert [orjson.loads(line)["message"] for line in data.split("\n")[:-1]] == strings
    with open(folder / "data" / "processing_logs.csv", newline="", encoding="utf-8") as fh:
        assert [r["message"] for r in csv.DictReader(fh)] == strings

    # Every hostile string as a search and as a literal regex: no error, no injection, and
    # the regex finds the entry holding it.
    by_id = {e.id: e.message for e in iter_entries(db, root, LogFilter())}
    queries = [*SQLISH, *TERMINAL, *MARKUP, *blns()[::7]]
    for query in queries:
        try:
            hits = [e.id for e in iter_entries(db, root, LogFilter(text=query))]
        except ValidationError as exc:
            assert exc.field == "text"  # e.g. only exclusions: -x
            continue
        terms = parse_text(query)
        if query.isascii():  # the index and the reference agree on what an ASCII word
            # is (the index also folds accents, so non-ASCII messages are left out)
            check = checker(terms)
            expected = [i for i, m in by_id.items()
                        if m.isascii() and (check is None or check.search(m))]
            assert sorted(i for i in hits if by_id[i].isascii()) == sorted(expected), query
        if query and query.strip():
            found = [by_id[e.id] for e in iter_entries(
                db, root, LogFilter(regex=re.escape(query)))]
            assert query in found and all(query in m for m in found), query
    assert db.exec(select(1).select_from(__import__("models.identity", fromlist=["User"]).User)
                   ).first() is not None  # `'; DROP TABLE users` dropped nothing


def test_sql_and_wildcards_in_every_log_filter_field(db, root, tmp_path, backend) -> None:
    messages = ["100% done", "a_b c", "O'Brien logged in", "drop table users now",
                "plain line", "NEAR the end", "x OR y", "star*dust"]
    ingest(db, root, [jsonl_file(tmp_path / "s.jsonl", messages)], zone_name="UTC",
           final=True)
    everything = [e.message for e in iter_entries(db, root, LogFilter())]
    assert everything == messages
    for value in SQLISH:
        assert list(iter_entries(db, root, LogFilter(sources=frozenset({value})))) == []
        assert list(iter_entries(db, root, LogFilter(hosts=frozenset({value})))) == []
    expect = {"100%": ["100% done"], "O'Brien": ["O'Brien logged in"],
              "'; DROP TABLE users; --": ["drop table users now"], "a_b": ["a_b c"],
              "NEAR(": ["NEAR the end"], "x OR y": ["x OR y"], "star*": ["star*dust"],
              '"plain line"': ["plain line"], "-plain line": [], "%": messages,
              "_": messages, "*": messages}
    for query, wanted in expect.items():
        got = [e.message for e in iter_entries(db, root, LogFilter(text=query))]
        assert got == wanted, query


def test_a_ten_megabyte_line(db, root, tmp_path, backend) -> None:
    line = big_line()
    log = tmp_path / "big.log"
    with open(log, "w", encoding="utf-8") as fh:
        fh.write("Nov 20 08:00:00 srv01 app[1]: before\n")
        fh.write(f"Nov 20 08:00:01 srv01 app[1]: {line}\n")
        fh.write("Nov 20 08:00:02 srv01 app[1]: after\n")
    os.utime(log, (T0.timestamp() + 86400,) * 2)
    assert ingest(db, root, [log], zone_name="UTC", final=True).entries == 3
    messages = [e.message for e in iter_entries(db, root, LogFilter())]
    assert messages == ["before", line, "after"]
    assert [e.message for e in iter_entries(db, root, LogFilter(text="after"))] == ["after"]
    out = io.StringIO()
    export(db, root, LogFilter(), out, fmt="jsonl")
    assert orjson.loads(out.getvalue().split("\n")[1])["message"] == line


def test_hostile_user_fields_and_grant_reasons(runtime, db, admin, backend) -> None:
    from console import support, users
    from models.identity import User
    from models.support import SupportGrant
    from tests.supporthelp import add_engineer

    add_engineer(runtime, db, "fp-jane")
    sec, support_settings = runtime.settings.security, runtime.settings.support
    stored = rejected = 0
    strings = sample(10)
    for i, value in enumerate(strings):
        name = f"hostile{i}"
        try:
            users.create_user(db, admin, name, security=sec, password=None,
                              display_name=value, email="")
        except ValidationError as exc:
            assert exc.field == "display name" and "\n" not in str(exc)
            rejected += 1
        else:
            db.expire_all()
            assert db.exec(select(User.display_name).where(User.username == name)
                           ).one() == value
            stored += 1
        try:  # the same string as a user name: refused by the name rule, never stored
            users.create_user(db, admin, value, security=sec, password=None)
        except ValidationError as exc:
            assert exc.field == "username"
        except ConsoleError:
            pass  # e.g. a name that exists already
        else:
            assert re.fullmatch(r"[a-z][a-z0-9._-]{1,63}", value)
        try:
            grant = support.create_grant(db, admin, settings=support_settings,
                                         engineer="fp-jane", scope="logs.read", reason=value,
                                         ticket=f"FP-{i}")
        except ValidationError as exc:
            assert exc.field == "reason"
            continue
        db.expire_all()
        assert db.get(SupportGrant, grant.id).reason == value.strip()
        support.revoke_grant(db, admin, grant.id, reason="done")
    assert stored > len(strings) // 2 and rejected > 10  # controls are refused


def test_sql_and_wildcards_in_the_cli_filters(installation, tmp_path) -> None:
    cfg = write_config(installation, tmp_path / "config.toml")
    before = run_cli("users", "list", "--json", config=cfg)
    assert before.code == 0
    values = SQLISH if os.environ.get("FLOWPRO_HOSTILE_FULL") == "1" else [
        "%", "_", "'", "'; DROP TABLE users; --", "*", "NEAR(", '"', "-", "OR", "a:*", "\\",
        "x' UNION SELECT password_hash FROM users --"]
    for value in values:
        for args in (["users", "list", "--filter", value], ["audit", "list", "--actor", value],
                     ["audit", "list", "--action", value], ["audit", "list", "--target", value],
                     ["jobs", "list", "--kind", value], ["support", "list", "--engineer", value],
                     ["logs", "search", "--text", value], ["logs", "search", "--source", value],
                     ["logs", "search", "--host", value], ["logs", "search", "--regex", value]):
            result = run_cli(*args, config=cfg)
            assert "Traceback" not in result.err, (args, result.err)
            assert result.code == 0 or (result.code == 2 and result.err.count("\n") == 1), \
                (args, result.err)
    # '%' and '_' are literal: they match nothing here, not everything.
    assert "admin" not in run_cli("users", "list", "--filter", "%", config=cfg).out
    assert "admin" not in run_cli("users", "list", "--filter", "_", config=cfg).out
    assert run_cli("users", "list", "--json", config=cfg).out == before.out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_hostile_text_is_shown_literally_in_the_console(runtime, db, root, admin,
                                                               tmp_path) -> None:
    from console import users
    from console.app import ConsoleApp
    from tests.conftest import ADMIN, ADMIN_PASSWORD
    from tests.tuihelp import log_in, screen_text, settle, wait_for_screen

    shown = ["[bold]not bold[/bold]", "\x1b]52;c;ZWNobyBvd25lZA==\x07 clip",
             "\u202eevil.exe", "[@click=app.quit]quit[/]", "a\x00b nul"]
    ingest(db, root, [jsonl_file(tmp_path / "t.jsonl", shown)], zone_name="UTC", final=True)
    users.create_user(db, admin, "markup", security=runtime.settings.security, password=None,
                      display_name="[red]Mallory[/red] $accent")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("4")
        await wait_for_screen(pilot, app, "LogsScreen")
        for _ in range(400):
            await app.workers.wait_for_complete()
            await pilot.pause(0.1)
            if "nul" in screen_text(app) and "clip" in screen_text(app):
                break
        text = screen_text(app)
        assert "[bold]not bold[/bold]" in text and "[@click=app.quit]quit[/]" in text
        assert "\\x1b]52;c;ZWNobyBvd25lZA==\\x07 clip" in text
        assert "\\u202eevil.exe" in text and "a\\x00b nul" in text
        assert not any(c in text for c in "\x1b\x00\x07\u202e")
        await pilot.press("escape")
        await settle(pilot, app)
        await pilot.press("2")
        await wait_for_screen(pilot, app, "UsersScreen")
        for _ in range(200):
            await app.workers.wait_for_complete()
            await pilot.pause(0.1)
            if "markup" in screen_text(app):
                break
        await pilot.press("down")  # the detail pane shows the selected account's name
        for _ in range(200):
            await app.workers.wait_for_complete()
            await pilot.pause(0.1)
            if "Mallory" in screen_text(app):
                break
        assert "[red]Mallory[/red] $accent" in screen_text(app), screen_text(app)
        assert app.is_running  # the [@click=app.quit] text did not quit anything


def test_json_lines_on_standard_output_carry_no_raw_terminal_controls(installation,
                                                                      tmp_path) -> None:
    """orjson leaves C1 controls and BIDI overrides raw; the CLI escapes them (same JSON)."""
    message = "evil \u202e reversed \u009b31m csi \x1b[31m red \U0001f600 \u2028 end"
    log = tmp_path / "h.log"
    log.write_text(f"Nov 20 10:00:00 srv1 app[1]: {message}\n", encoding="utf-8")
    cfg = write_config(installation, tmp_path / "config.toml")
    assert run_cli("logs", "ingest", str(log), "--source", "hostile", config=cfg).code == 0
    result = run_cli("logs", "search", "--source", "hostile", "--format", "jsonl", config=cfg)
    assert result.code == 0, result.err
    line = result.out.strip()
    assert line.isprintable() and "\U0001f600" in line  # printable text stays as it is
    assert json.loads(line)["message"] == message
