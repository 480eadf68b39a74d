"""The exec.smartrouter and exec.twap fixture packs (real recorded books) through the desk harness.

Each case runs the router through :func:`polytraders.desk.harness.run_execution` (the desk's own
execution runner: declared codes, known cancels, :func:`route_plan_problems` authority check,
quarantine, envelopes) in ENFORCED mode; the refusals send nothing.
"""

from __future__ import annotations

import msgspec
import pytest

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.execution.twap import Twap, TwapConfig
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import Mode
from polytraders.contracts.reasons import load_registry
from polytraders.desk.harness import run_execution
from polytraders.readiness.packs import build_state, intent_from, load_case

BOT = "exec.smartrouter"
CASES = ("normal", "warning", "hard", "failure")


@pytest.mark.parametrize("case", CASES)
def test_case_through_the_desk(case: str) -> None:
    data = load_case(BOT, case)
    state = build_state(data["state"])
    run = run_execution(SmartRouter(), intent_from(data["input"]), state, Mode.ENFORCED)
    assert run.slot.mode is Mode.ENFORCED  # not quarantined
    (envelope,) = run.envelopes
    expected = data["expected"]
    assert envelope.decision is Decision(expected["decision"])
    assert list(envelope.reason_codes) == expected["reason_codes"]
    assert envelope.output == msgspec.convert(expected["output"], RoutePlan)
    assert list(run.outcome.reason_codes) == expected["reason_codes"]
    if expected["decision"] == "REFUSE":
        assert run.outcome.plan is None or not run.outcome.plan.orders
        assert load_registry()[expected["reason_codes"][0]].severity.value == "hard"
    else:
        assert run.outcome.plan == msgspec.convert(expected["output"], RoutePlan)


def test_shadow_records_the_plan_but_sends_nothing() -> None:
    data = load_case(BOT, "normal")
    run = run_execution(
        SmartRouter(), intent_from(data["input"]), build_state(data["state"]), Mode.SHADOW
    )
    assert run.outcome.plan is None
    assert run.envelopes[0].decision is Decision.ROUTE and run.envelopes[0].mode is Mode.SHADOW


@pytest.mark.parametrize("case", CASES)
def test_twap_case_through_the_desk(case: str) -> None:
    """exec.twap's pack: each case's plan (children scheduled, or a hard refusal) as recorded."""
    data = load_case("exec.twap", case)
    bot = Twap(TwapConfig.model_validate(data["config"]))
    run = run_execution(bot, intent_from(data["input"]), build_state(data["state"]), Mode.ENFORCED)
    assert run.slot.mode is Mode.ENFORCED
    (envelope,) = run.envelopes
    expected = data["expected"]
    assert envelope.decision is Decision(expected["decision"])
    assert list(envelope.reason_codes) == expected["reason_codes"]
    assert envelope.output == msgspec.convert(expected["output"], RoutePlan)
