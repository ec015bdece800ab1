"""The README's Python examples, each run as a program (so the docs cannot rot)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from readme_blocks import blocks

BLOCKS = blocks()


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.fixture(scope="module")
def corral_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One home for all examples: the npm install of server-everything runs once.
    return tmp_path_factory.mktemp("readme-home")


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example-{i + 1}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, corral_home: Path) -> None:
    if "CORRAL_TEST_OFFLINE" in os.environ:
        if os.environ.get("CORRAL_TEST_REQUIRE_ALL"):
            pytest.fail("the README examples need npm/PyPI (CORRAL_TEST_OFFLINE is set)")
        pytest.skip("the README examples install servers from npm/PyPI")
    env = dict(os.environ, CORRAL_HOME=str(corral_home))
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert "Traceback" not in p.stderr
    print(p.stdout)


def test_typed_example_runs(fixture_server: Path) -> None:
    """examples/typed_tour.py, which `make typecheck` checks against the stubs, also runs."""
    tour = Path(__file__).resolve().parents[1] / "examples" / "typed_tour.py"
    p = subprocess.run(
        [sys.executable, str(tour), str(fixture_server)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert p.stdout.strip() == "tour ok"
