"""The database layer: SQLite pragmas, BEGIN IMMEDIATE, schema checks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event, text

from console.db import Database, ensure_current, schema_state, upgrade, writing
from console.errors import SchemaOutdated


def test_sqlite_pragmas(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(database)
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2  # incremental
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    database.dispose()


def test_write_transactions_begin_immediate(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(database)
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute",
                 lambda conn, cur, stmt, *a: statements.append(stmt))
    with database.scope() as db:
        db.exec(text("SELECT 1"))  # a read: deferred
        with writing(db):
            db.exec(text("SELECT 2"))
            with writing(db):  # nested joins the outer transaction
                db.exec(text("SELECT 3"))
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"]
    database.dispose()


def test_writing_rolls_back_on_error(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(database)
    with database.scope() as db:
        with pytest.raises(RuntimeError), writing(db):
            db.exec(text("INSERT INTO roles (name, description, builtin, requires_mfa, "
                         "created_at) VALUES ('r', '', 0, 0, '2026-01-01 00:00:00')"))
            raise RuntimeError("boom")
        assert db.exec(text("SELECT count(*) FROM roles")).scalar() == 0
    database.dispose()


def test_schema_states(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    database = Database(f"sqlite:///{path}")
    with pytest.raises(SchemaOutdated, match="empty"):
        ensure_current(database)
    upgrade(database)
    ensure_current(database)
    assert schema_state(database).up_to_date
    database.dispose()

    with sqlite3.connect(path) as conn:  # a newer console migrated it further
        # (one head of several: each domain's migrations are a branch of their own)
        conn.execute("UPDATE alembic_version SET version_num = 'zz_future' "
                     "WHERE rowid = (SELECT min(rowid) FROM alembic_version)")
    database = Database(f"sqlite:///{path}")
    with pytest.raises(SchemaOutdated, match="newer"):
        ensure_current(database)
    with pytest.raises(SchemaOutdated, match="newer"):
        upgrade(database)
    database.dispose()

    with sqlite3.connect(path) as conn:  # an older one: a head missing
        conn.execute("DELETE FROM alembic_version")
        conn.execute("INSERT INTO alembic_version VALUES ('0001_foundation')")
    database = Database(f"sqlite:///{path}")
    state = schema_state(database)
    if state.expected != {"0001_foundation"}:
        with pytest.raises(SchemaOutdated, match="behind.*db upgrade"):
            ensure_current(database)
    database.dispose()

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    database = Database(f"sqlite:///{foreign}")
    with pytest.raises(SchemaOutdated, match="did not create"):
        ensure_current(database)
    with pytest.raises(SchemaOutdated, match="did not create"):
        upgrade(database)
    database.dispose()


def test_migrations_match_the_models(runtime) -> None:
    """Every model change has its migration: autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import models  # noqa: F401

    with runtime.database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    ignorable = {"remove_table", "remove_index"}  # runtime-managed tables (e.g. log months)
    real = [d for d in diff if not (isinstance(d, tuple) and d[0] in ignorable)]
    assert real == []


def test_fast_head_reading_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from console.db import _alembic_config, script_revisions

    script = ScriptDirectory.from_config(_alembic_config())
    known, heads = script_revisions()
    assert heads == frozenset(script.get_heads())
    assert known == {rev.revision for rev in script.walk_revisions()}
