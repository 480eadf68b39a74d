"""The kill switch's unwind policy and the operator's ``unwind`` (issue 21 items 7–8), end to
end on the real desk loop, paper venue and recorded data: the first recorded market of the
Polymarket sample (composed from ``examples/desk.toml``: its venue, account and seven guards)
and the Binance USDⓈ-M BTCUSDT sample (a perpetual long and a perpetual short).

``PositionBuilder`` below is a TEST FIXTURE, not a library bot: 30 s after its first book it
takes a position with a marketable FAK order through ``exec.smartrouter``, then every 20 s
from 60 s it tries to add to it; an operator trips the kill switch 90 s after the first book.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.bots.execution.twap import Twap
from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal, RoutePlan
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.ids import intent_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.desk.desk import Desk, DeskConfig, DeskResult
from polytraders.desk.slots import BotSlot
from polytraders.desk.unwind import unwind_plan_problem
from polytraders.feeds import open_source
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, OperatorCommand
from polytraders.model.fills import Fill
from polytraders.model.orders import OrderIntent, Side, TimeInForce, VenueOrder
from polytraders.venues.paper import PaperVenue
from tests.bots.strategy.test_desk_backtest import one_market

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DESK = ROOT / "examples" / "desk.toml"
BINANCE = ROOT / "data" / "samples" / "binance" / "usdm_btcusdt_20240808.gz"
PERP = "binance-usdm:BTCUSDT"
NS = 1_000_000_000
KILL_S = 90
UNWIND = {"kill_switch_unwind": "twap", "unwind_duration_s": 40, "unwind_slice_count": 4}
UNWIND_ENTRY = {"id": "exec.twap", "role": "unwind"}


class _Config(BotConfig):
    """No settings."""


class PositionBuilder(BotBase[_Config]):
    """Test fixture: at 30 s a FAK ``side`` of ``size`` through the touch; from 60 s, every
    20 s, another of ``add_size`` (more of the same position)."""

    bot_id: ClassVar[str] = "strat.test_position_builder"
    bot_class: ClassVar[BotClass] = BotClass.STRATEGY
    Config: ClassVar[type[_Config]] = _Config
    SEARCH_SPACE: ClassVar[SearchSpace] = SearchSpace(_Config)
    RUNTIME_BUDGET: ClassVar[RuntimeBudget] = RuntimeBudget(
        decision_p95_us=1_000, decision_p99_us=2_500, calibration="a test fixture"
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, token_id: str, market_id: str, side: Side, size: int, add_size: int, tick: int
    ) -> None:
        super().__init__()
        self.token_id, self.market_id, self.side = token_id, market_id, side
        self.size, self.add_size, self.tick = size, add_size, tick
        self.start_ns = 0
        self.sent = 0

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta) or event.token_id != self.token_id:
            return Proposal()
        book = view.book(self.token_id)
        touch = None
        if book is not None:
            touch = book.best_ask() if self.side is Side.BUY else book.best_bid()
        if touch is None:
            return Proposal()
        self.start_ns = self.start_ns or view.now_ns
        due_s = 30 if self.sent == 0 else 60 + 20 * (self.sent - 1)
        if view.now_ns < self.start_ns + due_s * NS:
            return Proposal()
        self.sent += 1
        price = touch + 5 * self.tick if self.side is Side.BUY else touch - 5 * self.tick
        intent = OrderIntent(
            intent_id=intent_id(self.bot_id, self.sent),
            bot_id=self.bot_id,
            token_id=self.token_id,
            market_id=self.market_id,
            side=self.side,
            price=price,
            size=self.size if self.sent == 1 else self.add_size,
            time_in_force=TimeInForce.FAK,
            builder_code=view.account.builder_code if self.market_id else "",
            ts_created_ns=view.now_ns,
        )
        return Proposal(intents=(intent,))


def _desk_file(base: dict[str, Any], desk: dict[str, Any], unwind: bool) -> DeskFile:
    data = dict(base)
    data["strategies"] = []
    data["desk"] = {**data.get("desk", {}), **desk}
    data["execution"] = [{"id": "exec.smartrouter"}, *([UNWIND_ENTRY] if unwind else [])]
    return DeskFile.from_mapping(data, "unwind-desk")


def _run(
    desk_file: DeskFile,
    worker: PositionBuilder,
    events: list[AnyEvent],
    *,
    commands: tuple[tuple[int, str], ...] = ((KILL_S, "kill"),),
    source: Any = None,
) -> tuple[Desk, DeskResult, int]:
    """The desk over the first 5 minutes of ``events``, operator ``commands`` (seconds after
    the first event) inserted; returns the desk, its result and the first event's time."""
    _, risk, execution = desk_file.build_slots()
    markets = [] if source is not None else one_market()[0]
    instruments = source.instruments if source is not None else []
    venue = PaperVenue(desk_file.venue, markets, "run-unwind", instruments=instruments)
    desk = Desk(
        run_id="run-unwind",
        venue=venue,
        strategies=[BotSlot(worker)],
        risk=risk,
        execution=execution,
        markets=markets,
        instruments=instruments,
        config=desk_file.desk,
        account=desk_file.account.identity(),
        unwind=desk_file.build_unwind_slot(),
    )
    first = events[0].ts_event_ns
    window = [e for e in events if e.ts_event_ns < first + 300 * NS]
    for at_s, command in sorted(commands, reverse=True):
        at = first + at_s * NS
        i = next(k for k, e in enumerate(window) if e.ts_event_ns >= at)
        window.insert(i, OperatorCommand(ts_event_ns=at, command=command, operator="test"))
    return desk, desk.run(window), first


