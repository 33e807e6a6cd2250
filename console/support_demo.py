"""Demo data for support access: one past grant and one request waiting for approval."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from console import audit, clock
from console.config import SupportSettings
from console.db import writing
from console.principal import system_principal
from console.support import vendor_account
from console.support_rules import RequestStatus
from models.support import SupportApproval, SupportGrant, SupportRequest


def seed_demo(db: Session, settings: SupportSettings, *, engineer: str = "fp-jane",
              approver: str = "admin") -> None:
    """Demo data: a past grant of `engineer` (approved by `approver`, expired days ago)
    and a request of theirs waiting for approval."""
    now = clock.now()
    with writing(db):
        user = vendor_account(db, engineer)
        asked = now - timedelta(days=3, hours=2)
        start = asked + timedelta(minutes=25)
        past = SupportRequest(
            engineer_id=user.id, engineer=engineer, scope="jobs.read,logs.read", minutes=180,
            reason="Nightly payroll export job fails with a timeout", ticket="FP-1041",
            requested_by=engineer, requested_at=asked,
            expires_at=asked + timedelta(hours=settings.request_expiry_hours),
            status=RequestStatus.APPROVED.value, decided_at=start, decided_by=approver,
            decision_note="two hours are enough")
        db.add(past)
        db.flush()
        db.add(SupportApproval(request_id=past.id, approver=approver, minutes=120,
                               scope=past.scope, note=past.decision_note, at=start))
        grant = SupportGrant(
            engineer_id=user.id, engineer=engineer, scope=past.scope, reason=past.reason,
            ticket=past.ticket, request_id=past.id, requested_by=engineer,
            requested_minutes=180, approved_by=approver, minutes=120, created_at=start,
            starts_at=start, ends_at=start + timedelta(minutes=120))
        waiting = SupportRequest(
            engineer_id=user.id, engineer=engineer, scope="logs.read", minutes=240,
            reason="POS sync errors reported by the Airport store", ticket="FP-1187",
            requested_by=engineer, requested_at=now - timedelta(minutes=25),
            expires_at=now - timedelta(minutes=25) +
            timedelta(hours=settings.request_expiry_hours))
        db.add_all([grant, waiting])
        db.flush()
        audit.record(db, system_principal("demo"), "support.demo",
                     details={"past_grant": grant.id, "waiting_request": waiting.id})
