"""risk.leverageguard — cross-margin leverage cap on crypto instruments (spec:
``docs/bots/risk.leverageguard.md``).

Effective leverage = Σ gross notional of every instrument / equity (cross margin: one equity
backs every position; DESIGN.md "The desk"), where an instrument's gross is the worst case of
its position at mark and our open orders of one side filling (:mod:`.crypto`). For a new order
on an instrument, with ``E`` = ``view.equity`` (micro-quote) and the cap ``max_leverage_ppm``:

1. CANCEL, reduce-only → APPROVE. A market token (Polymarket: every share is paid in full, so
   it adds no leverage) → APPROVE. An unknown token → REJECT ``RISK_LEVERAGE_INPUT_INVALID``.
2. An order that does not raise its instrument's gross (it only reduces the position) →
   APPROVE, whatever the leverage (reducing intents always pass).
3. ``E ≤ 0`` → REJECT ``RISK_LEVERAGE_INPUT_INVALID`` (leverage unbounded).
4. Bound for this instrument ``B = ⌊cap × E / 10⁶⌋ − Σ gross of the other instruments``; the
   largest notional that keeps its gross within ``max(B, gross now)`` is solved exactly
   (:func:`.crypto.max_fitting_amount`). The order fits → APPROVE, with
   ``RISK_LEVERAGE_WARN`` when leverage after it is at or above ``warn_level_pct`` of the cap.
5. It does not fit: with ``reshape_to_fit`` it is cut to the largest lot multiple that fits (at
   least the instrument's minimum size; a BUY by notional to the fitting notional) → RESHAPE
   ``RISK_LEVERAGE_RESHAPED``; else, or when nothing fits, REJECT ``RISK_LEVERAGE_CAP``.

A REPLACE is judged without the orders it replaces. No capability: it never changes the
desk's trading state.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from polytraders.bots.risk.crypto import (
    fit,
    gross_of,
    instrument_tokens,
    intent_amount,
    max_fitting_amount,
    replaced_intent,
    sides,
)
from polytraders.contracts.authority import Capability
from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import APPROVE, RiskDecision, Verdict
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import IntParam, SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.orders import IntentAction, OrderIntent

CAP = "RISK_LEVERAGE_CAP"
RESHAPED = "RISK_LEVERAGE_RESHAPED"
WARN = "RISK_LEVERAGE_WARN"
INPUT_INVALID = "RISK_LEVERAGE_INPUT_INVALID"
PPM = 1_000_000


class LeverageGuardConfig(BotConfig):
    """The leverage cap."""

    max_leverage_ppm: int = Field(default=3_000_000, ge=100_000, le=125_000_000)
    """Cap on effective leverage, gross notional / equity (ppm of 1×; 3,000,000 = 3×; Binance
    USDⓈ-M allows up to 125×)."""

    warn_level_pct: int = Field(default=80, ge=10, le=100)
    """Approve with a warning when leverage after the order reaches this share of the cap (%)."""

    reshape_to_fit: bool = True
    """Cut an order that would break the cap down to what fits instead of rejecting it."""


class LeverageGuard(BotBase[LeverageGuardConfig]):
    """Effective leverage over all instruments capped; reshapes or rejects what breaks it."""

    bot_id: ClassVar[str] = "risk.leverageguard"
    bot_class: ClassVar[BotClass] = BotClass.RISK
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[BotConfig]] = LeverageGuardConfig
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
        LeverageGuardConfig,
        IntParam(name="max_leverage_ppm", low=1_000_000, high=10_000_000, step=500_000),
        IntParam(name="warn_level_pct", low=50, high=95, step=5),
    )
    """Tunable levels (``reshape_to_fit`` is a policy choice, not in the space)."""
    reason_codes: ClassVar[frozenset[str]] = frozenset({CAP, RESHAPED, WARN, INPUT_INVALID})
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        """APPROVE, RESHAPE (smaller) or REJECT (module docstring)."""
        if intent.action is IntentAction.CANCEL or intent.reduce_only:
            return APPROVE
        instrument = view.instrument(intent.token_id)
        if instrument is None:
            return APPROVE if view.token(intent.token_id) is not None else _INVALID
        exclude = replaced_intent(intent)
        mine = sides(view, intent.token_id, exclude)
        amount = intent_amount(intent)
        after = mine.plus(intent.side, amount)
        if after.gross <= mine.gross:
            return APPROVE
        equity = view.equity
        if equity <= 0:
            return _INVALID
        cfg = self.config
        others = gross_of(view, (t for t in instrument_tokens(view) if t != intent.token_id))
        bound = cfg.max_leverage_ppm * equity // PPM - others
        room = max_fitting_amount(mine, intent.side, bound)
        if amount <= room:
            total_scaled = (others + after.gross) * PPM * 100
            if total_scaled >= cfg.max_leverage_ppm * equity * cfg.warn_level_pct:
                return _WARN
            return APPROVE
        reshaped = fit(intent, instrument, room) if cfg.reshape_to_fit else None
        if reshaped is None:
            return _CAP
        return RiskDecision(verdict=Verdict.RESHAPE, reason_codes=(RESHAPED,), reshaped=reshaped)


_INVALID = RiskDecision(verdict=Verdict.REJECT, reason_codes=(INPUT_INVALID,))
_CAP = RiskDecision(verdict=Verdict.REJECT, reason_codes=(CAP,))
_WARN = RiskDecision(verdict=Verdict.APPROVE, reason_codes=(WARN,))
