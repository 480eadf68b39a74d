"""A live desk's archive (:class:`DeskArchive`): with a bounded past (orders retiring with
their fills, a thinned equity curve) it gives back exactly the fills, the orders they need
and the equity curve an unbounded desk fed the same events keeps in memory, so ``fills.csv``
is byte-identical and the curve point for point."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.backtest.fills_csv import write_fills_csv
from polytraders.commands.live_archive import DeskArchive
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.ids import client_order_id, intent_id
from polytraders.desk.desk import LIVE_EQUITY_INTERVAL_NS, SessionMemory
from polytraders.desk.fixtures import binary_market
from polytraders.desk.orders import OrderManager
from polytraders.desk.state import DeskState
from polytraders.model.events import AnyEvent, OrderAccepted
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import OrderIntent, Side, VenueOrder
from polytraders.venues.base import VenueEvent

S = 1_000_000_000
BOT = "strat.scripted"
VENUE_RETENTION_S = 300
RETIRED_AFTER_NS = (VENUE_RETENTION_S + 60) * S


class _Venue:
    """Takes orders; answers what the test scripts."""

    name = "scripted"

    def __init__(self) -> None:
        self.answers: list[VenueEvent] = []

    def submit(self, order: VenueOrder, now_ns: int) -> None:
        """Answers are scripted."""

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancels are not exercised here."""

    def cancel_all(self, now_ns: int) -> None:
        """Nothing to do."""

    def on_market_event(self, event: AnyEvent) -> None:
        """Market data is not used."""

    def advance(self, now_ns: int) -> None:
        """Answers are scripted."""

    def poll(self) -> list[VenueEvent]:
        answers, self.answers = self.answers, []
        return answers

    def open_orders(self) -> list[VenueOrder]:
        """Not asked here."""
        return []

    def balances(self) -> dict[str, int]:
        """Not asked here."""
        return {}

    def heartbeat(self, now_ns: int) -> bool:
        """No dead-man switch."""
        return True


def _plan(n: int, token: str) -> tuple[OrderIntent, RoutePlan]:
    intent = OrderIntent(
        intent_id=intent_id(f"{BOT}/s0", n), bot_id=BOT, token_id=token, market_id="m1",
        side=Side.BUY, price=450_000, size=10_000_000,
    )  # fmt: skip
    order = VenueOrder(
        client_order_id=client_order_id(intent.intent_id, 0), intent_id=intent.intent_id,
        bot_id=BOT, token_id=token, market_id="m1", side=Side.BUY, price=450_000,
        size=10_000_000,
    )  # fmt: skip
    return intent, RoutePlan(orders=(order,))


def _fill(
    fill_id: str, cid: str, token: str, now_ns: int, size: int,
    liquidity: LiquiditySide = LiquiditySide.MAKER,
) -> Fill:  # fmt: skip
    return Fill(
        fill_id=fill_id, client_order_id=cid, token_id=token, market_id="m1", side=Side.BUY,
        price=450_000, size=size, liquidity=liquidity, ts_event_ns=now_ns, ts_recv_ns=now_ns,
    )  # fmt: skip


class _Desk:
    """An order manager, its state and scripted venue (bounded or not)."""

    def __init__(self, memory: SessionMemory) -> None:
        self.state = DeskState.build(markets=[binary_market("m1", "yes", "no")], cash=10**12)
        self.venue = _Venue()
        self.orders = OrderManager(self.venue, self.state, retention=memory.orders)

    def step(self, now_ns: int, events: list[VenueEvent]) -> None:
        self.venue.answers.extend(events)
        self.orders.sync(now_ns)


