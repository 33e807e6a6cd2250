"""The concurrency soak: three consoles editing users and roles, the scheduler running its
jobs, an ingester reading a log that a writer keeps appending to, all at once for a bounded
time, each in its own process. Then: no 'database is locked' reached a user, no lost
update, the audit chain verifies, and the row counts add up.

`soak()` is shared by tests/test_soak.py (15 s) and bench/reliability.py (60 s).
"""

from __future__ import annotations

import json
import os
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import func, select

from console.config import Settings, parse_settings
from console.principal import os_principal
from tests.killhelp import FAST, _child, _scheduler_body, _stop

SCHEDULES = {"checkpoint": {"kind": "audit-checkpoint", "when": "every 2 seconds"},
             "maintenance": {"kind": "db-maintenance", "when": "every 5 seconds"}}
SHARED = "shared"


def soak_settings(settings: Settings) -> Settings:
    doc = settings.model_dump(mode="json", exclude={"source", "base_dir"})
    doc.update(FAST)
    doc["schedules"] = SCHEDULES
    return parse_settings(doc, env={})


def _write(path: Path, result: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(path)


def _guarded(out: Path, body: Callable[[dict], None]) -> Callable[[], int]:
    """Run `body(result)` in the child; any exception that is not a ConsoleError is a
    failure recorded with its traceback."""
    def run() -> int:
        result: dict = {"ops": 0, "errors": {}, "crash": None}
        try:
            body(result)
        except BaseException:  # noqa: BLE001 - reported to the parent, which fails
            result["crash"] = traceback.format_exc()
        _write(out, result)
        return 0 if result["crash"] is None else 1
    return run


def _console(settings: Settings, k: int, seconds: float, seed: int, out: Path,
             password: str, admin: str) -> Callable[[], int]:
    def body(result: dict) -> None:
        from console import roles, user_directory, users
        from console.auth import authenticate
        from console.errors import ConsoleError
        from console.permissions import Permission
        from console.runtime import open_runtime

        rng = random.Random(seed * 100 + k)
        rt = open_runtime(settings)
        errors: Counter[str] = Counter()
        created: list[str] = []
        display: dict[str, str] = {}
        made_roles: list[str] = []
        described: dict[str, str] = {}
        shared_edits = 0
        with rt.database.scope() as db:
            actor = authenticate(rt.database, db, settings.security, admin, password,
                                 channel="cli")
            end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < end:
                i += 1
                op = rng.choice(["add", "edit", "edit", "shared", "shared", "role",
                                 "describe", "assign", "list"])
                try:
                    if op == "add" or not created:
                        name = f"s{k}u{i}"
                        users.create_user(db, actor, name, security=settings.security,
                                          password=None, display_name=f"new {k} {i}")
                        created.append(name)
                        display[name] = f"new {k} {i}"
                    elif op == "edit":
                        name = rng.choice(created)
                        users.edit_user(db, actor, name, display_name=f"v {k} {i}")
                        display[name] = f"v {k} {i}"
                    elif op == "shared":
                        users.edit_user(db, actor, SHARED, display_name=f"c {k} {i}")
                        shared_edits += 1
                    elif op == "role" or not made_roles:
                        name = f"r{k}x{i}"
                        roles.create_role(db, actor, name,
                                          permissions=frozenset({Permission.LOGS_READ}))
                        made_roles.append(name)
                        described[name] = ""
                    elif op == "describe":
                        name = rng.choice(made_roles)
                        roles.update_role(db, actor, name, description=f"d {k} {i}")
                        described[name] = f"d {k} {i}"
                    elif op == "assign":
                        users.set_roles(db, actor, rng.choice(created),
                                        [rng.choice(made_roles)])
                    else:
                        user_directory.list_users(db, actor, security=settings.security)
                    result["ops"] += 1
                except ConsoleError as exc:
                    errors[f"{type(exc).__name__} in {op}: {exc.message[:90]}"] += 1
                    db.rollback()
        rt.close()
        result.update(errors=dict(errors), created=created, display=display,
                      roles=made_roles, described=described, shared_edits=shared_edits)
    return _guarded(out, body)


def _writer(log: Path, seconds: float, out: Path) -> Callable[[], int]:
    def body(result: dict) -> None:
        end = time.monotonic() + seconds
        n = 0
        with open(log, "a", encoding="utf-8") as fh:
            while time.monotonic() < end:
                for _ in range(50):
                    n += 1
                    fh.write(f"Nov 20 09:{n // 60 % 60:02d}:{n % 60:02d} srv01 app[7]: "
                             f"soak line {n}\n")
                fh.flush()
                time.sleep(0.01)
        result["ops"] = n
        result["lines"] = n
    return _guarded(out, body)


def _ingester(settings: Settings, log: Path, seconds: float, out: Path) -> Callable[[], int]:
    def body(result: dict) -> None:
        from console.errors import ConsoleError
        from console.logs.ingest import ingest
        from console.runtime import open_runtime

        rt = open_runtime(settings)
        errors: Counter[str] = Counter()
        end = time.monotonic() + seconds
        with rt.database.scope() as db:
            while time.monotonic() < end:
                try:
                    report = ingest(db, os_principal("root"), [log], zone_name="UTC",
                                    final=False)
                    result["ops"] += 1
                    result["entries"] = result.get("entries", 0) + report.entries
                except ConsoleError as exc:
                    errors[f"{type(exc).__name__}: {exc.message[:80]}"] += 1
                    db.rollback()
                time.sleep(0.05)
        rt.close()
        result["errors"] = dict(errors)
    return _guarded(out, body)


@dataclass
class SoakReport:
    backend: str
    seconds: float
    ops: Counter = field(default_factory=Counter)  # per actor
    errors: Counter = field(default_factory=Counter)  # message -> count
    problems: list[str] = field(default_factory=list)

    @property
    def total_ops(self) -> int:
        """Consoles' service calls, ingest passes and scheduler runs (lines written and
        audit events are figures of their own)."""
        return sum(n for k, n in self.ops.items() if k not in ("writer", "audit events"))

    @property
    def locked(self) -> int:
        return sum(n for e, n in self.errors.items()
                   if "locked" in e or "busy" in e or "collided" in e)

    def line(self) -> str:
        errors = sum(self.errors.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.ops.items())
                          if k not in ("writer", "audit events"))
        return (f"soak {self.backend} {self.seconds:g}s: {self.total_ops} operations "
                f"({parts}), {self.ops['writer']} log lines written and stored, "
                f"{self.ops['audit events']} audit events verified, "
                f"{errors} errors seen, {self.locked} 'database is locked', "
                f"{len(self.problems)} failures")


