"""The Backtest score on the repository as it is, and on copies where one piece of evidence is
removed or edited: a fixture file (item 1), the recorded timeline (item 2), the reference run
(item 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polytraders.bots.registry import BOTS
from polytraders.optimize.references import FIXTURES, check_timelines, regenerate
from polytraders.readiness.backtest_score import backtest_score
from polytraders.readiness.evidence import EvidenceKind, ItemStatus
from tests.conftest import REPO
from tests.readiness.conftest import context

EMPTY_SPACE = {"risk.compliancegate"}
"""Bots whose SEARCH_SPACE is empty: no reference run can exist (item 4 fails)."""


@pytest.fixture(scope="module")
def rerun_cache() -> dict[tuple[Any, ...], Any]:
    """One timeline re-run shared by this module's contexts: it depends only on the installed
    code, not on the copy's files, which every score reads afresh."""
    return {}


def _statuses(repo: Path, bot_id: str, cache: dict[tuple[Any, ...], Any]) -> dict[int, str]:
    score = backtest_score(bot_id, context(repo, cache))
    return {i.number: i.status.value for i in score.items}


def test_every_bot_scores_as_its_evidence_stands(rerun_cache: dict[tuple[Any, ...], Any]) -> None:
    """Items 1 and 3 pass for every bot; item 4 for all but risk.compliancegate, whose empty
    search space admits no reference run; item 2 passes exactly when the recorded timeline
    reproduces, as ``polytraders reference-runs --check`` (a separate comparison) finds."""
    not_reproducing = {p.split(":")[0] for p in check_timelines(REPO / "runs" / "optimizer")}
    ctx = context(REPO, rerun_cache)
    for bot_id in BOTS:
        score = backtest_score(bot_id, ctx)
        status = {i.number: i.status for i in score.items}
        assert status[1] is ItemStatus.PASS, score.item(1).detail
        assert status[3] is ItemStatus.PASS, score.item(3).detail
        reproduces = bot_id not in not_reproducing
        assert (status[2] is ItemStatus.PASS) is reproduces, score.item(2).detail
        has_reference = bot_id not in EMPTY_SPACE
        assert (status[4] is ItemStatus.PASS) is has_reference, score.item(4).detail
        assert score.passed == 2 + reproduces + has_reference
    compliance = backtest_score("risk.compliancegate", ctx)
    assert "empty" in compliance.item(3).detail
    assert compliance.item(4).evidence[0].result == "missing"


def test_deleting_one_fixture_file_fails_item_1(
    repo_copy: Path, rerun_cache: dict[tuple[Any, ...], Any]
) -> None:
    before = _statuses(repo_copy, "risk.killswitch", rerun_cache)
    (repo_copy / "tests" / "fixtures" / "bots" / "risk.killswitch" / "hard.json").unlink()
    score = backtest_score("risk.killswitch", context(repo_copy, rerun_cache))
    assert score.item(1).status is ItemStatus.FAIL
    assert "hard.json missing" in score.item(1).detail
    assert {e.ref: e.result for e in score.item(1).evidence}[
        "tests/fixtures/bots/risk.killswitch/hard.json"
    ] == "missing"
    assert {i.number: i.status.value for i in score.items} == {**before, 1: "FAIL"}
    assert before[1] == "PASS"


def test_a_case_file_of_another_bot_fails_item_1(
    repo_copy: Path, rerun_cache: dict[tuple[Any, ...], Any]
) -> None:
    folder = repo_copy / "tests" / "fixtures" / "bots"
    (folder / "exec.smartrouter" / "warning.json").write_bytes(
        (folder / "strat.maker_tight" / "warning.json").read_bytes()
    )
    item = backtest_score("exec.smartrouter", context(repo_copy, rerun_cache)).item(1)
    assert item.status is ItemStatus.FAIL
    assert "warning.json says bot_id 'strat.maker_tight', case 'warning'" in item.detail


def test_a_pack_no_test_loads_fails_item_1(
    repo_copy: Path, rerun_cache: dict[tuple[Any, ...], Any]
) -> None:
    """The risk fixture-pack tests load the seven guards' packs (parametrised over
    ``packs.RISK_BOTS``): without that module no test loads a guard's pack, while the
    strategy's own pack test still loads its pack."""
    (repo_copy / "tests" / "bots" / "risk" / "test_fixture_packs.py").unlink()
    item = backtest_score("risk.killswitch", context(repo_copy, rerun_cache)).item(1)
    assert item.status is ItemStatus.FAIL
    assert "no tests/**/test_fixture_pack*.py module calls a pack loader" in item.detail
    other = backtest_score("strat.maker_tight", context(repo_copy, rerun_cache)).item(1)
    assert other.status is ItemStatus.PASS


