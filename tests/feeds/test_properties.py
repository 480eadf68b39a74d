"""Property tests: merged streams are time-ordered; every kind of malformed input is counted
under its reason code and never leaves a trusted book different from the clean replay's."""

from __future__ import annotations

import gzip
import itertools
import json
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.feeds import BookSet, merge, open_source
from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.polymarket_lines import WireReplay
from polytraders.feeds.stats import FeedStats
from polytraders.feeds.synthetic import KIND_REASON, MALFORMED_KINDS, SyntheticSource, bad_frame
from polytraders.model.events import AnyEvent, BookDelta, FeedStatus
from tests.conftest import BINANCE_SAMPLES

SHORT = "duration_s=30&step_ms=250&snapshot_s=10"


# ------------------------------------------------------------------ merge
@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["normal", "thin_book", "malformed", "halt_resume"]),
            st.integers(min_value=0, max_value=30),
            st.integers(min_value=0, max_value=5_000),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[1],
    )
)
def test_merged_streams_are_time_ordered_and_lose_nothing(
    specs: list[tuple[str, int, int]],
) -> None:
    sources = [
        open_source(f"synthetic:{scenario}?seed={seed}&{SHORT}&latency_ms={latency}")
        for scenario, seed, latency in specs
    ]
    originals = [e for s in sources for e in s.events()]
    merged = merge(*sources)
    events = list(merged.events())
    assert all(a.ts_recv_ns <= b.ts_recv_ns for a, b in itertools.pairwise(events))
    # nothing lost or changed but venue times, which only rise, to be non-decreasing
    assert all(a.ts_event_ns <= b.ts_event_ns for a, b in itertools.pairwise(events))
    assert sorted(_untimed(e) for e in events) == sorted(_untimed(e) for e in originals)
    assert sum(e.ts_event_ns for e in events) >= sum(e.ts_event_ns for e in originals)
    counts = [s.stats.counters["venue_time_raised"] for s in sources]
    assert merged.stats.counters["venue_time_raised"] >= sum(counts)
    assert merged.stats.events == sum(
        (s.stats.events for s in sources), start=type(merged.stats.events)()
    )
    assert merged.synthetic


def _untimed(event: AnyEvent) -> str:
    return repr(msgspec.structs.replace(event, ts_event_ns=0))


def test_merge_real_and_synthetic_and_refuse_shared_tokens() -> None:
    real = open_source(BINANCE_SAMPLES / "spot_btcusdt_20240808.gz")
    fake = open_source("synthetic:normal?seed=1&duration_s=30")
    merged = merge(real, fake)
    events = list(merged.events())
    assert all(a.ts_recv_ns <= b.ts_recv_ns for a, b in itertools.pairwise(events))
    assert len(events) == sum(merged.stats.events.values())
    assert merged.instruments == real.instruments and merged.markets == fake.markets
    with pytest.raises(ValueError, match="more than one"):
        merge(fake, open_source("synthetic:thin_book?seed=1"))


# ------------------------------------------------------------------ bad input
CLEAN_SPEC = "synthetic:normal?seed=4&markets=2&duration_s=60&step_ms=500&snapshot_s=10"
_CLEAN = list(SyntheticSource(CLEAN_SPEC).frames())
_TOKENS = SyntheticSource(CLEAN_SPEC).token_ids()
_MARKET_OF = {
    t.token_id: m.market_id for m in SyntheticSource(CLEAN_SPEC).markets for t in m.tokens
}


def _clean_states() -> list[dict[str, tuple[object, object]]]:
    replay = WireReplay(FeedStats(), synthetic=True, known_tokens=set(_TOKENS))
    books = BookSet()
    states = []
    for ts, frame in _CLEAN:
        out: list[AnyEvent] = []
        replay.feed(ts, frame, out)
        for event in out:
            books.apply(event)
        states.append({t: (b.bids(), b.asks()) for t, b in books.books.items()})
    return states


