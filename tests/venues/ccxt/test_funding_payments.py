"""Funding payments over ccxt: Binance's ``FUNDING_FEE`` income rows converted exactly
(:func:`~polytraders.venues.ccxt.account.funding_payment_of`), and the venue polling them from
the Binance USDⓈ-M simulator (``fetch_funding_history`` → ``GET /fapi/v1/income``) across the
recording's 00:00 UTC funding time: each payment reported once, across polls and across a
rebuild that knows its id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from polytraders.model.events import FundingPayment
from polytraders.model.market import Instrument
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.venues.ccxt.account import funding_payment_of
from polytraders.venues.ccxt.config import CcxtVenueConfig
from polytraders.venues.ccxt.convert import CcxtMarket, ConversionError
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.ccxt.venue import CcxtVenue

TOKEN = "binance-usdm:BTCUSDT"
FUNDING_T = 1_723_161_600_000_000_000  # 2024-08-09 00:00:00 UTC, crossed at the sample's end
SHORT = -3_000  # 0.003 BTC
MARKET = CcxtMarket(
    instrument=Instrument(
        venue="binance-usdm", symbol="BTCUSDT", price_increment=100_000, size_increment=1_000,
        min_size=1_000,
    ),
    ccxt_symbol="BTC/USDT:USDT",
    quote="USDT",
)  # fmt: skip


def _row(text: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": text, "asset": "USDT",
        "info": "FUNDING_FEE", "time": 1_723_161_600_000, "tranId": 7_000_000_001, "tradeId": "",
    }  # fmt: skip
    return row | fields


@pytest.mark.parametrize(
    ("income", "amount"),
    [
        ("0.01849700", 18_497),  # exact
        ("0.01849799", 18_497),  # received: rounded down, never overstated
        ("-0.01849701", -18_498),  # paid: rounded toward −∞, never understated
    ],
)
def test_an_income_row_is_a_funding_payment_rounded_against_the_account(
    income: str, amount: int
) -> None:
    payment = funding_payment_of(_row(income), MARKET, ts_recv_ns=5)
    assert payment == FundingPayment(
        ts_event_ns=FUNDING_T,
        ts_recv_ns=5,
        funding_id=f"{TOKEN}/f7000000001",
        token_id=TOKEN,
        amount=amount,
    )
    assert funding_payment_of(_row(income, tranId="7000000001"), MARKET, 5) == payment


@pytest.mark.parametrize(
    "fields",
    [
        {"incomeType": "COMMISSION"},
        {"asset": "BNB"},
        {"symbol": "ETHUSDT"},
        {"tranId": None},
        {"tranId": "7e9"},
        {"income": 0.0185},  # a float, not Binance's text
        {"time": "soon"},
    ],
)
def test_a_row_that_is_not_our_funding_in_the_quote_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ConversionError):
        funding_payment_of(_row("0.01849700", **fields), MARKET, ts_recv_ns=5)


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        server.session(
            wallet_micros=10_000_000_000,
            position_size=SHORT,
            position_cost_micros=SHORT * 61_000,  # entered at 61,000 USDT
        )
        while server.step(500)["cursor"] < 6_500:  # in short requests: a busy machine is slow
            pass
        assert server.exchange.last_event_ms * 1_000_000 < FUNDING_T  # a few seconds before
        yield server


def _venue(sim: SimExchangeServer, **settings: object) -> CcxtVenue:
    config = CcxtVenueConfig.model_validate({"api_url": sim.url, "poll_interval_ms": 0, **settings})
    credentials = ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret)
    venue = CcxtVenue.from_credentials(credentials, config, funding_poll_ms=0)
    venue.load_markets()
    return venue


def _payments(venue: CcxtVenue) -> list[FundingPayment]:
    return [e for e in venue.poll() if isinstance(e, FundingPayment)]


def test_the_venue_reports_each_funding_payment_once(sim: SimExchangeServer) -> None:
    venue = _venue(sim)
    try:
        venue.rebuild(time.time_ns())
        assert _payments(venue) == []  # nothing paid yet
        assert sim.step(100)["applied"]  # to the end, across 00:00 UTC: the short receives
        (income,) = sim.exchange.incomes
        assert income.amount > 0 and income.amount == sim.sim_state()["funding_micros"]
        venue.advance(time.time_ns())
        (payment,) = _payments(venue)
        assert (payment.funding_id, payment.token_id) == (f"{TOKEN}/f{income.tran_id}", TOKEN)
        assert (payment.amount, payment.ts_event_ns) == (income.amount, FUNDING_T)
        for _ in range(3):  # re-polled from the latest funding time: not reported again
            venue.advance(time.time_ns())
            assert _payments(venue) == []
    finally:
        venue.close()

    rebuilt = _venue(sim)  # a restart whose store knows the payment
    try:
        rebuilt.rebuild(time.time_ns(), known_funding_ids=[payment.funding_id])
        rebuilt.advance(time.time_ns())
        assert _payments(rebuilt) == []
    finally:
        rebuilt.close()
    missed = _venue(sim)  # a restart whose store lost it: reported once, at start-up
    try:
        missed.rebuild(time.time_ns())
        assert [p.funding_id for p in _payments(missed)] == [payment.funding_id]
        missed.advance(time.time_ns())
        assert _payments(missed) == []
    finally:
        missed.close()


def test_funding_is_polled_only_every_funding_poll_ms(sim: SimExchangeServer) -> None:
    config = CcxtVenueConfig.model_validate({"api_url": sim.url, "poll_interval_ms": 0})
    credentials = ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret)
    venue = CcxtVenue.from_credentials(credentials, config, funding_poll_ms=60_000)
    venue.load_markets()
    try:
        start = time.time_ns()
        venue.rebuild(start)
        sim.step(100)
        venue.advance(start + 59 * 1_000_000_000)  # controllable clock: not due yet
        assert _payments(venue) == []
        venue.advance(start + 60 * 1_000_000_000)
        assert len(_payments(venue)) == 1
    finally:
        venue.close()


def test_a_spot_venue_has_no_funding_payments(sim: SimExchangeServer) -> None:
    config = CcxtVenueConfig.model_validate({"exchange_id": "binance", "api_url": sim.url})
    credentials = ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret)
    with pytest.raises(ValueError, match="spot"):
        CcxtVenue.from_credentials(credentials, config, funding_poll_ms=1_000)
