"""The desk books a venue's funding payments in its own ledger (cash, funding line, equity),
once per payment id, records a BOOK envelope ``SYS_FUNDING_SETTLED`` for each, and its
equity-based guards see the money: a position bleeding funding trips ``risk.drawdownguard``."""

from __future__ import annotations

from polytraders.bots.risk.drawdownguard import DrawdownGuard, DrawdownGuardConfig
from polytraders.contracts.envelope import Decision
from polytraders.desk.desk import Desk
from polytraders.desk.fixtures import binary_market
from polytraders.desk.slots import BotSlot
from polytraders.model.events import BookSnapshot, FundingPayment, TradingState
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import ApproveBot, PassThroughExec, QuoteBot

S = 1_000_000_000
MARKET = binary_market("m1", "yes", "no", category="crypto")


def _snap(t_s: int) -> BookSnapshot:
    return BookSnapshot(
        ts_event_ns=t_s * S, token_id="yes", bids=[(440_000, 10**8)], asks=[(460_000, 10**8)]
    )


def _paid(t_s: int, funding_id: str, amount: int) -> FundingPayment:
    return FundingPayment(
        ts_event_ns=t_s * S,
        ts_recv_ns=t_s * S,
        funding_id=funding_id,
        token_id="binance-usdm:BTCUSDT",
        amount=amount,
        size=3_000,
        mark_price=61_000_000_000,
        rate_ppb=100_000,
    )


def _desk(*risk: object) -> Desk:
    venue = PaperVenue(PaperVenueConfig(), [MARKET], "run-fund")
    return Desk(
        run_id="run-fund",
        venue=venue,
        strategies=[BotSlot(QuoteBot("yes", "m1"))],
        risk=[BotSlot(b) for b in risk] or [BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
    )


def test_each_payment_is_booked_once_with_its_envelope() -> None:
    desk = _desk()
    start = desk.state.cash
    desk.process(_snap(1))
    equity = desk.state.equity
    first, again, second = _paid(2, "p1", -18_301), _paid(3, "p1", -18_301), _paid(4, "p2", 500)
    for event in (first, again, _snap(3), second):
        desk.process(event)
    ledger = desk.state.ledger
    assert ledger.funding_payments == [first, second]  # the re-reported p1 is not booked
    assert ledger.funding == -17_801 and ledger.reconciliation_error() == 0
    assert desk.state.equity == equity - 17_801  # what the equity guards read
    assert not desk.orders.fills and desk.state.cash == start - 17_801  # only the funding
    assert desk.orders.stats.funding_payments == 3 and desk.orders.stats.funding_booked == 2
    booked = [e for e in desk.envelopes if e.decision is Decision.BOOK]
    assert [(e.bot_id, e.reason_codes, e.correlation_id, e.output) for e in booked] == [
        ("desk", ("SYS_FUNDING_SETTLED",), "", first),
        ("desk", ("SYS_FUNDING_SETTLED",), "", second),
    ]
    assert [e.ts_event_ns for e in booked] == [2 * S, 4 * S]
    result = desk.run([])
    assert result.ledger.funding_payments == (first, second)


def test_funding_paid_counts_in_the_drawdown_guards_equity() -> None:
    guard = DrawdownGuard(DrawdownGuardConfig(monitor_interval_ms=1_000, halt_drawdown_bps=1_000))
    desk = _desk(guard)
    desk.process(_snap(1))
    peak = desk.state.equity
    assert peak > 0 and not desk.desk_events  # trading, no state change yet
    desk.process(_paid(2, "p1", -(peak // 10)))  # 10 % of the equity paid in funding
    desk.process(_snap(3))  # its monitor step, due at 2 s and 3 s, reads the equity
    assert desk.state.trading_state is TradingState.HALTED
    halts = [e for e in desk.envelopes if e.bot_id == "risk.drawdownguard"]
    assert halts[-1].decision is Decision.HALT
    assert halts[-1].reason_codes == ("RISK_DRAWDOWN_HALT",)
