"""Envelope sinks: the JSON-lines file decodes back to the same envelopes, batches are written
on flush, and the digesting sink's hash equals the timeline hash."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from polytraders.contracts.envelope import encode_envelope, read_jsonl, timeline_sha256
from polytraders.desk.harness import run_risk
from polytraders.desk.sinks import DigestingSink, JsonlSink, MemorySink
from tests.desk.doubles import HalveBot
from tests.desk.test_risk_chain import intent, state


def test_jsonl_sink_round_trips_and_digest_matches(tmp_path: Path) -> None:
    envelopes = []
    for n in range(5):
        run = run_risk(HalveBot(), intent(size=(n + 1) * 10_000_000), state(), run_id="run-s")
        envelopes += run.envelopes
    path = tmp_path / "timeline.jsonl"
    with JsonlSink(path, batch_size=2) as sink:
        digesting = DigestingSink(sink)
        for envelope in envelopes:
            digesting.record(envelope)
        assert sink.written == 4  # two full batches so far; the fifth waits for flush
        digesting.flush()
        assert sink.written == 5
    with path.open("rb") as stream:
        assert list(read_jsonl(stream)) == envelopes
    assert digesting.hexdigest() == timeline_sha256(envelopes)
    assert digesting.count == 5
    memory = MemorySink()
    for envelope in envelopes:
        memory.record(envelope)
    assert memory.envelopes == envelopes


class _LineTaker:
    """A line sink that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.plain = 0

    def record(self, envelope: object) -> None:
        self.plain += 1

    def record_line(self, envelope: object, line: bytes) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing buffered."""


def test_digesting_sink_hands_each_encoded_line_on(tmp_path: Path) -> None:
    envelopes = run_risk(HalveBot(), intent(size=20_000_000), state(), run_id="run-l").envelopes
    taker = _LineTaker()
    digesting = DigestingSink(taker)
    for envelope in envelopes:
        digesting.record(envelope)
    assert taker.plain == 0
    assert taker.lines == [encode_envelope(e) for e in envelopes]
    assert digesting.reason_codes == Counter(c for e in envelopes for c in e.reason_codes)
    path = tmp_path / "lines.jsonl"
    with JsonlSink(path) as sink:
        for envelope, line in zip(envelopes, taker.lines, strict=True):
            sink.record_line(envelope, line)
    assert path.read_bytes() == b"".join(taker.lines)
