"""Give the C heap's free pages back to the OS now and then, in a long-running process.

Why: a live session's threads (the desk loop, the venue worker, the feeds, the store writer)
allocate large transient native buffers — HTTP responses, decoded JSON, SQLite pages — through
glibc's ``malloc``. Once freed, that memory stays resident as free chunks inside glibc's heaps
(``mallinfo2().fordblks``): glibc returns only the free memory at the top of a heap by itself
(``M_TRIM_THRESHOLD``). In a 15-minute live session against the CLOB simulator
(``python -m bench live_rss`` with a ``mallinfo2`` probe), after the desk's bounded past was
full (360 s) Python's objects and pymalloc's blocks stayed level while glibc's free chunks
grew from about 5 to 21 MiB; with a trim every 20 s they stayed at 4–5 MiB (each trim 0.1–1.6
ms). A trim every 60 s still let them swing between 5 and 18 MiB within the minute (a resident
sawtooth that a least-squares fit over a few minutes reads as growth or shrinkage, depending
on where the window cuts it); every :data:`TRIM_INTERVAL_S` (10 s) they stayed between 3.6 and
6.3 MiB past the bounded past's horizon. Memory in use is not trimming's business: see
:mod:`polytraders.ops.http_client` for what made it swing with the trade polls.

``malloc_trim(0)`` (glibc ≥ 2.8, ``man 3 malloc_trim``) releases free memory at the top of
every heap and, with ``madvise(MADV_DONTNEED)``, the free pages inside them. ctypes releases
the interpreter lock during the call, so Python threads keep running; a thread that calls
``malloc`` meanwhile waits for its heap's lock.

Where there is no glibc (musl, macOS), :func:`trim_heap` does nothing and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

_LOG = logging.getLogger("polytraders.ops")

TRIM_INTERVAL_S = 10.0
"""How often a live session trims its heap (s of monotonic time)."""


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None when the C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    function: Callable[[int], int] = trim
    return function


_MALLOC_TRIM = _glibc_malloc_trim()


def trim_heap() -> bool:
    """Release the C heap's free memory to the OS (``malloc_trim(0)``).

    Returns:
        True when glibc's ``malloc_trim`` ran, False when this C library has none.
    """
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class HeapTrimmer:
    """Calls :func:`trim_heap` at most once per ``interval_s`` (monotonic clock) from
    :meth:`maybe_trim`, which a loop calls as often as it likes.

    Attributes:
        trims: trims done so far.
        trim_ms_max: the longest trim (ms of wall time).
    """

    def __init__(
        self, interval_s: float = TRIM_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.interval_s = interval_s
        self._clock = clock
        self._next_s = clock() + interval_s
        self.trims = 0
        self.trim_ms_max = 0.0

    def maybe_trim(self) -> bool:
        """Trim when the interval has passed since the last one; True when it trimmed."""
        now = self._clock()
        if now < self._next_s or _MALLOC_TRIM is None:
            return False
        started = time.perf_counter()
        trim_heap()
        took_ms = (time.perf_counter() - started) * 1_000
        self.trims += 1
        self.trim_ms_max = max(self.trim_ms_max, took_ms)
        self._next_s = now + self.interval_s
        _LOG.debug("heap trimmed in %.1f ms", took_ms)
        return True
