"""Envelope sinks: where the desk's :class:`ReportEnvelope` timeline goes.

A sink has two methods, ``record(envelope)`` and ``flush()`` (:class:`EnvelopeSink`). The desk
calls ``record`` once per envelope in sequence order and ``flush`` at batch boundaries and at
shutdown. This module provides an in-memory sink (tests, fixture packs, backtests), a JSON
lines file sink (the recorded timeline of a run is a file, DESIGN.md "Contracts") and a
digesting wrapper that keeps the timeline's SHA-256 as envelopes pass through. The event
store provides a store-backed sink with the same two methods.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import IO, Protocol

from polytraders.contracts.envelope import ReportEnvelope, encode_envelope


class EnvelopeSink(Protocol):
    """Destination of envelopes. ``record`` must not reorder; ``flush`` makes everything
    recorded so far durable (or visible) before returning."""

    def record(self, envelope: ReportEnvelope) -> None:
        """Accept one envelope (in sequence order)."""
        ...

    def flush(self) -> None:
        """Persist everything recorded so far."""
        ...


class MemorySink:
    """Keeps every envelope in a list (``envelopes``), in order."""

    def __init__(self) -> None:
        self.envelopes: list[ReportEnvelope] = []

    def record(self, envelope: ReportEnvelope) -> None:
        """Append the envelope."""
        self.envelopes.append(envelope)

    def flush(self) -> None:
        """Nothing to persist."""

    def clear(self) -> None:
        """Forget the envelopes kept so far."""
        self.envelopes.clear()


class JsonlSink:
    """Appends envelopes as JSON lines (:func:`encode_envelope`) to a file.

    Lines are buffered and written every ``batch_size`` envelopes and on :meth:`flush`, which
    also flushes the OS buffer. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path, batch_size: int = 1024) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.path = Path(path)
        self._stream: IO[bytes] = self.path.open("ab")
        self._pending: list[bytes] = []
        self._batch_size = batch_size
        self.written = 0

    def record(self, envelope: ReportEnvelope) -> None:
        """Encode and buffer the envelope; write the batch when full."""
        self._pending.append(encode_envelope(envelope))
        if len(self._pending) >= self._batch_size:
            self._write()

    def _write(self) -> None:
        self._stream.write(b"".join(self._pending))
        self.written += len(self._pending)
        self._pending.clear()

    def flush(self) -> None:
        """Write pending lines and flush the file."""
        if self._pending:
            self._write()
        self._stream.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        self._stream.close()

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DigestingSink:
    """Forwards to ``inner`` and keeps the SHA-256 of the JSON-lines timeline (equal to
    :func:`~polytraders.contracts.envelope.timeline_sha256` over the same envelopes), the
    envelope count and a histogram of reason codes."""

    def __init__(self, inner: EnvelopeSink) -> None:
        self.inner = inner
        self._digest = hashlib.sha256()
        self.count = 0
        self.reason_codes: Counter[str] = Counter()

    def record(self, envelope: ReportEnvelope) -> None:
        """Hash the envelope's JSON line, count its codes, then forward it."""
        self._digest.update(encode_envelope(envelope))
        self.count += 1
        if envelope.reason_codes:
            self.reason_codes.update(envelope.reason_codes)
        self.inner.record(envelope)

    def flush(self) -> None:
        """Flush the inner sink."""
        self.inner.flush()

    def hexdigest(self) -> str:
        """SHA-256 of every envelope recorded so far."""
        return self._digest.hexdigest()
