"""The one clock every service reads, so that tests can move time.

Grant expiry, lockout windows and retention ages are all decided against `now()`; a test
replaces the clock with `FrozenClock` and advances it instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        with self._lock:
            self._now += delta if delta is not None else timedelta(**kwargs)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


_clock: Clock = SystemClock()


def now() -> datetime:
    """Aware UTC time from the installed clock."""
    return _clock.now()


def install(clock: Clock) -> Clock:
    """Install `clock` and return the previous one (tests restore it)."""
    global _clock
    previous, _clock = _clock, clock
    return previous
