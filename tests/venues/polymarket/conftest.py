"""Fixtures: a throwaway signer key, the simulator on a loopback port, a venue pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from polytraders.commands.live import LiveSession
from polytraders.model.money import to_micros
from polytraders.model.orders import Side, VenueOrder
from polytraders.simclob.engine import Account
from polytraders.simclob.server import (
    SimClobServer,
    SimSettings,
    account_for_key,
    credentials_for,
    throwaway_key,
)
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from tests.waiting import wait_until

BUILDER = "0x" + "b1" * 32
T = TypeVar("T")


def live_env(key: str, account: Account, builder_code: str) -> dict[str, str]:
    """The environment of a ``--live`` desk against the simulator serving ``account``: the
    signer ``key``, the simulator's API credentials for it and the ``builder_code``."""
    return {
        "POLYMARKET_PRIVATE_KEY": key,
        "POLYMARKET_API_KEY": account.api_key,
        "POLYMARKET_API_SECRET": account.api_secret,
        "POLYMARKET_API_PASSPHRASE": account.api_passphrase,
        "POLYMARKET_BUILDER_CODE": builder_code,
    }


@pytest.fixture(scope="module")
def signer_key() -> str:
    return throwaway_key()


@pytest.fixture(scope="module")
def sim_account(signer_key: str) -> Account:
    return account_for_key(signer_key, builder_code=BUILDER)


@pytest.fixture(scope="module")
def sim(sim_account: Account) -> Iterator[SimClobServer]:
    with SimClobServer(SimSettings(limit_markets=1, confirm_ms=100), sim_account) as server:
        yield server


@pytest.fixture
def venue(sim: SimClobServer, signer_key: str, sim_account: Account) -> Iterator[PolymarketVenue]:
    sim.control("clear")
    config = PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)
    venue = PolymarketVenue.from_credentials(credentials_for(signer_key, sim_account), config)
    for token_id in sorted(sim.exchange.tokens):
        venue.load_token(token_id)
    venue.mark_reconciled()  # nothing in a store yet: see test_reconcile.py for the real path
    yield venue
    sim.control("clear")
    venue.cancel_all(time.time_ns())
    venue.close()


_order_numbers = iter(range(1_000_000))


def order(token: str, side: Side, price: int, size: int = 10_000_000, **kw: object) -> VenueOrder:
    """A fresh order (unique test client id) for the venue tests."""
    n = next(_order_numbers)
    return VenueOrder(
        client_order_id=f"test-run:{n}",
        intent_id=f"intent-{n}",
        token_id=token,
        side=side,
        price=price,
        size=size,
        ts_created_ns=time.time_ns(),
        **kw,  # type: ignore[arg-type]
    )


def top(venue: PolymarketVenue, token: str) -> tuple[int, int]:
    """(best bid, best ask) of ``token`` at the venue, micro-units."""
    book = venue.client.get_order_book(token)
    return to_micros(book["bids"][-1]["price"]), to_micros(book["asks"][-1]["price"])


def first_token(sim: SimClobServer) -> str:
    """The simulator's first token id (sorted)."""
    return sorted(sim.exchange.tokens)[0]


def on_worker(session: LiveSession, fn: Callable[[PolymarketVenue], T], timeout_s: float = 15) -> T:
    """``fn(venue)`` run on the session's venue worker (the venue's only caller once the
    session runs), its result delivered back to this thread (deadline ``timeout_s``)."""
    worker = session.worker
    assert worker is not None, "not a live session"
    results: list[T] = []
    worker.call(fn, results.append)
    wait_until(lambda: worker.deliver_results() >= 0 and bool(results), timeout_s, "the worker")
    return results[0]
