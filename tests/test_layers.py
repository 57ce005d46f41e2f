"""The architecture holds: the core imports no edge or adapter, and public APIs are curated."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "holotwin"
CORE = ["models", "twins", "behaviors", "estimate", "predict", "scenarios", "analytics",
        "clock.py", "errors.py"]
CORE_MAY_IMPORT = {"holotwin", "numpy", "scipy", "simpy"}
# optional simulation runtimes a core module may import inside a function, when it is used
# (FmuBehavior runs an FMU with FMPy, the half-space-trees detector uses river); never at module level, see the next test
CORE_MAY_IMPORT_LAZILY = {"fmpy", "river"}
CORE_PACKAGES = {c.removesuffix(".py") for c in CORE}
FORBIDDEN_AT_IMPORT = ("fastapi", "starlette", "uvicorn", "psycopg", "paho", "matplotlib", "httpx",
                       "fmpy", "ray", "river")


def _core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        path = SRC / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_imports_only_stdlib_numpy_scipy(path: Path) -> None:
    tree = ast.parse(path.read_text())
    lazy = {id(node) for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in ast.walk(function)}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top == "holotwin":
                parts = name.split(".")
                inner = parts[1] if len(parts) > 1 else ""
                assert inner in CORE_PACKAGES, f"{path}: imports {name}"
            else:
                allowed = CORE_MAY_IMPORT | (CORE_MAY_IMPORT_LAZILY if id(node) in lazy else set())
                assert top in sys.stdlib_module_names or top in allowed, (
                    f"{path}: core module imports {name}")


def test_importing_the_core_loads_no_web_or_driver_package() -> None:
    code = (
        "import sys, holotwin.models, holotwin.twins, holotwin.clock, holotwin.errors,"
        " holotwin.behaviors, holotwin.estimate, holotwin.predict, holotwin.scenarios,"
        " holotwin.analytics;"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_AT_IMPORT!r});"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    "module", ["holotwin", "holotwin.models", "holotwin.twins", "holotwin.store",
               "holotwin.behaviors", "holotwin.estimate", "holotwin.predict",
               "holotwin.scenarios", "holotwin.analytics", "holotwin.compute",
               "holotwin.service", "holotwin.api", "holotwin.errors", "holotwin.clock"])
def test_public_names_are_curated(module: str) -> None:
    mod = importlib.import_module(module)
    assert isinstance(mod.__all__, list) and len(set(mod.__all__)) == len(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ lists {name}, which does not exist"


def test_top_level_api() -> None:
    import holotwin

    assert {"open", "TwinService", "define_interface", "load_documents", "HolotwinError",
            "ManualClock"} <= set(holotwin.__all__)
