"""The `logs-ingest` job kind on SQLite and PostgreSQL: configured sources (globs, rotated
files first), per-file checkpoints across steps, a stop then resume that loses and
duplicates nothing, files missing or unreadable, and the audit trail."""

from __future__ import annotations

import dataclasses
import gzip
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from console import jobs
from console.config import LogSource, LogsSettings
from console.errors import ValidationError
from console.jobs import RunControl
from console.logs import reader
from console.logs.common import table_of
from models.audit import AuditEvent
from models.jobs import JobRun, JobState

HERE = jobs.Where.HERE


def syslog_lines(start: int, n: int, day: int = 3) -> list[str]:
    return [f"Nov {day:2d} {(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d} app01 "
            f"payroll[{100 + i}]: entry {i}" for i in range(start, start + n)]


def write(path: Path, lines: list[str], *, age: float = 60.0) -> None:
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    else:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))


def stored_messages(db) -> list[str]:
    db.rollback()
    months = db.execute(text("SELECT month FROM log_partitions ORDER BY month")).scalars().all()
    found: list[str] = []
    for month in months:
        found += db.execute(text(f"SELECT message FROM {table_of(month.replace('-', ''))} "
                                 "ORDER BY id")).scalars().all()
    db.rollback()
    return found


def with_sources(runtime, **sources: LogSource):
    settings = runtime.settings.model_copy(update={"logs": LogsSettings(
        timezone="UTC", sources=sources)})
    return dataclasses.replace(runtime, settings=settings)


def run(runtime, db, root, params: dict[str, str] | None = None, control=None):
    started = jobs.start_run(db, root, "logs-ingest", params or {}, where=HERE)
    return jobs.execute(runtime, started.claim, root, control=control)


def test_configured_sources_rotated_first_then_only_what_is_new(runtime, db, root,
                                                                 tmp_path: Path) -> None:
    logs = tmp_path / "log"
    logs.mkdir()
    write(logs / "syslog.2.gz", syslog_lines(0, 40), age=300)
    write(logs / "syslog.1", syslog_lines(40, 30), age=200)
    write(logs / "syslog", syslog_lines(70, 20), age=100)
    write(logs / "other.txt", ["not matched by the pattern"], age=50)
    rt = with_sources(runtime, syslog=LogSource(paths=(f"{logs}/syslog*",), format="syslog"))

    final = run(rt, db, root)
    assert final.state == JobState.SUCCEEDED, final.error
    view = jobs.get_run(db, root, final.id)
    assert view.result["files"] == 3 and view.result["files_read"] == 3
    assert view.result["lines"] == 90 and view.result["errors"] == []
    assert view.done == view.total
    assert stored_messages(db) == [f"entry {i}" for i in range(90)]
    origin = db.execute(text("SELECT DISTINCT source FROM log_origins")).scalars().all()
    assert origin == ["syslog"]

    # The live file grows and rotates: the next run reads only the new lines.
    with open(logs / "syslog", "a", encoding="utf-8") as fh:
        fh.write("\n".join(syslog_lines(90, 5)) + "\n")
    os.rename(logs / "syslog", logs / "syslog.0")
    write(logs / "syslog", syslog_lines(95, 5), age=30)
    os.utime(logs / "syslog.0", (time.time() - 40, time.time() - 40))
    again = run(rt, db, root)
    assert again.state == JobState.SUCCEEDED, again.error
    assert jobs.get_run(db, root, again.id).result["lines"] == 10
    assert stored_messages(db) == [f"entry {i}" for i in range(100)]

    db.rollback()
    ingested = db.exec(select(AuditEvent.target).where(AuditEvent.action == "logs.ingest")
                       .order_by(col(AuditEvent.id))).all()
    assert ingested == [str(logs / n) for n in ("syslog.2.gz", "syslog.1", "syslog",
                                                 "syslog.0", "syslog")]
    actions = db.exec(select(AuditEvent.action).where(
        AuditEvent.target == f"job:{again.id}")).all()
    assert actions == ["jobs.start", "jobs.end"]


