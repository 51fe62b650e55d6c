"""Machine peaks, arithmetic intensity, roofline placement and a text roofline chart.

The roofline model (Williams, Waterman & Patterson, 2009): an operation that performs F
floating-point operations while moving B bytes has arithmetic intensity I = F / B
(FLOP/byte). On a machine with peak compute pi (GFLOP/s) and peak memory bandwidth beta
(GB/s) it can attain at most ``min(pi, beta * I)`` GFLOP/s. Left of the ridge point
``I = pi / beta`` an op is memory-bound, right of it compute-bound.

Machine peaks are *measured*, never copied (the seed's "100 GFLOP/s for 8 AVX2 cores" is
far too low for any modern CPU running BLAS):

* **beta**, STREAM-style with NumPy over arrays far larger than the last-level cache, each
  kernel split over as many Python threads as BLAS uses (NumPy releases the GIL inside
  ``copyto`` and ufuncs, so the threads really run in parallel, as STREAM's OpenMP
  threads do). Bytes are counted as STREAM counts them, i.e. the compulsory traffic of the
  kernel's *definition*, ignoring write-allocate reads:

  - copy  ``b = a``: 2 x array bytes (read a, write b);
  - triad ``a = b + s * c``: 3 x array bytes (read b, read c, write a). NumPy evaluates it
    in two passes (``a = s * c`` then ``a += b``), which really moves 5 x array bytes
    (read c, write a, read a, read b, write a); we still count 3, so the triad figure is
    a conservative *delivered* bandwidth. ``MachinePeaks.triad_moved_gbps`` gives the
    5-pass figure for reference.

  beta is the best of copy and triad (normally copy): the roof must bound what an op can
  reach, and a read-mostly mat-vec gets close to copy bandwidth.
* **pi**, float32 GEMM (``A @ B``, n x n, 2 n^3 FLOP) through NumPy's BLAS with its own
  thread count (reported by threadpoolctl; the workload uses the same BLAS and threads).

Every kernel runs ``reps`` times, the three kernels interleaved (so a burst of other load
spoils one repetition of each, not all of one); the best repetition is taken (as STREAM
does) and the spread ``(best - worst) / best`` is kept to show how stable the figure is.
The load average is recorded: peaks measured on a busy machine read low (``busy``).

Peaks are cached as JSON in ``$XDG_CACHE_HOME/zlprof/peaks.json`` (else
``~/.cache/zlprof/peaks.json``), one entry per machine key (hostname, CPU model, NumPy
version, BLAS threads), with the date and library versions.

Op-cost formulas (:func:`matmul_cost` and friends) are documented below; they count the
*compulsory* traffic (each operand read once, each result written once) and one FLOP per
add, multiply, compare, exp or divide. For fp32 a mat-vec does 2 FLOPs per 4-byte weight:
I ~ 0.5 FLOP/byte (the seed's "I = 2 for decode" is wrong).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from rich.style import Style
from rich.table import Table
from rich.text import Text

Progress = Callable[[float, str], None]

CACHE_SCHEMA = 1
#: A point counts as above the roof when it exceeds the attainable value by this factor.
ABOVE_ROOF_TOLERANCE = 0.05


# =========================================================================== op costs


class OpCost(NamedTuple):
    """FLOPs and bytes moved by one call of an operation."""

    flops: int
    nbytes: int

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOP/byte (``inf`` when no bytes move)."""
        return self.flops / self.nbytes if self.nbytes else math.inf

    def __add__(self, other: object) -> OpCost:  # type: ignore[override]
        if not isinstance(other, OpCost):
            return NotImplemented
        return OpCost(self.flops + other.flops, self.nbytes + other.nbytes)


def matmul_cost(m: int, n: int, k: int, dtype_bytes: int = 4, *, batch: int = 1) -> OpCost:
    """``C[m, n] = A[m, k] @ B[k, n]`` (``batch`` independent products).

    FLOPs = 2 m n k (a multiply and an add per multiply-accumulate).
    Bytes = dtype_bytes (m k + k n + m n): A and B read once, C written once.

    A mat-vec (m = 1) on fp32 weights: 2 n k / (4 (k + k n + n)) ~ 0.5 FLOP/byte.
    A square product: 2 n^3 / (12 n^2) = n / 6 FLOP/byte.
    """
    _check_dims(m=m, n=n, k=k, dtype_bytes=dtype_bytes, batch=batch)
    return OpCost(batch * 2 * m * n * k, batch * dtype_bytes * (m * k + k * n + m * n))


def attention_scores_cost(
    q_len: int,
    kv_len: int,
    head_dim: int,
    n_heads: int = 1,
    n_kv_heads: int | None = None,
    dtype_bytes: int = 4,
    *,
    scale: bool = True,
) -> OpCost:
    """Scores ``S = Q K^T / sqrt(head_dim)`` for every head.

    Per head: FLOPs = 2 q_len kv_len head_dim, plus q_len kv_len for the scaling multiply
    when ``scale``. Bytes = dtype_bytes (n_heads q_len head_dim [Q read]
    + n_kv_heads kv_len head_dim [K read once per KV head, shared by its query group]
    + n_heads q_len kv_len [S written]).

    Decode (q_len = 1, kv_len = T, head_dim = 64, one head): FLOPs = 129 T,
    bytes = 4 (64 + 64 T + T) -> ~0.5 FLOP/byte. Prefill (q_len = kv_len = n >> d): ~d/2.
    """
    kvh = n_heads if n_kv_heads is None else n_kv_heads
    _check_dims(
        q_len=q_len,
        kv_len=kv_len,
        head_dim=head_dim,
        n_heads=n_heads,
        n_kv_heads=kvh,
        dtype_bytes=dtype_bytes,
    )
    per_head = 2 * q_len * kv_len * head_dim + (q_len * kv_len if scale else 0)
    nbytes = dtype_bytes * (
        n_heads * q_len * head_dim + kvh * kv_len * head_dim + n_heads * q_len * kv_len
    )
    return OpCost(n_heads * per_head, nbytes)


