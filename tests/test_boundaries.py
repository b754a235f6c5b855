"""Layering rules: kernels import only numpy and numba; I/O never imports numba; the CLI has no kernels."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fastcoadd"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "_kernels").glob("*.py")), ids=lambda p: p.name)
def test_kernels_import_only_numpy_numba_and_each_other(path):
    allowed_top = {"numpy", "numba", "math", "__future__", "hashlib", "contextlib", "pathlib", "types"}
    for name in imported_modules(path):
        if name.startswith("."):
            assert not name.startswith(".."), f"{path.name} imports {name} from outside the kernels"
        else:
            assert name.split(".")[0] in allowed_top, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "_io").glob("*.py")), ids=lambda p: p.name)
def test_io_never_imports_numba_or_kernels(path):
    for name in imported_modules(path):
        assert not name.startswith("numba") and "_kernels" not in name, f"{path.name} imports {name}"


def test_cli_calls_the_library_only():
    names = imported_modules(PACKAGE / "cli.py")
    assert not any("_kernels" in n or n.startswith("numba") or "_io" in n for n in names), names


def test_no_fastmath_anywhere():
    for path in PACKAGE.rglob("*.py"):
        assert "fastmath=True" not in path.read_text().replace(" ", ""), path
