"""PII masking for principals without pii.read (FlowPro support engineers, mostly).

Two tools: `mask_text` finds PII-shaped substrings in free text (log messages, audit
details) and `mask_value` masks a catalog PII column's value. Both keep enough shape to
be useful for debugging (the domain of an email, the last digits of a number).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from console.permissions import Permission
from console.principal import Principal

MASK = "•"

_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]{1,64})@([\w-]+(?:\.[\w-]+)+)")
# Card-like numbers: 13-19 digits, optionally grouped by spaces or dashes.
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# IBAN-like account numbers.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
# National ids such as 123-45-6789 (and 9-11 digit runs written with separators).
_NATIONAL_ID = re.compile(r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])")
# Phone numbers: international (+country ...) or North-American (555-123-4567) shapes;
# plain digit runs are left alone so ids, ports and timestamps stay readable.
_PHONE = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\w)"
                    r"|(?<![\w.-])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w.-])")
# A number right after a word that says it is a phone number, in any national format.
_LABELLED_PHONE = re.compile(r"(?i)(\b(?:phone|tel|telephone|mobile|cell|fax)\b\s*[:=#]?\s*)"
                             r"(\+?\d[\d ()./-]{5,}\d)")


def _keep_last(value: str, keep: int = 2) -> str:
    digits = [c for c in value if c.isalnum()]
    if len(digits) <= keep:
        return MASK * len(value)
    kept = 0
    out = []
    for ch in reversed(value):
        if ch.isalnum():
            out.append(ch if kept < keep else MASK)
            kept += 1
        else:
            out.append(ch)
    return "".join(reversed(out))


def _mask_email(match: re.Match[str]) -> str:
    local, domain = match.group(1), match.group(2)
    return f"{local[0]}{MASK * 3}@{domain}"


def mask_text(text: str) -> str:
    """Mask emails, card numbers, IBANs, national ids and phone numbers in free text."""
    if not text:
        return text
    text = _EMAIL.sub(_mask_email, text)
    text = _IBAN.sub(lambda m: _keep_last(m.group(0), 2), text)
    text = _CARD.sub(lambda m: _keep_last(m.group(0), 4), text)
    text = _NATIONAL_ID.sub(lambda m: _keep_last(m.group(0), 0), text)
    text = _PHONE.sub(lambda m: _keep_last(m.group(0), 2)
                      if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0), text)
    text = _LABELLED_PHONE.sub(lambda m: m.group(1) + _keep_last(m.group(2), 2), text)
    return text


def mask_value(value: object) -> object:
    """Mask one value of a PII column (numbers and dates included)."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return f"{value.year}-••-••"
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return MASK * 3
    text = str(value)
    if "@" in text:
        return _EMAIL.sub(_mask_email, text)
    if len(text) <= 2:
        return MASK * len(text)
    return text[0] + MASK * (len(text) - 1) if not any(c.isdigit() for c in text) \
        else _keep_last(text, 2)


def sees_pii(actor: Principal) -> bool:
    """Whether `actor` may see personal data unmasked right now."""
    return actor.has(Permission.PII_READ)
