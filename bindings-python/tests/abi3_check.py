"""Installs the one abi3 wheel into a throwaway venv of every CPython 3.10-3.13 found and runs
`import corral` plus an async and a sync call there (`make -C bindings-python test-abi3`). On
the oldest and the newest (3.10, 3.13) it also runs the API and exit tests (test_api.py,
test_exit.py) with pytest: the asyncio task machinery differs between them.

    python abi3_check.py WHEEL FIXTURE_SERVER

Interpreters: `python3.X` on PATH, else pyenv's `$PYENV_ROOT/versions/3.X.*`. A missing version
is a skip, or a failure with CORRAL_TEST_REQUIRE_ALL=1.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MINORS = [10, 11, 12, 13]
FULL = {10, 13}
TESTS = Path(__file__).resolve().parent
PYTEST = ["pytest==9.2.0", "pytest-asyncio==1.5.0"]

SMOKE = """
import asyncio, sys, tempfile, corral

async def main():
    c = corral.Corral(home=tempfile.mkdtemp(prefix="corral-abi3-"))
    c.add_server_from_dict_sync("fx", {"command": sys.argv[1], "network": "none"})
    assert (await c.execute_tool("fx", "echo", {"text": "async"})).text == "async"
    assert c.execute_tool_sync("fx", "echo", {"text": "sync"}).text == "sync"

asyncio.run(main())
print(sys.version.split()[0], corral.__version__)
"""


def interpreter(minor: int) -> str | None:
    candidates = [shutil.which(f"python3.{minor}")]
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{root}/versions/3.{minor}.*/bin/python3"), reverse=True)
    for c in candidates:
        if not c:
            continue
        try:
            out = subprocess.run(
                [c, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == f"(3, {minor})":
            return c
    return None


def full_tests(py: str, server: str) -> subprocess.CompletedProcess[str]:
    install = subprocess.run(
        [py, "-m", "pip", "install", "-q", *PYTEST], capture_output=True, text=True
    )
    if install.returncode != 0:
        return install
    tests = [str(TESTS / "test_api.py"), str(TESTS / "test_exit.py")]
    env = dict(os.environ, CORRAL_TEST_SERVER=server)
    run = subprocess.run(
        [
            py,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestConfigWarning",
            *tests,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=TESTS.parents[1],
        timeout=900,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    return subprocess.CompletedProcess(run.args, run.returncode, summary, run.stdout + run.stderr)


def main() -> int:
    wheel, server = sys.argv[1], sys.argv[2]
    require_all = bool(os.environ.get("CORRAL_TEST_REQUIRE_ALL"))
    passed = failed = skipped = 0
    for minor in MINORS:
        python = interpreter(minor)
        if python is None:
            print(f"3.{minor}: no interpreter found", flush=True)
            if require_all:
                failed += 1
            else:
                skipped += 1
            continue
        with tempfile.TemporaryDirectory(prefix=f"corral-abi3-3{minor}-") as tmp:
            env_dir = Path(tmp) / "venv"
            subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
            py = str(env_dir / "bin" / "python")
            install = subprocess.run(
                [py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel],
                capture_output=True,
                text=True,
            )
            run = (
                subprocess.run(
                    [py, "-c", SMOKE, server], capture_output=True, text=True, timeout=120
                )
                if install.returncode == 0
                else install
            )
            if run.returncode == 0 and minor in FULL:
                run = full_tests(py, server)
            if run.returncode == 0:
                passed += 1
                print(f"3.{minor}: ok ({run.stdout.strip()})", flush=True)
            else:
                failed += 1
                print(f"3.{minor}: FAILED\n{run.stdout}\n{run.stderr[-3000:]}", flush=True)
    print(f"abi3: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
