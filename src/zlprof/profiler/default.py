"""The process-wide profiler (``zlprof.measure`` and friends) and its process hooks.

Holds :func:`get_profiler` and the module-level API that uses the default profiler, how
that profiler is made (streaming to zlprof under ``zlprof live/record``, else in memory),
its exit hooks (atexit, multiprocessing's exit path, SIGTERM) and the fork hooks that keep
every profiler consistent across ``os.fork``. The Profiler itself is in :mod:`.core`.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from .channel import ENV_FD, ENV_OPTIONS, ENV_SOCKET, StreamSink, connect_channel
from .core import Profiler, _profilers, _register_mp_exit
from .writer import block_termination_signals


def _start_kind() -> str:
    """How this process began: a multiprocessing child says its start method."""
    mp = sys.modules.get("multiprocessing.process")
    if mp is not None and mp.parent_process() is not None:
        ctx = sys.modules.get("multiprocessing.context")
        method = None
        if ctx is not None:
            try:
                method = ctx._default_context.get_start_method(allow_none=True)
            except Exception:
                method = None
        return method if method in ("fork", "spawn", "forkserver") else "spawn"
    return "fork" if _FORKED else "exec"


def _make_default() -> Profiler:
    """The process-wide profiler: streams to the parent under ``zlprof live/record``."""
    os.environ.pop(ENV_FD, None)  # never trusted (see ENV_FD)
    address = os.environ.get(ENV_SOCKET)
    opts = os.environ.get(ENV_OPTIONS, "")
    flags = set(opts.split(",")) if opts else set()
    enabled = "off" not in flags
    if address:
        fd = connect_channel(address)
        if fd is not None:
            sink = StreamSink(fd, address=address, preamble=True)
            prof = Profiler(
                enabled=enabled,
                memory="blocks",
                sink=sink,
                sample_interval_ms=50.0,
                trace_python="traced" in flags,
                start=_start_kind(),
            )
            atexit.register(prof.close)
            _install_exit_hooks(prof)
            return prof
    prof = Profiler(enabled=enabled, memory="blocks")
    return prof


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM while streaming (zlprof's quit, ``Pool.terminate``): send what was measured,
    then die of the signal as the default action would (same exit status).

    The handler runs between two bytecodes of the main thread, possibly inside a lock the
    flush needs (an Event's, the profiler's): so a helper thread closes the profiler and
    re-raises the signal, while the handler waits for it only briefly and then lets the
    main thread run on (and release what it holds)."""
    _finish_sigterm(wait=0.5)


_sigterm_once = threading.Lock()


def _finish_sigterm(wait: float) -> None:
    """Flush and die of SIGTERM, once per process (from the handler or the watcher)."""
    if not _sigterm_once.acquire(blocking=False):
        return
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # the watcher thread: not the main thread
        _restore_default_sigterm()
    prof = _default

    def finish() -> None:
        block_termination_signals()  # the kill below must reach another thread
        try:
            if prof is not None and prof.streaming:
                prof.close()
        except Exception:
            pass
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    t = threading.Thread(target=finish, name="zlprof-sigterm", daemon=True)
    t.start()
    t.join(wait)


