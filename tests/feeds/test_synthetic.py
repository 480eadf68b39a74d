"""The seeded synthetic feed: deterministic, labelled synthetic, and each scenario does what
its name says."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.feeds import BookSet, open_source
from polytraders.feeds.synthetic import SCENARIOS, SyntheticSource, parse_spec
from polytraders.model.events import (
    EVENT_ENCODER,
    BookDelta,
    BookSnapshot,
    MarketStatus,
    TickSizeChange,
    Trade,
)
from polytraders.model.market import MarketState, market_problems
from polytraders.model.money import ONE

SHORT = "duration_s=120&step_ms=500&snapshot_s=20&stale_s=20&halt_s=20&crossed_s=5"


def _encoded(spec: str) -> bytes:
    return b"\n".join(EVENT_ENCODER.encode(e) for e in open_source(spec).events())


@settings(max_examples=15, deadline=None)
@given(
    st.sampled_from(SCENARIOS),
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=1, max_value=3),
)
def test_same_seed_identical_other_seed_different(scenario: str, seed: int, markets: int) -> None:
    spec = f"synthetic:{scenario}?seed={seed}&markets={markets}&{SHORT}"
    first = _encoded(spec)
    assert first == _encoded(spec)  # byte-identical
    other = _encoded(f"synthetic:{scenario}?seed={seed + 1}&markets={markets}&{SHORT}")
    assert first != other


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_is_labelled_ordered_and_mirrored(scenario: str) -> None:
    source = open_source(f"synthetic:{scenario}?seed=11&markets=2&{SHORT}")
    assert source.synthetic and all(m.synthetic for m in source.markets)
    assert all(market_problems(m) == [] for m in source.markets)
    books = BookSet()
    previous = 0
    resolved = 0
    for event in source.events():
        assert msgspec.structs.asdict(event)["synthetic"] is True  # type: ignore[arg-type]
        assert event.ts_recv_ns >= previous
        previous = event.ts_recv_ns
        books.apply(event)
        if isinstance(event, MarketStatus) and event.state is MarketState.RESOLVED:
            resolved += 1
    assert resolved == 2
    for market in source.markets:
        yes, no = (books.books[t.token_id] for t in market.tokens)
        if scenario != "crossed_book" and yes.best_bid() and no.best_ask():
            assert yes.best_bid() + no.best_ask() == ONE  # type: ignore[operator]


def test_scenarios_show_their_faults() -> None:
    def events(scenario: str, **extra: str) -> list[object]:
        query = "&".join(f"{k}={v}" for k, v in extra.items())
        return list(
            open_source(f"synthetic:{scenario}?seed=3&{SHORT}&{query}".rstrip("&")).events()
        )

    wide = next(e for e in events("wide_spread") if isinstance(e, BookSnapshot))
    assert wide.asks[0][0] - wide.bids[0][0] == 100_000  # 10 ticks
    thin = next(e for e in events("thin_book") if isinstance(e, BookSnapshot))
    assert len(thin.bids) <= 2 and all(size <= 20_000_000 for _, size in thin.bids)
    stale = [e.ts_recv_ns for e in events("stale") if getattr(e, "token_id", "").endswith(":YES")]
    assert max(b - a for a, b in itertools.pairwise(stale)) >= 20 * 10**9
    halts = [e.state for e in events("halt_resume") if isinstance(e, MarketStatus)]
    assert halts[:2] == [MarketState.HALTED, MarketState.ACTIVE]
    ticks = [e for e in events("tick_size_change") if isinstance(e, TickSizeChange)]
    assert [(t.old_tick_size, t.new_tick_size) for t in ticks] == [(10_000, 1_000)] * 2
    books = BookSet()
    crossed = 0
    for event in events("crossed_book"):
        book = books.apply(event)
        crossed += bool(book and book.is_crossed())
    assert crossed > 0
    assert any(isinstance(e, Trade) for e in events("normal"))


def test_spec_parsing() -> None:
    spec = parse_spec("synthetic:normal?seed=7&markets=3")
    assert (spec.scenario, spec.seed, spec.markets) == ("normal", 7, 3)
    assert parse_spec(spec.spec) == spec
    assert SyntheticSource(spec).name == "synthetic:normal?seed=7&markets=3"
    for bad in (
        "synthetic:sideways",
        "synthetic:normal?colour=red",
        "synthetic:normal?seed=x",
        "synthetic:normal?markets=0",
        "normal",
    ):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_deltas_follow_snapshots_per_token() -> None:
    seen: set[str] = set()
    for event in open_source(f"synthetic:normal?seed=1&markets=3&{SHORT}").events():
        if isinstance(event, BookSnapshot):
            seen.add(event.token_id)
        elif isinstance(event, BookDelta):
            assert event.token_id in seen
