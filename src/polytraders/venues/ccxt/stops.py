"""Protective stops at a ccxt exchange: the request, the exchange's answer, and what an
operation leaves at the exchange (typed, exact).

A protective stop is a ``STOP_MARKET`` conditional order on the closing side of a position:
``reduceOnly`` with the position's quantity, or ``closePosition`` (the whole position when
triggered). ccxt 4.5.90's ``binanceusdm`` sends ``create_order(symbol, "STOP_MARKET", side,
amount, None, {"stopPrice": ..., ...})`` to ``POST /fapi/v1/algoOrder`` (``algoType``
``CONDITIONAL``, ``triggerPrice``, ``clientAlgoId``: Binance moved USDⓈ-M conditional orders
to its Algo Service, change log 2025-11-06), lists them with ``fetch_open_orders(symbol,
params={"trigger": True})`` (``GET /fapi/v1/openAlgoOrders``) and cancels them with
``cancel_order(algo id, symbol, {"trigger": True})`` (``DELETE /fapi/v1/algoOrder``) or
``cancel_all_orders(symbol, {"trigger": True})`` (``DELETE /fapi/v1/algoOpenOrders``).
``workingType`` is sent explicitly (Binance's default is ``CONTRACT_PRICE``, the last trade;
New Algo Order reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import msgspec

from polytraders.model.orders import Side
from polytraders.venues.ccxt.config import WorkingType
from polytraders.venues.ccxt.convert import CcxtMarket, ConversionError, exact, grid_text, side_of
from polytraders.venues.reports import OrderStatusReport, PositionReport, StopOrderReport


class StopRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A protective stop for a position.

    Fields: ``token_id``; ``position_size`` (signed micro-units of the base asset: the stop
    sells a long, buys a short); ``stop_price`` (trigger, micro-quote, on the tick);
    ``client_id`` (``clientAlgoId``: ``^[.A-Z:/a-z0-9_-]{1,36}$``, unique among open
    conditional orders); ``close_position`` (close whatever position there is when triggered,
    instead of ``reduceOnly`` with ``|position_size|``); ``working_type``.
    """

    token_id: str
    position_size: int
    stop_price: int
    client_id: str
    close_position: bool = False
    working_type: WorkingType = "MARK_PRICE"

    @property
    def side(self) -> Side:
        """The closing side: SELL for a long, BUY for a short."""
        return Side.SELL if self.position_size > 0 else Side.BUY

    def matches(self, stop: StopOrderReport) -> bool:
        """True when ``stop`` is this request at the exchange (side, type, trigger, size or
        close-position, working type)."""
        return (
            stop.token_id == self.token_id
            and stop.order_type == "STOP_MARKET"
            and stop.side is self.side
            and stop.stop_price == self.stop_price
            and stop.close_position == self.close_position
            and (self.close_position or stop.size == abs(self.position_size))
            and (self.close_position or stop.reduce_only)
            and stop.working_type == self.working_type
        )


def stop_args(request: StopRequest, market: CcxtMarket) -> tuple[str, str | None, dict[str, Any]]:
    """``create_order`` arguments after the type: ccxt side, exact amount text (``None`` for
    close-position) and params.

    Raises:
        ValueError: a flat position (nothing to protect).
        OffGridError: stop price off the tick or size off the lot step.
    """
    if request.position_size == 0:
        raise ValueError(f"{request.token_id}: no position to protect")
    inst = market.instrument
    params: dict[str, Any] = {
        "stopPrice": grid_text(request.stop_price, inst.price_increment, "price"),
        "workingType": request.working_type,
        "clientAlgoId": request.client_id,
    }
    amount = None
    if request.close_position:
        params["closePosition"] = True
    else:
        amount = grid_text(abs(request.position_size), inst.size_increment, "size")
        params["reduceOnly"] = True
    return request.side.lower(), amount, params


def stop_report(info: Mapping[str, Any], market: CcxtMarket, ts_ns: int) -> StopOrderReport:
    """A conditional order from Binance's algo-order answer (``algoId``, ``clientAlgoId``,
    ``orderType``, ``side``, ``triggerPrice``, ``quantity``, ``closePosition``,
    ``reduceOnly``, ``workingType``).

    Raises:
        ConversionError: a field missing or inexact.
    """
    algo_id = info.get("algoId")
    if isinstance(algo_id, bool) or not isinstance(algo_id, (int, str)) or algo_id == "":
        raise ConversionError(f"algoId: expected an algo order id, got {algo_id!r}")
    flags = {name: info.get(name) for name in ("closePosition", "reduceOnly")}
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ConversionError(f"{name}: expected true or false, got {value!r}")
    return StopOrderReport(
        client_order_id=str(info.get("clientAlgoId", "")),
        venue_order_id=str(algo_id),
        token_id=market.token_id,
        side=side_of(info),
        order_type=str(info.get("orderType")),
        stop_price=exact(info, "triggerPrice"),
        size=exact(info, "quantity"),
        close_position=flags["closePosition"] is True,
        reduce_only=flags["reduceOnly"] is True,
        working_type=str(info.get("workingType")),
        ts_ns=ts_ns,
    )


class StopState(StrEnum):
    """What the exchange holds after a stop operation.

    ``NEW_STOP``: the requested stop (and no other of this operation). ``OLD_STOP``: the stop
    that was to be cancelled or replaced is still there, the new one was not placed (the
    cancel failed). ``NO_STOP``: none (cancelled, not found, or the place was refused).
    ``UNKNOWN``: a request got no answer; list the stops to learn.
    """

    NEW_STOP = "new_stop"
    OLD_STOP = "old_stop"
    NO_STOP = "no_stop"
    UNKNOWN = "unknown"


class StopOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The result of a place, cancel or replace: ``state``; ``stop`` (the stop at the exchange
    when the state names one); ``reason_code`` (registered, ``""`` when the operation did what
    was asked) and ``message`` (the exchange's text)."""

    state: StopState
    stop: StopOrderReport | None = None
    reason_code: str = ""
    message: str = ""


class CancelAllReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a cancel-all left at the exchange, listed after it: regular orders
    (``orders_left``), conditional orders (``stops_left``), our positions (perpetuals: what a
    kill switch's unwind policy has to close), and ``failures`` (a cancel or listing that
    failed, the exchange's message). ``confirmed`` only when nothing is left open and every
    request answered."""

    venue: str
    ts_ns: int
    orders_left: tuple[OrderStatusReport, ...] = ()
    stops_left: tuple[StopOrderReport, ...] = ()
    positions: tuple[PositionReport, ...] = ()
    failures: tuple[str, ...] = ()

    @property
    def confirmed(self) -> bool:
        """True when every order is known to be cancelled."""
        return not (self.orders_left or self.stops_left or self.failures)


class CancelAllUnconfirmedError(RuntimeError):
    """A cancel-all whose result could not be confirmed (``report`` says what is left);
    ``reason_code`` is ``SYS_CCXT_CANCEL_ALL_UNCONFIRMED``."""

    reason_code = "SYS_CCXT_CANCEL_ALL_UNCONFIRMED"

    def __init__(self, report: CancelAllReport) -> None:
        super().__init__(
            f"{report.venue}: cancel-all unconfirmed: {len(report.orders_left)} order(s) and "
            f"{len(report.stops_left)} stop(s) still open, failures: {list(report.failures)}"
        )
        self.report = report
