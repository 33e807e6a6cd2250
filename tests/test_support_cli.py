"""The support CLI through the real entry point, the [support] config section, and the
demo's support data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.config import load_settings, parse_settings
from console.errors import ConfigError
from tests.clihelp import run_cli, write_config
from tests.supporthelp import CLI_ONE_BACKEND, add_engineer


@pytest.mark.parametrize("section, message", [
    ('default_hours = 9.0', "default_hours (9.0) is above max_hours"),
    ('ticket_pattern = "FP-[0-9"', "ticket_pattern: not a valid regular expression"),
    ('console_command = "/opt/x\\" --evil"', "console_command"),
    ('console_command = "flowpro-console"', "absolute path"),
    ('approvers_required = 3', "approvers_required"),
    ('os_user = "Flow Pro"', "os_user"),
    ('max_hours = 0', "max_hours"),
])
def test_support_config_errors_name_the_key(tmp_path: Path, section: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[support]\n{section}\n")
    with pytest.raises(ConfigError, match="support") as err:
        load_settings(cfg, env={})
    assert message in str(err.value)


def test_support_config_defaults() -> None:
    support = parse_settings({}, env={}).support
    assert (support.default_hours, support.max_hours, support.request_expiry_hours) == (4, 8, 12)
    assert support.ticket_pattern == "^FP-[0-9]+$" and support.approvers_required == 1
    assert support.os_user == "flowpro-support"


@CLI_ONE_BACKEND
def test_grant_list_show_revoke_via_cli(installation, runtime, db, tmp_path: Path) -> None:
    add_engineer(runtime, db)
    cfg = write_config(installation, tmp_path / "c.toml")
    granted = run_cli("support", "grant", "--engineer", "fp-jane", "--scope",
                      "logs.read,jobs.read", "--reason", "export fails", "--ticket", "FP-12",
                      "--hours", "2", config=cfg)
    assert granted.code == 0, granted.err
    grant_id = int(granted.out.strip())  # only the id on stdout, for scripts
    assert f"grant #{grant_id}" in granted.err
    listed = json.loads(run_cli("support", "list", "--json", config=cfg).out)
    assert [g["id"] for g in listed["grants"]] == [grant_id]
    assert listed["grants"][0]["status"] == "active" and listed["requests"] == []
    shown = json.loads(run_cli("support", "show", str(grant_id), "--json", config=cfg).out)
    assert shown["grant"]["scope"] == ["jobs.read", "logs.read"]
    assert shown["grant"]["minutes"] == 120 and shown["sessions"] == []
    extended = run_cli("support", "extend", str(grant_id), "--reason", "still busy",
                       config=cfg)
    assert extended.code == 0, extended.err
    revoked = run_cli("support", "revoke", str(grant_id), "--reason", "done", config=cfg)
    assert revoked.code == 0 and "revoked grant" in revoked.out
    again = run_cli("support", "revoke", str(grant_id), "--reason", "done", config=cfg)
    assert again.code == 1 and "revoked already" in again.err
    text = run_cli("support", "show", str(grant_id), config=cfg).out
    assert "revoked by os:root" in text
    cancelled = json.loads(run_cli("support", "list", "--status", "cancelled", "--json",
                                   config=cfg).out)
    assert [r["kind"] for r in cancelled["requests"]] == ["extension"]


@CLI_ONE_BACKEND
def test_cli_errors_are_one_line_with_exit_codes(installation, runtime, db,
                                                 tmp_path: Path) -> None:
    add_engineer(runtime, db)
    cfg = write_config(installation, tmp_path / "c.toml")
    base = ["support", "grant", "--engineer", "fp-jane", "--reason", "because"]
    cases = [
        ([*base, "--scope", "users.write", "--ticket", "FP-1"], 2, "beyond what FlowPro"),
        ([*base, "--scope", "logs.read", "--ticket", "T-1"], 2, "ticket pattern"),
        ([*base, "--scope", "logs.read", "--ticket", "FP-1", "--hours", "9"], 2, "8 h"),
        (["support", "show", "99"], 1, "no support grant #99"),
        (["support", "list", "--status", "bogus"], 2, "--status"),
        (["support", "statement"], 2, "--month"),
    ]
    for args, code, message in cases:
        result = run_cli(*args, config=cfg)
        assert (result.code, result.err.count("\n")) == (code, 1), (args, result)
        assert message in result.err and "Traceback" not in result.err
    requested = run_cli("support", "request", "--engineer", "fp-jane", "--scope", "logs.read",
                        "--reason", "asked by phone", "--ticket", "FP-2", config=cfg)
    assert requested.code == 0, requested.err
    own = run_cli("support", "approve", requested.out.strip(), config=cfg)
    assert own.code == 3 and "cannot approve" in own.err  # the requester never approves


def test_demo_has_a_waiting_request_and_a_past_grant(tmp_path: Path) -> None:
    from console.demo import DemoPlan, create_demo

    settings = create_demo(tmp_path / "demo", DemoPlan(employees=3, customers=3, sales=5))
    listed = json.loads(run_cli("support", "list", "--json",
                                config=Path(settings.source or "")).out)
    assert [r["status"] for r in listed["requests"]] == ["pending", "approved"]
    assert [g["status"] for g in listed["grants"]] == ["expired"]
    assert {r["engineer"] for r in listed["requests"]} == {"fp-jane"}
