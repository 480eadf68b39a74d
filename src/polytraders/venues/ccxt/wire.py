"""Binance order requests and answers as ccxt carries them: our orders → ``create_order``
arguments, ``info`` dicts → fills, order reports and positions (exact, :mod:`.convert`).

Client order ids: Binance accepts ``newClientOrderId`` matching ``^[.A-Z:/a-z0-9_-]{1,36}$``.
Our ids (``run-<16 hex>/i<n>/o<leg>``, :func:`polytraders.contracts.ids.client_order_id`) fit
up to sequence numbers of 12 digits and are sent unchanged, so a listing names them directly;
any other id is sent as ``pt-`` + 32 hex digits of its SHA-256 (deterministic: the same order
always gets the same wire id, so a re-sent order is refused as a duplicate by the exchange),
and only a venue that knows the order (submitted, or restored from the store) maps it back.

Order kinds: GTC → ``LIMIT`` GTC; post-only → on perpetuals ``LIMIT`` ``timeInForce=GTX``
(refused with -5022 instead of taking), on spot ccxt's ``postOnly`` (``LIMIT_MAKER``, no
``timeInForce``: refused with -2010 "Order would immediately match and take."); FAK →
``LIMIT`` IOC at the order's price (a price-protected market order), or ``MARKET`` when the
price is 0; FOK → ``LIMIT`` FOK; reduce-only → ``reduceOnly`` on perpetuals. Spot has no
``reduceOnly``: a reduce-only SELL is sent as a plain SELL (a spot account cannot hold less than
nothing, so the exchange refuses selling more than the free balance with -2010, and the desk
caps the order at its position: ``desk.unwind.unwind_plan_problem`` and its reduce-only
rules), which lets the kill switch's unwind sell a spot holding; a reduce-only BUY is refused
before anything is sent (there is no short to reduce on spot). GTD and notional-sized orders
are refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.venues.ccxt.convert import (
    CcxtMarket,
    ConversionError,
    base_fee_micros,
    exact,
    fee_micros,
    grid_text,
    ms_to_ns,
    side_of,
)
from polytraders.venues.reports import OrderStatusReport

_WIRE_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
"""Binance order statuses of an order that may still fill."""
CLOSED_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})


def wire_client_id(client_order_id: str) -> str:
    """The ``newClientOrderId`` sent for ``client_order_id`` (module docstring)."""
    if _WIRE_ID.fullmatch(client_order_id):
        return client_order_id
    return "pt-" + hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``create_order`` arguments: ccxt ``type`` (``limit``/``market``), ``side``
    (``buy``/``sell``), exact ``amount`` and ``price`` text (``None`` for market) and the
    Binance ``params``."""

    order_type: str
    side: str
    amount: str
    price: str | None
    params: dict[str, Any]


class UnsupportedOrderError(ValueError):
    """An order kind this venue does not send (GTD, notional-sized, a reduce-only BUY on spot)."""


def order_request(order: VenueOrder, market: CcxtMarket, *, perp: bool) -> OrderRequest:
    """The request for ``order`` (module docstring).

    Raises:
        OffGridError: price or size off the instrument's grid (or not positive).
        UnsupportedOrderError: GTD, a notional size, post-only with FOK/FAK, a reduce-only BUY
            on spot (a reduce-only SELL on spot is sent without ``reduceOnly``).
    """
    inst = market.instrument
    if order.notional or order.time_in_force is TimeInForce.GTD:
        raise UnsupportedOrderError("GTD and notional-sized orders are not supported")
    if order.post_only and not order.time_in_force.rests:
        raise UnsupportedOrderError("post-only needs GTC")
    if order.reduce_only and not perp and order.side is Side.BUY:
        raise UnsupportedOrderError("reduce-only BUY on spot: there is no short to reduce")
    amount = grid_text(order.size, inst.size_increment, "size")
    params: dict[str, Any] = {"newClientOrderId": wire_client_id(order.client_order_id)}
    if order.reduce_only and perp:
        params["reduceOnly"] = True
    if order.time_in_force is TimeInForce.FAK and order.price == 0:
        return OrderRequest(
            order_type="market", side=order.side.lower(), amount=amount, price=None, params=params
        )
    if order.post_only and not perp:
        params["postOnly"] = True
    else:
        params["timeInForce"] = {
            TimeInForce.GTC: "GTX" if order.post_only else "GTC",
            TimeInForce.FAK: "IOC",
            TimeInForce.FOK: "FOK",
        }[order.time_in_force]
    return OrderRequest(
        order_type="limit",
        side=order.side.lower(),
        amount=amount,
        price=grid_text(order.price, inst.price_increment, "price"),
        params=params,
    )


def fill_id(market: CcxtMarket, trade_id: int) -> str:
    """Deterministic fill id of an exchange trade: ``<token id>/t<trade id>`` (Binance trade
    ids are unique per symbol)."""
    return f"{market.token_id}/t{trade_id}"


def trade_id_of(info: Mapping[str, Any]) -> int:
    """The trade's exchange id.

    Raises:
        ConversionError: missing or not an integer.
    """
    value = info.get("id")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConversionError(f"id: expected a trade id, got {value!r}")
    return value


