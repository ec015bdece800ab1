"""The README's Python examples: `blocks()` for the tests, and `python readme_blocks.py DIR`
writes them to DIR/example_N.py for the type check (`make typecheck`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("example_*.py"):
        old.unlink()
    for i, code in enumerate(blocks(), 1):
        (out / f"example_{i}.py").write_text(code)


if __name__ == "__main__":
    main()
