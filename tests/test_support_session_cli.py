"""`flowpro-console support-session --as ENGINEER` in a real terminal: who may start one,
TOTP, the console as the engineer, and the receipt when it ends — by quitting or by
losing the terminal."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlmodel import select

from console import clock, mfa
from console.support import create_grant
from models.audit import AuditEvent
from models.support import SupportReceipt, SupportSession
from tests.clihelp import entry_point, run_cli, write_config
from tests.ptyhelp import PtyProcess
from tests.supporthelp import CLI_ONE_BACKEND, GOOD, TOTP_SECRET, add_engineer

pytestmark = pytest.mark.integration


def start(installation, tmp_path: Path) -> PtyProcess:
    cfg = write_config(installation, tmp_path / "c.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPRO_", "SSH_"))}
    env.update(TERM="xterm-256color", SSH_CONNECTION="198.51.100.7 40022 10.0.0.1 22")
    return PtyProcess([*entry_point(), "--config", str(cfg), "support-session", "--as",
                       "fp-jane"], env)


@CLI_ONE_BACKEND
def test_who_may_start_a_support_session(installation, runtime, db, admin,
                                         tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "c.toml")
    add_engineer(runtime, db, totp=False)
    args = ("support-session", "--as", "fp-jane")
    # Checked before the terminal is needed: the answer reaches the engineer's ssh client.
    no_grant = run_cli(*args, config=cfg)
    assert no_grant.code == 3 and "no active support grant" in no_grant.err
    create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                 scope="logs.read", **GOOD)
    no_totp = run_cli(*args, config=cfg)
    assert no_totp.code == 3 and "TOTP is not set up for fp-jane" in no_totp.err
    assert "administrator must enrol it" in no_totp.err
    stranger = run_cli("support-session", "--as", "admin", config=cfg)
    assert stranger.code == 3 and "not a FlowPro support account" in stranger.err
    db.rollback()
    refusals = db.exec(select(AuditEvent).where(AuditEvent.action == "support.session.start")
                       .where(AuditEvent.outcome == "denied")).all()
    assert [e.target for e in refusals] == ["user:fp-jane", "user:fp-jane", "user:admin"]


def test_totp_then_console_then_receipt(installation, runtime, db, admin,
                                        tmp_path: Path) -> None:
    add_engineer(runtime, db)
    grant = create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                         scope="logs.read", **GOOD)
    console = start(installation, tmp_path)
    try:
        console.wait_for("TOTP code")
        console.send("000000\r")
        console.wait_for("That code is wrong")
        console.send(mfa.code_at(TOTP_SECRET, clock.now()) + "\r")
        console.wait_for(f"SUPPORT ACCESS #{grant.id}")
        time.sleep(0.3)
        console.send("\x11")  # ctrl+q
        console.wait_for("Support session ended: quit.")
        console.wait_for(f"Receipt #1 signed for grant #{grant.id}.")
        assert console.proc.wait(20) == 0
    finally:
        console.kill()
    db.rollback()
    record = db.exec(select(SupportSession)).one()
    assert (record.end_reason, record.source) == ("quit", "198.51.100.7:40022")
    assert db.exec(select(SupportReceipt)).one().session_id == record.id


@CLI_ONE_BACKEND
def test_wrong_codes_open_nothing(installation, runtime, db, admin, tmp_path: Path) -> None:
    add_engineer(runtime, db)
    create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                 scope="logs.read", **GOOD)
    console = start(installation, tmp_path)
    try:
        for _ in range(3):
            console.wait_for("TOTP code")
            console.buffer = b""
            console.send("123456\r")
        console.wait_for("3 wrong TOTP codes")
        assert console.proc.wait(20) == 3
    finally:
        console.kill()
    db.rollback()
    assert db.exec(select(SupportSession)).all() == []


def test_lost_terminal_still_closes_the_session_with_a_receipt(installation, runtime, db,
                                                                admin, tmp_path: Path) -> None:
    add_engineer(runtime, db)
    create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                 scope="logs.read", **GOOD)
    console = start(installation, tmp_path)
    try:
        console.wait_for("TOTP code")
        console.send(mfa.code_at(TOTP_SECRET, clock.now()) + "\r")
        console.wait_for("SUPPORT ACCESS")
        console.close_terminal()
        console.proc.wait(20)
    finally:
        console.kill()
    db.rollback()
    record = db.exec(select(SupportSession)).one()
    assert record.ended_at is not None and "terminal lost" in record.end_reason
    assert db.exec(select(SupportReceipt)).one().session_id == record.id
