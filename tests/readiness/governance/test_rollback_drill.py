"""The rollback drill on the shipped sample: the desk runs the guard ENFORCED under its
current release, demotes it half-way, and the drill's checks read the recorded run; the
stage-4 gate "rollback plan tested" reads the recorded drill."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.feeds.samples import sample_path
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Phase
from polytraders.readiness.governance.errors import GovernanceError
from polytraders.readiness.lifecycle import State
from polytraders.readiness.release_subjects import desk_subjects
from polytraders.readiness.rollback_drill import run_drill
from polytraders.readiness.signature_gates import rollback_plan_tested
from polytraders.store import EventStore
from polytraders.store.rollback_drills import drills
from tests.conftest import REPO
from tests.governed import govern, release

BOT = "risk.killswitch"


@pytest.mark.slow
def test_a_drill_demotes_the_bot_and_is_recorded(tmp_path: Path) -> None:
    store_url, gov_dir, desk = str(tmp_path / "s.sqlite"), tmp_path / "gov", DeskFile()
    keys = govern(store_url, gov_dir, desk)
    with pytest.raises(GovernanceError, match="a rollback needs a previous one"):
        run_drill(
            BOT, desk=desk, data=sample_path(), store_url=store_url, gov_dir=gov_dir,
            now_ns=time.time_ns(), actor="ops",
        )  # fmt: skip
    now_ns = time.time_ns()
    with EventStore.open(store_url) as store:
        subjects = desk_subjects(desk)[BOT]
        assert (
            release(
                store,
                gov_dir,
                keys,
                subjects,
                desk=desk,
                to_state=State.GENERAL_LIVE,
                now_ns=now_ns,
            )
            == 2
        )
        ctx = ReadinessContext(
            repo=REPO, store=store, now_ns=now_ns, commit="", desk=desk, gov_dir=gov_dir
        )
        assert rollback_plan_tested(BOT, ctx).phase is Phase.INCONCLUSIVE
    drill = run_drill(
        BOT, desk=desk, data=sample_path(), store_url=store_url, gov_dir=gov_dir,
        now_ns=now_ns, actor="ops",
    )  # fmt: skip
    assert drill.passed, drill.checks
    assert (drill.from_sequence, drill.to_sequence) == (2, 1)
    assert [c.name for c in drill.checks] == [
        "current_release_verifies",
        "previous_release_verifies",
        "previous_release_allows_shadow",
        "demotion_applied",
        "enforced_before",
        "nothing_applied_after",
        "run_sound",
    ]
    with EventStore.open(store_url) as store:
        assert drills(store, bot_id=BOT) == [drill]
        assert store.audit_log()[-1].action == "GOV_ROLLBACK_DRILL"
        ctx = ReadinessContext(
            repo=REPO, store=store, now_ns=now_ns, commit="", desk=desk, gov_dir=gov_dir
        )
        measured = rollback_plan_tested(BOT, ctx)
        assert measured.phase is Phase.SUCCESSFUL and measured.value == "passed"
        # the drill's run is a run of its own: the demotion is in its identity
        (run,) = [r for r in store.runs() if r.run_id == drill.run_id]
        assert run.status.value == "COMPLETED"
