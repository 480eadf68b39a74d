"""The committed optimizer evidence under runs/optimizer/: every bot's recorded timeline
reproduces on its synthetic fixture, and every bot with a non-empty search space has a
reference run tuned on the shipped sample, consistent with its current search space.

After a change to a bot's code, the desk or the paper venue, regenerate them with
``polytraders reference-runs`` (``--timelines`` for the timelines alone)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytraders.backtest.engine import data_digest
from polytraders.bots.registry import BOTS
from polytraders.feeds.samples import sample_path
from polytraders.optimize import references
from polytraders.optimize.references import FIXTURES, REFERENCE_FILE, REFERENCES, REPOSITORY
from polytraders.optimize.space import load_ranges, space_json
from tests.conftest import REPO
from tests.optimize.conftest import invoke, refused

FOLDER = REPO / "runs" / "optimizer"
TUNABLE = sorted(bot_id for bot_id, cls in BOTS.items() if len(cls.SEARCH_SPACE))


def test_every_bot_has_a_fixture_and_a_folder_and_nothing_else_is_there() -> None:
    assert set(FIXTURES) == set(BOTS)
    assert set(REFERENCES) == set(TUNABLE)
    assert {p.name for p in FOLDER.iterdir()} == set(BOTS)


def test_every_recorded_timeline_reproduces() -> None:
    result = invoke("reference-runs", "--check", "--out", str(FOLDER))
    assert result.exit_code == 0, (
        "recorded timelines differ; if the change is intended, run "
        "`polytraders reference-runs --timelines` (or without --timelines after a change that "
        "invalidates the tuning):\n" + result.output
    )
    assert "every recorded timeline under" in result.output


def test_check_takes_no_jobs() -> None:
    refused(invoke("reference-runs", "--check", "--jobs", "2"), "--check", "--jobs")


def test_bot_names_a_library_bot(tmp_path: Path) -> None:
    result = invoke("reference-runs", "--timelines", "--bot", "strat.nope", "--out", str(tmp_path))
    assert result.exit_code != 0
    assert "not library bots: strat.nope" in result.output


def test_bot_rewrites_only_that_bots_timeline(tmp_path: Path) -> None:
    result = invoke(
        "reference-runs", "--timelines", "--bot", "strat.ema_cross", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["strat.ema_cross"]
    written = (tmp_path / "strat.ema_cross" / "timeline.json").read_bytes()
    assert written == (FOLDER / "strat.ema_cross" / "timeline.json").read_bytes()


def test_bots_outside_the_default_desk_run_their_example_desk() -> None:
    for bot_id in ("strat.ema_cross", "strat.mean_reversion", "exec.twap"):
        document = json.loads((FOLDER / bot_id / "timeline.json").read_text(encoding="utf-8"))
        assert document["desk"] == FIXTURES[bot_id].desk
        assert document["bot_envelopes"] > 0


@pytest.mark.parametrize("bot_id", TUNABLE)
def test_every_tunable_bot_has_a_reference_run(bot_id: str) -> None:
    document = json.loads((FOLDER / bot_id / REFERENCE_FILE).read_text(encoding="utf-8"))
    settings = REFERENCES[bot_id]
    space = BOTS[bot_id].SEARCH_SPACE
    if settings.ranges:
        space = space.with_ranges(load_ranges(REPOSITORY / settings.ranges, space))
    assert document.get("ranges_file", "") == settings.ranges
    assert document.get("min_fills", 0) == settings.min_fills
    assert document["bot_id"] == bot_id
    assert (document["score"], document["trials"]) == (settings.score, settings.trials)
    assert (document["sampler"], document["seed"]) == ("tpe", 7)
    assert document["data"]["digest"] == data_digest(sample_path(settings.data))
    assert document["data"]["source"] == f"data/samples/{settings.data}"
    assert document.get("desk_file", "") == settings.desk
    assert document["search_space"] == json.loads(space_json(space)), "space changed since"
    assert document["trial_states"].get("COMPLETE", 0) >= 1
    space.build(document["best"]["params"])  # the winning parameters are a valid config
    assert document["reproduced"] is True
    for part in ("in_sample", "out_of_sample"):
        assert set(document[part]) >= {"score", "pnl_usd", "envelopes_sha256"}, part
    assert document["versions"]["optuna"]
    assert "environment" not in document


def test_the_check_names_a_timeline_that_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = {
        bot_id: json.loads((FOLDER / bot_id / "timeline.json").read_text(encoding="utf-8"))
        for bot_id in BOTS
    }
    recorded["risk.killswitch"]["bot_envelopes_sha256"] = "0" * 64
    monkeypatch.setattr(references, "timelines", lambda: recorded)
    problems = references.check_timelines(FOLDER)
    assert len(problems) == 1
    assert problems[0].startswith("risk.killswitch: bot_envelopes_sha256 is 0000")
