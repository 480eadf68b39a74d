"""Pairing and agreement rules of polytraders.backtest.shadow_decisions, on hand-made envelopes
(the paths a real comparison of the sample does not take: intents that differ between two
independently running desks, reshapes equal after rounding, weaker trading-state requests,
failing bots)."""

from __future__ import annotations

from polytraders.backtest.shadow_decisions import (
    DecisionTap,
    compare_decisions,
    reshape_key,
)
from polytraders.contracts.decisions import RiskDecision, RoutePlan, Verdict
from polytraders.contracts.envelope import (
    BotFailure,
    Decision,
    EnvelopeOutput,
    ReportEnvelope,
    input_digest,
)
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.events import TradingState
from polytraders.model.orders import OrderIntent, Side

TOKEN = "tok-up"
TICK = 10_000
GUARD = "risk.exposureguard"


def _intent(n: int, size: int = 10_000_000, price: int = 480_000) -> OrderIntent:
    return OrderIntent(
        intent_id=f"strat.maker_tight/s1/i{n}",
        bot_id="strat.maker_tight",
        token_id=TOKEN,
        side=Side.BUY,
        price=price,
        size=size,
    )


class _Run:
    """Envelopes of one side, recorded into a tap."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.tap = DecisionTap()
        self.sequence = 0

    def decide(
        self,
        intent: OrderIntent,
        decision: Decision,
        output: EnvelopeOutput,
        *,
        bot_id: str = GUARD,
        bot_class: BotClass = BotClass.RISK,
        codes: tuple[str, ...] = (),
        correlation: str | None = None,
    ) -> None:
        self.tap.record(
            ReportEnvelope(
                envelope_id=f"{self.run_id}/e{self.sequence}",
                run_id=self.run_id,
                sequence=self.sequence,
                ts_event_ns=1_000 + self.sequence,
                ts_decided_ns=1_000 + self.sequence,
                bot_id=bot_id,
                bot_class=bot_class,
                bot_version="0.1.0",
                config_version=f"cfg-{self.run_id}",
                mode=Mode.ENFORCED,
                decision=decision,
                reason_codes=codes,
                correlation_id=intent.intent_id if correlation is None else correlation,
                input_digest=input_digest(intent),
                output=output,
            )
        )
        self.sequence += 1


def _risk(verdict: Verdict, **fields: object) -> RiskDecision:
    return RiskDecision(verdict=verdict, **fields)  # type: ignore[arg-type]


def _compare(base: _Run, cand: _Run, size_step: int = 10_000):
    return compare_decisions(base.tap, cand.tap, ticks={TOKEN: TICK}, size_step=size_step)


def test_reshapes_equal_after_rounding_agree_and_larger_ones_are_unsafe() -> None:
    base, cand = _Run("b"), _Run("c")
    codes = ("RISK_EXPOSURE_RESHAPED",)
    # i0: sizes differ below the 0.01-share step, prices within one tick (BUY rounds down)
    i0 = _intent(0)
    base.decide(
        i0,
        Decision.RESHAPE,
        _risk(
            Verdict.RESHAPE, reason_codes=codes, reshaped=_intent(0, size=4_001_000, price=470_000)
        ),
        codes=codes,
    )
    cand.decide(
        i0,
        Decision.RESHAPE,
        _risk(
            Verdict.RESHAPE, reason_codes=codes, reshaped=_intent(0, size=4_005_000, price=479_999)
        ),
        codes=codes,
    )
    # i1: the candidate keeps one more share: a reshape divergence, more permissive
    i1 = _intent(1)
    base.decide(
        i1,
        Decision.RESHAPE,
        _risk(Verdict.RESHAPE, reason_codes=codes, reshaped=_intent(1, size=4_000_000)),
        codes=codes,
    )
    cand.decide(
        i1,
        Decision.RESHAPE,
        _risk(Verdict.RESHAPE, reason_codes=codes, reshaped=_intent(1, size=5_000_000)),
        codes=codes,
    )
    # i2: the candidate keeps less: a divergence, not unsafe
    i2 = _intent(2)
    base.decide(
        i2,
        Decision.RESHAPE,
        _risk(Verdict.RESHAPE, reason_codes=codes, reshaped=_intent(2, size=4_000_000)),
        codes=codes,
    )
    cand.decide(
        i2,
        Decision.RESHAPE,
        _risk(Verdict.RESHAPE, reason_codes=codes, reshaped=_intent(2, size=3_000_000)),
        codes=codes,
    )
    (bot,) = _compare(base, cand)
    assert bot.compared == 3
    assert bot.agree_verdict == 3
    assert bot.agree_codes == 3
    assert (bot.both_reshape, bot.agree_reshape) == (3, 1)
    assert [(d.correlation_id[-2:], d.kind, d.unsafe) for d in bot.divergences] == [
        ("i1", "reshape", True),
        ("i2", "reshape", False),
    ]
    assert bot.kappa_text == "1.000000"


def test_reshape_key_rounds_the_never_more_aggressive_way() -> None:
    buy = reshape_key(_intent(0, size=4_009_999, price=479_999), TICK, 10_000)
    assert (buy.price, buy.size) == (470_000, 4_000_000)
    sell = OrderIntent(
        intent_id="x", bot_id="b", token_id=TOKEN, side=Side.SELL, price=470_001, size=1
    )
    assert reshape_key(sell, TICK, 10_000).price == 480_000


def test_unsafe_follows_the_restrictiveness_order_and_trading_state() -> None:
    base, cand = _Run("b"), _Run("c")
    cases = [
        (Verdict.REJECT, Verdict.APPROVE, True),
        (Verdict.HALT, Verdict.REJECT, True),
        (Verdict.REJECT, Verdict.RESHAPE, True),
        (Verdict.APPROVE, Verdict.REJECT, False),
        (Verdict.RESHAPE, Verdict.HALT, False),
    ]
    for n, (b, c, _) in enumerate(cases):
        intent = _intent(n)
        for run, verdict in ((base, b), (cand, c)):
            reshaped = _intent(n, size=1_000_000) if verdict is Verdict.RESHAPE else None
            run.decide(
                intent,
                Decision(verdict.value),
                _risk(verdict, reshaped=reshaped, reason_codes=("X",)),
                codes=("X",),
            )
    # same verdict, but the candidate does not ask for REDUCING: weaker
    intent = _intent(9)
    base.decide(
        intent,
        Decision.APPROVE,
        _risk(Verdict.APPROVE, set_state=TradingState.REDUCING, reason_codes=("X",)),
        codes=("X",),
    )
    cand.decide(intent, Decision.APPROVE, _risk(Verdict.APPROVE, reason_codes=("X",)), codes=("X",))
    (bot,) = _compare(base, cand)
    unsafe = {d.correlation_id[-2:]: d.unsafe for d in bot.divergences}
    expected = {f"i{n}": flag for n, (_, _, flag) in enumerate(cases)}
    expected["i9"] = True
    assert unsafe == expected
    assert next(d for d in bot.divergences if d.correlation_id.endswith("i9")).kind == "codes"


def test_failures_count_as_rejects_and_non_intent_envelopes_are_ignored() -> None:
    base, cand = _Run("b"), _Run("c")
    i0 = _intent(0)
    base.decide(i0, Decision.REJECT, _risk(Verdict.REJECT, reason_codes=("R",)), codes=("R",))
    cand.decide(
        i0,
        Decision.ERROR,
        BotFailure(code="SYS_BOT_EXCEPTION", message="boom"),
        codes=("SYS_BOT_EXCEPTION", "SYS_BOT_QUARANTINED"),
    )
    # a monitor finding (no intent) and an execution decision are not risk decisions on intents
    base.decide(i0, Decision.HALT, None, correlation="")
    cand.decide(
        i0,
        Decision.ROUTE,
        RoutePlan(orders=()),
        bot_id="exec.smartrouter",
        bot_class=BotClass.EXECUTION,
    )
    (bot,) = _compare(base, cand)
    assert bot.confusion.count("REJECT", "REJECT") == 1
    assert bot.agree_codes == 0
    assert [(d.kind, d.unsafe, d.candidate.decision) for d in bot.divergences] == [
        ("codes", False, "ERROR")
    ]


def test_two_independent_desks_pair_only_the_same_intents() -> None:
    base, cand = _Run("b"), _Run("c")
    approve = _risk(Verdict.APPROVE)
    base.decide(_intent(0), Decision.APPROVE, approve)  # both: the same intent
    cand.decide(_intent(0), Decision.APPROVE, approve)
    base.decide(_intent(1), Decision.APPROVE, approve)  # same id, another price: not the same
    cand.decide(_intent(1, price=470_000), Decision.APPROVE, approve)
    base.decide(_intent(2), Decision.APPROVE, approve)  # the candidate never saw it
    # the same intent reached an earlier bot on the candidate's side only
    cand.decide(
        _intent(3),
        Decision.REJECT,
        _risk(Verdict.REJECT, reason_codes=("Q",)),
        bot_id="risk.marketqualityguard",
        codes=("Q",),
    )
    base.decide(_intent(3), Decision.APPROVE, approve, bot_id="risk.marketqualityguard")
    base.decide(_intent(3), Decision.APPROVE, approve)
    bots = {b.bot_id: b for b in _compare(base, cand)}
    guard = bots[GUARD]
    assert guard.compared == 1
    assert guard.one_sided == {
        "baseline": {"not_proposed": 1, "intent_differs": 1, "not_reached": 1},
        "candidate": {"not_proposed": 0, "intent_differs": 1, "not_reached": 0},
    }
    assert guard.confusion.baseline_only == 3
    assert guard.confusion.candidate_only == 1
    assert guard.confusion.agreement() == 1
    assert bots["risk.marketqualityguard"].divergences[0].unsafe is False
