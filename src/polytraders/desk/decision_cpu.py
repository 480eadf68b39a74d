"""The CPU time a bot's decision is charged under a live clock: the deciding thread's CPU time
(``time.thread_time_ns``) less the time CPython's cyclic garbage collector ran in that thread
meanwhile.

A collection runs in whichever thread's allocation triggers it, and a full one walks every
object the process holds (a long live session: hundreds of thousands; 80–380 ms measured by
``python -m bench live_rss``). Charged to the bot that happened to allocate, it would
quarantine a healthy strategy for the size of the desk's heap (``SYS_BOT_TIMEOUT``; seen in
that bench). The pause is the runtime's, not the decision's: it is measured through
:data:`gc.callbacks` (called with ``"start"``/``"stop"`` around each collection, in the
collecting thread; Python docs, ``gc.callbacks``) and subtracted. The pause still delays the
desk loop, and shows in the event → order latency.

:func:`install` adds the callback (idempotent; the desk calls it when it measures a live
clock). Without it, :func:`decision_cpu_ns` is exactly ``thread_time_ns()``.
"""

from __future__ import annotations

import gc
import threading
from time import thread_time_ns
from typing import Any


class _ThreadGc(threading.local):
    """Per thread: CPU ns spent in collections so far, and the start of the current one."""

    total_ns: int = 0
    started_ns: int = -1


_THREAD_GC = _ThreadGc()


def _on_gc(phase: str, _info: dict[str, Any]) -> None:
    """``gc.callbacks`` hook: add each collection's CPU time to the collecting thread's sum."""
    if phase == "start":
        _THREAD_GC.started_ns = thread_time_ns()
    elif _THREAD_GC.started_ns >= 0:
        _THREAD_GC.total_ns += thread_time_ns() - _THREAD_GC.started_ns
        _THREAD_GC.started_ns = -1


def install() -> None:
    """Start counting collections' CPU time per thread (idempotent)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def gc_cpu_ns() -> int:
    """CPU ns the collector has run in this thread since :func:`install` (0 before)."""
    return _THREAD_GC.total_ns


def decision_cpu_ns() -> int:
    """This thread's CPU time less its collections' (ns): take the difference of two calls
    around a bot's call to get the CPU time the bot's own work took."""
    return thread_time_ns() - _THREAD_GC.total_ns
