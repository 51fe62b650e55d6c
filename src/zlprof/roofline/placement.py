"""Placement: each op's intensity, the memory level it streams from, its roof and bound.

An op is placed against the roof of the level its data come from. The level is chosen
from the op's *reuse distance*: the bytes touched between two of its own calls. For an op
inside a repeating block (decode's ``forward_pass``: each layer's mat-vec runs once per
token) that is everything the block streams per call (the outermost ancestor called more
than once); for an op that repeats inside a block run once (rmsnorm, twice a layer in
prefill), its parent's bytes per call (an upper bound); for an op called once, its own
bytes per call. The level is the smallest whose capacity (private caches added up over the BLAS threads, a shared
cache once) holds the reuse distance; past the last cache, DRAM. Only an op above the
roof of *its own* level is flagged as a counting error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import fmt
from ..naming import layer_key
from ..textwidth import cell_len
from .numbers import fmt_num
from .peaks import DRAM, MachinePeaks

#: A point counts as above the roof when it exceeds the attainable value by this factor:
#: calibrated roofs vary by about 10 % between runs on a shared machine (the spread the
#: peaks report shows), while a counting error is off by a factor (192-546 % was seen).
ABOVE_ROOF_TOLERANCE = 0.15


@dataclass
class RooflinePoint:
    """One operation (or a group of same-named ops) against the roof of its level."""

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
    attainable: float  # min(pi, beta_level I), GFLOP/s
    roof_share: float  # achieved / attainable (GB/s / beta_level when there are no FLOPs)
    bound: str  # "memory" | "compute"
    above_roof: bool
    note: str = ""
    level: str = DRAM  # the memory level the op streams from
    level_gbps: float = 0.0  # that level's roof
    reuse_bytes: float = 0.0  # bytes touched between two of its calls
    level_reason: str = ""  # why that level (reuse distance vs capacity)
    loop: str = ""  # the block the reuse distance was taken from ("" none: own bytes)
    in_loop: bool = False  # inside a repeating block (decode's forward_pass)

    @property
    def marker(self) -> str:
        return id_char(self.id)

    @property
    def bytes_per_call(self) -> float:
        return self.nbytes / self.cost_calls if self.cost_calls else 0.0

    @property
    def plottable(self) -> bool:
        return 0 < self.intensity < math.inf and self.gflops > 0


def choose_level(reuse_bytes: float, peaks: MachinePeaks) -> tuple[str, str]:
    """(level, why) for an op touching ``reuse_bytes`` between two of its calls: the
    smallest level whose capacity holds it, else DRAM."""
    roofs = peaks.roofs()
    caches = [lv for lv in roofs if lv.name != DRAM]
    if not caches:
        return DRAM, "no cache levels measured"
    if reuse_bytes <= 0:
        return DRAM, "reuse distance unknown"
    for lv in caches:
        if reuse_bytes <= lv.capacity_bytes:
            return (
                lv.name,
                f"reuse {fmt.nbytes(reuse_bytes)} <= {lv.name} {fmt.nbytes(lv.capacity_bytes)}",
            )
    last = caches[-1]
    return DRAM, f"reuse {fmt.nbytes(reuse_bytes)} > {last.name} {fmt.nbytes(last.capacity_bytes)}"


def loop_of(path: str, by_path: dict[str, Any]) -> str:
    """The outermost ancestor of ``path`` (or ``path`` itself) called more than once:
    the block whose calls separate two calls of the op ("" when none repeats)."""
    parts = path.split("/")
    for k in range(1, len(parts) + 1):
        anc = "/".join(parts[:k])
        r = by_path.get(anc)
        if r is not None and r.stats.count > 1:
            return anc
    return ""


def loop_bytes(
    block: str, costed: Sequence[Any], by_path: dict[str, Any], what: str = "nbytes"
) -> float:
    """Bytes (``what="flops"``: FLOPs) the costed ops inside ``block`` (and the block
    itself) move per call of it."""
    r = by_path.get(block)
    if r is None or r.stats.count <= 0:
        return 0.0
    pre = block + "/"
    total = sum(getattr(c, what) for c in costed if c.full == block or c.full.startswith(pre))
    return total / r.stats.count


def group_key(path: str) -> str:
    """The roofline point a path belongs to: its layer numbers taken out
    (:func:`zlprof.naming.layer_key`: ``forward_pass/layer3/mlp.down`` ->
    ``forward_pass/layer*/mlp.down``), so all layers' mat-vecs form one point."""
    return layer_key(path)


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
    """Place every op with costs against the roof of its level; sorted by time (largest first).

    ``rows``: :class:`~zlprof.session.OpRow` s from ``state.op_rows()`` (whole session:
    costs are session totals, so do not pass windowed rows). With ``group`` ops that differ
    only by a layer number are summed into one point (:func:`group_key`). Time is the op's
    total (inclusive) time, or its self time when a descendant also carries costs. The
    level comes from the reuse distance (:func:`choose_level`; a group takes its largest
    member's). A point achieving more than ``(1 + tolerance)`` times the attainable value
    of its level is flagged ``above_roof`` with a note.
    """
    all_rows = list(rows)
    by_path = {r.full: r for r in all_rows}
    rows = [r for r in all_rows if (r.flops > 0 or r.nbytes > 0)]
    # blocks with a costed descendant: their own costs are timed by their self time
    has_costed_desc = {
        "/".join(r.full.split("/")[:k]) for r in rows for k in range(1, r.full.count("/") + 1)
    }
    loop_cache: dict[str, float] = {}
    acc: dict[str, dict[str, Any]] = {}
    for r in rows:
        t_ms = r.self_ms if r.full in has_costed_desc else r.stats.total_ms
        key = group_key(r.full) if group else r.full
        a = acc.setdefault(
            key,
            {
                "paths": [],
                "calls": 0,
                "cost_calls": 0,
                "flops": 0,
                "nbytes": 0,
                "ms": 0.0,
                "reuse": 0.0,
                "loop": "",
            },
        )
        loop = loop_of(r.full, by_path)
        own = r.nbytes / r.cost_calls if r.cost_calls else 0.0
        in_loop = bool(loop) and loop != r.full
        parent = r.full.rsplit("/", 1)[0] if "/" in r.full else ""
        if loop == r.full and parent in by_path:
            # the op repeats but no block around it does (rmsnorm twice a layer): what
            # runs between two of its calls is bounded by its parent's bytes per call
            loop = parent
        if loop and loop != r.full:
            if loop not in loop_cache:
                loop_cache[loop] = loop_bytes(loop, rows, by_path)
            reuse = max(own, loop_cache[loop])
        else:
            reuse, loop = own, ""
        if reuse >= a["reuse"]:
            a["reuse"], a["loop"] = reuse, loop
        a["in_loop"] = a.get("in_loop", False) or in_loop
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
        level, why = choose_level(a["reuse"], peaks)
        if why.startswith("reuse"):
            why += f" (per {a['loop'].rsplit('/', 1)[-1]} call)" if a["loop"] else " (own bytes)"
        roof = peaks.roof(level)
        s = ms / 1e3
        intensity = flops / nbytes if nbytes else (math.inf if flops else 0.0)
        gflops = flops / s / 1e9 if s > 0 else 0.0
        gbps = nbytes / s / 1e9 if s > 0 else 0.0
        attainable = peaks.attainable(intensity, level) if flops else 0.0
        if flops and attainable > 0:
            share = gflops / attainable
        else:
            share = gbps / roof if roof > 0 else 0.0
        bound = "memory" if intensity < peaks.ridge_of(level) else "compute"
        above = s > 0 and share > 1.0 + tolerance
        note = ""
        if above:
            note = _above_note(share, bound, level, a["reuse"], peaks)
        elif s <= 0:
            note = "no time measured"
        elif not flops:
            note = f"no FLOPs (pure data movement): off the chart, GB/s vs the {level} roof"
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
                level=level,
                level_gbps=roof,
                reuse_bytes=a["reuse"],
                level_reason=why,
                loop=a["loop"],
                in_loop=a.get("in_loop", False),
            )
        )
    return points


