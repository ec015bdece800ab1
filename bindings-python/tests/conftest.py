"""Shared fixtures: the fixture MCP server binary and a throwaway corral home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fixture_server_path() -> Path:
    """`CORRAL_TEST_SERVER`, else `$CARGO_TARGET_DIR/debug/corral-test-server`, else the
    workspace's `target/debug/corral-test-server`."""
    if "CORRAL_TEST_SERVER" in os.environ:
        return Path(os.environ["CORRAL_TEST_SERVER"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "corral-test-server"


@pytest.fixture(scope="session")
def fixture_server() -> Path:
    path = fixture_server_path()
    if not path.is_file():
        pytest.fail(
            f"the fixture server {path} is missing: run `cargo build -p corral-test-server` "
            "(or set CORRAL_TEST_SERVER)"
        )
    return path


@pytest.fixture
def home(tmp_path: Path) -> str:
    return str(tmp_path / "corral-home")
