"""`[schedules]`: when the scheduler starts which job kind (`when` is validated here, so a
bad schedule is a config error, not a scheduler failure at night)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from console.config.sections import Section

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WHEN_FORMS = ("every N seconds|minutes|hours|days|weeks", "hourly [:MM]", "daily HH:MM",
              "weekly <weekday> HH:MM")
_UNITS = ("second", "minute", "hour", "day", "week")
_HHMM = r"([01]\d|2[0-3]):([0-5]\d)"


@dataclass(frozen=True)
class When:
    """A parsed schedule time: every `interval` `unit` (seconds..weeks or a weekday),
    optionally `at` a time ("HH:MM", or ":MM" for hourly) in the server's local time."""

    interval: int
    unit: str
    at: str | None = None


def parse_when(text: str) -> When:
    """Parse 'every 5 minutes', 'hourly :15', 'daily 02:00', 'weekly sunday 03:30'.
    Raises ValueError listing the accepted forms."""
    value = " ".join(text.lower().split())
    m = re.fullmatch(r"every (?:(\d{1,6}) )?(second|minute|hour|day|week)s?", value)
    if m:
        interval = int(m.group(1) or 1)
        if interval >= 1:
            return When(interval, f"{m.group(2)}s")
    m = re.fullmatch(r"hourly(?: (?:at )?:([0-5]\d))?", value)
    if m:
        return When(1, "hours", f":{m.group(1)}" if m.group(1) else None)
    m = re.fullmatch(rf"(?:daily|every day)(?: at)? {_HHMM}", value)
    if m:
        return When(1, "days", f"{m.group(1)}:{m.group(2)}")
    m = re.fullmatch(rf"(?:weekly |every )({'|'.join(WEEKDAYS)})(?: at)? {_HHMM}", value)
    if m:
        return When(1, m.group(1), f"{m.group(2)}:{m.group(3)}")
    raise ValueError(f"cannot read {text!r} as a time; use one of: {'; '.join(WHEN_FORMS)}")


class ScheduleEntry(Section):
    """One `[schedules.<name>]` table: start a run of `kind` with `params` `when` due."""

    kind: str = Field(min_length=1, max_length=64)
    when: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("when")
    @classmethod
    def _readable_when(cls, value: str) -> str:
        parse_when(value)
        return value



# Schedules every installation has unless its config says otherwise: retention applies
# its policies daily (`[schedules.retention] enabled = false` turns it off).
DEFAULT_SCHEDULES: dict[str, dict[str, Any]] = {
    "retention": {"kind": "retention", "when": "daily 02:30"},
}


