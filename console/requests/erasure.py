"""Erasure: anonymize one person across every category by the catalog's rules
(`console.anonymize`), except the rows a legal hold or a legal minimum keeps
(`console.retention.holds.keeps`); say what was kept and why; destroy their sealing key;
record it in the erasure ledger; and re-apply the ledger after a restore.

Which rows are theirs: every id link the catalog declares. A category is anonymized for
the person only when every personal column it would change is theirs: a sale rung up by an
employee is the customer's data too, so erasing the employee leaves it (their link then
points at their anonymized profile). Their profile is kept as it is while rows that the
law or a hold keeps still point at it (a payroll record within its six years must say
whose it is); retention anonymizes it once those rows age out.

The ledger holds no personal data: the subject's HMAC (console.requests.subjects.
subject_key), the categories, the time. It lives in the database and, appended and synced,
in `<data_dir>/erasure-ledger.jsonl`, so that a restore of an older backup, which brings
back the database as it was, still knows everyone erased since.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from console import audit, clock
from console.anonymize import anonymize_where, needs_anonymizing, pk_column, table_of
from console.catalog import CATEGORIES, Anonymize, Category, SubjectKind
from console.contract import service
from console.db import writing
from console.keys import KeyStore
from console.permissions import Permission
from console.principal import Principal
from console.requests.subjects import forget_key, subject_key
from console.retention.holds import keeps
from models.exports import Export
from models.requests import ErasureRecord

LEDGER_FILE = "erasure-ledger.jsonl"


@dataclass
class CategoryOutcome:
    category: str
    anonymized: int = 0
    kept: list[str] = field(default_factory=list)


@dataclass
class Erasure:
    kind: str
    subject_id: int
    categories: list[CategoryOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def anonymized(self) -> int:
        return sum(c.anonymized for c in self.categories)

    @property
    def erased_categories(self) -> list[str]:
        return [c.category for c in self.categories if c.anonymized]

    def response(self) -> dict[str, Any]:
        return {"anonymized": {c.category: c.anonymized for c in self.categories},
                "kept": {c.category: c.kept for c in self.categories if c.kept},
                "notes": self.notes}


def _theirs(cat: Category, kind: SubjectKind) -> bool | None:
    """True: every column anonymization changes in `cat` is the person's; False: none is;
    None: some are (the rows are shared with other people)."""
    id_links = {link.column: link.kind for link in cat.subject_links
                if link.match.value == "id"}
    owners = []
    for pii in cat.pii:
        if pii.rule is Anonymize.KEEP:
            continue
        owner = pii.of or id_links.get(pii.name)
        if owner is None:
            kinds = set(id_links.values())
            owner = next(iter(kinds)) if len(kinds) == 1 else None
        owners.append(owner == kind)
    if not owners:
        return False
    return True if all(owners) else (False if not any(owners) else None)


def _profile(kind: SubjectKind) -> Category:
    return next(c for c in CATEGORIES if any(
        link.kind == kind and link.column == pk_column(c).name for link in c.links_to(kind)))


def erase(db: Session, actor: Principal, keys: KeyStore, kind: SubjectKind, subject_id: int,
          *, data_dir: Path) -> Erasure:
    """Anonymize the subject (inside the caller's write transaction); returns what was
    done and kept. The caller records the ledger entry (`record_erasure`)."""
    key = keys.pseudonym_key()
    now = clock.now()
    result = Erasure(kind.value, subject_id)
    profile = _profile(kind)
    kept_elsewhere: list[str] = []
    for cat in CATEGORIES:
        if cat is profile or not cat.links_to(kind):
            continue
        theirs = _theirs(cat, kind)
        outcome = CategoryOutcome(cat.name.value)
        scope = keeps(db, cat, subject=(kind, subject_id))
        if theirs is False:
            outcome.kept.append("nothing of theirs to anonymize: these rows are other "
                                "people's data that names them only by id")
        elif theirs is None:
            outcome.kept.append("kept: the rows also hold other people's data")
        else:
            outcome.anonymized = anonymize_where(db, cat, scope.changeable, key=key, now=now)
            outcome.kept += scope.reasons
            if scope.held_rows or scope.legal_minimum_rows:
                kept_elsewhere += [f"{cat.name.value}: {r}" for r in scope.reasons]
        result.categories.append(outcome)
    outcome = CategoryOutcome(profile.name.value)
    scope = keeps(db, profile, subject=(kind, subject_id))
    if kept_elsewhere:
        outcome.kept.append("the profile is kept as it is while records the law or a hold "
                            "keeps still belong to it (" + "; ".join(kept_elsewhere) +
                            "); retention anonymizes it when they age out")
    else:
        outcome.anonymized = anonymize_where(db, profile, scope.changeable, key=key, now=now)
        outcome.kept += scope.reasons
    result.categories.insert(0, outcome)
    if forget_key(db, keys, kind, subject_id):
        result.notes.append("personal values sealed in the audit trail (rectifications) are "
                            "unreadable now: their key was destroyed")
    result.notes += _console_notes(db, kind, subject_id)
    return result


def _console_notes(db: Session, kind: SubjectKind, subject_id: int) -> list[str]:
    notes = ["audit trail: kept unchanged (append-only and hash-chained, for accountability); "
             "it names the person only by id",
             "processing logs: lines are not edited; they are deleted by the logs retention "
             "policy"]
    exports = list(db.exec(select(Export).where(Export.subject_kind == kind.value)
                           .where(Export.subject_id == subject_id)
                           .where(Export.state == "done")))
    if exports:
        notes.append("earlier exports of this person (delete any copy still held): " +
                     ", ".join(f"#{e.id} {e.path}" for e in exports))
    return notes


def still_personal(db: Session, kind: SubjectKind, subject_id: int) -> bool:
    """Whether the subject's profile still holds personal data."""
    profile = _profile(kind)
    table = table_of(profile)
    row = db.execute(select(func.count()).select_from(table).where(and_(
        pk_column(profile) == subject_id, needs_anonymizing(profile)))).scalar()
    return bool(row)


# -- the ledger -------------------------------------------------------------------------------


def ledger_path(data_dir: Path) -> Path:
    return data_dir / LEDGER_FILE


def record_erasure(db: Session, keys: KeyStore, kind: SubjectKind, subject_id: int,
                   categories: list[str], *, request_id: int | None) -> ErasureRecord:
    """The ledger entry, in the caller's transaction (the file copy: `append_to_file`)."""
    entry = ErasureRecord(subject_key=subject_key(keys, kind, subject_id),
                          categories=json.dumps(categories), erased_at=clock.now(),
                          request_id=request_id)
    db.add(entry)
    db.flush()
    return entry


def _line(entry: ErasureRecord) -> dict[str, Any]:
    return {"subject_key": entry.subject_key, "categories": json.loads(entry.categories),
            "erased_at": entry.erased_at.isoformat(), "request": entry.request_id}


def append_to_file(data_dir: Path, entries: list[ErasureRecord]) -> None:
    """Append entries to the ledger file and sync it (after the database committed)."""
    if not entries:
        return
    path = ledger_path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(_line(entry), sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def file_entries(data_dir: Path) -> list[dict[str, Any]]:
    path = ledger_path(data_dir)
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn last line after a crash: the database has the entry
        if isinstance(value, dict) and isinstance(value.get("subject_key"), str):
            found.append(value)
    return found


@dataclass
class Reapplied:
    entries: int = 0
    merged_from_file: int = 0
    erased_again: list[Erasure] = field(default_factory=list)
    not_found: int = 0


def _subjects_by_key(db: Session, keys: KeyStore) -> dict[str, tuple[SubjectKind, int]]:
    found = {}
    for kind in SubjectKind:
        profile = _profile(kind)
        for (subject_id,) in db.execute(select(pk_column(profile))):
            found[subject_key(keys, kind, subject_id)] = (kind, int(subject_id))
    return found


@service("requests.reapply_erasures")
def reapply_erasures(db: Session, actor: Principal, keys: KeyStore, *,
                     data_dir: Path, extra: list[dict[str, Any]] | None = None) -> Reapplied:
    """Make the database agree with the erasure ledger: entries only in the ledger file
    (or `extra`, e.g. read from the database a restore replaced) are added, and everyone
    the ledger names who holds personal data again is erased again. Needs
    requests.manage. Idempotent."""
    actor.require(Permission.REQUESTS_MANAGE)
    result = Reapplied()
    with writing(db):
        known = {(e.subject_key, e.erased_at.isoformat()) for e in db.exec(select(ErasureRecord))}
        incoming = file_entries(data_dir) + list(extra or [])
        for item in incoming:
            stamp = str(item.get("erased_at"))
            if (item["subject_key"], stamp) in known:
                continue
            known.add((item["subject_key"], stamp))
            db.add(ErasureRecord(subject_key=item["subject_key"],
                                 categories=json.dumps(item.get("categories") or []),
                                 erased_at=datetime.fromisoformat(stamp),
                                 request_id=item.get("request")))
            result.merged_from_file += 1
        db.flush()
        entries = list(db.exec(select(ErasureRecord).order_by(col(ErasureRecord.id))))
        result.entries = len(entries)
        subjects = _subjects_by_key(db, keys)
        done: set[str] = set()
        for entry in entries:
            if entry.subject_key in done:
                continue
            done.add(entry.subject_key)
            found = subjects.get(entry.subject_key)
            if found is None:
                result.not_found += 1
                continue
            kind, subject_id = found
            if not still_personal(db, kind, subject_id) and not _linked_personal(
                    db, kind, subject_id):
                continue
            erasure = erase(db, actor, keys, kind, subject_id, data_dir=data_dir)
            entry.reapplied_at = clock.now()
            db.add(entry)
            result.erased_again.append(erasure)
        audit.record(db, actor, "requests.reapply_erasures", target="erasure-ledger", details={
            "entries": result.entries, "merged": result.merged_from_file,
            "erased_again": len(result.erased_again), "not_found": result.not_found})
        mirrored = {e["subject_key"] + str(e["erased_at"]) for e in file_entries(data_dir)}
        missing = [e for e in entries if e.subject_key + e.erased_at.isoformat() not in mirrored]
    append_to_file(data_dir, missing)
    return result


def _linked_personal(db: Session, kind: SubjectKind, subject_id: int) -> bool:
    """Whether rows linked to the subject (that an erasure would change) hold PII again."""
    for cat in CATEGORIES:
        if cat is _profile(kind) or not cat.links_to(kind) or _theirs(cat, kind) is not True:
            continue
        scope = keeps(db, cat, subject=(kind, subject_id))
        count = db.execute(select(func.count()).select_from(table_of(cat)).where(and_(
            scope.changeable, needs_anonymizing(cat)))).scalar()
        if count:
            return True
    return False

