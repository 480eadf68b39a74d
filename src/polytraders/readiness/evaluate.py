"""Evaluate gates from evidence and record the evaluation (an Argo-style AnalysisRun).

Each gate's measure returns a :class:`Measurement`; the evaluation takes each gate's phase
as measured (a measure that raises gives Error with the exception's one-line text: recorded,
never a pass), and passes only when every CRITICAL gate is Successful; WARNING gates are
reported and never block. Recording writes one ``gate_evaluations`` row per gate and an audit
entry per gate (``GOV_GATE_PASSED`` / ``_FAILED`` / ``_INCONCLUSIVE`` / ``_ERROR``) plus one
``GOV_GATES_CHECKED`` for the whole evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from polytraders.contracts.canonical import canonical_sha256
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Phase, evidence_digest
from polytraders.readiness.gates import Gate, Measurement, Severity
from polytraders.readiness.measures import MEASURES
from polytraders.store import EventStore
from polytraders.store.promotions import GateEvaluationRow, append_gate_evaluations

PHASE_CODES: dict[Phase, str] = {
    Phase.SUCCESSFUL: "GOV_GATE_PASSED",
    Phase.FAILED: "GOV_GATE_FAILED",
    Phase.INCONCLUSIVE: "GOV_GATE_INCONCLUSIVE",
    Phase.ERROR: "GOV_GATE_ERROR",
}
"""The registered GOV_ code of each gate phase."""


class GateResult(msgspec.Struct, frozen=True, kw_only=True):
    """One gate's result in an evaluation; ``waived_by`` is the digest of a valid gate waiver
    (an operator override signed by the signer list's threshold of approvers), else ""."""

    gate: Gate
    measurement: Measurement
    evidence_digest: str
    waived_by: str = ""

    @property
    def blocks(self) -> bool:
        """True when the gate is CRITICAL, not Successful and not waived."""
        return (
            self.gate.severity is Severity.CRITICAL
            and self.measurement.phase is not Phase.SUCCESSFUL
            and not self.waived_by
        )


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    """One evaluation of a bot's gates for a target (a lifecycle state or a stage).

    Attributes:
        evaluation_id: ``ev-`` and 24 hex digits, derived from the bot, target, clock and
            commit.
        bot_id: the bot.
        from_state: the state the transition starts from ("" for a stage check).
        target: the target state or stage (its value).
        results: every gate's result, in the catalogue's order.
        ts_ns: the evaluation's clock (ns since the epoch).
        commit: the commit evaluated.
    """

    evaluation_id: str
    bot_id: str
    from_state: str
    target: str
    results: tuple[GateResult, ...]
    ts_ns: int
    commit: str

    @property
    def passed(self) -> bool:
        """True when no CRITICAL gate blocks (every critical gate Successful)."""
        return not any(r.blocks for r in self.results)

    @property
    def digest(self) -> str:
        """SHA-256 over every gate's id, phase, value and evidence digest: what a promotion
        records as the evidence it rests on."""
        rows = [
            [r.gate.gate_id, r.measurement.phase.value, r.measurement.value, r.evidence_digest]
            + ([r.waived_by] if r.waived_by else [])
            for r in self.results
        ]
        return canonical_sha256(rows)


def measure_gate(gate: Gate, bot_id: str, ctx: ReadinessContext) -> GateResult:
    """Run ``gate``'s measure for ``bot_id``. A measure that raises gives phase Error with
    ``ExceptionType: message`` as its detail (recorded; it never passes).

    Raises:
        KeyError: the gate names a measure that does not exist (a catalogue defect).
    """
    measure = MEASURES[gate.measure]
    try:
        measurement = measure(bot_id, ctx)
    except Exception as exc:  # recorded as the gate's Error phase, never a pass
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        measurement = Measurement(phase=Phase.ERROR, value="error", detail=text)
    return GateResult(
        gate=gate,
        measurement=measurement,
        evidence_digest=evidence_digest(measurement.evidence),
    )


def evaluate(
    bot_id: str,
    gates: Sequence[Gate],
    ctx: ReadinessContext,
    *,
    from_state: str,
    target: str,
    waivers: Mapping[str, str] | None = None,
) -> Evaluation:
    """Measure every gate in ``gates`` for ``bot_id`` (in order); ``waivers`` maps a gate id
    to the digest of the valid waiver that overrides it (it is measured all the same)."""
    waived = waivers or {}
    return Evaluation(
        evaluation_id="ev-"
        + canonical_sha256([bot_id, from_state, target, ctx.now_ns, ctx.commit])[:24],
        bot_id=bot_id,
        from_state=from_state,
        target=target,
        results=tuple(
            msgspec.structs.replace(
                measure_gate(gate, bot_id, ctx), waived_by=waived.get(gate.gate_id, "")
            )
            for gate in gates
        ),
        ts_ns=ctx.now_ns,
        commit=ctx.commit,
    )


def record_evaluation(store: EventStore, evaluation: Evaluation, *, actor: str) -> None:
    """Record ``evaluation``: its gate rows, an audit entry per gate with the phase's GOV_
    code, and ``GOV_GATES_CHECKED`` with the verdict and digest.

    Raises:
        StoreWriteError: a write failed (what was written before stays).
    """
    rows = [
        GateEvaluationRow(
            evaluation_id=evaluation.evaluation_id,
            bot_id=evaluation.bot_id,
            from_state=evaluation.from_state,
            to_state=evaluation.target,
            gate_id=r.gate.gate_id,
            phase=r.measurement.phase.value,
            critical=r.gate.severity is Severity.CRITICAL,
            value=r.measurement.value,
            threshold=r.gate.threshold,
            window=r.gate.window,
            evidence_json=msgspec.json.encode(r.measurement.evidence).decode(),
            evidence_digest=r.evidence_digest,
            commit_sha=evaluation.commit,
            ts_ns=evaluation.ts_ns,
        )
        for r in evaluation.results
    ]
    append_gate_evaluations(store, rows)
    for r in evaluation.results:
        store.audit(
            actor=actor,
            action=PHASE_CODES[r.measurement.phase],
            ts_ns=evaluation.ts_ns,
            detail={
                "bot_id": evaluation.bot_id,
                "evaluation_id": evaluation.evaluation_id,
                "gate_id": r.gate.gate_id,
                "value": r.measurement.value,
                "threshold": r.gate.threshold,
                "evidence_digest": r.evidence_digest,
                **({"waived_by": r.waived_by} if r.waived_by else {}),
            },
        )
    store.audit(
        actor=actor,
        action="GOV_GATES_CHECKED",
        ts_ns=evaluation.ts_ns,
        detail={
            "bot_id": evaluation.bot_id,
            "evaluation_id": evaluation.evaluation_id,
            "from_state": evaluation.from_state,
            "target": evaluation.target,
            "verdict": "PASS" if evaluation.passed else "FAIL",
            "digest": evaluation.digest,
        },
    )
