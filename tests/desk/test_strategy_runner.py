"""StrategyRunner's checks on a proposal, hand-built cases: undeclared codes and intents in
another bot's name quarantine the strategy with an ERROR envelope; an empty proposal is an
IDLE envelope carrying the event's input digest; a proposal is a PROPOSE envelope."""

from __future__ import annotations

import msgspec

from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision, input_digest
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import DeskView
from polytraders.desk.harness import run_strategy
from polytraders.model.events import AnyEvent, BookSnapshot
from tests.desk.doubles import QuoteBot
from tests.desk.test_risk_chain import state

EVENT = BookSnapshot(
    ts_event_ns=1_000, token_id="yes", bids=[(440_000, 10**8)], asks=[(460_000, 10**8)]
)


class _UndeclaredCodes(QuoteBot):
    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        return Proposal(reason_codes=("STRAT_NOT_DECLARED",))


class _ForeignIntent(QuoteBot):
    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        proposal = super().decide(event, view)
        foreign = msgspec.structs.replace(proposal.intents[0], bot_id="strat.other")
        return Proposal(intents=(foreign,))


def test_undeclared_codes_and_foreign_intents_quarantine_the_strategy() -> None:
    for bot, code in (
        (_UndeclaredCodes("yes", "m1"), "SYS_INVALID_OUTPUT"),
        (_ForeignIntent("yes", "m1"), "SYS_AUTHORITY_VIOLATION"),
    ):
        st = state()
        st.apply_event(EVENT)
        run = run_strategy(bot, EVENT, st)
        assert run.intents == []
        assert [e.decision for e in run.envelopes] == [Decision.ERROR]
        assert run.envelopes[0].reason_codes == (code, "SYS_BOT_QUARANTINED")
        assert run.slot.mode is Mode.QUARANTINE


def test_idle_and_propose_envelopes_carry_the_event_digest() -> None:
    st = state()
    st.apply_event(EVENT)
    idle = run_strategy(QuoteBot("no", "m1"), EVENT, st)  # another token: nothing to do
    proposing = run_strategy(QuoteBot("yes", "m1"), EVENT, st)
    for run, decision in ((idle, Decision.IDLE), (proposing, Decision.PROPOSE)):
        (envelope,) = run.envelopes
        assert envelope.decision is decision
        assert envelope.input_digest == input_digest(EVENT)
        assert envelope.causation_id == "fixture" and envelope.correlation_id == ""
        assert envelope.sequence == 0 and envelope.envelope_id.endswith("0")
    assert proposing.envelopes[0].output == Proposal(intents=tuple(proposing.intents))
