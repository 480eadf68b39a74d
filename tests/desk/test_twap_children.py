"""``exec.twap`` on the real desk loop over one recorded BTC 15-minute market of the shipped
sample (``data/samples/polymarket/resolvedkit_btc15m``), composed from the example desk file
(``examples/desk.toml``: its venue, account and seven guards) with ``exec.twap`` as the
ENFORCED execution bot: a position is bought in TWAP children and unwound by
:func:`~polytraders.bots.execution.twap.unwind_intent`; every child is released at its time
and recorded; the kill switch drops the rest; a replay is byte-identical."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import msgspec
import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.bots.execution.twap import Twap, unwind_intent
from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal, RoutePlan
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.ids import intent_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.desk.desk import Desk, DeskResult
from polytraders.desk.slots import BotSlot
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, OperatorCommand
from polytraders.model.market import Market
from polytraders.model.orders import OrderIntent, Side, TimeInForce
from polytraders.venues.paper import PaperVenue
from tests.bots.strategy.test_desk_backtest import one_market

EXAMPLE_DESK = Path(__file__).resolve().parents[2] / "examples" / "desk.toml"
NS = 1_000_000_000
BUY_SIZE = 60_000_000  # 60 shares
TWAP_CONFIG = {"duration_s": 60, "slice_count": 6, "unwind_duration_s": 40, "unwind_slice_count": 4}


class _Config(BotConfig):
    """No settings."""


class PositionWorker(BotBase[_Config]):
    """Test strategy: 30 s into the recorded market, buy ``BUY_SIZE`` of its first token (limit
    five ticks over the ask, worked by exec.twap); 120 s later, unwind whatever it holds with
    :func:`unwind_intent` (limit: one tick)."""

    bot_id: ClassVar[str] = "strat.position_worker"
    bot_class: ClassVar[BotClass] = BotClass.STRATEGY
    Config: ClassVar[type[_Config]] = _Config
    SEARCH_SPACE: ClassVar[SearchSpace] = SearchSpace(_Config)
    RUNTIME_BUDGET: ClassVar[RuntimeBudget] = RuntimeBudget(
        decision_p95_us=1_000, decision_p99_us=2_500, calibration="a test strategy"
    )

    def __init__(self, market: Market) -> None:
        super().__init__()
        self.token = market.tokens[0]
        self.start_ns = 0
        self.stage = 0

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        token = self.token
        if not isinstance(event, BookSnapshot | BookDelta) or event.token_id != token.token_id:
            return Proposal()
        self.start_ns = self.start_ns or view.now_ns
        book = view.book(token.token_id)
        ask = None if book is None else book.best_ask()
        if self.stage == 0 and view.now_ns >= self.start_ns + 30 * NS and ask is not None:
            self.stage = 1
            self.buy_ns = view.now_ns
            buy = OrderIntent(
                intent_id=intent_id(self.bot_id, 1),
                bot_id=self.bot_id,
                token_id=token.token_id,
                market_id=token.market_id,
                side=Side.BUY,
                price=ask + 5 * token.tick_size,
                size=BUY_SIZE,
                time_in_force=TimeInForce.GTC,
                builder_code=view.account.builder_code,
                ts_created_ns=view.now_ns,
            )
            return Proposal(intents=(buy,))
        position = view.position(token.token_id)
        if self.stage == 1 and view.now_ns >= self.buy_ns + 120 * NS and position and position.size:
            self.stage = 2
            unwind = unwind_intent(
                token,
                position.size,
                token.tick_size,
                intent_id=intent_id(self.bot_id, 2),
                bot_id=self.bot_id,
                now_ns=view.now_ns,
                builder_code=view.account.builder_code,
            )
            return Proposal(intents=(unwind,))
        return Proposal()


def run(*, kill_after_s: int | None = None) -> tuple[Desk, DeskResult]:
    """The example desk with exec.twap over the first recorded market (its first 5 minutes);
    ``kill_after_s``: an operator trips the kill switch that long after the buy."""
    markets, events = one_market()
    data = DeskFile.load(EXAMPLE_DESK).model_dump(mode="json")
    data["strategies"] = []
    data["execution"] = [{"id": "exec.twap", "config": TWAP_CONFIG}]
    desk_file = DeskFile.from_mapping(data, "twap-desk")
    _, risk, execution = desk_file.build_slots()
    assert isinstance(execution[0].bot, Twap)
    worker = PositionWorker(markets[0])
    venue = PaperVenue(desk_file.venue, markets, "run-twap")
    desk = Desk(
        run_id="run-twap",
        venue=venue,
        strategies=[BotSlot(worker)],
        risk=risk,
        execution=execution,
        markets=markets,
        config=desk_file.desk,
        account=desk_file.account.identity(),
    )
    first = events[0].ts_event_ns
    window = [e for e in events if e.ts_event_ns < first + 300 * NS]
    if kill_after_s is not None:
        kill_ns = first + 30 * NS + kill_after_s * NS
        head = [e for e in window if e.ts_event_ns < kill_ns]
        kill = OperatorCommand(ts_event_ns=kill_ns, command="kill", operator="test")
        window = [*head, kill, *(e for e in window if e.ts_event_ns >= kill_ns)]
    return desk, desk.run(window)


def twap_envelopes(desk: Desk, parent: str) -> list[ReportEnvelope]:
    return [
        e for e in desk.envelopes if e.correlation_id == parent and e.bot_class.value == "execution"
    ]


@pytest.mark.slow
def test_a_position_is_bought_and_unwound_in_children_at_their_release_times() -> None:
    desk, result = run()
    buy_id, unwind_id = intent_id("strat.position_worker", 1), intent_id("strat.position_worker", 2)
    for parent, size_cap, slices in ((buy_id, BUY_SIZE, 6), (unwind_id, None, 4)):
        envelopes = twap_envelopes(desk, parent)
        schedule = envelopes[0]
        assert schedule.bot_id == "exec.twap" and schedule.decision is Decision.ROUTE
        assert isinstance(schedule.output, RoutePlan)
        children = schedule.output.child_slices
        assert len(children) == slices
        releases = [c.release_ns for c in children]
        assert releases[0] == schedule.ts_decided_ns
        # one envelope per child, decided exactly at its release time
        released = envelopes[1 : 1 + slices]
        assert [e.ts_decided_ns for e in released] == releases
        assert all(e.bot_id == "exec.twap" for e in released)
        sent = [e for e in released if e.decision is Decision.ROUTE]
        assert sent, "no child was sent"
        fills = [f for f in result.fills if f.client_order_id.startswith(f"{parent}/o")]
        assert fills
        for envelope in sent:
            assert isinstance(envelope.output, RoutePlan)
            (order,) = envelope.output.orders
            assert order.time_in_force is TimeInForce.FAK
            assert order.size % 10_000 == 0 and order.price % 1_000 == 0
            own = [f for f in fills if f.client_order_id == order.client_order_id]
            # filled after the venue's 250 ms entry latency, before the next release
            for fill in own:
                assert envelope.ts_decided_ns <= fill.ts_event_ns <= envelope.ts_decided_ns + NS
        filled = sum(f.size for f in fills)
        if size_cap is not None:
            assert 0 < filled <= size_cap
    token = desk.state.position(one_market()[0][0].tokens[0].token_id)
    assert token is not None and token.size < 5_000_000  # unwound (less than one minimum order)


@pytest.mark.slow
def test_a_replay_is_byte_identical() -> None:
    _, first = run()
    _, second = run()
    assert first.envelope_count == second.envelope_count
    assert first.timeline_sha256 == second.timeline_sha256
    assert msgspec.json.encode(first.fills) == msgspec.json.encode(second.fills)


@pytest.mark.slow
def test_the_kill_switch_drops_the_children_still_scheduled() -> None:
    desk, result = run(kill_after_s=25)  # after the releases at 0, 10 and 20 s
    buy_id = intent_id("strat.position_worker", 1)
    envelopes = twap_envelopes(desk, buy_id)
    dropped = [e for e in envelopes if "SYS_CHILDREN_CANCELLED" in e.reason_codes]
    (drop,) = dropped
    assert isinstance(drop.output, RoutePlan) and len(drop.output.child_slices) == 3
    kill_ns = next(a.ts_ns for a in result.operator_actions if a.command == "kill")
    assert drop.ts_decided_ns == kill_ns
    releases = [e for e in envelopes if e.bot_id == "exec.twap"][1:]
    assert len(releases) == 3 and all(e.ts_decided_ns < kill_ns for e in releases)
    assert not [o for o in desk.state.orders.values() if o.ts_created_ns > kill_ns]
    assert result.kill_switch_tripped
