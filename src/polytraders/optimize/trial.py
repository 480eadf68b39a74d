"""One trial: a real backtest of the composed desk, scored.

:func:`evaluate` takes a :class:`TrialTask` (plain data, so it crosses process boundaries),
builds the tuned bot's config from the trial's parameters through its ``SEARCH_SPACE``
(:meth:`SearchSpace.build`: the config's hard limits are validated), runs the desk with
:func:`polytraders.backtest.engine.run_desk` (the engine of ``polytraders backtest``) and
applies the score. The outcome is FAILED, never a zero, when the config violates a hard
limit, the run fails, a bot ends in quarantine, the score raises or is not a finite number, or
the run made fewer fills than the task's ``min_fills``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from pydantic import ValidationError

from polytraders.backtest.engine import run_desk
from polytraders.backtest.result import BacktestResult
from polytraders.contracts.search_space import Param
from polytraders.model.money import from_micros
from polytraders.optimize.scores import TimeSpan, load_score
from polytraders.optimize.space import snapped
from polytraders.optimize.tuned_desk import DeskSpec, base_config, locate, with_config
from polytraders.store.records import RunStatus


class TrialTask(msgspec.Struct, frozen=True, kw_only=True):
    """What one trial runs.

    Fields:
        number: the Optuna trial number (-1 for a run outside the study, e.g. the baseline).
        params: parameter name → value (empty: the bot's config in the desk as it is).
        data: the data to run on (a path or synthetic spec).
        desk: the base desk.
        bot_id: the tuned bot.
        score: the score's name or ``module:function`` spec.
        ranges: the study's ranges in place of the bot's own (stepped floats snap to them).
        min_fills: fewer fills than this and the outcome is an error, not a score (0: none).
        out_dir: where the run writes its outputs (None: nothing written).
    """

    number: int
    params: dict[str, Any]
    data: str
    desk: DeskSpec
    bot_id: str
    score: str
    ranges: tuple[Param, ...] = ()
    min_fills: int = 0
    out_dir: str | None = None


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """A scored run: the score and the run's headline figures (money as exact decimal pUSD
    strings, as in ``result.json``)."""

    score: float
    pnl_usd: str
    max_drawdown_usd: str
    sharpe: float
    fees_usd: str
    volume_usd: str
    fills: int
    orders: int
    markets: int
    events: int
    status: str
    status_detail: str
    synthetic: bool
    run_id: str
    envelopes_sha256: str


class TrialOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How a trial ended: ``figures`` when it scored, else ``error`` (one line); ``interrupted``
    when SIGINT/SIGTERM stopped its run (the study stops too)."""

    number: int
    figures: Figures | None = None
    error: str = ""
    interrupted: bool = False


def figures_of(result: BacktestResult, score: float) -> Figures:
    """The headline figures of ``result`` with its ``score``."""
    return Figures(
        score=score,
        pnl_usd=from_micros(result.money.pnl),
        max_drawdown_usd=from_micros(result.max_drawdown),
        sharpe=round(result.sharpe, 6),
        fees_usd=from_micros(result.money.fees),
        volume_usd=from_micros(result.money.volume),
        fills=result.money.fills,
        orders=result.orders,
        markets=result.markets,
        events=result.events,
        status=result.status,
        status_detail=result.status_detail,
        synthetic=result.synthetic,
        run_id=result.run_id,
        envelopes_sha256=result.envelopes_sha256,
    )


def trial_desk(task: TrialTask) -> DeskSpec:
    """The desk ``task`` runs: the base desk with the tuned bot configured from its params
    (stepped floats snapped to their step's decimals, :func:`~polytraders.optimize.space.snapped`).

    Raises:
        pydantic.ValidationError: a value outside the config's hard limits.
        KeyError: a parameter that is not in the bot's search space.
        ValueError: ``task.ranges`` do not fit the bot's space (checked before any trial).
    """
    desk = task.desk.load()
    _, _, cls = locate(desk, task.bot_id)
    space = cls.SEARCH_SPACE.with_ranges(task.ranges)
    params = snapped(space, task.params)
    config = space.build(params, base=base_config(desk, task.bot_id))
    return with_config(task.desk, task.bot_id, config)


def evaluate(task: TrialTask) -> TrialOutcome:
    """Run and score one trial (module docstring).

    Raises:
        RunRefusedError: the data or output folder cannot be used (nothing ran: not a trial
            failure but a refusal of the whole study).
        OSError: the outputs could not be written.
    """
    try:
        spec = trial_desk(task)
    except (ValidationError, KeyError) as exc:
        first = str(exc).replace("\n", " ")
        return TrialOutcome(number=task.number, error=f"violates a hard limit: {first}")
    desk = spec.load()
    outcome = run_desk(
        data=task.data,
        desk_file=desk,
        out_dir=Path(task.out_dir) if task.out_dir is not None else None,
    )
    if outcome.status is RunStatus.INTERRUPTED:
        return TrialOutcome(
            number=task.number, error=f"interrupted by {outcome.exit_signal}", interrupted=True
        )
    if outcome.status is RunStatus.FAILED:
        return TrialOutcome(number=task.number, error=f"run failed: {outcome.status_detail}")
    if outcome.desk_result.quarantined:
        names = ", ".join(
            f"{bot} ({q.failure.code})"
            for bot, q in sorted(outcome.desk_result.quarantined.items())
        )
        return TrialOutcome(number=task.number, error=f"quarantined: {names}")
    result = outcome.result
    try:
        value = load_score(task.score)(
            result=result,
            per_market=result.per_market,
            desk=desk,
            span=TimeSpan(first_event_ns=result.first_event_ns, last_event_ns=result.last_event_ns),
            bot_id=task.bot_id,
        )
    except Exception as exc:  # the score is user code: the trial fails with its error
        return TrialOutcome(number=task.number, error=f"score: {type(exc).__name__}: {exc}")
    if result.money.fills < task.min_fills:
        return TrialOutcome(
            number=task.number,
            error=f"{result.money.fills} fill(s), fewer than the study's minimum of "
            f"{task.min_fills} (--min-fills)",
        )
    return TrialOutcome(number=task.number, figures=figures_of(result, value))
