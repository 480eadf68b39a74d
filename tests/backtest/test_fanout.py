"""FanoutSink: every sink gets every envelope in order; line sinks get the line encoded
upstream (or encoded once by the fan-out itself), plain sinks the envelope."""

from __future__ import annotations

from polytraders.contracts.envelope import ReportEnvelope, encode_envelope
from polytraders.desk.harness import run_risk
from polytraders.desk.sinks import DigestingSink, FanoutSink, MemorySink
from tests.desk.doubles import HalveBot
from tests.desk.test_risk_chain import intent, state


class _Lines:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.lines: list[bytes] = []

    def record(self, envelope: ReportEnvelope) -> None:
        raise AssertionError("a line sink is given the line")

    def record_line(self, envelope: ReportEnvelope, line: bytes) -> None:
        self.log.append("lines")
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing buffered."""


class _Plain(MemorySink):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def record(self, envelope: ReportEnvelope) -> None:
        self.log.append("plain")
        super().record(envelope)


def test_fanout_gives_lines_to_line_sinks_and_envelopes_to_the_others() -> None:
    envelopes = run_risk(HalveBot(), intent(size=30_000_000), state(), run_id="run-f").envelopes
    assert envelopes
    log: list[str] = []
    plain, lines = _Plain(log), _Lines(log)
    digesting = DigestingSink(FanoutSink([plain, lines]))
    for envelope in envelopes:
        digesting.record(envelope)
    assert plain.envelopes == envelopes
    assert lines.lines == [encode_envelope(e) for e in envelopes]
    assert log == ["plain", "lines"] * len(envelopes)  # the given order, envelope by envelope
    direct = _Lines([])
    fanout = FanoutSink([direct])
    for envelope in envelopes:
        fanout.record(envelope)  # no upstream line: the fan-out encodes it once
    assert direct.lines == lines.lines
