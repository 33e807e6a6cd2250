"""The concurrency soak (tests/soakhelp.py) on SQLite and PostgreSQL, bounded: 15 s here
(FLOWPRO_SOAK_SECONDS), 60 s in bench/reliability.py."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.soakhelp import soak

pytestmark = pytest.mark.integration

SECONDS = float(os.environ.get("FLOWPRO_SOAK_SECONDS", "15"))


def test_soak_three_consoles_scheduler_ingest_and_writer(installation, tmp_path) -> None:
    report = soak(installation, tmp_path / "soak", seconds=SECONDS, password=ADMIN_PASSWORD,
                  admin=ADMIN)
    print(report.line())
    assert report.problems == [], "\n".join(report.problems)
    assert report.locked == 0
    assert all(report.ops[f"console{k}"] > 0 for k in (1, 2, 3))
    assert report.ops["writer"] > 0 and report.ops["ingester"] > 0
