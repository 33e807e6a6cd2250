"""The SSH gate (`ssh authorized-keys`): key lines only during an active grant, in sshd's
format, nothing but key lines on stdout, light imports (both backends)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from console.config import load_settings
from console.sshgate import console_command, load_config
from console.sshkeys import add_key
from console.support import create_grant, revoke_grant
from tests.clihelp import entry_point, run_cli, write_config
from tests.supporthelp import GOOD, add_engineer
from tests.test_sshkeys import keygen

LINE = re.compile(r'^restrict,pty,expiry-time="(\d{14})Z",command="([^"]+)" '
                  r"(ssh-ed25519 [A-Za-z0-9+/=]+) (fp-[a-z]+)$")


def gate(cfg: Path, os_user: str = "flowpro-support"):
    return run_cli("ssh", "authorized-keys", os_user, config=cfg)


def test_keys_only_while_a_grant_is_active(installation, runtime, db, admin,
                                          tmp_path: Path) -> None:
    add_engineer(runtime, db)
    add_engineer(runtime, db, "fp-joe")
    jane_key, _ = keygen(tmp_path, "ed25519", comment="jane")
    second_key, _ = keygen(tmp_path, "ecdsa", 256, comment="jane-2")
    joe_key, _ = keygen(tmp_path, "rsa", 3072, comment="joe")
    add_key(db, admin, "fp-jane", jane_key)
    add_key(db, admin, "fp-jane", second_key)
    add_key(db, admin, "fp-joe", joe_key)
    cfg = write_config(installation, tmp_path / "c.toml")

    before = gate(cfg)
    assert (before.code, before.out, before.err) == (0, "", "")

    grant = create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                         scope="logs.read", **GOOD)
    during = gate(cfg)
    assert during.code == 0 and during.err == ""
    lines = during.out.splitlines()
    assert len(lines) == 2 and during.out.endswith("\n")
    first = LINE.match(lines[0])
    assert first is not None, lines[0]
    expiry, command, key, engineer = first.groups()
    assert expiry == grant.ends_at.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    assert key == " ".join(jane_key.split()[:2]) and engineer == "fp-jane"
    assert command == (f"{entry_point()[0]} --config {cfg.resolve()} support-session "
                       "--as fp-jane")
    assert lines[1].startswith('restrict,pty,expiry-time="') and "ecdsa-sha2-nistp256" in lines[1]
    assert "fp-joe" not in during.out  # no grant, no lines

    assert gate(cfg, "root").out == ""  # other accounts never get keys
    revoke_grant(db, admin, grant.id, reason="done")
    after = gate(cfg)
    assert (after.code, after.out) == (0, "")


def test_expired_grants_and_disabled_accounts_give_no_keys(installation, runtime, db, admin,
                                                           tmp_path: Path) -> None:
    add_engineer(runtime, db)
    add_key(db, admin, "fp-jane", keygen(tmp_path, "ed25519")[0])
    grant = create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                         scope="logs.read", **GOOD)
    cfg = write_config(installation, tmp_path / "c.toml")
    assert gate(cfg).out.count("\n") == 1
    db.exec(text("UPDATE users SET disabled = true WHERE username = 'fp-jane'"))
    db.commit()
    assert gate(cfg).out == ""
    db.exec(text("UPDATE users SET disabled = false WHERE username = 'fp-jane'"))
    db.exec(text("UPDATE support_grants SET ends_at = :past WHERE id = :id"),
            params={"past": datetime(2020, 1, 1), "id": grant.id})
    db.commit()
    assert gate(cfg).out == ""


def test_errors_go_to_stderr_only(installation, tmp_path: Path) -> None:
    missing = gate(tmp_path / "nowhere.toml")
    assert missing.code == 1 and missing.out == "" and "does not exist" in missing.err
    broken = tmp_path / "broken.toml"
    broken.write_text("[storage\n")
    result = gate(broken)
    assert result.code == 1 and result.out == "" and result.err.count("\n") == 1
    no_db = tmp_path / "empty.toml"
    no_db.write_text(f'[storage]\ndata_dir = "{tmp_path / "void"}"\n')
    result = gate(no_db)
    assert result.code == 1 and result.out == "" and "database" in result.err
    bad_type = tmp_path / "bad.toml"
    bad_type.write_text("[support]\nos_user = 7\n")
    result = gate(bad_type)
    assert result.code == 1 and result.out == "" and "os_user" in result.err
    if installation.database.url:  # PostgreSQL: an unreachable server
        down = write_config(installation, tmp_path / "down.toml")
        down.write_text(down.read_text().replace("host=/var/run/postgresql",
                                                 "host=/nonexistent"))
        result = gate(down)
        assert result.code == 1 and result.out == "" and "PostgreSQL" in result.err


def test_gate_reads_config_like_the_console(installation, tmp_path: Path) -> None:
    cfg = write_config(installation, tmp_path / "c.toml", extra=(
        "[support]\nos_user = \"fp-shared\"\nconsole_command = \"/opt/fp/bin/flowpro-console\"\n"))
    gate_view = load_config(str(cfg), env={})
    settings = load_settings(cfg, env={})
    assert gate_view.sqlite_path == settings.data_dir / "console.db"
    assert gate_view.database_url == settings.database.url
    assert gate_view.os_user == settings.support.os_user == "fp-shared"
    assert console_command(gate_view) == settings.support.console_command
    relative = tmp_path / "rel" / "c.toml"
    relative.parent.mkdir()
    relative.write_text('[storage]\ndata_dir = "data"\n')
    assert load_config(str(relative), env={}).sqlite_path == \
        load_settings(relative, env={}).data_dir / "console.db"


def test_gate_imports_stay_light(installation, runtime, db, admin, tmp_path: Path) -> None:
    """sshd runs the gate on every attempt: no pydantic, SQLAlchemy, Textual, cryptography."""
    add_engineer(runtime, db)
    add_key(db, admin, "fp-jane", keygen(tmp_path, "ed25519")[0])
    create_grant(db, admin, settings=runtime.settings.support, engineer="fp-jane",
                 scope="logs.read", **GOOD)
    cfg = write_config(installation, tmp_path / "c.toml")
    code = ("import sys\n"
            "from console.cli import cli\n"
            f"cli.main(args=['--config', {str(cfg)!r}, 'ssh', 'authorized-keys', "
            "'flowpro-support'], standalone_mode=False)\n"
            "heavy = [m for m in ('pydantic', 'sqlalchemy', 'sqlmodel', 'textual', "
            "'cryptography') if m in sys.modules]\n"
            "print('HEAVY:' + ','.join(heavy), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert "HEAVY:\n" in result.stderr
    assert result.stdout.startswith("restrict,pty,")
