"""Promotion gates as data: each gate names what it guards, how it is measured, its threshold
and window, its severity and the evidence function that measures it
(:data:`polytraders.readiness.measures.MEASURES`).

Modelled on Argo Rollouts' AnalysisTemplate (a metric, a window, a success condition; a result
Successful, Failed, Inconclusive or Error; ``../shared/research/governance.md`` §1), never on a
checklist someone ticks. Thresholds and wording: seed 001 ("Promotion gates") for the
transitions Built → Shadow → Limited live → General live; seed 000 (the operator's
promotion-path page) for the four stages and their 15 gates. The transitions before Built are
guarded by the Docs, Impl and Backtest checklists of seed 002. One gate may serve several
transitions and a stage (the same evaluation seen in both views).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from polytraders.contracts.modes import BotClass
from polytraders.readiness.evidence import Evidence, Phase
from polytraders.readiness.lifecycle import STAGES, Stage, State


class Measurement(msgspec.Struct, frozen=True, kw_only=True):
    """What a gate's measure found.

    Attributes:
        phase: Successful (threshold met on sufficient data), Failed (the data breaches it),
            Inconclusive (missing or insufficient data), Error (could not measure).
        value: the measured value as text ("27/27", "99.4 % over 30 days", "no data").
        detail: one or two sentences: what was measured and why the phase.
        evidence: what the value rests on.
    """

    phase: Phase
    value: str
    detail: str
    evidence: tuple[Evidence, ...] = ()


class Severity(StrEnum):
    """CRITICAL gates block a promotion unless Successful; WARNING gates are reported."""

    CRITICAL = "critical"
    WARNING = "warning"


class Gate(msgspec.Struct, frozen=True, kw_only=True):
    """One gate.

    Attributes:
        gate_id: stable id (snake case), recorded with every evaluation.
        title: the seed's wording of the gate.
        how_measured: where the value comes from.
        threshold: the success condition in words (the measure applies it exactly).
        window: the time window measured ("" when none), e.g. "7 days".
        severity: CRITICAL blocks, WARNING reports.
        measure: key of the evidence function in ``measures.MEASURES``.
        transitions: the lifecycle transitions (from, to) this gate guards.
        stage: the seed-000 stage it belongs to, if any.
        bot_classes: the bot classes it applies to (empty: all).
        source: where the gate and its threshold come from.
    """

    gate_id: str
    title: str
    how_measured: str
    threshold: str
    window: str
    severity: Severity
    measure: str
    transitions: tuple[tuple[State, State], ...] = ()
    stage: Stage | None = None
    bot_classes: frozenset[BotClass] = frozenset()
    source: str = ""

    def applies_to(self, bot_class: BotClass) -> bool:
        """True when the gate applies to bots of ``bot_class``."""
        return not self.bot_classes or bot_class in self.bot_classes


_S = State
_C = Severity.CRITICAL

GATES: tuple[Gate, ...] = (
    # ---- seed 001's early states, guarded by the seed-002 checklists
    Gate(
        gate_id="spec_present",
        title="Spec started",
        how_measured="docs/bots/<bot_id>.md exists with the 27 numbered sections",
        threshold="the spec file exists",
        window="",
        severity=_C,
        measure="spec_present",
        transitions=((_S.IDEA_ONLY, _S.SPEC_STARTED),),
        source="seed 001 state diagram; seed 002 Docs score",
    ),
    Gate(
        gate_id="spec_parameters",
        title="Parameters defined",
        how_measured="Docs items 7 (parameters), 8 (defaults) and 11 (search space) agree "
        "with the code",
        threshold="3/3 items PASS",
        window="",
        severity=_C,
        measure="spec_parameters",
        transitions=((_S.SPEC_STARTED, _S.PARAMETERS_DEFINED),),
        source="seed 001 state diagram; seed 002 Docs score",
    ),
    Gate(
        gate_id="spec_thresholds",
        title="Thresholds defined",
        how_measured="Docs items 9 (hard thresholds) and 10 (warning thresholds)",
        threshold="2/2 items PASS",
        window="",
        severity=_C,
        measure="spec_thresholds",
        transitions=((_S.PARAMETERS_DEFINED, _S.THRESHOLDS_DEFINED),),
        source="seed 001 state diagram; seed 002 Docs score",
    ),
    Gate(
        gate_id="fixture_pack_present",
        title="Fixture pack present",
        how_measured="Backtest item 1: the four fixture cases exist and tests load them",
        threshold="item PASS",
        window="",
        severity=_C,
        measure="fixture_pack_present",
        transitions=((_S.THRESHOLDS_DEFINED, _S.TESTS_DEFINED),),
        stage=Stage.DEMO_WIRED,
        source="seed 001 state diagram; seed 000 stage 1 'Fixture pack'",
    ),
    Gate(
        gate_id="docs_checklist",
        title="Checklist 27/27 green",
        how_measured="Generator output: the Docs score computed from the spec and the code",
        threshold="100 % (27/27)",
        window="",
        severity=_C,
        measure="docs_checklist",
        transitions=((_S.TESTS_DEFINED, _S.READY_TO_BUILD), (_S.BUILT, _S.SHADOW)),
        stage=Stage.DEMO_WIRED,
        source="seed 001 Built → Shadow; seed 000 stage 1 'Spec mapped (27 sections)'",
    ),
    Gate(
        gate_id="impl_checklist",
        title="Implementation checklist 15/15",
        how_measured="The Impl score: contracts, fixtures through the desk, the simulator, "
        "metrics, CI",
        threshold="100 % (15/15)",
        window="",
        severity=_C,
        measure="impl_checklist",
        transitions=((_S.READY_TO_BUILD, _S.BUILT),),
        source="seed 002 Impl score",
    ),
    # ---- seed 001: Built → Shadow
    Gate(
        gate_id="ci_green_7_days",
        title="All unit + integration + property tests pass",
        how_measured="CI runs on main recorded in the store (polytraders readiness record-ci)",
        threshold="100 % on main for 7 consecutive days (a run every UTC day, none failed)",
        window="7 days",
        severity=_C,
        measure="ci_green_7_days",
        transitions=((_S.BUILT, _S.SHADOW),),
        source="seed 001 Built → Shadow",
    ),
    Gate(
        gate_id="wire_examples_replay",
        title="Wire examples replay cleanly",
        how_measured="The bot's fixture cases re-run through the desk, compared with the "
        "spec's wire examples (section 21) and the declared codes",
        threshold="0 unexpected reason codes",
        window="",
        severity=_C,
        measure="wire_examples_replay",
        transitions=((_S.BUILT, _S.SHADOW),),
        source="seed 001 Built → Shadow",
    ),
    Gate(
        gate_id="reason_code_stability",
        title="Reason-code stability check",
        how_measured="CI lint of the registry against its lock (polytraders reasons --check)",
        threshold="no reword of existing codes",
        window="",
        severity=_C,
        measure="reason_code_stability",
        transitions=((_S.BUILT, _S.SHADOW),),
        source="seed 001 Built → Shadow",
    ),
    # ---- seed 001: Shadow → Limited live
    Gate(
        gate_id="shadow_agreement",
        title="Shadow agreement with current live decision",
        how_measured="Side-by-side replay of the last 30 days (recorded shadow comparisons)",
        threshold="≥ 99 % identical decisions; divergences reviewed",
        window="30 days",
        severity=_C,
        measure="shadow_agreement",
        transitions=((_S.SHADOW, _S.LIMITED_LIVE),),
        source="seed 001 Shadow → Limited live",
    ),
    Gate(
        gate_id="p99_latency",
        title="P99 latency",
        how_measured="Envelopes' decision latency in live-clock runs (what Prometheus "
        "exports as decision_latency_ms)",
        threshold="≤ the documented SLO (RUNTIME_BUDGET.decision_p99_us)",
        window="7 days",
        severity=_C,
        measure="p99_latency",
        transitions=((_S.SHADOW, _S.LIMITED_LIVE),),
        source="seed 001 Shadow → Limited live",
    ),
    Gate(
        gate_id="error_rate_7_days",
        title="Error rate",
        how_measured="ERROR and QUARANTINE envelopes per decision in live-clock runs",
        threshold="< 0.1 % over 7 days",
        window="7 days",
        severity=_C,
        measure="error_rate_7_days",
        transitions=((_S.SHADOW, _S.LIMITED_LIVE),),
        source="seed 001 Shadow → Limited live",
    ),
    Gate(
        gate_id="no_p0_alerts",
        title="No P0 alerts in shadow",
        how_measured="Alert firings received from Alertmanager (polytraders alerts ingest)",
        threshold="0 over 7 days of shadow running",
        window="7 days",
        severity=_C,
        measure="no_p0_alerts",
        transitions=((_S.SHADOW, _S.LIMITED_LIVE),),
        source="seed 001 Shadow → Limited live",
    ),
    Gate(
        gate_id="chaos_suite",
        title="Failure-injection recipes pass",
        how_measured="The chaos suite's recorded scenario verdicts",
        threshold="all 5 standard scenarios pass",
        window="",
        severity=_C,
        measure="chaos_suite",
        transitions=((_S.SHADOW, _S.LIMITED_LIVE),),
        source="seed 001 Shadow → Limited live",
    ),
    # ---- seed 001: Limited live → General live
    Gate(
        gate_id="limited_live_30_days",
        title="Time in limited live",
        how_measured="Calendar: since the recorded promotion to Limited live",
        threshold="≥ 30 days",
        window="30 days",
        severity=_C,
        measure="limited_live_30_days",
        transitions=((_S.LIMITED_LIVE, _S.GENERAL_LIVE),),
        source="seed 001 Limited live → General live",
    ),
    Gate(
        gate_id="incidents",
        title="User-facing incidents attributed to this bot",
        how_measured="The incident log in the store (drills excluded), since Limited live",
        threshold="0 P1, ≤ 2 P2",
        window="since Limited live (≥ 30 days)",
        severity=_C,
        measure="incidents",
        transitions=((_S.LIMITED_LIVE, _S.GENERAL_LIVE),),
        source="seed 001 Limited live → General live",
    ),
    Gate(
        gate_id="false_positive_rate",
        title="False-positive rate (Risk bots)",
        how_measured="Recorded review of 100 random REJECT/RESHAPE decisions",
        threshold="≤ 5 % incorrect (95 % upper bound reported beside it)",
        window="",
        severity=_C,
        measure="false_positive_rate",
        transitions=((_S.LIMITED_LIVE, _S.GENERAL_LIVE),),
        bot_classes=frozenset({BotClass.RISK}),
        source="seed 001 Limited live → General live",
    ),
    Gate(
        gate_id="reconciliation_drift",
        title="Reconciliation drift",
        how_measured="Recorded reconciliations of live-venue runs with the venue",
        threshold="within tolerance (no critical drift) for 30 days",
        window="30 days",
        severity=_C,
        measure="reconciliation_drift",
        transitions=((_S.LIMITED_LIVE, _S.GENERAL_LIVE),),
        source="seed 001 Limited live → General live",
    ),
    Gate(
        gate_id="user_message_coverage",
        title="Plain-English coverage",
        how_measured="Every reason code the bot declares or emitted (store) has a user_message",
        threshold="100 %",
        window="",
        severity=_C,
        measure="user_message_coverage",
        transitions=((_S.LIMITED_LIVE, _S.GENERAL_LIVE),),
        source="seed 001 Limited live → General live",
    ),
    # ---- seed 000's stages (gates not already above)
    Gate(
        gate_id="search_space_declared",
        title="SEARCH_SPACE declared",
        how_measured="Backtest item 3",
        threshold="item PASS",
        window="",
        severity=_C,
        measure="search_space_declared",
        stage=Stage.DEMO_WIRED,
        source="seed 000 stage 1",
    ),
    Gate(
        gate_id="reason_codes_registered",
        title="Reason codes registered",
        how_measured="Every declared and emitted code is in the registry with this bot or "
        "the desk as owner (Impl item 10, contract verification)",
        threshold="all registered",
        window="",
        severity=_C,
        measure="reason_codes_registered",
        stage=Stage.DEMO_WIRED,
        source="seed 000 stage 1",
    ),
    Gate(
        gate_id="console_page",
        title="Page in PAGE_PURPOSE",
        how_measured="The operator console declares a page for the bot",
        threshold="a page with its purpose",
        window="",
        severity=Severity.WARNING,
        measure="console_page",
        stage=Stage.DEMO_WIRED,
        source="seed 000 stage 1",
    ),
    Gate(
        gate_id="fixture_pack_passes",
        title="Fixture pack 4/4",
        how_measured="Impl items 5–8: normal, warning, hard and failure cases through the desk",
        threshold="4/4 PASS",
        window="",
        severity=_C,
        measure="fixture_pack_passes",
        stage=Stage.SHADOW_READY,
        source="seed 000 stage 2",
    ),
    Gate(
        gate_id="backtest_harness",
        title="Backtest harness green",
        how_measured="The Backtest score: fixture, reproducing timeline, search space, "
        "reference run",
        threshold="4/4",
        window="",
        severity=_C,
        measure="backtest_harness",
        stage=Stage.SHADOW_READY,
        source="seed 000 stage 2",
    ),
    Gate(
        gate_id="synthetic_labeled",
        title="Synthetic data labeled",
        how_measured="The recorded timeline's data source is a seeded synthetic feed, "
        "labelled synthetic",
        threshold="labelled",
        window="",
        severity=_C,
        measure="synthetic_labeled",
        stage=Stage.SHADOW_READY,
        source="seed 000 stage 2",
    ),
    Gate(
        gate_id="reviewer_signoff",
        title="Reviewer sign-off",
        how_measured="A reviewer's signed statement bound to the code and config hashes",
        threshold="a valid signature by a reviewer",
        window="",
        severity=_C,
        measure="reviewer_signoff",
        stage=Stage.SHADOW_READY,
        source="seed 000 stage 2",
    ),
    Gate(
        gate_id="runner_integration",
        title="Runner integration suite passing",
        how_measured="Impl item 13: the whole fixture pack through the desk against the CLOB "
        "v2 simulator with the Polymarket venue adapter (markets) or the exchange simulator "
        "with the ccxt venue adapter (instruments)",
        threshold="item PASS",
        window="",
        severity=_C,
        measure="runner_integration",
        stage=Stage.RUNTIME_LIVE,
        source="seed 000 stage 3",
    ),
    Gate(
        gate_id="wallet_allowance",
        title="Wallet allowance verified (CTFExchangeV2)",
        how_measured="The latest recorded --live start-up check (GET /balance-allowance) of "
        "each account a live-venue run of the bot started with",
        threshold="collateral allowance to CTF Exchange V2 (neg-risk: also the neg-risk "
        "exchange and adapter) > 0 and ≥ the balance",
        window="",
        severity=_C,
        measure="wallet_allowance",
        stage=Stage.RUNTIME_LIVE,
        source="seed 000 stage 3",
    ),
    Gate(
        gate_id="builder_code_bound",
        title="builderCode bound",
        how_measured="Every order of live-venue runs the bot took part in carries the desk's "
        "builder code",
        threshold="all orders, at least one",
        window="",
        severity=_C,
        measure="builder_code_bound",
        stage=Stage.RUNTIME_LIVE,
        source="seed 000 stage 3",
    ),
    Gate(
        gate_id="kill_switch_routing",
        title="Kill switch routing confirmed",
        how_measured="A recorded kill-switch trip in a live-venue run after which no order "
        "of the run stayed open",
        threshold="confirmed",
        window="",
        severity=_C,
        measure="kill_switch_routing",
        stage=Stage.RUNTIME_LIVE,
        source="seed 000 stage 3",
    ),
    Gate(
        gate_id="audit_retention",
        title="Audit log retention configured",
        how_measured="A retention policy that keeps the audit log and what a manifest references",
        threshold="configured",
        window="",
        severity=_C,
        measure="audit_retention",
        stage=Stage.RUNTIME_LIVE,
        source="seed 000 stage 3",
    ),
    Gate(
        gate_id="multisig_approval",
        title="Multi-sig approval (2/3 signers)",
        how_measured="Signed approvals by distinct approvers of the signer list",
        threshold="≥ 2 of 3",
        window="",
        severity=_C,
        measure="multisig_approval",
        stage=Stage.PRODUCTION_LIVE,
        source="seed 000 stage 4",
    ),
    Gate(
        gate_id="release_manifest_signed",
        title="Release manifest signed (GOV_RELEASE_SIGNED)",
        how_measured="A verified release manifest for the bot's code, config and evidence",
        threshold="verified",
        window="",
        severity=_C,
        measure="release_manifest_signed",
        stage=Stage.PRODUCTION_LIVE,
        source="seed 000 stage 4",
    ),
    Gate(
        gate_id="incident_playbook",
        title="Incident playbook attached",
        how_measured="The playbook file referenced by hash in the release manifest",
        threshold="attached",
        window="",
        severity=_C,
        measure="incident_playbook",
        stage=Stage.PRODUCTION_LIVE,
        source="seed 000 stage 4",
    ),
    Gate(
        gate_id="rollback_plan_tested",
        title="Rollback plan tested",
        how_measured="A recorded drill that demotes the bot and returns to the previous manifest",
        threshold="a passing drill",
        window="",
        severity=_C,
        measure="rollback_plan_tested",
        stage=Stage.PRODUCTION_LIVE,
        source="seed 000 stage 4",
    ),
    Gate(
        gate_id="final_risk_review",
        title="Final risk review — passed",
        how_measured="A risk officer's signed statement bound to the code and config hashes",
        threshold="a valid signature by a risk officer",
        window="",
        severity=_C,
        measure="final_risk_review",
        stage=Stage.PRODUCTION_LIVE,
        source="seed 000 stage 4",
    ),
)
"""Every gate (seed 001's 13 for Built onwards, 6 for the states before, seed 000's 15 stage
gates of which 2 coincide with seed 001's or the early ones)."""

GATES_BY_ID: dict[str, Gate] = {gate.gate_id: gate for gate in GATES}


STAGES_OF_TRANSITION: dict[tuple[State, State], tuple[Stage, ...]] = {
    (State.BUILT, State.SHADOW): (Stage.DEMO_WIRED, Stage.SHADOW_READY),
    (State.SHADOW, State.LIMITED_LIVE): (Stage.RUNTIME_LIVE,),
    (State.LIMITED_LIVE, State.GENERAL_LIVE): (Stage.PRODUCTION_LIVE,),
}
"""Where the two views meet: entering Shadow needs seed 000's stages 1–2 (demo-wired,
shadow-ready), Limited live its stage 3 (runtime-live), General live its stage 4
(production-live), besides seed 001's gates of the transition."""


def transition_gates(from_state: State, to_state: State, bot_class: BotClass) -> list[Gate]:
    """The gates guarding ``from_state → to_state`` for a bot of ``bot_class``: seed 001's
    (or the checklist gate of an early state), then the gates of the seed-000 stages the
    transition completes (:data:`STAGES_OF_TRANSITION`), each once. None for Deprecated:
    retiring a bot needs no evidence."""
    stages = STAGES_OF_TRANSITION.get((from_state, to_state), ())
    return [
        g
        for g in GATES
        if ((from_state, to_state) in g.transitions or g.stage in stages)
        and g.applies_to(bot_class)
    ]


def stage_gates(stage: Stage, bot_class: BotClass) -> list[Gate]:
    """The gates of ``stage`` alone (seed 000 lists 5, 4, 5 and 5)."""
    return [g for g in GATES if g.stage is stage and g.applies_to(bot_class)]


def gates_up_to(stage: Stage, bot_class: BotClass) -> list[Gate]:
    """The gates of every stage up to and including ``stage`` (reaching a stage needs the
    earlier ones too)."""
    wanted = STAGES[: stage.number]
    return [g for s in wanted for g in stage_gates(s, bot_class)]
