"""The strat.maker_tight fixture pack (real recorded books) through the desk harness.

Each case runs the bot through :func:`polytraders.desk.harness.run_strategy` (the desk's own
strategy runner: authority checks, declared codes, quarantine, envelopes) in ENFORCED mode, and
must give the expected decision, reason codes and intents; the failure-injection case must never
propose a quote. SHADOW and ADVISORY runs record the same decision and apply nothing.
"""

from __future__ import annotations

import msgspec
import pytest

from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision, decode_envelope, encode_envelope
from polytraders.contracts.modes import Mode
from polytraders.contracts.reasons import load_registry
from polytraders.desk.harness import run_strategy
from polytraders.readiness.packs import build_state, event_from, load_case

BOT = "strat.maker_tight"
CASES = ("normal", "warning", "hard", "failure")


@pytest.mark.parametrize("case", CASES)
def test_case_through_the_desk(case: str) -> None:
    data = load_case(BOT, case)
    state = build_state(data["state"])
    event = event_from(data["input"])
    state.apply_event(event)
    run = run_strategy(MakerTight(), event, state, Mode.ENFORCED)
    assert run.slot.mode is Mode.ENFORCED  # not quarantined
    (envelope,) = run.envelopes
    expected = data["expected"]
    assert envelope.decision is Decision(expected["decision"])
    assert list(envelope.reason_codes) == expected["reason_codes"]
    assert envelope.output == msgspec.convert(expected["output"], Proposal)
    assert [msgspec.to_builtins(i) for i in run.intents] == expected["output"]["intents"]
    assert decode_envelope(encode_envelope(envelope)) == envelope
    registry = load_registry()
    assert all(code in registry for code in envelope.reason_codes)


def test_warning_case_emits_a_warning_code_and_hard_case_a_safe_fallback() -> None:
    registry = load_registry()
    warning = load_case(BOT, "warning")["expected"]
    assert any(registry[c].severity.value == "warning" for c in warning["reason_codes"])
    hard = load_case(BOT, "hard")["expected"]["output"]["intents"]
    assert hard and all(i["reduce_only"] and i["side"] == "SELL" for i in hard)


def test_failure_case_never_quotes() -> None:
    data = load_case(BOT, "failure")
    state = build_state(data["state"])
    run = run_strategy(MakerTight(), event_from(data["input"]), state, Mode.ENFORCED)
    assert run.intents == []
    assert run.envelopes[0].decision is Decision.IDLE
    assert load_registry()[run.envelopes[0].reason_codes[0]].severity.value == "hard"


@pytest.mark.parametrize("mode", [Mode.SHADOW, Mode.ADVISORY])
def test_shadow_and_advisory_record_but_apply_nothing(mode: Mode) -> None:
    data = load_case(BOT, "normal")
    state = build_state(data["state"])
    run = run_strategy(MakerTight(), event_from(data["input"]), state, mode)
    assert run.intents == []
    assert run.envelopes[0].decision is Decision.PROPOSE
    assert run.envelopes[0].mode is mode


def test_stub_does_not_run() -> None:
    data = load_case(BOT, "normal")
    run = run_strategy(
        MakerTight(), event_from(data["input"]), build_state(data["state"]), Mode.STUB
    )
    assert run.intents == [] and run.envelopes == []