def attention_values_cost(
    q_len: int,
    kv_len: int,
    head_dim: int,
    n_heads: int = 1,
    n_kv_heads: int | None = None,
    dtype_bytes: int = 4,
) -> OpCost:
    """Weighted values ``O = P V`` for every head (P: q_len x kv_len, V: kv_len x head_dim).

    Per head: FLOPs = 2 q_len kv_len head_dim. Bytes = dtype_bytes (n_heads q_len kv_len
    [P read] + n_kv_heads kv_len head_dim [V read] + n_heads q_len head_dim [O written]).
    """
    kvh = n_heads if n_kv_heads is None else n_kv_heads
    _check_dims(
        q_len=q_len,
        kv_len=kv_len,
        head_dim=head_dim,
        n_heads=n_heads,
        n_kv_heads=kvh,
        dtype_bytes=dtype_bytes,
    )
    nbytes = dtype_bytes * (
        n_heads * q_len * kv_len + kvh * kv_len * head_dim + n_heads * q_len * head_dim
    )
    return OpCost(n_heads * 2 * q_len * kv_len * head_dim, nbytes)


def softmax_cost(rows: int, n: int, dtype_bytes: int = 4) -> OpCost:
    """Numerically stable softmax over ``rows`` rows of ``n`` elements.

    FLOPs = 5 per element: max (a compare), subtract the max, exp (counted as one FLOP),
    sum, and the final divide. (The seed's 4n leaves out the max pass.)
    Bytes = dtype_bytes 2 rows n: the input read once and the output written once; the
    repeated passes over a row are assumed to hit the cache.
    Intensity 5 / 8 = 0.625 FLOP/byte for fp32.
    """
    _check_dims(rows=rows, n=n, dtype_bytes=dtype_bytes)
    return OpCost(5 * rows * n, dtype_bytes * 2 * rows * n)


def rmsnorm_cost(rows: int, d: int, dtype_bytes: int = 4, *, weight: bool = True) -> OpCost:
    """RMSNorm ``y = x / sqrt(mean(x^2) + eps) * w`` over ``rows`` vectors of ``d``.

    FLOPs per row = 4 d + 3: square (d), sum (d), mean + eps + rsqrt (3), scale by the
    reciprocal (d), multiply by the weight (d; 3 d + 3 without a weight).
    Bytes = dtype_bytes (2 rows d + d): x read and y written per row, the weight vector
    read once per call (shared by all rows).
    One fp32 row: (4 d + 3) / (12 d) ~ 0.33 FLOP/byte (the seed's 0.375 omits the weight).
    """
    _check_dims(rows=rows, d=d, dtype_bytes=dtype_bytes)
    per_row = (4 if weight else 3) * d + 3
    nbytes = dtype_bytes * (2 * rows * d + (d if weight else 0))
    return OpCost(rows * per_row, nbytes)


def embedding_cost(rows: int, d: int, dtype_bytes: int = 4) -> OpCost:
    """Token-embedding lookup of ``rows`` tokens: no FLOPs, a row read and written each."""
    _check_dims(rows=rows, d=d, dtype_bytes=dtype_bytes)
    return OpCost(0, dtype_bytes * 2 * rows * d)


def _check_dims(**dims: int) -> None:
    for name, v in dims.items():
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")


# =========================================================================== machine


def _read_cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown"


