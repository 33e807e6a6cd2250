"""What a search for words means, once for both backends: parsed terms, the FTS5 MATCH
and PostgreSQL tsquery built from them, and a regex that checks them against the text a
principal sees (phrases, exclusions, and masked messages)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from console.errors import ValidationError

_WORD = re.compile(r"[^\W_]+")
_TERM = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    prefix: bool = False  # the last word is a prefix (written word*)
    negate: bool = False  # written -word: must not appear


def parse_text(query: str) -> tuple[Term, ...]:
    """'disk full' -> two words (both must appear); '"disk full"' -> a phrase;
    'timeout*' -> a prefix; '-debug' -> must not appear. Words are runs of letters and
    digits (as the FTS index sees them)."""
    terms = []
    for m in _TERM.finditer(query):
        negate = bool(m.group(1) or m.group(3))
        raw = m.group(2) if m.group(2) is not None else m.group(4)
        prefix = m.group(2) is None and raw.endswith("*")
        words = tuple(w.lower() for w in _WORD.findall(raw))
        if words:
            terms.append(Term(words, prefix, negate))
    if terms and all(t.negate for t in terms):
        raise ValidationError("text", "needs at least one word that must appear")
    return tuple(terms)


def fts5_query(terms: tuple[Term, ...]) -> str:
    def one(t: Term) -> str:
        words = [f'"{w}"' for w in t.words]
        if t.prefix:
            words[-1] += " *"
        return words[0] if len(words) == 1 else f"({' AND '.join(words)})"
    positive = [one(t) for t in terms if not t.negate]
    negative = [one(t) for t in terms if t.negate]
    return " AND ".join(positive) + "".join(f" NOT {n}" for n in negative)


def tsquery(terms: tuple[Term, ...]) -> str:
    parts = []
    for t in terms:
        body = " & ".join(t.words) + (":*" if t.prefix else "")
        parts.append(f"!({body})" if t.negate else f"({body})")
    return " & ".join(parts)


def checker(terms: tuple[Term, ...]) -> re.Pattern[str] | None:
    """A regex that the visible message must match: every positive term in order-free
    lookaheads, phrases as consecutive words, negated terms as negative lookaheads."""
    if not terms:
        return None
    parts = []
    for t in terms:
        body = r"[\W_]+".join(re.escape(w) for w in t.words)
        end = r"" if t.prefix else r"(?![^\W_])"
        look = rf"(?=[\s\S]*?(?<![^\W_]){body}{end})"
        parts.append("(?!" + look[3:] if t.negate else look)
    return re.compile("".join(parts), re.IGNORECASE)


def matcher(query: str) -> Callable[[str], bool]:
    """A test for 'does this (visible) text hold the search', for highlighting."""
    try:
        check = checker(parse_text(query))
    except ValidationError:
        check = None
    if check is None:
        return lambda _text: False
    return lambda value: check.search(value) is not None
