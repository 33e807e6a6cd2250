"""Schedule times and the scheduler's JSON Lines log format (no database needed)."""

from __future__ import annotations

import io
import json
import logging
from datetime import time

import pytest
import schedule

from console.config import ConfigError, parse_settings, parse_when
from console.jobs.scheduler import plan
from console.jsonlog import JsonLinesFormatter, configure


@pytest.mark.parametrize(("text", "unit", "interval", "at"), [
    ("every 1 minute", "minutes", 1, None),
    ("every minute", "minutes", 1, None),
    ("Every 5  Minutes", "minutes", 5, None),
    ("every 30 seconds", "seconds", 30, None),
    ("every 2 hours", "hours", 2, None),
    ("hourly", "hours", 1, None),
    ("hourly :15", "hours", 1, time(0, 15)),
    ("daily 02:00", "days", 1, time(2, 0)),
    ("every day at 23:59", "days", 1, time(23, 59)),
    ("weekly sunday 03:30", "weeks", 1, time(3, 30)),
    ("every monday 01:00", "weeks", 1, time(1, 0)),
])
def test_when_maps_onto_the_schedule_package(text, unit, interval, at) -> None:
    job = plan(schedule.Scheduler(), text, lambda: None)
    assert (job.unit, job.interval, job.at_time) == (unit, interval, at)
    if "sunday" in text:
        assert job.start_day == "sunday"


@pytest.mark.parametrize("text", ["every 0 minutes", "nightly", "daily 2:00", "daily 24:00",
                                  "hourly :60", "weekly funday 02:00", ""])
def test_unreadable_when_lists_the_forms(text) -> None:
    with pytest.raises(ValueError, match="daily HH:MM"):
        parse_when(text)


def test_schedule_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[schedules\] nightly\.when: cannot read"):
        parse_settings({"schedules": {"nightly": {"kind": "x", "when": "at night"}}}, env={})
    with pytest.raises(ConfigError, match="schedules.*must be 1-64 letters"):
        parse_settings({"schedules": {"bad name": {"kind": "x", "when": "hourly"}}}, env={})
    with pytest.raises(ConfigError, match="lease_seconds must be at least 3 x"):
        parse_settings({"jobs": {"heartbeat_seconds": 20, "lease_seconds": 30}}, env={})
    ok = parse_settings({"schedules": {"n": {"kind": "db-maintenance", "when": "daily 02:00",
                                             "params": {"pages_per_step": 10}}}}, env={})
    assert ok.schedules["n"].params == {"pages_per_step": 10} and ok.schedules["n"].enabled


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_lines_format(restore_logging) -> None:
    stream = io.StringIO()
    configure(stream, logger="flowpro.test-jsonlog")
    log = logging.getLogger("flowpro.test-jsonlog.child")
    log.info("job run started", extra={"run_id": 7, "kind": "db-maintenance"})
    try:
        raise RuntimeError("disk full\nsecond line")
    except RuntimeError:
        log.exception("step failed")
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["level"] == "info" and first["system"] == "console"
    assert first["logger"] == "flowpro.test-jsonlog.child" and first["ts"].endswith("Z")
    assert (first["run_id"], first["kind"], first["message"]) == (7, "db-maintenance",
                                                                  "job run started")
    assert second["level"] == "error" and second["exception"] == "RuntimeError: disk full"
    assert "Traceback" in second["traceback"]
    logging.getLogger("some.library").info("not shown")
    logging.getLogger("some.library").warning("shown")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["message"] for e in lines[2:]] == ["shown"]
    assert JsonLinesFormatter(host="h").host == "h"
