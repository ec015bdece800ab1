"""The `corral` console script that `pip install` puts next to the interpreter runs the Rust
CLI through the native module: `tools list` and `tools execute` against the fixture server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "corral"
    assert script.exists(), f"{script} missing: the package must install a `corral` script"
    env = dict(
        os.environ,
        CORRAL_CONFIG=str(tmp_path / "servers.json"),
        CORRAL_HOME=str(tmp_path / "home"),
    )
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_console_script_lists_and_executes_tools(tmp_path: Path, fixture_server: Path) -> None:
    added = run(tmp_path, "server", "add", "fx", "--command", str(fixture_server))
    assert added.returncode == 0, added.stderr
    listed = run(tmp_path, "tools", "list", "fx", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "echo" in [t["name"] for t in json.loads(listed.stdout)]
    called = run(tmp_path, "tools", "execute", "fx", "echo", "--param", "text=from pip")
    assert (called.returncode, called.stdout) == (0, "from pip\n"), called.stderr
    missing = run(tmp_path, "tools", "execute", "nope", "echo")
    assert missing.returncode == 12  # SERVER_NOT_FOUND
    assert missing.stderr.startswith("error[SERVER_NOT_FOUND]")
