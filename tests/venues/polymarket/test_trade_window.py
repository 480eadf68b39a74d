"""The periodic trade sync asks only for a recent window (``GET /data/trades?after=``), so its
cost does not grow with the session's fills; the first sync of a venue (start-up, restart)
reads the whole history. Old trades are made by setting the simulator's clock back while they
match; ``get_trades`` of the real client is wrapped to record what was asked and listed."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from py_clob_client_v2.clob_types import TradeParams

from polytraders.model.fills import Fill
from polytraders.model.orders import Side
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, credentials_for
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from polytraders.venues.polymarket.venue import TRADE_WINDOW_MARGIN_S, PolymarketVenue
from polytraders.venues.polymarket.wire import Trade
from tests.venues.polymarket.conftest import first_token, order, top
from tests.waiting import wait_until

RETENTION_S = 60
AGO_S = 7_200
"""How long before now the old trades match (far outside any window)."""
_S = 1_000_000_000


@pytest.fixture(scope="module")
def window_sim(sim_account: Account) -> Iterator[SimClobServer]:
    """Trades confirm (or fail) 3 s after they match on the simulator's clock, so a sync right
    after the match sees them MATCHED first, even on a loaded machine."""
    with SimClobServer(SimSettings(limit_markets=1, confirm_ms=3_000), sim_account) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_account(window_sim: SimClobServer) -> Iterator[None]:
    window_sim.control("reset_account", collateral=1_000_000_000, positions={})
    yield
    window_sim.control("set_clock", now_ns=0)
    window_sim.control("clear")


class TradeLog:
    """Wraps the venue client's ``get_trades``: records each call's ``after`` and the trade
    ids listed."""

    def __init__(self, venue: PolymarketVenue) -> None:
        self.calls: list[tuple[int | None, list[str]]] = []
        real = venue.client.get_trades

        def get_trades(params: TradeParams | None = None, *a: Any, **k: Any) -> Any:
            rows = real(params, *a, **k)
            self.calls.append((params.after if params else None, [r["id"] for r in rows]))
            return rows

        venue.client.get_trades = get_trades


def make_venue(
    sim: SimClobServer, key: str, account: Account, *, retention_s: int = RETENTION_S
) -> tuple[PolymarketVenue, TradeLog]:
    config = PolymarketVenueConfig(
        clob_url=sim.url, trades_poll_ms=1_000, closed_order_retention_s=retention_s
    )
    venue = PolymarketVenue.from_credentials(credentials_for(key, account), config)
    for token_id in sorted(sim.exchange.tokens):
        venue.load_token(token_id)
    venue.mark_reconciled()
    return venue, TradeLog(venue)


def take_at(
    sim: SimClobServer, venue: PolymarketVenue, match_ns: int, *, sync_first: bool = False
) -> str:
    """A taker buy that fills at once, matched at ``match_ns`` on the simulator's clock (set
    back for it, then returned to the wall clock); its client order id. Only ``flush`` runs
    meanwhile — and with ``sync_first`` one ``sync_trades``, while the trade is still MATCHED
    on the shifted clock (back on the wall clock, an old trade settles at the next tick) —:
    no heartbeat is sent on the shifted clock."""
    token = first_token(sim)
    _bid, ask = top(venue, token)
    taker = order(token, Side.BUY, ask, size=5_000_000)
    sim.control("set_clock", now_ns=match_ns)
    venue.submit(taker, time.time_ns())
    venue.flush(time.time_ns())
    if sync_first:
        venue.sync_trades(time.time_ns())
    sim.control("set_clock", now_ns=0)
    return str(taker.client_order_id)


def settled(sim: SimClobServer) -> None:
    wait_until(
        lambda: all(t["status"] in ("CONFIRMED", "FAILED") for t in sim.sim_trades()),
        10,
        "the trades to settle",
    )


def fills(events: list[Any]) -> list[str]:
    return [e.fill_id for e in events if isinstance(e, Fill)]


def test_the_simulator_lists_trades_by_match_time(
    window_sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    venue, _log = make_venue(window_sim, signer_key, sim_account)
    old_ns = time.time_ns() - AGO_S * _S
    take_at(window_sim, venue, old_ns)
    take_at(window_sim, venue, time.time_ns())
    old_s = old_ns // _S
    listed = venue.client.get_trades(TradeParams())
    assert len(listed) == 2
    new_s = max(int(t["match_time"]) for t in listed)
    recent = venue.client.get_trades(TradeParams(after=old_s + 60))
    assert [int(t["match_time"]) for t in recent] == [new_s]
    early = venue.client.get_trades(TradeParams(before=old_s + 60))
    assert [int(t["match_time"]) for t in early] == [old_s]
    venue.close()


def test_the_periodic_poll_asks_a_window_that_leaves_old_fills_out(
    window_sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    sim = window_sim
    venue, log = make_venue(sim, signer_key, sim_account)
    old = take_at(sim, venue, time.time_ns() - AGO_S * _S)
    now = time.time_ns()
    venue.sync_trades(now)  # the venue's first sync: the whole history
    booked = fills(venue.poll())
    assert booked == [f"{sim.sim_trades()[0]['id']}:{old}"]
    assert log.calls[-1][0] is None
    settled(sim)
    venue.sync_trades(now + _S)  # the trade's CONFIRMED (the window reaches back to it)
    assert log.calls[-1][1] == [sim.sim_trades()[0]["id"]]

    # a resting order keeps the periodic poll going; another fill matches now
    token = first_token(sim)
    bid, _ask = top(venue, token)
    venue.submit(order(token, Side.BUY, bid - 10_000, post_only=True), time.time_ns())
    new = take_at(sim, venue, time.time_ns())
    polled_from = len(log.calls)
    start = time.time_ns()
    for step in range(1, 6):
        venue.advance(start + step * 1_100_000_000)
    polls = log.calls[polled_from:]
    assert len(polls) >= 4
    for after_s, ids in polls:
        assert after_s is not None
        assert after_s <= start // _S - RETENTION_S - TRADE_WINDOW_MARGIN_S + 10
        assert after_s > start // _S - AGO_S
        assert sim.sim_trades()[0]["id"] not in ids
    booked += fills(venue.poll())
    assert [f.split(":", 1)[1] for f in booked] == [old, new]
    assert len(set(booked)) == 2
    venue.cancel_all(time.time_ns())  # its sync reads the whole history: nothing new
    assert log.calls[-1][0] is None
    assert not fills(venue.poll())
    venue.close()


@pytest.mark.parametrize("ago_s", [0, 1_000])
def test_a_trade_that_fails_is_reverted_by_the_windowed_poll(
    window_sim: SimClobServer, signer_key: str, sim_account: Account, ago_s: int
) -> None:
    """Matched now, or longer ago than retention and margin (the window then reaches back to
    the oldest trade not final yet): its FAILED is seen and the counted fill reverted."""
    sim = window_sim
    venue, log = make_venue(sim, signer_key, sim_account, retention_s=0)
    sim.control("fail_trades", count=1)
    # the first sync sees it MATCHED: counted
    taker = take_at(sim, venue, time.time_ns() - ago_s * _S, sync_first=True)
    (counted,) = fills(venue.poll())
    assert counted.endswith(f":{taker}")
    settled(sim)
    assert [t["status"] for t in sim.sim_trades()] == ["FAILED"]
    token = first_token(sim)
    bid, _ask = top(venue, token)
    venue.submit(order(token, Side.BUY, bid - 10_000, post_only=True), time.time_ns())
    polled_from = len(log.calls)
    start = time.time_ns()
    venue.advance(start)
    venue.advance(start + 1_100_000_000)
    polls = log.calls[polled_from:]
    assert polls and all(after_s is not None for after_s, _ids in polls)
    assert [f.fill_id for f in venue.take_reverted()] == [counted]
    venue.cancel_all(time.time_ns())
    venue.close()


def test_a_restart_books_every_old_fill_exactly_once(
    window_sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    """A restarted venue (new instance, orders restored, the store missed the fills) reads
    the whole history once, so fills matched long before any window are reported once; the
    windowed polls after it report none again."""
    sim = window_sim
    first, _log = make_venue(sim, signer_key, sim_account)
    old = take_at(sim, first, time.time_ns() - AGO_S * _S)
    recent = take_at(sim, first, time.time_ns())
    first.sync_trades(time.time_ns())
    assert len(fills(first.poll())) == 2
    orders = first.orders()
    first.close()
    settled(sim)

    restarted, log = make_venue(sim, signer_key, sim_account)
    restarted.restore(orders)
    token = first_token(sim)
    bid, _ask = top(restarted, token)
    restarted.submit(order(token, Side.BUY, bid - 10_000, post_only=True), time.time_ns())
    start = time.time_ns()
    for step in range(4):
        restarted.advance(start + step * 1_100_000_000)
    assert [after_s is None for after_s, _ids in log.calls][:2] == [True, False]
    booked = fills(restarted.poll())
    assert sorted(f.split(":", 1)[1] for f in booked) == sorted([old, recent])
    assert len(booked) == 2
    restarted.cancel_all(time.time_ns())
    assert not fills(restarted.poll())
    restarted.close()


class Listing(list[Trade]):
    """A decoded listing that can be referenced weakly."""


def test_the_reconciliation_snapshot_holds_one_decoded_history_at_a_time(
    window_sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    """The snapshot lists the whole history twice (before and after the orders); the first
    listing's decoded trades are gone when the second is asked, so its transient memory is
    one history's, not two (its size grows with the session: docs/performance.md)."""
    venue, _log = make_venue(window_sim, signer_key, sim_account)
    for _ in range(3):
        take_at(window_sim, venue, time.time_ns())
    listed: list[weakref.ref[Listing]] = []
    alive_when_asked: list[int] = []
    real = venue._list_trades

    def list_trades(after_s: int | None = None) -> list[Trade]:
        alive_when_asked.append(sum(ref() is not None for ref in listed))
        got = Listing(real(after_s))
        listed.append(weakref.ref(got))
        return got

    venue._list_trades = list_trades
    snapshot = venue.reconciliation_snapshot(time.time_ns())
    assert len(snapshot.fills) == 3
    assert alive_when_asked == [0, 0]
    venue.close()
