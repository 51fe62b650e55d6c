"""Calibration: measure pi and the bandwidth of every memory level, best of N repetitions.

* **Memory levels** (L1, L2, L3 from the machine's cache description, then DRAM). Each
  level gets a working set sized from the cache sizes: half of a private cache per thread
  (L1, L2), half of a shared one split over the threads (L3), and for DRAM arrays far
  larger than the last-level cache (:func:`~zlprof.roofline.peaks.default_array_mb`).
  Every level is measured on the BLAS thread count with two kernels:

  - **read** (the mat-vec pattern): float32 dot products streaming the level's data.
    Small working sets are streamed many times *inside one NumPy call* (a zero-stride
    view repeats the array, ``np.dot`` walks it row by row with BLAS ``sdot``), so the
    per-call overhead of NumPy does not hide the cache's speed; large ones are streamed
    by BLAS ``sgemv`` (``W @ x``, W holding the working set). The best of both counts
    the streamed bytes (W); the small vector x (4 KiB) always sits in L1, so its reads
    are counted on the L1 set only (there both operands are L1 traffic).
  - **copy** (STREAM ``b = a``, 2 arrays counted) repeated over the working set; for
    DRAM also **triad** (``a = b + s c``, 3 arrays counted; NumPy's two passes really
    move 5, see ``MachinePeaks.triad_moved_gbps``). For the cache levels copy is a loop
    of ``np.copyto`` calls, so on L1 it is bounded by NumPy's per-call overhead (stated
    in ``zlprof roofline``'s peaks output, not used as a roof).

  A level's roof is its read bandwidth, never below the next larger level's roof (data
  in L2 can always come at least as fast as from DRAM). The DRAM roof (``gbps``) is the
  best of read, copy and triad: the roof must bound what an op can reach, and a decode
  mat-vec reads its weights faster than "copy" moves data.
* **pi**: float32 GEMM (``A @ B``, n x n, 2 n^3 FLOP) through NumPy's BLAS with its own
  thread count (threadpoolctl; the workload uses the same BLAS and threads).

Every kernel runs ``reps`` times, the kernels interleaved (so a burst of other load spoils
one repetition of each, not all of one); the best repetition is kept (as STREAM does) with
the spread ``(best - worst) / best``. The load before measuring is kept (``busy``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .caches import CacheDescription, machine_caches
from .peaks import (
    DRAM,
    MachinePeaks,
    MemoryLevel,
    PeaksUnavailable,
    blas_info,
    default_array_mb,
    last_level_cache_bytes,
    load_cached_peaks,
    machine_identity,
    save_peaks,
)

Progress = Callable[[float, str], None]

#: bytes each repetition of a cache level's kernels streams (many passes over the set)
CACHE_REP_BYTES = 64 << 20
#: row length (float32 elements) of the read kernel's matrices
READ_ROW = 1024


def _run_parallel(
    pool: ThreadPoolExecutor | None,
    fn: Callable[..., None],
    arrays: Sequence[np.ndarray],
    threads: int,
) -> None:
    if pool is None or threads <= 1:
        fn(*arrays)
        return
    n = len(arrays[0])
    step = -(-n // threads)
    futs = [
        pool.submit(fn, *[a[i * step : (i + 1) * step] for a in arrays])
        for i in range(threads)
        if i * step < n
    ]
    for f in futs:
        f.result()


def _cpu_busy(window_s: float = 0.3) -> float:
    """Fraction (0..1) of all CPUs' time spent busy over ``window_s``, from /proc/stat;
    -1 when unknown."""

    def read() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        return sum(vals[:8]), idle

    try:
        t0, i0 = read()
        time.sleep(window_s)
        t1, i1 = read()
    except (OSError, ValueError, IndexError):
        return -1.0
    dt = t1 - t0
    return max(0.0, min(1.0, 1.0 - (i1 - i0) / dt)) if dt > 0 else -1.0


def _loadavg() -> float:
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return 0.0


def _copy_kernel(a: np.ndarray, b: np.ndarray) -> None:
    np.copyto(b, a)


def _triad_kernel(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: float = 3.0) -> None:
    np.multiply(c, s, out=a)
    np.add(a, b, out=a)


def cache_working_sets(caches: CacheDescription, threads: int) -> list[tuple[str, int, int]]:
    """(level name, bytes per thread, capacity for ``threads`` threads) of each cache level
    to measure: half of a private cache per thread, half of a shared cache split over the
    threads, never below 4 KiB."""
    out = []
    for c in caches.levels:
        cap = c.capacity(threads)
        per_thread = c.size_bytes // 2 if c.instances > 1 else c.size_bytes // 2 // threads
        out.append((c.name, max(4 << 10, per_thread), cap))
    return out


class _ReadSet:
    """One thread's read working set: W (rows x READ_ROW float32) and x."""

    def __init__(self, nbytes: int, passes: int) -> None:
        rows = max(1, nbytes // (4 * READ_ROW))
        self.W = np.ones((rows, READ_ROW), np.float32)
        self.x = np.full(READ_ROW, 0.5, np.float32)
        self.passes = max(1, passes)
        self.view = np.broadcast_to(self.W, (self.passes, rows, READ_ROW))

    @property
    def nbytes(self) -> int:
        return self.W.nbytes

    def dot_repeated(self) -> None:
        y = np.dot(self.view, self.x)
        if y[0, 0] != 0.5 * READ_ROW:
            raise RuntimeError("read kernel produced a wrong result")

    def gemv(self, passes: int) -> None:
        for _ in range(passes):
            y = self.W @ self.x
        if y[0] != 0.5 * READ_ROW:
            raise RuntimeError("read kernel produced a wrong result")


def _timed(clock: Callable[[], float], fn: Callable[[], Any]) -> float:
    t0 = clock()
    fn()
    return max(clock() - t0, 1e-12)


def _measure_cache_level(
    pool: ThreadPoolExecutor | None,
    nthreads: int,
    per_thread: int,
    clock: Callable[[], float],
    l1: bool = False,
) -> Callable[[], tuple[float, float, float]]:
    """A repetition of a cache level's kernels -> (repeated-dot GB/s, gemv GB/s, copy GB/s)."""
    passes = max(1, CACHE_REP_BYTES // (per_thread * nthreads))
    sets = [_ReadSet(per_thread, passes) for _ in range(nthreads)]
    team = _ReadSet(per_thread * nthreads, 1)  # one W the BLAS threads split
    gemv_passes = max(1, CACHE_REP_BYTES // team.nbytes)
    half = max(1, per_thread // 2 // 8)
    copies = [(np.ones(half), np.zeros(half)) for _ in range(nthreads)]
    copy_passes = max(1, CACHE_REP_BYTES // (16 * half * nthreads))

    def each(fn: Callable[[int], None]) -> None:
        if pool is None:
            for i in range(nthreads):
                fn(i)
        else:
            for f in [pool.submit(fn, i) for i in range(nthreads)]:
                f.result()

    def copy_loop(i: int) -> None:
        a, b = copies[i]
        for _ in range(copy_passes):
            np.copyto(b, a)

    # x (READ_ROW floats) always sits in L1: on the L1 set it is L1 traffic too
    x_too = 2 if l1 else 1

    def rep() -> tuple[float, float, float]:
        read_bytes = x_too * sum(s.nbytes * s.passes for s in sets)
        dot = read_bytes / _timed(clock, lambda: each(lambda i: sets[i].dot_repeated())) / 1e9
        gemv = team.nbytes * gemv_passes / _timed(clock, lambda: team.gemv(gemv_passes)) / 1e9
        copy_bytes = 16 * half * nthreads * copy_passes
        copy = copy_bytes / _timed(clock, lambda: each(copy_loop)) / 1e9
        return dot, gemv, copy

    each(lambda i: sets[i].dot_repeated())  # warm: the data into the cache, threads up
    return rep


def calibrate(
    array_mb: float | None = None,
    gemm_n: int = 2048,
    reps: int = 7,
    progress: Progress | None = None,
    *,
    threads: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
    caches: CacheDescription | None = None,
) -> MachinePeaks:
    """Measure every memory level's bandwidth and float32 GEMM throughput (best of ``reps``).

    ``array_mb``: MiB per DRAM STREAM array (default :func:`default_array_mb`, far larger
    than the last-level cache; triad uses three). ``threads``: threads for the bandwidth
    kernels (default: the BLAS thread count). ``caches``: the cache description (default
    :func:`~zlprof.roofline.caches.machine_caches`). ``progress(fraction, message)`` is
    called as the kernels run. ``clock`` is injectable for tests. Results are checked
    (copy equals its source, triad equals ``b + 3 c``, the read kernels' sums, GEMM stays
    float32).
    """
    if reps < 1:
        raise ValueError("reps must be >= 1")
    if gemm_n < 1:
        raise ValueError("gemm_n must be >= 1")
    if array_mb is None:
        array_mb = default_array_mb()
    if not array_mb > 0:
        raise ValueError("array_mb must be positive")
    caches = caches or machine_caches()
    blas_threads, blas_desc = blas_info()
    nthreads = max(1, int(threads or blas_threads))
    n = max(nthreads * READ_ROW, int(array_mb * (1 << 20)) // 8)
    n -= n % READ_ROW  # the read kernel views a as float32 rows of READ_ROW
    cache_sets = cache_working_sets(caches, nthreads)
    total_steps = (4 + len(cache_sets)) * reps + 1
    step = 0

    def tick(msg: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(min(1.0, step / total_steps), msg)

    if progress is not None:
        progress(0.0, f"allocating 3 x {n * 8 / (1 << 20):.0f} MiB")
    load_before = _loadavg()
    busy_before = _cpu_busy()
    a = np.full(n, 1.0)
    b = np.full(n, 2.0)
    c = np.full(n, 0.5)
    array_bytes = a.nbytes
    counted = {
        "copy": 2 * array_bytes,
        "triad": 3 * array_bytes,
        "read": array_bytes,
        "gemm": 2 * gemm_n**3,
    }
    samples: dict[str, list[float]] = {"copy": [], "triad": [], "read": [], "gemm": []}
    if nthreads > 1:
        samples["copy1"] = []  # one thread's whole-array copy (see below)
    for name, _, _ in cache_sets:
        for k in ("read", "copy"):
            samples[f"{name}_{k}"] = []
    rng = np.random.default_rng(0)
    A = rng.standard_normal((gemm_n, gemm_n), dtype=np.float32)
    B = rng.standard_normal((gemm_n, gemm_n), dtype=np.float32)
    xr = np.full(READ_ROW, 0.5, np.float32)
    pool = (
        ThreadPoolExecutor(nthreads, thread_name_prefix="zlprof-stream") if nthreads > 1 else None
    )
    try:
        _run_parallel(pool, _copy_kernel, (a, b), nthreads)  # warm up page tables, pool
        C = A @ B  # warm-up (BLAS threads spin up)
        if C.dtype != np.float32:
            raise RuntimeError(f"GEMM promoted to {C.dtype}")
        level_reps = [
            (name, _measure_cache_level(pool, nthreads, per_thread, clock, name == "L1"))
            for name, per_thread, _ in cache_sets
        ]
        # the kernels are interleaved, so a burst of other load on the machine hits one
        # repetition of each rather than every repetition of one kernel
        for r in range(reps):
            for name, rep in level_reps:
                dot, gemv, copy = rep()
                samples[f"{name}_read"].append(max(dot, gemv))
                samples[f"{name}_copy"].append(copy)
                tick(f"{name} {r + 1}/{reps}: read {max(dot, gemv):.0f} GB/s")
            b.fill(2.0)
            t0 = clock()
            _run_parallel(pool, _triad_kernel, (a, b, c), nthreads)
            dt = clock() - t0
            samples["triad"].append(counted["triad"] / max(dt, 1e-12) / 1e9)
            tick(f"DRAM triad {r + 1}/{reps}: {samples['triad'][-1]:.1f} GB/s")
            if not (a[0] == 3.5 and a[-1] == 3.5 and a[n // 2] == 3.5):
                raise RuntimeError("triad kernel produced a wrong result")
            t0 = clock()
            _run_parallel(pool, _copy_kernel, (a, b), nthreads)
            dt = clock() - t0
            samples["copy"].append(counted["copy"] / max(dt, 1e-12) / 1e9)
            tick(f"DRAM copy {r + 1}/{reps}: {samples['copy'][-1]:.1f} GB/s")
            if not (b[0] == 3.5 and b[-1] == 3.5 and b[n // 2] == 3.5):
                raise RuntimeError("copy kernel produced a wrong result")
            if pool is not None:
                # a roof is the best attainable: on a small shared machine one thread's
                # copy can beat a team's (the threads contend), so both count
                b.fill(2.0)
                t0 = clock()
                _copy_kernel(a, b)
                dt = clock() - t0
                samples["copy1"].append(counted["copy"] / max(dt, 1e-12) / 1e9)
            W = a.view(np.float32).reshape(-1, READ_ROW)  # the mat-vec pattern, BLAS sgemv
            t0 = clock()
            y = W @ xr
            dt = clock() - t0
            samples["read"].append(counted["read"] / max(dt, 1e-12) / 1e9)
            tick(f"DRAM read {r + 1}/{reps}: {samples['read'][-1]:.1f} GB/s")
            if not np.isfinite(y[0]):
                raise RuntimeError("read kernel produced a wrong result")
            t0 = clock()
            np.matmul(A, B, out=C)
            dt = clock() - t0
            samples["gemm"].append(counted["gemm"] / max(dt, 1e-12) / 1e9)
            tick(f"GEMM {r + 1}/{reps}: {samples['gemm'][-1]:.1f} GFLOP/s")
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        del a, b, c, A, B

    best = {k: max(v) for k, v in samples.items()}
    best["copy"] = max(best["copy"], best.pop("copy1", 0.0))
    spread = {k: (max(v) - min(v)) / max(v) if max(v) > 0 else 0.0 for k, v in samples.items()}
    dram_roof = max(best["copy"], best["triad"], best["read"])
    levels = [
        MemoryLevel(
            name,
            capacity_bytes=cap,
            size_bytes=(caches.level(int(name[1:])) or caches.levels[0]).size_bytes,
            read_gbps=best[f"{name}_read"],
            copy_gbps=best[f"{name}_copy"],
            working_set_bytes=per_thread * nthreads,
            roof_gbps=best[f"{name}_read"],
        )
        for name, per_thread, cap in cache_sets
    ]
    levels.append(
        MemoryLevel(
            DRAM,
            capacity_bytes=0,
            read_gbps=best["read"],
            copy_gbps=best["copy"],
            triad_gbps=best["triad"],
            working_set_bytes=array_bytes,
            roof_gbps=dram_roof,
        )
    )
    ident = machine_identity()
    peaks = MachinePeaks(
        gflops=best["gemm"],
        gbps=dram_roof,
        copy_gbps=best["copy"],
        triad_gbps=best["triad"],
        gemm_gflops=best["gemm"],
        blas_threads=blas_threads,
        stream_threads=nthreads,
        blas=blas_desc,
        numpy_version=np.__version__,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        source="measured",
        hostname=ident["hostname"],
        cpu=ident["cpu"],
        array_mb=round(array_bytes / (1 << 20), 3),
        gemm_n=gemm_n,
        reps=reps,
        spread=spread,
        samples=samples,
        counted=counted,
        llc_bytes=caches.last_level_bytes,
        loadavg=load_before,
        cpu_busy=busy_before,
        cpus=os.cpu_count() or 0,
        levels=levels,
        caches_source=caches.source,
    )
    tick("done")
    return peaks


_calibrate = calibrate  # get_peaks' ``calibrate`` flag shadows the function name


def _check_override(name: str, v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive number, got {v!r}")
    return v


def get_peaks(
    calibrate: bool = False,
    peak_gflops: float | None = None,
    peak_gbps: float | None = None,
    progress: Progress | None = None,
    *,
    measure_if_missing: bool = True,
    use_cache: bool = True,
    **calibrate_kwargs: Any,
) -> MachinePeaks:
    """The machine peaks to draw the roof with.

    ``calibrate=True`` measures now and refreshes the cache. Otherwise the cached values
    are used; without a cache entry they are measured (and cached) when
    ``measure_if_missing`` (the CLI), else :class:`PeaksUnavailable` is raised (the live
    app: it should then call :func:`calibrate` in a worker thread). Peaks measured
    implicitly on a busy machine (``busy``: e.g. while a workload runs) are returned but
    not cached, so they do not stick; ``calibrate=True`` always caches. ``peak_gflops`` /
    ``peak_gbps`` override either figure (``source="override"``); with both given nothing
    is measured. Non-positive overrides raise ValueError.
    """
    gf = _check_override("peak_gflops", peak_gflops)
    gb = _check_override("peak_gbps", peak_gbps)
    base: MachinePeaks | None = None
    if calibrate:
        base = _calibrate(progress=progress, **calibrate_kwargs)
        if use_cache:
            save_peaks(base)
    else:
        if use_cache:
            base = load_cached_peaks()
        if base is None and (gf is None or gb is None):
            if not measure_if_missing:
                raise PeaksUnavailable("no cached machine peaks; run `zlprof roofline --calibrate`")
            base = _calibrate(progress=progress, **calibrate_kwargs)
            if use_cache and not base.busy:  # never cache peaks a busy machine measured
                save_peaks(base)
    if base is None:  # both overridden and nothing cached
        ident = machine_identity()
        base = MachinePeaks(
            gflops=gf or 0.0,
            gbps=gb or 0.0,
            blas_threads=ident["blas_threads"],
            hostname=ident["hostname"],
            cpu=ident["cpu"],
            llc_bytes=last_level_cache_bytes(),
        )
    over: list[str] = []
    if gf is not None:
        over.append("gflops")
    if gb is not None:
        over.append("gbps")
    if over:
        base = replace(
            base,
            gflops=gf if gf is not None else base.gflops,
            gbps=gb if gb is not None else base.gbps,
            source="override",
            overridden=over,
        )
    return base

