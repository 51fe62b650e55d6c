"""``--compare OLD.json`` and ``--fail-on``: per-run samples against an older bench.

The test, the false-discovery control and the verdicts are significance.py's (the one
U-test implementation, shared with ``zlprof diff``); this module picks the samples and
shapes the ``comparison`` objects of the JSON document.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import significance as sig
from ..stats import nearest_rank
from .results import _clean

ALPHA = sig.ALPHA
#: --compare calls a metric faster/slower only if its median also moved this much (the
#: minimum effect of ``zlprof diff``)
MIN_CHANGE = sig.MIN_EFFECT


#: per-run metrics --compare tests: (key in a run entry, lower is better, unit word pair)
COMPARE_METRICS: tuple[tuple[str, bool, tuple[str, str]], ...] = (
    ("duration_ms", True, ("faster", "slower")),
    ("tokens_per_second", False, ("faster", "slower")),
    ("requests_per_second", False, ("faster", "slower")),
    ("ttft_ms", True, ("faster", "slower")),
    ("tpot_ms", True, ("faster", "slower")),
    ("itl_ms", True, ("faster", "slower")),
    ("peak_rss", True, ("smaller", "larger")),
)


def _samples(result: dict[str, Any], key: str) -> list[float]:
    out = []
    for r in result.get("runs") or []:
        if not isinstance(r, dict) or not r.get("ok"):
            continue
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            if key == "peak_rss" and v <= 0:
                continue
            out.append(float(v))
    return out


#: the per-run timing metrics a --fail-on rule applies to (any, or the one it names)
TIME_METRICS = ("duration_ms", "ttft_ms", "tpot_ms", "itl_ms")
_QUANTILES = {"median": 50, "p95": 95, "p99": 99}


def _stat(values: list[float], stat: str) -> float:
    """A statistic of per-run samples: nearest-rank percentile (stats.py), or the mean."""
    if stat == "mean":
        return float(np.mean(values))
    return nearest_rank(np.sort(np.asarray(values, np.float64)), _QUANTILES[stat])


def compare_results(
    new: dict[str, Any], old: dict[str, Any], against: str, alpha: float = ALPHA,
    min_effect: float = MIN_CHANGE,
) -> dict[str, Any]:
    """The ``comparison`` object of one result against its match in an older file.

    The test, the false-discovery control (Benjamini-Hochberg over this result's metrics)
    and the verdict are significance.py's, as for ``zlprof diff``.
    """
    tested: list[tuple[str, bool, tuple[str, str], list[float], list[float], Any]] = []
    for key, lower_better, words in COMPARE_METRICS:
        a, b = _samples(old, key), _samples(new, key)
        if not a or not b:
            continue
        tested.append((key, lower_better, words, a, b, sig.mann_whitney_u(a, b)))
    enough = [t for t in tested if sig.min_p_value(len(t[3]), len(t[4])) < alpha]
    qs = dict(zip((t[0] for t in enough),
                  sig.benjamini_hochberg([t[5].p_value for t in enough]), strict=True))
    metrics: dict[str, Any] = {}
    for key, lower_better, (better, worse), a, b, test in tested:
        om, nm = _stat(a, "median"), _stat(b, "median")
        change = sig.relative_change(om, nm)
        if key not in qs:
            verdict = "too few runs"
        else:
            v = sig.decide(qs[key], change, alpha=alpha, min_effect=min_effect,
                           lower_is_better=lower_better)
            verdict = str(v) if not v.significant else (
                worse if v == sig.Verdict.SLOWER else better)
        entry: dict[str, Any] = {
            "old_median": om,
            "new_median": nm,
            "change": change,
            "p_value": test.p_value,
            "q_value": qs.get(key),
            "prob_new_greater": test.prob_b_greater,
            "verdict": verdict,
            "old_runs": len(a),
            "new_runs": len(b),
        }
        if key in TIME_METRICS:
            entry["changes"] = {st: sig.relative_change(_stat(a, st), _stat(b, st))
                                for st in ("median", "p95", "p99", "mean")}
        metrics[key] = entry
    return _clean({"against": against, "test": "mann-whitney-u", "alpha": alpha,
                   "min_effect": min_effect, "fdr": "benjamini-hochberg", "metrics": metrics})


def check_fail_on(doc: dict[str, Any], rules: list[sig.FailRule]) -> list[sig.Violation]:
    """--fail-on against every compared result: a rule applies to the per-run timing
    metrics (duration_ms, ttft_ms, tpot_ms, itl_ms; the one it names, else all); a
    violation is a metric found ``slower`` whose statistic grew past the threshold.
    Violations are added to the document (``"violations"``)."""
    rows: list[tuple[str, sig.Verdict, dict[str, float | None]]] = []
    for r in doc["results"]:
        cmp_ = r.get("comparison") or {}
        for key, m in (cmp_.get("metrics") or {}).items():
            if key not in TIME_METRICS:
                continue
            verdict = sig.Verdict.SLOWER if m["verdict"] == "slower" else sig.Verdict.SAME
            name = key if len(doc["results"]) == 1 else f"{r['name']}/{key}"
            rows.append((name, verdict, m.get("changes") or {}))
    found = sig.violations(rules, rows)
    doc["fail_on"] = [r.text for r in rules]
    doc["violations"] = [v.as_dict() for v in found]
    return found


def attach_comparisons(doc: dict[str, Any], old: dict[str, Any], against: str) -> None:
    """Add a ``comparison`` to every result of ``doc`` that has a namesake in ``old``."""
    by_name = {r["name"]: r for r in old["results"]}
    for r in doc["results"]:
        o = by_name.get(r["name"])
        if o is None and len(old["results"]) == 1 and len(doc["results"]) == 1:
            o = old["results"][0]  # one point against one point: compare whatever it was
        if o is not None:
            r["comparison"] = compare_results(r, o, against)
    doc["compare"] = {"against": against, "test": "mann-whitney-u", "alpha": ALPHA}
