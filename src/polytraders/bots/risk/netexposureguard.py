"""risk.netexposureguard — cross-strategy net exposure cap per instrument, with same-direction
concurrent-strategy flagging (spec: ``docs/bots/risk.netexposureguard.md``).

Positions are per instrument, not per strategy: every strategy's fills net into one signed
position, so the cap is on what the desk holds and works together. An instrument's worst-case
net notional is ``max(|long|, |short|)`` of :mod:`.crypto` (position at mark plus every
strategy's open orders of one side filling). Each instrument is its own underlying here: the
spot pair and the perpetual of one coin are separate instruments and are not netted.

For a new order (CANCEL, reduce-only → APPROVE; a market token → APPROVE, its exposure is
``risk.exposureguard``'s; an unknown token → REJECT ``RISK_NETEXPOSURE_INPUT_INVALID``):

1. An order that does not raise the instrument's worst-case net → APPROVE.
2. Same direction: when open orders of another strategy (their ``bot_id``) work the order's
   side of the instrument, two or more strategies push the same direction concurrently: the
   decision carries ``RISK_NETEXPOSURE_SAME_DIRECTION`` (a warning, recorded in its envelope).
   Holdings cannot be attributed (one position per instrument), so "concurrent" means working
   orders.
3. The largest notional keeping the worst case within ``max(max_net_notional_micros, now)`` is
   solved exactly (:func:`.crypto.max_fitting_amount`). The order fits → APPROVE (with
   ``RISK_NETEXPOSURE_WARN`` when the worst case after it reaches ``warn_level_pct`` of the
   cap). Otherwise, with ``reshape_to_fit``, it is cut to the largest lot multiple that fits (a
   BUY by notional to the fitting notional) → RESHAPE ``RISK_NETEXPOSURE_RESHAPED``; else, or
   when nothing at or above the minimum size fits, REJECT ``RISK_NETEXPOSURE_CAP``.

A REPLACE is judged without the orders it replaces. No capability.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from polytraders.bots.risk.crypto import (
    fit,
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

CAP = "RISK_NETEXPOSURE_CAP"
RESHAPED = "RISK_NETEXPOSURE_RESHAPED"
WARN = "RISK_NETEXPOSURE_WARN"
SAME_DIRECTION = "RISK_NETEXPOSURE_SAME_DIRECTION"
INPUT_INVALID = "RISK_NETEXPOSURE_INPUT_INVALID"


class NetExposureGuardConfig(BotConfig):
    """The net exposure cap per instrument."""

    max_net_notional_micros: int = Field(default=20_000_000_000, ge=0, le=10**14)
    """Cap on one instrument's worst-case net notional over every strategy (micro-units of the
    quote currency; default 20,000 USDT)."""

    warn_level_pct: int = Field(default=80, ge=10, le=100)
    """Approve with a warning when the worst case after the order reaches this share of the
    cap (%)."""

    reshape_to_fit: bool = True
    """Cut an order that would break the cap down to what fits instead of rejecting it."""


class NetExposureGuard(BotBase[NetExposureGuardConfig]):
    """Net notional per instrument across strategies capped; same-direction strategies flagged."""

    bot_id: ClassVar[str] = "risk.netexposureguard"
    bot_class: ClassVar[BotClass] = BotClass.RISK
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[BotConfig]] = NetExposureGuardConfig
    RUNTIME_BUDGET: ClassVar[RuntimeBudget] = RuntimeBudget(
        decision_p95_us=250,
        decision_p99_us=1000,
        error_rate_max_ppm=1_000,
        reject_rate_min_bps=0,
        reject_rate_max_bps=500,
        calibration=(
            "not calibrated on a run yet (no crypto desk run with this guard on file, "
            "2026-12-07): latency budget set to risk.drawdownguard's (one pass over the "
            "instrument's open orders, integer arithmetic); reject band a ceiling only"
        ),
    )
    SEARCH_SPACE: ClassVar[SearchSpace] = SearchSpace(
        NetExposureGuardConfig,
        IntParam(
            name="max_net_notional_micros", low=1_000_000_000, high=100_000_000_000, step=10**9
        ),
        IntParam(name="warn_level_pct", low=50, high=95, step=5),
    )
    """Tunable levels (``reshape_to_fit`` is a policy choice, not in the space)."""
    reason_codes: ClassVar[frozenset[str]] = frozenset(
        {CAP, RESHAPED, WARN, SAME_DIRECTION, INPUT_INVALID}
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        """APPROVE (possibly flagged), RESHAPE (smaller) or REJECT (module docstring)."""
        if intent.action is IntentAction.CANCEL or intent.reduce_only:
            return APPROVE
        instrument = view.instrument(intent.token_id)
        if instrument is None:
            return APPROVE if view.token(intent.token_id) is not None else _INVALID
        exclude = replaced_intent(intent)
        now = sides(view, intent.token_id, exclude)
        amount = intent_amount(intent)
        after = now.plus(intent.side, amount)
        if after.gross <= now.gross:
            return APPROVE
        codes: tuple[str, ...] = ()
        for order in view.open_orders(intent.token_id):
            if (
                order.side is intent.side
                and order.bot_id != intent.bot_id
                and (not exclude or order.intent_id != exclude)
            ):
                codes = (SAME_DIRECTION,)
                break
        cfg = self.config
        cap = cfg.max_net_notional_micros
        room = max_fitting_amount(now, intent.side, cap)
        if amount <= room:
            if after.gross * 100 >= cap * cfg.warn_level_pct:
                codes += (WARN,)
            return RiskDecision(verdict=Verdict.APPROVE, reason_codes=codes) if codes else APPROVE
        reshaped = fit(intent, instrument, room) if cfg.reshape_to_fit else None
        if reshaped is None:
            return RiskDecision(verdict=Verdict.REJECT, reason_codes=(CAP, *codes))
        return RiskDecision(
            verdict=Verdict.RESHAPE, reason_codes=(RESHAPED, *codes), reshaped=reshaped
        )


_INVALID = RiskDecision(verdict=Verdict.REJECT, reason_codes=(INPUT_INVALID,))
