"""The simulator's exchange rules, driven directly (no server) on the real recorded books."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytraders.model.fees import taker_fee_micros
from polytraders.model.orders import Side
from polytraders.simclob.engine import SimError, SimExchange
from polytraders.simclob.replay import (
    RecordedSet,
    RecordedSnapshot,
    RecordedToken,
    derived_token_id,
    load_recorded,
)
from polytraders.simclob.server import account_for_key
from polytraders.venues.polymarket.signing import OrderSigner
from tests.conftest import POLYMARKET_SAMPLE

KEY = "0x" + "5a" * 32
BUILDER = "0x" + "c3" * 32


@pytest.fixture(scope="module")
def recorded():  # type: ignore[no-untyped-def]
    return load_recorded(Path(POLYMARKET_SAMPLE), limit_markets=1)


@pytest.fixture
def exchange(recorded) -> SimExchange:  # type: ignore[no-untyped-def]
    ex = SimExchange(recorded, account_for_key(KEY, builder_code=BUILDER), confirm_ms=0)
    ex.prime()
    ex.drain()
    return ex


def body(ex: SimExchange, token: str, side: Side, price: int, size: int, **kw: object) -> dict:  # type: ignore[type-arg]
    signer = OrderSigner(str(kw.pop("key", KEY)))
    signed = signer.sign(
        token_id=token,
        side=side,
        price=price,
        size=size,
        neg_risk=False,
        salt=int(kw.pop("salt", 1)),
        timestamp_ms=1_790_585_112_649,
        builder_code=str(kw.pop("builder", BUILDER)),
    )
    return {
        "order": signed.to_wire(),
        "owner": ex.account.api_key,
        "orderType": kw.pop("order_type", "GTC"),
        "postOnly": kw.pop("post_only", False),
    }


def test_token_ids_are_stable_uint256(recorded) -> None:  # type: ignore[no-untyped-def]
    token = next(iter(recorded.tokens.values()))
    assert derived_token_id(token.market_id, "UP") in recorded.tokens
    assert 0 < int(token.token_id) < 2**256


def test_book_wire_puts_best_prices_last(exchange: SimExchange) -> None:
    token = next(iter(exchange.tokens.values()))
    wire = token.book_wire()
    bids = [float(level["price"]) for level in wire["bids"]]
    asks = [float(level["price"]) for level in wire["asks"]]
    assert bids == sorted(bids) and asks == sorted(asks, reverse=True)
    assert bids[-1] < asks[-1]


def test_taker_walks_levels_and_consumes_liquidity(exchange: SimExchange) -> None:
    token = next(iter(exchange.tokens.values()))
    best_ask = min(token.asks)
    shown = token.asks[best_ask]
    size = min(shown, 10_000_000) // 10_000 * 10_000
    (answer,) = exchange.post_orders(
        [body(exchange, token.token_id, Side.BUY, best_ask, size)],
        0,
        owner=exchange.account.api_key,
    )
    assert answer["success"] and answer["status"] == "matched"
    assert token.asks.get(best_ask, 0) == shown - size
    assert exchange.positions[token.token_id] == size


def test_signature_builder_and_batch_limits_are_enforced(exchange: SimExchange) -> None:
    token = next(iter(exchange.tokens.values()))
    bid = max(token.bids)
    owner = exchange.account.api_key
    (forged,) = exchange.post_orders(
        [body(exchange, token.token_id, Side.BUY, bid, 5_000_000, key="0x" + "77" * 32)],
        0,
        owner=owner,
    )
    assert not forged["success"] and "signature" in forged["errorMsg"]
    (wrong_builder,) = exchange.post_orders(
        [body(exchange, token.token_id, Side.BUY, bid, 5_000_000, builder="0x" + "00" * 32)],
        0,
        owner=owner,
    )
    assert not wrong_builder["success"] and "builder" in wrong_builder["errorMsg"]
    tampered = body(exchange, token.token_id, Side.BUY, bid, 5_000_000)
    tampered["order"]["makerAmount"] = str(int(tampered["order"]["makerAmount"]) + 10_000)
    (answer,) = exchange.post_orders([tampered], 0, owner=owner)
    assert not answer["success"]
    with pytest.raises(SimError) as info:
        exchange.post_orders(
            [body(exchange, token.token_id, Side.BUY, bid, 5_000_000, salt=i) for i in range(16)],
            0,
            owner=owner,
        )
    assert info.value.status == 400


def test_dead_man_switch_cancels_all_after_the_timeout(exchange: SimExchange) -> None:
    token = next(iter(exchange.tokens.values()))
    bid = max(token.bids)
    owner = exchange.account.api_key
    exchange.post_orders(
        [body(exchange, token.token_id, Side.BUY, bid - 10_000, 5_000_000, salt=s) for s in (1, 2)],
        0,
        owner=owner,
    )
    first = exchange.heartbeat("", 1_000)["heartbeat_id"]
    with pytest.raises(SimError) as info:
        exchange.heartbeat("stale", 2_000)
    assert info.value.status == 400 and first in info.value.body["error"]
    exchange.tick(1_000 + 10_000_000_000)  # exactly 10 s: still alive
    assert sum(o.status == "LIVE" for o in exchange.orders.values()) == 2
    exchange.tick(1_001 + 10_000_000_000)
    assert sum(o.status == "LIVE" for o in exchange.orders.values()) == 0
    assert exchange.dead_man_fired == 1


def test_failed_trade_reverts_balances(exchange: SimExchange) -> None:
    token = next(iter(exchange.tokens.values()))
    ask = min(token.asks)
    before = exchange.collateral
    exchange.faults.fail_trades = 1
    exchange.post_orders(
        [body(exchange, token.token_id, Side.BUY, ask, 5_000_000)],
        0,
        owner=exchange.account.api_key,
    )
    exchange.tick(1)
    statuses = [t.status for t in exchange.trades]
    assert statuses == ["FAILED"]
    assert exchange.positions[token.token_id] == 0
    # the trade is undone; only the taker fee stays charged (no refund modelled)
    assert before - exchange.collateral == taker_fee_micros(5_000_000, ask, 70_000)


def test_trades_are_listed_by_match_time_after_and_before_exclusive(
    exchange: SimExchange,
) -> None:
    token = next(iter(exchange.tokens.values()))
    ask = min(token.asks)
    for salt, now_s in ((1, 5), (2, 9)):
        exchange.post_orders(
            [body(exchange, token.token_id, Side.BUY, ask, 5_000_000, salt=salt)],
            now_s * 1_000_000_000,
            owner=exchange.account.api_key,
        )

    def matched(after_s: int | None = None, before_s: int | None = None) -> list[str]:
        return [t["match_time"] for t in exchange.trades_wire(after_s, before_s)]

    assert matched() == ["5", "9"]
    assert matched(after_s=4) == ["5", "9"]
    assert matched(after_s=5) == ["9"]
    assert matched(before_s=9) == ["5"]
    assert matched(after_s=5, before_s=9) == []
    assert matched(after_s=4, before_s=10) == ["5", "9"]


def test_replay_publishes_price_changes_and_fills_resting_orders(exchange: SimExchange) -> None:
    token = next(iter(exchange.tokens.values()))
    exchange.post_orders(
        [body(exchange, token.token_id, Side.BUY, max(token.bids), 5_000_000)],
        0,
        owner=exchange.account.api_key,
    )
    exchange.drain()
    applied = exchange.step(50)
    assert applied == 50
    events = [e for channel, _, e in exchange.drain() if channel == "market"]
    assert any(e["event_type"] == "price_change" for e in events)


def _tiny_recording() -> RecordedSet:
    """One market, four snapshots alternating its two tokens, 100 ms apart; each snapshot's
    best bid tells it apart (0.40, 0.41, 0.42, 0.43)."""
    up, down = derived_token_id("m", "UP"), derived_token_id("m", "DOWN")
    tokens = {up: RecordedToken(up, "m", "Up", down), down: RecordedToken(down, "m", "Down", up)}
    snaps = [
        RecordedSnapshot(
            up if i % 2 == 0 else down,
            1_000 + 100 * i,
            [(400_000 + 10_000 * i, 9_000_000)],
            [(600_000, 9_000_000)],
        )
        for i in range(4)
    ]
    return RecordedSet(tokens, snaps)


def test_a_looping_replay_goes_back_and_forth_with_times_increasing() -> None:
    recording = _tiny_recording()
    once = SimExchange(recording, account_for_key(KEY))
    assert (once.step(10), once.step(1), once.lap) == (4, 0, 0)  # without loop it runs out
    looping = SimExchange(recording, account_for_key(KEY), loop=True)
    replayed: list[tuple[int, int, int]] = []  # (snapshot index by its bid, time, lap)
    for _ in range(12):
        assert looping.step(1) == 1
        token = looping.tokens[recording.snapshots[0].token_id]
        other = looping.tokens[recording.snapshots[1].token_id]
        latest = max((token, other), key=lambda t: t.ts_ms)
        replayed.append(((max(latest.bids) - 400_000) // 10_000, latest.ts_ms, looping.lap))
    assert [i for i, _, _ in replayed] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert [ts for _, ts, _ in replayed] == list(range(1_000, 2_200, 100))
    assert [lap for _, _, lap in replayed] == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
    assert looping.cursor == 12
