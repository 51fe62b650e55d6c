"""The group-by of a column with one stable sort: :class:`Groups` and :func:`group_by`.

Used for path ids of a batch of measurements and tied sample values; no statistics here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Groups:
    """Equal keys gathered by one stable sort: the group-by of a column (path ids of a batch
    of measurements, tied sample values). Group ``i`` is ``order[starts[i]:starts[i] +
    counts[i]]``, in first-seen order within the group."""

    order: np.ndarray  # the stable argsort of the keys
    keys: np.ndarray  # each group's key, ascending
    starts: np.ndarray  # each group's first position in sorted order
    counts: np.ndarray  # members per group

    def reduce(self, values: np.ndarray, ufunc: np.ufunc = np.add) -> np.ndarray:
        """``ufunc`` over each group's ``values`` (given in the keys' order; rows of a 2-D
        array reduce per group): sums by default, ``np.minimum``/``np.maximum`` too."""
        v = np.asarray(values)[self.order]
        if not len(self.starts):
            return np.zeros((0, *v.shape[1:]), v.dtype)
        return ufunc.reduceat(v, self.starts, axis=0)


def group_by(keys: np.ndarray) -> Groups:
    """Group equal ``keys`` (a 1-D array; NaNs stay apart) with one stable sort."""
    k = np.asarray(keys)
    order = np.argsort(k, kind="stable")
    sk = k[order]
    first = np.empty(len(sk), bool)
    first[:1] = True
    np.not_equal(sk[1:], sk[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.r_[starts, len(sk)])
    return Groups(order, sk[starts], starts, counts)
