"""The code stays ruff-clean and type-checks, and only metricbridge.ui imports streamlit."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}; pip install -r requirements.txt")
    return found


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_ui_package_imports_streamlit():
    package = ROOT / "src" / "metricbridge"
    offenders = [str(p.relative_to(ROOT)) for p in package.rglob("*.py")
                 if "streamlit" in _imports(p) and "ui" not in p.relative_to(package).parts[:1]]
    assert offenders == []


def test_core_layers_never_import_duckdb():
    package = ROOT / "src" / "metricbridge"
    core = ["counts.py", "curve.py", "metrics.py"]
    assert [name for name in core if "duckdb" in _imports(package / name)] == []
