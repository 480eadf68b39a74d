"""BookGuard trust rules on hand-made events, and the line-file framing."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytraders.feeds.guard import BookGuard
from polytraders.feeds.lines import format_line, iter_raw_lines, open_writer, split_line
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus, Trade

T0 = 1_767_225_600_000_000_000
"""2026-01-01T00:00:00Z: the hand-made events' times are T0 + a few ns (inside the feeds'
event-time window)."""


def _snap(ts: int, token: str = "A") -> BookSnapshot:
    ts += T0
    return BookSnapshot(ts_event_ns=ts, ts_recv_ns=ts, token_id=token, bids=[(400_000, 1)], asks=[])


def _delta(ts: int, token: str = "A") -> BookDelta:
    ts += T0
    return BookDelta(ts_event_ns=ts, ts_recv_ns=ts, token_id=token, bids=[(410_000, 2)], asks=[])


def test_guard_rules() -> None:
    stats = FeedStats()
    guard = BookGuard(stats)
    out: list[AnyEvent] = []
    guard.admit(_delta(1), out)  # before any snapshot: skipped, counted, nothing to distrust
    assert out == [] and stats.bad_input == {"SYS_DELTA_BEFORE_SNAPSHOT": 1}
    guard.admit(_snap(2), out)
    guard.admit(_delta(3), out)
    assert out == [_snap(2), _delta(3)]
    out.clear()
    guard.admit(_delta(2), out)  # older than the token's last book event
    assert out == [
        FeedStatus(
            ts_event_ns=T0 + 2,
            ts_recv_ns=T0 + 2,
            token_id="A",
            stale=True,
            reason_code="SYS_NON_MONOTONIC_TIME",
        )
    ]
    out.clear()
    guard.admit(_delta(4), out)  # stale: suppressed
    trade = Trade(ts_event_ns=T0 + 4, ts_recv_ns=T0 + 4, token_id="A", price=1, size=1)
    guard.admit(trade, out)  # non-book events pass
    assert out == [trade] and stats.counters["suppressed_while_stale"] == 1
    assert guard.is_stale("A")
    out.clear()
    guard.admit(_snap(5), out)
    assert out == [
        _snap(5),
        FeedStatus(
            ts_event_ns=T0 + 5,
            ts_recv_ns=T0 + 5,
            token_id="A",
            stale=False,
            reason_code="SYS_FEED_RESYNCED",
        ),
    ]
    assert not guard.is_stale("A")


def test_unattributed_issue_distrusts_every_trusted_token_once() -> None:
    stats = FeedStats()
    guard = BookGuard(stats, synthetic=True)
    out: list[AnyEvent] = []
    guard.admit(_snap(1, "A"), out)
    guard.admit(_snap(1, "B"), out)
    out.clear()
    guard.issue(FeedIssue(reason_code="SYS_MALFORMED_MESSAGE", ts_recv_ns=7), out)
    guard.issue(FeedIssue(reason_code="SYS_MALFORMED_MESSAGE", ts_recv_ns=8), out)
    assert [(e.token_id, e.stale, e.synthetic) for e in out] == [
        ("A", True, True),
        ("B", True, True),
    ]  # type: ignore[union-attr]
    assert stats.bad_input == {"SYS_MALFORMED_MESSAGE": 2}
    out.clear()
    guard.issue(
        FeedIssue(reason_code="SYS_UNKNOWN_EVENT", ts_recv_ns=9, token_id="C"), out, distrust=False
    )
    assert out == [] and stats.bad_input["SYS_UNKNOWN_EVENT"] == 1


def test_lines_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    frames = [(1, b'{"a": 1}'), (2, b"PONG"), (30, b"[1, 2]")]
    for name in ("rec.txt", "rec.txt.gz"):
        path = tmp_path / name
        with open_writer(path) as handle:
            for ts, frame in frames:
                handle.write(format_line(ts, frame))
        assert [split_line(line) for line in iter_raw_lines(path)] == frames
    first = (tmp_path / "rec.txt.gz").read_bytes()
    with open_writer(tmp_path / "again.txt.gz") as handle:
        for ts, frame in frames:
            handle.write(format_line(ts, frame))
    assert (tmp_path / "again.txt.gz").read_bytes() == first  # deterministic gzip
    (tmp_path / "crlf.txt").write_bytes(b"1 x\r\n\r\n  \n2 y")
    assert list(iter_raw_lines(tmp_path / "crlf.txt")) == [b"1 x", b"2 y"]


@pytest.mark.parametrize("line", [b"nospace", b"-1 x", b"12a {}", b" {}"])
def test_split_line_refuses_lines_without_a_receive_time(line: bytes) -> None:
    with pytest.raises(ValueError, match="receive ts"):
        split_line(line)


def test_format_line_refuses_newlines() -> None:
    with pytest.raises(ValueError, match="newline"):
        format_line(1, b"a\nb")


def test_every_reason_code_the_feeds_emit_is_registered() -> None:
    from polytraders.contracts.reasons import load_registry
    from polytraders.feeds import binance, guard, polymarket_lines, polymarket_wire, synthetic

    emitted = {
        value
        for module in (binance, guard, polymarket_lines, polymarket_wire)
        for value in vars(module).values()
        if isinstance(value, str) and value.startswith("SYS_")
    } | set(synthetic.KIND_REASON.values())
    assert emitted >= {"SYS_FEED_GAP", "SYS_FEED_RESYNCED", "SYS_MALFORMED_MESSAGE"}
    assert emitted <= set(load_registry())
