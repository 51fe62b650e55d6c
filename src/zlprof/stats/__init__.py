"""Per-operation statistics: the one definition used by the app, the reports and bench.

Definitions (as in the seed profiler):

* percentiles by nearest rank on the sorted durations: ``p_q = sorted[min(n*q//100, n-1)]``
  (so the median of an even count is the upper middle element);
* standard deviation over the population (divide by n), accumulated with Chan et al.'s
  parallel update so it stays exact for any number of batches;
* durations in integer nanoseconds; views convert to milliseconds.

Each op keeps its samples exactly while it has at most ``exact_limit`` of them (default
100,000). Past that the samples move into a bounded log-bucket histogram (bucket ratio
1.002, representative value the bucket's geometric middle, so any percentile is within
0.1 % of the true sample value) and memory stays flat however long a session runs. A
session also bounds the exact samples of all its ops together (``DEFAULT_EXACT_BUDGET``,
8 M) and the recent rings (``DEFAULT_RECENT_BUDGET``): see ``SessionState``.
``PerformanceStats.estimator`` says which is in force.

The package's rooms: :mod:`.summary` (PerformanceStats, nearest rank, exact statistics),
:mod:`.histogram` (LogHistogram), :mod:`.moments` (running moments), :mod:`.accumulator`
(OpAccumulator), :mod:`.paths` (self time), :mod:`.grouping` (group_by), :mod:`.fit`
(linear_fit). Every name is re-exported here: ``from zlprof.stats import X`` is the import.
"""

from __future__ import annotations

from .accumulator import (
    DEFAULT_EXACT_BUDGET,
    DEFAULT_EXACT_LIMIT,
    DEFAULT_RECENT_BUDGET,
    DEFAULT_RECENT_CAPACITY,
    MIN_RECENT_CAPACITY,
    OpAccumulator,
)
from .fit import linear_fit
from .grouping import Groups, group_by
from .histogram import LogHistogram
from .paths import self_times
from .summary import (
    NS_PER_MS,
    PERCENTILE_NOTE,
    PerformanceStats,
    nearest_rank,
    rank_index,
    stats_from_durations,
)

__all__ = [
    "DEFAULT_EXACT_BUDGET",
    "DEFAULT_EXACT_LIMIT",
    "DEFAULT_RECENT_BUDGET",
    "DEFAULT_RECENT_CAPACITY",
    "MIN_RECENT_CAPACITY",
    "NS_PER_MS",
    "PERCENTILE_NOTE",
    "Groups",
    "LogHistogram",
    "OpAccumulator",
    "PerformanceStats",
    "group_by",
    "linear_fit",
    "nearest_rank",
    "rank_index",
    "self_times",
    "stats_from_durations",
]
