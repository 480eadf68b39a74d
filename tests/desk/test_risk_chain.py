"""The risk chain: modes, verdicts, quarantine (fail closed), authority, trading-state gate."""

from __future__ import annotations

import msgspec
import pytest

from polytraders.contracts.decisions import APPROVE, RiskDecision, Verdict
from polytraders.contracts.envelope import Decision, timeline_sha256
from polytraders.contracts.modes import Mode
from polytraders.desk.fixtures import binary_market
from polytraders.desk.harness import run_risk
from polytraders.desk.recorder import EnvelopeRecorder
from polytraders.desk.risk_chain import RiskChain
from polytraders.desk.sinks import MemorySink
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import TradingState
from polytraders.model.orders import IntentAction, OrderIntent, Side
from tests.desk.doubles import (
    REJECT_CODE,
    ApproveBot,
    DoubleBot,
    HaltBot,
    HalveBot,
    RaisingBot,
    ReduceBot,
    RejectBot,
    ScriptedRiskBot,
    UnauthorisedHaltBot,
    UndeclaredCodeBot,
    WrongTypeBot,
)

BOOKS = {"yes": ([(440_000, 100_000_000)], [(460_000, 100_000_000)])}


def state(**kwargs: object) -> DeskState:
    return DeskState.build(
        now_ns=1_000, markets=[binary_market()], books=BOOKS, cash=1_000_000_000, **kwargs
    )


def intent(side: Side = Side.BUY, size: int = 10_000_000, token: str = "yes", **kw: object):
    return OrderIntent(
        intent_id="i1",
        bot_id="strat.x",
        token_id=token,
        market_id="m1",
        side=side,
        price=450_000,
        size=size,
        **kw,
    )


def chain(*slots: BotSlot) -> tuple[RiskChain, MemorySink]:
    sink = MemorySink()
    return RiskChain(list(slots), EnvelopeRecorder("run-t", sink)), sink


def test_all_approve_passes_and_records_one_envelope_per_bot() -> None:
    bots = [ApproveBot(f"risk.a{i}") for i in range(3)]
    rc, sink = chain(*(BotSlot(b) for b in bots))
    outcome = rc.evaluate(intent(), state(), causation_id="ev0")
    assert outcome.approved and outcome.verdict is Verdict.APPROVE
    assert [e.bot_id for e in sink.envelopes] == ["risk.a0", "risk.a1", "risk.a2"]
    assert [e.sequence for e in sink.envelopes] == [0, 1, 2]
    assert [e.envelope_id for e in sink.envelopes] == ["run-t/e0", "run-t/e1", "run-t/e2"]
    assert all(e.correlation_id == "i1" and e.causation_id == "ev0" for e in sink.envelopes)
    assert all(e.decision is Decision.APPROVE for e in sink.envelopes)


def test_first_reject_stops_enforced_but_shadow_still_records() -> None:
    after = ApproveBot("risk.after")
    shadow = ApproveBot("risk.shadow")
    rc, sink = chain(BotSlot(RejectBot()), BotSlot(after), BotSlot(shadow, Mode.SHADOW))
    outcome = rc.evaluate(intent(), state())
    assert not outcome.approved
    assert outcome.reason_codes == (REJECT_CODE,) and outcome.decided_by == "risk.reject_all"
    assert after.calls == 0 and shadow.calls == 1
    assert [(e.bot_id, e.mode) for e in sink.envelopes] == [
        ("risk.reject_all", Mode.ENFORCED),
        ("risk.shadow", Mode.SHADOW),
    ]


def test_shadow_and_advisory_rejections_are_not_applied() -> None:
    rc, sink = chain(BotSlot(RejectBot(), Mode.SHADOW), BotSlot(HaltBot(), Mode.ADVISORY))
    st = state()
    outcome = rc.evaluate(intent(), st)
    assert outcome.approved
    assert st.trading_state is TradingState.ACTIVE
    assert [e.decision for e in sink.envelopes] == [Decision.REJECT, Decision.HALT]


def test_reshape_replaces_intent_for_later_bots() -> None:
    seen: list[int] = []

    def record(i: OrderIntent, view: object) -> RiskDecision:
        seen.append(i.size)
        return APPROVE

    rc, _ = chain(BotSlot(HalveBot()), BotSlot(ScriptedRiskBot(record)))
    outcome = rc.evaluate(intent(size=10_000_000), state())
    assert outcome.approved and outcome.reshaped
    assert outcome.intent.size == 5_000_000 and seen == [5_000_000]


def test_halt_sets_trading_state_and_stops() -> None:
    st = state()
    rc, sink = chain(BotSlot(HaltBot()), BotSlot(ApproveBot()))
    outcome = rc.evaluate(intent(), st)
    assert outcome.verdict is Verdict.HALT and not outcome.approved
    assert st.trading_state is TradingState.HALTED
    assert st.desk_events[-1].new_state is TradingState.HALTED  # type: ignore[union-attr]
    # next intent: the desk gate refuses before any bot runs
    outcome2 = rc.evaluate(msgspec.structs.replace(intent(), intent_id="i2"), st)
    assert outcome2.reason_codes == ("SYS_TRADING_HALTED",)
    assert sink.envelopes[-1].bot_id == "desk"