def _polymarket(desk: dict[str, Any], unwind: bool, **kw: Any) -> tuple[Desk, DeskResult, int]:
    markets, events = one_market()
    token = markets[0].tokens[0]
    base = DeskFile.load(EXAMPLE_DESK).model_dump(mode="json")
    worker = PositionBuilder(
        token.token_id, markets[0].market_id, Side.BUY, 40_000_000, 10_000_000, token.tick_size
    )
    return _run(_desk_file(base, desk, unwind), worker, events, **kw)


def _binance(side: Side, **kw: Any) -> tuple[Desk, DeskResult, int]:
    source = open_source(BINANCE)
    events = [e for e in source.events() if e.ts_event_ns]
    base = {
        "risk": [
            {"id": "risk.killswitch"},
            {"id": "risk.stalebookguard"},
            {"id": "risk.drawdownguard"},
        ]
    }
    worker = PositionBuilder(PERP, "", side, 10_000, 2_000, 100_000)  # 0.01 BTC, then 0.002
    return _run(_desk_file(base, UNWIND, True), worker, events, source=source, **kw)


def _after(result: DeskResult, ns: int) -> list[Fill]:
    return [f for f in result.fills if f.ts_event_ns >= ns]


def _orders_after(desk: Desk, ns: int) -> list[VenueOrder]:
    return [o for o in desk.state.orders.values() if o.ts_created_ns >= ns]


def _desk_envelopes(desk: Desk, code: str) -> list[ReportEnvelope]:
    return [e for e in desk.envelopes if code in e.reason_codes]


