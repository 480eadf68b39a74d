"""risk.fundingguard — funding-rate hard stop and funding cost against edge on perpetuals (spec:
``docs/bots/risk.fundingguard.md``).

The rate is ``view.funding_rate_ppb(token)`` (the last ``FundingRate`` event: Binance
``lastFundingRate``, ppb, positive → longs pay shorts, negative → shorts pay longs;
:func:`polytraders.model.perp.funding_payment`). The *paying side* is long when the rate is
positive and short when negative; an order *pays* when it buys with a positive rate or sells
with a negative one.

For a new order (CANCEL → APPROVE; spot instruments and market tokens have no funding →
APPROVE; an unknown token → REJECT ``RISK_FUNDING_INPUT_INVALID``), on a perpetual:

1. No funding rate known → REJECT ``RISK_FUNDING_MISSING`` (fail closed).
2. An order that reduces the position (:func:`.crypto.reduces_position`) → APPROVE; with
   ``RISK_FUNDING_REDUCING`` and a REDUCING request (only while ACTIVE) when ``|rate| ≥
   reducing_rate_ppb`` and the position is on the paying side.
3. An order that pays, ``|rate| ≥ reducing_rate_ppb`` → REJECT ``RISK_FUNDING_PAYING_BLOCKED``
   (with a REDUCING request when the position is already on the paying side).
4. Funding cost against edge. The order carries no edge (:class:`OrderIntent` has no such
   field), so the edge is the configured ``assumed_edge_bps`` of notional: an order that pays
   is refused when the funding over ``holding_period_ms`` — ``|rate| × n`` with ``n`` =
   ``⌈holding_period_ms / 8 h⌉`` funding times (Binance USDⓈ-M funds every 8 h) — exceeds
   ``max_funding_share_pct`` of that edge: ``|rate| × n × 100 > assumed_edge_bps × 10⁵ ×
   max_funding_share_pct`` (ppb; 1 bp = 10⁵ ppb) → REJECT ``RISK_FUNDING_COST_OVER_EDGE``.
5. Otherwise APPROVE (an order on the receiving side earns the funding).

**Monitor step** (every ``monitor_interval_ms``): for each perpetual we hold (sorted by token):
no rate → REDUCE ``RISK_FUNDING_MISSING``; position on the paying side with ``|rate| ≥
reducing_rate_ppb`` → REDUCE ``RISK_FUNDING_REDUCING``; otherwise None.

Capability: REDUCE (it never halts).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

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
from polytraders.model.orders import IntentAction, OrderIntent
from polytraders.model.perp import FUNDING_PERIOD_MS

MISSING = "RISK_FUNDING_MISSING"
REDUCING = "RISK_FUNDING_REDUCING"
PAYING_BLOCKED = "RISK_FUNDING_PAYING_BLOCKED"
COST_OVER_EDGE = "RISK_FUNDING_COST_OVER_EDGE"
INPUT_INVALID = "RISK_FUNDING_INPUT_INVALID"
PPB_PER_BPS = 100_000


class FundingGuardConfig(MonitorConfig):
    """Funding-rate levels, the edge assumption, and how often the monitor step runs."""

    monitor_interval_ms: int = Field(default=1_000, ge=0, le=3_600_000)
    """Run the monitor step every this many ms of desk time; 0 never runs it."""

    reducing_rate_ppb: int = Field(default=750_000, ge=10_000, le=30_000_000)
    """Hard stop: at or above this |funding rate| per funding interval (ppb; 750,000 = 0.075 %
    per 8 h) the paying side may only reduce and a held paying position puts the desk in
    REDUCING. Binance's BTCUSDT rate is usually 100,000 (0.01 %)."""

    holding_period_ms: int = Field(default=86_400_000, ge=0, le=30 * 86_400_000)
    """Expected holding period of a new position (ms; 24 h = 3 funding times)."""

    assumed_edge_bps: int = Field(default=20, ge=1, le=10_000)
    """Edge assumed for every new order, as the order carries none (bps of notional)."""

    max_funding_share_pct: int = Field(default=50, ge=1, le=100)
    """Refuse a paying order whose funding over the holding period exceeds this share of the
    edge (%)."""


