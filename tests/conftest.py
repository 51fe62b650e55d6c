"""Shared fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions and caches of tests never touch the user's directories."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
    monkeypatch.delenv("ZLPROF_FD", raising=False)
    # each test starts with a fresh process-wide profiler (in-process workload runs
    # disable or fill the default one)
    import zlprof.profiler

    monkeypatch.setattr(zlprof.profiler, "_default", None)


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def zlprof_cmd() -> list[str]:
    return [sys.executable, "-m", "zlprof"]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ZLPROF_FD", None)
    return env
