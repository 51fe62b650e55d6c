"""The bench's recording: one ``.zlp`` for a whole bench, every child's frames in it.

Each child numbers its call paths and requests from scratch; :class:`_Recorder` maps
them into one consistent session so ``zlprof report``/``replay`` read a bench as one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import protocol
from ..protocol import Frame
from .child import LOG_LEVEL

_now = time.perf_counter_ns


class _PathMap:
    """Per-child translation of path and request ids into the recording's ids."""

    def __init__(self, req_offset: int) -> None:
        self.paths: dict[int, int] = {0: 0}
        self.req_offset = req_offset


class _Recorder:
    """One ``.zlp`` for a whole bench: frames of every child, ids made consistent.

    Children each number their call paths from 1 and their requests from 0; the recorder
    maps each child's paths to one global path table (by parent and name) and shifts
    each child's request ids past every id used before, so ``zlprof report``/``replay``
    read the bench as one session. Child ``hello``/``end`` frames become log lines; the
    recording's own hello and end describe the bench.
    """

    def __init__(self, path: Path | None, argv: list[str], config: dict[str, Any]) -> None:
        from ..recording import RecordingWriter

        self.lock = threading.Lock()
        self._global: dict[tuple[int, str], int] = {}
        self._next_path = 1
        self._next_req = 0
        self.writer = RecordingWriter(path) if path is not None else None
        self.path = path
        #: frames recorded from children (a bench that never started one leaves no file)
        self.child_frames = 0
        self._write(
            protocol.encode_hello(
                pid=os.getpid(),
                argv=argv,
                start_ns=_now(),
                wall_time=time.time(),
                python=sys.version.split()[0],
                numpy_version=np.__version__,
                platform=sys.platform,
                config={"bench": config},
            )
        )

    def _write(self, data: bytes) -> None:
        if self.writer is not None and data:
            try:
                self.writer.write_raw(data)
            except OSError:
                self.writer.close()
                self.writer = None

    def new_child(self) -> _PathMap:
        with self.lock:
            return _PathMap(self._next_req)

    def log(self, msg: str, level: str = LOG_LEVEL) -> None:
        with self.lock:
            self._write(protocol.encode_log(_now(), level, msg))

    def close(self, status: int, reason: str) -> None:
        with self.lock:
            self._write(protocol.encode_end(status, reason))
            if self.writer is not None:
                self.writer.close()
                self.writer = None
                if self.child_frames == 0 and self.path is not None:
                    try:
                        self.path.unlink()
                    except OSError:
                        pass

    def translate(self, pm: _PathMap, frames: list[Frame]) -> list[Frame]:
        """Map ``frames`` of one child into global ids, record them, return them."""
        out: list[Frame] = []
        chunks: list[bytes] = []
        with self.lock:
            self.child_frames += len(frames)
            for fr in frames:
                k, b = fr.kind, fr.body
                if k == "names":
                    new: list[tuple[int, int, str]] = []
                    for pid, parent, name in b["paths"]:
                        gid = self._intern(pm.paths.get(parent, 0), name, new)
                        pm.paths[pid] = gid
                    if new:
                        chunks.append(protocol.encode_names(new))
                        out.append(Frame("names", {"paths": [list(p) for p in new]}))
                elif k == "meas":
                    path = self._map_paths(pm, np.asarray(b["path"]), chunks, out)
                    m0, m1 = b.get("m0"), b.get("m1")
                    chunks.append(
                        protocol.encode_measurements(b["tid"], path, b["t0"], b["t1"], m0, m1)
                    )
                    body = dict(b)
                    body["path"] = path
                    out.append(Frame("meas", body))
                elif k == "costs":
                    rows = []
                    for pid, calls, flops, nbytes in b["rows"]:
                        gid = self._map_paths(pm, np.asarray([pid]), chunks, out)[0]
                        rows.append([int(gid), calls, flops, nbytes])
                    chunks.append(protocol.encode_costs([tuple(r) for r in rows]))
                    out.append(Frame("costs", {"rows": rows}))
                elif k == "tokens":
                    rows = []
                    for t, req, index, phase, piece in b["rows"]:
                        g = int(req) + pm.req_offset
                        if g >= self._next_req:
                            self._next_req = g + 1
                        rows.append([t, g, index, phase, piece])
                    chunks.append(protocol.encode_tokens([tuple(r) for r in rows]))
                    out.append(Frame("tokens", {"rows": rows}))
                elif k == "mem":
                    chunks.append(
                        protocol.encode_memory(b["t"], b["rss"], b["traced"], b["gauges"])
                    )
                    out.append(fr)
                elif k == "hello":
                    argv = " ".join(str(a) for a in b.get("argv") or [])
                    msg = f"child {b.get('pid')} started: {argv}"
                    chunks.append(protocol.encode_log(int(b["start_ns"]), "info", msg))
                    out.append(fr)
                elif k == "end":
                    msg = f"child ended: {b.get('reason') or b.get('status')}"
                    chunks.append(protocol.encode_log(_now(), "info", msg))
                    out.append(fr)
                else:  # log, meta
                    chunks.append(protocol.encode_frame(k, b))
                    out.append(fr)
            self._write(b"".join(chunks))
        return out

    def _intern(self, gparent: int, name: str, new: list[tuple[int, int, str]]) -> int:
        key = (gparent, name)
        gid = self._global.get(key)
        if gid is None:
            gid = self._global[key] = self._next_path
            self._next_path += 1
            new.append((gid, gparent, name))
        return gid

    def _map_paths(
        self, pm: _PathMap, path: np.ndarray, chunks: list[bytes], out: list[Frame]
    ) -> np.ndarray:
        uniq, inv = np.unique(path, return_inverse=True)
        mapped = np.empty(len(uniq), np.int32)
        new: list[tuple[int, int, str]] = []
        for i, pid in enumerate(uniq.tolist()):
            gid = pm.paths.get(pid)
            if gid is None:  # a path the child never named: keep it visible
                gid = pm.paths[pid] = self._intern(0, f"#{pid}", new)
            mapped[i] = gid
        if new:
            chunks.append(protocol.encode_names(new))
            out.append(Frame("names", {"paths": [list(p) for p in new]}))
        return mapped[inv.reshape(-1)]
