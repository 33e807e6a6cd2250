"""Reliability report: the concurrency soak, the kill tests, the property-based fuzzing,
the hostile-strings corpus and the injected faults, at bench strength.

One line per check with its figure (operations, faults injected, inputs tried, failures),
then the plain line `N passed, N failed`. Runs as root (the fault checks mount a tmpfs and a
read-only bind) with PostgreSQL at /var/run/postgresql, like .ci/run.

    .venv/bin/python bench/reliability.py [--soak-seconds 60] [--kill-points 20]
                                          [--seed 9] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from tests.conftest import ADMIN, ADMIN_PASSWORD, Template, _pg_exec, make_settings  # noqa: E402,I001

RESULTS: list[bool] = []


def report(ok: bool, line: str) -> None:
    RESULTS.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {line}", flush=True)


class Installations:
    """Fresh installations cloned from one template per backend."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[str, Template] = {}
        self.pg_dbs: list[str] = []

    def new(self, backend: str):
        if backend not in self.templates:
            self.templates[backend] = Template(self.root / f"tmpl-{backend}", backend)
        target = self.root / f"inst-{uuid.uuid4().hex[:8]}"
        url = self.templates[backend].clone(target)
        if url:
            self.pg_dbs.append(url.split("/")[-1].split("?")[0])
        return make_settings(target, url)

    def close(self) -> None:
        for name in self.pg_dbs:
            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for template in self.templates.values():
            template.drop()


def run_pytest(target: str, env: dict[str, str]) -> tuple[int, int, float]:
    """(passed, failed) of one test file run here, without xdist."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-o", "addopts=",
                           "-q", "-p", "no:cacheprovider", target],
                          capture_output=True, text=True, env={**os.environ, **env})
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", tail)) else 0
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", tail))
    if proc.returncode and not failed:
        failed = 1
    if failed:
        sys.stdout.write(proc.stdout[-4000:])
    return passed, failed, time.perf_counter() - started


def soak_checks(inst: Installations, backends: list[str], seconds: float, seed: int,
                work: Path) -> None:
    from tests.soakhelp import soak

    for backend in backends:
        result = soak(inst.new(backend), work / f"soak-{backend}", seconds=seconds, seed=seed,
                      password=ADMIN_PASSWORD, admin=ADMIN)
        result.backend = backend
        report(not result.problems, result.line())
        for problem in result.problems[:5]:
            print(f"      {problem}")


def kill_checks(inst: Installations, backends: list[str], points: int, seed: int,
                work: Path) -> None:
    from tests.killhelp import JOB_CASES, kill_ingest, kill_job_runs, write_log

    for backend in backends:
        for name, case in sorted(JOB_CASES.items()):
            started = time.perf_counter()
            r = kill_job_runs(inst.new(backend), inst.new(backend), case, points=points,
                              seed=seed)
            report(r.same and r.kills >= points,
                   f"kill {name} {backend}: {r.kills} SIGKILLs ({r.killed_mid_work} with the "
                   f"run unfinished, {r.resumed} resumes), final state "
                   f"{'same as' if r.same else 'DIFFERS from'} an uninterrupted run "
                   f"({time.perf_counter() - started:.0f} s)")
        log = write_log(work / f"kill-{backend}.log", 20_000, seed)
        started = time.perf_counter()
        r = kill_ingest(inst.new(backend), inst.new(backend), log, points=points, seed=seed)
        report(r.same and r.kills >= points,
               f"kill log ingest {backend}: {r.kills} SIGKILLs ({r.killed_mid_work} "
               f"mid-ingest), {r.final[0] if r.final else 0} entries, final state "
               f"{'same as' if r.same else 'DIFFERS from'} an uninterrupted run "
               f"({time.perf_counter() - started:.0f} s)")


def fuzz_check(work: Path) -> None:
    out = work / "fuzz.json"
    passed, failed, took = run_pytest("tests/test_fuzz.py", {
        "HYPOTHESIS_PROFILE": "bench", "FLOWPRO_FUZZ_REPORT": str(out)})
    tried = json.loads(out.read_text()) if out.exists() else {}
    groups: dict[str, int] = {}
    for name, n in tried.items():
        groups[name.split(":")[0]] = groups.get(name.split(":")[0], 0) + n
    report(failed == 0 and passed > 0,
           f"fuzz (hypothesis): {sum(tried.values())} inputs tried over {len(tried)} "
           f"properties ({', '.join(f'{k} {v}' for k, v in sorted(groups.items()))}), "
           f"{failed} failures ({took:.0f} s)")


def hostile_check() -> None:
    from tests.hostile import SQLISH, corpus

    passed, failed, took = run_pytest("tests/test_hostile.py", {"FLOWPRO_HOSTILE_FULL": "1"})
    report(failed == 0 and passed > 0,
           f"hostile corpus: {len(corpus())} strings (Big List of Naughty Strings + escapes, "
           f"OSC 52, BIDI, markup, NUL, {len(SQLISH)} SQL/FTS) and a 10 MB line through "
           f"ingest, search, export, users, grants, filters and the TUI: {passed} checks, "
           f"{failed} failures ({took:.0f} s)")


def fault_check() -> None:
    passed, failed, took = run_pytest("tests/test_faults.py", {})
    report(failed == 0 and passed > 0,
           f"faults: {passed + failed} injected (disk full on a tmpfs, read-only data dir, "
           f"newer / older / foreign / not-a-database, SQLite and PostgreSQL), "
           f"{failed} failures ({took:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak-seconds", type=float, default=60)
    parser.add_argument("--kill-points", type=int, default=20)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite"] if args.sqlite_only else ["sqlite", "postgresql"]
    os.environ.setdefault("CI", "true")  # a missing component is a failure, not a skip
    with tempfile.TemporaryDirectory(prefix="flowpro-reliability-") as tmp:
        work = Path(tmp)
        os.chdir(work)
        inst = Installations(work)
        try:
            soak_checks(inst, backends, args.soak_seconds, args.seed, work)
            kill_checks(inst, backends, args.kill_points, args.seed, work)
        finally:
            inst.close()
        os.chdir(ROOT)
        fuzz_check(work)
        hostile_check()
        fault_check()
    print(f"{sum(RESULTS)} passed, {len(RESULTS) - sum(RESULTS)} failed")
    sys.exit(0 if all(RESULTS) else 1)


if __name__ == "__main__":
    main()
