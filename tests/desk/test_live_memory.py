"""A live session's bounded past (``SessionMemory.live``): orders retire with their fills
a margin after the venue forgets them, their ids are still refused and their fills
still booked (order manager rule 8); reconciliation after retirement sees no drift; the
ledger's thinned equity curve keeps the maximum drawdown exact."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.backtest.result import max_drawdown
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.ids import client_order_id, intent_id
from polytraders.desk.desk import LIVE_EQUITY_INTERVAL_NS, SessionMemory
from polytraders.desk.fixtures import binary_market
from polytraders.desk.orders import (
    LIVE_RETENTION_MARGIN_S,
    SYS_DUPLICATE_ORDER,
    OrderManager,
    OrderRetention,
)
from polytraders.desk.state import DeskState
from polytraders.model.events import OrderAccepted, OrderRejected
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import OrderIntent, OrderStatus, Side, VenueOrder
from polytraders.venues.base import VenueEvent
from polytraders.venues.drift import compare, records_of
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from polytraders.venues.reports import FillReport, PositionReport, VenueSnapshot

S = 1_000_000_000
BOT = "strat.scripted"
VENUE_RETENTION_S = 300


class _Venue:
    """Takes orders; answers what the test scripts."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.answers: list[VenueEvent] = []

    def submit(self, order: VenueOrder, now_ns: int) -> None:
        self.sent.append(order.client_order_id)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancels are not exercised here."""

    def cancel_all(self, now_ns: int) -> None:
        """Nothing to do."""

    def advance(self, now_ns: int) -> None:
        """Answers are scripted."""

    def poll(self) -> list[VenueEvent]:
        answers, self.answers = self.answers, []
        return answers


def _plan(n: int) -> tuple[OrderIntent, RoutePlan]:
    intent = OrderIntent(
        intent_id=intent_id(f"{BOT}/s0", n), bot_id=BOT, token_id="yes", market_id="m1",
        side=Side.BUY, price=450_000, size=10_000_000,
    )  # fmt: skip
    order = VenueOrder(
        client_order_id=client_order_id(intent.intent_id, 0), intent_id=intent.intent_id,
        bot_id=BOT, token_id="yes", market_id="m1", side=Side.BUY, price=450_000,
        size=10_000_000,
    )  # fmt: skip
    return intent, RoutePlan(orders=(order,))


def _fill(fill_id: str, cid: str, now_ns: int, size: int = 10_000_000) -> Fill:
    return Fill(
        fill_id=fill_id, client_order_id=cid, token_id="yes", market_id="m1", side=Side.BUY,
        price=450_000, size=size, liquidity=LiquiditySide.MAKER, ts_event_ns=now_ns,
        ts_recv_ns=now_ns,
    )  # fmt: skip


def _live_manager() -> tuple[OrderManager, _Venue, DeskState]:
    state = DeskState.build(markets=[binary_market("m1", "yes", "no")], cash=10**12)
    venue = _Venue()
    retention = SessionMemory.live(VENUE_RETENTION_S).orders
    return OrderManager(venue, state, retention=retention), venue, state


def _filled_order(manager: OrderManager, venue: _Venue, n: int, now: int) -> str:
    """Place order ``n``, have it accepted and filled completely at ``now``."""
    intent, plan = _plan(n)
    cid: str = plan.orders[0].client_order_id
    assert manager.execute(intent, plan, now) == [cid]
    venue.answers.append(
        OrderAccepted(ts_event_ns=now, ts_recv_ns=now, client_order_id=cid, venue_order_id=cid)
    )
    venue.answers.append(_fill(f"trade-{n}:{cid}", cid, now))
    manager.sync(now)
    assert manager.state.orders[cid].status is OrderStatus.FILLED
    return cid


def test_the_live_retention_outlasts_the_venues() -> None:
    retention = OrderRetention.for_venue(VENUE_RETENTION_S)
    assert retention.with_fills
    assert retention.closed_order_ns == (VENUE_RETENTION_S + LIVE_RETENTION_MARGIN_S) * S
    assert OrderRetention() == SessionMemory().orders  # a backtest's: fills keep their order
    assert not OrderRetention().with_fills


def test_a_filled_order_retires_with_its_fill_and_stays_refused_and_booked() -> None:
    manager, venue, state = _live_manager()
    cid = _filled_order(manager, venue, 0, S)
    fill_id = f"trade-0:{cid}"
    keep_until = S + (VENUE_RETENTION_S + LIVE_RETENTION_MARGIN_S) * S
    manager.sync(keep_until - S)  # still within the retention: kept whole
    assert cid in state.orders and [f.fill_id for f in manager.fills] == [fill_id]
    manager.sync(keep_until + S)
    assert cid not in state.orders and state.knows_order(cid)
    assert manager.fills == [] and manager.booked_fill_ids == {fill_id}
    # the retired id is refused as a duplicate and never reaches the venue again
    sent = list(venue.sent)
    intent, plan = _plan(0)
    assert manager.execute(intent, plan, keep_until + 2 * S) == []
    [refusal] = manager.drain_local()
    assert isinstance(refusal, OrderRejected) and refusal.reason_code == SYS_DUPLICATE_ORDER
    assert venue.sent == sent
    # the same fill reported again is not booked twice; a late new one still is
    position = state.ledger.size("yes")
    venue.answers.append(_fill(fill_id, cid, keep_until + 3 * S))
    venue.answers.append(_fill(f"trade-late:{cid}", cid, keep_until + 3 * S, size=1_000_000))
    manager.sync(keep_until + 3 * S)
    assert state.ledger.size("yes") == position + 1_000_000
    assert manager.booked_fill_ids == {fill_id, f"trade-late:{cid}"}
    assert manager.fills == []  # nothing lists the retired order's fills again
    assert manager.stats.unknown_order_events == 2


def test_reconciliation_after_retirement_sees_no_drift() -> None:
    manager, venue, state = _live_manager()
    now = S
    fills: list[Fill] = []
    for n in range(5):
        _filled_order(manager, venue, n, now)
        fills.extend(manager.fills[-1:])
        now += 100 * S
    manager.sync(now + (VENUE_RETENTION_S + LIVE_RETENTION_MARGIN_S) * S)
    assert len(state.orders) < 5 and len(manager.fills) < 5  # some retired with their fills
    records = records_of(
        list(state.orders.values()),
        manager.booked_fill_ids,
        {p.token_id: p.size for p in state.positions()},
    )
    snapshot = VenueSnapshot(  # the venue lists every trade of the account, old ones too
        venue="polymarket",
        ts_ns=now,
        fills=tuple(FillReport.of(f) for f in fills),
        positions=(PositionReport(token_id="yes", size=5 * 10_000_000),),
    )
    result = compare(snapshot, records, ReconciliationConfig())
    assert result.level is DriftLevel.OK
    assert result.differences.unbooked_fills == ()
    assert result.position_drift_micros == 0 and result.order_drift_micros == 0


marks = st.lists(
    st.tuples(st.integers(0, 30 * S), st.integers(-50_000_000, 50_000_000)),
    min_size=1,
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(marks)
def test_a_thinned_equity_curve_keeps_the_maximum_drawdown_exact(
    steps: list[tuple[int, int]],
) -> None:
    full, thinned = Ledger(10**9), Ledger(10**9, equity_interval_ns=LIVE_EQUITY_INTERVAL_NS)
    now = 0
    for gap_ns, cash in steps:
        now += gap_ns
        for ledger in (full, thinned):
            ledger.deposit(cash - (ledger.cash - 10**9))  # cash becomes 10**9 + cash
            ledger.mark(now, lambda _token: None)
    curve = [(p.ts_ns, p.equity) for p in full.equity_curve]
    assert thinned.max_drawdown == full.max_drawdown == max_drawdown(curve)
    assert thinned.peak_equity == full.peak_equity
    kept = thinned.equity_curve
    assert kept[0] == full.equity_curve[0] and kept[-1] == full.equity_curve[-1]
    assert set(kept) <= set(full.equity_curve)
    buckets = [p.ts_ns // LIVE_EQUITY_INTERVAL_NS for p in kept[1:]]
    assert len(buckets) == len(set(buckets))  # one point per interval besides the first
    assert full.equity_interval_ns == 0 and len(full.equity_curve) >= len(kept)


def test_the_ledger_keeps_undo_records_for_the_latest_fill_of_each_token_only() -> None:
    ledger = Ledger(10**12)
    for n in range(50):
        ledger.apply_fill(_fill(f"f{n}", "c", n, size=1_000_000))
    assert len(ledger._undo) == 1
    ledger.revert_fill("f49")
    assert len(ledger._undo) == 0
