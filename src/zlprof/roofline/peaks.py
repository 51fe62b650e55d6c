"""Machine peaks: compute (pi), the bandwidth of every memory level, the cached peaks file.

The roofline (Williams, Waterman & Patterson, 2009) bounds an op of arithmetic intensity
I (FLOP/byte) at ``min(pi, beta I)`` GFLOP/s. The *cache-aware* roofline (Ilic, Pratas &
Sousa, 2014; Intel Advisor's CARM) has one beta per memory level: an op whose data stay in
L3 between two of its calls is held against the L3 roof, not DRAM's.

:class:`MachinePeaks` keeps pi, the DRAM beta (``gbps``, the classic single roof) and one
:class:`MemoryLevel` per level (L1, L2, L3, DRAM) with its capacity and its read
(mat-vec pattern), copy and triad bandwidths. How they are measured: ``calibration.py``.

Peaks are cached as JSON in ``$XDG_CACHE_HOME/zlprof/peaks.json`` (else
``~/.cache/zlprof/peaks.json``), one entry per machine key (hostname, CPU model, NumPy
version, BLAS threads). Schema 2 keeps every level; a schema-1 file (DRAM only) is read
and upgraded to a DRAM-only roof with :attr:`MachinePeaks.stale_note` saying to
recalibrate.
"""

from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import fmt
from .caches import machine_caches
from .numbers import fmt_num

CACHE_SCHEMA = 2
#: cache files of these schemas are read (older ones are upgraded, with a note)
READABLE_SCHEMAS = (1, 2)
DRAM = "DRAM"


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
    """The largest CPU cache (bytes) as the machine describes it, or 0 if unknown."""
    caches = machine_caches()
    return caches.last_level_bytes if caches.source == "sysfs" else 0


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
class MemoryLevel:
    """One memory level's roof: where data live and how fast a thread team reads them."""

    name: str  # "L1" | "L2" | "L3" | "DRAM"
    capacity_bytes: int  # what the BLAS thread team can keep there (0: unbounded, DRAM)
    size_bytes: int = 0  # one cache instance (sysfs); 0 for DRAM
    read_gbps: float = math.nan  # read-dominated (the mat-vec pattern)
    copy_gbps: float = math.nan  # STREAM copy (2 arrays counted)
    triad_gbps: float = math.nan  # STREAM triad (3 arrays counted)
    working_set_bytes: int = 0  # bytes the kernels touched to measure it
    #: the roof (GB/s): the read bandwidth, never below the next (larger) level's roof
    roof_gbps: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MemoryLevel:
        names = {f.name for f in fields(cls)}
        lv = cls(**{k: v for k, v in d.items() if k in names})
        if not lv.roof_gbps > 0:
            raise ValueError(f"level {lv.name} lacks a positive roof")
        return lv


