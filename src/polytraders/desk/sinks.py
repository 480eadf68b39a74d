"""Envelope sinks: where the desk's :class:`ReportEnvelope` timeline goes.

A sink has two methods, ``record(envelope)`` and ``flush()`` (:class:`EnvelopeSink`). The desk
calls ``record`` once per envelope in sequence order and ``flush`` at batch boundaries and at
shutdown. A sink that needs the envelope's JSON line may also offer
``record_line(envelope, line)`` (:class:`LineSink`): the desk's :class:`DigestingSink` encodes
each envelope once and hands that line on, so no sink encodes it again.

This module provides an in-memory sink (tests, fixture packs, backtests), a JSON lines file
sink (the recorded timeline of a run is a file, DESIGN.md "Contracts"), a digesting wrapper
that keeps the timeline's SHA-256 as envelopes pass through, and a fan-out into several sinks
(:class:`FanoutSink`: the store, the timeline file, metrics). The event store provides a
store-backed sink with the same methods.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, cast

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


class LineSink(EnvelopeSink, Protocol):
    """A sink that can take an envelope together with its JSON line.

    ``record_line(envelope, line)`` is equivalent to ``record(envelope)`` when ``line`` is
    ``encode_envelope(envelope)`` (exact msgspec JSON plus the trailing newline); it lets a sink
    reuse the line already computed upstream instead of encoding the envelope again.
    """

    def record_line(self, envelope: ReportEnvelope, line: bytes) -> None:
        """Accept one envelope whose line is ``line`` (in sequence order)."""
        ...


def line_recorder(sink: EnvelopeSink) -> Callable[[ReportEnvelope, bytes], None]:
    """A callable ``(envelope, line)`` that records into ``sink``: its ``record_line`` when it
    has one, else its ``record`` (the line is then dropped)."""
    record_line = getattr(sink, "record_line", None)
    if record_line is not None:
        return cast("Callable[[ReportEnvelope, bytes], None]", record_line)
    record = sink.record

    def _record(envelope: ReportEnvelope, line: bytes) -> None:
        record(envelope)

    return _record


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
        self.record_line(envelope, encode_envelope(envelope))

    def record_line(self, envelope: ReportEnvelope, line: bytes) -> None:
        """Buffer ``line`` (``encode_envelope(envelope)``, computed upstream); write the batch
        when full."""
        self._pending.append(line)
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
    envelope count and a histogram of reason codes.

    Each envelope is encoded once here; an inner sink with ``record_line`` (:class:`LineSink`)
    receives that line with the envelope, others get ``record(envelope)``.
    """

    def __init__(self, inner: EnvelopeSink) -> None:
        self.inner = inner
        self._digest = hashlib.sha256()
        self._update = self._digest.update
        self._forward = line_recorder(inner)
        self.count = 0
        self.reason_codes: Counter[str] = Counter()

    def record(self, envelope: ReportEnvelope) -> None:
        """Hash the envelope's JSON line, count its codes, then forward it (with the line)."""
        line = encode_envelope(envelope)
        self._update(line)
        self.count += 1
        codes = envelope.reason_codes
        if codes:
            counts = self.reason_codes
            for code in codes:  # Counter.update's Mapping check costs more than this loop
                counts[code] = counts.get(code, 0) + 1
        self._forward(envelope, line)

    def flush(self) -> None:
        """Flush the inner sink."""
        self.inner.flush()

    def hexdigest(self) -> str:
        """SHA-256 of every envelope recorded so far."""
        return self._digest.hexdigest()


class FanoutSink:
    """Records each envelope in several sinks, in the given order (all must accept it).

    A line sink (:class:`~polytraders.desk.sinks.LineSink`): given the envelope's JSON line
    (the desk's digesting sink encodes each envelope once), it hands the line on to the sinks
    that take one, so none encodes the envelope again.
    """

    def __init__(self, sinks: Sequence[EnvelopeSink]) -> None:
        self._use(sinks)

    def _use(self, sinks: Sequence[EnvelopeSink]) -> None:
        self._sinks = tuple(sinks)
        # (record_line, None) for a line sink, (None, record) otherwise, in the given order
        self._targets: tuple[tuple[Any, Any], ...] = tuple(
            (getattr(sink, "record_line", None), sink.record) for sink in self._sinks
        )
        self._takes_lines = any(line is not None for line, _ in self._targets)

    def record(self, envelope: ReportEnvelope) -> None:
        if self._takes_lines:
            self.record_line(envelope, encode_envelope(envelope))
        else:
            for sink in self._sinks:
                sink.record(envelope)

    def record_line(self, envelope: ReportEnvelope, line: bytes) -> None:
        """Record ``envelope``, whose line is ``line`` (``encode_envelope(envelope)``)."""
        for record_line, record in self._targets:
            if record_line is not None:
                record_line(envelope, line)
            else:
                record(envelope)

    def flush(self) -> None:
        for sink in self._sinks:
            sink.flush()

    def remove(self, sink: EnvelopeSink) -> None:
        """Stop recording into ``sink`` (e.g. a store that failed); the others go on."""
        self._use([s for s in self._sinks if s is not sink])
