"""The hand-written stubs (python/corral/__init__.pyi) match the native module: every public
name, and every public method and property of every class, on both sides. mypy checks the
stubs' types (`make typecheck`); this keeps them from drifting from what exists."""

from __future__ import annotations

import ast
from pathlib import Path

import corral

STUB = Path(__file__).resolve().parents[1] / "python" / "corral" / "__init__.pyi"
# Stub-only helpers (type aliases) and the error classes' attributes set on instances.
STUB_ONLY = {"JSON", "Provider", "Network", "ProgressCallback", "LogCallback"}


def stub_classes() -> dict[str, set[str]]:
    """Each stub class's members, including those of its stub base classes."""
    tree = ast.parse(STUB.read_text())
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            own[node.name] = {
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            } | {
                n.target.id
                for n in node.body
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
            }
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]

    def members(name: str) -> set[str]:
        out = set(own[name])
        for base in bases[name]:
            if base in own:
                out |= members(base)
        return out

    return {name: members(name) for name in own}


def public(names: set[str]) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def test_every_exported_name_is_in_the_stubs_and_back() -> None:
    classes = stub_classes()
    tree = ast.parse(STUB.read_text())
    stub_names = (
        set(classes)
        | {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        | {
            n.target.id
            for n in tree.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
        }
    )
    exported = set(corral.__all__)
    assert exported - stub_names == set()
    assert public(stub_names) - STUB_ONLY - exported == set()


def test_every_class_member_is_in_the_stubs_and_back() -> None:
    for name, members in stub_classes().items():
        cls = getattr(corral, name)
        if issubclass(cls, BaseException):
            assert {"kind", "message", "retryable"} <= set(dir(cls)), name
            continue
        runtime = public({m for k in cls.__mro__ if k is not object for m in vars(k)})
        if name == "Call":  # the stub derives from Coroutine, whose members it declares
            runtime &= {"send", "throw", "close"}
        assert public(members) - runtime == set(), f"{name}: in the stubs only"
        assert runtime - public(members) == set(), f"{name}: missing from the stubs"