def last_level_cache_bytes() -> int:
    """The largest CPU cache (bytes) as sysfs reports it, or 0 if unknown."""
    best = 0
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for d in base.glob("index*"):
            try:
                text = (d / "size").read_text().strip().upper()
            except OSError:
                continue
            m = re.fullmatch(r"(\d+)([KMG]?)", text)
            if not m:
                continue
            mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]
            best = max(best, int(m.group(1)) * mult)
    except OSError:
        pass
    return best


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def default_array_mb() -> int:
    """Size of each STREAM array: 4x the last-level cache, within [256, 1024] MiB.

    Capped so the three triad arrays take at most a quarter of the available memory.
    """
    llc = last_level_cache_bytes()
    mb = min(1024, max(256, 4 * llc // (1 << 20)))
    avail = _available_bytes()
    if avail:
        mb = min(mb, max(16, avail // (12 << 20)))
    return int(mb)


def blas_info() -> tuple[int, str]:
    """(thread count, description) of the BLAS NumPy uses, via threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info

        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # threadpoolctl missing or failing: fall back to the CPU count
        infos = []
    if not infos:
        return max(1, os.cpu_count() or 1), "unknown BLAS"
    i = infos[0]
    desc = f"{i.get('internal_api', '?')} {i.get('version', '?')}"
    if i.get("architecture"):
        desc += f" ({i['architecture']})"
    return max(1, int(i.get("num_threads") or 1)), desc


def machine_identity() -> dict[str, Any]:
    """What the peaks cache is keyed by."""
    threads, _ = blas_info()
    return {
        "hostname": socket.gethostname(),
        "cpu": _read_cpu_model(),
        "numpy": np.__version__,
        "blas_threads": threads,
    }


def machine_key(identity: dict[str, Any] | None = None) -> str:
    ident = identity or machine_identity()
    return (
        f"{ident['hostname']}|{ident['cpu']}|numpy {ident['numpy']}|{ident['blas_threads']} threads"
    )


@dataclass
class MachinePeaks:
    """Peak compute (pi) and bandwidth (beta) of this machine, and how they were found."""

    gflops: float
    gbps: float
    copy_gbps: float = math.nan
    triad_gbps: float = math.nan
    gemm_gflops: float = math.nan
    blas_threads: int = 0
    stream_threads: int = 0
    blas: str = ""
    numpy_version: str = np.__version__
    date: str = ""
    source: str = "measured"  # "measured" | "cached" | "override"
    hostname: str = ""
    cpu: str = ""
    array_mb: float = 0.0
    gemm_n: int = 0
    reps: int = 0
    #: relative spread (best - worst) / best of each kernel over its repetitions
    spread: dict[str, float] = field(default_factory=dict)
    #: per-repetition figures (GB/s or GFLOP/s) of each kernel
    samples: dict[str, list[float]] = field(default_factory=dict)
    #: bytes (copy, triad) or FLOPs (gemm) one repetition of each kernel is counted as
    counted: dict[str, int] = field(default_factory=dict)
    llc_bytes: int = 0
    overridden: list[str] = field(default_factory=list)
    #: how busy the machine was just before calibrating (others' work, not ours): the
    #: fraction of all CPU time in use over 0.3 s (-1 unknown) and the 1-minute load
    #: average; peaks measured next to other work read low
    cpu_busy: float = -1.0
    loadavg: float = 0.0
    cpus: int = 0

    @property
    def busy(self) -> bool:
        """Other work kept the machine busy when calibration began: >= 25 % of the CPU
        time in use (or, where that is unknown, a load average >= 3/4 of the CPUs)."""
        if self.cpu_busy >= 0:
            return self.cpu_busy >= 0.25
        return self.cpus > 0 and self.loadavg >= max(1.0, 0.75 * self.cpus)

    @property
    def ridge(self) -> float:
        """The ridge point pi / beta in FLOP/byte."""
        return self.gflops / self.gbps if self.gbps > 0 else math.inf

    @property
    def triad_moved_gbps(self) -> float:
        """Triad bandwidth counting the 5 passes NumPy's two-step triad really makes."""
        return self.triad_gbps * 5.0 / 3.0

    @property
    def beta_kernel(self) -> str:
        if "gbps" in self.overridden:
            return "override"
        if math.isnan(self.triad_gbps) or self.copy_gbps >= self.triad_gbps:
            return "copy"
        return "triad"

    def attainable(self, intensity: float) -> float:
        """min(pi, beta I) in GFLOP/s."""
        if intensity <= 0:
            return 0.0
        return min(self.gflops, self.gbps * intensity)

    def describe(self) -> str:
        """One line for headers: the peaks, where they come from, the ridge."""
        pi_src = "override" if "gflops" in self.overridden else "fp32 GEMM"
        threads = f", {self.blas_threads} BLAS threads" if self.blas_threads else ""
        when = f" {self.date[:10]}" if self.date else ""
        busy = " (machine was busy: may read low)" if self.busy else ""
        return (
            f"pi {fmt_num(self.gflops)} GFLOP/s ({pi_src}{threads}) | "
            f"beta {fmt_num(self.gbps)} GB/s ({self.beta_kernel}) | "
            f"ridge {fmt_num(self.ridge)} FLOP/B | {self.source}{when}{busy}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MachinePeaks:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if "gflops" not in kw or "gbps" not in kw:
            raise ValueError("peaks entry lacks gflops/gbps")
        kw["gflops"] = float(kw["gflops"])
        kw["gbps"] = float(kw["gbps"])
        if not (kw["gflops"] > 0 and kw["gbps"] > 0):
            raise ValueError("peaks must be positive")
        return cls(**kw)


# --------------------------------------------------------------------- calibration


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


def calibrate(
    array_mb: float | None = None,
    gemm_n: int = 2048,
    reps: int = 5,
    progress: Progress | None = None,
    *,
    threads: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> MachinePeaks:
    """Measure copy and triad bandwidth and float32 GEMM throughput (best of ``reps``).

    ``array_mb``: MiB per STREAM array (default :func:`default_array_mb`, far larger than
    the last-level cache; triad uses three). ``threads``: Python threads for the STREAM
    kernels (default: the BLAS thread count). ``progress(fraction, message)`` is called
    as the kernels run. ``clock`` is injectable for tests. Results are checked (copy
    equals its source, triad equals ``b + 3 c``, GEMM stays float32).
    """
    if reps < 1:
        raise ValueError("reps must be >= 1")
    if gemm_n < 1:
        raise ValueError("gemm_n must be >= 1")
    if array_mb is None:
        array_mb = default_array_mb()
    if not array_mb > 0:
        raise ValueError("array_mb must be positive")
    blas_threads, blas_desc = blas_info()
    nthreads = max(1, int(threads or blas_threads))
    n = max(nthreads, int(array_mb * (1 << 20)) // 8)
    total_steps = 3 * reps + 1
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
    counted = {"copy": 2 * array_bytes, "triad": 3 * array_bytes, "gemm": 2 * gemm_n**3}
    samples: dict[str, list[float]] = {"copy": [], "triad": [], "gemm": []}
    rng = np.random.default_rng(0)
    A = rng.standard_normal((gemm_n, gemm_n), dtype=np.float32)
    B = rng.standard_normal((gemm_n, gemm_n), dtype=np.float32)
    pool = (
        ThreadPoolExecutor(nthreads, thread_name_prefix="zlprof-stream") if nthreads > 1 else None
    )
    try:
        _run_parallel(pool, _copy_kernel, (a, b), nthreads)  # warm up page tables, pool
        C = A @ B  # warm-up (BLAS threads spin up)
        if C.dtype != np.float32:
            raise RuntimeError(f"GEMM promoted to {C.dtype}")
        # the kernels are interleaved, so a burst of other load on the machine hits one
        # repetition of each rather than every repetition of one kernel
        for r in range(reps):
            b.fill(2.0)
            t0 = clock()
            _run_parallel(pool, _triad_kernel, (a, b, c), nthreads)
            dt = clock() - t0
            samples["triad"].append(counted["triad"] / max(dt, 1e-12) / 1e9)
            tick(f"triad {r + 1}/{reps}: {samples['triad'][-1]:.1f} GB/s")
            if not (a[0] == 3.5 and a[-1] == 3.5 and a[n // 2] == 3.5):
                raise RuntimeError("triad kernel produced a wrong result")
            t0 = clock()
            _run_parallel(pool, _copy_kernel, (a, b), nthreads)
            dt = clock() - t0
            samples["copy"].append(counted["copy"] / max(dt, 1e-12) / 1e9)
            tick(f"copy {r + 1}/{reps}: {samples['copy'][-1]:.1f} GB/s")
            if not (b[0] == 3.5 and b[-1] == 3.5 and b[n // 2] == 3.5):
                raise RuntimeError("copy kernel produced a wrong result")
            t0 = clock()
            np.matmul(A, B, out=C)
            dt = clock() - t0
            samples["gemm"].append(counted["gemm"] / max(dt, 1e-12) / 1e9)
            tick(f"gemm {r + 1}/{reps}: {samples['gemm'][-1]:.1f} GFLOP/s")
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        del a, b, c, A, B

    best = {k: max(v) for k, v in samples.items()}
    spread = {k: (max(v) - min(v)) / max(v) if max(v) > 0 else 0.0 for k, v in samples.items()}
    ident = machine_identity()
    peaks = MachinePeaks(
        gflops=best["gemm"],
        gbps=max(best["copy"], best["triad"]),
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
        llc_bytes=last_level_cache_bytes(),
        loadavg=load_before,
        cpu_busy=busy_before,
        cpus=os.cpu_count() or 0,
    )
    tick("done")
    return peaks


_calibrate = calibrate  # get_peaks' ``calibrate`` flag shadows the function name


# --------------------------------------------------------------------------- cache


class PeaksUnavailable(RuntimeError):
    """No cached peaks and measuring was not allowed."""


def peaks_cache_path() -> Path:
    """``$XDG_CACHE_HOME/zlprof/peaks.json``, else ``~/.cache/zlprof/peaks.json``."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "zlprof" / "peaks.json"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != CACHE_SCHEMA:
        return {}
    machines = data.get("machines")
    return machines if isinstance(machines, dict) else {}


def load_cached_peaks(key: str | None = None, path: Path | None = None) -> MachinePeaks | None:
    """The cached peaks of this machine (``source="cached"``), or None."""
    entry = _read_cache(path or peaks_cache_path()).get(key or machine_key())
    if not isinstance(entry, dict):
        return None
    try:
        peaks = MachinePeaks.from_dict(entry)
    except (TypeError, ValueError):
        return None
    peaks.source = "cached"
    peaks.overridden = []
    return peaks


def save_peaks(peaks: MachinePeaks, key: str | None = None, path: Path | None = None) -> Path:
    """Store measured peaks under this machine's key (atomic replace); returns the path."""
    path = path or peaks_cache_path()
    machines = _read_cache(path)
    entry = peaks.to_dict()
    entry["source"] = "measured"
    entry["overridden"] = []
    machines[key or machine_key()] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps({"schema": CACHE_SCHEMA, "machines": machines}, indent=2, sort_keys=True),
        encoding="utf-8",
    )
    os.replace(tmp, path)
    return path


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


# =========================================================================== placement


@dataclass
class RooflinePoint:
    """One operation (or a group of same-named ops) against the roof."""

    id: int
    key: str
    label: str
    paths: list[str]
    calls: int
    cost_calls: int
    flops: int
    nbytes: int
    time_ms: float
    intensity: float  # FLOP/byte; 0 when no FLOPs, inf when no bytes
    gflops: float  # achieved
    gbps: float  # achieved
    attainable: float  # min(pi, beta I), GFLOP/s
    roof_share: float  # achieved / attainable (GB/s / beta when there are no FLOPs)
    bound: str  # "memory" | "compute"
    above_roof: bool
    note: str = ""

    @property
    def marker(self) -> str:
        return id_char(self.id)

    @property
    def bytes_per_call(self) -> float:
        return self.nbytes / self.cost_calls if self.cost_calls else 0.0

    @property
    def plottable(self) -> bool:
        return 0 < self.intensity < math.inf and self.gflops > 0


_REPEAT = re.compile(r"^(.*?)(\d+)$")


def group_key(path: str) -> str:
    """Collapse numbered repeats of a path: ``forward_pass/layer3/mlp.down`` ->
    ``forward_pass/layer*/mlp.down`` (so all layers' mat-vecs form one point)."""
    parts = []
    for p in path.split("/"):
        m = _REPEAT.match(p)
        parts.append(f"{m.group(1)}*" if m and m.group(1) and not m.group(1)[-1].isdigit() else p)
    return "/".join(parts)


_ID_CHARS = "123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def id_char(i: int) -> str:
    """The one-character marker of point ``i`` (1-based); '#' past 61."""
    return _ID_CHARS[i - 1] if 1 <= i <= len(_ID_CHARS) else "#"


def _short_labels(keys: list[str]) -> dict[str, str]:
    """Leaf names, prefixed by a short form of the top-level block where leaves repeat."""
    leaf = {k: k.rsplit("/", 1)[-1] for k in keys}
    counts: dict[str, int] = {}
    for v in leaf.values():
        counts[v] = counts.get(v, 0) + 1
    tops = sorted({k.split("/", 1)[0] for k in keys})
    abbrev: dict[str, str] = {}
    for t in tops:
        for n in range(1, len(t) + 1):
            cand = t[:n]
            if n >= 4 or n == len(t):
                if all(not o.startswith(cand) for o in tops if o != t) or n == len(t):
                    abbrev[t] = cand
                    break
        abbrev.setdefault(t, t)
    out = {}
    for k in keys:
        if counts[leaf[k]] > 1 and "/" in k:
            out[k] = f"{abbrev[k.split('/', 1)[0]]}:{leaf[k]}"
        else:
            out[k] = leaf[k]
    return out


def place(
    rows: Iterable[Any],
    peaks: MachinePeaks,
    *,
    group: bool = True,
    tolerance: float = ABOVE_ROOF_TOLERANCE,
) -> list[RooflinePoint]:
    """Place every op with costs against the roof; points sorted by time (largest first).

    ``rows``: :class:`~zlprof.session.OpRow` s from ``state.op_rows()`` (whole session:
    costs are session totals, so do not pass windowed rows). With ``group`` ops that differ
    only by a layer number are summed into one point (:func:`group_key`). Time is the op's
    total (inclusive) time, or its self time when a descendant also carries costs.
    A point achieving more than ``(1 + tolerance)`` times its attainable value is flagged
    ``above_roof`` with a note: such a point means the FLOP or byte count is wrong, the
    working set lives in cache (the DRAM roof does not bound it), or the peaks are stale.
    """
    rows = [r for r in rows if (r.flops > 0 or r.nbytes > 0)]
    # blocks with a costed descendant: their own costs are timed by their self time
    has_costed_desc = {
        "/".join(r.full.split("/")[:k]) for r in rows for k in range(1, r.full.count("/") + 1)
    }
    acc: dict[str, dict[str, Any]] = {}
    for r in rows:
        t_ms = r.self_ms if r.full in has_costed_desc else r.stats.total_ms
        key = group_key(r.full) if group else r.full
        a = acc.setdefault(
            key, {"paths": [], "calls": 0, "cost_calls": 0, "flops": 0, "nbytes": 0, "ms": 0.0}
        )
        a["paths"].append(r.full)
        a["calls"] += r.stats.count
        a["cost_calls"] += r.cost_calls
        a["flops"] += r.flops
        a["nbytes"] += r.nbytes
        a["ms"] += t_ms
    order = sorted(acc, key=lambda k: (-acc[k]["ms"], k))
    labels = _short_labels(order)
    points: list[RooflinePoint] = []
    for i, key in enumerate(order, 1):
        a = acc[key]
        flops, nbytes, ms = a["flops"], a["nbytes"], a["ms"]
        s = ms / 1e3
        intensity = flops / nbytes if nbytes else (math.inf if flops else 0.0)
        gflops = flops / s / 1e9 if s > 0 else 0.0
        gbps = nbytes / s / 1e9 if s > 0 else 0.0
        attainable = peaks.attainable(intensity) if flops else 0.0
        if flops and attainable > 0:
            share = gflops / attainable
        else:
            share = gbps / peaks.gbps if peaks.gbps > 0 else 0.0
        bound = "memory" if intensity < peaks.ridge else "compute"
        above = s > 0 and share > 1.0 + tolerance
        note = ""
        if above:
            note = _above_note(
                share, bound, nbytes / a["cost_calls"] if a["cost_calls"] else 0, peaks
            )
        elif s <= 0:
            note = "no time measured"
        elif not flops:
            note = "no FLOPs (pure data movement): off the chart, GB/s vs beta"
        points.append(
            RooflinePoint(
                id=i,
                key=key,
                label=labels[key],
                paths=a["paths"],
                calls=a["calls"],
                cost_calls=a["cost_calls"],
                flops=flops,
                nbytes=nbytes,
                time_ms=ms,
                intensity=intensity,
                gflops=gflops,
                gbps=gbps,
                attainable=attainable,
                roof_share=share,
                bound=bound,
                above_roof=above,
                note=note,
            )
        )
    return points


def _above_note(share: float, bound: str, bytes_per_call: float, peaks: MachinePeaks) -> str:
    head = f"ABOVE ROOF ({share:.0%} of attainable): counting error?"
    if bound == "memory" and peaks.llc_bytes and 0 < bytes_per_call <= peaks.llc_bytes:
        return (
            f"{head} bytes under-counted, or the {fmt_bytes(bytes_per_call)} per call stay in "
            f"the {fmt_bytes(peaks.llc_bytes)} cache so the DRAM roof does not bound it"
        )
    if bound == "memory":
        return f"{head} bytes under-counted, or beta stale (recalibrate)"
    return f"{head} FLOPs over-counted, or pi stale (recalibrate)"


def find_point(points: Sequence[RooflinePoint], name: str | None) -> RooflinePoint | None:
    """The point of an op: by group key, full path, or label."""
    if not name:
        return None
    g = group_key(name)
    for p in points:
        if name == p.key or name in p.paths or g == p.key:
            return p
    for p in points:
        if name == p.label:
            return p
    return None


# =========================================================================== formatting


def fmt_num(v: float) -> str:
    """Three significant figures, k/M suffixes past 10,000."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "inf"
    a = abs(v)
    if a >= 1e7:
        return f"{v / 1e6:.0f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a == 0:
        return "0"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.1e}"


def fmt_bytes(n: float) -> str:
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n:.0f} B"


def _tick_label(e: int) -> str:
    v = 10.0**e
    if e >= 9:
        return f"{10 ** (e - 9):d}G"
    if e >= 6:
        return f"{10 ** (e - 6):d}M"
    if e >= 3:
        return f"{10 ** (e - 3):d}k"
    if e >= 0:
        return f"{int(v):d}"
    if e >= -3:
        return f"{v:.{-e}f}"
    return f"1e{e}"


# =========================================================================== chart

_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col]

STYLE_ROOF = "cyan"
STYLE_RIDGE = "cyan"
STYLE_AXIS = "bright_black"
STYLE_MEMORY = "bold yellow"
STYLE_COMPUTE = "bold green"
STYLE_ABOVE = "bold red"
STYLE_HIGHLIGHT = "bold reverse"
STYLE_TITLE = "bold"

#: The chart's style roles and their defaults; ``render_roofline(styles=...)`` overrides
#: any of them with a style string or a ``rich.style.Style`` (e.g. from a Textual theme).
DEFAULT_STYLES: dict[str, str] = {
    "roof": STYLE_ROOF,
    "ridge": STYLE_RIDGE,
    "axis": STYLE_AXIS,
    "memory": STYLE_MEMORY,
    "compute": STYLE_COMPUTE,
    "above": STYLE_ABOVE,
    "title": STYLE_TITLE,
}


class _Grid:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.ch: list[list[str]] = [[" "] * w for _ in range(h)]
        self.st: list[list[Style | str]] = [[""] * w for _ in range(h)]
        self.taken: list[list[bool]] = [[False] * w for _ in range(h)]

    def put(self, x: int, y: int, text: str, style: Style | str = "", take: bool = False) -> None:
        for i, c in enumerate(text):
            if 0 <= x + i < self.w and 0 <= y < self.h:
                self.ch[y][x + i] = c
                self.st[y][x + i] = style
                if take:
                    self.taken[y][x + i] = True

    def free(self, x: int, y: int, n: int) -> bool:
        if y < 0 or y >= self.h or x < 0 or x + n > self.w:
            return False
        return not any(self.taken[y][x : x + n])

    def to_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop", end="")
        for y in range(self.h):
            run, style = "", None
            for x in range(self.w):
                c, s = self.ch[y][x], self.st[y][x]
                if s != style and run:
                    out.append(run, style or None)
                    run = ""
                style = s
                run += c
            if run:
                out.append(run, style or None)
            if y < self.h - 1:
                out.append("\n")
        return out


class _Braille:
    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.bits = np.zeros((rows, cols), np.uint8)

    @property
    def wpx(self) -> int:
        return self.cols * 2

    @property
    def hpx(self) -> int:
        return self.rows * 4

    def dot(self, px: int, py: int) -> None:
        if 0 <= px < self.wpx and 0 <= py < self.hpx:
            self.bits[py // 4, px // 2] |= _BRAILLE_BITS[py % 4][px % 2]

    def vline(self, px: int, y0: int, y1: int, step: int = 1) -> None:
        lo, hi = min(y0, y1), max(y0, y1)
        for py in range(lo, hi + 1, step):
            self.dot(px, py)


def _decades(lo: float, hi: float, min_span: int) -> tuple[int, int]:
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    while b - a < min_span:
        if (b - a) % 2:
            b += 1
        else:
            a -= 1
    return a, b


def render_roofline(
    points: Sequence[RooflinePoint],
    peaks: MachinePeaks,
    width: int = 80,
    height: int = 24,
    highlight: str | None = None,
    *,
    title: bool = True,
    styles: dict[str, Any] | None = None,
    min_share: float = 0.01,
) -> Text:
    """A log-log roofline in ``width`` x ``height`` terminal cells.

    The bandwidth slope and the compute ceiling are braille dot lines (2 x 4 dots per
    cell), the ridge a dotted vertical line marked on the x axis; each op is a point
    labelled with its short name where there is room, else with its id (``1``-``9``,
    ``a``-``z``) and a numbered legend line below the chart. Points above the roof are red
    and suffixed ``!``; ``highlight`` (a path, group key or label) is drawn reversed and
    labelled first. Ops taking less than ``min_share`` of the costed time are left to the
    table (the legend says how many). Ids match :func:`roofline_table`.
    """
    width, height = int(width), int(height)
    if width < 24 or height < 8 or not (peaks.gflops > 0 and peaks.gbps > 0):
        msg = "roofline: too small" if width < 24 or height < 8 else "roofline: no peaks"
        return Text(msg[: max(0, width)], no_wrap=True, overflow="crop", end="")
    hl = find_point(points, highlight)
    # ops taking under ``min_share`` of the costed time stay in the table only
    total_ms = sum(p.time_ms for p in points)
    shown = [p for p in points if p is hl or p.time_ms >= min_share * total_ms]
    small = len(points) - len(shown)
    S = {
        k: v if isinstance(v, Style) else Style.parse(v)
        for k, v in {**DEFAULT_STYLES, **(styles or {})}.items()
    }
    cap = max(0, (height - 4) // 3)
    # lay out with no legend first, then with as many legend rows as the last layout
    # needed (a shorter plot can move labels); keep the fewest rows that fit
    tried: dict[int, tuple[Text, int]] = {}
    legend_rows = 0
    for _ in range(6):
        tried[legend_rows] = _render(shown, peaks, width, height, hl, title, legend_rows, S, small)
        nxt = min(cap, tried[legend_rows][1])
        if nxt in tried:
            break
        legend_rows = nxt
    fits = [rows for rows, (_, need) in tried.items() if need <= rows]
    return tried[min(fits) if fits else max(tried)][0]


def _render(
    points: Sequence[RooflinePoint],
    peaks: MachinePeaks,
    width: int,
    height: int,
    hl: RooflinePoint | None,
    title: bool,
    legend_rows: int,
    S: dict[str, Style],
    small: int = 0,
) -> tuple[Text, int]:
    pi, beta, ridge = peaks.gflops, peaks.gbps, peaks.ridge
    plot_pts = [p for p in points if p.plottable]
    xs = [p.intensity for p in plot_pts] + [ridge]
    xlo, xhi = _decades(min(xs) / 3, max(xs) * 3, 2)
    ys = [p.gflops for p in plot_pts] + [pi, min(pi, beta * ridge / 10)]
    ylo, yhi = _decades(min(ys) / 2, max(max(ys), pi) * 1.6, 2)

    top = 1 if title else 0
    plot_rows = height - top - 2 - legend_rows
    ylab_w = max(len(_tick_label(e)) for e in range(ylo, yhi + 1)) + 1
    plot_cols = width - ylab_w
    grid = _Grid(width, height)
    canvas = _Braille(plot_cols, plot_rows)
    wpx, hpx = canvas.wpx, canvas.hpx

    def px_x(v: float) -> int:
        return round((math.log10(v) - xlo) / (xhi - xlo) * (wpx - 1))

    def px_y(v: float) -> int:
        return round((hpx - 1) - (math.log10(v) - ylo) / (yhi - ylo) * (hpx - 1))

    # roof: the slope beta*I up to the ridge, then the ceiling pi
    prev: int | None = None
    for px in range(wpx):
        intensity = 10 ** (xlo + px / (wpx - 1) * (xhi - xlo))
        perf = min(pi, beta * intensity)
        py = px_y(perf)
        if py >= hpx:
            prev = None
            continue
        py = max(py, 0)
        if prev is not None and abs(prev - py) > 1:
            canvas.vline(px, prev + (1 if py > prev else -1), py)
        canvas.dot(px, py)
        prev = py
    ridge_px = px_x(ridge)
    ceiling_py = max(0, px_y(pi))
    canvas.vline(ridge_px, ceiling_py + 2, hpx - 1, step=2)

    ox, oy = ylab_w, top  # plot origin in cells
    for y in range(plot_rows):
        for x in range(plot_cols):
            b = int(canvas.bits[y, x])
            if b:
                grid.put(ox + x, oy + y, chr(0x2800 + b), S["roof"])

    # axes
    ytick_rows = {}
    for e in range(ylo, yhi + 1):
        row = px_y(10.0**e) // 4
        if 0 <= row < plot_rows:
            ytick_rows[row] = e
    for y in range(plot_rows):
        if y in ytick_rows:
            lab = _tick_label(ytick_rows[y])
            grid.put(0, oy + y, lab.rjust(ylab_w - 1) + "┤", S["axis"], take=True)
        else:
            grid.put(ylab_w - 1, oy + y, "│", S["axis"], take=True)
    axis_y = oy + plot_rows
    grid.put(ylab_w - 1, axis_y, "└" + "─" * plot_cols, S["axis"], take=True)
    label_y = axis_y + 1
    last_end = -1
    for e in range(xlo, xhi + 1):
        col = px_x(10.0**e) // 2
        if not 0 <= col < plot_cols:
            continue
        grid.put(ox + col, axis_y, "┬", S["axis"])
        lab = _tick_label(e)
        start = max(0, min(width - len(lab), ox + col - len(lab) // 2))
        if start > last_end:
            grid.put(start, label_y, lab, S["axis"], take=True)
            last_end = start + len(lab)
    rcol = ridge_px // 2
    grid.put(ox + rcol, axis_y, "▲", S["ridge"])
    unit = "FLOP/B"
    if width - len(unit) > last_end:
        grid.put(width - len(unit), label_y, unit, S["axis"], take=True)
    if title:
        t = f"GFLOP/s  pi {fmt_num(pi)}  beta {fmt_num(beta)} GB/s  ridge ▲ {fmt_num(ridge)} FLOP/B"
        grid.put(0, 0, t[:width], S["title"], take=True)

    # points: markers first (largest time first, the highlighted one before all)
    order = sorted(plot_pts, key=lambda p: (p is not hl, p.id))
    cell_owner: dict[tuple[int, int], RooflinePoint] = {}
    hidden: dict[int, RooflinePoint] = {}
    for p in order:
        cx = ox + min(plot_cols - 1, max(0, px_x(p.intensity) // 2))
        cy = oy + min(plot_rows - 1, max(0, px_y(p.gflops) // 4))
        if (cx, cy) in cell_owner:
            hidden[p.id] = cell_owner[(cx, cy)]
            continue
        cell_owner[(cx, cy)] = p
        grid.put(cx, cy, "●", _point_style(p, hl, S), take=True)
    legend: list[tuple[str, Style]] = []  # (text, style)
    x_max = width
    for p in order:
        if p.id in hidden:
            continue
        (cx, cy) = next(k for k, v in cell_owner.items() if v is p)
        under = [q for q in order if hidden.get(q.id) is p]
        lab = p.label + ("!" if p.above_roof else "") + (f" +{len(under)}" if under else "")
        style = _point_style(p, hl, S)
        placed = False
        for x0 in (cx + 2, cx - 1 - len(lab), cx + 1, cx - len(lab)):
            if x0 >= ox and x0 + len(lab) <= x_max and grid.free(x0, cy, len(lab)):
                gap = range(cx + 1, x0) if x0 > cx else range(x0 + len(lab), cx)
                if all(not grid.taken[cy][g] for g in gap):
                    for g in gap:
                        grid.put(g, cy, " ", "", take=True)
                    grid.put(x0, cy, lab, style, take=True)
                    placed = True
                    break
        if not placed:
            grid.put(cx, cy, p.marker, style, take=True)
            legend.append((f"{p.marker} {lab}", style))
        if under:
            where = p.label if placed else p.marker
            legend.append((f"+{len(under)} at {where}:", S["axis"]))
            for q in under:
                legend.append(
                    (f"{q.marker} {q.label}{'!' if q.above_roof else ''}", _point_style(q, hl, S))
                )
    for p in points:
        if not p.plottable:
            why = "no FLOPs" if p.flops == 0 else ("no bytes" if p.nbytes == 0 else "no time")
            legend.append((f"{p.marker} {p.label} ({why}, off chart)", _point_style(p, hl, S)))

    # roof annotations where free
    ceil_row = oy + ceiling_py // 4
    lab = f"pi {fmt_num(pi)} GFLOP/s"
    x0 = width - len(lab) - 1
    for yy in (ceil_row + 1, ceil_row - 1):
        if oy <= yy < oy + plot_rows and x0 > ox + rcol and grid.free(x0, yy, len(lab)):
            grid.put(x0, yy, lab, S["roof"], take=True)
            break
    lab = f"beta {fmt_num(beta)} GB/s"
    for row in range(plot_rows):
        py = row * 4 + 2
        perf = 10 ** (ylo + ((hpx - 1) - py) / (hpx - 1) * (yhi - ylo))
        col = px_x(perf / beta) // 2
        if perf < pi * 0.5 and 0 <= col < rcol:
            x0 = ox + col - len(lab) - 2
            if row >= plot_rows // 3 and x0 > ox and grid.free(x0, oy + row, len(lab)):
                grid.put(x0, oy + row, lab, S["roof"], take=True)
                break

    if small:
        legend.append((f"+{small} op(s) under 1% of the time: table only", S["axis"]))
    # legend rows: entries flow left to right, wrapped at the width
    lines: list[list[tuple[str, Style]]] = [[]]
    used = 0
    for entry, style in legend:
        entry = entry if len(entry) <= width else entry[: width - 1] + "…"
        need = len(entry) + (3 if lines[-1] else 0)
        if lines[-1] and used + need > width:
            lines.append([])
            used, need = 0, len(entry)
        lines[-1].append((entry, style))
        used += need
    if not lines[-1]:
        lines.pop()
    overflow = len(lines) > legend_rows
    for r, line in enumerate(lines[:legend_rows]):
        if overflow and r == legend_rows - 1:
            hidden_n = sum(len(li) for li in lines[r:])
            line = [(f"+{hidden_n} more in the table", S["axis"])]
        x = 0
        for entry, style in line:
            grid.put(x, label_y + 1 + r, entry, style)
            x += len(entry) + 3
    return grid.to_text(), len(lines)


def _point_style(p: RooflinePoint, hl: RooflinePoint | None, S: dict[str, Style]) -> Style:
    base = S["above"] if p.above_roof else (S["memory"] if p.bound == "memory" else S["compute"])
    if hl is not None and p is hl:
        return base + Style(reverse=True, bold=True)
    return base


# =========================================================================== table

TABLE_COLUMNS = (
    "#",
    "op",
    "calls",
    "time ms",
    "GFLOP",
    "MB",
    "FLOP/B",
    "GFLOP/s",
    "GB/s",
    "roof GFLOP/s",
    "% roof",
    "bound",
    "note",
)


def roofline_rows(points: Sequence[RooflinePoint]) -> list[tuple[str, ...]]:
    """The table as strings, one tuple per point, in :data:`TABLE_COLUMNS` order."""
    out = []
    for p in points:
        out.append(
            (
                p.marker,
                p.key,
                str(p.calls),
                fmt_num(p.time_ms),
                fmt_num(p.flops / 1e9),
                fmt_num(p.nbytes / 1e6),
                fmt_num(p.intensity),
                fmt_num(p.gflops),
                fmt_num(p.gbps),
                fmt_num(p.attainable) if p.flops else "-",
                f"{p.roof_share * 100:.0f}%",
                p.bound,
                ("! " if p.above_roof else "") + p.note,
            )
        )
    return out


def roofline_table(
    points: Sequence[RooflinePoint], highlight: str | None = None, *, notes: bool = False
) -> Table:
    """A rich Table of the same numbers the chart draws (ids match the chart's markers).

    Points above the roof are red with ``!`` after their bound; ``notes`` adds the note
    column (long: the text report lists the notes below the table instead).
    """
    hl = find_point(points, highlight)
    t = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    cols = TABLE_COLUMNS if notes else TABLE_COLUMNS[:-1]
    for c in cols:
        left = c in ("#", "op", "bound", "note")
        t.add_column(
            "roof" if c == "roof GFLOP/s" else c,
            justify="left" if left else "right",
            no_wrap=c not in ("op", "note"),
            overflow="fold",
            min_width=12 if c == "op" else None,
        )
    for p, row in zip(points, roofline_rows(points), strict=True):
        style = STYLE_ABOVE if p.above_roof else None
        if hl is p:
            style = STYLE_HIGHLIGHT
        cells = list(row[: len(cols)])
        if p.above_roof:
            cells[11] += " !"
        t.add_row(*cells, style=style)
    return t


def peaks_report(peaks: MachinePeaks, width: int = 100) -> str:
    """The machine peaks as text (``zlprof roofline`` without a recording)."""
    import textwrap

    lines = textwrap.wrap(f"Machine peaks: {peaks.describe()}", width, subsequent_indent="  ")
    detail = []
    if peaks.copy_gbps == peaks.copy_gbps:
        sp = peaks.spread
        detail += [
            f"copy {fmt_num(peaks.copy_gbps)} GB/s (2 arrays counted; spread over "
            f"{peaks.reps} reps {sp.get('copy', 0):.1%})",
            f"triad {fmt_num(peaks.triad_gbps)} GB/s (3 arrays counted; NumPy's two passes "
            f"move 5: {fmt_num(peaks.triad_moved_gbps)} GB/s; spread {sp.get('triad', 0):.1%})",
            f"GEMM fp32 n={peaks.gemm_n}: {fmt_num(peaks.gemm_gflops)} GFLOP/s (spread "
            f"{sp.get('gemm', 0):.1%})",
            f"STREAM arrays {peaks.array_mb:.0f} MiB each (last-level cache "
            f"{fmt_bytes(peaks.llc_bytes)}), {peaks.stream_threads} thread(s)",
        ]
    detail += [
        f"{peaks.blas or 'BLAS ?'}, {peaks.blas_threads} BLAS thread(s), NumPy "
        f"{peaks.numpy_version}; {peaks.cpu or 'CPU ?'} on {peaks.hostname or '?'}",
        f"cache: {peaks_cache_path()}",
    ]
    if peaks.busy:
        detail.append(
            f"the machine was busy when measured ({max(peaks.cpu_busy, 0):.0%} of the CPU "
            f"time in use, load {peaks.loadavg:.1f} on {peaks.cpus} CPUs): recalibrate when "
            "it is idle"
        )
    for d in detail:
        lines.extend(textwrap.wrap(d, width, initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines) + "\n"


def roofline_text_report(
    state: Any, peaks: MachinePeaks, width: int = 100, height: int | None = None
) -> str:
    """The chart and the table as plain text, for ``zlprof roofline PATH``."""
    import io

    from rich.console import Console

    width = max(40, int(width))
    rows = state.op_rows()
    points = place(rows, peaks)
    import textwrap

    head = [f"Roofline: {peaks.describe()}"]
    if peaks.copy_gbps == peaks.copy_gbps and "gbps" not in peaks.overridden:
        head.append(
            f"copy {fmt_num(peaks.copy_gbps)} GB/s, triad {fmt_num(peaks.triad_gbps)} GB/s "
            f"(STREAM counting: copy 2, triad 3 arrays), GEMM fp32 {fmt_num(peaks.gemm_gflops)}"
            f" GFLOP/s; {peaks.blas or 'BLAS ?'}, NumPy {peaks.numpy_version}"
        )
    lines: list[str] = []
    for i, h in enumerate(head):
        lines.extend(
            textwrap.wrap(h, width, initial_indent="" if i == 0 else "  ", subsequent_indent="  ")
        )
    uncosted = [r for r in rows if r.flops == 0 and r.nbytes == 0]
    if not points:
        lines.append("")
        lines.extend(
            textwrap.wrap(
                "no op costs recorded: instrumented ops report them with zlprof.cost(flops, nbytes)",
                width,
            )
        )
        return "\n".join(lines) + "\n"
    h = height or max(20, min(40, 16 + len(points) // 2))
    chart = render_roofline(points, peaks, width, h)
    lines.append("")
    lines.extend(line.rstrip() for line in chart.plain.split("\n"))
    lines.append("")
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        color_system=None,
        highlight=False,
        force_terminal=False,
        legacy_windows=False,
    )
    console.print(roofline_table(points))
    lines.extend(line.rstrip() for line in buf.getvalue().rstrip("\n").split("\n"))
    above = [p for p in points if p.above_roof]
    lines.append("")
    summary = (
        f"{len(points)} op(s) placed ({sum(p.bound == 'memory' for p in points)} memory-bound, "
        f"{sum(p.bound == 'compute' for p in points)} compute-bound); "
        f"{len(above)} above the roof; {len(uncosted)} measured op(s) without costs"
    )
    lines.extend(textwrap.wrap(summary, width, subsequent_indent="  "))
    for p in above:
        lines.extend(
            textwrap.wrap(
                f"{p.marker} {p.key}: {p.note}",
                width,
                initial_indent="  ",
                subsequent_indent="    ",
            )
        )
    return "\n".join(lines) + "\n"
