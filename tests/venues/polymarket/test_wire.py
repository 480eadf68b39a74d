"""Typed CLOB v2 answers (``venues.polymarket.wire``): every answer the venue reads, recorded
from the simulator's real HTTP answers while the venue trades, decodes to its struct with the
values sent; malformed versions of each (a field missing, a wrong type, a bad decimal, a page
without a cursor) are a :class:`MalformedAnswerError` naming the endpoint, the registered code
and the place, never a ``KeyError`` deep inside; and the venue treats such an answer as no
answer."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from polytraders.contracts.reasons import load_registry
from polytraders.model.events import OrderAccepted
from polytraders.model.orders import OrderStatus, Side
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from polytraders.venues.polymarket.wire import (
    MALFORMED_ANSWER,
    BalanceAllowance,
    BookAnswer,
    CancelAnswer,
    ClosedOnlyAnswer,
    HeartbeatAnswer,
    MalformedAnswerError,
    OpenOrder,
    PostOrderAnswer,
    Trade,
    fetch,
)
from tests.venues.polymarket.conftest import credentials_for, first_token, order, top

RECORDED = (
    "post_orders",
    "get_open_orders",
    "get_order",
    "get_trades",
    "get_balance_allowance",
    "cancel_order",
    "cancel_orders",
    "cancel_all",
    "post_heartbeat",
    "get_closed_only_mode",
    "get_order_book",
)


@pytest.fixture(scope="module")
def answers(sim: SimClobServer, signer_key: str, sim_account: Account) -> dict[str, list[Any]]:
    """The raw answers (decoded JSON, as the client returns them) to every request a venue
    makes while it trades: three resting orders and a marketable one, a trade sync, a
    heartbeat, the balances, the closed-only status, the book, one order by hash, the open
    orders, and a cancel of each kind. Recorded once for the module."""
    sim.control("clear")
    config = PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)
    venue = PolymarketVenue.from_credentials(credentials_for(signer_key, sim_account), config)
    raw: dict[str, list[Any]] = {name: [] for name in RECORDED}
    for name in RECORDED:
        original = getattr(venue.client, name)

        def recorder(
            *args: Any, _name: str = name, _call: Callable[..., Any] = original, **kwargs: Any
        ) -> Any:
            answer = _call(*args, **kwargs)
            raw[_name].append(copy.deepcopy(answer))
            return answer

        setattr(venue.client, name, recorder)
    token = first_token(sim)
    venue.load_token(token)
    venue.mark_reconciled()
    bid, ask = top(venue, token)
    now = time.time_ns()
    resting = [order(token, Side.BUY, bid - 10_000 * k) for k in (2, 3, 4)]
    taker = order(token, Side.BUY, ask, 5_000_000)
    for each in (*resting, taker):
        venue.submit(each, now)
    venue.flush(now)
    venue.sync_trades(now, limited=False)
    venue.heartbeat(now)
    venue.balances()
    venue.position(token)
    venue.refresh_closed_only()
    hashes = [venue.order(o.client_order_id).venue_order_id for o in resting]  # type: ignore[union-attr]
    venue.client.get_order(hashes[0])
    venue.fetch_open_orders()
    venue.cancel(resting[0].client_order_id, now)
    venue.cancel_venue_orders([hashes[1]])
    venue.cancel_all(now)
    venue.close()
    return raw


def test_every_answer_the_simulator_gives_decodes_to_its_struct(
    answers: dict[str, list[Any]], sim: SimClobServer
) -> None:
    assert all(answers[name] for name in RECORDED), {n: len(a) for n, a in answers.items()}
    posted = fetch("POST /orders", list[PostOrderAnswer], lambda: answers["post_orders"][0])
    assert [a.success for a in posted] == [True] * 4
    assert [a.status for a in posted] == ["live", "live", "live", "matched"]
    assert all(a.order_id.startswith("0x") and a.error_msg == "" for a in posted)
    listed = fetch("GET /data/orders", list[OpenOrder], lambda: answers["get_open_orders"][0])
    assert {row.id for row in listed} >= {a.order_id for a in posted[:3]}  # before the cancels
    for row in listed:
        if row.id in {a.order_id for a in posted[:3]}:
            assert row.order_side is Side.BUY and row.size_matched_micros == 0
            assert row.original_size_micros == 10_000_000 and 0 < row.price_micros < 1_000_000
            assert row.time_in_force.value == "GTC" and row.status == "LIVE"
    one = fetch("GET /data/order", OpenOrder, lambda: answers["get_order"][0])
    assert one.id == posted[0].order_id and one.status == "LIVE"
    trades = fetch("GET /data/trades", list[Trade], lambda: answers["get_trades"][0])
    assert trades and trades[-1].taker_order_id == posted[3].order_id
    assert trades[-1].size_micros > 0 and trades[-1].fee_bps == sim.exchange.fee_rate_bps
    assert trades[-1].ts_event_ns > 0 and trades[-1].makers == ()
    collateral, held = (
        fetch("GET /balance-allowance", BalanceAllowance, lambda a=a: a).balance_micros
        for a in answers["get_balance_allowance"]
    )
    assert collateral == sim.exchange.collateral
    assert held == sim.exchange.positions[first_token(sim)] > 0
    beat = fetch("POST /v1/heartbeats", HeartbeatAnswer, lambda: answers["post_heartbeat"][0])
    assert len(beat.heartbeat_id) == 40
    closed = fetch(
        "GET /auth/ban-status/closed-only",
        ClosedOnlyAnswer,
        lambda: answers["get_closed_only_mode"][0],
    )
    assert closed.closed_only is False
    book = fetch("GET /book", BookAnswer, lambda: answers["get_order_book"][-1])
    token = sim.exchange.tokens[first_token(sim)]
    assert (book.tick_size_micros, book.neg_risk) == (token.tick_size, token.neg_risk)
    assert book.min_order_size_micros > 0 and book.market == token.market_id
    cancels = [
        fetch("DELETE", CancelAnswer, lambda a=a: a).canceled_ids
        for name in ("cancel_order", "cancel_orders", "cancel_all")
        for a in answers[name]
    ]
    assert cancels[:2] == [(posted[0].order_id,), (posted[1].order_id,)]
    assert posted[2].order_id in cancels[2]


def _without(answer: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != key}


MALFORMED: list[tuple[str, str, Any, Callable[[Any], Any], str]] = [
    (
        "POST /orders",
        "post_orders",
        list[PostOrderAnswer],
        lambda a: [_without(a[0], "success")],
        "$[0]",
    ),
    ("POST /orders", "post_orders", list[PostOrderAnswer], lambda a: {"error": "x"}, "array"),
    (
        "GET /data/orders",
        "get_open_orders",
        list[OpenOrder],
        lambda a: [{**a[0], "size_matched": [1]}],
        "$[0].size_matched",
    ),
    (
        "GET /data/orders",
        "get_open_orders",
        list[OpenOrder],
        lambda a: [{**a[0], "price": "1.5"}],
        "outside (0, 1)",
    ),
    (
        "GET /data/orders",
        "get_open_orders",
        list[OpenOrder],
        lambda a: [{**a[0], "side": "HOLD"}],
        "neither BUY nor SELL",
    ),
    (
        "GET /data/order",
        "get_order",
        OpenOrder,
        lambda a: _without(a, "id"),
        "missing required field `id`",
    ),
    (
        "GET /data/order",
        "get_order",
        OpenOrder,
        lambda a: {**a, "original_size": "1e-20000000"},
        "not a 6-decimal amount",
    ),
    (
        "GET /data/trades",
        "get_trades",
        list[Trade],
        lambda a: [_without(a[0], "status")],
        "`status`",
    ),
    (
        "GET /data/trades",
        "get_trades",
        list[Trade],
        lambda a: [{**a[0], "fee_rate_bps": "1e3"}],
        "fee_rate_bps",
    ),
    (
        "GET /data/trades",
        "get_trades",
        list[Trade],
        lambda a: [{**a[0], "match_time": "soon"}],
        "timestamp",
    ),
    (
        "GET /data/trades",
        "get_trades",
        list[Trade],
        lambda a: [{**a[0], "maker_orders": [1]}],
        "maker_orders",
    ),
    (
        "GET /balance-allowance",
        "get_balance_allowance",
        BalanceAllowance,
        lambda a: {"balance": "-5"},
        "non-negative integer",
    ),
    (
        "GET /balance-allowance",
        "get_balance_allowance",
        BalanceAllowance,
        lambda a: {},
        "missing required field `balance`",
    ),
    (
        "POST /v1/heartbeats",
        "post_heartbeat",
        HeartbeatAnswer,
        lambda a: {"heartbeat_id": None},
        "heartbeat_id",
    ),
    (
        "GET /auth/ban-status/closed-only",
        "get_closed_only_mode",
        ClosedOnlyAnswer,
        lambda a: {"closed_only": "no"},
        "closed_only",
    ),
    ("DELETE /cancel-all", "cancel_all", CancelAnswer, lambda a: {"canceled": "all"}, "canceled"),
    ("GET /book", "get_order_book", BookAnswer, lambda a: _without(a, "tick_size"), "tick_size"),
    ("GET /book", "get_order_book", BookAnswer, lambda a: "OK", "object"),
]


@pytest.mark.parametrize(
    ("endpoint", "recorded", "shape", "spoil", "where"),
    MALFORMED,
    ids=[f"{m[0]}-{m[4]}" for m in MALFORMED],
)
def test_a_malformed_answer_is_one_clear_error_with_the_registered_code(
    answers: dict[str, list[Any]],
    endpoint: str,
    recorded: str,
    shape: Any,
    spoil: Callable[[Any], Any],
    where: str,
) -> None:
    spoiled = spoil(copy.deepcopy(answers[recorded][0]))
    with pytest.raises(MalformedAnswerError) as caught:
        fetch(endpoint, shape, lambda: spoiled)
    error = caught.value
    assert error.status == 0 and error.endpoint == endpoint
    assert error.reason_code == MALFORMED_ANSWER
    assert f"malformed answer to {endpoint} ({MALFORMED_ANSWER})" in error.message
    assert where in error.message and "\n" not in error.message
    assert MALFORMED_ANSWER in set(load_registry())


def test_a_page_without_a_cursor_is_malformed_not_a_key_error(
    venue: PolymarketVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client library paginates (``response["next_cursor"]``): a page without it is a
    malformed answer to the listing."""
    monkeypatch.setattr(venue.client, "_get", lambda *a, **k: {"data": []})
    with pytest.raises(MalformedAnswerError, match=r"GET /data/orders.*next_cursor"):
        venue.fetch_open_orders()
    monkeypatch.setattr(venue.client, "_get", lambda *a, **k: "not json")
    with pytest.raises(MalformedAnswerError, match="GET /data/trades"):
        venue.reconciliation_snapshot(time.time_ns())
    # a wrong call is a bug, not an answer: it propagates as it is
    with pytest.raises(TypeError, match="order_id"):
        fetch("GET /data/order", OpenOrder, venue.client.get_order)


