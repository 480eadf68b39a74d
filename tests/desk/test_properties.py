"""Hypothesis properties of the desk's risk machinery: REDUCING never lets an
exposure-increasing order through; a quarantined risk bot never approves; authority
violations are refused and quarantine the bot."""

from __future__ import annotations

import msgspec
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from polytraders.contracts.authority import Capability, risk_decision_problems
from polytraders.contracts.decisions import APPROVE, RiskDecision, Verdict
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import BotClass, Mode
from polytraders.desk.desk import Desk
from polytraders.desk.fixtures import binary_market
from polytraders.desk.recorder import EnvelopeRecorder
from polytraders.desk.risk_chain import RiskChain
from polytraders.desk.sinks import MemorySink
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import AnyEvent, BookSnapshot, MarketStatus, TradingState
from polytraders.model.exposure import portfolio_exposure
from polytraders.model.market import MarketState
from polytraders.model.orders import OrderIntent, OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.model.position import Position
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import REJECT_CODE, ApproveBot, PassThroughExec, QuoteBot, ScriptedRiskBot

MARKET = binary_market("m1", "yes", "no")
prices = st.integers(1, 99).map(lambda p: p * 10_000)
sizes = st.integers(1, 5_000).map(lambda s: s * 10_000)
tokens = st.sampled_from(["yes", "no"])


@st.composite
def intents(draw: st.DrawFn, n: int = 0) -> OrderIntent:
    return OrderIntent(
        intent_id=f"i{n}", bot_id="strat.x", token_id=draw(tokens), market_id="m1",
        side=draw(st.sampled_from(Side)), price=draw(prices), size=draw(sizes),
    )  # fmt: skip


@st.composite
def books(draw: st.DrawFn) -> DeskState:
    positions = {}
    for token in ("yes", "no"):
        size = draw(st.integers(0, 3_000).map(lambda s: s * 10_000))
        if size:
            positions[token] = (size, size * draw(prices) // 1_000_000)
    orders = [
        VenueOrder(
            client_order_id=f"o{k}",
            intent_id=f"old{k}",
            token_id=draw(tokens),
            market_id="m1",
            side=draw(st.sampled_from(Side)),
            price=draw(prices),
            size=draw(sizes),
            status=OrderStatus.ACCEPTED,
        )
        for k in range(draw(st.integers(0, 3)))
    ]
    return DeskState.build(
        markets=[MARKET], positions=positions, open_orders=orders,
        trading_state=TradingState.REDUCING, cash=10**12,
    )  # fmt: skip


def _worst_after(state: DeskState, intent: OrderIntent, fraction_pct: int) -> int:
    """Worst-case loss with ``fraction_pct`` of the intent filled, computed independently:
    the fill is applied to copies of the positions (not through the gate's rate formula)."""
    held = {}
    for p in state.positions():
        copy = Position(p.token_id)
        copy.size, copy.cost_basis = p.size, p.cost_basis
        held[p.token_id] = copy
    filled = intent.size * fraction_pct // 100 // 10_000 * 10_000
    if filled:
        held.setdefault(intent.token_id, Position(intent.token_id)).apply_trade(
            intent.side, intent.price, filled
        )
    report = portfolio_exposure([MARKET], held.values(), state.open_orders())
    return report.markets["m1"].worst


@settings(max_examples=300, deadline=None)
@given(books(), intents())
def test_reducing_never_lets_exposure_increase(state: DeskState, intent: OrderIntent) -> None:
    chain = RiskChain([BotSlot(ApproveBot())], EnvelopeRecorder("run-p", MemorySink()))
    note(f"positions {[(p.token_id, p.size, p.cost_basis) for p in state.positions()]}")
    note(f"orders {[(o.token_id, o.side, o.price, o.size) for o in state.open_orders()]}")
    before = _worst_after(state, intent, 0)
    outcome = chain.evaluate(intent, state)
    if outcome.approved:
        for pct in (25, 50, 100):
            assert _worst_after(state, intent, pct) <= before
    else:
        assert outcome.reason_codes == ("SYS_TRADING_REDUCING",)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=30), st.data())
def test_quarantined_risk_bot_never_approves(raises: list[bool], data: st.DataObject) -> None:
    calls = iter(raises)

    def script(intent: OrderIntent, view: object) -> RiskDecision:
        if next(calls):
            raise RuntimeError("injected")
        return APPROVE

    slot = BotSlot(ScriptedRiskBot(script))
    sink = MemorySink()
    chain = RiskChain([slot], EnvelopeRecorder("run-p", sink))
    state = DeskState.build(markets=[MARKET], cash=10**12)
    quarantined = False
    for n in range(len(raises)):
        outcome = chain.evaluate(data.draw(intents(n)), state)
        if quarantined:
            assert not outcome.approved
            assert outcome.reason_codes == ("SYS_BOT_QUARANTINED",)
            assert sink.envelopes[-1].decision is Decision.QUARANTINE
        quarantined = quarantined or slot.mode is Mode.QUARANTINE
        if quarantined:
            assert not outcome.approved


