"""The desk's own trading-state gate (DESIGN.md "The desk": trading state), applied to every
intent before any risk bot sees it and again after the risk chain if the state changed.

Rules, in order (the first that applies decides):

1. A CANCEL intent always passes: withdrawing an order never adds risk, whatever the state.
2. Kill switch tripped → ``SYS_KILL_SWITCH_TRIPPED``.
3. HALTED → ``SYS_TRADING_HALTED`` (nothing but cancels).
4. A reduce-only intent (any state) → ``SYS_REDUCE_ONLY_VIOLATION`` unless
   :func:`is_exposure_reducing` (Polymarket has no reduce-only flag: the desk enforces it).
5. REDUCING → ``SYS_TRADING_REDUCING`` unless :func:`is_exposure_reducing`.

Exposure-reducing uses the complement-aware worst-case loss at resolution of
:mod:`polytraders.model.exposure` (YES and NO held together offset; neg-risk events are one
risk group), measured two ways, and the intent must pass both:

1. *Marginal* (the future cash flows of the trade): with ``base`` = the losses per outcome of
   the intent's market group from our positions and open orders (each open order filling
   adversely; the orders an intent REPLACEs left out) and ``effect`` = the intent's loss per
   outcome if it fills completely (:func:`~polytraders.model.exposure.order_rates`), require
   ``(base + effect).worst ≤ base.worst``. The loss is linear in the filled fraction, so the
   worst case over any partial fill lies at an end point.
2. *Booked* (what the ledger reports: held shares against their cost basis): apply the fill to
   copies of the positions (:meth:`Position.apply_trade`, which releases cost basis at the
   average entry price) and recompute the group's worst-case loss with the open orders; it
   must not exceed the current one, both for the full fill and for the partial fill that
   exactly flattens the token's position (the only kink of this piecewise-linear measure).
   The two measures differ by PnL the trade would realize; requiring both keeps REDUCING
   strict whichever one an operator looks at. A BUY sized by notional counts, here, the
   shares it buys at its limit price.

Since every other open order already counts as filling adversely, several reducing orders
together cannot overshoot. Anything the formulas cannot evaluate (unknown token, a price
outside (0, 1)) does not pass (fail closed).

A crypto instrument (:meth:`DeskView.instrument`) has no resolution: there the intent is
exposure-reducing when it trades against the signed position and, filled completely together
with every open order on its side, cannot take the position through zero: ``size + Σ open
remaining on that side ≤ |position|``. Sized by notional it does not pass (its size is not
known in advance).
"""

from __future__ import annotations

from polytraders.contracts.view import DeskView
from polytraders.model.events import TradingState
from polytraders.model.exposure import (
    ExposureReport,
    UnknownTokenError,
    amount_loss,
    order_rates,
    portfolio_exposure,
)
from polytraders.model.money import MICROS
from polytraders.model.orders import IntentAction, OrderIntent, Side
from polytraders.model.position import Position

KILL_SWITCH = "SYS_KILL_SWITCH_TRIPPED"
HALTED = "SYS_TRADING_HALTED"
REDUCING = "SYS_TRADING_REDUCING"
REDUCE_ONLY = "SYS_REDUCE_ONLY_VIOLATION"


def is_exposure_reducing(intent: OrderIntent, view: DeskView) -> bool:
    """True when ``intent``, filled in any part, cannot raise the worst-case loss of its
    market group (rule in the module docstring). CANCEL intents are reducing by definition."""
    if intent.action is IntentAction.CANCEL:
        return True
    token = view.token(intent.token_id)
    if token is None:
        return view.instrument(intent.token_id) is not None and _reduces_instrument(intent, view)
    market = view.market(token.market_id)
    if market is None or len(market.tokens) < 2:
        return False
    exclude = (
        frozenset({intent.target_intent_id})
        if intent.action is IntentAction.REPLACE
        else frozenset()
    )
    by_notional = intent.notional > 0 and intent.size == 0
    try:
        report = view.exposure(exclude)
        rates = order_rates(
            intent.side, intent.price, market.tokens[0].token_id == intent.token_id, by_notional
        )
    except (UnknownTokenError, ValueError):
        return False
    base = report.group_base(market.market_id)
    effect = amount_loss(rates, intent.notional if by_notional else intent.size)
    if base.plus(effect).worst > base.worst:
        return False
    try:
        return _booked_not_increasing(intent, view, market.market_id, exclude, report)
    except (UnknownTokenError, ValueError):
        return False


def _reduces_instrument(intent: OrderIntent, view: DeskView) -> bool:
    """The instrument rule of the module docstring."""
    if intent.size <= 0:
        return False
    held = view.position(intent.token_id)
    size = held.size if held is not None else 0
    if (intent.side is Side.BUY and size >= 0) or (intent.side is Side.SELL and size <= 0):
        return False
    replaced = intent.target_intent_id if intent.action is IntentAction.REPLACE else None
    working = sum(
        order.remaining_size
        for order in view.open_orders(intent.token_id)
        if order.side is intent.side and order.intent_id != replaced
    )
    return intent.size + working <= abs(size)


def _booked_not_increasing(
    intent: OrderIntent,
    view: DeskView,
    market_id: str,
    exclude: frozenset[str],
    report: ExposureReport,
) -> bool:
    """Rule 2 of the module docstring (booked measure, full and flattening fills)."""
    before = report.group_worst(market_id)
    shares = intent.size or intent.notional * MICROS // intent.price
    held_now = view.position(intent.token_id)
    held_size = held_now.size if held_now is not None else 0
    flatten = -held_size if intent.side is Side.BUY else held_size
    amounts = [shares]
    if 0 < flatten < shares:
        amounts.append(flatten)
    orders = view.open_orders()
    for amount in amounts:
        copies: list[Position] = []
        for position in view.positions():
            copy = Position(position.token_id)
            copy.size, copy.cost_basis = position.size, position.cost_basis
            copies.append(copy)
        target = next((c for c in copies if c.token_id == intent.token_id), None)
        if target is None:
            target = Position(intent.token_id)
            copies.append(target)
        target.apply_trade(intent.side, intent.price, amount)
        after = portfolio_exposure(view.markets(), copies, orders, exclude_intent_ids=exclude)
        if after.group_worst(market_id) > before:
            return False
    return True


_CANCEL = IntentAction.CANCEL
_ACTIVE = TradingState.ACTIVE
_HALTED = TradingState.HALTED


def gate_reason(intent: OrderIntent, view: DeskView) -> str | None:
    """The reason code refusing ``intent`` in the desk's current state, or None if it may
    proceed to the risk chain."""
    if intent.action is _CANCEL:
        return None
    if view.kill_switch_tripped:
        return KILL_SWITCH
    state = view.trading_state
    if state is _ACTIVE and not intent.reduce_only:
        return None
    if state is _HALTED:
        return HALTED
    if is_exposure_reducing(intent, view):
        return None
    return REDUCE_ONLY if intent.reduce_only else REDUCING
