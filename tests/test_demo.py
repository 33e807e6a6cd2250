"""`flowpro-console demo`: its own data dir, seeded, reproducible, usable by --config."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, text
from sqlmodel import select

from console.config import load_settings
from console.demo import DEMO_PASSWORD, DemoPlan, create_demo
from console.logs.demo import write_demo_logs
from console.runtime import open_runtime
from models.business import AttendanceRecord, Employee, PayrollRecord, SaleTransaction
from tests.clihelp import run_cli


def counts(config: Path) -> dict[str, int]:
    runtime = open_runtime(load_settings(config, env={}))
    with runtime.database.scope() as db:
        result = {m.__name__: db.exec(select(func.count()).select_from(m)).one()
                  for m in (Employee, PayrollRecord, AttendanceRecord, SaleTransaction)}
    runtime.close()
    return result


def test_demo_cli_seeds_its_own_directory(tmp_path: Path) -> None:
    result = run_cli("demo", "--seed-only", "--employees", "20", "--customers", "50",
                     "--sales", "500")
    assert result.code == 0, result.err
    assert f"admin / {DEMO_PASSWORD}" in result.out
    config = Path.cwd() / "var" / "demo" / "config.toml"
    assert config.is_file()
    seeded = counts(config)
    assert seeded["Employee"] == 20 and seeded["SaleTransaction"] == 500
    assert seeded["PayrollRecord"] > 20 * 12 and seeded["AttendanceRecord"] > 20 * 200
    again = run_cli("demo", "--seed-only")
    assert again.code == 0 and "existing demo" in again.out
    verify = run_cli("--config", str(config), "audit", "verify")
    assert verify.code == 0, verify.err


def test_same_seed_same_data(tmp_path: Path) -> None:
    plan = DemoPlan(employees=5, customers=5, sales=50, seed=3)
    create_demo(tmp_path / "a", plan)
    create_demo(tmp_path / "b", plan)
    assert counts(tmp_path / "a" / "config.toml") == counts(tmp_path / "b" / "config.toml")
    first = log_messages(tmp_path / "a" / "config.toml")
    assert len(first) > 1000 and first == log_messages(tmp_path / "b" / "config.toml")
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # the seed drives the logs too
    three = [p.read_bytes() for p in write_demo_logs(tmp_path / "l3", now, seed=3)]
    assert three == [p.read_bytes() for p in write_demo_logs(tmp_path / "l3b", now, seed=3)]
    assert three != [p.read_bytes() for p in write_demo_logs(tmp_path / "l4", now, seed=4)]


def log_messages(config: Path) -> list[str]:
    """Every stored log message, sorted (times follow the moment of seeding)."""
    runtime = open_runtime(load_settings(config, env={}))
    with runtime.database.scope() as db:
        tables = db.execute(text("SELECT table_name FROM log_partitions")).scalars().all()
        found = [m for t in tables for m in db.execute(text(f"SELECT message FROM {t}")).scalars()]
    runtime.close()
    return sorted(found)
