"""The simulator's HTTP and websocket server (Starlette), speaking the CLOB v2 wire format.

REST (``../shared/POLYMARKET.md`` and the endpoints of ``py_clob_client_v2.endpoints``):
``GET /ok``, ``/time``, ``/version``, ``/markets/{condition_id}``, ``/book``, ``/tick-size``,
``/neg-risk``, ``POST /order``, ``POST /orders`` (≤ 15), ``DELETE /order``, ``/orders``,
``/cancel-all``, ``/cancel-market-orders``, ``GET /data/orders``, ``/data/order/{id}``,
``/data/trades`` (optionally ``after`` / ``before``, unix seconds on ``match_time``, both
exclusive), ``/balance-allowance`` (``{"balance", "allowances": {spender: amount}}``,
integer text), ``/auth/ban-status/closed-only``,
``POST /v1/heartbeats``. Authenticated routes check the L2 headers (``POLY_API_KEY``,
``POLY_PASSPHRASE`` and the HMAC-SHA256 ``POLY_SIGNATURE`` over timestamp + method + path +
body, as ``py_clob_client_v2.signing.hmac`` builds it).

Websockets: ``/ws/market`` (subscribe with ``{"type": "market", "assets_ids": [...]}``; a
``book`` per asset, then ``price_change`` / ``last_trade_price``; text ``PING`` → ``PONG``) and
``/ws/user`` (``{"auth": {apiKey, secret, passphrase}, "type": "user"}``; ``order`` and
``trade`` events of the account).

Control (test and operator use, loopback only): ``POST /sim/step {"count"}`` replays recorded
snapshots (or set ``replay_interval_ms`` to replay one per interval by itself) and answers
how many it applied, the ``cursor`` (snapshots replayed so far) and the replay's ``lap``;
``POST /sim/fault {"kind", ...}`` injects ``engine_restart``, ``post_only``,
``cancel_only``, ``closed_only``, ``rate_limit`` (optionally on one ``path`` only, e.g.
``/v1/heartbeats``), ``delay_acks`` (order posts answered ``ms`` late), ``drop_ws``,
``fail_trades``, ``bad_frames``, ``silence_pong``, ``stall_market`` (the market channel stays
connected and answers ``PING`` but sends nothing: events meanwhile are lost, a silent feed),
``ws_outage {"ms", "channel"}`` (``market``, ``user`` or ``all``: that channel's websockets are
dropped and new connections to it refused for ``ms``) or ``clear`` (every fault off);
``delay_responses {"ms"}`` sets the response delay (:attr:`SimState.response_delay_ms`, the
``--delay-ms`` setting, which ``clear`` leaves alone): every REST answer is sent that long
after the request was handled, with ``asyncio.sleep``, so other connections are served
meanwhile; ``GET /sim/state`` reports counters.

Scenario controls (same route and token; ``clear`` leaves them alone), with which a test or a
readiness check puts the simulator in the state a recorded fixture describes:
``set_book {"token_id", "bids", "asks", "ts_ms"}`` replaces a token's external book
(``[[price, size], …]`` in micro-units, as a replayed snapshot would: changes published,
crossed resting orders filled), optionally with its ``tick_size``, ``min_order_size`` (micro)
and ``neg_risk``; ``set_clock {"now_ns"}`` makes the simulator's clock (order times, GTD
expiry, the dead-man switch, trade settlement, ``GET /time``) read ``now_ns`` now and run on
from there at the wall clock's pace (:attr:`SimState.clock_offset_ns`; ``{"now_ns": 0}``
returns to the wall clock); ``reset_account {"collateral", "positions"}`` starts a fresh
session of the account (orders, trades and heartbeat forgotten; balances set, micro-units).
``set_allowance {"spender", "amount"}`` sets the account's collateral allowance to one spender
address (integer micro-pUSD; every exchange contract starts approved without limit,
:meth:`SimExchange.set_allowance`), as ``GET /balance-allowance`` then reports it.
``trade_through {"order_id"}`` makes another participant trade through our resting order: the
external levels priced better than it are swept (published) and it fills as a maker at its
price for its remaining size (:meth:`SimExchange.trade_through`).
``GET /sim/orders`` lists every order of the account with its post-only flag
(:meth:`SimExchange.orders_detail`), ``GET /sim/trades`` every trade with the order it filled
(:meth:`SimExchange.trades_detail`).

The control routes are not open to any web page the operator's browser visits: every one
needs ``Authorization: Bearer <control token>`` (the token is random per server and printed at
start, :attr:`SimState.control_token`), and the POSTs need ``Content-Type: application/json``.
A cross-site page can send neither without a CORS preflight, which this server never grants,
so a "simple" cross-site request (a form or ``text/plain`` POST) is refused: 401 without the
token, 415 with another content type.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from polytraders.model.money import from_micros
from polytraders.simclob.engine import SimError, SimExchange

Handler = Callable[[Request], Awaitable[Response]]
_BAD_FRAMES = ("{not json", '{"event_type": "mystery_event", "asset_id": "1"}')


class SimState:
    """Server-side state shared by the routes: the exchange and websocket subscribers."""

    def __init__(
        self,
        exchange: SimExchange,
        tick_interval_ms: int = 50,
        replay_interval_ms: int = 0,
        restamp: bool = False,
        control_token: str = "",
        *,
        response_delay_ms: int = 0,
    ) -> None:
        self.exchange = exchange
        self.clock_offset_ns = 0
        """Added to the wall clock to give the simulator's time (control ``set_clock``)."""
        self.response_delay_ms = response_delay_ms
        """Every REST answer (not the control routes, not the websockets) is sent this long
        after the request was handled (ms); the exchange's state changes at once."""
        self.control_token = control_token or secrets.token_urlsafe(24)
        """Bearer token the ``/sim/*`` control routes require (random unless given)."""
        self.tick_interval_ms = tick_interval_ms
        self.replay_interval_ms = replay_interval_ms
        self.last_replay_ns = 0
        self.restamp = restamp
        self.market_subs: dict[WebSocket, set[str]] = {}
        self.market_queues: dict[WebSocket, asyncio.Queue[str | None]] = {}
        self.user_queues: dict[WebSocket, asyncio.Queue[str | None]] = {}
        self.silence_pong = False
        self.market_stalled = False
        """Fault ``stall_market``: market-channel events are not sent (they are lost)."""
        self.ws_refused_until_ns: dict[str, int] = {}
        """Fault ``ws_outage``: channel (``market``/``user``) → simulator time until which new
        connections to it are refused."""
        self.ws_connections_total = 0
        self.ws_subscriptions_total = 0
        self.ws_refused_total = 0
        self.market_events_withheld = 0

    def now_ns(self) -> int:
        """The simulator's clock: the wall clock plus :attr:`clock_offset_ns` (ns)."""
        return time.time_ns() + self.clock_offset_ns

    def dispatch(self) -> None:
        """Send the exchange's outgoing events to the subscribed websockets."""
        for channel, key, event in self.exchange.drain():
            text = json.dumps([event])
            if channel == "market" and self.market_stalled:
                self.market_events_withheld += 1
                continue
            if channel == "market":
                for ws, tokens in self.market_subs.items():
                    if key in tokens:
                        if self.exchange.faults.bad_frames > 0:
                            self.exchange.faults.bad_frames -= 1
                            for frame in (*_BAD_FRAMES, _out_of_range(event)):
                                self.market_queues[ws].put_nowait(frame)
                        self.market_queues[ws].put_nowait(text)
            elif key == self.exchange.account.api_key:
                for queue in self.user_queues.values():
                    queue.put_nowait(text)

    def drop_websockets(self, channel: str = "all") -> int:
        """Close every websocket of ``channel`` (``market``, ``user`` or ``all``; fault
        ``drop_ws``); returns how many."""
        queues = [
            *(self.market_queues.values() if channel in ("market", "all") else ()),
            *(self.user_queues.values() if channel in ("user", "all") else ()),
        ]
        for queue in queues:
            queue.put_nowait(None)
        return len(queues)

    def refuses(self, channel: str) -> bool:
        """True while fault ``ws_outage`` refuses new connections to ``channel`` (counted)."""
        if self.now_ns() < self.ws_refused_until_ns.get(channel, 0):
            self.ws_refused_total += 1
            return True
        return False


