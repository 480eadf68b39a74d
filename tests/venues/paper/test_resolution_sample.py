"""End to end on the shipped sample: resolution payouts reach the paper venue (rule 11).

``data/samples/polymarket/resolvedkit_btc15m`` holds 12 sequential 15-minute BTC markets, each
ending in a resolution. The desk below is the default desk (seven guards, exec.smartrouter)
with 500 pUSD of paper cash, ``strat.maker_tight`` quoting 100 shares up to 1,000 per market,
the ``l2_inference`` queue model (the most maker fills) and answers delivered at once (response
latency 0), so it spends more than its starting cash over the run and can keep buying only with
what the resolved markets paid out. Before the venue redeemed at resolution, the same desk file
had 12 BUYs refused ``SYS_VENUE_INSUFFICIENT_BALANCE`` after the first markets resolved (none
before) and the kill switch tripped on the error streak.

The second test runs the default desk as shipped (answers 100 ms late): while fills travel, the
venue's cash and holdings lead the desk's by exactly the fills still travelling.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.desk.desk import Desk
from polytraders.feeds import Source, open_source
from polytraders.model.events import MarketStatus
from polytraders.model.fills import Fill
from polytraders.model.market import MarketState
from polytraders.model.orders import Side
from polytraders.venues.paper import PaperVenue, reasons

DESK_TOML = """
seed = 7
[venue]
queue_model = "l2_inference"
response_latency_ms = 0
starting_cash_micros = 500_000_000
[[strategies]]
id = "strat.maker_tight"
[strategies.config]
order_size_micros = 100_000_000
max_position_micros = 1_000_000_000
"""


def _desk(desk_file: DeskFile, source: Source) -> tuple[Desk, PaperVenue]:
    strategies, risk, execution = desk_file.build_slots()
    venue = PaperVenue(desk_file.venue, source.markets, "run-payouts")
    desk = Desk(
        run_id="run-payouts",
        venue=venue,
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=source.markets,
        config=desk_file.desk,
        account=desk_file.account.identity(),
    )
    return desk, venue


def test_payouts_keep_venue_cash_equal_to_desk_cash_and_later_buys_are_not_refused(
    polymarket_sample: Path,
) -> None:
    desk_file = DeskFile.from_mapping(tomllib.loads(DESK_TOML))
    source = open_source(polymarket_sample)
    desk, venue = _desk(desk_file, source)
    ledger = desk.state.ledger
    tokens = [t.token_id for m in source.markets for t in m.tokens]
    resolved_at: list[int] = []
    least_cash_without_payouts = venue.ledger.cash
    for event in source.events():
        desk.process(event)
        assert ledger.cash == venue.ledger.cash, event
        if isinstance(event, MarketStatus):  # positions: at every close and resolution
            if event.state is MarketState.RESOLVED:
                resolved_at.append(event.ts_event_ns)
            for token_id in tokens:
                assert ledger.size(token_id) == venue.ledger.holdings(token_id), (event, token_id)
        least_cash_without_payouts = min(
            least_cash_without_payouts, venue.ledger.cash - venue.ledger.payouts
        )
    desk.shutdown()
    result = desk.result()
    assert len(resolved_at) == 12 and result.settlements
    # the run spent money only the payouts provided: without them the venue would have refused
    assert least_cash_without_payouts < 0
    assert venue.ledger.payouts == sum(s.cash for s in result.settlements) > 0
    assert any(f.side is Side.BUY and f.ts_event_ns > resolved_at[0] for f in result.fills)
    assert reasons.INSUFFICIENT_BALANCE not in venue.stats.rejections_by_code
    assert not desk.state.kill_switch_tripped
    assert ledger.cash == venue.ledger.cash == venue.balances()["pUSD"]
    assert all(ledger.size(t) == venue.ledger.holdings(t) for t in tokens)
    assert ledger.reconciliation_error() == 0
    assert venue.ledger.conservation_problems() == []


@pytest.mark.slow
def test_travelling_fills_are_all_that_separates_venue_and_desk(polymarket_sample: Path) -> None:
    source = open_source(polymarket_sample)
    desk, venue = _desk(DeskFile(), source)
    ledger = desk.state.ledger
    tokens = [t.token_id for m in source.markets for t in m.tokens]
    steps_with_fills_travelling = 0
    for event in source.events():
        desk.process(event)
        travelling = [f for f in venue.in_flight() if isinstance(f, Fill)]
        steps_with_fills_travelling += bool(travelling)
        cash_ahead = sum(
            (f.notional if f.side is Side.SELL else -f.notional) - f.fee for f in travelling
        )
        assert ledger.cash + cash_ahead == venue.ledger.cash, event
        for token_id in tokens:
            ahead = sum(
                f.size if f.side is Side.BUY else -f.size
                for f in travelling
                if f.token_id == token_id
            )
            assert ledger.size(token_id) + ahead == venue.ledger.holdings(token_id), token_id
    desk.shutdown()  # its grace (2 s) outlasts the response latency (100 ms): all delivered
    assert steps_with_fills_travelling > 0
    assert venue.answers_in_flight == 0
    assert ledger.cash == venue.ledger.cash
    assert all(ledger.size(t) == venue.ledger.holdings(t) for t in tokens)
