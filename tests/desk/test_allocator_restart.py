"""The MetaAllocator across a crash-only restart, on a real event store (SQLite): two strategies
trade, the allocator reallocates and is frozen, the process dies (no shutdown), the venue fills
a resting order while the desk is down, and the restarted desk (state rebuilt as the live
start-up builds it, the missed fill recorded as the start-up reconciliation records it) has
each strategy's capital, positions and PnL, the weights, tier, frozen flag and equity basis
exactly as before, plus the missed fill once; budgets hold as before; the restore is
recorded; a desk config that no longer describes the run fails closed."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import pytest

from polytraders.contracts.allocation import Allocation
from polytraders.contracts.bot import BotBase
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import BotClass
from polytraders.contracts.view import DeskView
from polytraders.desk.allocator import (
    SYS_ALLOCATOR_BUDGET_RESHAPED,
    AllocatorConfig,
    AllocatorRestore,
    AllocatorRestoreError,
    DrawdownTier,
    MetaAllocator,
)
from polytraders.desk.checkpoints import (
    CheckpointWriter,
    allocator_restore,
    load_checkpoint,
)
from polytraders.desk.desk import Desk, DeskConfig
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import AnyEvent, BookSnapshot, OperatorCommand
from polytraders.model.fills import Fill
from polytraders.model.orders import OrderIntent, OrderStatus, Side, TimeInForce
from polytraders.model.position import Position
from polytraders.store import EventStore
from polytraders.store.journal import RunJournal
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import SPACE, ApproveBot, DoubleConfig, PassThroughExec
from tests.desk.test_desk import MARKET, S, snap
from tests.store import factories as f

RUN = "run-alloc-restart"
A, B = "strat.a", "strat.b"
BID, ASK = 440_000, 460_000


class Script(BotBase[DoubleConfig]):
    """On each book snapshot, while it has no open order of its own, proposes the next step of
    its plan: ``("take", size)`` buys ``size`` at the ask (FAK), ``("rest", size)`` bids
    ``size`` two cents under the bid (GTC), ``("low", size)`` six cents under it."""

    bot_id = "strat.script"
    bot_class = BotClass.STRATEGY
    Config = DoubleConfig
    SEARCH_SPACE = SPACE

    def __init__(self, bot_id: str, plan: list[tuple[str, int]], first: int = 0) -> None:
        super().__init__()
        self.bot_id = bot_id  # type: ignore[misc]
        self.plan = list(plan)
        self.count = first

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        if not isinstance(event, BookSnapshot) or not self.plan:
            return Proposal()
        if any(o.bot_id == self.bot_id for o in view.open_orders("yes")):
            return Proposal()
        kind, size = self.plan.pop(0)
        self.count += 1
        take = kind == "take"
        intent = OrderIntent(
            intent_id=f"{self.bot_id}/{self.count}",
            bot_id=self.bot_id,
            token_id="yes",
            market_id="m1",
            side=Side.BUY,
            price=ASK if take else BID - (60_000 if kind == "low" else 20_000),
            size=size,
            time_in_force=TimeInForce.FAK if take else TimeInForce.GTC,
            ts_created_ns=view.now_ns,
        )
        return Proposal(intents=(intent,))


CONFIG = AllocatorConfig(
    budgets_pct={A: 4, B: 40},
    reserve_pct=56,
    drawdown_tiers=[DrawdownTier(drawdown_pct=5, shift_pct=50)],
    check_interval_s=10,
)


def _desk(
    venue: PaperVenue,
    plans: dict[str, list[tuple[str, int]]],
    config: AllocatorConfig = CONFIG,
    *,
    journal: RunJournal | None = None,
    state: DeskState | None = None,
    restore: AllocatorRestore | None = None,
    first: int = 0,
) -> Desk:
    return Desk(
        run_id=RUN,
        venue=venue,
        strategies=[BotSlot(Script(bot, plan, first)) for bot, plan in plans.items()],
        risk=[BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
        config=DeskConfig(allocator=config),
        state=state,
        journal=journal,
        allocator_restore=restore,
    )


def _positions(desk: Desk, strategy: str) -> dict[str, tuple[int, ...]]:
    allocator = desk.allocator
    assert allocator is not None
    out: dict[str, tuple[int, ...]] = {}
    for kind, positions in (
        ("capital", allocator.positions(strategy)),
        ("pnl", allocator.pnl_positions(strategy)),
    ):
        for token, p in positions.items():
            out[f"{kind}:{token}"] = _fields(p)
    return out


def _fields(p: Position) -> tuple[int, ...]:
    return (p.size, p.cost_basis, p.realized_pnl, p.fees, p.fill_count)


def _allocator_view(desk: Desk) -> tuple[object, ...]:
    allocator = desk.allocator
    assert allocator is not None
    return (
        allocator.weights_ppm,
        allocator.reserve_ppm,
        allocator.tier,
        allocator.frozen,
        allocator.equity_micros,
        {s: allocator.budget(s) for s in (A, B)},
    )


class Crashed(msgspec.Struct, kw_only=True):
    """What the first process left: the store path, the venue (still running), the desk."""

    path: str
    venue: PaperVenue
    desk: Desk


def _trade_and_crash(tmp_path: Path) -> Crashed:
    """Strategy A takes twice and rests a bid; B takes once and rests a bid; a drawdown
    reallocates; an operator freezes; the process dies after its last step's flush."""
    path = str(tmp_path / "desk.sqlite")
    store = EventStore.open(path)
    f.start(store, RUN)
    venue = PaperVenue(PaperVenueConfig(), [MARKET], RUN)
    plans = {
        A: [("take", 10_000_000), ("take", 10_000_000), ("low", 5_000_000)],
        B: [("take", 20_000_000), ("rest", 30_000_000)],
    }
    desk = _desk(venue, plans, journal=RunJournal(store, RUN))
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    for t in range(1, 8):
        desk.process(snap(t))
    desk.state.ledger.peak_equity += 100_000_000  # a peak 10 % above: tier 1 at the check
    desk.process(snap(11.0))
    desk.process(OperatorCommand(ts_event_ns=12 * S, command="allocator-freeze", operator="al"))
    desk.process(snap(13.0))
    store.flush()  # the live recording flushes at every step; then SIGKILL
    store.close()
    return Crashed(path=path, venue=venue, desk=desk)