def _out_of_range(event: dict[str, Any]) -> str:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": event.get("market", ""),
            "timestamp": event.get("timestamp", "0"),
            "price_changes": [
                {
                    "asset_id": event.get("asset_id")
                    or event.get("price_changes", [{}])[0].get("asset_id", ""),
                    "price": "1.5",
                    "size": "10",
                    "side": "BUY",
                    "hash": "bad",
                }
            ],
        }
    )


def _error(exc: SimError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


def build_app(state: SimState) -> Starlette:
    """The Starlette application over ``state``."""
    ex = state.exchange
    account = ex.account

    now_ns = state.now_ns

    async def body_text(request: Request) -> str:
        return (await request.body()).decode()

    def check_auth(request: Request, body: str) -> None:
        h = request.headers
        if h.get("POLY_API_KEY") != account.api_key or h.get("POLY_PASSPHRASE") != (
            account.api_passphrase
        ):
            raise SimError(401, {"error": "Unauthorized/Invalid api key"})
        message = f"{h.get('POLY_TIMESTAMP', '')}{request.method}{request.url.path}{body}"
        expected = base64.urlsafe_b64encode(
            hmac.new(
                base64.urlsafe_b64decode(account.api_secret), message.encode(), hashlib.sha256
            ).digest()
        ).decode()
        if not hmac.compare_digest(expected, h.get("POLY_SIGNATURE", "")):
            raise SimError(401, {"error": "Unauthorized: invalid L2 signature"})

    def route(auth: bool, trading: bool = False) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            async def inner(request: Request) -> Response:
                try:
                    ex.check_request_faults(now_ns(), trading=trading, path=request.url.path)
                    if auth:
                        check_auth(request, await body_text(request))
                    response = await handler(request)
                except SimError as exc:
                    response = _error(exc)
                finally:
                    state.dispatch()
                if state.response_delay_ms:  # the answer is late; other connections go on
                    await asyncio.sleep(state.response_delay_ms / 1000)
                return response

            return inner

        return wrap

    def token_or_404(request: Request) -> Any:
        token = ex.tokens.get(request.query_params.get("token_id", ""))
        if token is None:
            raise SimError(404, {"error": "No orderbook exists for the requested token id"})
        return token

    @route(auth=False)
    async def ok(request: Request) -> Response:
        return JSONResponse("OK")

    @route(auth=False)
    async def server_time(request: Request) -> Response:
        return JSONResponse(now_ns() // 1_000_000_000)

    @route(auth=False)
    async def version(request: Request) -> Response:
        return JSONResponse({"version": 2})

    @route(auth=False)
    async def market(request: Request) -> Response:
        condition = request.path_params["condition_id"]
        tokens = [t for t in ex.tokens.values() if t.market_id == condition]
        if not tokens:
            raise SimError(404, {"error": "market not found"})
        first = tokens[0]
        return JSONResponse(
            {
                "condition_id": condition,
                "active": True,
                "closed": False,
                "archived": False,
                "accepting_orders": True,
                "neg_risk": first.neg_risk,
                "minimum_tick_size": from_micros(first.tick_size),
                "minimum_order_size": from_micros(first.min_order_size),
                "seconds_delay": 0,
                "tokens": [{"token_id": t.token_id, "outcome": t.outcome} for t in tokens],
            }
        )

    @route(auth=False)
    async def book(request: Request) -> Response:
        return JSONResponse(token_or_404(request).book_wire())

    @route(auth=False)
    async def tick_size(request: Request) -> Response:
        return JSONResponse({"minimum_tick_size": from_micros(token_or_404(request).tick_size)})

    @route(auth=False)
    async def neg_risk(request: Request) -> Response:
        return JSONResponse({"neg_risk": token_or_404(request).neg_risk})

    async def delayed() -> None:
        if ex.faults.ack_delay_ms:
            await asyncio.sleep(ex.faults.ack_delay_ms / 1000)

    @route(auth=True, trading=True)
    async def post_order(request: Request) -> Response:
        body = json.loads(await body_text(request))
        answers = ex.post_orders([body], now_ns(), owner=account.api_key)
        await delayed()
        answer = answers[0]
        if not answer["success"]:
            return JSONResponse(answer, status_code=400)
        return JSONResponse(answer)

    @route(auth=True, trading=True)
    async def post_orders(request: Request) -> Response:
        bodies = json.loads(await body_text(request))
        if not isinstance(bodies, list):
            raise SimError(400, {"error": "expected a list of orders"})
        answers = ex.post_orders(bodies, now_ns(), owner=account.api_key)
        await delayed()
        return JSONResponse(answers)

    @route(auth=True, trading=True)
    async def cancel_one(request: Request) -> Response:
        body = json.loads(await body_text(request) or "{}")
        return JSONResponse(
            ex.cancel([str(body.get("orderID", ""))], now_ns(), owner=account.api_key)
        )

    @route(auth=True, trading=True)
    async def cancel_many(request: Request) -> Response:
        ids = json.loads(await body_text(request) or "[]")
        return JSONResponse(ex.cancel([str(i) for i in ids], now_ns(), owner=account.api_key))

    @route(auth=True, trading=True)
    async def cancel_all(request: Request) -> Response:
        return JSONResponse(ex.cancel_all(now_ns(), owner=account.api_key))

    @route(auth=True, trading=True)
    async def cancel_market(request: Request) -> Response:
        body = json.loads(await body_text(request) or "{}")
        ids = [
            o.order_id
            for o in ex.orders.values()
            if o.status == "LIVE"
            and (not body.get("market") or o.market_id == body["market"])
            and (not body.get("asset_id") or o.token_id == body["asset_id"])
        ]
        return JSONResponse(ex.cancel(ids, now_ns(), owner=account.api_key))

    @route(auth=True)
    async def open_orders(request: Request) -> Response:
        rows = ex.open_orders(account.api_key)
        asset = request.query_params.get("asset_id")
        market_id = request.query_params.get("market")
        rows = [
            r
            for r in rows
            if (not asset or r["asset_id"] == asset) and (not market_id or r["market"] == market_id)
        ]
        return JSONResponse({"data": rows, "next_cursor": "LTE=", "limit": 500, "count": len(rows)})

    @route(auth=True)
    async def one_order(request: Request) -> Response:
        order = ex.orders.get(request.path_params["order_id"].lower())
        if order is None:
            raise SimError(404, {"error": "order not found"})
        return JSONResponse(order.to_wire(account.api_key, account.address))

    @route(auth=True)
    async def trades(request: Request) -> Response:
        rows = ex.trades_wire(_unix_s(request, "after"), _unix_s(request, "before"))
        wanted = request.query_params.get("id")
        if wanted:
            rows = [r for r in rows if r["id"] == wanted]
        return JSONResponse({"data": rows, "next_cursor": "LTE=", "limit": 500, "count": len(rows)})

    @route(auth=True)
    async def balance(request: Request) -> Response:
        token_id = request.query_params.get("token_id")
        amount = ex.positions.get(token_id, 0) if token_id else ex.collateral
        allowances = {spender: str(value) for spender, value in ex.allowances.items()}
        return JSONResponse({"balance": str(amount), "allowances": allowances})

    @route(auth=True)
    async def closed_only(request: Request) -> Response:
        return JSONResponse({"closed_only": ex.faults.closed_only})

    @route(auth=True, trading=True)
    async def heartbeat(request: Request) -> Response:
        body = json.loads(await body_text(request) or "{}")
        return JSONResponse(ex.heartbeat(str(body.get("heartbeat_id", "")), now_ns()))

    def control(handler: Handler) -> Handler:
        """A control route: the bearer token, and JSON for a POST (see the module docstring)."""

        async def inner(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {state.control_token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return JSONResponse(
                    {"error": "simulator control needs Authorization: Bearer <control token>"},
                    status_code=401,
                )
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if request.method == "POST" and media != "application/json":
                return JSONResponse(
                    {"error": "simulator control takes Content-Type: application/json"},
                    status_code=415,
                )
            try:
                return await handler(request)
            except (ValueError, KeyError, TypeError) as exc:  # malformed JSON, a missing or
                # non-numeric parameter
                return JSONResponse({"error": f"bad control request: {exc!r}"}, status_code=400)

        return inner

    @control
    async def sim_step(request: Request) -> Response:
        body = json.loads((await request.body()) or b"{}")
        now = now_ns()
        applied = ex.step(int(body.get("count", 1)), now if state.restamp else 0, match_ns=now)
        state.dispatch()
        return JSONResponse({"applied": applied, "cursor": ex.cursor, "lap": ex.lap})

    @control
    async def sim_fault(request: Request) -> Response:
        body = json.loads((await request.body()) or b"{}")
        kind = str(body.get("kind", ""))
        f = ex.faults
        result: dict[str, Any] = {"kind": kind}
        if kind == "engine_restart":
            ex.start_engine_restart(
                now_ns(), int(body.get("duration_ms", 2_000)), int(body.get("post_only_ms", 0))
            )
        elif kind == "post_only":
            f.post_only_until_ns = now_ns() + int(body.get("duration_ms", 120_000)) * 1_000_000
        elif kind == "cancel_only":
            f.cancel_only = bool(body.get("on", True))
        elif kind == "closed_only":
            f.closed_only = bool(body.get("on", True))
        elif kind == "rate_limit":
            f.rate_limit_remaining = int(body.get("count", 1))
            f.rate_limit_retry_after_s = str(body.get("retry_after_s", "1"))
            f.rate_limit_path = str(body.get("path", ""))
        elif kind == "delay_acks":
            f.ack_delay_ms = int(body.get("ms", 0))
        elif kind == "delay_responses":
            delay_ms = int(body.get("ms", 0))
            if delay_ms < 0:
                raise ValueError(f"ms must be at least 0, not {delay_ms}")
            state.response_delay_ms = delay_ms
        elif kind == "drop_ws":
            result["dropped"] = state.drop_websockets()
        elif kind == "fail_trades":
            f.fail_trades = int(body.get("count", 1))
        elif kind == "bad_frames":
            f.bad_frames = int(body.get("count", 1))
        elif kind == "silence_pong":
            state.silence_pong = bool(body.get("on", True))
        elif kind == "stall_market":
            state.market_stalled = bool(body.get("on", True))
        elif kind == "ws_outage":
            channel = str(body.get("channel", "all"))
            if channel not in ("market", "user", "all"):
                raise ValueError(f"channel must be market, user or all, not {channel!r}")
            outage_ms = int(body.get("ms", 0))
            if outage_ms < 0:
                raise ValueError(f"ms must be at least 0, not {outage_ms}")
            until_ns = now_ns() + outage_ms * 1_000_000
            for each in ("market", "user") if channel == "all" else (channel,):
                state.ws_refused_until_ns[each] = until_ns
            result["dropped"] = state.drop_websockets(channel)
        elif kind == "set_book":
            ex.set_book(
                str(body["token_id"]),
                _levels(body.get("bids", [])),
                _levels(body.get("asks", [])),
                int(body["ts_ms"]),
                tick_size=_optional_int(body.get("tick_size")),
                min_order_size=_optional_int(body.get("min_order_size")),
                neg_risk=None if body.get("neg_risk") is None else bool(body["neg_risk"]),
                match_ns=now_ns(),
            )
            state.dispatch()
        elif kind == "trade_through":
            trade = ex.trade_through(str(body["order_id"]), now_ns())
            state.dispatch()
            result |= {"trade_id": trade.trade_id, "size": trade.size}
        elif kind == "set_clock":
            wanted_ns = int(body["now_ns"])
            state.clock_offset_ns = wanted_ns - time.time_ns() if wanted_ns else 0
            result["now_ns"] = now_ns()
        elif kind == "reset_account":
            ex.reset_account(
                int(body.get("collateral", 0)),
                {str(t): int(size) for t, size in dict(body.get("positions") or {}).items()},
            )
        elif kind == "set_allowance":
            amount = body["amount"]
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise ValueError(f"amount {amount!r} is not integer micro-units")
            ex.set_allowance(str(body["spender"]), amount)
            result["allowances"] = {k: str(v) for k, v in ex.allowances.items()}
        elif kind == "clear":
            ex.faults = type(f)()
            state.silence_pong = False
            state.market_stalled = False
            state.ws_refused_until_ns.clear()
        else:
            return JSONResponse({"error": f"unknown fault {kind!r}"}, status_code=400)
        return JSONResponse(result)

    @control
    async def sim_orders(request: Request) -> Response:
        return JSONResponse(ex.orders_detail())

    @control
    async def sim_trades(request: Request) -> Response:
        return JSONResponse(ex.trades_detail())

    @control
    async def sim_state(request: Request) -> Response:
        return JSONResponse(
            {
                "cursor": ex.cursor,
                "lap": ex.lap,
                "orders_live": sum(1 for o in ex.orders.values() if o.status == "LIVE"),
                "orders_total": len(ex.orders),
                "trades": len(ex.trades),
                "collateral": ex.collateral,
                "allowances": {k: str(v) for k, v in ex.allowances.items()},
                "positions": {k: v for k, v in ex.positions.items() if v},
                "dead_man_fired": ex.dead_man_fired,
                "heartbeat_id": ex.heartbeat_id,
                "ws_connections_total": state.ws_connections_total,
                "ws_subscriptions_total": state.ws_subscriptions_total,
                "ws_refused_total": state.ws_refused_total,
                "market_stalled": state.market_stalled,
                "market_events_withheld": state.market_events_withheld,
                "market_connections": len(state.market_queues),
                "user_connections": len(state.user_queues),
                "tokens": sorted(ex.tokens),
                "stats": ex.stats,
                "response_delay_ms": state.response_delay_ms,
            }
        )

    async def pump(ws: WebSocket, queue: asyncio.Queue[str | None]) -> None:
        while True:
            text = await queue.get()
            if text is None:
                await ws.close(code=1012)
                return
            await ws.send_text(text)

    async def ws_market(ws: WebSocket) -> None:
        if state.refuses("market"):  # fault ws_outage: the handshake is refused (HTTP 403)
            await ws.close(code=1013)
            return
        await ws.accept()
        state.ws_connections_total += 1
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        state.market_subs[ws] = set()
        state.market_queues[ws] = queue
        sender = asyncio.create_task(pump(ws, queue))
        try:
            async for text in _messages(ws, sender):
                if text == "PING":
                    if not state.silence_pong:
                        queue.put_nowait("PONG")
                    continue
                try:
                    msg = json.loads(text)
                except ValueError:
                    continue
                assets = [str(a) for a in msg.get("assets_ids", [])]
                if msg.get("operation") == "unsubscribe":
                    state.market_subs[ws].difference_update(assets)
                    continue
                state.ws_subscriptions_total += 1
                state.market_subs[ws].update(assets)
                books = [
                    ex.tokens[a].book_wire() | {"event_type": "book"}
                    for a in assets
                    if a in ex.tokens
                ]
                if books and state.market_stalled:
                    state.market_events_withheld += len(books)
                elif books:
                    queue.put_nowait(json.dumps(books))
        finally:
            state.market_subs.pop(ws, None)
            state.market_queues.pop(ws, None)
            sender.cancel()

    async def ws_user(ws: WebSocket) -> None:
        if state.refuses("user"):
            await ws.close(code=1013)
            return
        await ws.accept()
        state.ws_connections_total += 1
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        sender = asyncio.create_task(pump(ws, queue))
        try:
            async for text in _messages(ws, sender):
                if text == "PING":
                    if not state.silence_pong:
                        queue.put_nowait("PONG")
                    continue
                try:
                    msg = json.loads(text)
                except ValueError:
                    continue
                auth = msg.get("auth") or {}
                if (
                    auth.get("apiKey") != account.api_key
                    or auth.get("secret") != (account.api_secret)
                    or auth.get("passphrase") != account.api_passphrase
                ):
                    await ws.close(code=4001)
                    return
                state.user_queues[ws] = queue
        finally:
            state.user_queues.pop(ws, None)
            sender.cancel()

    async def ticker() -> None:
        while True:
            now = now_ns()
            ex.tick(now)
            if state.replay_interval_ms and (
                now - state.last_replay_ns >= state.replay_interval_ms * 1_000_000
            ):
                state.last_replay_ns = now
                ex.step(1, now if state.restamp else 0, match_ns=now)
            state.dispatch()
            await asyncio.sleep(state.tick_interval_ms / 1000)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            task.cancel()
            state.drop_websockets()

    routes = [
        Route("/ok", ok),
        Route("/time", server_time),
        Route("/version", version),
        Route("/markets/{condition_id}", market),
        Route("/book", book),
        Route("/tick-size", tick_size),
        Route("/neg-risk", neg_risk),
        Route("/order", post_order, methods=["POST"]),
        Route("/order", cancel_one, methods=["DELETE"]),
        Route("/orders", post_orders, methods=["POST"]),
        Route("/orders", cancel_many, methods=["DELETE"]),
        Route("/cancel-all", cancel_all, methods=["DELETE"]),
        Route("/cancel-market-orders", cancel_market, methods=["DELETE"]),
        Route("/data/orders", open_orders),
        Route("/data/order/{order_id}", one_order),
        Route("/data/trades", trades),
        Route("/balance-allowance", balance),
        Route("/auth/ban-status/closed-only", closed_only),
        Route("/v1/heartbeats", heartbeat, methods=["POST"]),
        Route("/sim/step", sim_step, methods=["POST"]),
        Route("/sim/fault", sim_fault, methods=["POST"]),
        Route("/sim/state", sim_state),
        Route("/sim/orders", sim_orders),
        Route("/sim/trades", sim_trades),
        WebSocketRoute("/ws/market", ws_market),
        WebSocketRoute("/ws/user", ws_user),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _levels(raw: object) -> list[tuple[int, int]]:
    """``[[price, size], …]`` (integers, micro-units) from a control body.

    Raises:
        ValueError: not a list of integer pairs (answered 400).
    """
    if not isinstance(raw, list):
        raise ValueError("levels must be a list of [price, size]")
    levels: list[tuple[int, int]] = []
    for level in raw:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise ValueError(f"bad level {level!r}")
        price, size = level
        if not isinstance(price, int) or not isinstance(size, int):
            raise ValueError(f"level {level!r} is not integer micro-units")
        levels.append((price, size))
    return levels


def _unix_s(request: Request, name: str) -> int | None:
    """The query parameter ``name`` as whole unix seconds, None when absent.

    Raises:
        SimError: 400, not a non-negative integer.
    """
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise SimError(400, {"error": f"invalid {name}: {raw!r}"})
    return int(raw)


def _optional_int(raw: object) -> int | None:
    return None if raw is None else int(str(raw))


async def _messages(ws: WebSocket, sender: asyncio.Task[None]) -> AsyncIterator[str]:
    """Text frames from ``ws`` until it closes or the sender ends (a drop)."""
    while not sender.done():
        receive = asyncio.ensure_future(ws.receive())
        done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
        if receive not in done:
            receive.cancel()
            return
        message = receive.result()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            yield text
