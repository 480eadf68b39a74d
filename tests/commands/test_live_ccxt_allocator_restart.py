"""A crypto desk with a MetaAllocator (``[desk.allocator]``) survives a crash-only restart on
the ccxt path (``build_ccxt_session``, the composition ``polytraders live --venue ccxt`` runs)
against the Binance USDⓈ-M simulator through the real ccxt client: it buys, rests a bid and
gets its protective stop; the process dies without a shutdown (orders and stop left at the
exchange, the store attempt RUNNING); the replay fills the resting bid while it is down; the
restart on the same store restores the allocation unchanged (``SYS_ALLOCATOR_RESTORED``, same
weights and equity basis), attributes both fills (the missed one once) to the strategy, so
its capital in use equals what it was before the crash and nothing is unattributed; orders,
fills and the position reconcile with no order sent twice and no fill booked twice, and the
protective stop at the exchange covers the whole position.

``RestingEntry`` below is a TEST FIXTURE, not a library bot: on its first book, flat and with
nothing open, it buys 0.002 BTC with a marketable FAK order and rests a post-only bid of 0.002
BTC 10 bps below the touch (close enough for the replay to trade through it); it never acts
again while it holds a position or an order (so a restarted desk sends nothing).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.commands.live import LiveSession
from polytraders.commands.live_ccxt import CcxtStartup, build_ccxt_session
from polytraders.contracts.allocation import Allocation
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision
from polytraders.contracts.ids import intent_id
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.desk.allocator import AllocatorConfig
from polytraders.desk.desk import DeskConfig
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.store.event_store import EventStore
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.reconciliation import DriftLevel
from tests.commands.test_live_ccxt import FAST, protective_stops, pump_until
from tests.fixture_strategy import FixtureStrategy
from tests.waiting import wait_until

TOKEN = "binance-usdm:BTCUSDT"
SIZE = 2_000
"""0.002 BTC (micro-BTC) per order: above the 100 USDT minimum notional."""
TICK = 100_000
RUN_ID = "run-ccxt-alloc"
STRATEGY = "strat.test_resting_entry"


class RestingEntry(FixtureStrategy[BotConfig]):
    """Test fixture (module docstring)."""

    bot_id = STRATEGY
    Config = BotConfig
    SEARCH_SPACE = SearchSpace(BotConfig)

    def __init__(self, config: BotConfig | None = None, rng: random.Random | None = None) -> None:
        super().__init__(config, rng)
        self._sent = False

    def reset(self) -> None:
        self._sent = False

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        if self._sent or not isinstance(event, BookSnapshot | BookDelta):
            return Proposal()
        book = view.book(TOKEN)
        position = view.position(TOKEN)
        if book is None or (position is not None and position.size) or view.open_orders(TOKEN):
            return Proposal()
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return Proposal()
        self._sent = True
        session = f"{self.bot_id}/s{view.now_ns}"  # unique per process, as a library strategy

        def place(n: int, price: int, **kw: object) -> OrderIntent:
            return OrderIntent(
                intent_id=intent_id(session, n),
                bot_id=self.bot_id,
                action=IntentAction.PLACE,
                token_id=TOKEN,
                side=Side.BUY,
                price=price,
                size=SIZE,
                **kw,  # type: ignore[arg-type]
            )

        buy = place(1, ask * 1_005 // 1_000 // TICK * TICK, time_in_force=TimeInForce.FAK)
        rest = place(2, bid * 9_990 // 10_000 // TICK * TICK, post_only=True)
        return Proposal(intents=(buy, rest))


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


def _start(sim: SimExchangeServer, store: str) -> tuple[LiveSession, CcxtStartup]:
    desk = DeskFile(
        desk=DeskConfig(allocator=AllocatorConfig(budgets_pct={STRATEGY: 50}, reserve_pct=50)),
        strategies=[BotEntry(source=f"{Path(__file__).resolve()}:RestingEntry")],
        risk=[BotEntry(id="risk.killswitch")],
    )
    node = CcxtNodeConfig.model_validate(
        {
            "desk": desk,
            "venue": {"api_url": sim.url, "poll_interval_ms": 0},
            "protective_stop": {"stop_distance_bps": 200},
        }
    )
    return build_ccxt_session(
        run_id=RUN_ID,
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
    )


def test_a_ccxt_allocator_desk_survives_a_crash_with_a_fill_while_down(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    ex = sim.exchange
    first, startup = _start(sim, store)
    assert startup.comparison.level is DriftLevel.OK
    try:
        pump_until(
            first,
            sim,
            lambda: protective_stops(first).synced.get(TOKEN) == SIZE,
            "a protected long",
        )
        assert ex.position.size == SIZE and len(ex.open_orders()) == 1  # the resting bid
        (stop_before,) = ex.open_algo_orders()
        allocator = first.desk.allocator
        assert allocator is not None
        in_force = allocator.allocations[-1]
        capital_before = allocator.capital_in_use(STRATEGY, first.desk.state)
        (bid,) = first.desk.state.open_orders()
        (bought,) = first.desk.result().fills
        assert capital_before == bought.price * SIZE + bid.price * SIZE  # 10⁻¹² USDT
        # the desk's perpetual accounting: a BUY pays its notional (and fee) from cash
        assert first.desk.state.cash == ex.wallet - ex.position.cost_basis
    finally:
        first.close(cancel_open_orders=False)  # the process dies: no cancel, attempt RUNNING
    assert ex.open_orders() and ex.open_algo_orders()

    def bid_filled() -> bool:  # while the desk is down the replay trades through the bid
        assert sim.step(5)["applied"], "the recording ended before the bid filled"
        return ex.position.size == 2 * SIZE

    wait_until(bid_filled, 60, "the resting bid to fill while the desk is down")
    assert not ex.open_orders()

    second, startup = _start(sim, store)
    try:
        assert startup.comparison.level is DriftLevel.OK
        desk = second.desk
        position = desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == 2 * SIZE == ex.position.size
        restored = desk.allocator
        assert restored is not None
        assert restored.weights_ppm == in_force.weights_ppm == {STRATEGY: 500_000}
        assert restored.reserve_ppm == in_force.reserve_ppm
        assert restored.equity_micros == in_force.equity_micros
        assert desk.unattributed == {}
        # the restarted desk's cash on the same basis as before the crash (the wallet less the
        # entry notional, not the available balance: equity did not jump by the margin freed)
        assert desk.state.cash == ex.wallet - ex.position.cost_basis
        assert restored.attributed_sizes() == {TOKEN: 2 * SIZE}  # both fills, once
        # the bid's capital moved from its open leg into the position at its limit price
        assert restored.capital_in_use(STRATEGY, desk.state) == capital_before
        assert not desk.state.open_orders()
        pump_until(second, sim, lambda: protective_stops(second).synced.get(TOKEN) == 2 * SIZE,
              "the stop resized to the whole position")  # fmt: skip
        (stop_after,) = ex.open_algo_orders()
        assert (stop_after.side, stop_after.quantity) == (Side.SELL, 2 * SIZE)
        assert stop_after.reduce_only and stop_after.algo_id != stop_before.algo_id
        for _ in range(20):
            sim.step(1)
            second.step()
        assert not second.desk.result().fills  # nothing re-sent, nothing booked again
        assert len(ex.orders) == 2
    finally:
        second.close()
    assert ex.position.size == 2 * SIZE and len(ex.open_algo_orders()) == 1  # kept at shutdown
    with EventStore.open(store, create=False) as events:
        runs = [r for r in events.runs() if r.run_id == RUN_ID]
        fills = [f for r in runs for f in events.fills(r.ref)]
        orders = {o.client_order_id for r in runs for o in events.orders(r.ref)}
        envelopes = list(events.iter_envelopes(RUN_ID))
    ids = [f.fill_id for f in fills]
    assert len(ids) == len(set(ids)) == 2  # the buy and the bid's fill, each once
    assert sum(f.size for f in fills) == 2 * SIZE
    assert len(orders) == len(ex.orders) == 2  # each order once, none re-sent
    allocations = [e for e in envelopes if e.decision is Decision.ALLOCATE]
    assert [e.reason_codes for e in allocations] == [
        ("SYS_ALLOCATOR_ALLOCATED",),
        ("SYS_ALLOCATOR_RESTORED",),
    ]
    output = allocations[-1].output
    assert isinstance(output, Allocation)
    assert output.weights_ppm == in_force.weights_ppm
    assert output.equity_micros == in_force.equity_micros
    codes = [c for e in envelopes for c in e.reason_codes]
    assert codes.count("SYS_CCXT_STOP_PLACED") == 1 and codes.count("SYS_CCXT_STOP_REPLACED") == 1
    assert "SYS_CCXT_POSITION_UNPROTECTED" not in codes
