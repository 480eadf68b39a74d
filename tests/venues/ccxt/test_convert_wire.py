"""The ccxt venue's boundary pieces without a server: exact conversion, client ids, order
requests, error classification, credentials and settings."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import ccxt.async_support as ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from polytraders.contracts.config import config_problems
from polytraders.model.fees import spot_buy_commission
from polytraders.model.market import Instrument
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.simexchange.matching import CLIENT_ID_RANGE
from polytraders.simexchange.spot_wire import e8_text
from polytraders.venues.ccxt.account import PerpPosition
from polytraders.venues.ccxt.config import CcxtVenueConfig, ProtectiveStopPolicy
from polytraders.venues.ccxt.convert import (
    CcxtMarket,
    ConversionError,
    OffGridError,
    balance_micros,
    checked_by_ccxt,
    exact,
    fee_micros,
    grid_text,
    rate_ppb,
)
from polytraders.venues.ccxt.credentials import ApiKeyCredentials, CredentialsError
from polytraders.venues.ccxt.errors import classify
from polytraders.venues.ccxt.protective_stop import desired_stop
from polytraders.venues.ccxt.ratelimit import apply_throttle, retry_after_ns
from polytraders.venues.ccxt.wire import (
    UnsupportedOrderError,
    fill_of,
    order_request,
    wire_client_id,
)

MARKET = CcxtMarket(
    instrument=Instrument(
        venue="binance-usdm",
        symbol="BTCUSDT",
        price_increment=100_000,
        size_increment=1_000,
        min_size=1_000,
    ),
    ccxt_symbol="BTC/USDT:USDT",
    quote="USDT",
)


def test_exact_fields_refuse_anything_inexact() -> None:
    assert exact({"price": "61800.30"}, "price") == 61_800_300_000
    assert exact({"positionAmt": "-0.015"}, "positionAmt") == -15_000
    assert exact({"p": "0.01000000"}, "p") == 10_000  # zeros beyond 6 decimals are exact
    for bad in ({"p": "0.00000010"}, {"p": 61800.3}, {}, {"p": "1e"}):
        with pytest.raises(ConversionError, match="p"):
            exact(bad, "p")


def test_fees_round_up_balances_down_rates_in_ppb() -> None:
    assert fee_micros({"commission": "0.01234567"}) == 12_346
    assert fee_micros({"commission": "0.01234500"}) == 12_345
    assert balance_micros({"free": "10.12345678"}, "free") == 10_123_456
    assert rate_ppb({"r": "0.00010000"}, "r") == 100_000
    assert rate_ppb({"r": "-0.00003925"}, "r") == -39_250
    with pytest.raises(ConversionError, match="part per billion"):
        rate_ppb({"r": "0.0000000001"}, "r")
    with pytest.raises(ConversionError, match="malformed"):
        rate_ppb({"r": "x"}, "r")


def test_order_text_is_exact_and_off_grid_is_refused() -> None:
    assert grid_text(61_800_300_000, 100_000, "price") == "61800.3"
    with pytest.raises(OffGridError) as caught:
        grid_text(61_800_350_000, 100_000, "price")
    assert caught.value.field == "price"
    with pytest.raises(OffGridError):
        grid_text(0, 1_000, "size")
    rounds = {"61800.35": "61800.4"}.get
    with pytest.raises(OffGridError, match=r"61800\.4"):  # ccxt would round it silently
        checked_by_ccxt("61800.35", lambda _s, text: rounds(text) or text, "X", "price")
    assert checked_by_ccxt("0.010", lambda _s, _t: "0.01", "X", "size") == "0.01"


def test_client_ids_fit_binance_or_map_deterministically() -> None:
    ours = "run-0123456789abcdef/i123456/o0"
    assert wire_client_id(ours) == ours
    long_id = "run-0123456789abcdef/i1234567890123456/o0"
    mapped = wire_client_id(long_id)
    assert mapped == "pt-" + hashlib.sha256(long_id.encode()).hexdigest()[:32]
    assert len(mapped) == 35 and wire_client_id(long_id) == mapped
    assert wire_client_id("adopted:abc def").startswith("pt-")


@pytest.mark.parametrize(
    "client_id",
    [
        # strat.ema_cross / strat.mean_reversion (signal_trader: <bot>/s<desk ns>/i<n>/o<leg>)
        "strat.ema_cross/s1723161256567000000/i0/o0",
        "strat.mean_reversion/s1723161256567000000/i999999999/o0",
        # the kill switch's unwind and its exec.twap children (desk/u<trip ns>/i<n>/o<leg>)
        "desk/u1723161555579000000/i1/o0",
        "desk/u1723161555579000000/i99/o99",
        "desk/u1723161555579000000/i9999/o999",
    ],
)
def test_every_id_the_crypto_desk_sends_satisfies_binances_rule(client_id: str) -> None:
    """The wire id of each of the desk's id shapes matches Binance's ``newClientOrderId`` rule
    (the simulator enforces it: :data:`~polytraders.simexchange.engine.CLIENT_ID_RANGE`), sent
    unchanged when the id fits, else as its 35-character digest."""
    wire = wire_client_id(client_id)
    assert re.fullmatch(CLIENT_ID_RANGE[1:-1], wire), wire
    assert wire == client_id if len(client_id) <= 36 else len(wire) == 35


@pytest.mark.parametrize("prefix", ["ps-", "x", "desk.ps:"])
def test_protective_stop_ids_satisfy_binances_rule(prefix: str) -> None:
    policy = ProtectiveStopPolicy(client_id_prefix=prefix)
    position = PerpPosition(token_id="binance-usdm:BTCUSDT", size=-3_000,
                            entry_price=61_712_800_000)  # fmt: skip
    request = desired_stop(policy, position, 100_000)
    assert request is not None and len(request.client_id) == 36
    assert re.fullmatch(CLIENT_ID_RANGE[1:-1], request.client_id)


def _order(**fields: object) -> VenueOrder:
    base: dict[str, object] = {
        "client_order_id": "run-0123456789abcdef/i1/o0",
        "intent_id": "i",
        "token_id": "binance-usdm:BTCUSDT",
        "side": Side.BUY,
        "price": 61_800_300_000,
        "size": 10_000,
    }
    return VenueOrder(**{**base, **fields})  # type: ignore[arg-type]


def test_order_requests_by_kind() -> None:
    post_only = order_request(_order(post_only=True), MARKET, perp=True)
    assert (post_only.order_type, post_only.amount, post_only.price) == ("limit", "0.01", "61800.3")
    assert post_only.params == {
        "newClientOrderId": "run-0123456789abcdef/i1/o0",
        "timeInForce": "GTX",
    }
    market = order_request(
        _order(price=0, time_in_force=TimeInForce.FAK, reduce_only=True, side=Side.SELL),
        MARKET,
        perp=True,
    )
    assert (market.order_type, market.side, market.price) == ("market", "sell", None)
    assert market.params["reduceOnly"] is True and "timeInForce" not in market.params
    ioc = order_request(_order(time_in_force=TimeInForce.FAK), MARKET, perp=True)
    assert ioc.params["timeInForce"] == "IOC"
    with pytest.raises(UnsupportedOrderError):
        order_request(_order(time_in_force=TimeInForce.GTD, expire_at_ns=1), MARKET, perp=True)
    with pytest.raises(UnsupportedOrderError, match="reduce-only BUY on spot"):
        order_request(_order(reduce_only=True, side=Side.BUY), MARKET, perp=False)
    spot_sell = order_request(_order(reduce_only=True, side=Side.SELL), MARKET, perp=False)
    assert spot_sell.side == "sell" and "reduceOnly" not in spot_sell.params
    assert spot_sell.params == order_request(_order(side=Side.SELL), MARKET, perp=False).params


def test_fills_refuse_fees_in_another_asset() -> None:
    info = {
        "id": 7,
        "orderId": 4000000001,
        "side": "BUY",
        "price": "61800.30",
        "qty": "0.010",
        "commission": "0.00123456",
        "commissionAsset": "USDT",
        "maker": True,
        "time": 1_723_100_000_000,
    }
    fill = fill_of(info, MARKET, "cid", 5)
    assert (fill.fill_id, fill.venue_order_id, fill.fee) == (
        "binance-usdm:BTCUSDT/t7",
        "4000000001",
        1_235,
    )
    with pytest.raises(ConversionError, match="commissionAsset"):
        fill_of({**info, "commissionAsset": "BNB"}, MARKET, "cid", 5)


SPOT = CcxtMarket(
    instrument=Instrument(
        venue="binance-spot",
        symbol="BTCUSDT",
        price_increment=10_000,
        size_increment=10,
        min_size=10,
    ),
    ccxt_symbol="BTC/USDT",
    quote="USDT",
    base="BTC",
)
SPOT_TRADE = {
    "id": 11,
    "orderId": 12,
    "isBuyer": True,
    "price": "61800.30",
    "qty": "0.01234000",
    "commission": "0.00001234",
    "commissionAsset": "BTC",
    "isMaker": False,
    "time": 1_723_100_000_000,
}
"""A Binance spot BUY (``myTrades`` row): 0.1 % of 0.01234 BTC kept in BTC."""


def test_a_spot_buy_books_its_base_commission_as_fee_size() -> None:
    fill = fill_of(SPOT_TRADE, SPOT, "cid", 5)
    assert (fill.side, fill.price, fill.size) == (Side.BUY, 61_800_300_000, 12_340)
    # 12.34 micro-BTC: finer than a micro-unit, rounded up (the position never exceeds the
    # exchange's 0.01232766 BTC); its value 0.00001234 × 61800.30 = 0.762615702 USDT, rounded up
    assert (fill.fee_size, fill.fee) == (13, 762_616)
    assert fill.position_change == 12_327 == 1_232_766 // 100  # the balance, rounded down
    assert fill.cash_fee == 0
    assert fill.booked_fee == fill.notional - 61_800_300_000 * 12_327 // 1_000_000 == 803_404
    exact_commission = {**SPOT_TRADE, "qty": "0.01000000", "commission": "0.00001000"}
    fill = fill_of(exact_commission, SPOT, "cid", 5)
    assert (fill.size, fill.fee_size, fill.fee) == (10_000, 10, 618_003)
    assert fill.booked_fee == fill.fee  # a whole micro-unit commission: no rounding at all


def test_a_spot_sell_pays_in_the_quote_and_a_base_commission_on_it_is_refused() -> None:
    sell = {**SPOT_TRADE, "isBuyer": False, "commission": "0.76261570", "commissionAsset": "USDT"}
    fill = fill_of(sell, SPOT, "cid", 5)
    assert (fill.side, fill.size, fill.fee, fill.fee_size) == (Side.SELL, 12_340, 762_616, 0)
    assert (fill.position_change, fill.cash_fee, fill.booked_fee) == (-12_340, 762_616, 762_616)
    with pytest.raises(ConversionError, match="'BTC' on a SELL"):
        fill_of({**SPOT_TRADE, "isBuyer": False}, SPOT, "cid", 5)
    with pytest.raises(ConversionError, match="commissionAsset: 'BNB'"):
        fill_of({**SPOT_TRADE, "commissionAsset": "BNB"}, SPOT, "cid", 5)
    with pytest.raises(ConversionError, match="outside"):
        fill_of({**SPOT_TRADE, "commission": "0.02000000"}, SPOT, "cid", 5)


def test_classification_and_signature_scrubbing() -> None:
    post_only = classify(ccxt.InvalidOrder('binanceusdm {"code":-5022,"msg":"Post Only"}'))
    assert (
        post_only.reason_code == "SYS_VENUE_POST_ONLY_WOULD_CROSS"
        and post_only.binance_code == -5022
    )
    assert classify(ccxt.RateLimitExceeded("429")).reason_code == "SYS_CCXT_RATE_LIMITED"
    timeout = classify(
        ccxt.RequestTimeout("binanceusdm GET http://h/fapi/v1/order?x=1&signature=abcdef0123")
    )
    assert timeout.outcome_unknown and timeout.reason_code == "SYS_CCXT_UNAVAILABLE"
    assert "abcdef0123" not in timeout.message and "signature=***" in timeout.message
    assert classify(ccxt.AuthenticationError("-2015")).reason_code == "SYS_CCXT_AUTH_FAILED"
    assert classify(ccxt.ExchangeError("odd")).reason_code == "SYS_CCXT_ORDER_REJECTED"
    with pytest.raises(TypeError):
        classify(KeyError("bug"))


def test_throttle_and_retry_after() -> None:
    exchange = ccxt.binanceusdm()
    assert apply_throttle(exchange, 0.5) == 100.0  # Binance publishes 50 ms per unit of cost
    assert exchange.enableRateLimit and exchange.tokenBucket["refillRate"] == 1 / 100.0
    assert retry_after_ns({"Retry-After": "3"}, 1_000) == 3_000_000_000
    assert retry_after_ns(None, 250) == 250_000_000


def test_credentials_from_env_and_a_private_file(tmp_path: Path) -> None:
    creds = ApiKeyCredentials.from_env(
        "BINANCE", {"BINANCE_API_KEY": "k1", "BINANCE_API_SECRET": "s3cret"}
    )
    assert (creds.api_key, creds.api_secret) == ("k1", "s3cret")
    assert "k1" not in repr(creds) and "s3cret" not in repr(creds)
    with pytest.raises(CredentialsError, match="BINANCE_API_SECRET") as caught:
        ApiKeyCredentials.from_env("BINANCE", {"BINANCE_API_KEY": "k1"})
    assert "k1" not in str(caught.value)
    path = tmp_path / "keys.env"
    path.write_text('# test\nBINANCE_API_KEY=k1\nBINANCE_API_SECRET="s3cret"\n')
    path.chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        ApiKeyCredentials.from_file(path, "BINANCE")
    path.chmod(0o600)
    assert ApiKeyCredentials.from_file(path, "BINANCE") == creds


def test_config_limits_keys_to_loopback_and_derives_the_venue() -> None:
    assert config_problems(CcxtVenueConfig) == []  # units in names, limits, docstrings
    config = CcxtVenueConfig()
    assert (config.venue, config.market_type) == ("binance-usdm", "perp")
    assert CcxtVenueConfig(exchange_id="binance").venue == "binance-spot"
    with pytest.raises(ValidationError):
        CcxtVenueConfig(api_url="http://example.com:80")
    with pytest.raises(ValidationError, match="call_timeout_s"):
        CcxtVenueConfig(request_timeout_s=5.0, call_timeout_s=1.0)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10_000_000), st.integers(1, 900_000), st.integers(0, 100), st.booleans())
def test_the_paper_venues_spot_commission_is_what_the_wire_books(
    price_ticks: int, lots: int, rate_bps: int, maker: bool
) -> None:
    """:func:`spot_buy_commission` (the paper venue's spot BUY) equals what :func:`fill_of`
    books from the spot simulator's trade of the same price, size and rate (one composition)."""
    price, size = price_ticks * 10_000, lots * 10
    commission_e8 = size * 100 * rate_bps // 10_000  # the simulator's, floored to 10⁻⁸
    info = {
        **SPOT_TRADE,
        "price": e8_text(price * 100),
        "qty": e8_text(size * 100),
        "commission": e8_text(commission_e8),
        "isMaker": maker,
    }
    fill = fill_of(info, SPOT, "cid", 5)
    assert (fill.fee, fill.fee_size) == spot_buy_commission(price, size, rate_bps)
