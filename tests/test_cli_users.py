"""`users` and `roles` through the real entry point: output, --json, exit codes, audit."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.clihelp import entry_point, run_cli, write_config
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.idhelp import PASSWORD, add_user, details, enrol, last_event, user_row
from tests.ptyhelp import PtyProcess

# The CLI is the same on both backends (the services' tests cover both); one flow runs on
# PostgreSQL too, the rest on SQLite to keep the subprocesses few.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def cfg(installation, tmp_path: Path) -> Path:
    return write_config(installation, tmp_path / "c.toml")


def test_add_list_json_and_set_roles(cfg: Path, db) -> None:
    added = run_cli("users", "add", "bob", "--roles", "auditor", "--display-name", "Bob B",
                    "--email", "bob@client.example", "--password-stdin", config=cfg,
                    input=PASSWORD + "\n")
    assert added.code == 0, added.err
    assert "added bob" in added.out and PASSWORD not in added.out + added.err
    listed = run_cli("users", "list", "--json", config=cfg)
    assert listed.code == 0, listed.err
    rows = {u["username"]: u for u in json.loads(listed.out)}
    assert rows["bob"]["roles"] == ["auditor"] and rows["bob"]["status"] == "temp-password"
    assert rows[ADMIN]["roles"] == ["admin"] and rows[ADMIN]["mfa"] == "off"
    assert run_cli("users", "set-roles", "bob", "auditor,operator", config=cfg).code == 0
    plain = run_cli("users", "list", "--role", "operator", config=cfg)
    assert plain.code == 0 and "auditor,operator" in plain.out and ADMIN not in plain.out
    event = last_event(db, "users.set_roles", target="user:bob")
    assert event.actor.startswith("os:") and details(event)["added"] == ["operator"]


@sqlite_only
def test_exit_codes(cfg: Path, installation, tmp_path: Path) -> None:
    weak = run_cli("users", "add", "bob", "--password-stdin", config=cfg, input="letmein\n")
    assert weak.code == 2 and "password: must be at least 12" in weak.err
    assert "letmein" not in weak.err
    assert run_cli("users", "add", "bob", "--temporary", config=cfg).code == 0
    again = run_cli("users", "add", "bob", "--temporary", config=cfg)
    assert again.code == 1 and "exists already" in again.err
    missing = run_cli("users", "disable", "nobody", "--reason", "typo test", config=cfg)
    assert missing.code == 1 and "no user named 'nobody'" in missing.err
    no_reason = run_cli("users", "disable", "bob", config=cfg)
    assert no_reason.code == 2 and "--reason" in no_reason.err
    last_admin = run_cli("users", "disable", ADMIN, "--reason", "trying", config=cfg)
    assert last_admin.code == 1 and "no active administrator" in last_admin.err
    bad_perm = run_cli("roles", "add", "x-role", "--permissions", "logs.read,nope", config=cfg)
    assert bad_perm.code == 2 and "unknown permission 'nope'" in bad_perm.err
    untrusted = write_config(installation, tmp_path / "u.toml", "trust_os_owner = false")
    denied = run_cli("users", "list", config=untrusted)
    assert denied.code == 3 and "--user" in denied.err
    for result in (weak, again, missing, last_admin, denied):
        assert result.err.count("\n") == 1 and "Traceback" not in result.err


@sqlite_only
def test_reset_password_prints_it_once_and_vendor_ceiling(cfg: Path, runtime, db) -> None:
    add_user(runtime, db, "fp-jane", "support", kind="vendor")
    reset = run_cli("users", "reset-password", "fp-jane", config=cfg)
    assert reset.code == 0 and "shown once" in reset.out
    temporary = reset.out.rsplit(" ", 1)[-1].strip()
    assert len(temporary) >= 12
    assert temporary not in last_event(db, "users.reset_password").details
    assert user_row(db, "fp-jane").must_change_password
    ceiling = run_cli("users", "set-roles", "fp-jane", "support,admin", config=cfg)
    assert ceiling.code == 1 and "can never hold" in ceiling.err
    assert last_event(db, "users.set_roles", target="user:fp-jane").outcome == "error"


@sqlite_only
def test_lifecycle_commands(cfg: Path, runtime, db) -> None:
    add_user(runtime, db, "bob")
    enrol(runtime, db, "bob")
    steps = [("users", "edit", "bob", "--display-name", "Robert"),
             ("users", "disable", "bob", "--reason", "on leave"),
             ("users", "enable", "bob", "--reason", "back from leave"),
             ("users", "mfa-reset", "bob", "--reason", "new phone"),
             ("users", "delete", "bob", "--yes")]
    for argv in steps:
        result = run_cli(*argv, config=cfg)
        assert result.code == 0, (argv, result.err)
    actions = ["users.edit", "users.disable", "users.enable", "users.mfa_reset", "users.delete"]
    for action in actions:
        assert last_event(db, action, target="user:bob").outcome == "ok"
    assert details(last_event(db, "users.disable"))["reason"] == "on leave"
    not_locked = run_cli("users", "unlock", ADMIN, "--reason", "just in case", config=cfg)
    assert not_locked.code == 1 and "not locked" in not_locked.err


@sqlite_only
def test_roles_commands(cfg: Path, db) -> None:
    assert run_cli("roles", "add", "readers", "--permissions", "logs.read",
                   "--description", "Reads logs", config=cfg).code == 0
    edited = run_cli("roles", "edit", "readers", "--add", "audit.read", "--rename",
                     "log-readers", "--require-mfa", config=cfg)
    assert edited.code == 0, edited.err
    listed = {r["name"]: r for r in json.loads(run_cli("roles", "list", "--json",
                                                       config=cfg).out)}
    assert listed["log-readers"]["permissions"] == ["audit.read", "logs.read"]
    assert listed["log-readers"]["requires_mfa"] is True
    assert listed["admin"]["builtin"] and listed["admin"]["members"] == [ADMIN]
    builtin = run_cli("roles", "delete", "admin", config=cfg)
    assert builtin.code == 1 and "built-in" in builtin.err
    assert run_cli("roles", "delete", "log-readers", config=cfg).code == 0
    catalog = json.loads(run_cli("roles", "permissions", "--json", config=cfg).out)
    assert {"permission": "pii.read", "description": catalog[4]["description"]} in catalog
    usage = run_cli("roles", "edit", "admin", config=cfg)
    assert usage.code == 2 and "nothing to change" in usage.err


def _console(cfg: Path, *args: str) -> PtyProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPRO_")}
    env["TERM"] = "xterm-256color"
    return PtyProcess([*entry_point(), "--config", str(cfg), *args], env)


@pytest.mark.integration
@sqlite_only
def test_user_login_on_the_cli_asks_for_the_totp_code(cfg: Path, runtime, db) -> None:
    from console import mfa

    secret = enrol(runtime, db, ADMIN)
    proc = _console(cfg, "--user", ADMIN, "users", "list")
    try:
        proc.wait_for("Password for admin")
        proc.send(ADMIN_PASSWORD + "\r")
        proc.wait_for("TOTP code")
        proc.send(mfa.code_at(secret, datetime.now(UTC)) + "\r")
        proc.wait_for("USERNAME")
        assert proc.proc.wait(20) == 0
    finally:
        proc.kill()
    login = last_event(db, "auth.login", target=f"user:{ADMIN}")
    assert login.outcome == "ok" and details(login)["mfa"] == "totp"


@pytest.mark.integration
@sqlite_only
def test_temporary_password_is_changed_with_passwd(cfg: Path, runtime, db) -> None:
    add_user(runtime, db, "bob", "auditor", must_change=True)
    proc = _console(cfg, "--user", "bob", "users", "passwd")
    try:
        proc.wait_for("Password for bob")
        proc.send(PASSWORD + "\r")
        proc.wait_for("Current password")
        proc.send(PASSWORD + "\r")
        proc.wait_for("New password")
        proc.send("Velvet-Canyon-Mosaic-31\r")
        proc.wait_for("Repeat for confirmation")
        proc.send("Velvet-Canyon-Mosaic-31\r")
        proc.wait_for("password changed")
        assert proc.proc.wait(20) == 0
    finally:
        proc.kill()
    assert "temporary password" in proc.text()
    assert not user_row(db, "bob").must_change_password
    assert details(last_event(db, "auth.password_change")) == {"forced": True}
