"""The class attributes every strategy written for one test shares (a strategy bot at version
0.0.1 with a loose runtime budget): a fixture sets ``bot_id``, ``Config``, ``SEARCH_SPACE``
and ``decide``."""

from __future__ import annotations

from typing import TypeVar

from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.modes import BotClass

C = TypeVar("C", bound=BotConfig)


class FixtureStrategy(BotBase[C]):
    """A test's own strategy bot (module docstring)."""

    bot_class = BotClass.STRATEGY
    version = "0.0.1"
    RUNTIME_BUDGET = RuntimeBudget(
        decision_p95_us=1_000,
        decision_p99_us=2_500,
        reject_rate_max_bps=10_000,
        calibration="a test fixture",
    )
