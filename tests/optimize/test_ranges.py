"""Ranges files (``polytraders optimize --ranges FILE``) and a minimum of fills
(``--min-fills``): the study searches the given ranges and records them, a file that names
nothing of the bot's or leaves its hard limits is refused in one line, and a trial that trades
less than the minimum fails instead of scoring."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from polytraders.bots.strategy.maker_tight import SEARCH_SPACE
from polytraders.contracts.search_space import CategoricalParam, FloatParam, IntParam
from polytraders.optimize.space import RangesError, load_ranges
from tests.optimize.conftest import SYNTHETIC, invoke, refused, summary

MAKER = ("optimize", "--bot", "strat.maker_tight", "--data", SYNTHETIC, "--batch", "2")
NARROW = """
[base_half_spread_ticks]
low = 2
high = 3

[vol_widen_ratio]
low = 0.5
high = 1.0

[fair_value_method]
choices = ["mid"]
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "ranges.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_with_ranges_replaces_by_name_and_keeps_the_order() -> None:
    narrowed = SEARCH_SPACE.with_ranges(
        (IntParam(name="ema_span_events", low=10, high=20, step=5),)
    )
    assert narrowed.names() == SEARCH_SPACE.names()
    assert dict(zip(narrowed.names(), narrowed, strict=True))["ema_span_events"] == IntParam(
        name="ema_span_events", low=10, high=20, step=5
    )
    assert SEARCH_SPACE.params != narrowed.params  # the bot's own space is unchanged
    with pytest.raises(ValueError, match="nope: not a parameter"):
        SEARCH_SPACE.with_ranges((IntParam(name="nope", low=1, high=2),))
    with pytest.raises(ValueError, match="given twice"):
        SEARCH_SPACE.with_ranges(
            (IntParam(name="ema_span_events", low=5, high=10),) * 2,
        )
    with pytest.raises(ValueError, match="of type int in the bot's search space, not float"):
        SEARCH_SPACE.with_ranges((FloatParam(name="ema_span_events", low=5.0, high=10.0),))


def test_load_ranges_merges_each_table_over_the_bots_parameter(tmp_path: Path) -> None:
    params = load_ranges(_write(tmp_path, NARROW), SEARCH_SPACE)
    assert params == (
        IntParam(name="base_half_spread_ticks", low=2, high=3, step=1),
        FloatParam(name="vol_widen_ratio", low=0.5, high=1.0, step=0.25),  # the bot's step
        CategoricalParam(name="fair_value_method", choices=("mid",)),
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[nope]\nlow = 1\n", "nope: not in the search space"),
        ("ema_span_events = 5\n", "ema_span_events: must be a table"),
        ("[ema_span_events]\nlog = true\n", "unknown field(s) ['log']"),
        ('[ema_span_events]\nlow = "five"\n', "ema_span_events: Expected `int`"),
        ("[ema_span_events\n", "ranges.toml"),
    ],
)
def test_load_ranges_refuses_what_it_cannot_apply(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(RangesError) as raised:
        load_ranges(_write(tmp_path, text), SEARCH_SPACE)
    assert needle in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_study_searches_the_ranges_and_records_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ranges = _write(tmp_path, NARROW)
    result = invoke(
        *MAKER, "--trials", "4", "--ranges", str(ranges), "--study", "s", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    document = summary(out)
    space = {p["name"]: p for p in document["search_space"]}
    assert space["base_half_spread_ticks"] == {
        "type": "int",
        "name": "base_half_spread_ticks",
        "low": 2,
        "high": 3,
        "step": 1,
    }
    assert [p["name"] for p in document["ranges"]] == [
        "base_half_spread_ticks",
        "vol_widen_ratio",
        "fair_value_method",
    ]
    with (out / "trials.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    for row in rows:
        assert 2 <= int(row["base_half_spread_ticks"]) <= 3
        assert 0.5 <= float(row["vol_widen_ratio"]) <= 1.0
        assert row["fair_value_method"] == "mid"
    # the study cannot be resumed without the file: its search space was another
    again = invoke(*MAKER, "--trials", "4", "--study", "s", "--out", str(out))
    refused(again, "was created with another search space")


def test_ranges_outside_the_hard_limits_are_refused(tmp_path: Path) -> None:
    ranges = _write(tmp_path, "[base_half_spread_ticks]\nlow = 0\nhigh = 3\n")
    refused(
        invoke(*MAKER, "--trials", "2", "--ranges", str(ranges), "--out", str(tmp_path / "o")),
        "--ranges",
        "base_half_spread_ticks",
    )
    assert not (tmp_path / "o").exists()


def test_a_trial_with_fewer_fills_than_the_minimum_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        *MAKER, "--trials", "2", "--min-fills", "1000000", "--study", "s", "--out", str(out)
    )
    assert result.exit_code == 1, result.output
    assert "no trial completed" in result.output
    with (out / "trials.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["state"] for row in rows] == ["FAIL", "FAIL"]
    needle = "fewer than the study's minimum of 1000000 (--min-fills)"
    assert all(needle in row["error"] for row in rows)
    document = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert document["min_fills"] == 1_000_000
    # the untuned desk is reported as it is, whatever it traded
    assert document["baseline"]["in_sample"]["fills"] < 1_000_000
    refused(
        invoke(*MAKER, "--trials", "2", "--min-fills", "1", "--study", "s", "--out", str(out)),
        "was created with another minimum of fills (1000000, here 1)",
    )


def test_min_fills_must_not_be_negative(tmp_path: Path) -> None:
    refused(
        invoke(*MAKER, "--trials", "2", "--min-fills", "-1", "--out", str(tmp_path / "o")),
        "--min-fills -1",
    )
