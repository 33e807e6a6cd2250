"""When the terminal goes away the console records the logout and exits quickly, without
spinning the CPU."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlmodel import select

from models.audit import AuditEvent
from tests.clihelp import entry_point, write_config
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.ptyhelp import PtyProcess

pytestmark = pytest.mark.integration


def start_console(installation, tmp_path: Path) -> PtyProcess:
    cfg = write_config(installation, tmp_path / "c.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPRO_")}
    env.update(TERM="xterm-256color", SSH_CONNECTION="198.51.100.7 40022 10.0.0.1 22")
    return PtyProcess([*entry_point(), "--config", str(cfg)], env)


@pytest.mark.parametrize("how", ["close-pty", "sighup"])
def test_terminal_loss_logs_out_and_exits(installation, db, tmp_path: Path, how: str) -> None:
    console = start_console(installation, tmp_path)
    try:
        console.wait_for("Username")
        console.send(ADMIN + "\r")
        time.sleep(0.3)
        console.send(ADMIN_PASSWORD + "\r")
        console.wait_for("Data under governance", timeout=60)  # argon2 under a loaded CI
        cpu_before = console.cpu_seconds()
        started = time.monotonic()
        if how == "close-pty":
            console.close_terminal()
        else:
            os.kill(console.proc.pid, 1)
        _, status, usage = os.wait4(console.proc.pid, 0)
        elapsed = time.monotonic() - started
        console.proc.returncode = status
        assert elapsed < 2.0, f"took {elapsed:.2f}s to exit"  # issue 2 asks this test for it
        cpu_after = usage.ru_utime + usage.ru_stime
        assert cpu_after - cpu_before < 1.0, "spun the CPU while exiting"
    finally:
        console.kill()
    db.rollback()
    logout = db.exec(select(AuditEvent).where(AuditEvent.action == "auth.logout")
                     .order_by(AuditEvent.id.desc())).first()
    assert logout is not None and logout.actor == ADMIN
    assert "terminal lost" in logout.details
    assert logout.source == "198.51.100.7:40022"
