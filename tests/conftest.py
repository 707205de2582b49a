"""Test-session settings shared by every layer.

Hypothesis: no per-example deadline (the 2-core CI machine runs loopback servers and crawls alongside,
and timing is never what these properties test); under CI the examples are derandomised so a failure
reproduces exactly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: Session fixtures (`test_ca`, `signed_assets`: C2PA assets signed with a throwaway CA) for every test module.
pytest_plugins = ("tests.provenance_fixtures",)

settings.register_profile(
    "consentry",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("consentry")
