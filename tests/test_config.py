"""Configuration: discovery, precedence and one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import load_settings
from console.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_default_config_is_valid_and_uses_var() -> None:
    root = Path(__file__).resolve().parent.parent
    settings = load_settings(root / "config.toml", env={})
    assert settings.data_dir == root / "var"
    assert settings.database_url == f"sqlite:///{root / 'var' / 'console.db'}"
    assert settings.security.argon2_memory_kib == 65536


def test_only_data_dir_is_complete_and_resolves_against_the_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "etc" / "c.toml", '[storage]\ndata_dir = "../data"\n')
    settings = load_settings(cfg, env={})
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert settings.security.lockout_threshold == 5


def test_precedence_flag_env_cwd(tmp_path: Path) -> None:
    flag = write(tmp_path / "flag.toml", '[storage]\ndata_dir = "/flag"\n')
    env_cfg = write(tmp_path / "env.toml", '[storage]\ndata_dir = "/env"\n')
    write(Path.cwd() / "config.toml", '[storage]\ndata_dir = "/cwd"\n')
    env = {"FLOWPRO_CONSOLE_CONFIG": str(env_cfg)}
    assert load_settings(flag, env=env).data_dir == Path("/flag")
    assert load_settings(None, env=env).data_dir == Path("/env")
    assert load_settings(None, env={}).data_dir == Path("/cwd")


def test_system_config_is_the_last_resort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = write(tmp_path / "system.toml", '[storage]\ndata_dir = "/sys"\n')
    monkeypatch.setattr("console.config.SYSTEM_CONFIG", system)
    assert load_settings(None, env={}).data_dir == Path("/sys")


def test_database_url_from_environment_wins(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[database]\nurl = "sqlite:////a.db"\n')
    settings = load_settings(cfg, env={"FLOWPRO_DATABASE_URL": "postgresql://x@h/db"})
    assert settings.database_url == "postgresql://x@h/db"


@pytest.mark.parametrize(("text", "expected"), [
    ('[storage]\ndata_dri = "x"\n', "[storage] data_dri: unknown key"),
    ('[securty]\n', "securty: unknown key"),
    ('[security]\nlockout_threshold = "5"\n', "[security] lockout_threshold: Input should be a valid integer"),
    ('[security]\nlockout_threshold = 0\n', "[security] lockout_threshold: Input should be greater than or equal to 1"),
    ('[security]\nargon2_memory_kib = 1024\n', "argon2_memory_kib"),
    ('[ui]\ncolor_system = "neon"\n', "'auto', 'standard', '256', 'truecolor' or 'none'"),
    ('[ui]\ntimezone = "Mars/Olympus"\n', "IANA zone"),
    ('[database]\nurl = "mysql://x"\n', "sqlite:/// or postgresql://"),
    ('[database]\nsslmode = "sometimes"\n', "[database] sslmode"),
    ('[keys]\n"nav.users" = 2\n', "[keys] nav.users"),
    ("[storage\n", "not valid TOML"),
])
def test_bad_config_is_one_clear_error_naming_file_and_key(tmp_path: Path, text: str,
                                                           expected: str) -> None:
    cfg = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    message = str(err.value)
    assert str(cfg) in message
    assert expected in message
    assert "\n" not in message
    assert err.value.exit_code == 2


def test_missing_named_file_and_no_file_at_all(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="no config.toml found"):
        load_settings(None, env={})
