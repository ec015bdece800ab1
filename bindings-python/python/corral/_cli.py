"""The `corral` console script: the Rust CLI, run from the native module."""

import importlib
import sys


def main() -> None:
    """Entry point of the `corral` command installed by `pip install`."""
    native = importlib.import_module("corral._corral")
    sys.exit(native.cli_main(sys.argv))
