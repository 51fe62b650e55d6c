"""Least-squares line fits (optionally within groups): :func:`linear_fit`.

Used by the diagnoses; holds no per-op statistics.
"""

from __future__ import annotations

import numpy as np


def linear_fit(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Least-squares slope, intercept and R^2 of y on x.

    With ``groups`` each group gets its own intercept and the slope is shared (a
    within-group fit: the KV cache restarts with every request).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if groups is None:
        groups = np.zeros(len(x), np.int64)
    xd = x.copy()
    yd = y.copy()
    for g in np.unique(groups):
        m = groups == g
        xd[m] -= x[m].mean()
        yd[m] -= y[m].mean()
    sxx = float(np.dot(xd, xd))
    if sxx <= 0:
        return 0.0, float(y.mean()) if len(y) else 0.0, 0.0
    slope = float(np.dot(xd, yd)) / sxx
    ss_tot = float(np.dot(yd, yd))
    resid = yd - slope * xd
    ss_res = float(np.dot(resid, resid))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    intercept = float(y.mean() - slope * x.mean())
    return slope, intercept, r2