def test_the_venue_treats_a_malformed_answer_as_no_answer(
    venue: PolymarketVenue,
    sim: SimClobServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A malformed post answer leaves the orders' outcome unknown: they are neither accepted
    nor rejected until ``GET /data/order/{hash}`` says (here: accepted). A malformed trade
    listing is a failed sync (logged with the code, new orders held as on no answer). A
    malformed heartbeat answer is a refused heartbeat."""
    token = first_token(sim)
    bid, _ask = top(venue, token)
    original = venue.client.post_orders
    monkeypatch.setattr(
        venue.client, "post_orders", lambda *a, **k: [{"garbage": True}] * len(original(*a, **k))
    )
    resting = order(token, Side.BUY, bid - 30_000)
    now = time.time_ns()
    venue.submit(resting, now)
    with caplog.at_level(logging.WARNING):
        venue.flush(now)
    assert venue.poll() == []
    assert venue.order(resting.client_order_id).status is OrderStatus.PENDING_NEW  # type: ignore[union-attr]
    assert MALFORMED_ANSWER in caplog.text
    monkeypatch.setattr(venue.client, "post_orders", original)
    venue.advance(time.time_ns())
    assert any(isinstance(e, OrderAccepted) for e in venue.poll())
    assert venue.order(resting.client_order_id).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]

    monkeypatch.setattr(venue.client, "get_trades", lambda *a, **k: [{"id": "t"}])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert venue.sync_trades(time.time_ns(), limited=False) is False
    assert MALFORMED_ANSWER in caplog.text
    assert venue.halt_reason == "SYS_POLY_UNAVAILABLE"

    monkeypatch.setattr(venue.client, "post_heartbeat", lambda *a, **k: {"id": 1})
    assert venue.heartbeat(time.time_ns()) is False
