"""What the crypto guards share: an intent's notional on an instrument, the worst-case signed
notional of an instrument with our open orders, and the largest part of an intent that fits a
bound (``risk.leverageguard``, ``risk.netexposureguard``; ``risk.marginguard`` and
``risk.fundingguard`` use :func:`reduces_position`).

Units: notionals in micro-units of the quote currency (USDT), sizes in micro-units of the base
asset, prices micro-quote per base unit (:func:`polytraders.model.money.notional_micros`,
floored).

**Worst-case sides.** For an instrument, ``long`` = the position's signed notional at mark
(:meth:`DeskView.instrument_notional`) plus every open BUY's remaining notional at its limit
price, ``short`` = the same minus every open SELL's: what the position becomes if all our orders
of one side fill (each open order filling adversely, as the exposure model counts them). Its
``gross`` is ``max(|long|, |short|)``. An intent adds its notional to its own side. Because
``|long + a|`` is convex in the added amount ``a``, the largest ``a`` keeping the gross within a
bound ``B ≥ gross`` is exact in closed form: ``B − long`` for a BUY, ``B + short`` for a SELL
(:func:`max_fitting_amount`); a partial fill never lands above both end points.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from polytraders.contracts.view import DeskView
from polytraders.model.market import Instrument
from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import IntentAction, OrderIntent, Side


class Sides(NamedTuple):
    """Worst-case signed notionals of one instrument (module docstring), micro-quote."""

    long: int
    short: int

    @property
    def gross(self) -> int:
        """``max(|long|, |short|)``."""
        return max(abs(self.long), abs(self.short))

    def plus(self, side: Side, amount: int) -> Sides:
        """The sides with ``amount`` (micro-quote) more bought (BUY) or sold (SELL)."""
        if side is Side.BUY:
            return Sides(self.long + amount, self.short)
        return Sides(self.long, self.short - amount)


def replaced_intent(intent: OrderIntent) -> str:
    """The intent whose orders ``intent`` withdraws (a REPLACE's target), else ""."""
    return intent.target_intent_id if intent.action is IntentAction.REPLACE else ""


def sides(view: DeskView, token_id: str, exclude_intent_id: str = "") -> Sides:
    """The instrument's worst-case sides with our open orders, those of ``exclude_intent_id``
    left out (an order being replaced)."""
    position = view.instrument_notional(token_id) or 0
    buys = sells = 0
    for order in view.open_orders(token_id):
        if exclude_intent_id and order.intent_id == exclude_intent_id:
            continue
        amount = notional_micros(order.price, order.remaining_size)
        if order.side is Side.BUY:
            buys += amount
        else:
            sells += amount
    return Sides(position + buys, position - sells)


def instrument_tokens(view: DeskView) -> list[str]:
    """Every instrument we hold a position or an open order in, sorted (deterministic)."""
    tokens: set[str] = {p.token_id for p in view.positions() if p.size}
    tokens.update(o.token_id for o in view.open_orders())
    return sorted(t for t in tokens if view.instrument(t) is not None)


def intent_amount(intent: OrderIntent) -> int:
    """The notional the intent adds if it fills completely: size × limit price, or the
    notional of a BUY sized by notional (micro-quote)."""
    return notional_micros(intent.price, intent.size) if intent.size else intent.notional


def max_fitting_amount(current: Sides, side: Side, bound: int) -> int:
    """The largest notional (micro-quote, ≥ 0) an intent on ``side`` may add keeping the
    instrument's gross within ``max(bound, current.gross)`` (exact; module docstring)."""
    limit = max(bound, current.gross)
    return limit - current.long if side is Side.BUY else limit + current.short


def fit(intent: OrderIntent, instrument: Instrument, amount: int) -> OrderIntent | None:
    """``intent`` cut down to add at most ``amount`` (micro-quote): its size rounded down to the
    instrument's lot, at least its minimum size; or its notional for a BUY sized by notional.
    None when nothing positive fits."""
    if intent.size == 0:
        return msgspec.structs.replace(intent, notional=amount) if amount > 0 else None
    lot = instrument.size_increment
    size = amount * MICROS // intent.price // lot * lot
    if size <= 0 or size < instrument.min_size:
        return None
    return msgspec.structs.replace(intent, size=min(size, intent.size))


def reduces_position(intent: OrderIntent, view: DeskView) -> bool:
    """True when the intent can only shrink its instrument position: reduce-only, or against
    the signed position with a size at most its magnitude (a BUY sized by notional never
    counts: its size is unknown)."""
    if intent.reduce_only:
        return True
    held = view.position(intent.token_id)
    size = held.size if held is not None else 0
    if intent.side is Side.SELL:
        return 0 < intent.size <= size
    return 0 < intent.size <= -size


def direction(side: Side) -> int:
    """+1 for BUY (towards long), −1 for SELL."""
    return 1 if side is Side.BUY else -1


def gross_of(view: DeskView, tokens: Iterable[str], exclude_intent_id: str = "") -> int:
    """Σ gross over ``tokens`` (micro-quote)."""
    return sum(sides(view, t, exclude_intent_id).gross for t in tokens)
