"""Entry ids: the time in microseconds << SEQ_BITS, plus a sequence for entries sharing a
microsecond, never colliding with what is stored (see console.logs.common)."""

from __future__ import annotations

from sqlmodel import Session

from console.logs import store
from console.logs.common import SEQ_BITS, month_bounds, month_key


class IdAllocator:
    """Gives each entry the smallest free id at or after (its time << SEQ_BITS): entries
    sharing a microsecond get consecutive ids. Runs inside the chunk's write transaction,
    so the ids already stored (by anyone) are known exactly: a candidate at or below the
    newest stored id of its month is checked against the stored ids around it."""

    WINDOW_BITS = 34  # ids loaded per look-up: about 16 seconds of entries

    def __init__(self, db: Session) -> None:
        self.db = db
        self.next: dict[int, int] = {}
        self.overflow: set[int] = set()  # ids past their microsecond's 1024
        self.maxima: dict[str, int] = {}
        self.windows: dict[int, set[int]] = {}
        self.lo, self.hi, self.key, self.max = 0, -1, "", -1

    def month(self, i: int) -> str:
        """Make i's month current (bounds, newest stored id); returns its key."""
        key = month_key(i)
        if key not in self.maxima:
            self.maxima[key] = store.max_id(self.db, key) or -1
        self.lo, self.hi = month_bounds(key)
        self.key, self.max = key, self.maxima[key]
        return key

    def _taken(self, i: int) -> bool:
        window = i >> self.WINDOW_BITS
        if window not in self.windows:
            lo = window << self.WINDOW_BITS
            self.windows[window] = store.taken_ids(self.db, lo, lo + (1 << self.WINDOW_BITS) - 1)
        return i in self.windows[window]

    def _used(self, i: int, candidate: int) -> bool:
        if i in self.overflow:
            return True
        slot = i >> SEQ_BITS << SEQ_BITS
        return slot != candidate and slot <= i < self.next.get(slot, slot)

    def alloc(self, candidate: int) -> int:
        i = self.next.get(candidate, candidate)
        if not self.lo <= i < self.hi:
            self.month(i)
        if i <= self.max or self.overflow or i - candidate >= 1 << SEQ_BITS:
            while self._used(i, candidate) or (i <= self.max and self._taken(i)):
                i += 1
                if i >= self.hi:
                    self.month(i)
            if i - candidate >= 1 << SEQ_BITS:
                self.overflow.add(i)
        self.next[candidate] = i + 1
        return i
