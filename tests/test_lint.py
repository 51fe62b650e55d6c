"""`ruff check src tests` is clean (skips when ruff is not installed; it is in the test extra)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ruff_command() -> list[str]:
    try:
        from ruff.__main__ import find_ruff_bin  # the binary the ruff wheel installed
    except ImportError:
        exe = shutil.which("ruff")
        if exe is None:
            pytest.skip("ruff is not installed")
        return [exe]
    return [find_ruff_bin()]


def test_ruff_check_is_clean() -> None:
    cmd = [*ruff_command(), "check", "--no-cache", "src", "tests"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_flags_a_planted_error(tmp_path: Path) -> None:
    """Positive control: the project's configuration reports an unused import."""
    (tmp_path / "planted.py").write_text("import os\n")
    cmd = [
        *ruff_command(),
        "check",
        "--no-cache",
        "--config",
        str(ROOT / "pyproject.toml"),
        str(tmp_path / "planted.py"),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "F401" in proc.stdout
