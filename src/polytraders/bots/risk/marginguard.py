"""risk.marginguard — margin-ratio soft pause (REDUCING) and hard stop (HALT) for a cross-margin
perpetual account (spec: ``docs/bots/risk.marginguard.md``).

Margin ratio = maintenance margin / margin balance (Binance "What Is Margin Ratio"; the account
is liquidated at 100 %), computed by :mod:`polytraders.model.perp`: each perpetual position's
maintenance margin from its notional at mark (:meth:`DeskView.instrument_notional`) and the
instrument's bracket table (:data:`~polytraders.model.perp.MARGIN_BRACKETS`), summed; the margin
balance is ``view.equity`` (cash + positions at mark: the wallet plus unrealized PnL in the
desk's accounting, cross margin). Spot instruments and market tokens carry no maintenance
margin. Integer comparisons only (:func:`~polytraders.model.perp.margin_ratio_at_least`).

For a new order (CANCEL → APPROVE):

1. A held perpetual with no bracket table, or an unknown token → REJECT
   ``RISK_MARGIN_INPUT_INVALID`` (the ratio cannot be measured: fail closed).
2. Ratio ≥ ``halt_ratio_ppm`` (or a position above the last bracket's cap) → HALT
   ``RISK_MARGIN_HALT``.
3. Ratio ≥ ``reducing_ratio_ppm`` → ask for REDUCING (only while ACTIVE: a HALTED desk is never
   loosened); an order that reduces its instrument position (:func:`.crypto.reduces_position`)
   or is on a market token (the desk's REDUCING gate judges it after the state change) passes
   with ``RISK_MARGIN_WARN``; any other order on an instrument is REJECTed with
   ``RISK_MARGIN_INCREASE_BLOCKED``.
4. An order on a perpetual that does not reduce: the ratio with the order filled completely at
   its limit price (its notional added to the position's at mark, the margin balance unchanged)
   reaching ``reducing_ratio_ppm`` → REJECT ``RISK_MARGIN_PROJECTED``.
5. Otherwise APPROVE.

**Monitor step** (every ``monitor_interval_ms`` of desk time): the same levels without an
intent: HALT ``RISK_MARGIN_HALT``; REDUCE ``RISK_MARGIN_REDUCING``; a held perpetual without
a bracket table → REDUCE ``RISK_MARGIN_INPUT_INVALID``; otherwise None.

Capabilities: REDUCE and HALT (its HALT does not trip the kill switch).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from polytraders.bots.risk.crypto import direction, instrument_tokens, reduces_position
from polytraders.contracts.authority import Capability
from polytraders.contracts.bot import BotBase, MonitorConfig
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import (
    APPROVE,
    MonitorAction,
    MonitorDecision,
    RiskDecision,
    Verdict,
)
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import IntParam, SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.events import TradingState
from polytraders.model.money import notional_micros
from polytraders.model.orders import IntentAction, OrderIntent
from polytraders.model.perp import MARGIN_BRACKETS, maintenance_margin, margin_ratio_at_least

HALT = "RISK_MARGIN_HALT"
WARN = "RISK_MARGIN_WARN"
INCREASE_BLOCKED = "RISK_MARGIN_INCREASE_BLOCKED"
PROJECTED = "RISK_MARGIN_PROJECTED"
REDUCING = "RISK_MARGIN_REDUCING"
INPUT_INVALID = "RISK_MARGIN_INPUT_INVALID"


class MarginGuardConfig(MonitorConfig):
    """Margin-ratio levels, and how often the monitor step runs."""

    monitor_interval_ms: int = Field(default=1_000, ge=0, le=3_600_000)
    """Run the monitor step every this many ms of desk time (simulated or live clock); 0 never
    runs it (the guard then acts only on intents)."""

    reducing_ratio_ppm: int = Field(default=500_000, ge=10_000, le=950_000)
    """Soft pause: enter REDUCING when maintenance margin / margin balance reaches this (ppm;
    500,000 = 50 %)."""

    halt_ratio_ppm: int = Field(default=800_000, ge=20_000, le=990_000)
    """Hard stop: HALT when the margin ratio reaches this (ppm; 800,000 = 80 %; the venue
    liquidates at 1,000,000)."""

    @model_validator(mode="after")
    def _soft_below_hard(self) -> MarginGuardConfig:
        if self.reducing_ratio_ppm >= self.halt_ratio_ppm:
            raise ValueError("reducing_ratio_ppm must be below halt_ratio_ppm")
        return self


class _Account:
    """Maintenance margin of the held perpetuals; ``problem`` names a missing bracket table,
    ``beyond`` a notional above the last bracket's cap."""

    __slots__ = ("beyond", "maintenance", "problem")

    def __init__(self, view: DeskView) -> None:
        self.maintenance = 0
        self.problem = False
        self.beyond = False
        for token_id in instrument_tokens(view):
            instrument = view.instrument(token_id)
            notional = view.instrument_notional(token_id) or 0
            if instrument is None or not instrument.perpetual or not notional:
                continue
            brackets = MARGIN_BRACKETS.get(token_id)
            if brackets is None:
                self.problem = True
                continue
            try:
                self.maintenance += maintenance_margin(abs(notional), brackets)
            except ValueError:  # above the last cap: Binance refuses such a position
                self.beyond = True


