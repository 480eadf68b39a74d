"""The simulator's scenario controls (``set_book``, ``set_clock``, ``reset_account``,
``GET /sim/orders``) and its market filter: what the readiness fixture packs use to put the
simulator in the state a recorded case describes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.simclob.engine import Account
from polytraders.simclob.replay import derived_token_id
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from polytraders.venues.polymarket.venue import PolymarketVenue
from tests.venues.polymarket.conftest import credentials_for, throwaway_key

M3 = "0xdb317dd2bf1c1552d222ef0bbfed67bd866323ab02db0e0aff21bb20e233212a"
"""The sample's third market ("5:45AM-6:00AM ET")."""
UP, DOWN = derived_token_id(M3, "UP"), derived_token_id(M3, "DOWN")
CLOCK_NS = 1_790_587_951_001_000_000
"""A time inside M3's recording (2026-09-28), months before the wall clock."""


@pytest.fixture(scope="module")
def keyed() -> tuple[str, Account]:
    key = throwaway_key()
    return key, account_for_key(key)


@pytest.fixture(scope="module")
def sim(keyed: tuple[str, Account]) -> Iterator[SimClobServer]:
    settings = SimSettings(limit_markets=None, market_ids=(M3,))
    with SimClobServer(settings, keyed[1]) as server:
        yield server


@pytest.fixture
def venue(sim: SimClobServer, keyed: tuple[str, Account]) -> Iterator[PolymarketVenue]:
    sim.control("reset_account", collateral=100_000_000, positions={})
    sim.control("set_clock", now_ns=CLOCK_NS)
    sim.control("set_book", token_id=UP, bids=[[500_000, 10_000_000]],
                asks=[[510_000, 20_000_000]], ts_ms=CLOCK_NS // 1_000_000,
                tick_size=10_000, min_order_size=5_000_000)  # fmt: skip
    config = PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)
    opened = PolymarketVenue.from_credentials(credentials_for(*keyed), config)
    opened.load_token(UP, M3, DOWN)
    opened.mark_reconciled()
    yield opened
    opened.close()
    sim.control("set_clock", now_ns=0)


def test_only_the_named_markets_are_served(sim: SimClobServer) -> None:
    assert set(sim.exchange.tokens) == {UP, DOWN}


