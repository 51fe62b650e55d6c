"""The README's set-up command leaves `zlprof` runnable for the tour that follows it."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, title
    return m.group(1)


def test_setup_activates_the_venv_before_the_tour_runs_zlprof() -> None:
    text = README.read_text(encoding="utf-8")
    setup = re.findall(r"```sh\n(.*?)```", _section(text, "Set-up"), re.S)[0].strip()
    steps = [s.strip() for s in setup.split("&&")]
    assert ". .venv/bin/activate" in steps
    activate = steps.index(". .venv/bin/activate")
    # everything after the activation runs the venv's tools by their bare names
    assert any(s.startswith("pip install") for s in steps[activate + 1 :])
    assert steps[-1].startswith("zlprof ")
    tour = _section(text, "A tour")
    assert re.search(r"^zlprof ", tour, re.M)  # the tour's bare commands need the active venv