def _restart(
    crashed: Crashed,
    *,
    config: AllocatorConfig = CONFIG,
    down_fill: bool = True,
    external_shares: int = 0,
    idle: tuple[str, ...] = (A,),
) -> tuple[Desk, EventStore, list[Fill]]:
    """The live start-up, in order: resume the attempt, read the checkpoint, reconcile with
    the venue (the fills it made while the desk was down are missed: recorded now), build the
    state from the venue's holdings, restore the allocator from the store, start the desk."""
    venue, before = crashed.venue, crashed.desk
    store = EventStore.open(crashed.path, create=False)
    store.resume_run(RUN)
    restored = load_checkpoint(store, RUN)
    missed: list[Fill] = []
    if down_fill:  # the market trades down through B's resting bid while no desk runs
        venue.on_market_event(snap(20.0, bid=300_000, ask=400_000))
        venue.advance(21 * S)
        missed = [e for e in venue.poll() if isinstance(e, Fill)]
    for fill in missed:
        store.append_fill(RUN, fill)
    store.flush()
    orders = {o.client_order_id: o for o in before.state.orders.values()}
    for fill in missed:
        order = orders[fill.client_order_id]
        orders[order.client_order_id] = msgspec.structs.replace(
            order,
            filled_size=order.filled_size + fill.size,
            status=OrderStatus.FILLED,
        )
    ledger = before.state.ledger
    held = {p.token_id: p for p in ledger.positions()}
    for fill in missed:
        held[fill.token_id].apply(fill)
    positions = {t: (p.size, p.cost_basis) for t, p in held.items() if p.size}
    if external_shares:
        size, cost = positions["yes"]
        positions["yes"] = (size + external_shares, cost + external_shares * ASK // 1_000_000)
    state = DeskState.build(
        now_ns=21 * S,
        markets=[MARKET],
        positions=positions,
        cash=ledger.cash - sum(fl.notional + fl.fee for fl in missed),
        open_orders=[o for o in orders.values() if o.status.is_open],
        peak_equity=ledger.peak_equity,
    )
    for order in orders.values():
        if not order.status.is_open:
            state.add_order(order)
    desk = _desk(
        venue,
        {B: [("take", 1_000_000_000)], **{bot: [] for bot in idle}},
        config,
        journal=RunJournal(store, RUN),
        state=state,
        restore=allocator_restore(store, RUN, restored),
        first=10,
    )
    desk.persist_checkpoints(CheckpointWriter(store, RUN, restored=restored), restored)
    return desk, store, missed


def test_a_restart_keeps_budgets_attribution_and_allocation_and_books_the_missed_fill_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crashed = _trade_and_crash(tmp_path)
    before = crashed.desk
    allocations = [e.output for e in before.envelopes if e.decision is Decision.ALLOCATE]
    assert [a.reason for a in allocations if isinstance(a, Allocation)] == [
        "SYS_ALLOCATOR_ALLOCATED",
        "SYS_ALLOCATOR_REALLOCATED",
        "SYS_ALLOCATOR_FROZEN",
    ]
    assert before.allocator is not None and before.allocator.tier == 1
    assert len(before.state.open_orders()) == 2  # A's and B's resting bids
    capital = {s: before.allocator.capital_in_use(s, before.state) for s in (A, B)}
    positions = {s: _positions(before, s) for s in (A, B)}
    assert positions[A]["capital:yes"][0] == 20_000_000
    assert positions[B]["capital:yes"][0] == 20_000_000
    allocator_before = _allocator_view(before)
    probe = OrderIntent(
        intent_id=f"{A}/probe",
        bot_id=A,
        token_id="yes",
        market_id="m1",
        side=Side.BUY,
        price=ASK,
        size=100_000_000,
        time_in_force=TimeInForce.FAK,
        ts_created_ns=0,
    )
    verdict_before = before.allocator.check(probe, before.state)
    assert verdict_before.code == SYS_ALLOCATOR_BUDGET_RESHAPED

    with caplog.at_level(logging.WARNING):
        desk, store, missed = _restart(crashed)
    assert len(missed) == 1 and missed[0].client_order_id.startswith(B)
    allocator = desk.allocator
    assert allocator is not None
    assert _allocator_view(desk) == allocator_before
    assert allocator.frozen and allocator.tier == 1
    assert _positions(desk, A) == positions[A]
    assert {s: allocator.capital_in_use(s, desk.state) for s in (A, B)} == capital
    restored_b = _positions(desk, B)
    assert restored_b["capital:yes"][0] == 20_000_000 + missed[0].size  # booked exactly once
    assert restored_b["pnl:yes"][4] == positions[B]["pnl:yes"][4] + 1
    assert desk.unattributed == {}
    assert "belong to no strategy" not in caplog.text
    # budgets hold exactly as before the crash: the same intent gets the same verdict
    assert allocator.check(probe, desk.state) == verdict_before
    desk.process(snap(22.0))
    (restored,) = [e for e in desk.envelopes if e.decision is Decision.ALLOCATE]
    assert restored.reason_codes == ("SYS_ALLOCATOR_RESTORED",)
    output = restored.output
    assert isinstance(output, Allocation)
    assert output.weights_ppm == allocator_before[0] and output.frozen and output.tier == 1
    desk.process(snap(23.0))
    assert desk.result().reason_codes.get(SYS_ALLOCATOR_BUDGET_RESHAPED, 0) == 1
    assert allocator.capital_in_use(B, desk.state) <= allocator.budget(B)
    # the restored allocation is in the checkpoint: a second crash restores it again
    last = load_checkpoint(store, RUN)
    assert last is not None and last.allocator is not None
    assert last.allocator.allocation == output
    store.close()


def _crash_twice(path: Path) -> tuple[Desk, Desk]:
    """Trade, crash, restart (the venue fills B's bid meanwhile), crash again before any
    event, restart again, and process one snapshot: both restarted desks."""
    crashed = _trade_and_crash(path)
    desk, store, _ = _restart(crashed)
    store.close()  # dies again before its first event
    again, store, missed = _restart(
        Crashed(path=crashed.path, venue=crashed.venue, desk=desk), down_fill=False
    )
    assert missed == []
    again.process(snap(22.0))
    store.close()
    return desk, again


def test_a_second_restart_counts_the_missed_fill_once_and_is_deterministic(
    tmp_path: Path,
) -> None:
    desk, again = _crash_twice(tmp_path / "one")
    assert _positions(again, B) == _positions(desk, B)  # the missed fill still once
    assert _positions(again, A) == _positions(desk, A)
    assert _allocator_view(again) == _allocator_view(desk)
    _, other = _crash_twice(tmp_path / "two")
    encoded = [msgspec.json.encode(e) for e in again.envelopes]
    assert encoded and encoded == [msgspec.json.encode(e) for e in other.envelopes]


def test_an_external_trade_is_logged_and_recorded_as_nobodys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crashed = _trade_and_crash(tmp_path)
    with caplog.at_level(logging.WARNING):
        desk, store, _ = _restart(crashed, external_shares=7_000_000)
    assert desk.unattributed == {"yes": 7_000_000}
    assert "yes holds" in caplog.text and "7000000 belong to no strategy" in caplog.text
    desk.process(snap(22.0))
    (restored,) = [e for e in desk.envelopes if e.decision is Decision.ALLOCATE]
    assert restored.reason_codes == ("SYS_ALLOCATOR_RESTORED", "SYS_ALLOCATOR_UNATTRIBUTED")
    store.close()


def test_changed_budgets_start_from_the_static_split_and_keep_attribution(
    tmp_path: Path,
) -> None:
    crashed = _trade_and_crash(tmp_path)
    positions = _positions(crashed.desk, A)
    changed = CONFIG.model_copy(update={"budgets_pct": {A: 5, B: 40}, "reserve_pct": 55})
    desk, store, _ = _restart(crashed, config=changed, down_fill=False)
    allocator = desk.allocator
    assert allocator is not None
    assert allocator.weights_ppm == {A: 50_000, B: 400_000} and allocator.tier == 0
    assert allocator.frozen  # an operator's freeze is not lifted by an edit
    assert allocator.equity_micros == desk.state.equity
    assert _positions(desk, A) == positions
    desk.process(snap(22.0))
    (restored,) = [e for e in desk.envelopes if e.decision is Decision.ALLOCATE]
    assert restored.reason_codes == ("SYS_ALLOCATOR_CONFIG_CHANGED",)
    store.close()


def test_other_strategies_fail_closed_and_a_fresh_allocator_refuses_positions(
    tmp_path: Path,
) -> None:
    crashed = _trade_and_crash(tmp_path)
    other = AllocatorConfig(budgets_pct={A: 4, B: 40, "strat.c": 10}, reserve_pct=46)
    with pytest.raises(AllocatorRestoreError, match=r"strategies \['strat.a', 'strat.b'\]"):
        _restart(crashed, config=other, down_fill=False, idle=(A, "strat.c"))
    state = DeskState.build(markets=[MARKET], positions={"yes": (1_000_000, 460_000)})
    with pytest.raises(ValueError, match="without the run's checkpointed allocator state"):
        _desk(PaperVenue(PaperVenueConfig(), [MARKET], RUN), {A: [], B: []}, state=state)


def test_a_fill_recorded_twice_is_attributed_once(tmp_path: Path) -> None:
    crashed = _trade_and_crash(tmp_path)
    store = EventStore.open(crashed.path, create=False)
    data = allocator_restore(store, RUN, load_checkpoint(store, RUN))
    store.close()
    assert data is not None and len(data.fills) == 3
    twice = msgspec.structs.replace(data, fills=data.fills + data.fills)  # e.g. two attempts
    allocator = MetaAllocator(CONFIG, [A, B], [A, B])
    allocator.restore(twice, crashed.desk.state)
    before = crashed.desk.allocator
    assert before is not None
    for strategy in (A, B):
        assert {t: _fields(p) for t, p in allocator.positions(strategy).items()} == {
            t: _fields(p) for t, p in before.positions(strategy).items()
        }