@pytest.mark.parametrize(
    ("bot", "code"),
    [
        (RaisingBot(), "SYS_BOT_EXCEPTION"),
        (WrongTypeBot(), "SYS_INVALID_OUTPUT"),
        (UndeclaredCodeBot(), "SYS_INVALID_OUTPUT"),
        (DoubleBot(), "SYS_AUTHORITY_VIOLATION"),
        (UnauthorisedHaltBot(), "SYS_AUTHORITY_VIOLATION"),
    ],
)
def test_failures_quarantine_and_fail_closed(bot: object, code: str) -> None:
    st = state()
    run = run_risk(bot, intent(), st)
    assert not run.outcome.approved
    assert run.outcome.reason_codes == (code, "SYS_BOT_QUARANTINED")
    assert run.slot.mode is Mode.QUARANTINE and run.slot.fails_closed
    assert run.envelopes[-1].decision is Decision.ERROR
    assert st.trading_state is TradingState.ACTIVE  # an unauthorised HALT is not applied
    assert st.consecutive_errors == 1
    # afterwards: rejects every intent without calling the bot
    sink = MemorySink()
    rc = RiskChain([run.slot], EnvelopeRecorder("run-t", sink))
    again = rc.evaluate(intent(), st)
    assert again.reason_codes == ("SYS_BOT_QUARANTINED",)
    assert sink.envelopes[0].decision is Decision.QUARANTINE
    assert sink.envelopes[0].mode is Mode.QUARANTINE


def test_timeout_is_modelled_and_quarantines() -> None:
    run = run_risk(ApproveBot(), intent(), state(), budget_ns=1_000, modelled_latency_ns=2_000)
    assert run.outcome.reason_codes == ("SYS_BOT_TIMEOUT", "SYS_BOT_QUARANTINED")
    assert run.envelopes[0].latency_ns == 2_000


def test_shadow_failure_quarantines_without_blocking() -> None:
    crashy = BotSlot(RaisingBot(), Mode.SHADOW)
    rc, sink = chain(crashy, BotSlot(ApproveBot()))
    assert rc.evaluate(intent(), state()).approved
    assert crashy.mode is Mode.QUARANTINE and not crashy.fails_closed
    assert rc.evaluate(msgspec.structs.replace(intent(), intent_id="i2"), state()).approved
    assert [e.decision for e in sink.envelopes] == [
        Decision.ERROR,
        Decision.APPROVE,
        Decision.APPROVE,
    ]


def test_reducing_gate_uses_complement() -> None:
    # long 20 YES: selling YES or buying NO reduces; buying YES does not
    st = state(positions={"yes": (20_000_000, 9_000_000)}, trading_state=TradingState.REDUCING)
    assert run_risk(ApproveBot(), intent(Side.SELL), st).outcome.approved
    assert run_risk(ApproveBot(), intent(Side.BUY, token="no"), st).outcome.approved
    blocked = run_risk(ApproveBot(), intent(Side.BUY), st).outcome
    assert blocked.reason_codes == ("SYS_TRADING_REDUCING",)
    # worst-case loss now: 9 pUSD (NO wins). Selling 30 at 0.45 leaves (YES wins) 5.5: reduces.
    assert run_risk(ApproveBot(), intent(Side.SELL, size=30_000_000), st).outcome.approved
    # selling 60 at 0.45 turns it into a short losing 22 pUSD if YES wins: refused.
    assert not run_risk(ApproveBot(), intent(Side.SELL, size=60_000_000), st).outcome.approved


def test_reduce_request_mid_chain_regates() -> None:
    st = state()
    rc, sink = chain(BotSlot(ReduceBot()))
    outcome = rc.evaluate(intent(), st)
    assert st.trading_state is TradingState.REDUCING
    assert not outcome.approved and outcome.reason_codes == ("SYS_TRADING_REDUCING",)
    assert [e.bot_id for e in sink.envelopes] == ["risk.reducer", "desk"]


def test_cancel_passes_even_when_halted_and_quarantined() -> None:
    slot = BotSlot(RejectBot(), Mode.QUARANTINE)
    st = state(trading_state=TradingState.HALTED, kill_switch_tripped=True)
    rc, sink = chain(slot)
    cancel = OrderIntent(
        intent_id="c1",
        bot_id="strat.x",
        action=IntentAction.CANCEL,
        token_id="yes",
        side=Side.BUY,
        price=0,
        size=0,
        target_intent_id="i1",
    )
    outcome = rc.evaluate(cancel, st)
    assert outcome.approved
    assert sink.envelopes[0].bot_id == "desk" and sink.envelopes[0].decision is Decision.APPROVE


def test_invalid_and_unknown_intents_are_refused_by_the_desk() -> None:
    bad = intent(size=0)
    assert run_risk(ApproveBot(), bad, state()).outcome.reason_codes == ("SYS_INVALID_INTENT",)
    unknown = intent(token="zzz")
    assert run_risk(ApproveBot(), unknown, state()).outcome.reason_codes == ("SYS_UNKNOWN_TOKEN",)


def test_timelines_are_deterministic() -> None:
    def once() -> str:
        rc, sink = chain(BotSlot(HalveBot()), BotSlot(ApproveBot()), BotSlot(RejectBot()))
        for n in range(5):
            rc.evaluate(msgspec.structs.replace(intent(), intent_id=f"i{n}"), state())
        return timeline_sha256(sink.envelopes)

    assert once() == once()


def test_reduce_only_is_enforced_by_the_desk_in_any_state() -> None:
    flat = state()
    refused = run_risk(ApproveBot(), intent(reduce_only=True), flat).outcome
    assert refused.reason_codes == ("SYS_REDUCE_ONLY_VIOLATION",)
    long_yes = state(positions={"yes": (20_000_000, 9_000_000)})
    assert run_risk(ApproveBot(), intent(Side.SELL, reduce_only=True), long_yes).outcome.approved
