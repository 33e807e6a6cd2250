"""How runs look to people: `RunView` (with rate and ETA) and one-line result summaries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from console import clock
from console.jobs.kinds import find_kind
from models.jobs import JobRun, JobState

ENDED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)
RESUMABLE = (JobState.INTERRUPTED, JobState.FAILED, JobState.CANCELLED)


class Where(StrEnum):
    AUTO = "auto"  # the scheduler if one is running, else here
    SCHEDULER = "scheduler"
    HERE = "here"


@dataclass(frozen=True)
class RunView:
    """A run as people see it, with rate and ETA worked out."""

    id: int
    kind: str
    title: str
    state: JobState
    executor: str
    params: dict[str, Any]
    started_by: str
    started_by_kind: str
    schedule: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    heartbeat_at: datetime | None
    owner: str
    done: int
    total: int | None
    message: str
    attempts: int
    interruptions: int
    cancel_requested: bool
    stop_reason: str
    result: dict[str, Any] | None
    error: str
    checkpoint: dict[str, Any] | None
    rate: float | None  # units per second over the current attempt
    eta_seconds: float | None
    elapsed_seconds: float | None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return 1.0 if self.state == JobState.SUCCEEDED else None
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def resumable(self) -> bool:
        return self.state in RESUMABLE

    @property
    def cancellable(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED) \
            and not self.cancel_requested

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        for key in ("created_at", "started_at", "ended_at", "heartbeat_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        return data


def parse_json(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"unreadable": True}
    return value if isinstance(value, dict) else {"value": value}


def view(run: JobRun, now: datetime | None = None) -> RunView:
    now = now or clock.now()
    kind = find_kind(run.kind)
    rate = eta = elapsed = None
    if run.started_at is not None:
        elapsed = ((run.ended_at or now) - run.started_at).total_seconds()
    if run.state == JobState.RUNNING and run.claimed_at is not None:
        seconds = (now - run.claimed_at).total_seconds()
        units = run.progress_done - run.claimed_done
        if seconds > 0 and units > 0:
            rate = units / seconds
            if run.progress_total is not None:
                eta = max(0.0, (run.progress_total - run.progress_done) / rate)
    return RunView(
        id=run.id or 0, kind=run.kind, title=kind.title if kind else run.kind,
        state=JobState(run.state), executor=run.executor, params=parse_json(run.params) or {},
        started_by=run.started_by, started_by_kind=run.started_by_kind,
        schedule=run.schedule, created_at=run.created_at, started_at=run.started_at,
        ended_at=run.ended_at, heartbeat_at=run.heartbeat_at,
        owner=f"{run.owner_host} pid {run.owner_pid}" if run.owner_pid else "",
        done=run.progress_done, total=run.progress_total, message=run.progress_message,
        attempts=run.attempts, interruptions=run.interruptions,
        cancel_requested=run.cancel_requested_at is not None, stop_reason=run.stop_reason,
        result=parse_json(run.result), error=run.error, checkpoint=parse_json(run.checkpoint),
        rate=rate, eta_seconds=eta, elapsed_seconds=elapsed)


def summary(result: Mapping[str, Any] | None, *, limit: int = 200) -> str:
    """A result dict as `key=value` pairs on one line (nested values as compact JSON)."""
    if not result:
        return ""
    parts = []
    for key, value in result.items():
        if value is None:
            continue
        shown = (json.dumps(value, sort_keys=True, separators=(",", ":"))
                 if isinstance(value, (dict, list, bool)) else
                 f"{value:,}" if isinstance(value, int) else str(value))
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"
