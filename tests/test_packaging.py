"""What a user installing zlprof gets: dependency ranges, the C accelerator's stub and
its state in ``zlprof --version``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from zlprof import profiler

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req, maxsplit=1)[0].lower()


def test_core_requirements_are_ranges_and_the_test_extra_pins_textual() -> None:
    deps = PYPROJECT["project"]["dependencies"]
    assert all("==" not in d for d in deps), deps  # a library never pins exactly
    textual = [d for d in deps if _name(d) == "textual"]
    assert textual == ["textual>=8.2,<9"]
    test_extra = PYPROJECT["project"]["optional-dependencies"]["test"]
    # the SVG snapshots were drawn with exactly this Textual
    assert "textual==8.2.8" in test_extra
    assert {"mypy", "ruff"} <= {_name(d) for d in test_extra}


def test_stub_and_marker_ship_as_package_data() -> None:
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["zlprof"]
    assert "*.pyi" in data and "py.typed" in data
    assert (ROOT / "src" / "zlprof" / "_speedups.pyi").is_file()
    assert (ROOT / "src" / "zlprof" / "py.typed").is_file()


@pytest.mark.skipif(not profiler.SPEEDUPS, reason="zlprof._speedups is not built")
def test_stub_matches_the_built_extension() -> None:
    """mypy's stubtest compares _speedups.pyi with the imported C module: every name,
    signature and class property (final, disjoint base) must agree."""
    pytest.importorskip("mypy")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "zlprof._speedups",
            "--mypy-config-file",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _version(**env: str) -> str:
    e = dict(os.environ)
    e.pop("ZLPROF_PURE_PYTHON", None)
    e.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "zlprof", "--version"],
        capture_output=True,
        text=True,
        env=e,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_version_says_whether_the_c_accelerator_is_active() -> None:
    from zlprof import __version__

    out = _version()
    assert out.startswith(f"zlprof {__version__} (")
    if profiler.SPEEDUPS:
        assert out.endswith("(C accelerator: active)")
    else:
        assert out.endswith("(C accelerator: not built, pure-Python hot path)")
    forced = _version(ZLPROF_PURE_PYTHON="1")
    assert forced.endswith("(C accelerator: off, ZLPROF_PURE_PYTHON is set)")


def test_version_without_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    from zlprof import cli

    monkeypatch.delenv("ZLPROF_PURE_PYTHON", raising=False)
    monkeypatch.setattr(profiler, "SPEEDUPS", False)
    assert cli._version().endswith("(C accelerator: not built, pure-Python hot path)")
    monkeypatch.setattr(profiler, "SPEEDUPS", True)
    assert cli._version().endswith("(C accelerator: active)")
