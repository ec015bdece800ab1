"""The process exits cleanly after async use (toolchain.md, gotcha 1: async pyo3 extensions
can abort or segfault at interpreter exit while a runtime thread still touches Python).

A short async script — create, discover, call, return without an explicit close — must exit
with status 0 every time, 50 times in a row; so must scripts that leave a call in flight, a
log callback busy or a corral in a module global at exit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SHORT = """
import asyncio, sys, tempfile, corral

async def main():
    c = corral.Corral(home=tempfile.mkdtemp(prefix="corral-exit-"))
    c.add_server_from_dict_sync("fx", {"command": sys.argv[1], "network": "none"})
    tools = await c.discover_tools("fx")
    result = await c.execute_tool("fx", "echo", {"text": "bye"})
    assert result.text == "bye" and tools
    print("ok")

asyncio.run(main())
"""

BUSY = """
import asyncio, sys, tempfile, corral

# A corral in a module global, a log callback, progress callbacks and a call still running
# when the loop and then the interpreter go away.
c = corral.Corral(home=tempfile.mkdtemp(prefix="corral-exit-"), on_log=lambda m: None)
c.add_server_from_dict_sync("fx", {"command": sys.argv[1]})

async def main():
    await c.execute_tool("fx", "log", {"message": "hello"})
    asyncio.create_task(c.execute_tool("fx", "sleep", {"ms": 5000}, on_progress=lambda p: None))
    await c.execute_tool("fx", "sleep", {"ms": 150}, on_progress=lambda p: None)
    print("ok")

asyncio.run(main())
"""


def run_many(script: str, server: Path, runs: int) -> list[tuple[int, str]]:
    def one(_: int) -> tuple[int, str]:
        p = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script), str(server)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return p.returncode, p.stdout.strip() + p.stderr[-2000:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, range(runs)))


@pytest.mark.parametrize(
    ("script", "runs"), [(SHORT, 50), (BUSY, 20)], ids=["short-x50", "busy-x20"]
)
def test_exits_cleanly(script: str, runs: int, fixture_server: Path) -> None:
    outcomes = run_many(script, fixture_server, runs)
    bad = [(rc, out) for rc, out in outcomes if rc != 0 or out != "ok"]
    assert not bad, f"{len(bad)} of {runs} runs failed; first: {bad[0]}"
