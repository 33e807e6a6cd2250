"""Hypothesis settings for the property-based tests, and a count of the inputs each
property tried (bench/reliability.py prints it).

Profiles: `flowpro` (the test suite: modest counts, no deadline, so the suite stays fast on
a shared 2-core machine) and `bench` (more examples). Pick one with HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

settings.register_profile(
    "flowpro", max_examples=60, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large])
settings.register_profile(
    "bench", max_examples=400, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "flowpro"))

TRIED: Counter[str] = Counter()  # property name -> inputs tried


def tried(name: str) -> None:
    TRIED[name] += 1
