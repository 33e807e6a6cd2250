"""The sections of config.toml that run the console itself: storage, database, security,
the UI, logs, audit, support access, jobs and the scheduler process."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def check_path_text(value: str) -> str:
    """A path or URL as the OS takes it: no NUL byte."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


class StorageSettings(Section):
    data_dir: str = "var"

    @field_validator("data_dir")
    @classmethod
    def _a_path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a directory")
        return check_path_text(value)


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
        return check_path_text(value)

    @field_validator("sslrootcert", "sslcert", "sslkey")
    @classmethod
    def _paths(cls, value: str) -> str:
        return check_path_text(value)


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

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("os_user")
    @classmethod
    def _os_name(cls, value: str) -> str:

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

