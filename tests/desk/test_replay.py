"""Determinism and accounting on real data: the shipped Polymarket sample replayed through
the desk (real feed, real bots, real paper venue) twice gives byte-identical envelope timelines
and results, and the books reconcile exactly."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.risk.compliancegate import DESK_BUILDER_CODE, ComplianceGate
from polytraders.bots.risk.drawdownguard import DrawdownGuard
from polytraders.bots.risk.exposureguard import ExposureGuard
from polytraders.bots.risk.killswitch import KillSwitch
from polytraders.bots.risk.markethaltguard import MarketHaltGuard
from polytraders.bots.risk.marketqualityguard import MarketQualityGuard
from polytraders.bots.risk.stalebookguard import StaleBookGuard
from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.contracts.envelope import timeline_sha256
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import AccountIdentity
from polytraders.desk.desk import Desk, DeskResult
from polytraders.desk.slots import BotSlot
from polytraders.feeds import open_source
from polytraders.model.orders import Side
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig

ACCOUNT = AccountIdentity(
    signer="0x" + "1" * 40, funder="0x" + "1" * 40, signature_type=0, builder_code=DESK_BUILDER_CODE
)


def replay(sample: Path, limit: int | None) -> tuple[Desk, PaperVenue, DeskResult]:
    """One replay. ``risk.compliancegate`` runs in SHADOW: ``strat.maker_tight`` leaves the
    intent's builderCode empty (the router adds it to orders), which the gate rejects."""
    source = open_source(sample)
    markets = list(source.markets)
    run = "run-replay"
    venue = PaperVenue(PaperVenueConfig(), markets, run)
    risk = [
        BotSlot(KillSwitch()),
        BotSlot(ComplianceGate(), Mode.SHADOW),
        BotSlot(MarketHaltGuard()),
        BotSlot(StaleBookGuard()),
        BotSlot(MarketQualityGuard()),
        BotSlot(ExposureGuard()),
        BotSlot(DrawdownGuard()),
    ]
    desk = Desk(
        run_id=run,
        venue=venue,
        strategies=[BotSlot(MakerTight())],
        risk=risk,
        execution=[BotSlot(SmartRouter())],
        markets=markets,
        account=ACCOUNT,
    )
    events = source.events() if limit is None else itertools.islice(source.events(), limit)
    return desk, venue, desk.run(events)


def check_books(desk: Desk, venue: PaperVenue, result: DeskResult) -> None:
    ledger = desk.state.ledger
    assert ledger.reconciliation_error() == 0
    for position in ledger.positions():
        fills = [f for f in result.fills if f.token_id == position.token_id]
        signed = sum(f.size if f.side is Side.BUY else -f.size for f in fills)
        settled = sum(s.size for s in result.settlements if s.token_id == position.token_id)
        assert position.size == signed - settled
    # the venue redeems resolved markets as the desk's ledger settles them: the books agree
    assert venue.ledger.payouts == sum(s.cash for s in result.settlements)
    assert ledger.cash == venue.ledger.cash
    for position in ledger.positions():
        assert position.size == venue.ledger.holdings(position.token_id)
    # no wall-clock measurement in any envelope under the simulated clock
    assert {e.latency_ns for e in desk.envelopes} == {0}
    assert all(
        result.first_event_ns <= e.ts_decided_ns <= desk.state.now_ns for e in desk.envelopes
    )
    assert result.timeline_sha256 == timeline_sha256(desk.envelopes)


def test_replay_of_real_data_is_byte_identical(polymarket_sample: Path) -> None:
    first = replay(polymarket_sample, 3_000)
    second = replay(polymarket_sample, 3_000)
    assert first[2].fills, "the replay must trade to mean anything"
    assert first[2].timeline_sha256 == second[2].timeline_sha256
    assert first[2].result_sha256() == second[2].result_sha256()
    check_books(*first)


@pytest.mark.slow
def test_full_sample_replay_is_byte_identical_and_reconciles(polymarket_sample: Path) -> None:
    first = replay(polymarket_sample, None)
    second = replay(polymarket_sample, None)
    assert first[2].settlements, "the sample resolves markets"
    assert (first[2].timeline_sha256, first[2].result_sha256()) == (
        second[2].timeline_sha256,
        second[2].result_sha256(),
    )
    check_books(*first)
