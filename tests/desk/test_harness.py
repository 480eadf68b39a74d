"""The one-bot harness runs strategy and execution bots through the desk's real runners."""

from __future__ import annotations

from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import Mode
from polytraders.desk.harness import run_execution, run_strategy
from polytraders.model.events import BookSnapshot
from tests.desk.doubles import GreedyExec, PassThroughExec, QuoteBot
from tests.desk.test_risk_chain import intent, state


def test_run_strategy_applies_only_enforced_proposals() -> None:
    event = BookSnapshot(
        ts_event_ns=1_000, token_id="yes", bids=[(440_000, 10**8)], asks=[(460_000, 10**8)]
    )
    st = state()
    st.apply_event(event)
    enforced = run_strategy(QuoteBot("yes", "m1"), event, st)
    assert [i.price for i in enforced.intents] == [440_000]
    assert enforced.envelopes[0].decision is Decision.PROPOSE
    shadow = run_strategy(QuoteBot("yes", "m1"), event, st, Mode.SHADOW)
    assert shadow.intents == [] and shadow.envelopes[0].mode is Mode.SHADOW


def test_run_execution_checks_authority_and_modes() -> None:
    routed = run_execution(PassThroughExec(), intent(), state())
    assert routed.outcome.plan is not None and routed.outcome.routed_by == "exec.passthrough"
    assert routed.envelopes[0].decision is Decision.ROUTE
    shadow = run_execution(PassThroughExec(), intent(), state(), Mode.SHADOW)
    assert shadow.outcome.plan is None and shadow.envelopes[0].mode is Mode.SHADOW
    greedy = run_execution(GreedyExec(), intent(), state())
    assert greedy.outcome.plan is None
    assert greedy.outcome.reason_codes == ("SYS_AUTHORITY_VIOLATION", "SYS_BOT_QUARANTINED")
    assert greedy.slot.mode is Mode.QUARANTINE