def venue_order_id_of(info: Mapping[str, Any]) -> str:
    """The exchange's order id as text.

    Raises:
        ConversionError: missing.
    """
    value = info.get("orderId")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise ConversionError(f"orderId: expected an order id, got {value!r}")
    return str(value)


def fill_of(
    info: Mapping[str, Any], market: CcxtMarket, client_order_id: str, ts_recv_ns: int
) -> Fill:
    """Our fill from one ``userTrades``/``myTrades`` entry: price ``price``, size ``qty``,
    MAKER when ``maker`` (``isMaker`` on spot), time ``time``, and the commission:

    * in the quote asset: ``fee`` = ``commission`` rounded up to a micro-unit, ``fee_size`` 0;
    * in the base asset (a Binance spot BUY: the exchange credits ``qty − commission``):
      ``fee_size`` = ``commission`` in micro-units of the base, rounded **up** when Binance's
      8 decimals go finer (:func:`.convert.fee_micros`, as every commission: the position
      ``qty − fee_size`` never exceeds what the exchange credited; the part below a
      micro-unit stays at the exchange as dust the desk does not count), and ``fee`` its
      value in the quote at the trade's price (:func:`.convert.base_fee_micros`, reported,
      not charged to cash).

    Raises:
        ConversionError: a field missing or inexact, the commission in another asset, or a
            SELL whose commission is in the base asset (spot charges a sell in the quote it
            receives; a base commission there would shrink a position ``Fill`` cannot
            express).
    """
    side = side_of(info)
    asset = info.get("commissionAsset")
    fee_size = 0
    if asset == market.quote:
        fee = fee_micros(info)
    elif market.base and asset == market.base:
        if side is not Side.BUY:
            raise ConversionError(
                f"commissionAsset: {asset!r} on a SELL (expected {market.quote}): a commission "
                "in the base asset is only booked on a BUY"
            )
        fee = base_fee_micros(info)
        fee_size = fee_micros(info)
    else:
        raise ConversionError(
            f"commissionAsset: {asset!r}, expected {market.quote} or {market.base or '-'} "
            "(fee discounts paid in another asset are not supported)"
        )
    maker = info.get("maker", info.get("isMaker"))
    if not isinstance(maker, bool):
        raise ConversionError(f"maker: expected true or false, got {maker!r}")
    size = exact(info, "qty")
    if not 0 <= fee_size <= size:
        raise ConversionError(
            f"commission: {fee_size} micro-units of {asset} outside [0, qty {size}]"
        )
    return Fill(
        fill_id=fill_id(market, trade_id_of(info)),
        client_order_id=client_order_id,
        venue_order_id=venue_order_id_of(info),
        token_id=market.token_id,
        market_id=market.token_id,
        side=side,
        price=exact(info, "price"),
        size=size,
        fee=fee,
        liquidity=LiquiditySide.MAKER if maker else LiquiditySide.TAKER,
        ts_event_ns=ms_to_ns(info, "time"),
        ts_recv_ns=ts_recv_ns,
        fee_size=fee_size,
    )


def order_report(
    info: Mapping[str, Any], market: CcxtMarket, client_order_id: str, ts_ns: int
) -> OrderStatusReport:
    """An open order as listed (``openOrders``): ``price``, ``origQty``, ``executedQty``.

    Raises:
        ConversionError: a field missing or inexact.
    """
    filled = exact(info, "executedQty")
    return OrderStatusReport(
        client_order_id=client_order_id,
        venue_order_id=venue_order_id_of(info),
        token_id=market.token_id,
        side=side_of(info),
        price=exact(info, "price"),
        size=exact(info, "origQty"),
        filled_size=filled,
        status=OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED,
        ts_ns=ts_ns,
    )


def adopted_order(
    info: Mapping[str, Any], market: CcxtMarket, client_order_id: str, now_ns: int
) -> VenueOrder:
    """An exchange order this venue did not submit (found at a restart), as a
    :class:`VenueOrder` with nothing filled yet (its fills are applied as they are found) and
    the status its listing gives.

    Raises:
        ConversionError: a field missing or inexact.
    """
    status = info.get("status")
    tif = {"IOC": TimeInForce.FAK, "FOK": TimeInForce.FOK}.get(str(info.get("timeInForce")))
    return VenueOrder(
        client_order_id=client_order_id,
        intent_id=f"adopted:{client_order_id}",
        bot_id="reconcile",
        token_id=market.token_id,
        market_id=market.token_id,
        side=side_of(info),
        price=exact(info, "price"),
        size=exact(info, "origQty"),
        time_in_force=tif or TimeInForce.GTC,
        post_only=info.get("timeInForce") == "GTX",
        reduce_only=info.get("reduceOnly") is True,
        exchange=market.instrument.venue,
        venue_order_id=venue_order_id_of(info),
        status=OrderStatus.ACCEPTED
        if status in OPEN_STATUSES
        else OrderStatus.FILLED
        if status == "FILLED"
        else OrderStatus.CANCELED,
        ts_created_ns=ms_to_ns(info, "time") if "time" in info else now_ns,
        ts_updated_ns=now_ns,
    )