def _restore_default_sigterm() -> None:
    """SIG_DFL for SIGTERM from any thread (``signal.signal`` is for the main thread)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal.restype = ctypes.c_void_p
        libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
        libc.signal(int(signal.SIGTERM), None)  # None: SIG_DFL (0)
    except (OSError, AttributeError):
        pass


# The watcher. A Python handler runs only when the main thread runs bytecode. A main
# thread blocked in C can miss the signal for good: a pool worker waiting on its queue's
# semaphore is woken by another process's release, loses the semaphore again, and the
# SIGTERM that ``Pool.terminate`` sends right then lands between two futex waits; the
# C-level handler notes it, the worker sleeps on, and ``terminate()`` waits for it forever
# (seen in the test suite under load). CPython writes every caught signal's number to
# the wakeup fd; a zlprof thread reads it, and when the main thread has not begun to
# handle a SIGTERM shortly after, finishes it in its place.
_WATCH_GRACE_S = 0.5
_watch_fds: tuple[int, int] | None = None


def _start_watcher(inherited: int = -1) -> None:
    """Set the wakeup fd to a pipe of ours and read it in a thread (main thread only;
    nothing when the program has a wakeup fd of its own, asyncio's for instance;
    ``inherited``: our parent's, which a forked child replaces)."""
    global _watch_fds
    try:
        r, w = os.pipe()
    except OSError:
        return
    try:
        os.set_blocking(w, False)
        old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except (ValueError, OSError):  # not the main thread
        os.close(r)
        os.close(w)
        return
    if old not in (-1, inherited):
        signal.set_wakeup_fd(old)  # the program's own: leave it be
        os.close(r)
        os.close(w)
        return
    _watch_fds = (r, w)

    def run() -> None:
        block_termination_signals()
        while True:
            try:
                data = os.read(r, 64)
            except OSError:
                return
            if not data:
                return
            if int(signal.SIGTERM) in data:
                time.sleep(_WATCH_GRACE_S)  # the handler's turn first
                _finish_sigterm(wait=5.0)

    threading.Thread(target=run, name="zlprof-signals", daemon=True).start()


def _install_exit_hooks(prof: Profiler) -> None:
    mp = sys.modules.get("multiprocessing.process")
    if mp is not None and mp.parent_process() is not None:
        _register_mp_exit(prof)
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
            if mp is not None and mp.parent_process() is not None:
                _start_watcher()  # a worker: its parent may wait for it forever
    except (ValueError, OSError):  # not the main thread: no handler
        pass


# Fork safety: every profiler's lock is held across fork() (so no other thread is inside a
# write when the child's copy is taken), then the child's profilers start clean.
_forking: list[Profiler] = []


# SIGTERM is blocked in the forking thread across fork(): the child starts with it
# blocked and unblocks it at the end of its after-fork hook, once CPython has reset its
# signal state and the child's watcher owns the wakeup fd. A SIGTERM sent to the child
# in between (Pool.terminate right after a worker's fork) stays pending and is then
# handled; unblocked, it would be noted by CPython's C handler and the note cleared by
# the child's signal reset, lost for good, and the parent's terminate() would wait for
# that worker forever (seen in the test suite under load).
# (per thread: two threads may fork at once; the child's one thread is the forking one)
_fork_mask = threading.local()


def _before_fork() -> None:
    _forking[:] = list(_profilers)
    for p in _forking:
        p._lock.acquire()
    try:
        _fork_mask.old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except (AttributeError, OSError, ValueError):
        _fork_mask.old = None


def _restore_fork_mask() -> None:
    mask = getattr(_fork_mask, "old", None)
    _fork_mask.old = None
    if mask is not None and signal.SIGTERM not in mask:
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        except (AttributeError, OSError, ValueError):
            pass


def _after_fork_parent() -> None:
    for p in reversed(_forking):
        p._lock.release()
    _forking.clear()
    _restore_fork_mask()


#: this interpreter was forked (zlprof was imported before the fork)
_FORKED = False

#: ``os._exit`` as Python gives it (a forked child's is :func:`_exit_after_close`)
_os_exit = os._exit


def _exit_after_close(status: int) -> NoReturn:
    """``os._exit`` in a forked child: the default profiler sends what it holds and its
    goodbye first. A raw ``os.fork`` child ends with ``os._exit``, which skips atexit, and
    lost what it measured since its last flush (all of it, for a short one) unless it
    called ``zlprof.flush()``; multiprocessing's workers have closed by then (their exit
    path is hooked), and a second close returns at once."""
    prof = _default
    if prof is not None:
        try:
            prof.close()
        except Exception:  # never keep a process from exiting
            pass
    _os_exit(status)


def _after_fork_child() -> None:
    try:
        _reset_after_fork()
    finally:
        _restore_fork_mask()  # a SIGTERM that came since the fork is handled now


def _reset_after_fork() -> None:
    global _FORKED, _default_lock, _sigterm_once, _watch_fds
    _FORKED = True
    _default_lock = threading.Lock()  # another thread may have held it across the fork
    _sigterm_once = threading.Lock()
    # A forked child (a pool worker, most often) whose SIGTERM handler is ours gets a
    # watcher of its own: its parent may wait for it (Pool.terminate) forever. The wakeup
    # fd, when it is the parent's pipe, is never left pointing there.
    inherited = _watch_fds
    _watch_fds = None
    w = inherited[1] if inherited is not None else -1
    try:
        if _default is not None and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            # the profiler was made off the main thread, where no handler can be set
            # (a program whose threads measure first): the forking thread is this
            # child's main thread, so the child gets the handler now, or a pool worker
            # killed by Pool.terminate loses what it measured since its last flush
            signal.signal(signal.SIGTERM, _on_sigterm)
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            _start_watcher(inherited=w)
        if inherited is not None and _watch_fds is None:
            # no watcher of our own: no wakeup fd rather than the parent's pipe
            if (old := signal.set_wakeup_fd(-1)) != w:
                signal.set_wakeup_fd(old)  # the program's own: leave it be
    except (ValueError, OSError):
        pass
    for fd in inherited or ():
        try:
            os.close(fd)
        except OSError:
            pass
    for p in _forking:
        try:
            p._after_fork_child()
        except Exception:  # never break the user's fork
            p._off = True
    _forking.clear()
    if os._exit is _os_exit:
        os._exit = _exit_after_close


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_parent, after_in_child=_after_fork_child
    )


_default: Profiler | None = None
#: held while the default profiler is made: several threads may make their first
#: ``measure`` at once, and each would otherwise open its own channel (one process shown
#: as several, each with its own memory sampler)
_default_lock = threading.Lock()


def get_profiler() -> Profiler:
    """The process-wide default profiler (created on first use, once per process)."""
    global _default
    prof = _default
    if prof is None:
        with _default_lock:
            prof = _default
            if prof is None:
                prof = _default = _make_default()
    return prof


def measure(name: str | Callable[..., Any], memory: bool | None = None) -> Any:
    """``with zlprof.measure(name):`` or ``@zlprof.measure(name)`` on the default profiler."""
    return (_default or get_profiler()).measure(name, memory)


def flush() -> None:
    """Send everything the process-wide profiler holds now. Call it before ``os._exit``,
    which skips every exit hook (a forked child's ``os._exit`` closes the profiler itself)."""
    if _default is not None:
        _default.flush()


def cost(flops: int, nbytes: int) -> None:
    (_default or get_profiler()).cost(flops, nbytes)


def token(request: int, index: int, phase: str, piece: str = "") -> None:
    (_default or get_profiler()).token(request, index, phase, piece)


def gauge(name: str, value: int) -> None:
    (_default or get_profiler()).gauge(name, value)
