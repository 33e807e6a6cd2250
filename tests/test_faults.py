"""Faults under the console: a full disk, a read-only data directory, and a database that
is newer, older or foreign. Each gives a clear one-line error naming the fix, nothing is
corrupted (integrity check, audit chain), and the console works again once the fault is
gone."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.clihelp import run_cli, write_config
from tests.conftest import _pg_exec, drop_pg, make_settings, pg_url, require_pg
from tests.faulthelp import fill, read_only, small_tmpfs

pytestmark = pytest.mark.integration


def syslog(n: int) -> str:
    return "".join(f"Nov 20 08:{i // 60 % 60:02d}:{i % 60:02d} srv01 app[1]: job {i} done "
                   f"{'x' * 60}\n" for i in range(n))


def one_line_error(result, *words: str) -> None:
    assert result.code != 0, result.out
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    for word in words:
        assert word in result.err, result.err


def counts(db_path: Path) -> tuple[int, int, str]:
    with sqlite3.connect(db_path) as conn:
        users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return users, events, check


def log_entries(cfg: Path) -> int:
    result = run_cli("logs", "search", "--limit", "100000", "--format", "jsonl", config=cfg)
    assert result.code == 0, result.err
    return len(result.out.splitlines())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_disk_full_then_space_returns(installation, tmp_path: Path) -> None:
    size = sum(p.stat().st_size for p in installation.data_dir.rglob("*") if p.is_file())
    with small_tmpfs(tmp_path / "disk", size // 1024 + 16384) as disk:
        data = disk / "data"
        shutil.copytree(installation.data_dir, data)
        moved = make_settings(data)
        cfg = write_config(moved, tmp_path / "config.toml")
        assert run_cli("users", "list", config=cfg).code == 0  # WAL and shm files exist
        log = tmp_path / "app.log"
        log.write_text(syslog(20_000))
        users, events, _ = counts(data / "console.db")
        filler = fill(disk)

        add = run_cli("users", "add", "dora", "--temporary", config=cfg)
        one_line_error(add, "disk", "full", "rolled back")
        ingest = run_cli("logs", "ingest", str(log), config=cfg)
        one_line_error(ingest, "disk", "full")
        # A read may need a few bytes (SQLite's shared-memory file): it works or says why.
        for args in (["users", "list"], ["audit", "verify"]):
            read = run_cli(*args, config=cfg)
            assert read.code == 0 or read.err.count("\n") == 1, read.err
            assert "Traceback" not in read.err

        filler.unlink()  # space returns: nothing was half-written
        assert counts(data / "console.db") == (users, events, "ok")
        assert run_cli("audit", "verify", config=cfg).code == 0
        assert run_cli("users", "add", "dora", "--temporary", config=cfg).code == 0
        done = run_cli("logs", "ingest", str(log), config=cfg)
        assert done.code == 0, done.err
        assert log_entries(cfg) == 20_000
        assert run_cli("audit", "verify", config=cfg).code == 0
        after = counts(data / "console.db")
        assert after[0] == users + 1 and after[2] == "ok"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_read_only_data_dir_then_writable_again(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "config.toml")
    assert run_cli("users", "list", config=cfg).code == 0
    data = installation.data_dir
    users, events, _ = counts(data / "console.db")
    with read_only(data):
        add = run_cli("users", "add", "erin", "--temporary", config=cfg)
        one_line_error(add, "rolled back")
        assert "read-only" in add.err or "writable" in add.err
        listing = run_cli("users", "list", config=cfg)
        assert listing.code == 0 or listing.err.count("\n") == 1, listing.err
    assert counts(data / "console.db") == (users, events, "ok")
    assert run_cli("users", "add", "erin", "--temporary", config=cfg).code == 0
    assert run_cli("audit", "verify", config=cfg).code == 0


# -- newer, older, foreign ----------------------------------------------------------------


def _alembic_rows(installation) -> list[str]:
    from console.runtime import make_database

    database = make_database(installation)
    with database.engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    database.dispose()
    return rows


def _execute(installation, sql: str) -> None:
    from console.runtime import make_database

    database = make_database(installation)
    with database.engine.begin() as conn:
        conn.execute(text(sql))
    database.dispose()


def test_newer_database_is_refused_with_the_fix(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "config.toml")
    head = sorted(_alembic_rows(installation))[0]
    _execute(installation, f"UPDATE alembic_version SET version_num = 'zz_future' "
                           f"WHERE version_num = '{head}'")
    for args in (["users", "list"], ["db", "upgrade"]):
        one_line_error(run_cli(*args, config=cfg), "newer")
    assert "install that version" in run_cli("users", "list", config=cfg).err


def test_older_database_is_refused_then_upgraded(backend, pg_status, tmp_path: Path) -> None:
    """A database at the foundation only (as an older console left it)."""
    from alembic import command

    from console import db as dbmod
    from console.install import initialize
    from console.principal import system_principal

    url = ""
    if backend == "postgresql":
        require_pg(pg_status)
        name = f"flowpro_old_{uuid.uuid4().hex[:10]}"
        _pg_exec(f'CREATE DATABASE "{name}"')
        url = pg_url(name)
    settings = make_settings(tmp_path / "data", url)
    initialize(settings, admin="admin", password="Correct-Horse-Battery-77",
               actor=system_principal("test"))
    database = dbmod.Database(settings.database_url)
    with database.engine.begin() as conn:  # back to the foundation: drop the newer heads
        cfg_alembic = dbmod._alembic_config()
        cfg_alembic.attributes["connection"] = conn
        command.downgrade(cfg_alembic, "0001_foundation")
    database.dispose()
    cfg = write_config(settings, tmp_path / "config.toml")
    try:
        refused = run_cli("users", "list", config=cfg)
        one_line_error(refused, "behind", "flowpro-console db upgrade")
        assert run_cli("db", "upgrade", config=cfg).code == 0
        assert run_cli("users", "list", config=cfg).code == 0
        assert run_cli("db", "check", config=cfg).code == 0
    finally:
        if url:
            drop_pg(url)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_foreign_sqlite_files_are_refused(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "config.toml")
    target = installation.data_dir / "console.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)

    target.unlink()
    with sqlite3.connect(target) as conn:  # another application, with its own Alembic
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
    for args in (["users", "list"], ["db", "upgrade"]):
        one_line_error(run_cli(*args, config=cfg), "did not create")
    with sqlite3.connect(target) as conn:  # untouched
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == \
            "ae1027a6acf"

    target.unlink()
    target.write_text("these are not the pages of a SQLite database\n" * 200)
    one_line_error(run_cli("users", "list", config=cfg), "not a database")
    one_line_error(run_cli("db", "upgrade", config=cfg), "not a database")


def test_foreign_postgres_database_is_refused(pg_status, installation, tmp_path) -> None:
    require_pg(pg_status)
    name = f"flowpro_foreign_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    try:
        import psycopg

        with psycopg.connect(host="/var/run/postgresql", dbname=name, user="root",
                             autocommit=True) as conn:
            conn.execute("CREATE TABLE invoices (id serial PRIMARY KEY, total int)")
        moved = make_settings(installation.data_dir, pg_url(name))
        cfg = write_config(moved, tmp_path / "config.toml")
        for args in (["users", "list"], ["db", "upgrade"]):
            one_line_error(run_cli(*args, config=cfg), "did not create")
        gone = make_settings(installation.data_dir, pg_url(name + "_missing"))
        missing = run_cli("users", "list", config=write_config(gone, tmp_path / "g.toml"))
        one_line_error(missing, "cannot open the database")
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
