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
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from console.errors import ConfigError

ENV_CONFIG = "FLOWPRO_CONSOLE_CONFIG"
ENV_DATABASE_URL = "FLOWPRO_DATABASE_URL"
SYSTEM_CONFIG = Path("/etc/flowpro-console/config.toml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StorageSettings(Section):
    data_dir: str = "var"


class SslMode(StrEnum):
    DISABLE = "disable"
    ALLOW = "allow"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class DatabaseSettings(Section):
    url: str = ""
    sslmode: SslMode = Field(default=SslMode.PREFER, strict=False)
    sslrootcert: str = ""
    sslcert: str = ""
    sslkey: str = ""
    busy_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
    pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class SecuritySettings(Section):
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=8192, le=4_194_304)
    argon2_parallelism: int = Field(default=4, ge=1, le=64)
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_window_minutes: int = Field(default=15, ge=1, le=1440)
    lockout_minutes: int = Field(default=15, ge=1, le=10080)
    password_min_length: int = Field(default=12, ge=8, le=256)
    password_min_score: int = Field(default=3, ge=0, le=4)
    mfa_required_roles: tuple[str, ...] = Field(default=(), strict=False)
    idle_lock_minutes: int = Field(default=10, ge=1, le=1440)
    trust_os_owner: bool = True


def check_zone(value: str) -> str:
    if value in ("local", "UTC"):
        return value
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("must be 'local', 'UTC' or an IANA zone like 'Europe/Berlin'") from exc
    return value


class ColorSystem(StrEnum):
    AUTO = "auto"
    STANDARD = "standard"
    EIGHT_BIT = "256"
    TRUECOLOR = "truecolor"
    NONE = "none"


class UiSettings(Section):
    color_system: ColorSystem = Field(default=ColorSystem.AUTO, strict=False)
    mouse: bool = True
    timezone: str = "local"
    theme: str = "textual-dark"
    login_banner: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)


LOG_FORMATS = ("auto", "jsonl", "syslog", "apache-access", "apache-error", "python", "generic")


class LogSource(Section):
    """One `[logs.sources.<name>]` table: files the `logs-ingest` job reads, stored under
    the source name `<name>`."""

    paths: tuple[str, ...] = Field(min_length=1, strict=False)
    format: str = "auto"
    enabled: bool = True

    @field_validator("paths")
    @classmethod
    def _absolute(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"{path!r} is not an absolute path (or glob pattern)")
        return value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in LOG_FORMATS:
            raise ValueError(f"unknown format {value!r}; use one of: {', '.join(LOG_FORMATS)}")
        return value


class LogsSettings(Section):
    timezone: str = "local"
    follow_poll_seconds: float = Field(default=1.0, ge=0.05, le=60, strict=False)
    sources: dict[str, LogSource] = Field(default_factory=dict)

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, LogSource]) -> dict[str, LogSource]:
        for name in value:
            if not name.strip() or len(name) > 64 or "," in name:
                raise ValueError(f"source name {name!r} must be 1-64 characters without commas")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)


class AuditSettings(Section):
    checkpoint_every: int = Field(default=100, ge=1, le=100_000)


