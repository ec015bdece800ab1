"""The shared conformance suite, every scenario in both modes (async and sync).

An unlisted failure fails, and so does a scenario listed in
tests/conformance/expected-failures/python.txt that passes. A scenario whose capability is
missing is skipped, or fails with CORRAL_TEST_REQUIRE_ALL=1 (CI).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance import Env, StepFailed, load_expected_failures, load_scenarios, run_scenario

SCENARIOS = load_scenarios()
EXPECTED = load_expected_failures()


@pytest.fixture(scope="session")
def env(fixture_server: Path) -> Iterator[Env]:
    e = Env(fixture_server)
    yield e
    e.close()


def test_expected_failures_name_real_scenarios() -> None:
    names = {s.name for s in SCENARIOS}
    assert [n for n in EXPECTED if n not in names] == []


def test_every_scenario_is_collected() -> None:
    assert len(SCENARIOS) >= 23


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario, mode: str, env: Env) -> None:  # type: ignore[no-untyped-def]
    missing = env.missing(scenario.requires)
    if missing:
        if os.environ.get("CORRAL_TEST_REQUIRE_ALL"):
            pytest.fail(f"missing capabilities: {missing}")
        pytest.skip(f"needs {missing}")
    expected_failure = scenario.name in EXPECTED
    try:
        asyncio.run(run_scenario(scenario, env, mode))
    except StepFailed as e:
        if expected_failure:
            pytest.xfail("listed in expected-failures/python.txt")
        pytest.fail(str(e), pytrace=False)
    if expected_failure:
        pytest.fail("listed in expected-failures/python.txt but passes: remove it from the list")