class MarginGuard(BotBase[MarginGuardConfig]):
    """Margin ratio: REDUCING at the soft level, HALT at the hard level."""

    bot_id: ClassVar[str] = "risk.marginguard"
    bot_class: ClassVar[BotClass] = BotClass.RISK
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[BotConfig]] = MarginGuardConfig
    RUNTIME_BUDGET: ClassVar[RuntimeBudget] = RuntimeBudget(
        decision_p95_us=250,
        decision_p99_us=1000,
        error_rate_max_ppm=1_000,
        reject_rate_min_bps=0,
        reject_rate_max_bps=500,
        calibration=(
            "not calibrated on a run yet (no crypto desk run with this guard on file, "
            "2026-12-07): latency budget set to risk.drawdownguard's (one pass over the "
            "instruments held, integer arithmetic); reject band a ceiling only"
        ),
    )
    SEARCH_SPACE: ClassVar[SearchSpace] = SearchSpace(
        MarginGuardConfig,
        IntParam(name="reducing_ratio_ppm", low=200_000, high=700_000, step=50_000),
        IntParam(name="halt_ratio_ppm", low=750_000, high=950_000, step=50_000),
    )
    """Tunable levels (``monitor_interval_ms`` is an operating choice, not in the space)."""
    reason_codes: ClassVar[frozenset[str]] = frozenset(
        {HALT, WARN, INCREASE_BLOCKED, PROJECTED, REDUCING, INPUT_INVALID}
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REDUCE, Capability.HALT})

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        """HALT, REJECT/APPROVE with a REDUCING request, or APPROVE (module docstring)."""
        if intent.action is IntentAction.CANCEL:
            return APPROVE
        instrument = view.instrument(intent.token_id)
        if instrument is None and view.token(intent.token_id) is None:
            return _INVALID
        account = _Account(view)
        if account.problem:
            return _INVALID
        cfg = self.config
        equity = view.equity
        if account.beyond or (
            account.maintenance
            and margin_ratio_at_least(account.maintenance, equity, cfg.halt_ratio_ppm)
        ):
            return _HALT
        reducing = instrument is not None and reduces_position(intent, view)
        if account.maintenance and margin_ratio_at_least(
            account.maintenance, equity, cfg.reducing_ratio_ppm
        ):
            request = TradingState.REDUCING if view.trading_state is TradingState.ACTIVE else None
            if instrument is None or reducing:
                return RiskDecision(
                    verdict=Verdict.APPROVE, reason_codes=(WARN,), set_state=request
                )
            return RiskDecision(
                verdict=Verdict.REJECT, reason_codes=(INCREASE_BLOCKED,), set_state=request
            )
        if instrument is None or not instrument.perpetual or reducing:
            return APPROVE
        brackets = MARGIN_BRACKETS.get(intent.token_id)
        if brackets is None:
            return _INVALID
        held = view.instrument_notional(intent.token_id) or 0
        added = notional_micros(intent.price, intent.size) if intent.size else intent.notional
        projected = abs(held + direction(intent.side) * added)
        try:
            before = maintenance_margin(abs(held), brackets)
            after = account.maintenance - before + maintenance_margin(projected, brackets)
        except ValueError:  # the order would take the position above the last cap
            return _PROJECTED
        if margin_ratio_at_least(after, equity, cfg.reducing_ratio_ppm):
            return _PROJECTED
        return APPROVE

    def monitor(self, view: DeskView, /) -> MonitorDecision | None:
        """HALT at the hard level, REDUCE at the soft level or without brackets, else None."""
        account = _Account(view)
        cfg = self.config
        equity = view.equity
        if account.beyond or (
            account.maintenance
            and margin_ratio_at_least(account.maintenance, equity, cfg.halt_ratio_ppm)
        ):
            return _MONITOR_HALT
        if account.problem:
            return _MONITOR_INVALID
        if account.maintenance and margin_ratio_at_least(
            account.maintenance, equity, cfg.reducing_ratio_ppm
        ):
            return _MONITOR_REDUCE
        return None


_HALT = RiskDecision(verdict=Verdict.HALT, reason_codes=(HALT,), set_state=TradingState.HALTED)
_INVALID = RiskDecision(verdict=Verdict.REJECT, reason_codes=(INPUT_INVALID,))
_PROJECTED = RiskDecision(verdict=Verdict.REJECT, reason_codes=(PROJECTED,))
_MONITOR_HALT = MonitorDecision(action=MonitorAction.HALT, reason_codes=(HALT,))
_MONITOR_REDUCE = MonitorDecision(action=MonitorAction.REDUCE, reason_codes=(REDUCING,))
_MONITOR_INVALID = MonitorDecision(action=MonitorAction.REDUCE, reason_codes=(INPUT_INVALID,))
