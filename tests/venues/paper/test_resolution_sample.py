"""End to end on the shipped sample: resolution payouts reach the paper venue (rule 11).

``data/samples/polymarket/resolvedkit_btc15m`` holds 12 sequential 15-minute BTC markets, each
ending in a resolution. The desk below is the default desk (seven guards, exec.smartrouter,
1,000 pUSD of paper cash) with ``strat.maker_tight`` quoting 100 shares up to 1,000 per market,
so it spends more than its starting cash over the run and can keep buying only with what the
resolved markets paid out. Before the venue redeemed at resolution, the same desk file had 12
BUYs refused ``SYS_VENUE_INSUFFICIENT_BALANCE`` after the first markets resolved (none before)
and the kill switch tripped on the error streak.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from polytraders.backtest.desk_file import DeskFile
from polytraders.desk.desk import Desk
from polytraders.feeds import open_source
from polytraders.model.events import MarketStatus
from polytraders.model.market import MarketState
from polytraders.model.orders import Side
from polytraders.venues.paper import PaperVenue, reasons

DESK_TOML = """
seed = 7
[[strategies]]
id = "strat.maker_tight"
[strategies.config]
order_size_micros = 100_000_000
max_position_micros = 1_000_000_000
"""


def test_payouts_keep_venue_cash_equal_to_desk_cash_and_later_buys_are_not_refused(
    polymarket_sample: Path,
) -> None:
    desk_file = DeskFile.from_mapping(tomllib.loads(DESK_TOML))
    source = open_source(polymarket_sample)
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
