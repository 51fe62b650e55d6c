"""Shared fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions and caches of tests never touch the user's directories."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
    monkeypatch.delenv("ZLPROF_FD", raising=False)
    monkeypatch.delenv("ZLPROF_SOCKET", raising=False)
    # each test starts with a fresh process-wide profiler (in-process workload runs
    # disable or fill the default one)
    import zlprof.profiler.default

    monkeypatch.setattr(zlprof.profiler.default, "_default", None)


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def zlprof_cmd() -> list[str]:
    return [sys.executable, "-m", "zlprof"]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ZLPROF_FD", None)
    env.pop("ZLPROF_SOCKET", None)
    return env


# --------------------------------------------------------------------------- implementations
# The profiler's hot path exists twice: the C accelerator (zlprof._speedups) and the
# pure-Python reference in profiler.py. A test that takes the ``impl`` fixture runs with
# each: "c" (what import selected when the extension is built; skipped otherwise) and
# "py" (the hooks in zlprof.profiler.accel, where the profiler reads them: Block pointed at
# the Python class and the C hooks at None, which is what ZLPROF_PURE_PYTHON=1 does at
# import).

IMPLS = ("c", "py")


def pure_python_hooks() -> dict[str, Any]:
    """The attributes of zlprof.profiler.accel that ZLPROF_PURE_PYTHON=1 leaves at import."""
    from zlprof.profiler import accel

    return {"Block": accel._PyBlock, "_CCost": None, "_pack_records": None, "_c_sum_costs": None}


@contextmanager
def implementation(kind: str) -> Iterator[None]:
    """Run a block with implementation ``kind`` ("c" or "py"), restoring the previous one."""
    from zlprof.profiler import accel

    hooks = pure_python_hooks()
    saved = {k: getattr(accel, k) for k in hooks}
    if kind == "py":
        for k, v in hooks.items():
            setattr(accel, k, v)
    elif kind != "c":
        raise ValueError(f"unknown implementation {kind!r}")
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(accel, k, v)


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    from zlprof import profiler as P

    if request.param == "c" and not P.SPEEDUPS:
        pytest.skip("zlprof._speedups is not built (or ZLPROF_PURE_PYTHON=1)")
    with implementation(request.param):
        yield request.param