def _above_note(share: float, bound: str, level: str, reuse: float, peaks: MachinePeaks) -> str:
    head = f"ABOVE ITS {level} ROOF ({share:.0%} of attainable): counting error?"
    no_levels = all(lv.name == DRAM for lv in peaks.roofs())
    if bound == "memory" and no_levels and peaks.llc_bytes and 0 < reuse <= peaks.llc_bytes:
        return (
            f"{head} bytes under-counted, or the {fmt.nbytes(reuse)} it touches per call stay "
            f"in the {fmt.nbytes(peaks.llc_bytes)} cache: these peaks have no cache roofs "
            "(run `zlprof roofline --calibrate`)"
        )
    if bound == "memory":
        return f"{head} bytes under-counted, the data sit in a smaller level, or beta stale (recalibrate)"
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


@dataclass(frozen=True)
class StreamSummary:
    """The repeating block's achieved bandwidth against the roof of its level (the
    headline: "forward_pass streams 0.43 GB per call at 24 GB/s = 78 % of DRAM")."""

    block: str
    calls: int
    bytes_per_call: float
    ms_per_call: float
    gbps: float
    level: str
    level_gbps: float
    level_reason: str
    flops_per_call: float = 0.0

    @property
    def share(self) -> float:
        return self.gbps / self.level_gbps if self.level_gbps > 0 else 0.0

    def text(self) -> str:
        return self.variants()[0]

    def variants(self) -> list[str]:
        """The headline, longest first: the same facts with fewer words each time."""
        name = self.block.rsplit("/", 1)[-1]
        size, gbps = _decimal_bytes(self.bytes_per_call), fmt_num(self.gbps)
        share = f"{self.share:.0%} of {self.level}"
        return [
            f"{name} streams {size} per call at {gbps} GB/s = {share} bandwidth "
            f"({fmt_num(self.level_gbps)} GB/s; {self.level_reason})",
            f"{name} streams {size} per call at {gbps} GB/s = {share} bandwidth "
            f"({fmt_num(self.level_gbps)} GB/s)",
            f"{name} streams {size}/call at {gbps} GB/s = {share} roof",
            f"{name}: {size}/call, {gbps} GB/s = {share}",
        ]

    def fit(self, width: int) -> str:
        """The longest headline variant that fits ``width`` cells (the shortest when none)."""
        options = self.variants()
        return next((v for v in options if cell_len(v) <= width), options[-1])


