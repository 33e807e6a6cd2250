"""Kill tests: the scheduler SIGKILLed at >= 20 random, seeded points during each job kind
(tests/killhelp.py JOB_CASES), and the ingesting process during log ingest; after restart
every run reaches the same final state as an uninterrupted one. SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import _template, make_settings
from tests.killhelp import JOB_CASES, kill_ingest, kill_job_runs, write_log

pytestmark = pytest.mark.integration

POINTS = int(os.environ.get("FLOWPRO_KILL_POINTS", "20"))
# VACUUM of every table (db-maintenance), export and retention steps cost seconds per run on
# PostgreSQL: the suite kills those at 8 points there, bench/reliability.py at 20 (as every
# other case here). FLOWPRO_KILL_POINTS sets both.
PG_SLOW = {"db-maintenance", "export", "retention"}
PG_POINTS = int(os.environ.get("FLOWPRO_KILL_POINTS", "8"))
SEED = int(os.environ.get("FLOWPRO_KILL_SEED", "9"))


@pytest.fixture
def second_installation(backend, templates, tmp_path, tmp_path_factory):
    """Another fresh installation on the same backend: the uninterrupted reference."""
    template = _template(templates, backend, tmp_path_factory)
    url = template.clone(tmp_path / "reference")
    yield make_settings(tmp_path / "reference", url)
    template.release(url)


@pytest.mark.parametrize("kind", sorted(JOB_CASES))
def test_scheduler_killed_during_jobs_reaches_the_same_end(installation, second_installation,
                                                           backend, kind) -> None:
    points = PG_POINTS if backend == "postgresql" and kind in PG_SLOW else POINTS
    report = kill_job_runs(installation, second_installation, JOB_CASES[kind], points=points,
                           seed=SEED)
    assert report.kills >= points
    # A str message: pytest cuts an object's repr short, and with it the runs' errors.
    assert report.final == report.reference, str(report)
    states, runs, verified, _, errors = report.final
    assert states == ("succeeded",) and runs == points and verified, errors


def test_ingest_killed_at_random_points_stores_every_line_once(installation,
                                                               second_installation,
                                                               tmp_path: Path) -> None:
    log = write_log(tmp_path / "app.log", 10_000, SEED)
    report = kill_ingest(installation, second_installation, log, points=POINTS, seed=SEED)
    assert report.kills >= POINTS and report.killed_mid_work > 0
    assert report.final == report.reference, str(report)
    assert report.final[0] == 10_000  # every entry once (continuation lines join theirs)
