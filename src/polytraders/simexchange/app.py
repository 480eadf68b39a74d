"""The simulator's HTTP and websocket server (Starlette), speaking Binance USDⓈ-M's wire format
(:func:`futures_routes`) or Binance spot's (:func:`polytraders.simexchange.spot_app.spot_routes`,
chosen by :func:`build_app`'s ``venue_routes``); the control routes, the depth websocket and
the wrappers (:class:`Api`) are shared.

USDⓈ-M REST, public: ``GET /fapi/v1/ping``, ``/fapi/v1/time``, ``/fapi/v1/exchangeInfo``,
``/fapi/v1/depth`` (``limit`` 5–1000, default 500), ``/fapi/v1/premiumIndex``.
REST, SIGNED (:mod:`polytraders.simexchange.auth`): ``POST``/``DELETE``/``GET
/fapi/v1/order``, ``DELETE /fapi/v1/allOpenOrders``, ``GET /fapi/v1/openOrders``,
``/fapi/v1/userTrades``, ``/fapi/v1/income``, ``/fapi/v1/leverageBracket``, ``/fapi/v2/account``,
``/fapi/v3/account``, ``/fapi/v2/positionRisk``, ``/fapi/v3/positionRisk``, ``POST
/fapi/v1/leverage``; conditional orders (the Algo Service, :mod:`.engine`): ``POST``/``DELETE``/
``GET /fapi/v1/algoOrder`` (by ``algoId`` or ``clientAlgoId``), ``GET /fapi/v1/openAlgoOrders``,
``DELETE /fapi/v1/algoOpenOrders``. Errors are Binance's ``{"code", "msg"}`` bodies
(:mod:`polytraders.simexchange.errors`). USDⓈ-M serves every symbol of its
:class:`~polytraders.simexchange.engine.FuturesVenue`: a route naming a symbol uses that
symbol's market (-1121 for one not served); ``openOrders``, ``openAlgoOrders``,
``positionRisk``, ``leverageBracket``, ``income`` and ``premiumIndex`` without a symbol answer
for all; ``exchangeInfo`` lists all; ``account`` is the one cross account.

Websocket: ``/ws/<symbol>@depth``, ``/ws/<symbol>@depth@100ms`` or ``@depth@0ms``: every
replayed depth event of that symbol as a ``depthUpdate`` (futures: ``e, E, T, s, U, u, pu,
b, a``; spot: ``e, E, s, U, u, b, a``), sent when the replay applies it (each recorded event
is sent on its own: no 100 ms batching). Keepalive is the websocket protocol's ping and pong
frames, as at Binance (the server answers a client's ping frame); text frames from the client
are ignored.

Control (loopback, ``Authorization: Bearer <control token>``, JSON POSTs, as
:mod:`polytraders.simclob.app`): ``POST /sim/step {"count"}`` replays steps (answers
``applied``, ``cursor``, ``last_update_id``); ``POST /sim/fault {"kind", ...}``:
``rate_limit {"count", "retry_after_s"}`` (the next ``count`` REST requests answer HTTP 429,
-1003, with ``Retry-After``), ``reject_orders {"code", "msg", "count"}`` (the next order posts,
conditional ones too, are refused with that code, e.g. -2019), ``delay_acks {"ms"}`` (order
posts answered late; the order is placed at once), ``drop_depth {"count"}`` (the next depth
events are not sent: a lost message the client sees as a ``pu`` gap), ``drop_ws`` (every
websocket closed), ``clear``; futures: ``POST /sim/session {"wallet_micros", "position_size",
"position_cost_micros", "positions", "funding_rate_ppm", "funding_rates_ppm", "until_ns"}``
starts a fresh session (:meth:`~polytraders.simexchange.engine.FuturesVenue.restart`: every
symbol's replay from its start, no orders, that wallet and funding rate, the other settings
kept), holds the seeded positions
(:meth:`~polytraders.simexchange.engine.FuturesExchange.seed_position`; ``position_size`` and
``position_cost_micros``: the default symbol's; ``positions {"<symbol>": {"size",
"cost_micros"}}``: any symbol's; size 0: flat), sets ``funding_rates_ppm {"<symbol>": ppm}``
(the others: ``funding_rate_ppm``), replays up to ``until_ns`` and closes every websocket (the
book went back in time); an unknown symbol is a bad request (400). ``GET /sim/state`` reports
the default symbol's ``lastUpdateId``, position and counters, the account's wallet, each
symbol's figures under ``markets`` and the session's ``time_offset_ms``.

Replay pace (:class:`ExchangeState`, either market): by ``/sim/step`` only, one step per
``replay_interval_ms``, or *present time*: the session starts at the server's start (and at
each ``/sim/session``) with the first snapshot's time set to the clock's now (the exchange's
``restart`` ``start_ms``, which fixes its time offset, documented in
:mod:`polytraders.simexchange.matching`; :meth:`Api.start_session`), and each step is
applied once the clock reaches its shifted time: the recording at its own pace, as if it were
happening now, every market time shifted by the same offset and the server's own stamps read
from the same clock. ``/sim/step`` is then refused (409: the clock paces the replay) and
``/sim/session`` takes no ``until_ns``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from polytraders.simexchange import errors, wire
from polytraders.simexchange.auth import ApiKey, verify
from polytraders.simexchange.engine import AlgoOrder, FuturesExchange, FuturesVenue
from polytraders.simexchange.errors import BinanceError
from polytraders.simexchange.matching import NS_PER_MS, Faults, SimOrder

Handler = Callable[[Request], Awaitable[Response]]
SignedHandler = Callable[[dict[str, str], int], Awaitable[Any]]
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
PACE_POLL_NS = 50_000_000
"""Present time: the longest the replay waits before reading the clock again (a clock that
jumps, as a test's, is seen within this; the wall clock's next event is waited for exactly)."""


class Replayed(Protocol):
    """What the shared routes use of the served exchange: one market
    (:class:`~polytraders.simexchange.matching.MatchingExchange`: spot) or several on one
    clock (:class:`~polytraders.simexchange.engine.FuturesVenue`: USDⓈ-M)."""

    @property
    def symbol(self) -> str: ...
    @property
    def symbols(self) -> tuple[str, ...]: ...
    @property
    def settings(self) -> Any: ...
    @property
    def faults(self) -> Faults: ...
    @property
    def cursor(self) -> int: ...
    @property
    def last_update_id(self) -> int: ...
    @property
    def last_event_ms(self) -> int: ...
    def restart(self, settings: Any, start_ms: int | None = None) -> None: ...
    def step(self, count: int = 1) -> int: ...
    def replay_until(self, ts_ns: int) -> int: ...
    def next_step_ns(self) -> int | None: ...
    def drain(self) -> list[dict[str, Any]]: ...
    def find(self, order_id: int | None, client_order_id: str | None) -> SimOrder | None: ...


class ExchangeState:
    """Server-side state shared by the routes: the exchange, the key, the replay's pace, the
    server's clock and HTTP faults.

    Raises:
        ValueError: ``present_time`` with ``replay_interval_ms`` or ``replay_clock`` (the clock
            paces and stamps a present-time replay).
    """

    def __init__(
        self,
        exchange: Replayed,
        api_key: ApiKey,
        *,
        replay_interval_ms: int = 0,
        replay_clock: bool = False,
        present_time: bool = False,
        clock_ns: Callable[[], int] = time.time_ns,
        control_token: str = "",
    ) -> None:
        if present_time and (replay_interval_ms or replay_clock):
            raise ValueError("present_time paces the replay by the clock: no replay_interval_ms "
                             "or replay_clock with it")  # fmt: skip
        self.exchange = exchange
        self.api_key = api_key
        self.replay_interval_ms = replay_interval_ms
        """Replay one step per interval by itself (0: only ``/sim/step``)."""
        self.replay_clock = replay_clock
        """The exchange's time is the replay's (the time of the last applied depth event), as
        the depth events it serves, instead of the wall clock: orders, trades, incomes and
        ``serverTime`` are stamped in the recording's time. Signatures are still checked
        against the wall clock (the client signs with its own)."""
        self.present_time = present_time
        """Replay the recording as if it were happening now (module docstring "Replay
        pace")."""
        self.clock_ns = clock_ns
        """The server's clock (ns since the epoch; the wall clock unless a test injects one):
        its stamps (orders, ``serverTime``) and the present-time replay's pace. Signatures are
        checked against the wall clock whatever it is."""
        self.control_token = control_token or secrets.token_urlsafe(24)
        self.rate_limited = 0
        """Fault ``rate_limit``: REST requests still to refuse with 429."""
        self.retry_after_s = 1
        self.ack_delay_ms = 0
        self.queues: dict[WebSocket, asyncio.Queue[str | None]] = {}
        self.ws_symbols: dict[WebSocket, str] = {}
        """The symbol of each websocket's depth stream."""
        self.requests_total = 0
        self.refused_total = 0
        self.ws_connections_total = 0

    def dispatch(self) -> None:
        """Send the exchange's new depth events to the websockets of their symbol."""
        for event in self.exchange.drain():
            text = json.dumps(event)
            for ws, queue in self.queues.items():
                if self.ws_symbols.get(ws) == event["s"]:
                    queue.put_nowait(text)

    def drop_websockets(self) -> int:
        """Close every websocket (fault ``drop_ws``); returns how many."""
        for queue in self.queues.values():
            queue.put_nowait(None)
        return len(self.queues)


def _error(exc: BinanceError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


class Api:
    """The wrappers of one server's routes over ``state``: :meth:`guarded` (venue routes),
    :meth:`public`, :meth:`signed` (:mod:`.auth`) and :meth:`control` (the bearer token), and
    the exchange's clock :meth:`now_ms`."""

    def __init__(self, state: ExchangeState) -> None:
        self.state = state

    @staticmethod
    def wall_ms() -> int:
        """The wall clock (ms): signatures are checked against it."""
        return time.time_ns() // NS_PER_MS

    def now_ms(self) -> int:
        """The exchange's time (:attr:`ExchangeState.replay_clock`,
        :attr:`ExchangeState.clock_ns`)."""
        state = self.state
        if state.replay_clock:
            return state.exchange.last_event_ms
        return state.clock_ns() // NS_PER_MS

    def start_session(self, settings: Any) -> None:
        """A fresh session of the exchange with ``settings`` (the exchange's own settings
        type); present time: starting now (module docstring "Replay pace")."""
        state = self.state
        state.exchange.restart(settings, self.now_ms() if state.present_time else None)

    def session_until_ns(self, body: dict[str, Any]) -> int:
        """``until_ns`` of a ``/sim/session`` body (0 when absent: the first step only).

        Raises:
            ValueError: one given in present time (the clock paces the replay).
        """
        until_ns = int(body.get("until_ns", 0))
        if self.state.present_time and until_ns:
            raise ValueError("present-time replay: no until_ns (the clock paces the replay)")
        return until_ns

    def guarded(self, handler: Handler) -> Handler:
        """A venue route: the rate-limit fault, Binance errors as their JSON bodies."""
        state = self.state

        async def inner(request: Request) -> Response:
            state.requests_total += 1
            try:
                if state.rate_limited > 0:
                    state.rate_limited -= 1
                    raise BinanceError(
                        429,
                        errors.TOO_MANY_REQUESTS,
                        "Too many requests; current limit of IP is 2400 requests per minute.",
                        {"Retry-After": str(state.retry_after_s)},
                    )
                return await handler(request)
            except BinanceError as exc:
                state.refused_total += 1
                return _error(exc)
            finally:
                state.dispatch()

        return inner

    def signed(self, handler: SignedHandler) -> Handler:
        """A SIGNED venue route: ``handler(params, now_ms)``'s answer as JSON."""
        state = self.state

        async def inner(request: Request) -> Response:
            body = (await request.body()).decode()
            params = verify(
                state.api_key,
                request.headers.get("x-mbx-apikey"),
                request.url.query,
                body,
                self.wall_ms(),
            )
            return JSONResponse(await handler(params, self.now_ms()))

        return self.guarded(inner)

    def public(self, handler: Callable[[Request], Any]) -> Handler:
        """A public venue route: ``handler(request)``'s answer as JSON."""

        async def inner(request: Request) -> Response:
            return JSONResponse(handler(request))

        return self.guarded(inner)

    def control(self, handler: Handler) -> Handler:
        """A control route: the bearer token, JSON bodies, bad requests as 400."""
        state = self.state

        async def inner(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {state.control_token}".encode()):
                return JSONResponse({"error": "control needs the bearer token"}, status_code=401)
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if request.method == "POST" and media != "application/json":
                return JSONResponse({"error": "control takes application/json"}, status_code=415)
            try:
                return await handler(request)
            except (ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": f"bad control request: {exc!r}"}, status_code=400)
            finally:
                state.dispatch()

        return inner

    def common_routes(self, prefix: str, render: Callable[[SimOrder], Any]) -> list[BaseRoute]:
        """What both Binance markets serve alike under ``prefix`` (``/fapi/v1``, ``/api/v3``):
        ``ping``, ``time`` (``serverTime``: :meth:`now_ms`) and ``GET order`` (one order by
        ``orderId`` or ``origClientOrderId``, -2013 when unknown or of another symbol than the
        one sent), its answer ``render(order)`` in the market's shape."""
        ex = self.state.exchange

        @self.public
        def ping(request: Request) -> Any:
            return {}

        @self.public
        def server_time(request: Request) -> Any:
            return {"serverTime": self.now_ms()}

        @self.signed
        async def query_order(params: dict[str, str], now: int) -> Any:
            order = ex.find(*order_ref(ex, params))
            if order is None or params.get("symbol") not in (None, order.working.order.token_id):
                raise errors.bad(errors.NO_SUCH_ORDER, "Order does not exist.")
            return render(order)

        return [
            Route(f"{prefix}/ping", ping),
            Route(f"{prefix}/time", server_time),
            Route(f"{prefix}/order", query_order, methods=["GET"]),
        ]


def symbol_of(ex: Replayed, params: dict[str, str] | Any) -> None:
    """-1121 when ``params`` name a symbol the exchange does not serve."""
    if params.get("symbol") not in (None, *ex.symbols):
        raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")


def order_ref(ex: Replayed, params: dict[str, str]) -> tuple[int | None, str | None]:
    """(``orderId``, ``origClientOrderId``) of an order request, one of them None.

    Raises:
        BinanceError: -1121 a symbol not served, -1102 neither sent or a malformed
            ``orderId``.
    """
    symbol_of(ex, params)
    if "orderId" in params:
        try:
            return int(params["orderId"]), None
        except ValueError:
            raise errors.missing("orderId") from None
    if "origClientOrderId" in params:
        return None, params["origClientOrderId"]
    raise errors.bad(
        errors.BAD_PARAMETER,
        "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
    )


class _Traded(Protocol):
    @property
    def trade_id(self) -> int: ...
    @property
    def time_ms(self) -> int: ...


TradeT = TypeVar("TradeT", bound=_Traded)


def trades_in_window(
    ex: Replayed, trades: Sequence[TradeT], params: dict[str, str]
) -> list[TradeT]:
    """The trades a trade-list request asks for: ``fromId`` (id at least), ``startTime`` and
    ``endTime`` (ms, inclusive), at most ``limit`` (default 500, at most 1000), oldest first.

    Raises:
        BinanceError: -1102 no ``symbol`` or another one.
    """
    if params.get("symbol") != ex.symbol:
        raise errors.missing("symbol")
    chosen = list(trades)
    if "fromId" in params:
        chosen = [t for t in chosen if t.trade_id >= int(params["fromId"])]
    if "startTime" in params:
        chosen = [t for t in chosen if t.time_ms >= int(params["startTime"])]
    if "endTime" in params:
        chosen = [t for t in chosen if t.time_ms <= int(params["endTime"])]
    return chosen[: min(int(params.get("limit", "500")), 1000)]


def futures_routes(api: Api) -> list[BaseRoute]:
    """The USDⓈ-M REST routes (module docstring) over every symbol of the venue, and the
    futures account's ``/sim/session`` and ``/sim/state``.

    Raises:
        TypeError: the state's exchange is not a :class:`FuturesVenue`.
    """
    state = api.state
    venue = state.exchange
    if not isinstance(venue, FuturesVenue):
        raise TypeError(f"futures routes over {type(venue).__name__}")
    now_ms, public, signed, control = api.now_ms, api.public, api.signed, api.control
    market, chosen = venue.market, venue.chosen

    def render(order: SimOrder) -> Any:
        return wire.order(venue.market_of(order), order)

    def owner(params: dict[str, str]) -> tuple[FuturesExchange, int | None, str | None]:
        """The market holding the order a request names (the symbol's, else the venue's
        first, whose answer is then "unknown order"), with the order's references."""
        order_id, client_id = order_ref(venue, params)
        for ex in chosen(params.get("symbol")):
            if ex.find(order_id, client_id) is not None:
                return ex, order_id, client_id
        return market(params.get("symbol", venue.symbol)), order_id, client_id

    @public
    def exchange_info(request: Request) -> Any:
        return wire.exchange_info(venue.primary, now_ms())

    @public
    def depth(request: Request) -> Any:
        params = request.query_params
        ex = market(params.get("symbol"))
        try:
            limit = int(params.get("limit", "500"))
        except ValueError:
            raise errors.missing("limit") from None
        if limit not in DEPTH_LIMITS:
            raise errors.bad(errors.BAD_PARAMETER, "Illegal characters found in parameter 'limit'")
        return wire.depth(ex, limit, now_ms())

    @public
    def premium_index(request: Request) -> Any:
        symbol = request.query_params.get("symbol")
        answers = [wire.premium_index(ex, now_ms()) for ex in chosen(symbol)]
        return answers[0] if symbol is not None else answers

    @signed
    async def post_order(params: dict[str, str], now: int) -> Any:
        ex = market(params.get("symbol"))
        order = ex.place(params, now)
        if state.ack_delay_ms:
            await asyncio.sleep(state.ack_delay_ms / 1000)
        return wire.order(ex, order)

    @signed
    async def cancel_order(params: dict[str, str], now: int) -> Any:
        ex, order_id, client_id = owner(params)
        return wire.order(ex, ex.cancel(order_id, client_id, now))

    @signed
    async def cancel_all(params: dict[str, str], now: int) -> Any:
        market(params.get("symbol")).cancel_all(now)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    @signed
    async def post_algo_order(params: dict[str, str], now: int) -> Any:
        ex = market(params.get("symbol"))
        algo = ex.place_algo(params, now)
        if state.ack_delay_ms:
            await asyncio.sleep(state.ack_delay_ms / 1000)
        return wire.algo_order(ex, algo)

    def algo_of(params: dict[str, str]) -> tuple[FuturesExchange, AlgoOrder] | None:
        """The conditional order a request names and its market (None: unknown, or of
        another symbol than the one sent)."""
        symbol_of(venue, params)
        if "algoId" in params:
            try:
                found = venue.find_algo(int(params["algoId"]), None)
            except ValueError:
                raise errors.missing("algoId") from None
        elif "clientAlgoId" in params:
            found = venue.find_algo(None, params["clientAlgoId"])
        else:
            raise errors.bad(
                errors.BAD_PARAMETER,
                "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!",
            )
        if found is None or params.get("symbol") not in (None, found[0].symbol):
            return None
        return found

    @signed
    async def cancel_algo_order(params: dict[str, str], now: int) -> Any:
        found = algo_of(params)
        if found is None:
            raise errors.bad(errors.UNKNOWN_ALGO, "Invalid algo id or it has been completed.")
        ex, algo = found
        ex.cancel_algo(algo.algo_id, None, now)
        return {
            "algoId": algo.algo_id,
            "clientAlgoId": algo.client_algo_id,
            "code": "200",
            "msg": "success",
        }

    @signed
    async def query_algo_order(params: dict[str, str], now: int) -> Any:
        found = algo_of(params)
        if found is None:
            raise errors.bad(errors.NO_SUCH_ORDER, "Order does not exist.")
        return wire.algo_order(*found)

    @signed
    async def open_algo_orders(params: dict[str, str], now: int) -> Any:
        rows = [
            (a.algo_id, ex, a) for ex in chosen(params.get("symbol")) for a in ex.open_algo_orders()
        ]
        return [wire.algo_order(ex, a) for _, ex, a in sorted(rows, key=lambda row: row[0])]

    @signed
    async def cancel_all_algo(params: dict[str, str], now: int) -> Any:
        market(params.get("symbol")).cancel_all_algo(now)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    @signed
    async def open_orders(params: dict[str, str], now: int) -> Any:
        rows = [
            (o.order_id, ex, o) for ex in chosen(params.get("symbol")) for o in ex.open_orders()
        ]
        return [wire.order(ex, o) for _, ex, o in sorted(rows, key=lambda row: row[0])]

    @signed
    async def user_trades(params: dict[str, str], now: int) -> Any:
        if "symbol" not in params:
            raise errors.missing("symbol")
        ex = market(params["symbol"])
        return [wire.user_trade(ex, t) for t in trades_in_window(ex, ex.trades, params)]

    @signed
    async def account(params: dict[str, str], now: int) -> Any:
        return wire.account(venue.primary, now)

    @signed
    async def position_risk(params: dict[str, str], now: int) -> Any:
        return [row for ex in chosen(params.get("symbol")) for row in wire.position_risk(ex, now)]

    @signed
    async def leverage_bracket(params: dict[str, str], now: int) -> Any:
        return [row for ex in chosen(params.get("symbol")) for row in wire.leverage_brackets(ex)]

    @signed
    async def income(params: dict[str, str], now: int) -> Any:
        rows = [
            (r.time_ms, r.tran_id, ex, r) for ex in chosen(params.get("symbol")) for r in ex.incomes
        ]
        rows.sort(key=lambda row: (row[0], row[1]))
        if "incomeType" in params:
            rows = [row for row in rows if row[3].income_type == params["incomeType"]]
        if "startTime" in params:
            rows = [row for row in rows if row[0] >= int(params["startTime"])]
        if "endTime" in params:
            rows = [row for row in rows if row[0] <= int(params["endTime"])]
        limit = min(int(params.get("limit", "100")), 1000)
        return [wire.income(ex, r) for _, _, ex, r in rows[:limit]]

    @signed
    async def set_leverage(params: dict[str, str], now: int) -> Any:
        ex = market(params.get("symbol"))
        try:
            leverage = int(params["leverage"])
        except (KeyError, ValueError):
            raise errors.missing("leverage") from None
        ex.set_leverage(leverage)
        return {"leverage": leverage, "maxNotionalValue": "50000", "symbol": ex.symbol}

    @control
    async def sim_session(request: Request) -> Response:
        body = json.loads(await request.body())
        until_ns = api.session_until_ns(body)
        positions: dict[str, tuple[int, int]] = {}
        if int(body.get("position_size", 0)):
            positions[venue.symbol] = (
                int(body["position_size"]),
                int(body["position_cost_micros"]),
            )
        for symbol, held in dict(body.get("positions", {})).items():
            if symbol not in venue.markets:
                raise ValueError(f"no market {symbol!r}")
            positions[symbol] = (int(held["size"]), int(held["cost_micros"]))
        rates = {str(k): int(v) for k, v in dict(body.get("funding_rates_ppm", {})).items()}
        for symbol in rates:
            if symbol not in venue.markets:
                raise ValueError(f"no market {symbol!r}")
        api.start_session(
            dataclasses.replace(
                venue.settings,
                wallet_micros=int(body["wallet_micros"]),
                funding_rate_ppm=int(body.get("funding_rate_ppm", venue.settings.funding_rate_ppm)),
            )
        )
        for symbol, rate_ppm in rates.items():
            venue.markets[symbol].funding_rate_ppm = rate_ppm
        for symbol, (size, cost) in positions.items():
            if size:
                venue.markets[symbol].seed_position(size, cost)
        venue.replay_until(until_ns)
        venue.clear_outbox()
        state.drop_websockets()
        return JSONResponse(
            {
                "cursor": venue.cursor,
                "last_update_id": venue.last_update_id,
                "wallet_micros": venue.wallet,
            }
        )

    def market_state(ex: FuturesExchange) -> dict[str, Any]:
        return {
            "cursor": ex.cursor,
            "steps": len(ex.recording.steps),
            "last_update_id": ex.last_update_id,
            "position_amount": ex.position.size,
            "funding_micros": ex.account.funding_micros,
            "realized_pnl_micros": ex.realized_pnl,
            "fees_micros": ex.fees_paid,
            "open_orders": len(ex.open_orders()),
            "open_algo_orders": len(ex.open_algo_orders()),
            "depth_events_dropped": ex.depth_events_dropped,
        }

    @control
    async def sim_state(request: Request) -> Response:
        return JSONResponse(
            {
                "symbol": venue.symbol,
                **market_state(venue.primary),
                "wallet_micros": venue.wallet,
                "requests_total": state.requests_total,
                "refused_total": state.refused_total,
                "ws_connections": len(state.queues),
                "ws_connections_total": state.ws_connections_total,
                "time_offset_ms": venue.offset_ms,
                "markets": {ex.symbol: market_state(ex) for ex in venue.markets.values()},
            }
        )

    return [
        *api.common_routes("/fapi/v1", render),
        Route("/fapi/v1/exchangeInfo", exchange_info),
        Route("/fapi/v1/depth", depth),
        Route("/fapi/v1/premiumIndex", premium_index),
        Route("/fapi/v1/order", post_order, methods=["POST"]),
        Route("/fapi/v1/order", cancel_order, methods=["DELETE"]),
        Route("/fapi/v1/allOpenOrders", cancel_all, methods=["DELETE"]),
        Route("/fapi/v1/openOrders", open_orders),
        Route("/fapi/v1/algoOrder", post_algo_order, methods=["POST"]),
        Route("/fapi/v1/algoOrder", cancel_algo_order, methods=["DELETE"]),
        Route("/fapi/v1/algoOrder", query_algo_order, methods=["GET"]),
        Route("/fapi/v1/openAlgoOrders", open_algo_orders),
        Route("/fapi/v1/algoOpenOrders", cancel_all_algo, methods=["DELETE"]),
        Route("/fapi/v1/userTrades", user_trades),
        Route("/fapi/v1/leverageBracket", leverage_bracket),
        Route("/fapi/v1/leverage", set_leverage, methods=["POST"]),
        Route("/fapi/v1/income", income),
        Route("/fapi/v2/account", account),
        Route("/fapi/v3/account", account),
        Route("/fapi/v2/positionRisk", position_risk),
        Route("/fapi/v3/positionRisk", position_risk),
        Route("/sim/session", sim_session, methods=["POST"]),
        Route("/sim/state", sim_state),
    ]


def build_app(
    state: ExchangeState, venue_routes: Callable[[Api], list[BaseRoute]] = futures_routes
) -> Starlette:
    """The Starlette application over ``state``: ``venue_routes`` (USDⓈ-M here; spot:
    :func:`polytraders.simexchange.spot_app.spot_routes`), ``/sim/step``, ``/sim/fault`` and
    the depth websocket."""
    ex = state.exchange
    api = Api(state)
    control = api.control

    @control
    async def sim_step(request: Request) -> Response:
        if state.present_time:
            return JSONResponse(
                {"error": "present-time replay: the clock paces the replay"}, status_code=409
            )
        body = json.loads((await request.body()) or b"{}")
        applied = ex.step(int(body.get("count", 1)))
        return JSONResponse(
            {"applied": applied, "cursor": ex.cursor, "last_update_id": ex.last_update_id}
        )

    @control
    async def sim_fault(request: Request) -> Response:
        body = json.loads(await request.body())
        kind = body["kind"]
        answer: dict[str, Any] = {"kind": kind}
        if kind == "rate_limit":
            state.rate_limited = int(body.get("count", 1))
            state.retry_after_s = int(body.get("retry_after_s", 1))
        elif kind == "reject_orders":
            code, msg = int(body["code"]), str(body["msg"])
            ex.faults.reject_orders.extend([(code, msg)] * int(body.get("count", 1)))
        elif kind == "delay_acks":
            state.ack_delay_ms = int(body["ms"])
        elif kind == "drop_depth":
            ex.faults.drop_depth_events = int(body.get("count", 1))
        elif kind == "drop_ws":
            answer["dropped"] = state.drop_websockets()
        elif kind == "clear":
            state.rate_limited = 0
            state.ack_delay_ms = 0
            ex.faults.reject_orders.clear()
            ex.faults.drop_depth_events = 0
        else:
            raise ValueError(f"unknown fault {kind!r}")
        return JSONResponse(answer)

    # ------------------------------------------------------------------ websocket
    async def pump(ws: WebSocket, queue: asyncio.Queue[str | None]) -> None:
        while True:
            text = await queue.get()
            if text is None:
                await ws.close(code=1012)
                return
            await ws.send_text(text)

    async def ws_depth(ws: WebSocket) -> None:
        stream = ws.path_params["stream"]
        streams = {
            f"{symbol.lower()}@depth{s}": symbol
            for symbol in ex.symbols
            for s in ("", "@100ms", "@0ms")
        }
        if stream not in streams:
            await ws.close(code=1008)
            return
        await ws.accept()
        state.ws_connections_total += 1
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        state.ws_symbols[ws] = streams[stream]
        state.queues[ws] = queue
        sender = asyncio.create_task(pump(ws, queue))
        try:
            while not sender.done():
                receive = asyncio.ensure_future(ws.receive())
                done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    return
                message = receive.result()
                if message["type"] == "websocket.disconnect":
                    return
        finally:
            state.queues.pop(ws, None)
            state.ws_symbols.pop(ws, None)
            sender.cancel()

    async def replayer() -> None:
        while True:
            await asyncio.sleep(state.replay_interval_ms / 1000)
            ex.step(1)
            state.dispatch()

    async def present_replayer() -> None:
        """Apply each step once the clock reaches its (shifted) time."""
        while True:
            now_ns = state.clock_ns()
            if ex.replay_until(now_ns):
                state.dispatch()
            due_ns = ex.next_step_ns()
            wait_ns = PACE_POLL_NS if due_ns is None else min(due_ns - now_ns, PACE_POLL_NS)
            await asyncio.sleep(max(wait_ns, 0) / 1e9)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = None
        if state.present_time:
            api.start_session(ex.settings)
            task = asyncio.create_task(present_replayer())
        elif state.replay_interval_ms:
            task = asyncio.create_task(replayer())
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            state.drop_websockets()

    routes = [
        *venue_routes(api),
        Route("/sim/step", sim_step, methods=["POST"]),
        Route("/sim/fault", sim_fault, methods=["POST"]),
        WebSocketRoute("/ws/{stream}", ws_depth),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