@dataclass
class MachinePeaks:
    """Peak compute (pi), per-level bandwidths (beta) of this machine, and their origin."""

    gflops: float
    gbps: float  # the DRAM roof (the classic single-roof beta)
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
    #: the memory levels, smallest first, DRAM last (empty: DRAM only, from ``gbps``)
    levels: list[MemoryLevel] = field(default_factory=list)
    #: where the cache sizes came from: "sysfs" | "fallback" | "" (unknown)
    caches_source: str = ""
    #: set when the peaks came from an older cache file (say so, suggest recalibrating)
    stale_note: str = ""

    @property
    def busy(self) -> bool:
        """Other work kept the machine busy when calibration began: >= 25 % of the CPU
        time in use (or, where that is unknown, a load average >= 3/4 of the CPUs)."""
        if self.cpu_busy >= 0:
            return self.cpu_busy >= 0.25
        return self.cpus > 0 and self.loadavg >= max(1.0, 0.75 * self.cpus)

    @property
    def ridge(self) -> float:
        """The DRAM ridge point pi / beta in FLOP/byte."""
        return self.gflops / self.gbps if self.gbps > 0 else math.inf

    @property
    def triad_moved_gbps(self) -> float:
        """Triad bandwidth counting the 5 passes NumPy's two-step triad really makes."""
        return self.triad_gbps * 5.0 / 3.0

    @property
    def beta_kernel(self) -> str:
        """Which measurement the DRAM roof is: "read", "copy", "triad" or "override"."""
        if "gbps" in self.overridden:
            return "override"
        dram = self.level(DRAM)
        if dram is not None and dram.read_gbps == self.gbps:
            return "read"
        if math.isnan(self.triad_gbps) or self.copy_gbps >= self.triad_gbps:
            return "copy"
        return "triad"

    def roofs(self) -> list[MemoryLevel]:
        """Every memory level with a roof, smallest first, DRAM (always present) last.
        DRAM's roof is ``gbps`` (so an override of beta moves it)."""
        caches = [lv for lv in self.levels if lv.name != DRAM and lv.roof_gbps > 0]
        dram = self.level(DRAM) or MemoryLevel(DRAM, 0)
        dram = MemoryLevel(**{**dram.to_dict(), "roof_gbps": self.gbps})
        # a cache level serves data at least as fast as the level below it
        out = [dram]
        for lv in reversed(caches):
            out.append(
                MemoryLevel(**{**lv.to_dict(), "roof_gbps": max(lv.roof_gbps, out[-1].roof_gbps)})
            )
        return list(reversed(out))

    def level(self, name: str) -> MemoryLevel | None:
        return next((lv for lv in self.levels if lv.name == name), None)

    def roof(self, name: str = DRAM) -> float:
        """The roof (GB/s) of the level ``name`` (DRAM when the level is unknown)."""
        for lv in self.roofs():
            if lv.name == name:
                return lv.roof_gbps
        return self.gbps

    def attainable(self, intensity: float, level: str = DRAM) -> float:
        """min(pi, beta_level I) in GFLOP/s."""
        if intensity <= 0:
            return 0.0
        return min(self.gflops, self.roof(level) * intensity)

    def ridge_of(self, level: str = DRAM) -> float:
        r = self.roof(level)
        return self.gflops / r if r > 0 else math.inf

    def describe(self) -> str:
        """One line for headers: the peaks, where they come from, the ridge."""
        pi_src = "override" if "gflops" in self.overridden else "fp32 GEMM"
        threads = f", {self.blas_threads} BLAS threads" if self.blas_threads else ""
        when = f" {self.date[:10]}" if self.date else ""
        busy = " (machine was busy: may read low)" if self.busy else ""
        caches = [lv for lv in self.roofs() if lv.name != DRAM]
        levels = ""
        if caches:
            levels = (
                " | " + " ".join(f"{lv.name} {fmt_num(lv.roof_gbps)}" for lv in caches) + " GB/s"
            )
        return (
            f"pi {fmt_num(self.gflops)} GFLOP/s ({pi_src}{threads}) | "
            f"DRAM beta {fmt_num(self.gbps)} GB/s ({self.beta_kernel}){levels} | "
            f"ridge {fmt_num(self.ridge)} FLOP/B | {self.source}{when}{busy}"
        )

    def levels_text(self) -> list[str]:
        """One line per level: capacity, read / copy / triad bandwidths, the roof."""
        out = []
        for lv in self.roofs():
            cap = "unbounded" if lv.name == DRAM else fmt.nbytes(lv.capacity_bytes)
            raw = [
                f"{k} {fmt_num(v)}"
                for k, v in (
                    ("read", lv.read_gbps),
                    ("copy", lv.copy_gbps),
                    ("triad", lv.triad_gbps),
                )
                if v == v
            ]
            what = f"{', '.join(raw)} GB/s; " if raw else ""
            ws = f"working set {fmt.nbytes(lv.working_set_bytes)}; " if lv.working_set_bytes else ""
            out.append(f"{lv.name:<4} roof {fmt_num(lv.roof_gbps)} GB/s ({what}{ws}holds {cap})")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("stale_note", None)
        return d

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
        kw["levels"] = [MemoryLevel.from_dict(lv) for lv in kw.get("levels") or []]
        return cls(**kw)


# --------------------------------------------------------------------------- cache


class PeaksUnavailable(RuntimeError):
    """No cached peaks and measuring was not allowed."""


def peaks_cache_path() -> Path:
    """``$XDG_CACHE_HOME/zlprof/peaks.json``, else ``~/.cache/zlprof/peaks.json``."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "zlprof" / "peaks.json"


def _read_cache(path: Path) -> tuple[int, dict[str, Any]]:
    """(schema, machines) of a cache file; (0, {}) when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0, {}
    if not isinstance(data, dict) or data.get("schema") not in READABLE_SCHEMAS:
        return 0, {}
    machines = data.get("machines")
    return (int(data["schema"]), machines) if isinstance(machines, dict) else (0, {})


STALE_NOTE = (
    "the cached peaks predate per-level bandwidths (DRAM roof only): run "
    "`zlprof roofline --calibrate` for the L1/L2/L3 roofs"
)


def load_cached_peaks(key: str | None = None, path: Path | None = None) -> MachinePeaks | None:
    """The cached peaks of this machine (``source="cached"``), or None.

    An entry of an older schema (or without levels) is upgraded to a DRAM-only roof and
    carries :data:`STALE_NOTE` in ``stale_note``."""
    schema, machines = _read_cache(path or peaks_cache_path())
    entry = machines.get(key or machine_key())
    if not isinstance(entry, dict):
        return None
    try:
        peaks = MachinePeaks.from_dict(entry)
    except (TypeError, ValueError):
        return None
    peaks.source = "cached"
    peaks.overridden = []
    if schema < CACHE_SCHEMA or not peaks.levels:
        peaks.stale_note = STALE_NOTE
    return peaks


def save_peaks(peaks: MachinePeaks, key: str | None = None, path: Path | None = None) -> Path:
    """Store measured peaks under this machine's key (atomic replace); returns the path.
    Other machines' entries are kept (an older file is rewritten in the current schema)."""
    path = path or peaks_cache_path()
    _, machines = _read_cache(path)
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
