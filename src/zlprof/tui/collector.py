"""The app process's cycle collector: cheaper, and never in the middle of typing.

CPython's cycle collector stops every thread of the process while it runs. The app holds
many long-lived objects (modules, Textual's classes, styles and widget tree, a session of
thousands of paths), and under a flood it makes tens of thousands of container objects a
second that live past a young collection (snapshot rows, Textual's strips and their
caches, which are reference cycles). Measured under a 0.6 M measurements/s flood over
10,000 paths (benchmarks/bench_many_ops.py --flood-only, which times every collection):
with CPython's defaults the collector stopped the app 80-114 ms of every second, in ~20
young collections, two middle ones of 10-14 ms and, every 5 s, a full one of 150-400 ms,
which landed in the slowest key presses.

While the app runs (:func:`tune` once its first screen is up, :func:`restore` when it
exits):

* ``gc.freeze()`` after a collection: what exists once the app is up (modules, Textual,
  the first screens) moves to the permanent generation, which collections never
  traverse (a full collection then costs a fraction). Those objects are still freed by
  reference counting when they die; only a reference cycle among them waits for
  :func:`restore`, which unfreezes them;
* the automatic collector is off; the app's timer calls :func:`step` (5 times a second),
  which runs the collection that is due by CPython's own counting (a young one every
  :data:`YOUNG` net allocations, a middle one every :data:`MIDDLE` young ones, a full
  one every :data:`OLD` middle ones) unless a key came within the last moments: then it
  waits (keys come in bursts, and a burst is served without a pause), up to
  :data:`YOUNG_CAP` allocations, past which it collects anyway.

Only the app's process is tuned (live, replay): the measured program's child process
never imports the TUI.
"""

from __future__ import annotations

import gc

#: net allocations of container objects between young collections (CPython: 700)
YOUNG = 5_000
#: young collections between middle ones, middle ones between full ones (CPython: 10, 10)
MIDDLE = 10
OLD = 10
#: past this many allocations a young collection runs even while keys come
YOUNG_CAP = 10 * YOUNG

_saved: tuple[tuple[int, int, int], bool] | None = None


def tune() -> None:
    """Freeze what exists and take the collector over (see the module doc). Idempotent."""
    global _saved
    if _saved is not None:
        return
    _saved = (gc.get_threshold(), gc.isenabled())
    gc.collect()
    gc.freeze()
    gc.disable()


def restore() -> None:
    """Undo :func:`tune`: the collector automatic again (if it was), nothing frozen."""
    global _saved
    if _saved is None:
        return
    threshold, enabled = _saved
    _saved = None
    gc.set_threshold(*threshold)
    gc.unfreeze()
    if enabled:
        gc.enable()


def tuned() -> bool:
    return _saved is not None


def due() -> int | None:
    """The generation a collection is due for now (None: none is), by CPython's rule."""
    young, middle, old = gc.get_count()
    if young < YOUNG:
        return None
    if old >= OLD and middle >= MIDDLE:
        return 2
    if middle >= MIDDLE:
        return 1
    return 0


def step(keys_recent: bool) -> int | None:
    """The app's timer: run the collection that is due, unless keys came recently and
    fewer than :data:`YOUNG_CAP` allocations are waiting. Returns the generation
    collected (None: none)."""
    if _saved is None:
        return None
    gen = due()
    if gen is None or (keys_recent and gc.get_count()[0] < YOUNG_CAP):
        return None
    gc.collect(gen)
    return gen