class FundingGuard(BotBase[FundingGuardConfig]):
    """Funding rate: paying side reduce-only above the threshold, funding cost within edge."""

    bot_id: ClassVar[str] = "risk.fundingguard"
    bot_class: ClassVar[BotClass] = BotClass.RISK
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[BotConfig]] = FundingGuardConfig
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
        FundingGuardConfig,
        IntParam(name="reducing_rate_ppb", low=100_000, high=3_000_000, step=50_000),
        IntParam(name="max_funding_share_pct", low=10, high=100, step=10),
    )
    """Tunable levels (the holding period and edge are modelling assumptions, the monitor
    interval an operating choice: not in the space)."""
    reason_codes: ClassVar[frozenset[str]] = frozenset(
        {MISSING, REDUCING, PAYING_BLOCKED, COST_OVER_EDGE, INPUT_INVALID}
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REDUCE})

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        """APPROVE, REJECT, or APPROVE/REJECT with a REDUCING request (module docstring)."""
        if intent.action is IntentAction.CANCEL:
            return APPROVE
        instrument = view.instrument(intent.token_id)
        if instrument is None:
            return APPROVE if view.token(intent.token_id) is not None else _INVALID
        if not instrument.perpetual:
            return APPROVE
        rate = view.funding_rate_ppb(intent.token_id)
        if rate is None:
            return _MISSING
        cfg = self.config
        over = abs(rate) >= cfg.reducing_rate_ppb
        held = view.position(intent.token_id)
        size = held.size if held is not None else 0
        holds_paying = size * rate > 0
        request = (
            TradingState.REDUCING
            if over and holds_paying and view.trading_state is TradingState.ACTIVE
            else None
        )
        if reduces_position(intent, view):
            if over and holds_paying:
                return RiskDecision(
                    verdict=Verdict.APPROVE, reason_codes=(REDUCING,), set_state=request
                )
            return APPROVE
        if direction(intent.side) * rate <= 0:  # receives funding (or none is due)
            return APPROVE
        if over:
            return RiskDecision(
                verdict=Verdict.REJECT, reason_codes=(PAYING_BLOCKED,), set_state=request
            )
        periods = -(-cfg.holding_period_ms // FUNDING_PERIOD_MS)
        edge_ppb = cfg.assumed_edge_bps * PPB_PER_BPS
        if abs(rate) * periods * 100 > edge_ppb * cfg.max_funding_share_pct:
            return _COST
        return APPROVE

    def monitor(self, view: DeskView, /) -> MonitorDecision | None:
        """REDUCE when a held perpetual has no rate or pays above the threshold, else None."""
        threshold = self.config.reducing_rate_ppb
        for token_id in instrument_tokens(view):
            instrument = view.instrument(token_id)
            held = view.position(token_id)
            if instrument is None or not instrument.perpetual or held is None or not held.size:
                continue
            rate = view.funding_rate_ppb(token_id)
            if rate is None:
                return _MONITOR_MISSING
            if held.size * rate > 0 and abs(rate) >= threshold:
                return _MONITOR_REDUCE
        return None


_INVALID = RiskDecision(verdict=Verdict.REJECT, reason_codes=(INPUT_INVALID,))
_MISSING = RiskDecision(verdict=Verdict.REJECT, reason_codes=(MISSING,))
_COST = RiskDecision(verdict=Verdict.REJECT, reason_codes=(COST_OVER_EDGE,))
_MONITOR_MISSING = MonitorDecision(action=MonitorAction.REDUCE, reason_codes=(MISSING,))
_MONITOR_REDUCE = MonitorDecision(action=MonitorAction.REDUCE, reason_codes=(REDUCING,))