_STATES = _clean_states()
_KINDS = [*MALFORMED_KINDS, "unknown_token"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_KINDS),
            st.integers(min_value=1, max_value=len(_CLEAN) - 1),
            st.sampled_from(_TOKENS),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_malformed_input_is_counted_and_never_corrupts_a_trusted_book(
    injections: list[tuple[str, int, str]],
) -> None:
    stats = FeedStats()
    replay = WireReplay(stats, synthetic=True, known_tokens=set(_TOKENS))
    books = BookSet()
    before: dict[int, list[bytes | tuple[int, bytes]]] = {}
    expected: dict[str, int] = {}
    for kind, position, token in injections:
        if kind == "delta_before_snapshot":
            position = 0  # noqa: PLW2901 (only possible before the token's first book)
        reason = "SYS_UNKNOWN_TOKEN" if kind == "unknown_token" else KIND_REASON[kind]
        expected[reason] = expected.get(reason, 0) + 1
        ts = _CLEAN[max(position - 1, 0)][0]
        if kind == "unknown_token":
            frame = bad_frame("negative_size", "no-such-token", "M", "1").replace(b"-10", b"10")
        else:
            frame = bad_frame(kind, token, _MARKET_OF[token], str(ts // 1_000_000))
        if kind == "non_monotonic_time":
            ts -= 1
        before.setdefault(position, []).append((ts, frame))
    for index, (ts, frame) in enumerate(_CLEAN):
        for bad_ts, bad in before.get(index, []):  # type: ignore[misc]
            out: list[AnyEvent] = []
            replay.feed(bad_ts, bad, out)
            for event in out:
                books.apply(event)
        out = []
        replay.feed(ts, frame, out)
        for event in out:
            assert not isinstance(event, FeedStatus) or event.synthetic
            books.apply(event)
        clean = _STATES[index]
        for token, book in books.books.items():
            if token not in books.stale:
                assert (book.bids(), book.asks()) == clean[token], (index, token)
    assert dict(stats.bad_input) == expected
    # distrusted tokens are trusted again once a later snapshot arrives (every 10 s)
    last_book = max(i for i, (_, frame) in enumerate(_CLEAN) if b'"event_type":"book"' in frame)
    if max(position for _, position, _ in injections) < last_book:
        assert books.stale == set()


# ------------------------------------------------------------------ Binance gaps
_BINANCE_HEAD: list[bytes] = []


def _binance_head() -> list[bytes]:
    if not _BINANCE_HEAD:
        with gzip.open(BINANCE_SAMPLES / "spot_btcusdt_20240808.gz", "rb") as handle:
            _BINANCE_HEAD.extend(next(handle).rstrip(b"\n") for _ in range(1_200))
    return _BINANCE_HEAD


def _binance_states(path: Path) -> tuple[dict[int, object], BinanceDepthSource, BookSet]:
    source = BinanceDepthSource(path)
    books = BookSet()
    states: dict[int, object] = {}
    for event in source.events():
        book = books.apply(event)
        if book is not None and isinstance(event, BookDelta):
            states[event.sequence] = (book.bids(), book.asks())
    return states, source, books


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_binance_dropped_updates_are_one_gap_and_never_a_wrong_book(data: st.DataObject) -> None:
    lines = _binance_head()
    snapshot_at = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    depth = [i for i, line in enumerate(lines) if b"@depth" in line[:64] and i > snapshot_at + 5]
    # the last update can be dropped without a trace (no later update reveals the gap), so
    # only updates followed by another one are candidates
    depth = depth[:-1]
    dropped = set(data.draw(st.lists(st.sampled_from(depth), min_size=1, max_size=5)))
    with tempfile.TemporaryDirectory() as tmp:
        clean_path, gap_path = Path(tmp) / "clean.txt", Path(tmp) / "gap.txt"
        clean_path.write_bytes(b"\n".join(lines) + b"\n")
        kept = [line for i, line in enumerate(lines) if i not in dropped]
        gap_path.write_bytes(b"\n".join(kept) + b"\n")
        clean, _, _ = _binance_states(clean_path)
        rebuilt, source, books = _binance_states(gap_path)
    # one gap (there is no later snapshot to resync from), the token stays stale
    assert source.stats.bad_input == {"SYS_FEED_GAP": 1}
    assert books.stale == {source.token_id}
    first_drop = min(dropped)
    first_dropped_u = json.loads(lines[first_drop].split(b" ", 1)[1])["data"]["u"]
    assert rebuilt  # books before the gap
    for u, state in rebuilt.items():
        assert u < first_dropped_u
        assert clean[u] == state
