"""The spot simulator's routes, speaking Binance spot's REST format (served by
:func:`polytraders.simexchange.app.build_app` with ``venue_routes=spot_routes``; the control
routes ``/sim/step`` and ``/sim/fault`` and the depth websocket are the shared ones).

REST, public: ``GET /api/v3/ping``, ``/api/v3/time``, ``/api/v3/exchangeInfo``,
``/api/v3/depth`` (``limit`` default 100, at most 5000: a larger one is cut to 5000, as
Binance does). REST, SIGNED (:mod:`polytraders.simexchange.auth`): ``POST /api/v3/order``
(``newOrderRespType`` ``ACK``, ``RESULT`` or ``FULL``; default ``FULL`` for LIMIT and MARKET,
``ACK`` for LIMIT_MAKER, as Binance), ``DELETE``/``GET /api/v3/order`` (by ``orderId`` or
``origClientOrderId``), ``DELETE /api/v3/openOrders`` (the cancelled orders; with none open
-2011 "Unknown order sent.", as Binance answers — binance-connector-python issue 185),
``GET /api/v3/openOrders``, ``/api/v3/myTrades`` (``fromId``, ``startTime``, ``endTime``,
``limit``), ``/api/v3/account``. The account rules: :mod:`polytraders.simexchange.spot`.

Control: ``POST /sim/session {"base_e8", "quote_e8", "until_ns"}`` starts a fresh session
(:meth:`~polytraders.simexchange.spot.SpotExchange.restart`: the replay from its start, no
orders, those balances in 10⁻⁸ units, the other settings kept), replays up to ``until_ns``
and closes every websocket; ``GET /sim/state`` reports the book's ``lastUpdateId``,
counters and every balance (``free_e8``, ``locked_e8``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from polytraders.simexchange import errors, spot_wire
from polytraders.simexchange.app import Api, order_ref, symbol_of, trades_in_window
from polytraders.simexchange.spot import SpotExchange

MAX_DEPTH_LIMIT = 5000
RESPONSE_TYPES = ("ACK", "RESULT", "FULL")


def spot_routes(api: Api) -> list[BaseRoute]:
    """The spot REST routes and the spot account's ``/sim/session`` and ``/sim/state``
    (module docstring).

    Raises:
        TypeError: the state's exchange is not a :class:`SpotExchange`.
    """
    state = api.state
    ex = state.exchange
    if not isinstance(ex, SpotExchange):
        raise TypeError(f"spot routes over {type(ex).__name__}")
    now_ms, public, signed, control = api.now_ms, api.public, api.signed, api.control

    @public
    def exchange_info(request: Request) -> Any:
        return spot_wire.exchange_info(ex, now_ms())

    @public
    def depth(request: Request) -> Any:
        params = request.query_params
        if params.get("symbol") != ex.symbol:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            raise errors.missing("limit") from None
        if limit <= 0:
            raise errors.bad(errors.BAD_PARAMETER, "Illegal characters found in parameter 'limit'")
        return spot_wire.depth(ex, min(limit, MAX_DEPTH_LIMIT))

    @signed
    async def post_order(params: dict[str, str], now: int) -> Any:
        default = "FULL" if params.get("type") in ("LIMIT", "MARKET") else "ACK"
        response_type = params.get("newOrderRespType", default)
        if response_type not in RESPONSE_TYPES:
            raise errors.bad(errors.INVALID_RESPONSE_TYPE, "Invalid newOrderRespType.")
        order = ex.place(params, now)
        if state.ack_delay_ms:
            await asyncio.sleep(state.ack_delay_ms / 1000)
        return spot_wire.new_order(ex, order, response_type)

    @signed
    async def cancel_order(params: dict[str, str], now: int) -> Any:
        order = ex.cancel(*order_ref(ex, params), now)
        cancel_id = params.get("newClientOrderId") or f"sim-cancel-{order.order_id}"
        return spot_wire.canceled(ex, order, cancel_id, now)

    @signed
    async def cancel_all(params: dict[str, str], now: int) -> Any:
        if params.get("symbol") != ex.symbol:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        live = ex.open_orders()
        if not live:
            raise errors.bad(errors.UNKNOWN_ORDER, "Unknown order sent.")
        ex.cancel_all(now)
        return [spot_wire.canceled(ex, o, f"sim-cancel-{o.order_id}", now) for o in live]

    @signed
    async def open_orders(params: dict[str, str], now: int) -> Any:
        symbol_of(ex, params)
        return [spot_wire.order(ex, o) for o in ex.open_orders()]

    @signed
    async def my_trades(params: dict[str, str], now: int) -> Any:
        return [spot_wire.my_trade(ex, t) for t in trades_in_window(ex, ex.trades, params)]

    @signed
    async def account(params: dict[str, str], now: int) -> Any:
        return spot_wire.account(ex, now)

    @control
    async def sim_session(request: Request) -> Response:
        body = json.loads(await request.body())
        until_ns = api.session_until_ns(body)
        api.start_session(
            dataclasses.replace(
                ex.settings, base_e8=int(body["base_e8"]), quote_e8=int(body["quote_e8"])
            )
        )
        ex.replay_until(until_ns)
        ex.outbox.clear()
        state.drop_websockets()
        return JSONResponse({"cursor": ex.cursor, "last_update_id": ex.last_update_id})

    @control
    async def sim_state(request: Request) -> Response:
        return JSONResponse(
            {
                "symbol": ex.symbol,
                "cursor": ex.cursor,
                "steps": len(ex.recording.steps),
                "last_update_id": ex.last_update_id,
                "balances": {
                    asset: {"free_e8": ex.free(asset), "locked_e8": ex.locked(asset)}
                    for asset in sorted(ex.totals)
                },
                "open_orders": len(ex.open_orders()),
                "trades": len(ex.trades),
                "depth_events_dropped": ex.depth_events_dropped,
                "requests_total": state.requests_total,
                "refused_total": state.refused_total,
                "ws_connections": len(state.queues),
                "ws_connections_total": state.ws_connections_total,
                "time_offset_ms": ex.offset_ms,
            }
        )

    return [
        *api.common_routes("/api/v3", lambda order: spot_wire.order(ex, order)),
        Route("/api/v3/exchangeInfo", exchange_info),
        Route("/api/v3/depth", depth),
        Route("/api/v3/order", post_order, methods=["POST"]),
        Route("/api/v3/order", cancel_order, methods=["DELETE"]),
        Route("/api/v3/openOrders", cancel_all, methods=["DELETE"]),
        Route("/api/v3/openOrders", open_orders, methods=["GET"]),
        Route("/api/v3/myTrades", my_trades),
        Route("/api/v3/account", account),
        Route("/sim/session", sim_session, methods=["POST"]),
        Route("/sim/state", sim_state),
    ]
