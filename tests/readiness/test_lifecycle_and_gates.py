"""The lifecycle (seed 001's states, seed 000's stages) and the gate catalogue as data: every
threshold of seed 001, the operator page's four stages, and where the two views meet."""

from __future__ import annotations

import pytest

from polytraders.contracts.modes import BotClass
from polytraders.readiness.gates import (
    GATES,
    GATES_BY_ID,
    Gate,
    Severity,
    gates_up_to,
    stage_gates,
    transition_gates,
)
from polytraders.readiness.lifecycle import (
    STATES,
    Stage,
    State,
    TargetError,
    parse_target,
    path_between,
    previous_state,
)
from polytraders.readiness.measures import MEASURES


def test_seed_001_states_in_order() -> None:
    assert [s.label for s in STATES] == [
        "Idea only",
        "Spec started",
        "Parameters defined",
        "Thresholds defined",
        "Tests defined",
        "Ready to build",
        "Built",
        "Shadow",
        "Limited live",
        "General live",
        "Deprecated",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("shadow", State.SHADOW),
        ("limited-live", State.LIMITED_LIVE),
        ("Limited live", State.LIMITED_LIVE),
        ("GENERAL_LIVE", State.GENERAL_LIVE),
        ("shadow-ready", Stage.SHADOW_READY),
        ("production-live", Stage.PRODUCTION_LIVE),
    ],
)
def test_targets_name_a_state_or_a_stage(text: str, expected: State | Stage) -> None:
    assert parse_target(text) is expected


def test_an_unknown_target_lists_both_vocabularies() -> None:
    with pytest.raises(TargetError, match=r"unknown target 'prod'.*shadow-ready"):
        parse_target("prod")


def test_a_promotion_walks_one_state_at_a_time_and_never_back() -> None:
    assert path_between(State.BUILT, State.LIMITED_LIVE) == [
        (State.BUILT, State.SHADOW),
        (State.SHADOW, State.LIMITED_LIVE),
    ]
    assert path_between(State.SHADOW, State.SHADOW) == []
    assert path_between(State.SHADOW, State.DEPRECATED) == [(State.SHADOW, State.DEPRECATED)]
    with pytest.raises(TargetError, match="never goes back"):
        path_between(State.SHADOW, State.BUILT)
    with pytest.raises(TargetError, match="deprecated"):
        path_between(State.DEPRECATED, State.SHADOW)
    assert previous_state(State.SHADOW) is State.BUILT
    assert previous_state(State.IDEA_ONLY) is None


def _ids(gates: list[Gate]) -> list[str]:
    return [g.gate_id for g in gates]


def test_seed_001_gates_and_thresholds_by_transition() -> None:
    built_shadow = _ids(transition_gates(State.BUILT, State.SHADOW, BotClass.RISK))
    for gate_id in (
        "docs_checklist",
        "ci_green_7_days",
        "wire_examples_replay",
        "reason_code_stability",
    ):
        assert gate_id in built_shadow
    assert GATES_BY_ID["ci_green_7_days"].threshold.startswith("100 % on main for 7 consecutive")
    assert GATES_BY_ID["wire_examples_replay"].threshold == "0 unexpected reason codes"
    shadow_limited = _ids(transition_gates(State.SHADOW, State.LIMITED_LIVE, BotClass.RISK))
    for gate_id in (
        "shadow_agreement",
        "p99_latency",
        "error_rate_7_days",
        "no_p0_alerts",
        "chaos_suite",
    ):
        assert gate_id in shadow_limited
    assert GATES_BY_ID["shadow_agreement"].threshold.startswith("≥ 99 %")
    assert GATES_BY_ID["shadow_agreement"].window == "30 days"
    assert GATES_BY_ID["error_rate_7_days"].threshold == "< 0.1 % over 7 days"
    assert GATES_BY_ID["chaos_suite"].threshold == "all 5 standard scenarios pass"
    limited_general = _ids(transition_gates(State.LIMITED_LIVE, State.GENERAL_LIVE, BotClass.RISK))
    for gate_id in (
        "limited_live_30_days",
        "incidents",
        "false_positive_rate",
        "reconciliation_drift",
        "user_message_coverage",
    ):
        assert gate_id in limited_general
    assert GATES_BY_ID["incidents"].threshold == "0 P1, ≤ 2 P2"
    assert GATES_BY_ID["false_positive_rate"].threshold.startswith("≤ 5 % incorrect")
    # the false-positive review is for risk bots only
    assert "false_positive_rate" not in _ids(
        transition_gates(State.LIMITED_LIVE, State.GENERAL_LIVE, BotClass.STRATEGY)
    )
    # retiring a bot needs no evidence
    assert transition_gates(State.SHADOW, State.DEPRECATED, BotClass.RISK) == []


def test_seed_000_stages_and_where_the_views_meet() -> None:
    sizes = {stage: len(stage_gates(stage, BotClass.RISK)) for stage in Stage}
    assert sizes == {
        Stage.DEMO_WIRED: 5,
        Stage.SHADOW_READY: 4,
        Stage.RUNTIME_LIVE: 5,
        Stage.PRODUCTION_LIVE: 5,
    }
    assert len(gates_up_to(Stage.PRODUCTION_LIVE, BotClass.RISK)) == 19
    # entering Shadow needs stages 1-2 too: one evaluation serves both views
    built_shadow = _ids(transition_gates(State.BUILT, State.SHADOW, BotClass.RISK))
    assert set(_ids(gates_up_to(Stage.SHADOW_READY, BotClass.RISK))) <= set(built_shadow)
    assert "reviewer_signoff" in built_shadow
    assert set(_ids(stage_gates(Stage.PRODUCTION_LIVE, BotClass.RISK))) <= set(
        _ids(transition_gates(State.LIMITED_LIVE, State.GENERAL_LIVE, BotClass.RISK))
    )
    # the one warning: the console page is operator UX, not a safety gate
    assert [g.gate_id for g in GATES if g.severity is Severity.WARNING] == ["console_page"]


def test_every_gate_is_complete_data_with_a_real_measure() -> None:
    assert len({g.gate_id for g in GATES}) == len(GATES)
    for gate in GATES:
        assert gate.measure in MEASURES, gate.gate_id
        assert gate.title and gate.how_measured and gate.threshold and gate.source
        assert gate.transitions or gate.stage is not None, gate.gate_id
