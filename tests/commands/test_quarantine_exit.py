"""A run that ends with a quarantined strategy says why and where, and exits with code 3."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from polytraders.cli import app

runner = CliRunner()

FAULTY = '''from typing import ClassVar

from pydantic import Field

from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import IntParam, SearchSpace


class FaultyConfig(BotConfig):
    """Settings of the faulty strategy."""

    divisor_count: int = Field(0, ge=0, le=10)
    """What the model divides by (a count)."""


class Faulty(BotBase[FaultyConfig]):
    """Raises on its first decision."""

    bot_id = "strat.faulty"
    bot_class = BotClass.STRATEGY
    version = "1.0.0"
    Config = FaultyConfig
    SEARCH_SPACE = SearchSpace(FaultyConfig, IntParam(name="divisor_count", low=0, high=10))
    RUNTIME_BUDGET = RuntimeBudget(decision_p95_us=100, decision_p99_us=500, calibration="a test")
    reason_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config=None, rng=None):
        super().__init__(config)

    def decide(self, event, view):
        return Proposal(reason_codes=(), intents=(1 // self.config.divisor_count,))
'''
RAISING_LINE = (
    FAULTY.splitlines().index(
        "        return Proposal(reason_codes=(), intents=(1 // self.config.divisor_count,))"
    )
    + 1
)


def test_a_strategy_that_raises_ends_the_run_with_exit_code_3_and_its_location(
    tmp_path: Path,
) -> None:
    (tmp_path / "faulty.py").write_text(FAULTY)
    out = tmp_path / "out"
    completed = runner.invoke(
        app,
        [
            "backtest", "--data", "synthetic:normal?seed=3&markets=1",
            "--strategy", f"{tmp_path / 'faulty.py'}:Faulty", "--out", str(out),
        ],
    )  # fmt: skip
    assert completed.exit_code == 3, completed.output
    line = next(ln for ln in completed.output.splitlines() if ln.startswith("QUARANTINED "))
    where = f"faulty.py:{RAISING_LINE}"  # the strategy's own line, not the desk's frame
    assert f"strat.faulty (SYS_BOT_EXCEPTION) at {where}" in line
    assert "ZeroDivisionError: integer division or modulo by zero" in line
    errors = [
        json.loads(row)
        for row in (out / "envelopes.jsonl").read_text().splitlines()
        if '"strat.faulty"' in row and '"ERROR"' in row
    ]
    assert errors and errors[0]["output"]["location"] == where
