"""Rule 12.6 of the paper venue: funding of a perpetual position at a funding time, reported to
the desk as a ``FundingPayment``, and the ledger of a perpetual (no reservation, whatever the
signed holding)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.model.events import BookSnapshot, FundingPayment, FundingRate
from polytraders.model.fills import Fill
from polytraders.model.market import BINANCE_USDM, Instrument
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.model.perp import funding_of_size
from polytraders.venues.paper import LedgerError, PaperLedger, PaperVenue, PaperVenueConfig

PERP = Instrument(
    venue=BINANCE_USDM, symbol="BTCUSDT", price_increment=100_000, size_increment=1_000,
    min_size=1_000,
)  # fmt: skip
TOKEN = PERP.token_id
T0 = 1_723_161_256_000_000_000  # 2024-08-08 23:54:16 UTC
FUNDING_T = 1_723_161_600_000_000_000  # 2024-08-09 00:00:00 UTC, a Binance funding time
BID, ASK = 61_000_000_000, 61_000_200_000  # 61,000.0 / 61,000.2 USDT: mid 61,000.1


def _book(ts_ns: int) -> BookSnapshot:
    return BookSnapshot(
        ts_event_ns=ts_ns, ts_recv_ns=ts_ns, token_id=TOKEN,
        bids=[(BID, 5_000_000)], asks=[(ASK, 5_000_000)],
    )  # fmt: skip


def _rate(ts_ns: int, rate_ppb: int, next_ns: int) -> FundingRate:
    return FundingRate(
        ts_event_ns=ts_ns, ts_recv_ns=ts_ns, token_id=TOKEN, rate_ppb=rate_ppb,
        next_funding_ns=next_ns,
    )  # fmt: skip


def _venue_holding(side: Side, size: int) -> PaperVenue:
    """A venue whose account took ``size`` micro-BTC on ``side`` with a marketable FAK."""
    venue = PaperVenue(PaperVenueConfig(), [], "run-f", instruments=[PERP])
    venue.on_market_event(_book(T0))
    order = VenueOrder(
        client_order_id="c1", intent_id="i1", bot_id="strat.test", token_id=TOKEN, side=side,
        price=ASK if side is Side.BUY else BID, size=size, time_in_force=TimeInForce.FAK,
        status=OrderStatus.PENDING_NEW,
    )  # fmt: skip
    venue.submit(order, T0)
    venue.advance(T0 + 10**9)
    assert sum(e.size for e in venue.poll() if isinstance(e, Fill)) == size
    return venue


@pytest.mark.parametrize(
    ("side", "expected_micros"),
    [
        # a short receives: 0.002 BTC × 61,000.1 × 0.0001 = 0.01220002 USDT, floored
        (Side.SELL, 12_200),
        # a long pays the same amount rounded against it (floor toward −∞)
        (Side.BUY, -12_201),
    ],
)
def test_a_position_held_across_a_funding_time_pays_or_receives_exactly(
    side: Side, expected_micros: int
) -> None:
    venue = _venue_holding(side, 2_000)
    cash = venue.ledger.cash
    venue.on_market_event(_rate(T0 + 2 * 10**9, 100_000, FUNDING_T))
    venue.on_market_event(_book(FUNDING_T - 1))
    assert venue.ledger.funding == 0  # nothing before the funding time
    # the next rate announced at the funding time: the settlement due then runs first, with
    # the rate in force until then
    venue.on_market_event(_rate(FUNDING_T, 300_000, FUNDING_T + 8 * 3_600 * 10**9))
    assert venue.ledger.funding == expected_micros
    assert venue.ledger.cash == cash + expected_micros
    assert venue.stats.funding_settlements == 1
    assert venue.ledger.conservation_problems() == []
    # reported to the desk at the funding time, with what it was computed from
    assert venue.poll() == [
        FundingPayment(
            ts_event_ns=FUNDING_T,
            ts_recv_ns=FUNDING_T,
            funding_id=f"run-f/funding/{TOKEN}/{FUNDING_T}",
            token_id=TOKEN,
            amount=expected_micros,
            size=2_000 if side is Side.BUY else -2_000,
            mark_price=(BID + ASK) // 2,
            rate_ppb=100_000,
        )
    ]


def test_a_rate_announced_twice_for_one_time_settles_once_and_flat_pays_nothing() -> None:
    venue = _venue_holding(Side.SELL, 2_000)
    venue.on_market_event(_rate(T0 + 2 * 10**9, -100_000, FUNDING_T))
    venue.on_market_event(_rate(T0 + 3 * 10**9, -100_000, FUNDING_T))
    venue.advance(FUNDING_T)
    assert venue.ledger.funding == -12_201  # negative rate: the short pays
    assert [e.amount for e in venue.poll() if isinstance(e, FundingPayment)] == [-12_201]
    flat = PaperVenue(PaperVenueConfig(), [], "run-f", instruments=[PERP])
    flat.on_market_event(_book(T0))
    flat.on_market_event(_rate(T0, 100_000, FUNDING_T))
    flat.advance(FUNDING_T)
    assert flat.ledger.funding == 0 and flat.stats.funding_settlements == 0
    assert flat.poll() == []  # nothing held: no payment reported


def test_funding_without_a_mid_fails_loudly() -> None:
    venue = _venue_holding(Side.SELL, 2_000)
    venue.on_market_event(_rate(T0 + 2 * 10**9, 100_000, FUNDING_T))
    venue.on_market_event(
        BookSnapshot(
            ts_event_ns=T0 + 3 * 10**9,
            ts_recv_ns=T0 + 3 * 10**9,
            token_id=TOKEN,
            bids=[(BID, 1_000)],
            asks=[],
        )
    )
    with pytest.raises(ValueError, match="no mid price"):
        venue.advance(FUNDING_T)


def test_a_perpetual_reserves_nothing_whatever_its_signed_holding() -> None:
    """The ETHUSDT failure (``reserve 0 exceeds free binance-usdm:ETHUSDT``): a resting order
    on a short perpetual reserved 0 against negative free holdings."""
    ledger = PaperLedger(1_000_000, short_tokens=frozenset({TOKEN}))
    ledger.settle_fill(Side.SELL, TOKEN, 61_000_000_000, 2_000, 0)
    ledger.settle_fill(Side.BUY, TOKEN, 61_000_000_000, 1_000, 100_000_000)  # cash < 0 now
    assert ledger.holdings(TOKEN) == -1_000 and ledger.free_cash() < 0
    for side in (Side.BUY, Side.SELL):
        ledger.reserve(side, TOKEN, 0)
        ledger.release(side, TOKEN, 0)
        with pytest.raises(LedgerError, match="reserve nothing"):
            ledger.reserve(side, TOKEN, 1)
    with pytest.raises(LedgerError, match="not a perpetual"):
        PaperLedger(0).settle_funding(TOKEN, 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(min_value=1, max_value=5_000).map(lambda q: q * 1_000),
            st.integers(min_value=-30_000_000, max_value=30_000_000),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_funding_keeps_the_cash_identity(trades: list[tuple[Side, int, int]]) -> None:
    """Fills and funding in any order: cash = start + Σ sold − Σ bought − Σ fees + Σ funding."""
    ledger = PaperLedger(0, short_tokens=frozenset({TOKEN}))
    for side, size, rate in trades:
        ledger.settle_fill(side, TOKEN, 61_000_000_000, size, 7)
        ledger.settle_funding(TOKEN, funding_of_size(ledger.holdings(TOKEN), 61_000_000_000, rate))
    assert ledger.conservation_problems() == []
