"""Retention policies: per data category, how long its rows are kept and what happens then.

The defaults come from `[retention.policies]` in the config; `set_policy` overrides one in
the console (audited with before and after, refusals too). No policy may keep a category
for less than its legal minimum (the catalog's `legal_minimum_days`).
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from console import audit, clock
from console.anonymize import is_anonymizable
from console.catalog import CATEGORIES, Category, category
from console.config import DEFAULT_POLICIES, PolicyAction, RetentionSettings, parse_keep
from console.contract import service
from console.db import writing
from console.errors import ConfigError, ValidationError
from console.permissions import Permission
from console.principal import Principal
from models.retention import RetentionPolicy


def subtract(day: date, value: int, unit: str) -> date:
    """`day` minus `value` days, months or years (calendar months, the day clamped to the
    month's length: March 31st minus one month is February 28th or 29th)."""
    if unit == "days":
        return day - timedelta(days=value)
    months = value * 12 if unit == "years" else value
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def shortest_days(value: int, unit: str) -> int:
    """The fewest days a keep period can last (a year is at least 365 days, a month 28)."""
    if unit == "days":
        return value
    if unit == "years":
        return value * 365
    return (value // 12) * 365 + (value % 12) * 28


def describe_days(days: int) -> str:
    if days % 365 == 0:
        return f"{days // 365} year{'s' if days != 365 else ''}"
    return f"{days} days"


@dataclass(frozen=True)
class Policy:
    category: str
    title: str
    owner: str
    keep_value: int | None
    keep_unit: str | None
    action: str
    basis: str
    enabled: bool
    source: str  # config | console | none
    updated_by: str = ""
    updated_at: datetime | None = None
    legal_minimum_days: int = 0
    legal_basis: str = ""
    problem: str = ""
    anonymizable: bool = False

    @property
    def keep(self) -> str:
        if self.keep_value is None or self.keep_unit is None:
            return ""
        unit = self.keep_unit[:-1] if self.keep_value == 1 else self.keep_unit
        return f"{self.keep_value} {unit}"

    @property
    def legal_minimum(self) -> str:
        return describe_days(self.legal_minimum_days) if self.legal_minimum_days else ""

    def cutoff(self, as_of: date) -> date | None:
        """Rows aged before this day are due (never later than the legal minimum allows);
        None when the policy is off."""
        if not self.enabled or self.keep_value is None or self.keep_unit is None:
            return None
        day = subtract(as_of, self.keep_value, self.keep_unit)
        if self.legal_minimum_days:
            day = min(day, as_of - timedelta(days=self.legal_minimum_days))
        return day

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "keep": self.keep, "legal_minimum": self.legal_minimum}


def check_config(config: RetentionSettings) -> None:
    """ConfigError for a [retention.policies] table naming a category the catalog lacks.
    (Defaults for categories this build does not have are skipped.)"""
    known = {c.name.value for c in CATEGORIES}
    for name in config.policies:
        if name not in known and name not in DEFAULT_POLICIES:
            raise ConfigError(f"config error: [retention.policies.{name}]: unknown data "
                              f"category; known: {', '.join(sorted(known))}")


def _validate(cat: Category, value: int, unit: str, action: str) -> str:
    """'' when valid, else why not (one line)."""
    floor = cat.legal_minimum_days
    if floor and shortest_days(value, unit) < floor:
        return (f"{cat.name.value} must be kept at least {describe_days(floor)} "
                f"({cat.legal_minimum_basis}); {value} {unit} is shorter")
    if action == PolicyAction.ANONYMIZE and not is_anonymizable(cat):
        return (f"{cat.name.value} holds no personal-data columns to anonymize; "
                "use action delete")
    return ""


def _from(cat: Category, config: RetentionSettings, row: RetentionPolicy | None) -> Policy:
    base = {"category": cat.name.value, "title": cat.title, "owner": cat.owner.value,
            "legal_minimum_days": cat.legal_minimum_days,
            "legal_basis": cat.legal_minimum_basis, "anonymizable": is_anonymizable(cat)}
    if row is not None:
        return Policy(**base, keep_value=row.keep_value, keep_unit=row.keep_unit,
                      action=row.action, basis=row.basis, enabled=row.enabled,
                      source="console", updated_by=row.updated_by, updated_at=row.updated_at,
                      problem=_validate(cat, row.keep_value, row.keep_unit, row.action))
    entry = config.policies.get(cat.name.value)
    if entry is None:
        return Policy(**base, keep_value=None, keep_unit=None, action="", basis="",
                      enabled=False, source="none")
    value, unit = parse_keep(entry.keep)
    problem = _validate(cat, value, unit, entry.action.value)
    return Policy(**base, keep_value=value, keep_unit=unit, action=entry.action.value,
                  basis=entry.basis, enabled=entry.enabled, source="config",
                  problem=(f"config: {problem}; the legal minimum applies" if problem else ""))


def effective(db: Session, config: RetentionSettings) -> dict[str, Policy]:
    """Every catalog category's policy as it applies now (no permission check)."""
    check_config(config)
    rows = {r.category: r for r in db.execute(select(RetentionPolicy)).scalars()}
    return {c.name.value: _from(c, config, rows.get(c.name.value)) for c in CATEGORIES}


@service("retention.read")
def list_policies(db: Session, actor: Principal, config: RetentionSettings) -> list[Policy]:
    """Each data category's policy, its source and its legal minimum. Needs retention.read.
    Raises ConfigError for a [retention.policies] table of an unknown category."""
    actor.require(Permission.RETENTION_READ)
    result = list(effective(db, config).values())
    db.rollback()
    return result


def _snapshot(policy: Policy) -> dict[str, Any]:
    return {"keep": policy.keep, "action": policy.action, "basis": policy.basis,
            "enabled": policy.enabled, "source": policy.source}


@service("retention.policy_set", audit_errors=True, target_prefix="policy:")
def set_policy(db: Session, actor: Principal, category_name: str, config: RetentionSettings,
               *, keep: str | None = None, action: str | None = None,
               basis: str | None = None, enabled: bool | None = None) -> Policy:
    """Change a category's policy (what is not given stays). Needs retention.manage.
    Audited with before and after; a refusal is audited with its reason. Raises
    ValidationError: unknown category, unreadable keep period, below the legal minimum,
    anonymize without personal-data columns, no policy to enable."""
    actor.require(Permission.RETENTION_MANAGE)
    try:
        cat = category(category_name)
    except KeyError as exc:
        raise ValidationError("category", str(exc.args[0])) from None
    with writing(db):
        before = effective(db, config)[cat.name.value]
        value, unit = before.keep_value, before.keep_unit
        if keep is not None:
            try:
                value, unit = parse_keep(keep)
            except ValueError as exc:
                raise ValidationError("keep", str(exc)) from None
        new_action = before.action if action is None else action.strip().lower()
        if new_action not in (a.value for a in PolicyAction):
            raise ValidationError("action", f"must be delete or anonymize, not {new_action!r}"
                                  if new_action else "say delete or anonymize")
        if value is None or unit is None:
            raise ValidationError("keep", f"{cat.name.value} has no policy yet: give a keep "
                                  "period such as '3 years'")
        problem = _validate(cat, value, unit, new_action)
        if problem:
            raise ValidationError("keep" if "kept at least" in problem else "action", problem)
        new_basis = before.basis if basis is None else " ".join(basis.split())
        if len(new_basis) > 500:
            raise ValidationError("basis", "at most 500 characters")
        row = db.get(RetentionPolicy, cat.name.value) or RetentionPolicy(
            category=cat.name.value, keep_value=value, keep_unit=unit, action=new_action,
            updated_at=clock.now(), updated_by=actor.name)
        row.keep_value, row.keep_unit, row.action, row.basis = value, unit, new_action, new_basis
        row.enabled = before.enabled if enabled is None else enabled
        if before.source == "none" and enabled is None:
            row.enabled = True
        row.updated_at, row.updated_by = clock.now(), actor.name
        after = _from(cat, config, row)
        if _snapshot(after) | {"source": ""} == _snapshot(before) | {"source": ""}:
            db.rollback()
            return before
        db.add(row)
        audit.record(db, actor, "retention.policy_set", target=f"policy:{cat.name.value}",
                     details={"before": _snapshot(before), "after": _snapshot(after)})
    return after


@service("retention.policy_set", audit_errors=True, target_prefix="policy:")
def reset_policy(db: Session, actor: Principal, category_name: str,
                 config: RetentionSettings) -> Policy:
    """Drop the console's override: the config default applies again. Needs
    retention.manage; audited with before and after. Raises ValidationError."""
    actor.require(Permission.RETENTION_MANAGE)
    try:
        cat = category(category_name)
    except KeyError as exc:
        raise ValidationError("category", str(exc.args[0])) from None
    with writing(db):
        row = db.get(RetentionPolicy, cat.name.value)
        before = _from(cat, config, row)
        if row is None:
            return before
        db.delete(row)
        after = _from(cat, config, None)
        audit.record(db, actor, "retention.policy_set", target=f"policy:{cat.name.value}",
                     details={"before": _snapshot(before), "after": _snapshot(after),
                              "reset": True})
    return after
