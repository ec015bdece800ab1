"""The hand-written stubs (python/corral/__init__.pyi) match the native module: every public
name, and every public method and property of every class, on both sides. mypy checks the
stubs' types (`make typecheck`); this keeps them from drifting from what exists."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import corral

STUB = Path(__file__).resolve().parents[1] / "python" / "corral" / "__init__.pyi"
# Stub-only helpers (type aliases) and the error classes' attributes set on instances.
STUB_ONLY = {"JSON", "Provider", "Network", "ProgressCallback", "LogCallback", "StartCallback"}


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
        | {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
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


def test_the_error_classes_are_the_cores_kinds_class_by_class() -> None:
    """The kinds are listed once, in the core (`ErrorKind::ALL`, which the native module turns
    into classes); the stubs' error classes must be exactly those, with the same bases."""

    def qualified(base: str) -> str:
        return base if base == "CorralError" else "builtins." + base.removeprefix("builtins.")

    runtime = {
        name: [qualified(b.__qualname__) for b in cls.__bases__]
        for name, cls in vars(corral).items()
        if isinstance(cls, type) and issubclass(cls, corral.CorralError)
    }
    stub = {
        node.name: [qualified(ast.unparse(b)) for b in node.bases]
        for node in ast.parse(STUB.read_text()).body
        if isinstance(node, ast.ClassDef)
        and (node.name == "CorralError" or any(ast.unparse(b) == "CorralError" for b in node.bases))
    }
    assert stub == runtime
    assert len({getattr(corral, name).kind for name in runtime}) == len(runtime), (
        "one class per kind"
    )
    assert set(corral.__all__) >= set(runtime)


NO_DEFAULT = "<none>"
Param = tuple[str, str, str]


def stub_default(node: ast.expr | None) -> str:
    return NO_DEFAULT if node is None else repr(ast.literal_eval(node))


def stub_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool = True) -> list[Param]:
    """(name, kind, default's repr) of each parameter, a method's `self` left out."""
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults))
    defaults += a.defaults
    out = [
        (
            p.arg,
            "positional_only" if i < len(a.posonlyargs) else "positional_or_keyword",
            stub_default(d),
        )
        for i, (p, d) in enumerate(zip(positional, defaults, strict=True))
    ]
    if a.vararg:
        out.append((a.vararg.arg, "var_positional", NO_DEFAULT))
    out += [
        (p.arg, "keyword_only", stub_default(d))
        for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
    ]
    if a.kwarg:
        out.append((a.kwarg.arg, "var_keyword", NO_DEFAULT))
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    return out if static or not method else out[1:]


def runtime_signature(obj: object) -> list[Param]:
    params = list(inspect.signature(obj).parameters.values())  # type: ignore[arg-type]
    if params and params[0].name == "self":  # an unbound method's receiver
        params = params[1:]
    return [
        (
            p.name,
            p.kind.name.lower(),
            NO_DEFAULT if p.default is inspect.Parameter.empty else repr(p.default),
        )
        for p in params
    ]


def test_every_method_signature_matches_the_native_one() -> None:
    """Parameter by parameter (name, kind, default value) for every public method
    and constructor of the native classes; properties and dunders other than `__init__` are
    checked by name above."""
    tree = ast.parse(STUB.read_text())
    checked = 0
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name == "Call":
            continue
        cls = getattr(corral, node.name)
        if issubclass(cls, BaseException) or cls.__module__ != "corral":
            continue
        for fn in node.body:
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list):
                continue
            if fn.name == "__init__":
                runtime: object = cls
            elif fn.name.startswith("_"):
                continue
            else:
                runtime = getattr(cls, fn.name)
            want = stub_signature(fn)
            assert runtime_signature(runtime) == want, f"{node.name}.{fn.name}"
            checked += 1
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            assert runtime_signature(getattr(corral, node.name)) == stub_signature(
                node, method=False
            ), node.name
            checked += 1
    assert checked > 60


def test_every_async_method_has_a_sync_twin_with_the_same_parameters() -> None:
    """In the stubs, `name` returns a `Call[...]` (an awaitable) and `name_sync` the plain
    result; natively both take the same parameters."""
    tree = ast.parse(STUB.read_text())
    pairs = 0
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name == "Call":
            continue
        methods = {fn.name: fn for fn in node.body if isinstance(fn, ast.FunctionDef)}
        for name, fn in methods.items():
            if not name.endswith("_sync"):
                continue
            twin = methods.get(name.removesuffix("_sync"))
            assert twin is not None, f"{node.name}.{name} has no async twin"
            assert twin.returns is not None
            assert fn.returns is not None
            assert ast.unparse(twin.returns).startswith("Call["), f"{node.name}.{twin.name}"
            assert "Call[" not in ast.unparse(fn.returns), f"{node.name}.{name}"
            cls = getattr(corral, node.name)
            assert runtime_signature(getattr(cls, name)) == runtime_signature(
                getattr(cls, twin.name)
            ), f"{node.name}.{name}"
            pairs += 1
    assert pairs > 25


def test_shapes_are_the_cores_forms() -> None:
    """`_shapes.pyi` (the TypedDicts `to_dict()` returns) is what `scripts/shapes.py` generates
    from the installed core's JSON Schema: a form changed in the core fails here until the
    stub is regenerated (`make -C bindings-python shapes`)."""
    script = STUB.parents[2] / "scripts" / "shapes.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
