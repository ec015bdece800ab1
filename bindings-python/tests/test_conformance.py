"""The shared conformance suite: every scenario in both modes (async and sync), one test each.

The checker decides each outcome (tests/conformance/README.md): an unlisted failure fails, a
scenario listed in tests/conformance/expected-failures/python.txt that passes fails, and a
missing capability skips (fails with CORRAL_TEST_REQUIRE_ALL=1, as in CI).
"""

from __future__ import annotations

import pytest
from conformance import Checker

CHECKER = Checker()


@pytest.fixture(scope="module", autouse=True)
def _close_checker() -> object:
    yield None
    CHECKER.close()


def test_every_scenario_is_collected() -> None:
    assert len(CHECKER.scenarios) >= 23


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("scenario", CHECKER.scenarios)
def test_scenario(scenario: str, mode: str) -> None:
    verdict = CHECKER.run(scenario, mode)
    outcome, message = verdict["outcome"], verdict["message"]
    if outcome == "skipped":
        pytest.skip(message)
    if outcome == "expected_failure":
        pytest.xfail(message)
    if outcome != "passed":
        pytest.fail(message, pytrace=False)
