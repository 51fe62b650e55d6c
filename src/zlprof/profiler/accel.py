"""Which hot path runs: the C accelerator (``zlprof._speedups``) or the Python reference.

zlprof._speedups (optional, built by setup.py) implements Block.__enter__ and __exit__,
and Profiler.cost, in C with the same semantics; the Python code (:mod:`.blocks`,
:meth:`Profiler.cost`, the writers' list conversions in :mod:`.writer`) stays the
reference and the fallback (no compiler, or ZLPROF_PURE_PYTHON=1). MemBlock stays pure
Python: its memory readings dominate its cost. Profiler.measure instantiates whatever
``accel.Block`` names; Profiler.__init__ installs ``accel._CCost(self)`` as
``self.cost`` unless it is None; the writers call ``accel._pack_records`` and
``accel._c_sum_costs`` unless they are None. Everything reads these names from this
module when it runs, so tests switch implementations by setting them here
(tests/conftest.py). The C code reads the profiler's ``_off`` and ``_flush_len`` slots
and calls its ``_tls``, ``_new_thread_state``, ``_intern`` and ``_flush_thread``
(:mod:`.core`, :mod:`.writer`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .blocks import Block

_PyBlock = Block
_CCost: Any = None
_pack_records: Any = None  # the C versions of the writers' list conversions
_c_sum_costs: Any = None
SPEEDUPS = False
if os.environ.get("ZLPROF_PURE_PYTHON", "") in ("", "0"):
    try:
        from .. import _speedups
    except ImportError:
        pass
    else:

        class _CBlock(_speedups.Block):
            __slots__ = ()
            __doc__ = _PyBlock.__doc__
            __call__ = _PyBlock.__call__

        Block = _CBlock  # type: ignore[misc, assignment]
        _CCost = _speedups.Cost
        if sys.byteorder == "little":  # pack_records writes native byte order
            _pack_records = _speedups.pack_records
        _c_sum_costs = _speedups.sum_costs
        SPEEDUPS = True
