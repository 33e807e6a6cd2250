"""From a register row to the data files of its bundle: which rows of which categories.

- handover: every chosen category whole.
- subject: each category by every link the catalog declares for that kind of person (an
  employee's profile, payroll, attendance, the sales they rang up, the audit events naming
  them, the log lines mentioning their employee number, email or phone). Columns that are
  another person's data in a linked row (the customer of a sale an employee rang up) are
  withheld.
- logs: the processing logs matching the saved filter, through the log store's queries.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from console.catalog import LinkMatch, SubjectKind, category
from console.export.logrows import LogPart
from console.export.rows import Part, TablePart
from console.permissions import Permission
from console.principal import Principal, PrincipalKind
from models.business import Customer, Employee
from models.exports import Export

LOGS = "processing_logs"


def filter_to_json(flt: Any) -> dict[str, Any]:
    """A LogFilter as JSON (kept on the export so that a resumed run reads the same)."""
    return {k: v for k, v in {
        "levels": sorted(flt.levels) if flt.levels is not None else None,
        "sources": sorted(flt.sources) if flt.sources is not None else None,
        "hosts": sorted(flt.hosts) if flt.hosts is not None else None,
        "since": flt.since.isoformat() if flt.since else None,
        "until": flt.until.isoformat() if flt.until else None,
        "text": flt.text or None, "regex": flt.regex or None}.items() if v is not None}


def filter_from_json(data: dict[str, Any]) -> Any:
    from console.logs.query import LogFilter

    def opt(name: str) -> frozenset[Any] | None:
        value = data.get(name)
        return frozenset(value) if value is not None else None

    return LogFilter(
        levels=opt("levels"), sources=opt("sources"), hosts=opt("hosts"),
        since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
        until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
        text=data.get("text") or "", regex=data.get("regex") or "")


def log_reader(name: str, masked: bool) -> Principal:
    """Who the log store reads as: masking follows the export's author, not the runner."""
    permissions = {Permission.LOGS_READ} | (set() if masked else {Permission.PII_READ})
    return Principal(name=name, kind=PrincipalKind.OS, permissions=frozenset(permissions))


def _phrase(value: str) -> str:
    return '"' + value.replace('"', " ") + '"'


def mention_filters(db: Session, kind: SubjectKind, subject_id: int,
                    columns: tuple[str, ...]) -> list[Any]:
    """One phrase search per identifying value of the subject (employee number, email,
    phone): the lines mentioning them, whichever they use."""
    from console.logs.query import LogFilter

    model = Employee if kind is SubjectKind.EMPLOYEE else Customer
    row = db.get(model, subject_id)
    if row is None:
        return []
    values = [str(getattr(row, c)) for c in columns if getattr(row, c, None)]
    return [LogFilter(text=_phrase(v)) for v in dict.fromkeys(values)]


def build_parts(db: Session, export: Export) -> list[Part]:
    names = json.loads(export.categories)
    masked = export.masked
    reader = log_reader(export.created_by, masked)
    parts: list[Part] = []
    if export.kind == "logs":
        part = LogPart(reader, [filter_from_json(json.loads(export.filters))])
        return [part]
    subject = None
    if export.subject_kind:
        subject = (SubjectKind(export.subject_kind), int(export.subject_id or 0))
    for name in names:
        cat = category(name)
        if name != LOGS:
            parts.append(TablePart(cat, masked=masked, subject=subject))
            continue
        if subject is None:
            parts.append(LogPart(reader, [filter_from_json({})]))
            continue
        part = LogPart(reader, [])
        if masked:
            part.notes.append("not searched: finding a person's log lines means searching "
                              "for their personal data, which needs pii.read")
        else:
            for link in cat.all_links_to(subject[0]):
                if link.match is LinkMatch.MENTIONS:
                    part.filters += mention_filters(db, subject[0], subject[1], link.mentions)
            part.notes.append("lines mentioning the person's " + ", ".join(
                dict.fromkeys(c for link in cat.all_links_to(subject[0]) for c in link.mentions)))
        parts.append(part)
    db.rollback()
    return parts
