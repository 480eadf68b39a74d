"""The user channel and the trade parsing behind it (``venues.polymarket.wire`` decoding, then
``venues.polymarket.trades``) turn every malformed message into a counted frame or a
``ValueError`` (which the live desk counts and skips), never another exception, and never a
fill with an impossible price, size or fee."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.feeds.live.user_channel import UserAuth, UserChannel
from polytraders.model.orders import Side, VenueOrder
from polytraders.venues.polymarket.trades import TradeOutcome, TradeTracker, TradeUpdate
from polytraders.venues.polymarket.wire import Trade, decode, timestamp_ns
from tests.fuzz.bounds import bounded, fuzz
from tests.fuzz.strategies import json_values

ORDER_HASH = "0x" + "ab" * 32
ORDER = VenueOrder(
    client_order_id="c-1",
    intent_id="i-1",
    token_id="tok",
    market_id="m",
    side=Side.BUY,
    price=450_000,
    size=10_000_000,
    venue_order_id=ORDER_HASH,
)


def _apply(trade: object) -> list[TradeUpdate]:
    """Decode at the boundary, then apply: what the venue does with a trade."""
    return TradeTracker().apply(decode(trade, Trade, "trade"), {ORDER_HASH: ORDER}, 1)


def _trade(**changes: object) -> dict[str, object]:
    trade: dict[str, object] = {
        "id": "t-1",
        "status": "MATCHED",
        "taker_order_id": ORDER_HASH,
        "price": "0.45",
        "size": "2",
        "fee_rate_bps": "0",
        "match_time": "1767225600",
        "maker_orders": [],
    }
    trade.update(changes)
    return trade


def test_a_well_formed_trade_is_one_fill() -> None:
    updates = _apply(_trade())
    assert [u.outcome for u in updates] == [TradeOutcome.NEW]
    assert (updates[0].fill.price, updates[0].fill.size) == (450_000, 2_000_000)
    assert updates[0].fill.ts_event_ns == 1_767_225_600 * 10**9


MALFORMED_TRADES: dict[str, Any] = {
    "not-a-dict": ["t-1", "MATCHED"],
    "no-price": {k: v for k, v in _trade().items() if k != "price"},
    "price-list": _trade(price=[1]),
    "price-huge-exponent": _trade(price="1e-20000000"),
    "price-above-one": _trade(price="1.5"),
    "price-zero": _trade(price="0"),
    "size-negative": _trade(size="-2"),
    "size-zero": _trade(size="0"),
    "fee-negative": _trade(fee_rate_bps="-5"),
    "fee-text": _trade(fee_rate_bps="1e3"),
    "fee-5000-digits": _trade(fee_rate_bps="9" * 5_000),
    "time-5000-digits": _trade(match_time="9" * 5_000),
    "time-negative": _trade(match_time="-5"),
    "time-text": _trade(match_time="soon"),
    "time-beyond-int64": _trade(match_time="99999999999999999999"),
    "id-object": _trade(id={"a": 1}),
    "status-list": _trade(status=["MATCHED"]),
    "makers-not-list": _trade(maker_orders="x", taker_order_id=""),
    "maker-not-dict": _trade(maker_orders=[1], taker_order_id=""),
    "maker-no-amount": _trade(
        maker_orders=[{"order_id": ORDER_HASH, "price": "0.45"}], taker_order_id=""
    ),
}


@pytest.mark.parametrize("trade", list(MALFORMED_TRADES.values()), ids=list(MALFORMED_TRADES))
def test_malformed_trades_raise_value_error_at_once(trade: Any) -> None:
    outcome = bounded(lambda: _apply(trade), (ValueError,))
    assert isinstance(outcome, ValueError)


@pytest.mark.parametrize("value", ["9" * 5_000, "-1", "1e5", [1], {"a": 1}, True])
def test_timestamp_ns_refuses_what_is_not_a_time(value: object) -> None:
    with pytest.raises(ValueError):
        timestamp_ns(value)


_TRADE_KEYS = st.sampled_from(
    [
        "id",
        "status",
        "taker_order_id",
        "price",
        "size",
        "fee_rate_bps",
        "match_time",
        "timestamp",
        "maker_orders",
        "order_id",
        "matched_amount",
    ]
)


def _trade_like() -> st.SearchStrategy[object]:
    field = st.one_of(
        json_values(),
        st.sampled_from(
            [
                "0.45",
                "1",
                "-1",
                "1e-20000000",
                "9" * 70,
                ORDER_HASH,
                "MATCHED",
                "CONFIRMED",
                "FAILED",
                "1767225600",
                "1767225600123",
            ]
        ),
    )
    maker = st.dictionaries(_TRADE_KEYS, field, max_size=4)
    return st.one_of(
        json_values(),
        st.dictionaries(
            _TRADE_KEYS,
            st.one_of(field, st.lists(maker, max_size=3)),
            max_size=9,
        ),
    )


@fuzz(300)
@given(_trade_like())
def test_any_trade_message_is_fills_or_value_error(trade: object) -> None:
    outcome = bounded(
        lambda: _apply(trade),
        (ValueError,),
    )
    if not isinstance(outcome, ValueError):
        for update in outcome:
            assert 0 < update.fill.price < 1_000_000
            assert update.fill.size > 0 and update.fill.fee >= 0
            assert update.fill.side is Side.BUY and update.fill.token_id == "tok"


HOSTILE_USER_FRAMES = [
    b"\xff\xfe",
    b'{"event_type":"tr\xc3ade"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'[{"event_type":[1]}]',
    b'{"event_type":{"a":1}}',
    b"[1, 2, null]",
    b'{"event_type":"trade","id":"x"}',  # goes to the sink (the venue refuses it)
    "{not json",
]


def test_hostile_user_frames_are_counted_never_raised() -> None:
    received: list[dict[str, Any]] = []
    channel = UserChannel(UserAuth("k", "s", "p"), lambda item, _ts: received.append(item))
    for frame in HOSTILE_USER_FRAMES:
        channel.on_frame(1, frame)
    assert received == [{"event_type": "trade", "id": "x"}]
    # every frame but the trade counts once, "[1, 2, null]" three times
    assert channel.stats.bad_input_total == len(HOSTILE_USER_FRAMES) - 1 + 2
    with pytest.raises(ValueError):
        _apply(received[0])


@fuzz(300)
@given(st.one_of(st.binary(max_size=300), json_values().map(repr)))
def test_any_user_frame_is_counted_or_passed_on(frame: bytes | str) -> None:
    channel = UserChannel(UserAuth("k", "s", "p"), lambda item, _ts: None)
    bounded(lambda: channel.on_frame(1, frame))


def test_amounts_as_json_numbers_parse_exactly_and_fractional_fees_are_refused() -> None:
    updates = _apply(_trade(price=0.45, size=2))
    assert (updates[0].fill.price, updates[0].fill.size) == (450_000, 2_000_000)
    with pytest.raises(ValueError, match="fee_rate_bps"):
        _apply(_trade(fee_rate_bps="0.5"))
    with pytest.raises(ValueError, match="over 100"):
        _apply(_trade(fee_rate_bps="10001"))
    assert timestamp_ns("1767225600.5") == 1_767_225_600 * 10**9
