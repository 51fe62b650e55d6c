"""What views read from a session: the whole tree, one process or one thread (View),
op rows, process rows, per-path statistics and wall times. Computes no statistic itself
(stats.py does); folds nothing.
"""

from __future__ import annotations

from ..stats import NS_PER_MS, OpAccumulator, PerformanceStats, self_times
from .base import _StateBase
from .rows import WHOLE, OpRow, ProcessRow, ThreadRow, View


class _Views(_StateBase):
    """Read-only views of a session (a part of SessionState)."""

    # ------------------------------------------------------------------ views

    @property
    def origin_ns(self) -> int:
        """Where the session clock starts (hello start, else the first event)."""
        if self.start_ns is not None:
            return self.start_ns
        return self.first_ns or 0

    @property
    def elapsed_ns(self) -> int:
        return max(0, self.last_ns - self.origin_ns)

    @property
    def wall_ns(self) -> int:
        """The span statistics are shares of: since the reset, else the whole session."""
        start = self.reset_ns if self.reset_ns is not None else self.origin_ns
        return max(0, self.last_ns - start)

    def name_of(self, pid: int) -> str:
        p = self.paths.get(pid)
        return p.full if p else f"#{pid}"

    def path_id(self, full: str) -> int | None:
        for pid, p in self.paths.items():
            if p.full == full:
                return pid
        return None

    def children_of(self, pid: int) -> list[int]:
        return [c for c, p in self.paths.items() if p.parent == pid]

    # views: whole tree, one process, one thread ------------------------------------

    def thread_keys(self, view: View = WHOLE) -> list[tuple[int, int]]:
        """(stream, thread id) of every thread that measured, within ``view``."""
        keys = list(self.thread_ops)
        if not keys and self._single_key is not None:
            keys = [self._single_key]
        return [
            k for k in sorted(keys)
            if (view.stream is None or k[0] == view.stream)
            and (view.tid is None or k[1] == view.tid)
        ]

    def ops_for(self, view: View = WHOLE) -> dict[int, OpAccumulator]:
        """Accumulators per merged path id within ``view`` (the whole tree: ``ops``)."""
        if view.whole:
            return self.ops
        keys = self.thread_keys(view)
        if not self.thread_ops:
            return self.ops if keys else {}
        tables = [self.thread_ops[k] for k in keys]
        if len(tables) == 1:
            return tables[0]
        out: dict[int, OpAccumulator] = {}
        for pid in sorted({pid for t in tables for pid in t}):
            accs = [t[pid] for t in tables if pid in t]
            out[pid] = accs[0] if len(accs) == 1 else accs[0].merged(accs[1:])
        return out

    def costs_for(self, view: View = WHOLE) -> dict[int, list[int]]:
        """[calls, flops, bytes] per path within ``view`` (cost frames name the process,
        not the thread: a thread's view shows its process's costs)."""
        if view.whole:
            return self.costs
        return self.proc_costs.get(view.stream or 0, {}) if self.proc_costs else (
            self.costs if self.thread_keys(view) else {})

    def thread_wall_ns(self, view: View = WHOLE, window_s: float | None = None) -> int:
        """The time shares are shares of: the summed wall time of the threads that
        measured within ``view``. A thread's wall time runs from its process's start (or
        the reset) to the process's last event (the session's latest while it runs). One
        thread's blocks never overlap, so the shares of a view's self times add up to at
        most 100 %. With a single measuring thread this is the session's ``wall_ns``."""
        keys = self.thread_keys(view)
        cap = int(window_s * 1e9) if window_s is not None else None
        if len(self.thread_keys()) <= 1:
            wall = self.wall_ns if keys or view.whole else 0
            return min(wall, cap) if cap is not None else wall
        total = 0
        for stream, _tid in keys:
            p = self.processes.get(stream)
            start = p.start_ns if p is not None and p.start_ns is not None else self.origin_ns
            if self.reset_ns is not None:
                start = max(start, self.reset_ns)
            end = self.last_ns if p is None or p.state == "running" else p.last_ns
            span = max(0, end - start)
            total += min(span, cap) if cap is not None else span
        return total

    def stats_for(
        self, pid: int, window_s: float | None = None, view: View = WHOLE
    ) -> PerformanceStats:
        acc = self.ops_for(view).get(pid)
        name = self.name_of(pid)
        if acc is None:
            return PerformanceStats(name=name)
        wall = self.thread_wall_ns(view, window_s)
        if window_s is None:
            return acc.stats(name, wall)
        since = self.last_ns - int(window_s * 1e9)
        return acc.window_stats(since, name, wall)

    def stats_for_name(self, name: str) -> PerformanceStats:
        """Statistics of a call path (``a/b``), or of a block name merged over its paths.

        A name without ``/`` means every measurement of blocks with that name, wherever
        they ran (as the seed's per-name statistics); a recursive block's nested time is
        then counted at each level.
        """
        with self.lock:
            if "/" in name:
                pid = self.path_id(name)
                if pid is None:
                    raise KeyError(f"no measurements at path {name!r}")
                return self.stats_for(pid)
            pids = [p.id for p in self.paths.values() if p.name == name and p.id in self.ops]
            if not pids:
                raise KeyError(f"no measurements named {name!r}")
            if len(pids) == 1:
                st = self.stats_for(pids[0])
                st.name = name
                return st
            first = self.ops[pids[0]]
            merged = first.merged([self.ops[p] for p in pids[1:]])
            return merged.stats(name, self.wall_ns)

    def op_rows(self, window_s: float | None = None, view: View = WHOLE) -> list[OpRow]:
        """A row per measured path, in tree order (parents before their children):
        the whole tree (same path merged across processes and threads) by default, or
        one process / one thread (``view``)."""
        with self.lock:
            ops = self.ops_for(view)
            costs = self.costs_for(view)
            wall = self.thread_wall_ns(view, window_s)
            stats: dict[int, PerformanceStats] = {}
            since = self.last_ns - int(window_s * 1e9) if window_s is not None else 0
            for pid, acc in ops.items():
                name = self.name_of(pid)
                stats[pid] = (acc.stats(name, wall) if window_s is None
                              else acc.window_stats(since, name, wall))
            # self time: the one definition (stats.self_times), by full path
            measured = list(stats)
            own = dict(zip(measured, self_times([self.name_of(pid) for pid in measured],
                                                [stats[pid].total_ms for pid in measured]),
                           strict=True))
            rows: list[OpRow] = []
            for pid in self._tree_order(ops):
                st = stats.get(pid)
                if st is None:
                    continue
                p = self.paths.get(pid)
                self_ms = own[pid]
                c = costs.get(pid, [0, 0, 0])
                rows.append(
                    OpRow(
                        path_id=pid,
                        full=p.full if p else f"#{pid}",
                        name=p.name if p else f"#{pid}",
                        parent=self.name_of(p.parent) if p and p.parent > 0 else "",
                        depth=p.depth if p else 0,
                        stats=st,
                        self_ms=self_ms,
                        self_share=(self_ms * NS_PER_MS / wall) if wall > 0 else 0.0,
                        cost_calls=c[0],
                        flops=c[1],
                        nbytes=c[2],
                    )
                )
            return rows

    def process_rows(self) -> list[ProcessRow]:
        """One row per measuring process, in tree order (a child under its parent), with
        its measured self time's share of the tree's summed thread time."""
        with self.lock:
            total_wall = self.thread_wall_ns()
            by_pid = {p.pid: s for s, p in self.processes.items() if p.pid}
            kids: dict[int | None, list[int]] = {}
            for s_, p in sorted(self.processes.items()):
                parent = by_pid.get(p.ppid) if p.ppid is not None else None
                kids.setdefault(parent if parent != s_ else None, []).append(s_)
            out: list[ProcessRow] = []

            def visit(stream: int, depth: int) -> None:
                p = self.processes[stream]
                view = View(stream)
                ops = self.ops_for(view)
                top = self._top_ns(ops)
                trows = []
                for _s, tid in self.thread_keys(view):
                    tv = View(stream, tid)
                    tops = self.ops_for(tv)
                    wall = self.thread_wall_ns(tv)
                    trows.append(ThreadRow(
                        tid=tid, name=p.threads.get(tid, ""),
                        measurements=sum(a.count for a in tops.values()),
                        share=(self._top_ns(tops) / wall) if wall > 0 else 0.0,
                    ))
                out.append(ProcessRow(
                    stream=stream, pid=p.pid, ppid=p.ppid, depth=depth,
                    command=" ".join(p.argv), start=p.start, state=p.state, label=p.label,
                    status=p.status, measurements=p.measurements,
                    threads=len(self.thread_keys(view)),
                    share=(top / total_wall) if total_wall > 0 else 0.0,
                    thread_rows=trows,
                ))
                for c in kids.get(stream, []):
                    visit(c, depth + 1)

            for root in kids.get(None, []):
                visit(root, 0)
            return out

    def _top_ns(self, ops: dict[int, OpAccumulator]) -> int:
        """Time in top-level blocks (nested ones are inside them)."""
        return sum(a.moments.total for pid, a in ops.items()
                   if self.paths.get(pid) is None or self.paths[pid].parent == 0)

    def _tree_order(self, ops: dict[int, OpAccumulator] | None = None) -> list[int]:
        kids: dict[int, list[int]] = {}
        for pid, p in self.paths.items():
            kids.setdefault(p.parent, []).append(pid)
        for pid in self.ops if ops is None else ops:
            if pid not in self.paths:
                kids.setdefault(0, []).append(pid)
        out: list[int] = []
        stack = sorted(kids.get(0, []), reverse=True)
        seen: set[int] = set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            out.append(pid)
            stack.extend(sorted(kids.get(pid, []), reverse=True))
        return out
