"""Score functions: what a study maximises.

A score is one function with keyword-only arguments, returning a finite float (higher is
better). It declares the keywords it reads, from:

- ``result``: the run's :class:`~polytraders.backtest.result.BacktestResult`;
- ``per_market``: its per-market figures (``result.per_market``, list of
  :class:`~polytraders.backtest.result.MarketResult`);
- ``desk``: the :class:`~polytraders.backtest.desk_file.DeskFile` that ran (the tuned bot's
  trial config in place);
- ``span``: the evaluated data's :class:`TimeSpan`;
- ``bot_id``: the id of the bot being tuned;

or takes them all with ``**kwargs``. Positional parameters and unknown keyword names are
refused when the score is loaded. A trial whose score raises or is not a finite number is a
failed trial, never a zero.

Built-ins (:data:`BUILTIN`), money in pUSD (floats: analytics only):

- ``total_pnl``: the run's PnL after fees.
- ``sharpe``: the run's Sharpe ratio (1-minute equity changes, not annualised).
- ``pnl_drawdown``: PnL minus the largest peak-to-trough drawdown of equity.
- ``risk_guard``: for risk bots: PnL minus :data:`BREACH_COST_PUSD` per breach the risk chain
  let through (an order the venue rejected, or an intent the desk's own gate refused after the
  chain approved it; counted per reason code) minus :data:`REFUSAL_COST_PUSD` per intent the
  tuned bot refused (REJECT or HALT), the price of a refusal that its PnL effect must repay.

A score may set the attribute ``scales_with_markets = True`` when it grows with the number of
markets evaluated (a sum over markets, like PnL): the in-sample / out-of-sample comparison
then compares it per market. Otherwise (ratios such as Sharpe) the two are compared as they
are. The built-ins declare it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from polytraders.backtest.bot_source import BotSourceError, import_target
from polytraders.backtest.result import VENUE_BOT_ID, BacktestResult
from polytraders.model.money import MICROS

SCORE_KEYWORDS = frozenset({"result", "per_market", "desk", "span", "bot_id"})
"""The keywords a score may declare."""
BREACH_COST_PUSD = 1.0
"""``risk_guard``: pUSD subtracted per breach the chain let through."""
REFUSAL_COST_PUSD = 0.05
"""``risk_guard``: pUSD subtracted per intent the tuned bot refused."""
_DESK_BOT_ID = "desk"
_REFUSING = frozenset({"REJECT", "HALT"})


class ScoreError(ValueError):
    """A score that cannot be used (one line: the name and why)."""


class TimeSpan(msgspec.Struct, frozen=True, kw_only=True):
    """The time covered by the evaluated data: first and last event processed (ns since the
    epoch; 0 with no events)."""

    first_event_ns: int
    last_event_ns: int

    @property
    def duration_s(self) -> float:
        """Seconds between the first and last event."""
        return (self.last_event_ns - self.first_event_ns) / 1e9


def _pusd(micros: int) -> float:
    return micros / MICROS


def total_pnl(*, result: BacktestResult) -> float:
    """PnL after fees, pUSD."""
    return _pusd(result.money.pnl)


def sharpe(*, result: BacktestResult) -> float:
    """Sharpe ratio of 1-minute equity changes (not annualised)."""
    return result.sharpe


def pnl_drawdown(*, result: BacktestResult) -> float:
    """PnL after fees minus the largest drawdown, pUSD."""
    return _pusd(result.money.pnl - result.max_drawdown)


def breaches(result: BacktestResult) -> int:
    """Orders the venue rejected plus intents the desk's gate refused after the risk chain
    (refusal rows of bots ``venue`` and ``desk``; an envelope with several codes counts once
    per code)."""
    return sum(r.count for r in result.refusals_by_bot if r.bot_id in (VENUE_BOT_ID, _DESK_BOT_ID))


def refusals_by(result: BacktestResult, bot_id: str) -> int:
    """Intents ``bot_id`` refused: its REJECT and HALT decisions (per reason code)."""
    return sum(
        r.count for r in result.refusals_by_bot if r.bot_id == bot_id and r.decision in _REFUSING
    )


def risk_guard(*, result: BacktestResult, bot_id: str) -> float:
    """PnL − :data:`BREACH_COST_PUSD` × breaches − :data:`REFUSAL_COST_PUSD` × refusals by the
    tuned bot, pUSD (module docstring)."""
    return (
        _pusd(result.money.pnl)
        - BREACH_COST_PUSD * breaches(result)
        - REFUSAL_COST_PUSD * refusals_by(result, bot_id)
    )


total_pnl.scales_with_markets = True  # type: ignore[attr-defined]
pnl_drawdown.scales_with_markets = True  # type: ignore[attr-defined]
risk_guard.scales_with_markets = True  # type: ignore[attr-defined]
sharpe.scales_with_markets = False  # type: ignore[attr-defined]

BUILTIN: Mapping[str, Callable[..., float]] = {
    "total_pnl": total_pnl,
    "sharpe": sharpe,
    "pnl_drawdown": pnl_drawdown,
    "risk_guard": risk_guard,
}
"""The built-in scores by name."""


class Score:
    """A loaded score: its name (a built-in name or the ``module:function`` spec), the
    function, the keywords it takes and whether it scales with the number of markets."""

    def __init__(self, name: str, fn: Callable[..., float]) -> None:
        self.name = name
        self.fn = fn
        self.keywords = _keywords(name, fn)
        self.scales_with_markets = bool(getattr(fn, "scales_with_markets", False))

    def __call__(self, **inputs: Any) -> float:
        """The score of ``inputs`` (every keyword of :data:`SCORE_KEYWORDS`).

        Raises:
            ScoreError: the function returned something other than a finite number.
            Exception: whatever the function raised (the trial then fails).
        """
        value = self.fn(**{k: v for k, v in inputs.items() if k in self.keywords})
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScoreError(f"score {self.name} returned {type(value).__name__}, not a number")
        if not math.isfinite(value):
            raise ScoreError(f"score {self.name} returned {value}")
        return float(value)


def _keywords(name: str, fn: Callable[..., Any]) -> frozenset[str]:
    """The keywords ``fn`` takes (all of them with ``**kwargs``).

    Raises:
        ScoreError: not a function, a positional parameter, or an unknown keyword.
    """
    if not callable(fn):
        raise ScoreError(f"score {name}: not a function")
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as exc:
        raise ScoreError(f"score {name}: no readable signature ({exc})") from exc
    keywords: set[str] = set()
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return SCORE_KEYWORDS
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise ScoreError(
                f"score {name}: parameter {parameter.name!r} must be keyword-only "
                f"(def score(*, result, ...)); keywords: {', '.join(sorted(SCORE_KEYWORDS))}"
            )
        if parameter.name not in SCORE_KEYWORDS:
            raise ScoreError(
                f"score {name}: unknown keyword {parameter.name!r}; "
                f"known: {', '.join(sorted(SCORE_KEYWORDS))}"
            )
        keywords.add(parameter.name)
    return frozenset(keywords)


def load_score(spec: str) -> Score:
    """The score named by ``spec``: a built-in name, ``module:function`` or
    ``FILE.py:function`` (relative to the working folder).

    Raises:
        ScoreError: unknown name, unloadable target, or a function that is not a valid score.
    """
    if spec in BUILTIN:
        return Score(spec, BUILTIN[spec])
    if ":" not in spec:
        raise ScoreError(
            f"--score {spec}: unknown score; built-ins: {', '.join(BUILTIN)} "
            "(or module:function / FILE.py:function)"
        )
    try:
        fn = import_target(spec, kind="function")
    except BotSourceError as exc:
        raise ScoreError(f"--score {exc}") from exc
    return Score(spec, fn)
