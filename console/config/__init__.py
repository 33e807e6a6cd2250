"""config.toml -> typed, validated, frozen settings.

Discovery, highest first: the `--config` flag, `FLOWPRO_CONSOLE_CONFIG`, `./config.toml`,
`/etc/flowpro-console/config.toml`. `FLOWPRO_DATABASE_URL` overrides `[database] url`.
Every problem is one `ConfigError` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from console.config.governance import (  # noqa: F401 - the sections are part of this API
    DEFAULT_POLICIES,
    KEEP_UNITS,
    AgreementSettings,
    BackupsSettings,
    ExportsSettings,
    PolicyAction,
    PolicyEntry,
    RequestsSettings,
    RetentionSettings,
    parse_keep,
)
from console.config.schedules import (  # noqa: F401
    DEFAULT_SCHEDULES,
    WEEKDAYS,
    WHEN_FORMS,
    ScheduleEntry,
    When,
    parse_when,
)
from console.config.sections import (  # noqa: F401
    LOG_FORMATS,
    AuditSettings,
    ColorSystem,
    DatabaseSettings,
    JobsSettings,
    LogSource,
    LogsSettings,
    SchedulerSettings,
    Section,
    SecuritySettings,
    SslMode,
    StorageSettings,
    SupportSettings,
    UiSettings,
    check_path_text,
    check_zone,
)
from console.errors import ConfigError

ENV_CONFIG = "FLOWPRO_CONSOLE_CONFIG"
ENV_DATABASE_URL = "FLOWPRO_DATABASE_URL"
SYSTEM_CONFIG = Path("/etc/flowpro-console/config.toml")


class Settings(Section):
    """The whole configuration. `source` is the file it came from (None: built-in defaults)."""

    storage: StorageSettings = StorageSettings()
    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings = SecuritySettings()
    ui: UiSettings = UiSettings()
    audit: AuditSettings = AuditSettings()
    logs: LogsSettings = LogsSettings()
    support: SupportSettings = SupportSettings()
    jobs: JobsSettings = JobsSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    schedules: dict[str, ScheduleEntry] = Field(default_factory=lambda: {
        name: ScheduleEntry(**entry) for name, entry in DEFAULT_SCHEDULES.items()})
    exports: ExportsSettings = ExportsSettings()
    backups: BackupsSettings = BackupsSettings()
    requests: RequestsSettings = RequestsSettings()
    retention: RetentionSettings = RetentionSettings()
    agreement: AgreementSettings = AgreementSettings()
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("schedules", mode="before")
    @classmethod
    def _default_schedules(cls, value: Any) -> Any:
        # The built-in schedules stay unless the file names them (say, to disable one).
        if isinstance(value, Mapping):
            return {**DEFAULT_SCHEDULES, **value}
        return value

    @field_validator("schedules")
    @classmethod
    def _schedule_names(cls, value: dict[str, ScheduleEntry]) -> dict[str, ScheduleEntry]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
                raise ValueError(f"schedule name {name!r} must be 1-64 letters, digits, "
                                 "'-', '_' or '.'")
        return value

    # Not read from the file: where it came from, and the resolved data directory.
    source: Path | None = Field(default=None, exclude=True)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @property
    def data_dir(self) -> Path:
        path = Path(self.storage.data_dir).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def exports_dir(self) -> Path:
        return self._under_data_dir(self.exports.output_dir, "exports")

    @property
    def backups_dir(self) -> Path:
        return self._under_data_dir(self.backups.dir, "backups")

    def _under_data_dir(self, value: str, default: str) -> Path:
        if not value:
            return self.data_dir / default
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_dir / 'console.db'}"


def find_config(flag: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read, by precedence; None when there is none anywhere."""
    env = os.environ if env is None else env
    if flag:
        return Path(flag)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    for candidate in (Path.cwd() / "config.toml", SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def _key_part(part: object) -> str:
    """A key as written in TOML; quoted (escapes shown) unless it is a bare key, so a key
    holding a newline or an escape sequence cannot break the one-line message."""
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_.@-]+", text) else repr(text)


def _describe(error: Mapping[str, Any]) -> str:
    loc = [_key_part(part) for part in error["loc"]]
    key = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else loc[0] if loc else "?"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key; remove it or check its spelling"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    got = error.get("input")
    if kind != "missing" and not isinstance(got, dict):
        message += f" (got {got!r})"
    return f"{key}: {message}"


def parse_settings(data: Mapping[str, Any], *, source: Path | None = None,
                   env: Mapping[str, str] | None = None) -> Settings:
    """Validate a parsed TOML document. Raises ConfigError naming the file and the key."""
    env = os.environ if env is None else env
    base = source.resolve().parent if source else Path.cwd()
    try:
        settings = Settings.model_validate({**data, "source": source, "base_dir": base})
    except PydanticValidationError as exc:
        where = str(source) if source else "built-in defaults"
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"config error in {where}: {_describe(first)}{more}") from None
    override = env.get(ENV_DATABASE_URL)
    if override:
        settings = settings.model_copy(
            update={"database": settings.database.model_copy(update={"url": override})})
    return settings


def load_settings(flag: str | Path | None = None, env: Mapping[str, str] | None = None,
                  *, required: bool = True) -> Settings:
    """Find, read and validate the configuration.

    Raises ConfigError when the named file is missing or invalid, or when `required` and
    no config file exists anywhere.
    """
    env = os.environ if env is None else env
    path = find_config(flag, env)
    if path is None:
        if required:
            raise ConfigError(
                "no config.toml found: looked in ./config.toml and "
                f"{SYSTEM_CONFIG}; pass --config PATH, set {ENV_CONFIG}, "
                "or run `flowpro-console init`")
        return parse_settings({}, env=env)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check --config or {ENV_CONFIG}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config error in {path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    return parse_settings(data, source=path, env=env)