class SupportSettings(Section):
    """FlowPro support access: grants, requests and the SSH gate."""

    ticket_pattern: str = r"^FP-[0-9]+$"
    default_hours: float = Field(default=4.0, gt=0, le=72)
    max_hours: float = Field(default=8.0, gt=0, le=72)
    request_expiry_hours: float = Field(default=12.0, gt=0, le=720)
    approvers_required: int = Field(default=1, ge=1, le=2)
    os_user: str = "flowpro-support"
    console_command: str = ""

    @field_validator("ticket_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("os_user")
    @classmethod
    def _os_name(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value):
            raise ValueError("must be an OS account name (lowercase, up to 32 characters)")
        return value

    @field_validator("console_command")
    @classmethod
    def _absolute(cls, value: str) -> str:
        # It ends up inside command="..." in authorized_keys: no quotes, no escapes.
        if value and (not value.startswith("/") or any(c in value for c in '"\\\n\r')):
            raise ValueError("must be an absolute path without quotes or backslashes")
        return value

    @model_validator(mode="after")
    def _default_within_max(self) -> SupportSettings:
        if self.default_hours > self.max_hours:
            raise ValueError(f"default_hours ({self.default_hours}) is above max_hours "
                             f"({self.max_hours})")
        return self


class JobsSettings(Section):
    heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    lease_seconds: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> JobsSettings:
        if self.lease_seconds < 3 * self.heartbeat_seconds:
            raise ValueError("lease_seconds must be at least 3 x heartbeat_seconds, so that "
                             "one late heartbeat does not make a live job look dead")
        return self


class SchedulerSettings(Section):
    max_workers: int = Field(default=2, ge=1, le=32)
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    resume_interrupted: bool = True
    max_auto_resumes: int = Field(default=3, ge=0, le=100)
    stop_timeout_seconds: float = Field(default=60.0, ge=1, le=3600)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WHEN_FORMS = ("every N seconds|minutes|hours|days|weeks", "hourly [:MM]", "daily HH:MM",
              "weekly <weekday> HH:MM")
_UNITS = ("second", "minute", "hour", "day", "week")
_HHMM = r"([01]\d|2[0-3]):([0-5]\d)"


@dataclass(frozen=True)
class When:
    """A parsed schedule time: every `interval` `unit` (seconds..weeks or a weekday),
    optionally `at` a time ("HH:MM", or ":MM" for hourly) in the server's local time."""

    interval: int
    unit: str
    at: str | None = None


def parse_when(text: str) -> When:
    """Parse 'every 5 minutes', 'hourly :15', 'daily 02:00', 'weekly sunday 03:30'.
    Raises ValueError listing the accepted forms."""
    value = " ".join(text.lower().split())
    m = re.fullmatch(r"every (?:(\d{1,6}) )?(second|minute|hour|day|week)s?", value)
    if m:
        interval = int(m.group(1) or 1)
        if interval >= 1:
            return When(interval, f"{m.group(2)}s")
    m = re.fullmatch(r"hourly(?: (?:at )?:([0-5]\d))?", value)
    if m:
        return When(1, "hours", f":{m.group(1)}" if m.group(1) else None)
    m = re.fullmatch(rf"(?:daily|every day)(?: at)? {_HHMM}", value)
    if m:
        return When(1, "days", f"{m.group(1)}:{m.group(2)}")
    m = re.fullmatch(rf"(?:weekly |every )({'|'.join(WEEKDAYS)})(?: at)? {_HHMM}", value)
    if m:
        return When(1, m.group(1), f"{m.group(2)}:{m.group(3)}")
    raise ValueError(f"cannot read {text!r} as a time; use one of: {'; '.join(WHEN_FORMS)}")


class ScheduleEntry(Section):
    """One `[schedules.<name>]` table: start a run of `kind` with `params` `when` due."""

    kind: str = Field(min_length=1, max_length=64)
    when: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("when")
    @classmethod
    def _readable_when(cls, value: str) -> str:
        parse_when(value)
        return value


class ExportsSettings(Section):
    """Bundles of the client's data: where they go, and to whom they are encrypted."""

    output_dir: str = ""  # "" = <data_dir>/exports
    # age recipients (age1...) per purpose, used when an export names none itself.
    recipients: dict[str, tuple[str, ...]] = Field(default_factory=dict, strict=False)
    # scrypt work factor (log2 N) for passphrase-encrypted bundles; age's default is 18.
    passphrase_work_factor: int = Field(default=18, ge=10, le=22)
    rows_per_step: int = Field(default=50_000, ge=100, le=1_000_000)

    @field_validator("recipients", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        # TOML gives lists; the strict section would refuse them as the tuples kept here.
        if isinstance(value, Mapping):
            return {p: tuple(k) if isinstance(k, list) else k for p, k in value.items()}
        return value

    @field_validator("recipients")
    @classmethod
    def _purposes_and_keys(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        from console.export.purposes import EXPORT_PURPOSES, check_recipient

        known = [p.value for p in EXPORT_PURPOSES]
        for purpose, keys in value.items():
            if purpose not in known:
                raise ValueError(f"unknown purpose {purpose!r}; known: {', '.join(known)}")
            for key in keys:
                check_recipient(key)
        return {p: tuple(k.strip() for k in keys) for p, keys in value.items()}


class BackupsSettings(Section):
    """Encrypted copies of the whole database (`flowpro-console backup`)."""

    dir: str = ""  # "" = <data_dir>/backups
    keep: int = Field(default=7, ge=1, le=1000)
    # age recipients (age1...) of scheduled backups and of `backup create` without options.
    recipients: tuple[str, ...] = Field(default=(), strict=False)

    @field_validator("recipients")
    @classmethod
    def _keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from console.export.purposes import check_recipient

        return tuple(check_recipient(k) for k in value)


class RequestsSettings(Section):
    """Data-subject requests (access, rectification, erasure, ...)."""

    due_days: int = Field(default=30, ge=1, le=365)
    due_soon_days: int = Field(default=7, ge=0, le=365)


KEEP_UNITS = ("days", "months", "years")


def parse_keep(text: str) -> tuple[int, str]:
    """'7 years' -> (7, 'years'); also '90 days', '18 months', '1 year'. Raises ValueError
    saying what is accepted."""
    m = re.fullmatch(r"\s*(\d{1,5})\s*(day|month|year)s?\s*", str(text).lower())
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"cannot read {text!r} as a keep period; write e.g. '90 days', "
                         "'18 months' or '7 years' (at least 1)")
    return int(m.group(1)), f"{m.group(2)}s"


class PolicyAction(StrEnum):
    DELETE = "delete"
    ANONYMIZE = "anonymize"


class PolicyEntry(Section):
    """One `[retention.policies.<category>]` table: the default policy of a data category
    (the console's `retention set` overrides it, audited)."""

    keep: str
    action: PolicyAction = Field(default=PolicyAction.DELETE, strict=False)
    basis: str = Field(default="", max_length=500)
    enabled: bool = True

    @field_validator("keep")
    @classmethod
    def _readable_keep(cls, value: str) -> str:
        number, unit = parse_keep(value)
        return f"{number} {unit}"


# Defaults reflecting common law; a [retention.policies.<category>] table overrides them key
# by key. Categories the catalog does not know (yet) are ignored here, never in a config file.
DEFAULT_POLICIES: dict[str, dict[str, Any]] = {
    "payroll": {"keep": "7 years", "action": "anonymize",
                "basis": "payroll and tax records must be kept 6 years; anonymized after 7"},
    "sales": {"keep": "7 years", "action": "anonymize",
              "basis": "sales and tax records must be kept 6 years; anonymized after 7"},
    "attendance": {"keep": "3 years", "action": "delete",
                   "basis": "working-time records: 3 years"},
    "employees": {"keep": "7 years", "action": "anonymize",
                  "basis": "profiles of former employees, 7 years after the termination date"},
    "customers": {"keep": "3 years", "action": "anonymize", "enabled": False,
                  "basis": "customer profiles; ages from the sign-up date (off by default)"},
    "processing_logs": {"keep": "90 days", "action": "delete",
                        "basis": "debugging, performance and security monitoring"},
    "audit_events": {"keep": "7 years", "action": "delete",
                     "basis": "accountability for every change and access"},
    "support_sessions": {"keep": "2 years", "action": "delete",
                         "basis": "record of FlowPro support access"},
    "job_runs": {"keep": "1 year", "action": "delete",
                 "basis": "history of background work (only runs that have ended)"},
}


class RetentionSettings(Section):
    """Retention: default policies per data category and how runs pace themselves."""

    policies: dict[str, PolicyEntry] = Field(default_factory=dict)
    drift_threshold_percent: float = Field(default=1.0, ge=0, le=100, strict=False)
    batch_target_ms: float = Field(default=8.0, ge=1, le=25, strict=False)
    pause_ms: float = Field(default=10.0, ge=0, le=1000, strict=False)
    sample_rows: int = Field(default=3, ge=0, le=20)

    @field_validator("policies", mode="before")
    @classmethod
    def _merge_defaults(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        merged: dict[str, Any] = {k: dict(v) for k, v in DEFAULT_POLICIES.items()}
        for name, entry in value.items():
            if isinstance(entry, Mapping):
                merged[name] = {**merged.get(name, {}), **entry}
            else:
                merged[name] = entry
        return merged

    @model_validator(mode="before")
    @classmethod
    def _default_policies(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "policies" not in data:
            return {**data, "policies": {}}
        return data


class AgreementSettings(Section):
    """The service agreement: when it ends and how long the grace window lasts."""

    end_date: date | None = Field(default=None, strict=False)
    grace_days: int = Field(default=30, ge=0, le=3650)

    @field_validator("end_date", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


# Schedules every installation has unless its config says otherwise: retention applies
# its policies daily (`[schedules.retention] enabled = false` turns it off).
DEFAULT_SCHEDULES: dict[str, dict[str, Any]] = {
    "retention": {"kind": "retention", "when": "daily 02:30"},
}


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


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
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