def _script(desk: _Desk) -> None:
    """Orders filled in two parts on alternating tokens, 100 s apart, some retiring; a fill
    taken back; a late fill for an order retired in the bounded desk; the same fill twice."""
    now = S
    cids: list[str] = []
    for n in range(8):
        token = "yes" if n % 2 else "no"
        intent, plan = _plan(n, token)
        cid = plan.orders[0].client_order_id
        cids.append(cid)
        desk.orders.execute(intent, plan, now)
        accepted = OrderAccepted(
            ts_event_ns=now, ts_recv_ns=now, client_order_id=cid, venue_order_id=f"v{n}"
        )
        desk.step(now, [accepted, _fill(f"t{n}a:{cid}", cid, token, now, 4_000_000)])
        now += S
        taker = LiquiditySide.TAKER
        desk.step(now, [_fill(f"t{n}b:{cid}", cid, token, now, 6_000_000, taker)])
        if n == 5:  # the latest fill of its token taken back
            fill = desk.orders.fills[-1]
            desk.state.ledger.revert_fill(fill.fill_id)
            desk.orders.revert(fill, "SYS_POLY_TRADE_FAILED", now)
        now += 100 * S
    late = now + RETIRED_AFTER_NS
    desk.step(late, [])
    desk.step(late + S, [_fill(f"late:{cids[0]}", cids[0], "no", late + S, 1_000_000)])
    desk.step(late + 2 * S, [_fill(f"t7a:{cids[7]}", cids[7], "yes", late, 4_000_000)])


def test_the_archive_gives_back_an_unbounded_desks_fills_and_orders(tmp_path: Path) -> None:
    """Also: the manager's maker/taker counts (the served metrics) are the unbounded list's."""
    bounded, unbounded = _Desk(SessionMemory.live(VENUE_RETENTION_S)), _Desk(SessionMemory())
    archive = DeskArchive(tmp_path, "desk")
    bounded.orders.archive = archive
    _script(bounded)
    _script(unbounded)
    assert bounded.orders.retired_created_ns  # orders with fills did retire
    assert len(bounded.orders.fills) < len(unbounded.orders.fills)
    assert f"late:{_plan(0, 'no')[1].orders[0].client_order_id}" in bounded.orders.booked_fill_ids
    assert bounded.orders.stats.fills_reverted == unbounded.orders.stats.fills_reverted == 1

    listed = [f.liquidity for f in unbounded.orders.fills]
    stats = bounded.orders.stats
    assert stats.maker_fills_listed == listed.count(LiquiditySide.MAKER) == 9
    assert stats.taker_fills_listed == listed.count(LiquiditySide.TAKER) == 7  # one reverted

    mark = archive.mark()
    fills = archive.read_fills(mark)
    assert fills == unbounded.orders.fills
    orders = {**archive.read_orders(mark), **bounded.state.orders}
    markets = list(unbounded.state.markets())
    write_fills_csv(tmp_path / "bounded.csv", fills, orders, markets)
    full = unbounded.orders.fills
    write_fills_csv(tmp_path / "unbounded.csv", full, unbounded.state.orders, markets)
    assert (tmp_path / "bounded.csv").read_bytes() == (tmp_path / "unbounded.csv").read_bytes()
    archive.close()


marks = st.lists(
    st.tuples(st.integers(0, 30 * S), st.integers(-50_000_000, 50_000_000)),
    min_size=1,
    max_size=200,
)


@settings(max_examples=100, deadline=None)
@given(marks)
def test_the_archive_keeps_the_unthinned_equity_curve(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, int]]
) -> None:
    folder = tmp_path_factory.mktemp("archive")
    full, thinned = Ledger(10**9), Ledger(10**9, equity_interval_ns=LIVE_EQUITY_INTERVAL_NS)
    archive = DeskArchive(folder, "desk")
    thinned.equity_sink = archive.equity_point
    now = 0
    for gap_ns, cash in steps:
        now += gap_ns
        for ledger in (full, thinned):
            ledger.deposit(cash - (ledger.cash - 10**9))  # cash becomes 10**9 + cash
            ledger.mark(now, lambda _token: None)
    curve = archive.read_equity_curve(archive.mark())
    assert curve == [(p.ts_ns, p.equity) for p in full.equity_curve]
    archive.close()
