"""Bad input to ``polytraders optimize``: one ``error:`` line and exit 2, before any trial runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytraders.optimize.storage import open_storage
from polytraders.optimize.study import StudySettings, open_study
from tests.optimize.conftest import SYNTHETIC, TOUCH_QUOTER, invoke, refused, touch_quoter_variant

MAKER = ("optimize", "--bot", "strat.maker_tight", "--data", SYNTHETIC, "--trials", "2")


def test_unknown_bot(tmp_path: Path) -> None:
    line = refused(
        invoke("optimize", "--bot", "strat.nope", "--data", SYNTHETIC, "--out", str(tmp_path)),
        "--bot strat.nope",
        "unknown bot",
    )
    assert "strat.maker_tight" in line  # the known bots are listed


def test_a_bot_with_an_empty_search_space(tmp_path: Path) -> None:
    refused(
        invoke(
            "optimize", "--bot", "risk.compliancegate", "--data", SYNTHETIC, "--out", str(tmp_path)
        ),
        "risk.compliancegate",
        "empty search space",
    )


def test_a_search_space_outside_the_hard_limits(tmp_path: Path) -> None:
    strategy = touch_quoter_variant(
        tmp_path,
        'IntParam(name="stop_before_end_s", low=0, high=300, step=30)',
        'IntParam(name="stop_before_end_s", low=0, high=9000, step=30)',
    )
    refused(
        invoke(
            "optimize",
            "--strategy",
            f"{strategy}:TouchQuoter",
            "--data",
            SYNTHETIC,
            "--out",
            str(tmp_path / "out"),
        ),
        "stop_before_end_s",
        "exceeds hard limits",
    )


def test_an_unreachable_storage_url_is_named_without_its_password(tmp_path: Path) -> None:
    line = refused(
        invoke(
            *MAKER,
            "--storage",
            "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test",
            "--out",
            str(tmp_path / "out"),
        ),
        "--storage postgresql+psycopg://postgres:***@127.0.0.1:1/test",
        "cannot open the study storage",
    )
    assert "hunter2" not in line
    assert not (tmp_path / "out").exists()  # refused before the data was split


def test_a_study_created_with_another_search_space(tmp_path: Path) -> None:
    storage = tmp_path / "studies.sqlite"
    open_study(
        open_storage(storage),
        "shared",
        StudySettings(
            bot_id="strat.maker_tight",
            search_space='[{"name":"other","type":"int"}]',
            score="total_pnl",
            sampler="tpe",
            seed=7,
            trials=2,
            batch=8,
            desk_version="0",
            data_digest="0",
            in_sample_digest="0",
            in_sample_pct=75,
        ),
    )
    refused(
        invoke(
            *MAKER,
            "--storage",
            str(storage),
            "--study",
            "shared",
            "--out",
            str(tmp_path / "out"),
        ),
        "study shared was created with another search space",
    )


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (("--trials", "0"), ("--trials 0",)),
        (("--jobs", "3", "--batch", "2"), ("--jobs 3", "--batch")),
        (("--batch", "0"), ("--batch 0",)),
        (("--sampler", "annealing"), ("--sampler annealing", "tpe")),
        (("--score", "profit"), ("--score profit", "total_pnl")),
        (("--score", "polytraders.nope:score"), ("polytraders.nope",)),
        (("--in-sample-pct", "100"), ("--in-sample-pct 100",)),
    ],
)
def test_bad_options(tmp_path: Path, options: tuple[str, ...], needles: tuple[str, ...]) -> None:
    refused(invoke(*MAKER, *options, "--out", str(tmp_path / "out")), *needles)


def test_a_score_with_a_positional_parameter(tmp_path: Path) -> None:
    (tmp_path / "my_score.py").write_text("def score(result):\n    return 0.0\n")
    refused(
        invoke(
            *MAKER, "--score", f"{tmp_path / 'my_score.py'}:score", "--out", str(tmp_path / "o")
        ),
        "'result' must be keyword-only",
    )


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        ("synthetic:normal?seed=7&markets=1", ("1 market(s)", "at least 2")),
        ("data/nowhere", ("data/nowhere",)),
    ],
)
def test_data_that_cannot_be_split(tmp_path: Path, data: str, needles: tuple[str, ...]) -> None:
    refused(
        invoke("optimize", "--bot", "strat.maker_tight", "--data", data, "--out", str(tmp_path)),
        *needles,
    )


def test_a_bot_that_is_not_enforced_in_the_desk(tmp_path: Path) -> None:
    desk = tmp_path / "desk.toml"
    desk.write_text('[[strategies]]\nid = "strat.maker_tight"\nmode = "SHADOW"\n')
    refused(
        invoke(*MAKER, "--desk", str(desk), "--out", str(tmp_path / "out")),
        "strat.maker_tight runs SHADOW in the desk",
    )


def test_a_library_bot_missing_from_the_desk(tmp_path: Path) -> None:
    refused(
        invoke(
            "optimize",
            "--strategy",
            f"{TOUCH_QUOTER}:TouchQuoter",
            "--bot",
            "strat.maker_tight",
            "--data",
            SYNTHETIC,
            "--out",
            str(tmp_path),
        ),
        "strat.maker_tight is not in the desk",
    )


def test_neither_bot_nor_strategy(tmp_path: Path) -> None:
    refused(invoke("optimize", "--data", SYNTHETIC, "--out", str(tmp_path)), "--bot BOT_ID")
