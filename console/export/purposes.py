"""The fixed vocabularies of exports (kept light: the config validates against them)."""

from __future__ import annotations

import re
from enum import StrEnum


class Purpose(StrEnum):
    """Why data leaves the installation: every export records one (the disclosure register)."""

    DATA_SUBJECT_REQUEST = "data-subject-request"  # access / portability (P8)
    HANDOVER = "handover"  # termination or migration to another vendor (P7)
    LEGAL_ORDER = "legal-order"  # a court or authority order; needs its reference
    WRITTEN_CONSENT = "written-consent"  # the person agreed in writing; needs its reference
    BACKUP = "backup"  # a backup of the database (backups only)

    @property
    def needs_reference(self) -> bool:
        return self in (Purpose.LEGAL_ORDER, Purpose.WRITTEN_CONSENT)


EXPORT_PURPOSES = tuple(p for p in Purpose if p is not Purpose.BACKUP)

# An age X25519 recipient: "age1" + 58 bech32 characters.
AGE_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")


def check_recipient(value: str) -> str:
    """`value` stripped, or ValueError saying what an age recipient looks like."""
    text = value.strip()
    if not AGE_RECIPIENT.fullmatch(text):
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise ValueError(f"{shown!r} is not an age recipient (age1 followed by 58 letters "
                         "and digits, as `age-keygen` prints)")
    return text