def test_deleting_the_reference_run_fails_item_4(
    repo_copy: Path, rerun_cache: dict[tuple[Any, ...], Any]
) -> None:
    before = _statuses(repo_copy, "risk.stalebookguard", rerun_cache)
    (repo_copy / "runs" / "optimizer" / "risk.stalebookguard" / "reference.json").unlink()
    score = backtest_score("risk.stalebookguard", context(repo_copy, rerun_cache))
    item = score.item(4)
    assert item.status is ItemStatus.FAIL
    assert item.detail == "runs/optimizer/risk.stalebookguard/reference.json missing"
    assert item.evidence[0].result == "missing" and item.evidence[0].digest == ""
    assert {i.number: i.status.value for i in score.items} == {**before, 4: "FAIL"}
    assert before[4] == "PASS"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["best"]["params"].update(halt_drawdown_bps=3050), "3050 outside [200, 3000]"),
        (
            lambda d: d["best"]["params"].update(halt_drawdown_bps=1025),
            "not on the grid 200 + k × 50",
        ),
        (lambda d: d["best"]["params"].pop("reducing_level_pct"), "miss ['reducing_level_pct']"),
        (lambda d: d.update(score="my_module:score"), "is not a built-in score"),
        (lambda d: d.update(bot_id="risk.killswitch"), "bot_id is 'risk.killswitch'"),
    ],
)
def test_a_reference_run_that_does_not_fit_the_bot_fails_item_4(
    repo_copy: Path, rerun_cache: dict[tuple[Any, ...], Any], edit: Any, expected: str
) -> None:
    path = repo_copy / "runs" / "optimizer" / "risk.drawdownguard" / "reference.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    edit(document)
    path.write_text(json.dumps(document), encoding="utf-8")
    item = backtest_score("risk.drawdownguard", context(repo_copy, rerun_cache)).item(4)
    assert item.status is ItemStatus.FAIL
    assert expected in item.detail


def test_a_reproducing_timeline_passes_and_an_edited_one_fails_item_2(repo_copy: Path) -> None:
    """Timelines freshly recorded by ``polytraders reference-runs --timelines``'s code pass item 2
    for every bot; editing one bot's file fails only that bot's item 2, naming the key."""
    folder = repo_copy / "runs" / "optimizer"
    regenerate(folder, timelines_only=True)
    ctx = context(repo_copy)
    assert all(backtest_score(b, ctx).item(2).status is ItemStatus.PASS for b in BOTS)
    path = folder / "risk.exposureguard" / "timeline.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["bot_envelopes"] += 1
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    failing = {b for b in BOTS if backtest_score(b, ctx).item(2).status is not ItemStatus.PASS}
    assert failing == {"risk.exposureguard"}
    item = backtest_score("risk.exposureguard", ctx).item(2)
    recorded, fresh = document["bot_envelopes"], document["bot_envelopes"] - 1
    assert f"bot_envelopes recorded {recorded}, re-run {fresh}" in item.detail
    rerun = item.evidence[1]
    fixtures = len(set(FIXTURES.values()))  # one run per distinct data and desk
    assert rerun.kind is EvidenceKind.COMMAND
    assert rerun.result.startswith(f"re-ran {fixtures} fixtures in ")
    assert len(ctx.cache) == 1, "one re-run per context"


def test_a_missing_timeline_fails_item_2(
    repo_copy: Path, rerun_cache: dict[tuple[Any, ...], Any]
) -> None:
    (repo_copy / "runs" / "optimizer" / "strat.maker_tight" / "timeline.json").unlink()
    item = backtest_score("strat.maker_tight", context(repo_copy, rerun_cache)).item(2)
    assert item.status is ItemStatus.FAIL
    assert item.detail == "runs/optimizer/strat.maker_tight/timeline.json missing"


def _bar_s(document: dict[str, Any]) -> dict[str, Any]:
    (param,) = (p for p in document["ranges"] if p["name"] == "bar_s")
    return param


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.pop("ranges"), "differs from the current SEARCH_SPACE"),
        (lambda d: _bar_s(d).update(high=2), "with the ranges it records"),
        (lambda d: _bar_s(d).update(low=0), "leave the hard limits"),
        (lambda d: _bar_s(d).update(name="nope"), "nope: not a parameter"),
        (lambda d: _bar_s(d).update(type="float"), "of type int in the bot's search space"),
    ],
)
def test_a_reference_run_whose_ranges_do_not_fit_fails_item_4(
    repo_copy: Path, rerun_cache: dict[tuple[Any, ...], Any], edit: Any, expected: str
) -> None:
    """A study run with a ranges file (``optimize --ranges``) passes with the ranges it
    records; ranges that were not the searched ones, leave the hard limits or name nothing of
    the bot's fail."""
    path = repo_copy / "runs" / "optimizer" / "strat.ema_cross" / "reference.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    passing = backtest_score("strat.ema_cross", context(repo_copy, rerun_cache)).item(4)
    assert passing.status is ItemStatus.PASS
    assert "ranges of its data, within the hard limits" in passing.detail
    edit(document)
    path.write_text(json.dumps(document), encoding="utf-8")
    item = backtest_score("strat.ema_cross", context(repo_copy, rerun_cache)).item(4)
    assert item.status is ItemStatus.FAIL
    assert expected in item.detail, item.detail
