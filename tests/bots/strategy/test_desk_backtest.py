"""strat.maker_tight + exec.smartrouter + the seven risk guards on the real desk loop with the
paper venue, over one recorded BTC 15-minute market of the shipped sample
(``data/samples/polymarket/resolvedkit_btc15m``): the whole stack runs clean, every fill is a
maker fill, inventory never passes the cap, and a replay is byte-identical."""

from __future__ import annotations

import msgspec
import pytest

from polytraders.accounting.ledger import Ledger
from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.risk.compliancegate import ComplianceGate
from polytraders.bots.risk.drawdownguard import DrawdownGuard
from polytraders.bots.risk.exposureguard import ExposureGuard
from polytraders.bots.risk.killswitch import KillSwitch
from polytraders.bots.risk.markethaltguard import MarketHaltGuard
from polytraders.bots.risk.marketqualityguard import MarketQualityGuard
from polytraders.bots.risk.stalebookguard import StaleBookGuard
from polytraders.bots.strategy.maker_tight import MakerTight, MakerTightConfig
from polytraders.contracts.reasons import load_registry
from polytraders.desk.desk import Desk, DeskResult
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.feeds.parquet import ParquetSource
from polytraders.model.events import AnyEvent
from polytraders.model.fills import LiquiditySide
from polytraders.model.market import Market
from polytraders.model.orders import Side
from polytraders.readiness.packs import ACCOUNT
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.conftest import POLYMARKET_SAMPLE

EOA = msgspec.structs.replace(ACCOUNT, funder=ACCOUNT.signer, signature_type=0)


def one_market() -> tuple[list[Market], list[AnyEvent]]:
    """The first recorded market (tick 0.001, as its books show) and its events."""
    source = ParquetSource(POLYMARKET_SAMPLE)
    market = source.markets[0]
    market = msgspec.structs.replace(
        market, tokens=tuple(msgspec.structs.replace(t, tick_size=1_000) for t in market.tokens)
    )
    keep = {market.market_id, *(t.token_id for t in market.tokens)}
    events = [
        e
        for e in source.events()
        if getattr(e, "token_id", None) in keep or getattr(e, "market_id", None) in keep
    ]
    return [market], events


def run(config: MakerTightConfig) -> tuple[Desk, DeskResult]:
    markets, events = one_market()
    venue = PaperVenue(PaperVenueConfig(), markets, "run-maker")
    state = DeskState(ledger=Ledger(venue.balances().get("pUSD", 0)), account=EOA)
    guards = [
        KillSwitch(),
        ComplianceGate(),
        MarketHaltGuard(),
        StaleBookGuard(),
        MarketQualityGuard(),
        ExposureGuard(),
        DrawdownGuard(),
    ]
    desk = Desk(
        run_id="run-maker",
        venue=venue,
        strategies=[BotSlot(MakerTight(config))],
        risk=[BotSlot(g) for g in guards],
        execution=[BotSlot(SmartRouter())],
        markets=markets,
        state=state,
    )
    return desk, desk.run(events)


@pytest.mark.slow
def test_full_stack_on_a_recorded_market() -> None:
    config = MakerTightConfig()
    desk, result = run(config)
    assert result.quarantined == {}
    registry = load_registry()
    assert set(result.reason_codes) <= set(registry)
    assert result.orders_submitted > 50 and len(result.fills) > 10
    assert all(f.liquidity is LiquiditySide.MAKER and f.fee == 0 for f in result.fills)
    # net inventory (UP minus DOWN) after every fill stays within the cap
    up, down = (t.token_id for t in desk.state.markets()[0].tokens)
    net = 0
    for fill in result.fills:
        signed = fill.size if fill.side is Side.BUY else -fill.size
        net += signed if fill.token_id == up else -signed
        assert abs(net) <= config.max_position_micros
    # every order the router sent rests as a post-only maker with the builderCode
    sent = list(desk.state.orders.values())
    assert sent and all(o.post_only and o.builder_code == EOA.builder_code for o in sent)
    assert {o.token_id for o in sent} == {up, down}  # sells of unheld UP went to DOWN
    _, again = run(config)
    assert again.timeline_sha256 == result.timeline_sha256
    assert again.result_sha256() == result.result_sha256()
