"""The sections that govern the client's data: exports, backups, data-subject requests,
retention policies and the agreement's end."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from console.config.sections import Section


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
    batch_target_ms: float = Field(default=12.0, ge=1, le=25, strict=False)
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


