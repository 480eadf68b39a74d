"""The kill switch's TWAP unwind on Binance spot through the full live composition
(``build_ccxt_session``, what ``polytraders live --venue ccxt --live`` runs for a node file whose
``[venue] exchange_id = "binance"``) against the spot simulator, through the real ccxt client
and the live spot depth stream (issue 21 item 8).

The desk buys 0.01 BTC (the 0.1 % commission kept in BTC: it holds 0.00999 BTC), the operator
trips the kill switch (``LiveSession.kill``: the ``kill`` command), the desk cancels
everything at the exchange and, with ``[desk] kill_switch_unwind = "twap"``, ``exec.twap``
sells the desk's whole position in reduce-only children — sent as plain SELLs, spot having no
``reduceOnly`` (docs/ccxt_venue.md "Spot") — until the exchange holds no BTC. The desk's
position and cash then equal the exchange's balances and the store's evidence is sound.

The replay is held still while the unwind runs (the desk steps on the wall clock, the
simulator's book does not move): each child is a FAK priced from the book of its release
(``exec.twap``: at most ``max_cross_ticks`` beyond the touch), and on a book that moves away
before it arrives it expires unfilled and the unwind ends
``SYS_UNWIND_INCOMPLETE`` (``exec.twap``'s behaviour, spot or perpetual alike), which would make
this test depend on thread timing.

``BuyOnce`` below is a TEST FIXTURE, not a library bot: on its first book it buys 0.01 BTC
with a marketable FAK order, then nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.commands.live_ccxt import build_ccxt_session
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.ids import intent_id
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.desk.desk import DeskConfig
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, TradingState
from polytraders.model.fees import E8_PER_MICRO
from polytraders.model.money import MICROS
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.simexchange.spot import SpotExchange
from polytraders.store.event_store import EventStore
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.reconciliation import DriftLevel
from tests.commands.test_live_ccxt import FAST, pump_until
from tests.fixture_strategy import FixtureStrategy

TOKEN = "binance-spot:BTCUSDT"
RUN_ID = "run-spot-unwind"
BUY_SIZE = 10_000
"""0.01 BTC (micro-BTC): its 0.1 % commission is 0.00001 BTC, one lot step."""
HELD = BUY_SIZE - 10
"""0.00999 BTC: what the desk and the exchange hold after the buy."""
SLICES = 3
TICK = 10_000


class BuyOnce(FixtureStrategy[BotConfig]):
    """Test fixture (module docstring)."""

    bot_id = "strat.test_buy_once"
    Config = BotConfig
    SEARCH_SPACE = SearchSpace(BotConfig)

    def __init__(self, config: BotConfig | None = None, rng: random.Random | None = None) -> None:
        super().__init__(config, rng)
        self._sent = False

    def reset(self) -> None:
        self._sent = False

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta) or self._sent:
            return Proposal()
        book = view.book(TOKEN)
        ask = book.best_ask() if book is not None else None
        if ask is None:
            return Proposal()
        self._sent = True
        return Proposal(
            intents=(
                OrderIntent(
                    intent_id=intent_id(f"{self.bot_id}/s{view.now_ns}", 1),
                    bot_id=self.bot_id,
                    action=IntentAction.PLACE,
                    token_id=TOKEN,
                    side=Side.BUY,
                    price=ask * 1_005 // 1_000 // TICK * TICK,
                    size=BUY_SIZE,
                    time_in_force=TimeInForce.FAK,
                ),
            )
        )


def spot(sim: SimExchangeServer) -> SpotExchange:
    ex = sim.exchange
    assert isinstance(ex, SpotExchange)
    return ex


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(market="spot"), throwaway_key()) as server:
        yield server


def test_the_kill_switch_unwinds_a_spot_holding_by_twap_to_flat_at_the_exchange(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    ex = spot(sim)
    store = str(tmp_path / "runs.sqlite")
    desk = DeskFile(
        strategies=[BotEntry(source=f"{Path(__file__).resolve()}:BuyOnce")],
        risk=[BotEntry(id="risk.killswitch")],
        execution=[BotEntry(id="exec.smartrouter"), BotEntry(id="exec.twap", role="unwind")],
        desk=DeskConfig(
            kill_switch_unwind="twap", unwind_duration_s=SLICES, unwind_slice_count=SLICES
        ),
    )
    node = CcxtNodeConfig.model_validate(
        {"desk": desk, "venue": {"exchange_id": "binance", "api_url": sim.url,
                                 "poll_interval_ms": 0}}
    )  # fmt: skip
    assert node.venue.market_type == "spot"
    session, startup = build_ccxt_session(
        run_id=RUN_ID,
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
    )
    assert startup.comparison.level is DriftLevel.OK
    state = session.desk.state
    try:

        def bought() -> bool:
            position = state.ledger.position(TOKEN)
            return position is not None and position.size > 0

        pump_until(session, sim, bought, "the buy")
        assert ex.free("BTC") == HELD * E8_PER_MICRO  # 0.01 BTC less the 0.00001 commission

        session.kill()
        assert state.kill_switch_tripped and state.trading_state is TradingState.HALTED
        pump_until(
            session,
            sim,
            lambda: ex.totals["BTC"] == 0 and not session.desk.unwinds,
            "the unwind to sell the whole holding",
            replay=False,  # the book held still: each FAK child fills where it was priced
        )
        position = state.ledger.position(TOKEN)
        assert position is not None and position.size == 0
        assert ex.free("BTC") == ex.locked("BTC") == 0
        assert not [o for o in ex.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")]
        fills = session.desk.result().fills
        usdt_e8 = ex.free("USDT") + ex.locked("USDT")
        dust_e8 = usdt_e8 - state.cash * E8_PER_MICRO
        assert 0 <= dust_e8 < E8_PER_MICRO * len(fills), (usdt_e8, state.cash)
        session.reconcile(state.now_ns)
        pump_until(session, sim, lambda: len(session.reconciliations) == 2, "a reconciliation")
        assert session.reconciliations[-1][1].level is DriftLevel.OK
    finally:
        session.close()

    unwind = [o for o in ex.orders.values() if o.client_order_id.startswith("desk/u")]
    assert 1 < len(unwind) <= SLICES
    assert all(o.side is Side.SELL for o in unwind)
    assert sum(o.executed_qty for o in unwind) == HELD
    buy, *sells = fills
    assert (buy.side, buy.size, buy.fee_size) == (Side.BUY, BUY_SIZE, 10)
    assert all(f.side is Side.SELL and f.fee_size == 0 for f in sells)
    assert sum(f.size for f in sells) == HELD
    # the desk's cash: the buy's notional paid (its commission was BTC), each sell's proceeds
    # less its USDT commission
    assert state.cash == 10_000 * MICROS - buy.notional + sum(f.notional - f.fee for f in sells)
    # the exchange's USDT beyond the desk's micro-units: each sell's 10⁻⁸ digits (proceeds
    # floored, commission rounded up by the desk); the buy's cost is whole micro-USDT here
    (bought,) = [t for t in ex.trades if t.side is Side.BUY]
    assert bought.quote_qty_e8 % E8_PER_MICRO == 0
    sub_micro_e8 = sum(
        t.quote_qty_e8 % E8_PER_MICRO + (-t.commission_e8) % E8_PER_MICRO
        for t in ex.trades
        if t.side is Side.SELL
    )
    assert usdt_e8 == state.cash * E8_PER_MICRO + sub_micro_e8
    with EventStore.open(store, create=False) as events:
        (run,) = [r for r in events.runs() if r.run_id == RUN_ID]
        assert events.check_integrity(run.ref) == []
        envelopes = events.envelopes(run.ref)
        assert [f.fill_id for f in events.fills(run.ref)] == [f.fill_id for f in fills]
    codes = [c for e in envelopes for c in e.reason_codes]
    assert codes.count("SYS_UNWIND_STARTED") == 1 and codes.count("SYS_UNWIND_DONE") == 1
    assert codes.count("EXEC_TWAP_CHILD_ROUTED") == len(unwind)
    assert "SYS_UNWIND_NOT_REDUCING" not in codes and "SYS_UNWIND_INCOMPLETE" not in codes