def _check_unwind(desk: Desk, result: DeskResult, kill_ns: int, side: Side) -> str:
    """The common promises after a trip with the "twap" policy; returns the unwind's id."""
    (started,) = _desk_envelopes(desk, "SYS_UNWIND_STARTED")
    assert started.bot_id == "desk" and started.decision is Decision.PROPOSE
    assert started.ts_decided_ns == kill_ns
    unwind = started.output
    assert isinstance(unwind, OrderIntent)
    assert unwind.reduce_only and unwind.side is side and unwind.intent_id.startswith("desk/u")
    # the twap schedule: 4 children over 40 s, one envelope per release at its time
    twap = [e for e in desk.envelopes if e.bot_id == "exec.twap"]
    assert all(e.correlation_id == unwind.intent_id for e in twap)
    schedule = twap[0]
    assert isinstance(schedule.output, RoutePlan)
    releases = [c.release_ns for c in schedule.output.child_slices]
    assert len(releases) == 4 and releases[0] == kill_ns and releases[-1] < kill_ns + 40 * NS
    released = [e.ts_decided_ns for e in twap[1:]]
    assert released == releases[: len(released)]
    # nothing but the unwind's reduce-only children was sent after the trip
    after = _orders_after(desk, kill_ns)
    assert after and all(o.intent_id == unwind.intent_id for o in after)
    assert all(o.reduce_only and o.side is side for o in after)
    # no fill after the trip increased the position
    position = unwind.size * -side.sign
    for fill in _after(result, kill_ns):
        assert fill.side is side
        before, position = position, position + fill.size * side.sign
        assert abs(position) < abs(before) and position * before >= 0
    # the strategy kept proposing and was refused by the gate
    refused = [
        e
        for e in desk.envelopes
        if e.ts_decided_ns > kill_ns and "SYS_KILL_SWITCH_TRIPPED" in e.reason_codes
    ]
    assert refused
    # the end is recorded: flat, or the remainder with its size
    (end,) = [
        e
        for e in desk.envelopes
        if {"SYS_UNWIND_DONE", "SYS_UNWIND_INCOMPLETE"} & set(e.reason_codes)
    ]
    assert isinstance(end.output, OrderIntent)
    held = desk.state.position(unwind.token_id)
    left = 0 if held is None else abs(held.size)
    assert end.output.size == left
    assert ("SYS_UNWIND_DONE" in end.reason_codes) == (left == 0)
    assert result.kill_switch_tripped  # stays tripped: no operator reset
    return unwind.intent_id


# ---------------------------------------------------------------------------- Polymarket
@pytest.mark.slow
def test_a_trip_unwinds_the_polymarket_position_in_twap_children() -> None:
    desk, result, first = _polymarket(UNWIND, True)
    kill_ns = first + KILL_S * NS
    before = [f for f in result.fills if f.ts_event_ns < kill_ns]
    assert sum(f.size for f in before) >= 40_000_000  # the position was built
    _check_unwind(desk, result, kill_ns, Side.SELL)
    held = desk.state.position(result.fills[0].token_id)
    assert held is not None and held.size == 0  # the book took it all
    assert result.reason_codes.get("SYS_UNWIND_DONE") == 1


@pytest.mark.slow
def test_the_unwind_run_is_deterministic() -> None:
    _, first, _ = _polymarket(UNWIND, True)
    _, second, _ = _polymarket(UNWIND, True)
    assert first.timeline_sha256 == second.timeline_sha256
    assert msgspec.json.encode(first.fills) == msgspec.json.encode(second.fills)


@pytest.mark.slow
def test_policy_none_keeps_todays_kill_switch_byte_identically() -> None:
    _, today, _ = _polymarket({}, False)
    desk, none, first = _polymarket({"kill_switch_unwind": "none"}, True)
    assert none.timeline_sha256 == today.timeline_sha256
    assert not _orders_after(desk, first + KILL_S * NS)  # cancel-all only, nothing sent
    assert DeskConfig(kill_switch_unwind="none").config_version == DeskConfig().config_version


@pytest.mark.slow
def test_the_operator_unwinds_while_tripped_and_a_reset_does_not_resume_it() -> None:
    commands = ((KILL_S, "kill"), (KILL_S + 5, "unwind"), (KILL_S + 120, "reset_kill_switch"))
    desk, result, first = _polymarket({}, True, commands=commands)
    unwind_ns = first + (KILL_S + 5) * NS
    (started,) = _desk_envelopes(desk, "SYS_UNWIND_STARTED")
    assert started.ts_decided_ns == unwind_ns  # the trip itself unwound nothing (policy none)
    after_kill = _orders_after(desk, first + KILL_S * NS)
    assert after_kill and all(o.intent_id.startswith("desk/u") for o in after_kill)
    assert {a.command: a.applied for a in result.operator_actions} == {
        "kill": True,
        "unwind": True,
        "reset_kill_switch": True,
    }
    reset_ns = first + (KILL_S + 120) * NS
    assert not _orders_after(desk, reset_ns)  # nothing resumed; trading stays HALTED
    assert len(_desk_envelopes(desk, "SYS_UNWIND_STARTED")) == 1
    assert not result.kill_switch_tripped and result.trading_state.value == "HALTED"


