"""Score functions: the built-ins' definitions on a real (synthetic) run, and what a user's
score may and may not be."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.backtest.result import BacktestResult, RefusalCount
from polytraders.optimize.scores import (
    BREACH_COST_PUSD,
    BUILTIN,
    REFUSAL_COST_PUSD,
    SCORE_KEYWORDS,
    ScoreError,
    TimeSpan,
    load_score,
)


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    """The default desk on the tick-size-change fixture: fills, guard rejections and venue
    rejections all happen."""
    return run_desk(
        data="synthetic:tick_size_change?seed=7&markets=2&duration_s=300", desk_file=DeskFile()
    ).result


def _inputs(result: BacktestResult, bot_id: str = "risk.markethaltguard") -> dict[str, object]:
    return {
        "result": result,
        "per_market": result.per_market,
        "desk": DeskFile(),
        "span": TimeSpan(first_event_ns=result.first_event_ns, last_event_ns=result.last_event_ns),
        "bot_id": bot_id,
    }


def test_the_built_ins(result: BacktestResult) -> None:
    inputs = _inputs(result)
    pnl = result.money.pnl / 1e6
    assert load_score("total_pnl")(**inputs) == pnl
    assert load_score("sharpe")(**inputs) == result.sharpe
    assert load_score("pnl_drawdown")(**inputs) == (result.money.pnl - result.max_drawdown) / 1e6
    guard_refusals = sum(
        r.count
        for r in result.refusals_by_bot
        if r.bot_id == "risk.markethaltguard" and r.decision == "REJECT"
    )
    venue = sum(r.count for r in result.refusals_by_bot if r.bot_id == "venue")
    assert guard_refusals > 0
    assert venue > 0
    assert load_score("risk_guard")(**inputs) == pytest.approx(
        pnl - BREACH_COST_PUSD * venue - REFUSAL_COST_PUSD * guard_refusals
    )
    assert {name for name, fn in BUILTIN.items() if fn.scales_with_markets} == {  # type: ignore[attr-defined]
        "total_pnl",
        "pnl_drawdown",
        "risk_guard",
    }


def test_breaches_count_the_desk_gate_and_the_venue_only(result: BacktestResult) -> None:
    desk_refusal = RefusalCount(
        bot_id="desk",
        bot_class="risk",
        mode="ENFORCED",
        decision="REJECT",
        reason_code="SYS_REDUCE_ONLY_VIOLATION",
        count=3,
    )
    result.refusals_by_bot.append(desk_refusal)
    try:
        with_desk = load_score("risk_guard")(**_inputs(result, "risk.killswitch"))
    finally:
        result.refusals_by_bot.remove(desk_refusal)
    without = load_score("risk_guard")(**_inputs(result, "risk.killswitch"))
    assert without - with_desk == pytest.approx(3 * BREACH_COST_PUSD)


def test_a_user_score_takes_only_the_keywords_it_declares(
    tmp_path: Path, result: BacktestResult
) -> None:
    (tmp_path / "scores.py").write_text(
        "def fills(*, per_market, span):\n"
        "    return sum(m.money.fills for m in per_market) / max(span.duration_s, 1)\n"
        "def everything(**inputs):\n"
        "    return float(len(inputs))\n"
    )
    fills = load_score(f"{tmp_path / 'scores.py'}:fills")
    assert fills.keywords == {"per_market", "span"}
    assert not fills.scales_with_markets
    assert fills(**_inputs(result)) > 0
    everything = load_score(f"{tmp_path / 'scores.py'}:everything")
    assert everything(**_inputs(result)) == len(SCORE_KEYWORDS)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def s(result):\n    return 1.0\n", "'result' must be keyword-only"),
        ("def s(*, result, profit):\n    return 1.0\n", "unknown keyword 'profit'"),
        ("s = 3\n", "not a function"),
    ],
)
def test_scores_that_are_refused(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "bad.py").write_text(source)
    with pytest.raises(ScoreError, match=message):
        load_score(f"{tmp_path / 'bad.py'}:s")


def test_unknown_names_and_missing_functions(tmp_path: Path) -> None:
    with pytest.raises(ScoreError, match="unknown score"):
        load_score("best_pnl")
    (tmp_path / "empty.py").write_text("")
    with pytest.raises(ScoreError, match="no function 'missing'"):
        load_score(f"{tmp_path / 'empty.py'}:missing")
