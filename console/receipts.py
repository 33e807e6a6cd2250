"""Signed accounts of FlowPro support: a receipt per support session, a statement per month.

Both are canonical JSON signed with the installation's Ed25519 key (console.keys). A
receipt names the audit events it covers and a digest of their recomputed chain hashes, so
verifying it also notices an edited or deleted event of that session, not only an edited
receipt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from console import audit, clock
from console.audit import canonical_json, event_hash
from console.contract import service
from console.errors import ValidationError
from console.keys import KeyStore, verify_signature
from console.masking import mask_text, sees_pii
from console.permissions import Permission
from console.principal import Principal, system_principal
from console.support_rules import duration_text, get_grant, grant_end, grant_status, scope_of
from console.support_views import chain_of, reader_scope
from models.audit import AuditEvent
from models.support import SupportGrant, SupportReceipt, SupportRequest, SupportSession

RECEIPT_KIND = "flowpro-support-receipt"
STATEMENT_KIND = "flowpro-support-statement"
LISTED_EVENTS = 200  # events listed one per line in a receipt's summary


def _hm(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if when else "-"


def describe_event(event: AuditEvent) -> str:
    """One audit event of a support session, in plain words."""
    details = audit.details_of(event)
    target = event.target
    if event.action == "ui.screen":
        text = f"opened the {target.removeprefix('screen:')} screen"
    elif event.action == "support.session.start":
        text = "started the support session"
    elif event.action == "support.session.end":
        text = f"the session ended: {details.get('reason', '')}"
    elif event.action == "auth.logout":
        text = f"left the console ({details.get('reason', '')})"
    elif event.action == "auth.totp":
        text = "entered a TOTP code"
    else:
        text = f"{event.action} {target}".strip()
    if event.outcome == audit.Outcome.DENIED and event.action not in ("support.session.start",):
        why = details.get("reason") or ""
        text = f"was refused: {text}" + (f" ({why})" if why else "")
    elif event.outcome == audit.Outcome.ERROR:
        text = f"failed: {text} ({details.get('error', '')})"
    return text


def _transcript(db: Session, session_id: str) -> list[AuditEvent]:
    return list(db.exec(select(AuditEvent).where(AuditEvent.session_id == session_id)
                        .order_by(col(AuditEvent.id))).all())


def _digest(events: list[AuditEvent]) -> str:
    # Recomputed, not the stored hashes: an event edited in place changes its digest.
    return hashlib.sha256("\n".join(event_hash(e.prev_hash, e) for e in events)
                          .encode()).hexdigest()


def _counts(events: list[AuditEvent]) -> dict[str, int]:
    screens = sum(e.action == "ui.screen" and e.outcome == "ok" for e in events)
    refused = sum(e.outcome == audit.Outcome.DENIED for e in events)
    reveals = sum("reveal" in e.action and e.outcome == "ok" for e in events)
    other = sum(e.outcome == "ok" and e.action not in (
        "ui.screen", "support.session.start", "support.session.end", "auth.logout",
        "auth.totp") and "reveal" not in e.action for e in events)
    return {"screens": screens, "reveals": reveals, "other": other, "refused": refused}


def _times(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def receipt_summary(record: SupportSession, grant: SupportGrant, events: list[AuditEvent]
                    ) -> str:
    scope = scope_of(grant.scope)
    minutes = int(((record.ended_at or clock.now()) - record.started_at).total_seconds() // 60)
    counts = _counts(events)
    screens = sorted({e.target.removeprefix("screen:") for e in events
                      if e.action == "ui.screen" and e.outcome == "ok"})
    lines = [
        f"FlowPro support receipt: session {record.id[:8]} of {record.engineer}, "
        f"under grant #{grant.id} (ticket {grant.ticket}).",
        f"From {_hm(record.started_at)} to {_hm(record.ended_at)} "
        f"({duration_text(minutes)}), connected from {record.source or 'a local terminal'}.",
        f"Scope: {', '.join(sorted(p.value for p in scope))}; personal data "
        f"{'visible (pii.read granted)' if Permission.PII_READ in scope else 'masked'}.",
        f"Reason given: {grant.reason}",
        f"Ended: {record.end_reason or 'not yet'}.",
        f"In this session {record.engineer} opened {_times(counts['screens'], 'screen')}"
        + (f" ({', '.join(screens)})" if screens else "")
        + f", took {_times(counts['other'], 'other action')}, revealed personal data "
        f"{_times(counts['reveals'], 'time')} and was refused {_times(counts['refused'], 'time')}.",
        "What happened, in order:",
    ]
    for event in events[:LISTED_EVENTS]:
        lines.append(f"  {event.at.astimezone(UTC).strftime('%H:%M:%S')}  "
                     f"{describe_event(event)}")
    if len(events) > LISTED_EVENTS:
        lines.append(f"  ... and {len(events) - LISTED_EVENTS} more events (audit trail, "
                     f"session {record.id})")
    return "\n".join(lines)


def make_receipt(db: Session, keys: KeyStore, record: SupportSession) -> SupportReceipt:
    """Sign the receipt of an ended session (inside the caller's write transaction)."""
    grant = get_grant(db, record.grant_id)
    events = _transcript(db, record.id)
    summary = receipt_summary(record, grant, events)
    now = clock.now()
    payload = {
        "kind": RECEIPT_KIND, "version": 1, "key_id": keys.key_id, "signed_at": now,
        "session": {"id": record.id, "engineer": record.engineer, "grant": record.grant_id,
                    "source": record.source, "started_at": record.started_at,
                    "ended_at": record.ended_at, "end_reason": record.end_reason},
        "grant": {"id": grant.id, "scope": grant.scope, "ticket": grant.ticket,
                  "reason": grant.reason, "approved_by": grant.approved_by,
                  "starts_at": grant.starts_at, "ends_at": grant.ends_at},
        "events": [{"id": e.id, "at": e.at, "action": e.action, "target": e.target,
                    "outcome": e.outcome} for e in events],
        "events_digest": _digest(events),
        "summary": summary,
    }
    text = canonical_json(payload)
    receipt = SupportReceipt(session_id=record.id, grant_id=record.grant_id, created_at=now,
                             summary=summary, payload=text, key_id=keys.key_id,
                             signature=keys.sign(text.encode()).hex())
    db.add(receipt)
    db.flush()
    audit.record(db, system_principal("console"), "support.receipt",
                 target=f"support-grant:{record.grant_id}",
                 details={"receipt": receipt.id, "session": record.id, "events": len(events)})
    return receipt


@dataclass(frozen=True)
class ReceiptCheck:
    receipt_id: int
    ok: bool
    problem: str = ""


def check_receipt(db: Session, keys: KeyStore, receipt: SupportReceipt) -> ReceiptCheck:
    """Is the receipt as signed, and are the audit events it covers unchanged?"""
    def bad(problem: str) -> ReceiptCheck:
        return ReceiptCheck(receipt.id or 0, False, problem)

    if receipt.key_id != keys.key_id:
        return bad(f"signed with another key ({receipt.key_id}, this installation has "
                   f"{keys.key_id})")
    try:
        signature = bytes.fromhex(receipt.signature)
        payload = json.loads(receipt.payload)
    except ValueError:
        return bad("the receipt is damaged (unreadable signature or content)")
    if not verify_signature(keys.public_key(), signature, receipt.payload.encode()):
        return bad("the signature does not match: the receipt was altered after signing")
    if payload.get("summary") != receipt.summary or \
            payload.get("session", {}).get("id") != receipt.session_id or \
            payload.get("session", {}).get("grant") != receipt.grant_id:
        return bad("the receipt's summary or references were altered after signing")
    ids = [item["id"] for item in payload.get("events", [])]
    # populate_existing: compare what the database holds now, not objects cached earlier.
    found = {e.id: e for e in db.exec(select(AuditEvent).where(col(AuditEvent.id).in_(ids))
                                      .execution_options(populate_existing=True)).all()} \
        if ids else {}
    missing = [i for i in ids if i not in found]
    if missing:
        return bad(f"audit event(s) {', '.join(map(str, missing[:5]))} of this session were "
                   "deleted from the trail")
    if _digest([found[i] for i in ids]) != payload.get("events_digest"):
        return bad("audit events of this session were altered after the receipt was signed")
    return ReceiptCheck(receipt.id or 0, True)


@dataclass(frozen=True)
class ReceiptView:
    id: int
    session_id: str
    grant_id: int
    created_at: datetime
    summary: str
    key_id: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _grant_receipts(db: Session, actor: Principal, grant_id: int) -> list[SupportReceipt]:
    only = reader_scope(actor)
    grant = get_grant(db, grant_id)
    if only is not None and grant.engineer != only:
        from console.errors import NotFound

        raise NotFound(f"no support grant #{grant_id}; see `flowpro-console support list`")
    ids = [g.id for g in chain_of(db, grant)]
    return list(db.exec(select(SupportReceipt).where(col(SupportReceipt.grant_id).in_(ids))
                        .order_by(col(SupportReceipt.id))).all())


@service("support.receipt")
def grant_receipts(db: Session, actor: Principal, grant_id: int) -> list[ReceiptView]:
    """The receipts of a grant's support sessions (its extensions included). Raises
    NotFound; a vendor account sees only its own."""
    mask = (lambda t: t) if sees_pii(actor) else mask_text
    return [ReceiptView(r.id or 0, r.session_id, r.grant_id, r.created_at, mask(r.summary),
                        r.key_id, r.signature) for r in _grant_receipts(db, actor, grant_id)]


@service("support.receipt")
def verify_grant_receipts(db: Session, actor: Principal, keys: KeyStore, grant_id: int
                          ) -> list[ReceiptCheck]:
    """Check each receipt of a grant: signature, content, and the events it covers."""
    return [check_receipt(db, keys, r) for r in _grant_receipts(db, actor, grant_id)]


# -- monthly statements ------------------------------------------------------------------


def month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
    except ValueError:
        raise ValidationError("month", f"{month!r} is not a month; use YYYY-MM, e.g. 2026-05") \
            from None
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    if start > clock.now():
        raise ValidationError("month", f"{month} has not begun yet")
    return start, end


@service("support.statement")
def monthly_statement(db: Session, actor: Principal, keys: KeyStore, month: str
                      ) -> dict[str, Any]:
    """Every support request, grant, session and engineer action of a month, signed (also
    when there were none). Needs audit.read. Raises ValidationError for a bad month."""
    actor.require(Permission.AUDIT_READ)
    start, end = month_bounds(month)
    now = clock.now()
    requests = db.exec(select(SupportRequest).where(or_(
        (col(SupportRequest.requested_at) >= start) & (col(SupportRequest.requested_at) < end),
        (col(SupportRequest.decided_at) >= start) & (col(SupportRequest.decided_at) < end)))
        .order_by(col(SupportRequest.id))).all()
    grants = [g for g in db.exec(select(SupportGrant).where(col(SupportGrant.starts_at) < end)
                                 .order_by(col(SupportGrant.id))).all()
              if grant_end(g) >= start]
    sessions = db.exec(select(SupportSession).where(col(SupportSession.started_at) < end)
                       .where(col(SupportSession.ended_at).is_(None)
                              | (col(SupportSession.ended_at) >= start))
                       .order_by(col(SupportSession.started_at))).all()
    ids = [s.id for s in sessions]
    actions = db.exec(select(AuditEvent).where(col(AuditEvent.session_id).in_(ids))
                      .where(col(AuditEvent.at) >= start).where(col(AuditEvent.at) < end)
                      .order_by(col(AuditEvent.id))).all() if ids else []
    body = {
        "kind": STATEMENT_KIND, "version": 1, "month": month, "from": start, "until": end,
        "generated_at": now, "generated_by": actor.name, "key_id": keys.key_id,
        "requests": [{"id": r.id, "engineer": r.engineer, "kind": "extension"
                      if r.extends_grant_id else "access", "scope": r.scope,
                      "minutes": r.minutes, "ticket": r.ticket, "reason": r.reason,
                      "requested_by": r.requested_by, "requested_at": r.requested_at,
                      "status": r.status, "decided_by": r.decided_by,
                      "decided_at": r.decided_at, "note": r.decision_note} for r in requests],
        "grants": [{"id": g.id, "engineer": g.engineer, "scope": g.scope, "ticket": g.ticket,
                    "reason": g.reason, "approved_by": g.approved_by, "starts_at": g.starts_at,
                    "ends_at": g.ends_at, "status": grant_status(g, now).value,
                    "ended_at": g.ended_at, "ended_by": g.ended_by, "end_note": g.end_note}
                   for g in grants],
        "sessions": [{"id": s.id, "engineer": s.engineer, "grant": s.grant_id,
                      "source": s.source, "started_at": s.started_at, "ended_at": s.ended_at,
                      "end_reason": s.end_reason} for s in sessions],
        "actions": [{"id": e.id, "at": e.at, "engineer": e.actor, "session": e.session_id,
                     "action": e.action, "target": e.target, "outcome": e.outcome,
                     "text": describe_event(e)} for e in actions],
    }
    if not sees_pii(actor):  # free text can hold personal data
        for item in (*body["requests"], *body["grants"], *body["actions"]):
            for key in ("reason", "note", "end_note", "text"):
                if key in item and isinstance(item[key], str):
                    item[key] = mask_text(item[key])
    body = json.loads(canonical_json(body))  # datetimes as text, exactly as signed
    signature = keys.sign(canonical_json(body).encode()).hex()
    audit.record_alone(db, actor, "support.statement", target=f"month:{month}",
                       details={"requests": len(requests), "grants": len(grants),
                                "sessions": len(sessions), "actions": len(actions)})
    return {"statement": body, "signature": signature, "key_id": keys.key_id,
            "public_key": keys.public_key_pem().decode()}


def verify_statement(keys: KeyStore, document: dict[str, Any]) -> tuple[bool, str]:
    """(ok, why not) for a statement as `monthly_statement` returned it."""
    try:
        body = document["statement"]
        signature = bytes.fromhex(document["signature"])
    except (KeyError, TypeError, ValueError):
        return False, "not a FlowPro support statement (statement or signature missing)"
    if not isinstance(body, dict) or body.get("kind") != STATEMENT_KIND:
        return False, "not a FlowPro support statement"
    if document.get("key_id") != keys.key_id:
        return False, (f"signed with another key ({document.get('key_id')}, this installation "
                       f"has {keys.key_id})")
    if not verify_signature(keys.public_key(), signature, canonical_json(body).encode()):
        return False, "the signature does not match: the statement was altered"
    return True, ""


def statement_text(document: dict[str, Any]) -> str:
    """The statement in plain language, with its signature."""
    body = document["statement"]
    out = [f"FlowPro support access statement for {body['month']}",
           f"Generated {body['generated_at']} by {body['generated_by']}; "
           f"installation key {body['key_id']}.", ""]
    if not (body["requests"] or body["grants"] or body["sessions"] or body["actions"]):
        out.append(f"No FlowPro support access was requested, granted or used in "
                   f"{body['month']}.")
    out.append(f"Requests: {len(body['requests'])}")
    for r in body["requests"]:
        out.append(f"  #{r['id']} {r['requested_at'][:16]} {r['engineer']} asked for "
                   f"{r['scope']} for {duration_text(r['minutes'])} ({r['kind']}, ticket "
                   f"{r['ticket']}): {r['status']}"
                   + (f" by {r['decided_by']}" if r['decided_by'] else ""))
    out.append(f"Grants: {len(body['grants'])}")
    for g in body["grants"]:
        out.append(f"  #{g['id']} {g['engineer']} {g['scope']} from {g['starts_at'][:16]} "
                   f"until {(g['ended_at'] or g['ends_at'])[:16]}, approved by "
                   f"{g['approved_by']}: {g['status']}"
                   + (f" by {g['ended_by']} ({g['end_note']})" if g['ended_by'] else ""))
    out.append(f"Support sessions: {len(body['sessions'])}")
    for s in body["sessions"]:
        out.append(f"  {s['started_at'][:16]} to {(s['ended_at'] or 'still open')[:16]} "
                   f"{s['engineer']} (grant #{s['grant']}) from {s['source'] or 'local'}: "
                   f"{s['end_reason'] or 'open'}")
    out.append(f"Actions by FlowPro engineers: {len(body['actions'])}")
    for a in body["actions"]:
        out.append(f"  {a['at'][:19]} {a['engineer']}: {a['text']}")
    out += ["", f"Signature (Ed25519, key {document['key_id']}): {document['signature']}"]
    return "\n".join(out)