def test_steps_checkpoint_within_a_file_and_a_stopped_run_resumes(runtime, db, root,
                                                                  tmp_path: Path,
                                                                  monkeypatch) -> None:
    monkeypatch.setattr(reader, "CHUNK_LINES", 50)  # several chunks, several steps
    monkeypatch.setattr(reader, "BLOCK", 1024)
    big = tmp_path / "app.log"
    write(big, syslog_lines(0, 400))
    control = RunControl()
    rt = with_sources(runtime)
    steps: list[int] = []

    def stop_after_two(progress) -> None:
        steps.append(progress.done)
        if len(steps) == 3:  # resolved, then two steps of one chunk each
            control.request_stop("stopping for the test")

    started = jobs.start_run(db, root, "logs-ingest",
                             {"paths": str(big), "source": "payroll",
                              "seconds_per_step": "0"}, where=HERE)  # a chunk per step
    first = jobs.execute(rt, started.claim, root, control=control,
                         on_progress=stop_after_two)
    assert first.state == JobState.INTERRUPTED
    part = stored_messages(db)
    assert 0 < len(part) < 300 and part == [f"entry {i}" for i in range(len(part))]

    resumed = jobs.resume_run(db, root, first.id, where=HERE)
    final = jobs.execute(rt, resumed.claim, root)
    assert final.state == JobState.SUCCEEDED, final.error
    assert stored_messages(db) == [f"entry {i}" for i in range(400)]
    view = jobs.get_run(db, root, final.id)
    assert view.result["lines"] == 400 and view.result["files_read"] == 1
    assert view.done == view.total == big.stat().st_size


def test_missing_unreadable_and_unknown_sources(runtime, db, root, tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    write(good, syslog_lines(0, 5))
    locked = tmp_path / "locked.log"
    write(locked, syslog_lines(5, 5))
    locked.chmod(0)
    rt = with_sources(runtime, app=LogSource(paths=(str(good), str(tmp_path / "gone.log"),
                                                    str(locked))))
    try:
        final = run(rt, db, root)
    finally:
        locked.chmod(0o644)
    if os.geteuid() == 0:  # root reads anything: the file is simply read
        assert final.state == JobState.SUCCEEDED, final.error
    else:
        assert final.state == JobState.FAILED
        assert f"could not read 1 of 3 files: {locked}: " in final.error
        assert "not readable" in final.error
    assert stored_messages(db)[:5] == [f"entry {i}" for i in range(5)]
    view = jobs.get_run(db, root, final.id)
    assert view.done >= good.stat().st_size

    unknown = run(rt, db, root, {"sources": "nginx"})
    assert unknown.state == JobState.FAILED
    assert "no [logs.sources.nginx] in the config; configured: app" in unknown.error
    nothing = run(with_sources(runtime), db, root)
    assert nothing.state == JobState.FAILED and "add a [logs.sources.<name>]" in nothing.error
    with pytest.raises(ValidationError, match="param paths: 'var/log/x' is not an absolute"):
        jobs.start_run(db, root, "logs-ingest", {"paths": "/var/log/y, var/log/x"}, where=HERE)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # config parsing only
def test_sources_in_config_are_validated(installation) -> None:
    from console.config import parse_settings
    from console.errors import ConfigError

    good = parse_settings({"logs": {"sources": {"syslog": {
        "paths": ["/var/log/syslog*"], "format": "syslog"}}}}, env={})
    assert good.logs.sources["syslog"].paths == ("/var/log/syslog*",)
    with pytest.raises(ConfigError, match="not an absolute path"):
        parse_settings({"logs": {"sources": {"x": {"paths": ["log/x"]}}}}, env={})
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        parse_settings({"logs": {"sources": {"x": {"paths": ["/x"], "format": "xml"}}}},
                       env={})


@pytest.mark.integration
def test_the_scheduler_ingests_configured_sources_every_time_it_is_due(
        installation, db, tmp_path: Path) -> None:
    from tests.clihelp import write_config
    from tests.test_scheduler import FAST, SchedulerProcess, wait_for

    live = tmp_path / "app.log"
    write(live, syslog_lines(0, 20))
    cfg = write_config(installation, tmp_path / "c.toml", extra=FAST + f"""
[logs]
timezone = "UTC"
[logs.sources.payroll]
paths = ["{tmp_path}/app.log*"]
format = "syslog"

[schedules.ingest]
kind = "logs-ingest"
when = "every 1 second"
""")
    proc = SchedulerProcess(cfg)
    try:
        proc.wait_for_log("scheduler started")
        wait_for(lambda: len(stored_messages(db)) == 20, "the first scheduled ingest")
        with open(live, "a", encoding="utf-8") as fh:  # the file grows while it runs
            fh.write("\n".join(syslog_lines(20, 7)) + "\n")
        stamp = time.time() - 30  # quiet: its last line is complete
        os.utime(live, (stamp, stamp))
        wait_for(lambda: len(stored_messages(db)) == 27, "the appended lines")
        assert proc.stop() == 0
    finally:
        proc.kill()
    assert stored_messages(db) == [f"entry {i}" for i in range(27)]
    db.rollback()
    runs = db.exec(select(JobRun).where(JobRun.schedule == "ingest")).all()
    assert len(runs) >= 2
    assert all(r.kind == "logs-ingest" and r.started_by == "scheduler" for r in runs)
    assert {r.state for r in runs} <= {JobState.SUCCEEDED.value, JobState.INTERRUPTED.value}