def soak(settings: Settings, work: Path, *, seconds: float, seed: int = 1,
         password: str, admin: str = "admin") -> SoakReport:
    from console import audit, users
    from console.logs.ingest import ingest
    from console.runtime import open_runtime
    from models.identity import Role, User
    from models.jobs import JobRun

    settings = soak_settings(settings)
    report = SoakReport(settings.database.url.split(":")[0] or "sqlite", seconds)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "soak.log"
    log.write_text("")
    rt = open_runtime(settings)
    with rt.database.scope() as db:
        users.create_user(db, os_principal("root"), SHARED, security=settings.security,
                          password=None, display_name="start")
        start_users = db.exec(select(func.count()).select_from(User)).one()
        start_roles = db.exec(select(func.count()).select_from(Role)).one()
    outs = {name: work / f"{name}.json" for name in
            ("console1", "console2", "console3", "writer", "ingester")}
    pids = {f"console{k}": _child(_console(settings, k, seconds, seed, outs[f"console{k}"],
                                           password, admin)) for k in (1, 2, 3)}
    pids["writer"] = _child(_writer(log, seconds, outs["writer"]))
    pids["ingester"] = _child(_ingester(settings, log, seconds, outs["ingester"]))
    scheduler = _child(_scheduler_body(settings))
    results: dict[str, dict] = {}
    try:
        for name, pid in pids.items():
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            results[name] = json.loads(outs[name].read_text()) if outs[name].exists() else {
                "crash": f"no result (exit {code})", "ops": 0, "errors": {}}
    finally:
        if _stop(scheduler) != 0:
            report.problems.append("the scheduler did not stop cleanly")
    for name, res in results.items():
        report.ops[name] = res["ops"]
        report.errors.update(res.get("errors", {}))
        if res.get("crash"):
            report.problems.append(f"{name} crashed: {res['crash']}")
    if report.locked:
        report.problems.append(f"'database is locked' reached a user {report.locked} times: "
                               + "; ".join(f"{n}x {e}" for e, n in report.errors.items()
                                           if "locked" in e or "busy" in e or "collided" in e))

    with rt.database.scope() as db:
        final = ingest(db, os_principal("root"), [log], zone_name="UTC", final=True)
        ingested = results["ingester"].get("entries", 0) + final.entries
        if ingested != results["writer"].get("lines"):
            report.problems.append(f"log lines written {results['writer'].get('lines')}, "
                                   f"stored {ingested}")
        all_users = {u.username: u for u in db.exec(select(User)).all()}
        all_roles = {r.name: r for r in db.exec(select(Role)).all()}
        created = sum(len(r.get("created", [])) for n, r in results.items()
                      if n.startswith("console"))
        made = sum(len(r.get("roles", [])) for n, r in results.items()
                   if n.startswith("console"))
        if len(all_users) != start_users + created:
            report.problems.append(f"users: {len(all_users)} != {start_users} + {created}")
        if len(all_roles) != start_roles + made:
            report.problems.append(f"roles: {len(all_roles)} != {start_roles} + {made}")
        shared_edits = 0
        for name, res in results.items():
            if not name.startswith("console"):
                continue
            shared_edits += res.get("shared_edits", 0)
            for user, shown in res.get("display", {}).items():
                if all_users.get(user) is None or all_users[user].display_name != shown:
                    report.problems.append(f"lost update: {user} should show {shown!r}")
            for role, text in res.get("described", {}).items():
                if all_roles.get(role) is None or all_roles[role].description != text:
                    report.problems.append(f"lost update: role {role} should say {text!r}")
        from models.audit import AuditEvent

        edits = db.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "users.edit", AuditEvent.target == f"user:{SHARED}",
            AuditEvent.outcome == "ok")).one()
        if edits != shared_edits:
            report.problems.append(f"shared user: {shared_edits} edits, {edits} audited")
        runs = db.exec(select(JobRun.state, func.count()).group_by(JobRun.state)).all()
        report.ops["scheduler runs"] = sum(n for _, n in runs)
        for run in db.exec(select(JobRun).where(JobRun.state != "succeeded")).all():
            if run.state == "interrupted" and "stopping (SIGTERM)" in run.error or \
                    run.state == "queued":
                continue  # stopped with the soak (resumes at the next start), or not begun
            report.problems.append(f"scheduler run {run.id} ({run.kind}) {run.state}: "
                                   f"{run.error[:300]}")
        if report.ops["scheduler runs"] == 0:
            report.problems.append("the scheduler ran nothing")
        verdict = audit.verify(db, os_principal("root"), rt.keys)
        if not verdict.ok:
            report.problems.append(f"audit verify: {verdict.summary()}")
        report.ops["audit events"] = verdict.events
    rt.close()
    return report