def stream_summary(rows: Iterable[Any], peaks: MachinePeaks) -> StreamSummary | None:
    """The outermost repeating block with costed ops inside (the one taking most time),
    its bytes and time per call and the level its reuse distance puts it at; None
    when no repeating block carries costs."""
    all_rows = list(rows)
    by_path = {r.full: r for r in all_rows}
    costed = [r for r in all_rows if r.nbytes > 0]
    blocks = {loop_of(r.full, by_path) for r in costed} - {""}
    best: StreamSummary | None = None
    for b in blocks:
        r = by_path[b]
        per_call = loop_bytes(b, costed, by_path)
        ms = r.stats.total_ms / r.stats.count
        if per_call <= 0 or ms <= 0:
            continue
        level, why = choose_level(per_call, peaks)
        s = StreamSummary(
            b,
            r.stats.count,
            per_call,
            ms,
            per_call / ms / 1e6,
            level,
            peaks.roof(level),
            why,
            loop_bytes(b, costed, by_path, "flops"),
        )
        if best is None or r.stats.total_ms > best.ms_per_call * best.calls:
            best = s
    return best


def _decimal_bytes(n: float) -> str:
    """Bytes in decimal units, as bandwidths are (GB/s): ``0.447 GB``, ``20.5 MB``."""
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= 0.1 * div:
            return f"{fmt_num(n / div)} {unit}"
    return f"{n:.0f} B"


def roof_finding(rows: Iterable[Any], peaks: MachinePeaks) -> Any:
    """What the roofline says about the repeating block (decode's forward pass), as the
    app's and the report's headline takes it (:class:`zlprof.headline.RoofFinding`):
    memory-bound at a share of its level's roof, or compute-bound at a share of pi; None
    when no repeating block carries costs."""
    from ..headline import RoofFinding

    s = stream_summary(rows, peaks)
    if s is None:
        return None
    intensity = s.flops_per_call / s.bytes_per_call if s.bytes_per_call else 0.0
    if intensity >= peaks.ridge_of(s.level):
        gflops = s.flops_per_call / s.ms_per_call / 1e6
        return RoofFinding("compute", gflops / peaks.gflops, "compute")
    return RoofFinding("memory", s.share, s.level)