@st.composite
def decisions(draw: st.DrawFn, intent: OrderIntent) -> RiskDecision:
    verdict = draw(st.sampled_from(Verdict))
    reshaped = None
    if verdict is Verdict.RESHAPE or draw(st.booleans()):
        reshaped = msgspec.structs.replace(
            intent,
            size=draw(st.sampled_from([intent.size, intent.size // 2 or 1, intent.size * 2])),
            price=draw(
                st.sampled_from([intent.price, intent.price - 10_000, intent.price + 10_000])
            ),
            token_id=draw(st.sampled_from([intent.token_id, "no", "yes"])),
            time_in_force=draw(st.sampled_from([TimeInForce.GTC, TimeInForce.FAK])),
        )
    codes = draw(st.sampled_from([(), (REJECT_CODE,)]))
    set_state = draw(
        st.sampled_from([None, TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED])
    )
    return RiskDecision(verdict=verdict, reason_codes=codes, reshaped=reshaped, set_state=set_state)


@settings(max_examples=300, deadline=None)
@given(st.data(), st.frozensets(st.sampled_from(list(Capability))))
def test_authority_violations_are_refused_and_quarantine(
    data: st.DataObject, capabilities: frozenset[Capability]
) -> None:
    intent = data.draw(intents())
    decision = data.draw(decisions(intent))
    bot = ScriptedRiskBot(lambda _i, _v: decision)
    bot.capabilities = capabilities  # type: ignore[misc]
    slot = BotSlot(bot)
    sink = MemorySink()
    state = DeskState.build(markets=[MARKET], cash=10**12)
    outcome = RiskChain([slot], EnvelopeRecorder("run-p", sink)).evaluate(intent, state)
    problems = risk_decision_problems(BotClass.RISK, capabilities, intent, decision)
    if problems:
        assert not outcome.approved
        assert slot.mode is Mode.QUARANTINE and slot.fails_closed
        assert outcome.reason_codes == ("SYS_AUTHORITY_VIOLATION", "SYS_BOT_QUARANTINED")
        assert sink.envelopes[-1].decision is Decision.ERROR
        assert state.trading_state is TradingState.ACTIVE  # nothing of the output applied
    else:
        assert slot.mode is Mode.ENFORCED
        assert outcome.approved == (decision.verdict in (Verdict.APPROVE, Verdict.RESHAPE)) or (
            decision.set_state is not None and not outcome.approved
        )
        if outcome.approved and decision.verdict is Verdict.RESHAPE:
            assert outcome.intent == decision.reshaped
        # only a bot holding KILL_SWITCH trips the kill switch with its HALT
        assert state.kill_switch_tripped == (
            decision.verdict is Verdict.HALT and Capability.KILL_SWITCH in capabilities
        )


@st.composite
def event_streams(draw: st.DrawFn) -> list[AnyEvent]:
    """Random two-sided books on both tokens, then a resolution."""
    events: list[AnyEvent] = []
    t = 1_000_000_000
    for _ in range(draw(st.integers(1, 25))):
        t += draw(st.integers(1, 2_000)) * 1_000_000
        token = draw(tokens)
        bid = draw(st.integers(1, 97)) * 10_000
        ask = bid + draw(st.integers(1, 2)) * 10_000
        events.append(
            BookSnapshot(
                ts_event_ns=t,
                token_id=token,
                bids=[(bid, draw(sizes) * 10)],
                asks=[(ask, draw(sizes) * 10)],
            )
        )
    events.append(
        MarketStatus(
            ts_event_ns=t + 10**9,
            market_id="m1",
            state=MarketState.RESOLVED,
            accepting_orders=False,
            winning_token_id=draw(tokens),
        )
    )
    return events


@settings(max_examples=60, deadline=None)
@given(event_streams(), st.booleans(), tokens)
def test_desk_positions_equal_fills_and_money_is_conserved(
    events: list[AnyEvent], cross: bool, token: str
) -> None:
    venue = PaperVenue(PaperVenueConfig(order_latency_ms=0), [MARKET], "run-m")
    desk = Desk(
        run_id="run-m", venue=venue,
        strategies=[BotSlot(QuoteBot(token, "m1", cross=cross))],
        execution=[BotSlot(PassThroughExec())], markets=[MARKET],
    )  # fmt: skip
    start = desk.state.cash
    result = desk.run(events)
    event(f"fills: {'some' if result.fills else 'none'}")
    ledger = desk.state.ledger
    assert ledger.reconciliation_error() == 0
    for t in ("yes", "no"):
        signed = sum(f.size * f.side.sign for f in result.fills if f.token_id == t)
        settled = sum(s.size for s in result.settlements if s.token_id == t)
        assert ledger.size(t) == signed - settled
    buys = sum(f.notional for f in result.fills if f.side is Side.BUY)
    sells = sum(f.notional for f in result.fills if f.side is Side.SELL)
    fees = sum(f.fee for f in result.fills)
    payouts = sum(s.cash for s in result.settlements)
    assert desk.state.cash == start - buys + sells - fees + payouts
    # the venue redeems at the resolution the ledger settles on: cash and holdings agree
    assert desk.state.cash == venue.balances()["pUSD"] == venue.ledger.cash
    assert all(ledger.size(t) == venue.ledger.holdings(t) == 0 for t in ("yes", "no"))
