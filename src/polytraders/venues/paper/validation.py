"""Static order checks the paper venue makes when an order reaches it (rules 3.1–3.7 of
:mod:`polytraders.venues.paper`).

Pure functions of the order, the token's metadata and the venue's market state; the checks that
need the book (post-only, FOK) and the balance live in :mod:`.venue` and :mod:`.ledger`.
Sources: ``../shared/POLYMARKET.md`` "Orders" (tick grid, price range, minimum size, GTD, order
kinds) and :func:`polytraders.model.orders.intent_problems` (the same structural rules for
intents).
"""

from __future__ import annotations

from polytraders.model.market import Instrument
from polytraders.model.money import ONE
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.venues.paper import reasons

Rejection = tuple[str, str]
"""(registered reason code, human-readable message)."""


def structural_problem(order: VenueOrder) -> Rejection | None:
    """Rule 3.2: the order is well formed, or the first problem found.

    Well formed: a client order id and token id; positive price; size and notional not
    negative and exactly one of them positive; notional only on a BUY FOK/FAK; post-only only
    with GTC/GTD; ``expire_at_ns > 0`` exactly when GTD.
    """
    if not order.client_order_id or not order.token_id:
        return reasons.INVALID_ORDER, "client_order_id and token_id are required"
    if order.price <= 0:
        return reasons.INVALID_ORDER, f"price must be positive, got {order.price}"
    if order.size < 0 or order.notional < 0:
        return reasons.INVALID_ORDER, "size and notional must not be negative"
    if (order.size > 0) == (order.notional > 0):
        return reasons.INVALID_ORDER, "exactly one of size and notional must be positive"
    is_market = order.time_in_force in (TimeInForce.FOK, TimeInForce.FAK)
    if order.notional > 0 and not (order.side is Side.BUY and is_market):
        return reasons.INVALID_ORDER, "notional sizing is only for BUY FOK/FAK orders"
    if order.post_only and is_market:
        return reasons.INVALID_ORDER, "post-only needs GTC or GTD"
    if (order.time_in_force is TimeInForce.GTD) != (order.expire_at_ns > 0):
        return reasons.INVALID_ORDER, "GTD needs expire_at_ns; other kinds must not set it"
    return None


def price_problem(price: int, tick_size: int) -> Rejection | None:
    """Rules 3.4–3.5: ``price mod tick = 0`` and ``tick ≤ price ≤ 1 − tick`` (micro-units)."""
    if price % tick_size:
        return reasons.INVALID_TICK, f"price {price} is not a multiple of the tick {tick_size}"
    if not tick_size <= price <= ONE - tick_size:
        return (
            reasons.PRICE_OUT_OF_RANGE,
            f"price {price} is outside [{tick_size}, {ONE - tick_size}]",
        )
    return None


def instrument_problem(order: VenueOrder, instrument: Instrument) -> Rejection | None:
    """Rule 12.2: an order on a crypto instrument is sized in base units (no notional sizing:
    ``SYS_VENUE_INVALID_ORDER``), priced positive on the instrument's tick
    (``SYS_VENUE_INVALID_TICK``; no (0, 1) range), sized on its lot step
    (``SYS_VENUE_INVALID_ORDER``) and at least its minimum size (``SYS_VENUE_BELOW_MIN_SIZE``);
    rule 12.4: a reduce-only BUY on a spot instrument is refused (``SYS_VENUE_INVALID_ORDER``, the
    ccxt venue's message: there is no short to reduce on spot)."""
    if order.notional > 0:
        return reasons.INVALID_ORDER, "orders on an instrument are sized in base units"
    if order.reduce_only and order.side is Side.BUY and not instrument.perpetual:
        return reasons.INVALID_ORDER, "reduce-only BUY on spot: there is no short to reduce"
    price = instrument.price_problem(order.price)
    if price is not None:
        return reasons.INVALID_TICK, price
    if order.size % instrument.size_increment:
        return (
            reasons.INVALID_ORDER,
            f"size {order.size} is not a multiple of the lot step {instrument.size_increment}",
        )
    if order.size < instrument.min_size:
        return (
            reasons.BELOW_MIN_SIZE,
            f"size {order.size} is below the minimum {instrument.min_size}",
        )
    return None


def size_problem(order: VenueOrder, min_order_size: int, min_notional: int) -> Rejection | None:
    """Rule 3.6: ``size ≥ min_order_size`` for orders sized in shares; ``notional ≥
    min_notional`` for BUY market orders sized in pUSD (all micro-units)."""
    if order.notional > 0:
        if order.notional < min_notional:
            return (
                reasons.BELOW_MIN_SIZE,
                f"notional {order.notional} is below the minimum {min_notional}",
            )
        return None
    if order.size < min_order_size:
        return reasons.BELOW_MIN_SIZE, f"size {order.size} is below the minimum {min_order_size}"
    return None


def expiry_problem(order: VenueOrder, arrival_ns: int, margin_ns: int) -> Rejection | None:
    """Rule 3.7: a GTD order must stop trading strictly after it reaches the venue:
    ``expire_at_ns − margin_ns > arrival_ns`` (Polymarket's security margin,
    ``../shared/POLYMARKET.md`` "Orders")."""
    if order.time_in_force is TimeInForce.GTD and order.expire_at_ns - margin_ns <= arrival_ns:
        return (
            reasons.INVALID_EXPIRATION,
            f"expiry {order.expire_at_ns} minus the {margin_ns} ns margin is not after "
            f"arrival {arrival_ns}",
        )
    return None
