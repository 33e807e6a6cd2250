"""Kill tests: SIGKILL the scheduler (or an ingesting process) at random, seeded points, let
it restart, and compare the final state with an uninterrupted run of the same work.

Generic over job kinds: a kind joins the kill tests with one `JobCase` line in JOB_CASES
(its parameters, optional work to prepare before each run, and the final state to compare).
The processes are forked from the test process (everything already imported), so a kill
point costs milliseconds, not an interpreter start; each is a real process running the real
`Scheduler` or `ingest`, killed with SIGKILL.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlmodel import select

from console.config import Settings
from console.principal import os_principal

# Fast leases so a new scheduler takes over a killed one's work within a fraction of a
# second; every killed run is resumed however often it dies here.
FAST = {"jobs": {"heartbeat_seconds": 0.05, "lease_seconds": 0.3},
        "exports": {"rows_per_step": 100},
        "scheduler": {"poll_seconds": 0.05, "max_workers": 2, "max_auto_resumes": 100},
        # Runs are planned back to back, so a plan also names rows an earlier run is about
        # to delete: those are skipped, and the check is that every row goes exactly once.
        "retention": {"drift_threshold_percent": 100}}


def fast_settings(settings: Settings) -> Settings:
    from console.config import parse_settings

    doc = settings.model_dump(mode="json", exclude={"source", "base_dir"})
    for section, values in FAST.items():
        doc[section] = {**doc.get(section, {}), **values}
    return parse_settings(doc, env={})


# -- the work -------------------------------------------------------------------------------


def _make_free_pages(rt) -> None:
    """Give db-maintenance something to do: pages freed by a dropped table (SQLite), dead
    rows to vacuum (PostgreSQL)."""
    from console.db import writing

    with rt.database.scope() as db, writing(db):
        db.execute(text("CREATE TABLE IF NOT EXISTS kill_ballast (n INTEGER, pad TEXT)"))
        db.execute(text("INSERT INTO kill_ballast (n, pad) VALUES " + ",".join(
            f"({i}, '{'x' * 900}')" for i in range(400))))
    with rt.database.scope() as db, writing(db):
        db.execute(text("DELETE FROM kill_ballast"))


def _maintenance_state(rt) -> tuple:
    with rt.database.scope() as db:
        if rt.database.backend == "sqlite":
            path = rt.database.engine.url.database
            with sqlite3.connect(path) as conn:
                return ("integrity", conn.execute("PRAGMA integrity_check").fetchone()[0],
                        "free pages", conn.execute("PRAGMA freelist_count").fetchone()[0])
        rows = db.execute(text("SELECT count(*) FROM kill_ballast")).scalar()
        return ("ballast rows", rows)


def _checkpoint_state(rt) -> tuple:
    from models.audit import AuditCheckpoint

    with rt.database.scope() as db:
        last = db.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()
        return ("signed", last is not None)


def _export_logs(rt) -> None:
    """A logs export (unencrypted directory, 100 rows a step) of a few thousand lines,
    queued for the scheduler (the export kind's only parameter is its register row)."""
    from console.export.purposes import Purpose
    from console.export.service import ExportSpec, create_export, start_export
    from console.jobs.views import Where
    from console.logs.ingest import ingest

    root = os_principal("root")
    log = rt.data_dir / "export-source.log"
    with rt.database.scope() as db:
        if not log.exists():
            write_log(log, 600, 5)
            ingest(db, root, [log], zone_name="UTC", final=True)
        created = create_export(db, root, ExportSpec(kind="logs", no_encrypt=True,
                                                     purpose=Purpose.HANDOVER,
                                                     packaging="directory"),
                                settings=rt.settings, keys=rt.keys)
        start_export(db, root, created.export, where=Where.SCHEDULER,
                     lease_seconds=rt.settings.jobs.lease_seconds)


def _export_state(rt) -> tuple:
    """Every bundle verifies and holds each log entry exactly once."""
    import json

    from console.export.verify import verify_bundle
    from models.exports import Export

    found = []
    with rt.database.scope() as db:
        for export in db.exec(select(Export).order_by(Export.id)).all():
            ok = bool(export.path) and verify_bundle(Path(export.path), keys=rt.keys).ok
            lines = (Path(export.path) / "data" / "processing_logs.jsonl").read_text(
                encoding="utf-8").split("\n")[:-1] if ok else []
            ids = [json.loads(line)["id"] for line in lines]
            found.append((export.state, ok, len(ids), len(set(ids))))
    return tuple(found)


def _retention_due(rt) -> None:
    """300 attendance rows of a long-gone employee (five years old: due under the 3-year
    policy), planned and queued as a retention run; every run gets rows of its own."""
    from datetime import UTC, date, datetime, timedelta

    from console.db import writing
    from console.jobs.service import start_run
    from console.jobs.views import Where
    from console.retention.preview import preview
    from models.business import AttendanceRecord, Employee
    from tests.retentionhelp import employee_pii

    root = os_principal("root")
    old = date.today() - timedelta(days=5 * 366)
    with rt.database.scope() as db:
        with writing(db):
            if db.get(Employee, 7900) is None:
                db.add(Employee(id=7900, employee_no="E-7900", department="Finance",
                                hired_on=old - timedelta(days=900),
                                terminated_on=old - timedelta(days=400),
                                updated_at=datetime.now(UTC), **employee_pii(1)))
                db.flush()
            db.add_all(AttendanceRecord(employee_id=7900, day=old - timedelta(days=i % 200),
                                        clock_in=datetime(2021, 1, 4, 8, tzinfo=UTC))
                       for i in range(300))
        plan = preview(db, root, rt.settings.retention, category_name="attendance")
        start_run(db, root, "retention", {"plan": plan.id}, where=Where.SCHEDULER)


def _retention_state(rt) -> tuple:
    """Attendance rows left, and the rows all runs say they deleted."""
    import json

    from models.business import AttendanceRecord
    from models.jobs import JobRun

    with rt.database.scope() as db:
        left = len(db.exec(select(AttendanceRecord.id)).all())
        deleted = [json.loads(r.result or "{}").get("categories", {}).get("attendance", {})
                   .get("deleted") for r in db.exec(select(JobRun).where(
                       JobRun.kind == "retention").order_by(JobRun.id)).all()]
    return ("attendance left", left, "deleted", sum(d or 0 for d in deleted))


@dataclass(frozen=True)
class JobCase:
    kind: str
    params: dict = field(default_factory=dict)
    prepare: Callable[..., None] | None = None  # before each run is queued
    state: Callable[..., tuple] = lambda rt: ()  # compared with the uninterrupted run
    start: Callable[..., None] | None = None  # queues the run itself (instead of params)


# One line per job kind.
JOB_CASES: dict[str, JobCase] = {
    "db-maintenance": JobCase("db-maintenance", {"pages_per_step": 8, "analyze": False},
                              _make_free_pages, _maintenance_state),
    "audit-checkpoint": JobCase("audit-checkpoint", {}, None, _checkpoint_state),
    "export": JobCase("export", state=_export_state, start=_export_logs),
    "retention": JobCase("retention", state=_retention_state, start=_retention_due),
}


# -- processes ------------------------------------------------------------------------------


def _child(body: Callable[[], int]) -> int:
    """Fork; the child runs `body` with stdio on /dev/null and exits with its code."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        code = body()
    finally:
        os._exit(code)


def _scheduler_body(settings: Settings) -> Callable[[], int]:
    def body() -> int:
        from console.errors import Conflict
        from console.jobs.scheduler import Scheduler
        from console.runtime import open_runtime

        rt = open_runtime(settings)
        runner = Scheduler(rt)
        while True:  # a killed scheduler's lease runs out first
            try:
                runner.start()
                break
            except Conflict:
                time.sleep(0.02)
        runner.install_signals()
        return runner.run_forever()
    return body


def _ingest_body(settings: Settings, path: Path) -> Callable[[], int]:
    def body() -> int:
        from console.logs import reader
        from console.logs.ingest import ingest
        from console.runtime import open_runtime

        # Small chunks: many commits per file, so kills land between chunks as well as in
        # the middle of one (and continuation lines cross chunk boundaries).
        reader.read_chunks.__kwdefaults__["max_lines"] = CHUNK_LINES
        reader.BLOCK = 32 << 10

        rt = open_runtime(settings)
        with rt.database.scope() as db:
            ingest(db, os_principal("root"), [path], zone_name="UTC", final=True)
        return 0
    return body


CHUNK_LINES = 1000


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _stop(pid: int, timeout: float = 60) -> int:
    os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    _kill(pid)
    raise AssertionError("the scheduler did not stop within a minute of SIGTERM")


def _runs(rt, kind: str) -> list[tuple[str, int]]:
    from models.jobs import JobRun

    with rt.database.scope() as db:
        return [(r.state, r.attempts) for r in db.exec(
            select(JobRun).where(JobRun.kind == kind).order_by(JobRun.id)).all()]


def _queue(rt, case: JobCase) -> None:
    from console.jobs.service import start_run
    from console.jobs.views import Where

    if case.prepare is not None:
        case.prepare(rt)
    if case.start is not None:
        case.start(rt)
        return
    with rt.database.scope() as db:
        start_run(db, os_principal("root"), case.kind, case.params, where=Where.SCHEDULER)


def _drain(settings: Settings, rt, kind: str, count: int, timeout: float = 120) -> None:
    """A scheduler until every run of `kind` has ended; then a clean stop."""
    pid = _child(_scheduler_body(settings))
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            runs = _runs(rt, kind)
            if len(runs) == count and all(s in ("succeeded", "failed", "cancelled")
                                          for s, _ in runs):
                return
            time.sleep(0.05)
        raise AssertionError(f"runs of {kind} did not finish: {_runs(rt, kind)}")
    finally:
        _stop(pid)


@dataclass
class KillReport:
    name: str
    kills: int = 0
    killed_mid_work: int = 0  # kills that left something to resume
    resumed: int = 0  # attempts beyond the first, over all runs
    final: object = None
    reference: object = None

    @property
    def same(self) -> bool:
        return self.final == self.reference


def _job_final(rt, case: JobCase) -> tuple:
    from console import audit

    with rt.database.scope() as db:
        verified = audit.verify(db, os_principal("root"), rt.keys).ok
    from models.jobs import JobRun

    states = sorted({s for s, _ in _runs(rt, case.kind)})
    with rt.database.scope() as db:  # a failed run says why in the report
        errors = tuple(r.error for r in db.exec(select(JobRun).where(
            JobRun.kind == case.kind, JobRun.state == "failed")).all())
    return (tuple(states), len(_runs(rt, case.kind)), verified, case.state(rt), errors)


def kill_job_runs(settings: Settings, reference_settings: Settings, case: JobCase, *,
                  points: int, seed: int, window: float = 0.5) -> KillReport:
    """`points` runs of the case's kind, each with the scheduler SIGKILLed at a random
    moment (seeded) while it runs; a fresh scheduler resumes. The reference installation
    runs the same work without kills."""
    from console.runtime import open_runtime

    rng = random.Random(seed)
    report = KillReport(case.kind)
    settings, reference_settings = fast_settings(settings), fast_settings(reference_settings)
    ref = open_runtime(reference_settings)
    try:
        for _ in range(points):
            _queue(ref, case)
        _drain(reference_settings, ref, case.kind, points)
        report.reference = _job_final(ref, case)
    finally:
        ref.close()
    rt = open_runtime(settings)
    try:
        for i in range(points):
            _queue(rt, case)
            pid = _child(_scheduler_body(settings))
            time.sleep(rng.uniform(0.0, window))
            _kill(pid)
            report.kills += 1
            runs = _runs(rt, case.kind)
            if runs[i][0] not in ("succeeded", "failed", "cancelled"):
                report.killed_mid_work += 1
        _drain(settings, rt, case.kind, points)
        report.resumed = sum(max(0, a - 1) for _, a in _runs(rt, case.kind))
        report.final = _job_final(rt, case)
    finally:
        rt.close()
    return report


def _log_state(rt) -> tuple:
    from console.logs.export import iter_entries
    from console.logs.query import LogFilter
    from models.logs import LogFile

    root = os_principal("root")
    with rt.database.scope() as db:
        entries = [(e.message, e.line, e.level.value) for e in
                   iter_entries(db, root, LogFilter())]
        files = [(f.offset, f.lines, f.entries) for f in db.exec(select(LogFile)).all()]
    return (len(entries), hash(tuple(entries)), tuple(files))


def write_log(path: Path, lines: int, seed: int) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(lines):
            word = rng.choice(["job done", "error: disk full", "warning: slow", "login ok"])
            fh.write(f"Nov 20 {8 + i // 3600 % 12:02d}:{i // 60 % 60:02d}:{i % 60:02d} "
                     f"srv{i % 3} app[{i % 97}]: {word} #{i}\n")
            if i % 50 == 7:
                fh.write("    continuation of the entry above\n")
    old = time.time() - 3600
    os.utime(path, (old, old))
    return path


def kill_ingest(settings: Settings, reference_settings: Settings, log: Path, *, points: int,
                seed: int) -> KillReport:
    """Ingest `log` while SIGKILLing the ingesting process at `points` random moments
    (seeded, within the time an uninterrupted ingest takes); then once to the end."""
    from console.runtime import open_runtime

    rng = random.Random(seed)
    report = KillReport("log ingest")
    ref = open_runtime(reference_settings)
    try:
        started = time.monotonic()
        pid = _child(_ingest_body(reference_settings, log))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        took = time.monotonic() - started
        report.reference = _log_state(ref)
    finally:
        ref.close()
    rt = open_runtime(settings)
    try:
        for _ in range(points):
            pid = _child(_ingest_body(settings, log))
            time.sleep(rng.uniform(0.0, took))
            done, _status = os.waitpid(pid, os.WNOHANG)
            if not done:
                _kill(pid)
                report.killed_mid_work += 1
            report.kills += 1
        pid = _child(_ingest_body(settings, log))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        report.final = _log_state(rt)
    finally:
        rt.close()
    return report
