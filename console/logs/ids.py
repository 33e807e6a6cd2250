"""Entry ids: the time in microseconds << SEQ_BITS, plus a sequence for entries sharing a
microsecond, never colliding with what is stored (see console.logs.common).

The reader proposes ids for a file read in time order (console.logs.reader.Assembler);
when those cannot be taken as they are (the file's time went back, or other files put
entries in the same time range), `fit_ids` places them among the stored ones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from console.logs import store
from console.logs.common import SEQ_BITS

GAP_US = 3600 * 1_000_000  # times this far apart are looked up separately


def fit_ids(db: Session, times: Sequence[int]) -> list[int]:
    """Ids for `times` (microseconds, ascending): each the smallest id at or after its
    time's first id that is above the one before and not stored yet. Inside the caller's
    write transaction, so what is stored is known exactly.

    The stored ids are read per cluster of times (no gap over an hour), so a stray
    timestamp years away does not read everything in between."""
    ids: list[int] = []
    previous = -1
    start, n = 0, len(times)
    while start < n:
        end = start + 1
        while end < n and times[end] - times[end - 1] <= GAP_US:
            end += 1
        lo = max(times[start] << SEQ_BITS, previous + 1)
        hi = (times[end - 1] << SEQ_BITS) + 2 * (end - start)
        while True:  # hi must cover every id given: widen it when taken ids push past it
            taken = store.stored_ids(db, lo, hi)
            given, last = [], previous
            for t in times[start:end]:
                i = t << SEQ_BITS
                if i <= last:
                    i = last + 1
                while i in taken:
                    i += 1
                given.append(i)
                last = i
            if last <= hi:
                break
            hi = last + 2 * (end - start)
        ids.extend(given)
        previous = last
        start = end
    return ids
