"""The machine's cache description: which data caches exist, how large, shared by whom.

Linux describes them under ``/sys/devices/system/cpu/cpu*/cache/index*/`` (``level``,
``type``, ``size``, ``shared_cpu_list``). :func:`parse_cache_tree` reads such a tree (any
root, so tests pass sample trees); instruction caches are skipped, and a cache shared by
several CPUs is counted once. Where there is no such tree (macOS, Windows, containers
hiding sysfs) :func:`machine_caches` falls back to :data:`FALLBACK_CACHES` and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SYSFS_CPU = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class CacheLevel:
    """One level of data (or unified) cache."""

    level: int  # 1, 2, 3, ...
    size_bytes: int  # one instance's size
    instances: int  # how many separate caches of this level the machine has
    cpus_per_instance: int  # CPUs sharing one instance

    @property
    def name(self) -> str:
        return f"L{self.level}"

    def capacity(self, threads: int) -> int:
        """Bytes ``threads`` threads splitting one working set can keep in this level:
        private levels add up over the cores used, a shared level is one cache."""
        if self.instances > 1:
            return self.size_bytes * max(1, min(threads, self.instances))
        return self.size_bytes


@dataclass(frozen=True)
class CacheDescription:
    levels: tuple[CacheLevel, ...]
    source: str  # "sysfs" | "fallback"

    def level(self, n: int) -> CacheLevel | None:
        return next((c for c in self.levels if c.level == n), None)

    @property
    def last_level_bytes(self) -> int:
        return max((c.size_bytes for c in self.levels), default=0)


#: Assumed where the machine does not describe its caches (a common desktop x86 core).
FALLBACK_CACHES = CacheDescription(
    (CacheLevel(1, 32 << 10, 1, 1), CacheLevel(2, 1 << 20, 1, 1), CacheLevel(3, 8 << 20, 1, 1)),
    "fallback",
)

_SIZE = re.compile(r"(\d+)\s*([KMG]?)B?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"32K"`` -> 32768 (sysfs spells sizes as a number and an optional K/M/G)."""
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a cache size: {text!r}")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    return int(m.group(1)) * mult


def parse_cpu_list(text: str) -> frozenset[int]:
    """``"0-3,8"`` -> {0, 1, 2, 3, 8}."""
    out: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(out)


def parse_cache_tree(root: Path | str = SYSFS_CPU) -> CacheDescription | None:
    """The data caches described under ``root`` (``cpu*/cache/index*``), or None when
    the tree holds no usable description."""
    root = Path(root)
    found: dict[int, dict[frozenset[int], int]] = {}  # level -> {sharing cpus: size}
    try:
        cpus = sorted(p for p in root.glob("cpu[0-9]*") if p.is_dir())
    except OSError:
        return None
    for cpu in cpus:
        cpu_id = int(cpu.name[3:])
        for idx in sorted((cpu / "cache").glob("index*")):
            try:
                kind = (idx / "type").read_text().strip()
                if kind not in ("Data", "Unified"):
                    continue
                level = int((idx / "level").read_text().strip())
                size = parse_size((idx / "size").read_text())
            except (OSError, ValueError):
                continue
            try:
                shared = parse_cpu_list((idx / "shared_cpu_list").read_text())
            except (OSError, ValueError):
                shared = frozenset({cpu_id})
            found.setdefault(level, {})[shared or frozenset({cpu_id})] = size
    if not found:
        return None
    levels = []
    for level in sorted(found):
        inst = found[level]
        size = max(inst.values())
        per = max(len(s) for s in inst)
        levels.append(CacheLevel(level, size, len(inst), per))
    return CacheDescription(tuple(levels), "sysfs")


def machine_caches(root: Path | str = SYSFS_CPU) -> CacheDescription:
    """This machine's caches (sysfs), else :data:`FALLBACK_CACHES`."""
    return parse_cache_tree(root) or FALLBACK_CACHES