def test_an_unwind_plan_that_could_add_to_a_position_is_refused() -> None:
    intent = OrderIntent(
        intent_id="desk/u1/i1", bot_id="desk", token_id=PERP, side=Side.SELL, price=1, size=5,
        reduce_only=True,
    )  # fmt: skip
    order = VenueOrder(
        client_order_id="desk/u1/i1/o0", intent_id="desk/u1/i1", bot_id="desk", token_id=PERP,
        side=Side.SELL, price=1, size=5, time_in_force=TimeInForce.FAK, reduce_only=True,
    )  # fmt: skip
    from polytraders.accounting.ledger import Ledger
    from polytraders.desk.state import DeskState

    flat = DeskState(ledger=Ledger(0))
    assert "exceed" in unwind_plan_problem(RoutePlan(orders=(order,)), intent, flat)
    adds = msgspec.structs.replace(order, reduce_only=False)
    assert "not a reduce-only" in unwind_plan_problem(RoutePlan(orders=(adds,)), intent, flat)
    other = msgspec.structs.replace(order, side=Side.BUY)
    assert "is a BUY" in unwind_plan_problem(RoutePlan(orders=(other,)), intent, flat)


# ---------------------------------------------------------------------------- Binance perp
@pytest.mark.slow
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL], ids=["long", "short"])
def test_a_trip_unwinds_a_perpetual_position(side: Side) -> None:
    desk, result, first = _binance(side)
    kill_ns = first + KILL_S * NS
    held_at_kill = sum(f.size * f.side.sign for f in result.fills if f.ts_event_ns < kill_ns)
    assert held_at_kill * side.sign >= 10_000  # a long (short) of at least 0.01 BTC
    _check_unwind(desk, result, kill_ns, side.opposite)
    position = desk.state.position(PERP)
    assert position is not None and position.size == 0
    _, again, _ = _binance(side)
    assert again.timeline_sha256 == result.timeline_sha256


# ---------------------------------------------------------------------------- desk file
def test_the_desk_file_refuses_an_unwind_policy_without_its_bot() -> None:
    with pytest.raises(DeskFileError) as caught:
        DeskFile.from_mapping({"desk": {"kill_switch_unwind": "twap"}})
    assert caught.value.problems == [
        'desk.kill_switch_unwind: "twap" needs an [[execution]] entry id = "exec.twap" '
        'with role = "unwind"'
    ]
    wrong = {"execution": [{"id": "exec.smartrouter", "role": "unwind"}]}
    with pytest.raises(DeskFileError, match=r"the unwind bot must be exec\.twap"):
        DeskFile.from_mapping(wrong)
    schedule = {
        "desk": {"unwind_duration_s": 60},
        "execution": [
            {"id": "exec.smartrouter"},
            {**UNWIND_ENTRY, "config": {"unwind_duration_s": 30}},
        ],
    }
    with pytest.raises(DeskFileError, match=r"the unwind schedule is \[desk\] unwind_duration_s"):
        DeskFile.from_mapping(schedule)


def test_the_unwind_bot_takes_the_desk_schedule_and_defaults_keep_versions() -> None:
    desk_file = DeskFile.from_mapping(
        {
            "desk": UNWIND,
            "execution": [{"id": "exec.smartrouter"}, UNWIND_ENTRY],
        }
    )
    slot = desk_file.build_unwind_slot()
    assert slot is not None and isinstance(slot.bot, Twap)
    assert (slot.bot.config.unwind_duration_s, slot.bot.config.unwind_slice_count) == (40, 4)
    assert [s.bot_id for s in desk_file.build_slots()[2]] == ["exec.smartrouter"]
    default = DeskFile()
    explicit = DeskFile.from_mapping(
        {"desk": {"kill_switch_unwind": "none", "unwind_max_slippage_bps": 100}}
    )
    assert explicit.config_version == default.config_version
    assert "role" not in default.model_dump(mode="json")["execution"][0]
    with pytest.raises(ValueError, match='kill_switch_unwind = "twap" needs an unwind bot'):
        Desk(
            run_id="r",
            venue=PaperVenue(desk_file.venue, [], "r"),
            execution=desk_file.build_slots()[2],
            config=desk_file.desk,
        )
