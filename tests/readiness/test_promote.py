"""Promotion on a real store: a passing transition is recorded with its evaluation and
evidence digest; a failing critical gate refuses the step, records the refusal with a GOV_
code, and leaves the bot where it was; a target behind the bot is refused and audited."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Phase
from polytraders.readiness.lifecycle import State, TargetError
from polytraders.readiness.promote import current_state, promote
from polytraders.store import EventStore
from polytraders.store.promotions import PromotionOutcome, gate_evaluations, promotions
from tests.conftest import REPO

BOT = "risk.killswitch"
COMMIT = "c" * 40


def _context(store: EventStore, repo: Path) -> ReadinessContext:
    return ReadinessContext(repo=repo, store=store, now_ns=time.time_ns(), commit=COMMIT)


def test_a_passing_transition_is_recorded_with_its_evidence_digest(store_url: str) -> None:
    with EventStore.open(store_url) as store:
        assert current_state(store, BOT) is State.IDEA_ONLY
        (step,) = promote(BOT, State.SPEC_STARTED, _context(store, REPO), actor="ana")
        assert step.promoted and step.evaluation.passed
        (row,) = promotions(store, bot_id=BOT)
        assert (row.from_state, row.to_state, row.outcome) == (
            "idea_only",
            "spec_started",
            PromotionOutcome.PROMOTED,
        )
        assert row.reason_code == "GOV_PROMOTED" and row.actor == "ana"
        assert row.evidence_digest == step.evaluation.digest
        assert row.evaluation_id == step.evaluation.evaluation_id
        (gate_row,) = gate_evaluations(store, evaluation_id=row.evaluation_id)
        assert (gate_row.gate_id, gate_row.phase) == ("spec_present", "Successful")
        assert gate_row.evidence_digest == step.evaluation.results[0].evidence_digest
        assert current_state(store, BOT) is State.SPEC_STARTED
        actions = [e.action for e in store.audit_log()]
        assert actions == [
            "GOV_PROMOTION_ATTEMPTED",
            "GOV_GATE_PASSED",
            "GOV_GATES_CHECKED",
            "GOV_PROMOTED",
        ]
        # already there: nothing to do, nothing recorded
        assert promote(BOT, State.SPEC_STARTED, _context(store, REPO), actor="ana") == []


def test_a_failing_critical_gate_refuses_the_step_and_records_it(
    store_url: str, repo_copy: Path
) -> None:
    spec = repo_copy / "docs" / "bots" / f"{BOT}.md"
    text = spec.read_text(encoding="utf-8")
    assert '"daily_loss_halt_bps": 500' in text
    spec.write_text(text.replace('"daily_loss_halt_bps": 500', '"daily_loss_halt_bps": 400'))
    with EventStore.open(store_url) as store:
        steps = promote(BOT, State.THRESHOLDS_DEFINED, _context(store, repo_copy), actor="ana")
        assert [(s.from_state, s.to_state, s.promoted) for s in steps] == [
            (State.IDEA_ONLY, State.SPEC_STARTED, True),
            (State.SPEC_STARTED, State.PARAMETERS_DEFINED, False),
        ]
        refused = steps[-1]
        (result,) = refused.evaluation.results
        assert result.gate.gate_id == "spec_parameters"
        assert result.measurement.phase is Phase.FAILED
        assert "item 8" in result.measurement.detail
        row = promotions(store, bot_id=BOT)[-1]
        assert row.outcome is PromotionOutcome.REFUSED
        assert row.reason_code == "GOV_PROMOTION_REFUSED"
        assert row.detail == "blocked by spec_parameters (Failed)"
        assert row.evidence_digest == refused.evaluation.digest
        assert current_state(store, BOT) is State.SPEC_STARTED  # it stays where it was
        assert [e.action for e in store.audit_log()][-3:] == [
            "GOV_GATE_FAILED",
            "GOV_GATES_CHECKED",
            "GOV_PROMOTION_REFUSED",
        ]
        with pytest.raises(TargetError, match="never goes back"):
            promote(BOT, State.IDEA_ONLY, _context(store, repo_copy), actor="ana")
        assert store.audit_log()[-1].action == "GOV_PROMOTION_REFUSED"
        # retiring needs no evidence
        (retire,) = promote(BOT, State.DEPRECATED, _context(store, repo_copy), actor="ana")
        assert retire.promoted and retire.row.reason_code == "GOV_DEPRECATED"
        assert current_state(store, BOT) is State.DEPRECATED
