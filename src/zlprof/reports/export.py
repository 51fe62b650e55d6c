"""Exports that need every single measurement: the Chrome trace and the per-measurement
CSV. They read a recording's frames directly, not SessionState (reports: :mod:`.text`,
:mod:`.structured`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from ..protocol import Frame


def _paths_from(frames: Iterable[Frame]) -> dict[tuple[int, int], str]:
    """(stream, path id) -> full path: every process names its own paths."""
    names: dict[tuple[int, int], tuple[int, str]] = {}
    for fr in frames:
        if fr.kind == "names":
            for pid, parent, name in fr.body["paths"]:
                names[(fr.stream, pid)] = (parent, name)
    full: dict[tuple[int, int], str] = {}

    def resolve(key: tuple[int, int]) -> str:
        if key in full:
            return full[key]
        parts = []
        seen = set()
        stream, p = key
        while p > 0 and (stream, p) in names and p not in seen:
            seen.add(p)
            parent, name = names[(stream, p)]
            parts.append(name)
            p = parent
        full[key] = "/".join(reversed(parts)) or f"#{key[1]}"
        return full[key]

    for key in names:
        resolve(key)
    return full


def _pids_from(frames: Iterable[Frame]) -> dict[int, dict[str, Any]]:
    """stream -> its hello (pid, argv, start_ns, ...)."""
    out: dict[int, dict[str, Any]] = {}
    for fr in frames:
        if fr.kind == "hello" and fr.stream not in out:
            out[fr.stream] = fr.body
    return out


def chrome_trace(frames: list[Frame]) -> dict[str, Any]:
    """Chrome Trace Event JSON: an ``X`` event per measurement, counters for memory; one
    process track per pid (named by its command), one named thread track per thread.

    Opens in Perfetto (ui.perfetto.dev) and chrome://tracing. Times in microseconds from
    the session start (every process's clock is the machine's monotonic clock).
    """
    from ..sessions import program_name

    full = _paths_from(frames)
    hellos = _pids_from(frames)
    origin = None
    if hellos:
        origin = min(int(h["start_ns"]) for h in hellos.values())
    pid_of = {s: int(h["pid"]) for s, h in hellos.items()}
    events: list[dict[str, Any]] = []
    for s, h in sorted(hellos.items()):
        argv = [str(a) for a in h.get("argv") or []]
        events.append({"name": "process_name", "ph": "M", "pid": pid_of[s],
                       "args": {"name": f"{program_name(argv) if argv else 'process'} "
                                        f"(pid {pid_of[s]})"}})
    thread_names: dict[tuple[int, int], str] = {}
    tids: set[tuple[int, int]] = set()
    for fr in frames:
        b = fr.body
        pid = pid_of.get(fr.stream, 1)
        if fr.kind == "threads":
            for tid, name in b["rows"]:
                thread_names[(pid, int(tid) & 0x7FFFFFFF)] = str(name)
        elif fr.kind == "meas":
            if origin is None and b["n"]:
                origin = int(b["t0"].min())
            o = origin or 0
            tid = int(b["tid"]) & 0x7FFFFFFF
            tids.add((pid, tid))
            ts = (b["t0"] - o) / 1000.0
            dur = (b["t1"] - b["t0"]) / 1000.0
            for p, t, d in zip(b["path"].tolist(), ts.tolist(), dur.tolist(), strict=True):
                name = full.get((fr.stream, p), f"#{p}")
                events.append(
                    {
                        "name": name.rsplit("/", 1)[-1],
                        "cat": name.split("/", 1)[0],
                        "ph": "X",
                        "pid": pid,
                        "tid": tid,
                        "ts": t,
                        "dur": d,
                        "args": {"path": name},
                    }
                )
        elif fr.kind == "mem":
            o = origin or (int(b["t"][0]) if len(b["t"]) else 0)
            for i, t in enumerate(b["t"].tolist()):
                args = {"rss": int(b["rss"][i])}
                if b["traced"][i] >= 0:
                    args["traced"] = int(b["traced"][i])
                for g, col in b["gauges"].items():
                    if col[i] >= 0:
                        args[g] = int(col[i])
                events.append(
                    {"name": "memory", "ph": "C", "pid": pid, "ts": (t - o) / 1000.0, "args": args}
                )
        elif fr.kind == "tokens":
            o = origin or 0
            for t, req, index, phase, _piece in b["rows"]:
                if phase in ("prefill", "decode"):
                    events.append(
                        {
                            "name": f"token {index}",
                            "ph": "i",
                            "s": "p",
                            "pid": pid,
                            "tid": 0,
                            "ts": (t - o) / 1000.0,
                            "args": {"request": req, "phase": phase},
                        }
                    )
    for pid, tid in sorted(tids):
        name = thread_names.get((pid, tid)) or f"thread {tid}"
        events.append(
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
             "args": {"name": f"{name} ({tid})"}}
        )
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def measurements_csv(frames: list[Frame], out: io.TextIOBase) -> int:
    """One row per measurement: op, thread, start/end/duration (ns), memory, process."""
    full = _paths_from(frames)
    pid_of = {s: int(h["pid"]) for s, h in _pids_from(frames).items()}
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["op", "thread", "start_ns", "end_ns", "duration_ns", "mem_start", "mem_end",
                "pid"])
    n = 0
    for fr in frames:
        if fr.kind != "meas":
            continue
        b = fr.body
        tid = int(b["tid"])
        pid = pid_of.get(fr.stream, "")
        m0 = b.get("m0")
        m1 = b.get("m1")
        cols = [b["path"].tolist(), b["t0"].tolist(), b["t1"].tolist()]
        mem0 = m0.tolist() if m0 is not None else [None] * b["n"]
        mem1 = m1.tolist() if m1 is not None else [None] * b["n"]
        for p, t0, t1, a, c in zip(*cols, mem0, mem1, strict=True):
            w.writerow(
                [
                    full.get((fr.stream, p), f"#{p}"),
                    tid,
                    t0,
                    t1,
                    t1 - t0,
                    "" if a is None or a < 0 else a,
                    "" if c is None or c < 0 else c,
                    pid,
                ]
            )
            n += 1
    return n

