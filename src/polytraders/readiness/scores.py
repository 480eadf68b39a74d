"""The four scores of a bot, each computed once per evaluation (cached in the context)."""

from __future__ import annotations

from collections.abc import Callable

from polytraders.readiness.backtest_score import backtest_score
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.docs_score import docs_score
from polytraders.readiness.evidence import Score, ScoreName
from polytraders.readiness.impl_score import impl_score
from polytraders.readiness.runtime_score import runtime_score

SCORERS: dict[ScoreName, Callable[[str, ReadinessContext], Score]] = {
    ScoreName.DOCS: docs_score,
    ScoreName.IMPL: impl_score,
    ScoreName.RUNTIME: runtime_score,
    ScoreName.BACKTEST: backtest_score,
}
"""Each score's function (seed 002's four checklists)."""


def bot_score(bot_id: str, name: ScoreName, ctx: ReadinessContext) -> Score:
    """``bot_id``'s score ``name``, computed once per context."""
    key = ("score", bot_id, name)
    cached = ctx.cache.get(key)
    if cached is None:
        cached = SCORERS[name](bot_id, ctx)
        ctx.cache[key] = cached
    score: Score = cached
    return score


def all_scores(bot_id: str, ctx: ReadinessContext) -> dict[ScoreName, Score]:
    """The four scores of ``bot_id`` in seed 002's order (Docs, Impl, Runtime, Backtest)."""
    return {name: bot_score(bot_id, name, ctx) for name in ScoreName}
