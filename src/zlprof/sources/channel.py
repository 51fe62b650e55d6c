"""One measuring process's channel and what /proc says about a process and its group.

:class:`_Channel` (one connected process, one stream), the environment variables that
carry the channel's address, and the /proc and process-group helpers LiveSource uses to
tell how a process ended, whether it is suspended, and to signal its group. No sockets
are opened here (:mod:`.live` listens and reads).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

from .base import describe_exit


@dataclass
class _Channel:
    """One measuring process's connection (one stream of the session)."""

    stream: int
    conn: socket.socket
    pid: int = 0
    #: /proc start time of ``pid`` (field 22), to tell the process from a reused pid
    starttime: int | None = None
    said_bye: bool = False
    thread: threading.Thread | None = None



_ENV_FD = "ZLPROF_FD"
_ENV_SOCKET = "ZLPROF_SOCKET"


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the command), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _proc_starttime(pid: int) -> int | None:
    f = _proc_stat(pid)
    try:
        return int(f[19]) if f else None  # field 22
    except (IndexError, ValueError):
        return None


def _exit_of(pid: int, starttime: int | None, said_bye: bool,
             wait_s: float = 0.5) -> tuple[int | None, str]:
    """(status, reason) of a process of the tree that is not zlprof's own child.

    Only its parent can wait() for it; while it is a zombie, /proc/<pid>/stat field 52
    holds its wait status. Once its parent has reaped it the status is gone: then all
    that is known is whether it said goodbye (closed its profiler) before its channel
    ended. ``status`` is the exit code, a negative signal number, or None (unknown).
    """
    deadline = time.monotonic() + wait_s
    while True:
        f = _proc_stat(pid)
        if f is None or (starttime is not None and _int_at(f, 19) != starttime):
            break  # reaped (or the pid reused): the status is gone
        if f[0] == "Z":
            code = _int_at(f, 49)
            if code is not None:
                if code & 0x7F:
                    status = -(code & 0x7F)
                else:
                    status = (code >> 8) & 0xFF
                return status, describe_exit(status)[1]
            break
        if time.monotonic() >= deadline:
            if said_bye:
                return None, "closed its channel (still running)"
            return None, "channel ended without a goodbye (status unknown)"
        time.sleep(0.005)
    if said_bye:
        return None, "ended (status unknown)"
    return None, "ended without a goodbye (status unknown)"


def _int_at(fields: list[str], i: int) -> int | None:
    try:
        return int(fields[i])
    except (IndexError, ValueError):
        return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_suspended(pid: int) -> bool:
    """Is process ``pid`` stopped by a signal (SIGSTOP, SIGTSTP, a debugger)?"""
    try:
        import psutil

        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
    except Exception:  # gone, a zombie, no permission: not suspended
        return False


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except (ProcessLookupError, OSError):
            pass

