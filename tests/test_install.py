"""`init`, the keys, and the refusal to use a key others can read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import select

from console.errors import ConfigError, Conflict, ValidationError
from console.install import initialize
from console.runtime import open_runtime
from models.identity import User
from tests.conftest import ADMIN_PASSWORD, make_settings


def test_init_creates_everything_and_refuses_a_second_time(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    result = initialize(settings, admin="boss", password=ADMIN_PASSWORD)
    assert result.config_written is None or result.config_written.exists()
    keys = tmp_path / "data" / "keys"
    for name in ("signing.key", "secrets.key", "pseudonym.key"):
        assert (keys / name).stat().st_mode & 0o777 == 0o600
    assert keys.stat().st_mode & 0o777 == 0o700
    runtime = open_runtime(settings)
    with runtime.database.scope() as db:
        user = db.exec(select(User).where(User.username == "boss")).one()
        assert user.password_hash.startswith("$argon2id$")
        assert ADMIN_PASSWORD not in user.password_hash
    runtime.close()

    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "data").rglob("*")}
    with pytest.raises(Conflict, match="already initialized"):
        initialize(settings, admin="other", password=ADMIN_PASSWORD)
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "data").rglob("*")}
    assert before == after


def test_init_with_a_weak_password_creates_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    with pytest.raises(ValidationError, match="password"):
        initialize(settings, admin="boss", password="password123")
    assert not (tmp_path / "data").exists()


def test_console_refuses_a_key_readable_by_others(installation) -> None:
    key = installation.data_dir / "keys" / "signing.key"
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError) as err:
        open_runtime(installation)
    assert str(key) in str(err.value) and f"chmod 600 {key}" in str(err.value)


def test_console_refuses_a_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist.*init"):
        open_runtime(make_settings(tmp_path / "missing"))


def test_secret_encryption_round_trip_and_context_binding(runtime) -> None:
    blob = runtime.keys.encrypt_secret(b"JBSWY3DPEHPK3PXP", context="totp:alice")
    assert b"JBSWY3DPEHPK3PXP" not in blob
    assert runtime.keys.decrypt_secret(blob, context="totp:alice") == b"JBSWY3DPEHPK3PXP"
    from console.errors import ConsoleError

    with pytest.raises(ConsoleError):
        runtime.keys.decrypt_secret(blob, context="totp:mallory")
