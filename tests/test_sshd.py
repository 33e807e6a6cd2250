"""The SSH gate with a real OpenSSH sshd on 127.0.0.1: a test OS account and key, the
README's `Match User` block, the console's `ssh authorized-keys` as AuthorizedKeysCommand.

Before the grant the key is refused; during it `ssh -tt` gets in and the forced command
(the console, after TOTP) runs instead of the command asked for; a revoke closes the open
session, and a new connection is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlmodel import select

from console import mfa
from console.config import load_settings
from console.principal import system_principal
from console.runtime import open_runtime
from console.sshkeys import add_key
from console.support import create_grant, revoke_grant
from models.support import SupportReceipt, SupportSession
from tests.ptyhelp import PtyProcess
from tests.sshdhelp import SshdWorld, sshd_world
from tests.supporthelp import GOOD, TOTP_SECRET, add_engineer

pytestmark = pytest.mark.integration


@pytest.fixture
def world() -> Iterator[SshdWorld]:
    yield from sshd_world()

def test_key_works_only_during_the_grant(world: SshdWorld) -> None:
    world.create_user()
    console = world.install_console()
    config = world.create_installation(console)
    settings = load_settings(config, env={})
    runtime = open_runtime(settings)
    try:
        key, public = world.client_key()
        with runtime.database.scope() as db:
            add_engineer(runtime, db)
            add_key(db, system_principal("test"), "fp-jane", public)
        world.give_data_to_user()
        world.start_sshd(console, config)

        before = world.ssh(key, "echo SHELL-ACCESS")
        assert before.returncode == 255, before
        assert "Permission denied (publickey)" in before.stderr
        assert "SHELL-ACCESS" not in before.stdout

        with runtime.database.scope() as db:
            grant = create_grant(db, system_principal("admin"), settings=settings.support,
                                 engineer="fp-jane", scope="logs.read", **GOOD)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root",
               "TERM": "xterm-256color", "LANG": "C.UTF-8"}
        session = PtyProcess([*world.ssh_argv(key, "-tt"), "echo SHELL-ACCESS"], env)
        try:
            session.wait_for("TOTP code", timeout=60)
            session.send(mfa.code_at(TOTP_SECRET, _now()) + "\r")
            session.wait_for("SUPPORT ACCESS", timeout=60)  # the console, as fp-jane
            assert f"SUPPORT ACCESS #{grant.id} · logs.read" in session.text()
            assert "SHELL-ACCESS" not in session.text()  # the forced command ran instead
            with runtime.database.scope() as db:
                revoke_grant(db, system_principal("admin"), grant.id, reason="all done")
            session.wait_for("Support session ended: support access ended", timeout=30)
            assert session.proc.wait(30) == 0
        finally:
            session.kill()

        after = world.ssh(key, "echo SHELL-ACCESS")
        assert after.returncode == 255 and "Permission denied (publickey)" in after.stderr

        with runtime.database.scope() as db:
            record = db.exec(select(SupportSession)).one()
            assert record.engineer == "fp-jane" and record.grant_id == grant.id
            assert record.source and record.source.startswith("127.0.0.1:")
            assert "revoked" in record.end_reason
            assert db.exec(select(SupportReceipt)).one().session_id == record.id
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- sshd log ---\n{world.sshd_log()}") from None
    finally:
        runtime.close()


def _now():
    from console import clock

    return clock.now()

