"""The benchmark harness stays runnable: its modules import and every command line answers --help.

Benchmarks are not tests (they take minutes and their numbers depend on the machine), so nothing
here runs one; `python -m benchmarks --quick` is the cheap end-to-end check.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["benchmarks.__main__", "benchmarks.redis_benchmark", "benchmarks.large_collections",
           "benchmarks.memory", "benchmarks.chart", "benchmarks.servers"]


@pytest.mark.parametrize("module", MODULES)
def test_benchmarks_module_imports(module: str) -> None:
    assert importlib.import_module(module).__doc__


@pytest.mark.parametrize("module", ["benchmarks", "benchmarks.redis_benchmark", "benchmarks.large_collections",
                                    "benchmarks.memory", "benchmarks.chart"])
def test_benchmarks_help_exits_zero(module: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage:")


def test_benchmarks_unknown_section_is_refused() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "nonesuch"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "unknown section(s): nonesuch" in out.stderr
