"""Demo processing logs: a few days of realistic lines from payroll, HRM, POS and the
console (FlowPro JSON Lines), the server's syslog and a Python service log, with some
errors and stack traces and some personal data for masking; written as files and read
through the real ingest."""

from __future__ import annotations

import gzip
import os
import random
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from sqlmodel import Session

from console.logs.common import Format
from console.logs.ingest import ingest
from console.principal import Principal

SYSTEMS = {
    "payroll": ("payroll.run", "payroll.tax", "payroll.bank"),
    "hrm": ("hrm.employees", "hrm.attendance", "hrm.leave"),
    "pos": ("pos.sync", "pos.checkout", "pos.inventory"),
    "console": ("console.auth", "console.retention", "console.export"),
}
HOSTS = {"payroll": "app01", "hrm": "app02", "pos": "pos-gw01", "console": "admin01"}
INFO = ("request served in {ms} ms", "sync batch {n} committed ({k} rows)",
        "user {user} logged in", "scheduled job {job} finished in {ms} ms",
        "cache warmed: {k} keys", "health check ok")
WARN = ("slow query took {ms} ms on table attendance_records",
        "retrying upstream call to bank gateway (attempt {k})",
        "employee {email} has no tax class; using default",
        "POS terminal {n} clock skew {k} s")
ERROR = ("payroll run {n} failed for employee {emp}: bank account rejected",
         "POS sync error: terminal {n} unreachable (connection refused)",
         "could not send payslip to {email}: SMTP 550",
         "customer {phone} card 4111 1111 1111 1111 declined")
TRACE = ('Traceback (most recent call last):\n  File "/opt/flowpro/payroll/run.py", line 212, '
         'in compute\n    net = gross - tax\nTypeError: unsupported operand type(s) for -: '
         "'NoneType' and 'int'")


def write_demo_logs(directory: Path, now: datetime, *, days: int = 3, per_hour: int = 120,
                    seed: int = 7) -> list[Path]:
    """Write the demo files; returns their paths. The same seed gives the same lines, at
    the same times relative to `now`."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    start = now - timedelta(days=days)
    app_lines, sys_lines, py_lines = [], [], []
    t = start
    step = 3600 / per_hour
    n = 0
    while t < now:
        n += 1
        system = rng.choice(tuple(SYSTEMS))
        roll = rng.random()
        level, pool = ("error", ERROR) if roll < 0.03 else ("warn", WARN) if roll < 0.12 \
            else ("debug", INFO) if roll < 0.2 else ("info", INFO)
        values = {"ms": rng.randint(3, 4000), "n": rng.randint(1, 500), "k": rng.randint(1, 9),
                  "user": rng.choice(("audrey", "oscar", "admin")),
                  "job": rng.choice(("retention", "export", "ingest")),
                  "email": f"emp{rng.randint(1, 200)}@client.example",
                  "emp": f"E{rng.randint(1, 200):06d}",
                  "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"}
        doc = {"ts": t.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
               "level": level, "system": system, "host": HOSTS[system],
               "logger": rng.choice(SYSTEMS[system]),
               "message": rng.choice(pool).format(**values),
               "user": values["user"], "request_id": f"req-{n:08x}"}
        if level == "error":
            doc["duration_ms"] = values["ms"]
        app_lines.append(orjson.dumps(doc).decode())
        if n % 3 == 0:
            stamp = t.astimezone().strftime("%b %e %H:%M:%S")
            pid = rng.randint(300, 30000)
            choice = rng.random()
            msg = (f"sshd[{pid}]: Failed password for invalid user admin from "
                   f"203.0.113.{rng.randint(1, 254)} port {rng.randint(1024, 65000)} ssh2"
                   if choice < 0.2 else
                   f"CRON[{pid}]: (root) CMD (flowpro-console logs ingest /var/log/syslog)"
                   if choice < 0.5 else
                   f"kernel: [{n}.{pid}] EXT4-fs (vda1): error count since last fsck: 1"
                   if choice < 0.52 else
                   f"systemd[1]: Started Session {n} of user admin.")
            sys_lines.append(f"{stamp} admin01 {msg}")
        if n % 7 == 0:
            stamp = t.astimezone().strftime("%Y-%m-%d %H:%M:%S,") + f"{rng.randint(0, 999):03d}"
            if rng.random() < 0.05:
                py_lines.append(f"{stamp} - flowpro.worker - ERROR - job crashed\n{TRACE}")
            else:
                py_lines.append(f"{stamp} - flowpro.worker - INFO - processed {n} events")
        t += timedelta(seconds=step * rng.uniform(0.5, 1.5))
    half = len(sys_lines) // 2
    files = [directory / "flowpro.jsonl", directory / "syslog.1.gz", directory / "syslog",
             directory / "worker.log"]
    files[0].write_text("\n".join(app_lines) + "\n", encoding="utf-8")
    # The gzip header's time is `now` (not the clock), so the same seed writes the same bytes.
    with open(files[1], "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=int(now.timestamp())) as fh:
        fh.write(("\n".join(sys_lines[:half]) + "\n").encode("utf-8"))
    files[2].write_text("\n".join(sys_lines[half:]) + "\n", encoding="utf-8")
    files[3].write_text("\n".join(py_lines) + "\n", encoding="utf-8")
    stamp = now.timestamp()
    for path in files:
        os.utime(path, (stamp, stamp))
    return files


def seed_demo_logs(db: Session, actor: Principal, directory: Path, now: datetime,
                   zone_name: str = "local", *, seed: int = 7) -> int:
    """Write the demo log files into `directory` and ingest them; returns the entries."""
    files = write_demo_logs(directory, now, seed=seed)
    sources = {"flowpro.jsonl": None, "syslog.1.gz": "syslog", "syslog": "syslog",
               "worker.log": "worker"}
    total = 0
    for path in files:
        report = ingest(db, actor, [path], fmt=Format.AUTO, source=sources[path.name],
                        zone_name=zone_name, final=True)
        total += report.entries
    return total
