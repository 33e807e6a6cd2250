"""The CLI through its real entry point: exit codes and one-line messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.clihelp import run_cli, write_config
from tests.conftest import ADMIN_PASSWORD


def test_help_lists_commands_and_imports_nothing_heavy() -> None:
    result = run_cli("--help", subprocess=True)  # the installed script itself
    assert result.code == 0
    for command in ("init", "demo", "db", "audit"):
        assert re.search(rf"^\s+{command}\s", result.out, re.M)


def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[storage]\ndata_dirr = 'x'\n")
    result = run_cli("db", "check", config=cfg, subprocess=True)
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "data_dirr" in result.err and str(cfg) in result.err
    assert "Traceback" not in result.err


def test_init_twice_and_password_from_stdin(tmp_path: Path) -> None:
    data = tmp_path / "d"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{data}"\n[security]\nargon2_time_cost = 1\n'
                   "argon2_memory_kib = 8192\nargon2_parallelism = 1\n")
    first = run_cli("init", "--admin", "boss", "--password-stdin", config=cfg,
                    input=ADMIN_PASSWORD + "\n")
    assert first.code == 0, first.err
    assert "initialized" in first.out and ADMIN_PASSWORD not in first.out + first.err
    second = run_cli("init", "--admin", "boss", "--password-stdin", config=cfg,
                     input=ADMIN_PASSWORD + "\n")
    assert second.code == 1 and "already initialized" in second.err
    weak = run_cli("init", "--password-stdin", "--data-dir", str(tmp_path / "e"),
                   config=cfg, input="letmein\n")
    assert weak.code == 2 and "password" in weak.err
    assert "letmein" not in weak.err


def test_init_without_any_config_writes_one(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    result = run_cli("init", "--data-dir", str(data), "--password-stdin",
                     input=ADMIN_PASSWORD + "\n", env={"HOME": str(tmp_path)})
    assert result.code == 0, result.err
    assert (data / "config.toml").is_file()
    check = run_cli("db", "check", config=data / "config.toml")
    assert check.code == 0 and "up to date" in check.out


def test_audit_verify_ok_then_tampered(installation, runtime, db, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "c.toml")
    ok = run_cli("audit", "verify", config=cfg)
    assert ok.code == 0 and ok.out.startswith("OK:"), ok.err
    listed = run_cli("audit", "list", "--json", config=cfg)
    assert listed.code == 0 and '"action": "users.add"' in listed.out
    db.exec(text("UPDATE audit_events SET actor = 'mallory' WHERE id = "
                 "(SELECT min(id) FROM audit_events)"))
    db.commit()
    bad = run_cli("audit", "verify", config=cfg)
    assert bad.code == 1 and "edited" in bad.err


def test_db_check_reports_behind(installation, tmp_path: Path, db) -> None:
    cfg = write_config(installation, tmp_path / "c.toml")
    assert run_cli("db", "check", config=cfg).code == 0
    db.exec(text("DELETE FROM alembic_version"))
    db.commit()
    result = run_cli("db", "check", config=cfg)
    assert result.code == 1 and "empty" not in result.err


@pytest.mark.parametrize("args", [["users-nonexistent"], ["audit", "list", "--limit", "0"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.code == 2
    assert "Traceback" not in result.err


def test_untrusted_os_user_must_log_in(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "c.toml", "trust_os_owner = false")
    result = run_cli("audit", "verify", config=cfg)
    assert result.code == 3 and "--user" in result.err