def test_set_book_replaces_the_book_and_its_metadata(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    book = venue.client.get_order_book(UP)
    assert [(b["price"], b["size"]) for b in book["bids"]] == [("0.5", "10")]
    assert [(a["price"], a["size"]) for a in book["asks"]] == [("0.51", "20")]
    assert (book["tick_size"], book["min_order_size"]) == ("0.01", "5")
    assert book["timestamp"] == str(CLOCK_NS // 1_000_000)
    sim.control("set_book", token_id=UP, bids=[], asks=[[990_000, 1_000_000]], ts_ms=1,
                tick_size=1_000)  # fmt: skip
    book = venue.client.get_order_book(UP)
    assert book["bids"] == [] and book["tick_size"] == "0.001"
    with httpx.Client(base_url=sim.url, timeout=5.0) as raw:
        token = {"Authorization": f"Bearer {sim.control_token}"}
        for bad in (
            {"kind": "set_book", "token_id": "123", "bids": [], "asks": [], "ts_ms": 1},
            {"kind": "set_book", "token_id": UP, "bids": [[1_000_000, 1]], "asks": [], "ts_ms": 1},
            {"kind": "set_book", "token_id": UP, "bids": [["0.5", "1"]], "asks": [], "ts_ms": 1},
            {"kind": "set_book", "token_id": UP, "bids": []},
        ):
            assert raw.post("/sim/fault", json=bad, headers=token).status_code == 400, bad


def test_the_clock_follows_set_clock_and_judges_gtd_expiry(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    """At the case's clock a GTD order expiring 90 s later is valid (the wall clock, months
    later, would refuse it), it shows post-only in ``/sim/orders``, and ``reset_account``
    forgets it."""
    with httpx.Client(base_url=sim.url, timeout=5.0) as raw:
        assert abs(raw.get("/time").json() - CLOCK_NS // 1_000_000_000) <= 5
    order = VenueOrder(
        client_order_id="ctl/1", intent_id="ctl", token_id=UP, side=Side.BUY, price=400_000,
        size=5_000_000, time_in_force=TimeInForce.GTD, expire_at_ns=CLOCK_NS + 90_000_000_000,
        post_only=True, ts_created_ns=CLOCK_NS,
    )  # fmt: skip
    venue.submit(order, CLOCK_NS)
    venue.advance(CLOCK_NS)
    (row,) = sim.sim_orders()
    assert row["status"] == "LIVE" and row["post_only"] is True
    assert (row["price"], row["original_size"], row["order_type"]) == (400_000, 5_000_000, "GTD")
    assert row["expiration_s"] == (CLOCK_NS + 90_000_000_000) // 1_000_000_000
    assert venue.balances() == {"pUSD": 100_000_000}
    sim.control("reset_account", collateral=7_000_000, positions={UP: 3_000_000})
    assert sim.sim_orders() == []
    assert sim.sim_state()["positions"] == {UP: 3_000_000}
    sim.control("set_clock", now_ns=0)
    with httpx.Client(base_url=sim.url, timeout=5.0) as raw:
        assert abs(raw.get("/time").json() - time.time()) <= 5


def test_the_scenario_controls_need_the_control_token(sim: SimClobServer) -> None:
    with httpx.Client(base_url=sim.url, timeout=5.0) as raw:
        assert raw.get("/sim/orders").status_code == 401
        reset = {"kind": "reset_account", "collateral": 1}
        assert raw.post("/sim/fault", json=reset).status_code == 401
        token = {"Authorization": f"Bearer {sim.control_token}"}
        unknown = {"kind": "reset_account", "collateral": 1, "positions": {"42": 1}}
        assert raw.post("/sim/fault", json=unknown, headers=token).status_code == 400


def test_set_allowance_limits_buys_on_that_exchange(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    """An allowance to the CTF Exchange V2 below an order's pUSD (net of the live BUYs there)
    refuses the order as the venue does; the reported allowance follows the control; a bad
    control is a 400 and changes nothing."""
    from polytraders.model.allowance import MAX_UINT256
    from polytraders.model.events import OrderAccepted, OrderRejected
    from polytraders.venues.polymarket.signing import CTF_EXCHANGE_V2

    def buy(n: int) -> VenueOrder:  # 10 shares at 0.40: 4 pUSD, resting
        return VenueOrder(
            client_order_id=f"alw/{n}", intent_id=f"alw-{n}", token_id=UP, side=Side.BUY,
            price=400_000, size=10_000_000, time_in_force=TimeInForce.GTC, ts_created_ns=CLOCK_NS,
        )  # fmt: skip

    try:
        answer = sim.control("set_allowance", spender=CTF_EXCHANGE_V2, amount=6_000_000)
        assert answer["allowances"][CTF_EXCHANGE_V2] == "6000000"
        assert venue.collateral_allowance().allowances_micros[CTF_EXCHANGE_V2] == 6_000_000
        for n in (1, 2):
            venue.submit(buy(n), CLOCK_NS)
            venue.advance(CLOCK_NS)
        first, second = venue.poll()
        assert isinstance(first, OrderAccepted)  # 4 of the 6 pUSD allowed
        assert isinstance(second, OrderRejected)  # 4 more would need 8
        assert second.reason_code == "SYS_VENUE_INSUFFICIENT_BALANCE"
        with httpx.Client(base_url=sim.url, timeout=5.0) as raw:
            token = {"Authorization": f"Bearer {sim.control_token}"}
            for bad in (
                {"kind": "set_allowance", "spender": "0x1234", "amount": 1},
                {"kind": "set_allowance", "spender": CTF_EXCHANGE_V2, "amount": -1},
                {"kind": "set_allowance", "spender": CTF_EXCHANGE_V2, "amount": "1"},
                {"kind": "set_allowance", "spender": CTF_EXCHANGE_V2, "amount": MAX_UINT256 + 1},
                {"kind": "set_allowance", "amount": 1},
            ):
                assert raw.post("/sim/fault", json=bad, headers=token).status_code == 400, bad
        assert sim.sim_state()["allowances"][CTF_EXCHANGE_V2] == "6000000"
    finally:
        sim.control("set_allowance", spender=CTF_EXCHANGE_V2, amount=MAX_UINT256)
