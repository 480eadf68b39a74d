"""The ccxt venue: the desk's :class:`~polytraders.venues.base.ReportingVenue` on a crypto
exchange through ccxt's unified API (``ccxt.async_support``, run by :class:`.client.CcxtClient`).

Like :class:`~polytraders.venues.polymarket.venue.PolymarketVenue` it is synchronous and
sequential — every method may wait on the network — and is meant to run off the decision loop
on one worker thread (:class:`~polytraders.node.venue_worker.VenueWorker`). Token ids are
``<venue>:<symbol>`` (``binance-usdm:BTCUSDT``), prices micro-quote per unit, sizes micro-units
of the base asset; everything read from the exchange is converted exactly (:mod:`.convert`).

Behaviour:

* ``submit`` checks the order against the instrument's grid (off-tick price →
  ``SYS_VENUE_INVALID_TICK``, off-step size → ``SYS_VENUE_INVALID_ORDER``, below the minimum
  quantity → ``SYS_VENUE_BELOW_MIN_SIZE``, all before anything is sent) and posts it at once
  (``create_order``, :mod:`.wire` for the kinds and client ids). The answer gives
  ``OrderAccepted``; a refusal gives ``OrderRejected`` with the code of :mod:`.errors`. A
  429/418 answer means the order was not placed: it is **withdrawn** (``OrderCanceled`` with
  ``SYS_CCXT_RATE_LIMITED``, as the Polymarket venue withdraws orders a venue-wide condition
  refuses) and new orders are withdrawn the same way until the answer's ``Retry-After``
  (else ``rate_limit_backoff_ms``) has passed. A post with no answer (network failure,
  time-out) is neither rejected nor re-sent: the order stays PENDING_NEW and the next
  ``advance`` asks for it by client order id (found → its state; unknown → ``OrderRejected``
  ``SYS_CCXT_UNAVAILABLE``); meanwhile new orders are withdrawn with that code
  (:attr:`CcxtVenue.halt_reason`, also ``SYS_CCXT_AUTH_FAILED`` once the key was refused).
* The venue keeps **its own copy** of every order it tracks (the desk's changes only through
  the events emitted here). Fills come from the exchange's trade list (``fetch_my_trades``
  from the next trade id), each trade once: fill id ``<token id>/t<trade id>``. An order
  answered or listed as filled or executed gets its trades synced at once. Terminal states
  never change; a trade found after an order closed adds to its filled size only.
* Bounded memory: a closed order (filled, cancelled, expired, rejected) is forgotten
  :data:`CLOSED_ORDER_RETENTION_S` after its last change once the trades of the quantity the
  exchange last said it executed are all applied (of an order adopted by ``rebuild``, what
  it executed before ``history_since_ns`` counts as applied), nothing waits for it (an
  unanswered post, a triggered stop not yet taken), checked on ``advance`` every second;
  until then ``advance`` syncs its symbol's trades even with no order open. So the orders and
  their id maps stay bounded (rate × retention). Which trades were booked is kept per symbol
  as the trade ids at or above the sync's next trade id (Binance trade ids grow per symbol,
  and the sync never asks below it) and, once a reconciliation snapshot was taken, at or
  above the snapshot's next id (with their orders, for its fill reports); below they are
  forgotten, and so, once a snapshot was taken, are the ids of the spot buys whose
  commission dust was counted below both next ids. ``submit`` is idempotent
  by client order id only while the venue tracks the order.
* ``advance`` (every ``poll_interval_ms``): asks for posts with no answer, syncs trades, and
  asks for the final state of every order we hold open that the exchange no longer lists open
  (``fetch_order``): FILLED, or ``OrderCanceled`` (cancelled or expired; an IOC/FAK remainder
  with ``SYS_VENUE_FAK_REMAINDER_CANCELED``, a FOK with ``SYS_VENUE_FOK_NOT_FILLED``).
  Failures of ccxt are logged and retried on the next poll; an answer that cannot be
  converted exactly raises :class:`~.convert.ConversionError` (fail closed: the worker stops
  and the desk halts).
* ``cancel`` asks by client order id (``origClientOrderId``), syncs trades, then reports
  ``OrderCanceled``; an order the exchange no longer has open is asked for its final state.
* ``cancel_all`` (kill switch; never held back by a 429 back-off) is
  :meth:`CcxtVenue.cancel_everything`: per symbol it cancels the regular orders
  (``DELETE /fapi/v1/allOpenOrders``; spot ``DELETE /api/v3/openOrders``) **and**, on
  perpetuals, the conditional ones (``DELETE /fapi/v1/algoOpenOrders``: Binance does not
  document the first as cancelling the second), then lists both again and settles every
  order we held open; anything still listed, or any request that failed, makes it raise
  :class:`~.stops.CancelAllUnconfirmedError` (fail closed: the worker stops and the desk
  halts) with the :class:`~.stops.CancelAllReport`.
  A clean shutdown may use :meth:`CcxtVenue.cancel_orders_keeping_stops` instead (regular
  orders only, confirmed the same way), so an open position keeps its protective stop.
* Protective stops (:mod:`.stops`, kept by :mod:`.protective_stop`):
  :meth:`CcxtVenue.protective_stops` lists the open conditional orders,
  :meth:`~CcxtVenue.place_protective_stop`, :meth:`~CcxtVenue.cancel_protective_stop` and
  :meth:`~CcxtVenue.replace_protective_stop` (cancel, then place only when the cancel
  is confirmed) answer a :class:`~.stops.StopOutcome` naming what the exchange holds.
  Stops are not the desk's orders: no venue events for the stop itself. The venue watches
  every stop it placed or listed whose client id starts with ``stop_client_prefix`` (the
  keeper's) until it is cancelled: while one is watched, ``advance`` syncs the symbol's
  trades even with no order of ours open, and a trade of an order the venue does not know is
  checked against the watched stops (``GET /fapi/v1/algoOrder``: its ``actualOrderId`` is
  the order the triggered stop became). A match adopts that order (``fetch_order``) and
  emits its fills once each, like any of our orders' (the desk books them: its position
  follows the exchange's); :meth:`CcxtVenue.take_triggered` hands the adopted orders over
  (the session records them). A restart adopts such an order as any traded one
  (:meth:`CcxtVenue.rebuild`).
* Funding payments (perpetuals, when ``funding_poll_ms`` is given): every ``funding_poll_ms``
  ``advance`` asks each symbol's ``FUNDING_FEE`` income (``fetch_funding_history``, ``GET
  /fapi/v1/income``, weight 30) from the latest funding time seen (inclusive) and emits each
  payment it has not emitted before as a
  :class:`~polytraders.model.events.FundingPayment` (:func:`.account.funding_payment_of`:
  id ``<token id>/f<tranId>``, the signed ``income`` rounded toward −∞), once each.
* The reconciliation snapshot's positions: on perpetuals the signed ``positionRisk`` size; on
  spot, the base asset's ``free + locked`` balance less the commission dust of our buys (the
  part below a micro-unit that rounding each base commission up to ``Fill.fee_size`` left at
  the exchange, summed exactly over every buy of ours seen), rounded down: the desk's
  position when its ledger booked every fill (docs/ccxt_venue.md "Spot position").
* There is no dead-man switch here (``heartbeat`` is True); Binance's
  ``countdownCancelAll`` is not used yet.
* :meth:`rebuild` (start-up, and a restart with no store): registers copies of the store's
  orders, adopts the exchange's open orders and the orders of every trade since
  ``history_since_ns``, and emits the fills the store does not have — once each; with
  funding polled, likewise the funding payments since ``history_since_ns`` whose ids the
  store does not have.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from polytraders.contracts.view import VenueState
from polytraders.model.events import AnyEvent, OrderAccepted, OrderCanceled, OrderRejected
from polytraders.model.fills import Fill
from polytraders.model.orders import OrderStatus, TimeInForce, VenueOrder
from polytraders.venues.base import VenueEvent
from polytraders.venues.ccxt.account import (
    FundingRate,
    PerpPosition,
    funding_of,
    funding_payment_of,
    position_of,
)
from polytraders.venues.ccxt.client import CcxtClient, build_exchange
from polytraders.venues.ccxt.config import CcxtVenueConfig
from polytraders.venues.ccxt.convert import (
    CcxtMarket,
    ConversionError,
    OffGridError,
    balance_micros,
    checked_by_ccxt,
    commission_dust,
    exact,
    holding_micros,
    market_of,
    ms_to_ns,
)
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.ccxt.errors import REASON_CODES, CcxtError, ErrorKind, classify
from polytraders.venues.ccxt.ratelimit import retry_after_ns
from polytraders.venues.ccxt.stops import (
    CancelAllReport,
    CancelAllUnconfirmedError,
    StopOutcome,
    StopRequest,
    StopState,
    stop_args,
    stop_report,
)
from polytraders.venues.ccxt.wire import (
    CLOSED_STATUSES,
    OrderRequest,
    UnsupportedOrderError,
    adopted_order,
    fill_of,
    order_report,
    order_request,
    trade_id_of,
    venue_order_id_of,
    wire_client_id,
)
from polytraders.venues.reports import (
    FillReport,
    OrderStatusReport,
    PositionReport,
    StopOrderReport,
    VenueSnapshot,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
TRADES_PAGE = 1000
"""Most trades one ``userTrades`` request returns (Binance's maximum ``limit``)."""
INCOME_PAGE = 1000
"""Most rows one ``income`` request returns (Binance's maximum ``limit``)."""
_TRIGGER = {"trigger": True}
"""ccxt's parameter sending an order call to Binance's conditional (algo) endpoints."""
SNAPSHOT_TRIES = 3
"""Reconciliation snapshots taken before giving up when trades keep changing meanwhile."""
CLOSED_ORDER_REPORT_S = 0
"""How long after an order closed this venue may still report on it (s): what a live desk's
bounded past is built from (:meth:`polytraders.desk.desk.SessionMemory.live`, which adds its
margin). 0: an order is closed only once the trades of the quantity the exchange says it
executed are applied (an answer with more ``executedQty`` than booked syncs the trades
first; a withdrawn or rejected order executed nothing), and a closed exchange order trades
no more. A trade listed late all the same (``userTrades`` behind the order's status) is
still booked by the desk after the order retired: this venue keeps the order until those
trades are applied (:data:`CLOSED_ORDER_RETENTION_S`)."""
CLOSED_ORDER_RETENTION_S = 60
"""How long this venue keeps its copy of a closed order after the order's last change (s),
once the trades of the quantity the exchange says it executed are all applied: as long as a
live desk keeps it (:data:`CLOSED_ORDER_REPORT_S` plus the desk's
:data:`~polytraders.desk.orders.LIVE_RETENTION_MARGIN_S`), so the venue knows every order
the desk still holds. A closed exchange order trades no more, so no trade of ours can name
an order forgotten this way."""
RETIRE_EVERY_NS = 1_000_000_000
"""How often :meth:`CcxtVenue.advance` looks for closed orders to forget (ns)."""
_MS = 1_000_000
_NO_DUST = Decimal(0)
_FAK_REMAINDER = "SYS_VENUE_FAK_REMAINDER_CANCELED"
_FOK_NOT_FILLED = "SYS_VENUE_FOK_NOT_FILLED"


class SnapshotError(RuntimeError):
    """The exchange's trades kept changing while a reconciliation snapshot was taken."""


class CcxtVenue:
    """A crypto exchange through ccxt (module docstring).

    Args:
        client: the ccxt client (credentials set).
        config: settings.
        history_since_ns: trades older than this are never asked for (0: the whole history
            the exchange keeps, from trade id 0).
        stop_client_prefix: client id prefix of the protective stops whose triggered orders
            are the desk's (module docstring); ``""``: none are watched.
        funding_poll_ms: how often :meth:`advance` asks for funding payments (ms; module
            docstring); None: never (the venue reports none).

    Raises:
        ValueError: ``funding_poll_ms`` on a spot venue.
    """

    def __init__(
        self,
        client: CcxtClient,
        config: CcxtVenueConfig,
        history_since_ns: int = 0,
        stop_client_prefix: str = "",
        funding_poll_ms: int | None = None,
    ) -> None:
        if funding_poll_ms is not None and config.market_type != "perp":
            raise ValueError(f"{config.venue} trades spot: it has no funding payments")
        self.client = client
        self.config = config
        self.name = config.venue
        self.history_since_ns = history_since_ns
        self.markets: dict[str, CcxtMarket] = {}
        self._orders: dict[str, VenueOrder] = {}
        self._by_wire_id: dict[str, str] = {}
        self._by_venue_id: dict[str, str] = {}
        self._fill_ids: dict[str, dict[int, str]] = {}
        """Token → trade id → client order id of each trade booked (``""`` for the fill ids
        ``rebuild`` was given), down to :meth:`_forget_closed`'s bound."""
        self._executed: dict[str, int] = {}
        """Client id → the quantity the exchange last said the order executed (micro-units)."""
        self._executed_before: dict[str, int] = {}
        """Client id → the quantity an order adopted by :meth:`rebuild` executed in trades
        before ``history_since_ns`` (never listed, so never applied; micro-units)."""
        self._next_retire_ns = 0
        self._next_trade_id: dict[str, int | None] = {}
        self._snapshot_from_id: dict[str, int] = {}
        """Token → the first trade id the next reconciliation snapshot lists (absent: from
        ``history_since_ns``): one past the last trade the previous snapshot listed."""
        self._dust: dict[str, Decimal] = {}
        """Token → the commission dust of our spot buys counted so far (base units, exact:
        :meth:`_count_dust`)."""
        self._dust_ids: dict[str, set[int]] = {}
        """Token → the trade ids whose dust is in ``_dust`` (each counted once), down to
        :meth:`_forget_closed`'s bound."""
        self._unknown: list[str] = []
        self._events: list[VenueEvent] = []
        self._blocked_until_ns = 0
        self._auth_failed = False
        self._next_sync_ns = 0
        self.stop_client_prefix = stop_client_prefix
        self._watched_stops: dict[str, StopOrderReport] = {}
        """Algo id → a protective stop of ours not known to be cancelled."""
        self._triggered: list[str] = []
        """Client ids of the orders triggered stops became, not yet taken."""
        self.funding_poll_ns = None if funding_poll_ms is None else funding_poll_ms * _MS
        self._funding_ids: set[str] = set()
        self._funding_since_ms: dict[str, int] = {}
        """Token → the latest funding time seen (ms): the next request starts there."""
        self._next_funding_ns = 0

    @classmethod
    def from_credentials(
        cls,
        credentials: ApiKeyCredentials,
        config: CcxtVenueConfig,
        history_since_ns: int = 0,
        stop_client_prefix: str = "",
        funding_poll_ms: int | None = None,
    ) -> CcxtVenue:
        """Build the exchange (:func:`.client.build_exchange`) and its client; secrets are
        never logged."""
        client = CcxtClient(build_exchange(config, credentials), config.call_timeout_s)
        return cls(client, config, history_since_ns, stop_client_prefix, funding_poll_ms)

    def close(self) -> None:
        """Close the ccxt client."""
        self.client.close()

    # ------------------------------------------------------------------ metadata
    def load_markets(self) -> list[CcxtMarket]:
        """Load the exchange's markets and keep the configured symbols' grids (start-up only).

        Raises:
            ccxt.BaseError: the exchange did not answer.
            ConversionError: a configured symbol is missing or its filters are not exact.
        """
        markets: dict[str, Any] = self._call("load_markets")
        wanted = "swap" if self.config.market_type == "perp" else "spot"
        for symbol in self.config.symbols:
            found = [m for m in markets.values() if m.get("id") == symbol and m.get(wanted)]
            if len(found) != 1:
                raise ConversionError(f"{self.config.exchange_id} has no {wanted} {symbol}")
            market = market_of(found[0], self.name)
            self.markets[market.token_id] = market
            self._next_trade_id.setdefault(market.token_id, None)
        return list(self.markets.values())

    # ------------------------------------------------------------------ state
    @property
    def halt_reason(self) -> str:
        """Registered code of the condition that withdraws new orders, or ``""``:
        ``SYS_CCXT_AUTH_FAILED`` once the exchange refused our key (sticky: an operator must
        fix the key and restart), ``SYS_CCXT_UNAVAILABLE`` while a post's outcome is unknown
        (until :meth:`advance` has asked for it)."""
        if self._auth_failed:
            return REASON_CODES[ErrorKind.AUTH]
        if self._unknown:
            return REASON_CODES[ErrorKind.UNAVAILABLE]
        return ""

    @property
    def last_heartbeat_ok_ns(self) -> int:
        """No dead-man switch is used on this venue (module docstring): always 0."""
        return 0

    @property
    def heartbeat_interval_ns(self) -> int:
        """No dead-man switch: 0 (a :class:`~polytraders.node.venue_worker.VenueWorker`
        never sends a heartbeat for it)."""
        return 0

    @property
    def request_timeout_s(self) -> float:
        """Longest wait of one call (``config.call_timeout_s``: the request, ccxt's throttle
        wait and retries)."""
        return self.config.call_timeout_s

    def venue_state(self, now_ns: int) -> VenueState:
        """Always NORMAL: the exchange announces no venue-wide modes through this adapter
        (a refused key or an unknown post is :attr:`halt_reason`)."""
        del now_ns
        return VenueState.NORMAL

    def take_reverted(self) -> list[Fill]:
        """Always empty: an exchange trade, once listed, is final (no on-chain settlement
        that could fail, unlike Polymarket's)."""
        return []

    # ------------------------------------------------------------------ Venue protocol
    def submit(self, order: VenueOrder, now_ns: int) -> None:
        """Check and post a copy of ``order`` (``order`` itself is never changed); idempotent
        by ``client_order_id``. Refusals become ``OrderRejected`` events. On spot a
        reduce-only SELL goes out as a plain SELL and a reduce-only BUY is refused
        ``SYS_VENUE_INVALID_ORDER`` before anything is sent (:mod:`.wire`)."""
        if order.client_order_id in self._orders:
            return
        order = msgspec.structs.replace(order)
        self._orders[order.client_order_id] = order
        market = self.markets.get(order.token_id)
        if market is None:
            self._reject(order, REASON_CODES[ErrorKind.INVALID_ORDER], "unknown token", now_ns)
            return
        try:
            request = self._request(order, market)
        except OffGridError as exc:
            kind = ErrorKind.INVALID_TICK if exc.field == "price" else ErrorKind.INVALID_ORDER
            self._reject(order, REASON_CODES[kind], str(exc), now_ns)
            return
        except UnsupportedOrderError as exc:
            self._reject(order, REASON_CODES[ErrorKind.INVALID_ORDER], str(exc), now_ns)
            return
        if order.size < market.instrument.min_size:
            self._reject(
                order, REASON_CODES[ErrorKind.BELOW_MIN_SIZE], "below the minimum quantity", now_ns
            )
            return
        wire_id = str(request.params["newClientOrderId"])
        self._by_wire_id[wire_id] = order.client_order_id
        if self.halt_reason:
            self._withdraw(order, self.halt_reason, now_ns)
            return
        if now_ns < self._blocked_until_ns:
            self._withdraw(order, REASON_CODES[ErrorKind.RATE_LIMITED], now_ns)
            return
        try:
            answer = self._call(
                "create_order",
                market.ccxt_symbol,
                request.order_type,
                request.side,
                request.amount,
                request.price,
                request.params,
            )
        except Exception as exc:
            error = self._failure(exc, now_ns)
            if error.kind is ErrorKind.RATE_LIMITED:
                self._withdraw(order, error.reason_code, now_ns)
            elif error.outcome_unknown:
                log.warning("order %s: no answer (%s)", order.client_order_id, error.message)
                self._unknown.append(order.client_order_id)
            else:
                self._reject(order, error.reason_code, error.message, now_ns)
            return
        self._apply_order_info(order, answer["info"], now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancel one order by client order id; ``OrderCanceled`` follows when the exchange
        cancelled it (its fills before that are synced first)."""
        order = self._orders.get(client_order_id)
        if order is None or not order.status.is_open or order.token_id not in self.markets:
            return
        market = self.markets[order.token_id]
        params = {"origClientOrderId": wire_client_id(client_order_id)}
        try:
            answer = self._call("cancel_order", None, market.ccxt_symbol, params)
        except Exception as exc:
            error = self._failure(exc, now_ns)
            if error.kind is ErrorKind.ORDER_NOT_FOUND:
                self._settle(order, now_ns)
            else:
                log.warning("cancel %s failed: %s", client_order_id, error.message)
            return
        self._apply_order_info(order, answer["info"], now_ns)

    def cancel_all(self, now_ns: int) -> None:
        """Cancel every order at the exchange, regular and conditional, and confirm it
        (:meth:`cancel_everything`).

        Raises:
            CancelAllUnconfirmedError: something is still open, or a request failed.
        """
        report = self.cancel_everything(now_ns)
        if not report.confirmed:
            raise CancelAllUnconfirmedError(report)

    def cancel_orders_keeping_stops(self, now_ns: int) -> None:
        """A clean shutdown's cancel: every regular order at the exchange, confirmed, while
        the conditional (protective stop) orders stay, so a position left open keeps its
        exchange-side protection (:meth:`cancel_everything` with ``keep_stops``).

        Raises:
            CancelAllUnconfirmedError: a regular order is still open, or a request failed.
        """
        report = self.cancel_everything(now_ns, keep_stops=True)
        if not report.confirmed:
            raise CancelAllUnconfirmedError(report)

    def cancel_everything(self, now_ns: int, *, keep_stops: bool = False) -> CancelAllReport:
        """Per traded symbol: cancel all regular orders, cancel all conditional orders
        (perpetuals; not with ``keep_stops``, whose report then lists no stops), then list
        them again (and our positions on perpetuals: what an unwind would close); settle
        every order we held open (fills synced first); when no conditional order is left,
        sync the trades of the symbols with watched protective stops (one triggered before
        the cancel is adopted) and watch none. Every request is made even when an earlier
        one failed; ccxt failures are reported, never raised — except an "unknown order"
        answer to a cancel-all, which says nothing was open (Binance spot answers ``DELETE
        /api/v3/openOrders`` so, -2011, when no order is open): the listing that follows is
        the confirmation either way.

        Raises:
            ConversionError: an answer that cannot be converted exactly.
        """
        perp = self.config.market_type == "perp"
        stops_too = perp and not keep_stops
        failures: list[str] = []
        orders: list[OrderStatusReport] = []
        stops: list[StopOrderReport] = []
        for market in self.markets.values():
            for params in ({}, _TRIGGER) if stops_too else ({},):
                try:
                    self._call("cancel_all_orders", market.ccxt_symbol, params)
                except Exception as exc:
                    error = self._failure(exc, now_ns)
                    if error.kind is not ErrorKind.ORDER_NOT_FOUND:  # nothing open to cancel
                        failures.append(error.message)
            try:
                orders.extend(self._open_order_reports(market, now_ns))
                if stops_too:
                    stops.extend(self.protective_stops(market.token_id, now_ns))
            except ConversionError:
                raise
            except Exception as exc:
                failures.append(self._failure(exc, now_ns).message)
        positions: tuple[PositionReport, ...] = ()
        if perp:
            try:
                positions = self._position_reports()
            except ConversionError:
                raise
            except Exception as exc:
                failures.append(self._failure(exc, now_ns).message)
        for order in list(self._orders.values()):
            if order.status.is_open and order.venue_order_id:
                self._settle(order, now_ns)
        if stops_too and not stops and not failures:
            self._forget_stops(now_ns, failures)
        report = CancelAllReport(
            venue=self.name,
            ts_ns=now_ns,
            orders_left=tuple(orders),
            stops_left=tuple(stops),
            positions=positions,
            failures=tuple(failures),
        )
        if not report.confirmed:
            log.error("%s: %s", CancelAllUnconfirmedError.reason_code, report)
        return report

    # ------------------------------------------------------------------ protective stops
    def protective_stops(self, token_id: str, now_ns: int) -> list[StopOrderReport]:
        """The open conditional orders of ``token_id`` at the exchange (perpetuals), oldest
        first.

        Raises:
            ccxt.BaseError: no answer.
            ConversionError: an answer that cannot be converted exactly.
        """
        market = self.markets[token_id]
        listed = self._call("fetch_open_orders", market.ccxt_symbol, None, None, _TRIGGER)
        reports = [stop_report(row["info"], market, now_ns) for row in listed]
        for report in reports:
            self._watch(report)
        return reports

    def place_protective_stop(self, request: StopRequest, now_ns: int) -> StopOutcome:
        """Place a ``STOP_MARKET`` for ``request`` (:mod:`.stops`). Refused → ``NO_STOP``
        with the exchange's code (``SYS_CCXT_STOP_WOULD_TRIGGER`` when the price is already
        through it); no answer → ``UNKNOWN``.

        Raises:
            ValueError: a flat position.
            OffGridError: stop price or size off the grid (nothing is sent).
            ConversionError: not a perpetual venue, or an answer that is not exact.
        """
        self._require_perp()
        market = self.markets[request.token_id]
        side, amount, params = stop_args(request, market)
        exchange = self.client.exchange
        params["stopPrice"] = checked_by_ccxt(
            params["stopPrice"], exchange.price_to_precision, market.ccxt_symbol, "price"
        )
        if amount is not None:
            amount = checked_by_ccxt(
                amount, exchange.amount_to_precision, market.ccxt_symbol, "size"
            )
        try:
            answer = self._call(
                "create_order", market.ccxt_symbol, "STOP_MARKET", side, amount, None, params
            )
        except Exception as exc:
            error = self._failure(exc, now_ns)
            state = StopState.UNKNOWN if error.outcome_unknown else StopState.NO_STOP
            return StopOutcome(state=state, reason_code=error.reason_code, message=error.message)
        placed = stop_report(answer["info"], market, now_ns)
        self._watch(placed)
        return StopOutcome(state=StopState.NEW_STOP, stop=placed)

    def cancel_protective_stop(self, stop: StopOrderReport, now_ns: int) -> StopOutcome:
        """Cancel one conditional order by its algo id: ``NO_STOP`` when cancelled or no
        longer open (``SYS_VENUE_UNKNOWN_ORDER``: triggered or cancelled before), ``OLD_STOP``
        when refused, ``UNKNOWN`` without an answer."""
        market = self.markets[stop.token_id]
        try:
            self._call("cancel_order", stop.venue_order_id, market.ccxt_symbol, _TRIGGER)
        except Exception as exc:
            error = self._failure(exc, now_ns)
            if error.kind is ErrorKind.ORDER_NOT_FOUND:
                state = StopState.NO_STOP
            elif error.outcome_unknown:
                state = StopState.UNKNOWN
            else:
                state = StopState.OLD_STOP
            return StopOutcome(
                state=state,
                stop=stop if state is StopState.OLD_STOP else None,
                reason_code=error.reason_code,
                message=error.message,
            )
        self._watched_stops.pop(stop.venue_order_id, None)  # cancelled: it never triggers
        return StopOutcome(state=StopState.NO_STOP)

    def replace_protective_stop(
        self, old: StopOrderReport, request: StopRequest, now_ns: int
    ) -> StopOutcome:
        """Cancel ``old``, then place ``request`` only when the exchange confirmed ``old``
        is gone (never two stops): a failed cancel answers ``OLD_STOP`` (or ``UNKNOWN``)
        and places nothing; a refused place after the cancel answers ``NO_STOP``.

        Raises:
            ValueError, OffGridError, ConversionError: as :meth:`place_protective_stop`.
        """
        cancelled = self.cancel_protective_stop(old, now_ns)
        if cancelled.state is not StopState.NO_STOP:
            return cancelled
        return self.place_protective_stop(request, now_ns)

    def on_market_event(self, event: AnyEvent) -> None:
        """A live venue does not match locally: market events are ignored."""
        del event

    def advance(self, now_ns: int) -> None:
        """Every ``poll_interval_ms``: ask for unanswered posts, sync trades (of symbols with
        an order of ours open, an order whose trades do not add up yet to what the exchange
        said it executed, or a watched protective stop) and settle orders the exchange no
        longer lists open; every ``funding_poll_ms`` (when given) sync funding payments; every
        second forget what is due (:meth:`_forget_closed`). ccxt failures are logged and
        retried next time.

        Raises:
            ConversionError: an answer that cannot be converted exactly.
        """
        if now_ns < self._next_sync_ns:
            return
        self._next_sync_ns = now_ns + self.config.poll_interval_ms * _MS
        try:
            self._resolve_unknown(now_ns)
            for token_id, market in self.markets.items():
                mine = [
                    o
                    for o in self._orders.values()
                    if o.token_id == token_id and o.status.is_open and o.venue_order_id
                ]
                watched = any(s.token_id == token_id for s in self._watched_stops.values())
                short = any(
                    o.token_id == token_id and self._trades_missing(cid, o)
                    for cid, o in self._orders.items()
                )
                if mine or watched or short:
                    self._sync_trades(market, now_ns)
                if not mine:
                    continue
                listed = self._call("fetch_open_orders", market.ccxt_symbol)
                still_open = {venue_order_id_of(row["info"]) for row in listed}
                for order in mine:
                    if order.status.is_open and order.venue_order_id not in still_open:
                        self._settle(order, now_ns)
            if self.funding_poll_ns is not None and now_ns >= self._next_funding_ns:
                self._next_funding_ns = now_ns + self.funding_poll_ns
                self._sync_funding(now_ns)
        except ConversionError:
            raise
        except Exception as exc:
            error = self._failure(exc, now_ns)
            log.warning("%s poll failed: %s", self.name, error.message)
        if now_ns >= self._next_retire_ns:
            self._forget_closed(now_ns)

    def poll(self) -> list[VenueEvent]:
        """Venue events since the last poll, in order."""
        events, self._events = self._events, []
        return events

    def open_orders(self) -> Sequence[VenueOrder]:
        """Copies of our orders believed open."""
        return [msgspec.structs.replace(o) for o in self._orders.values() if o.status.is_open]

    def balances(self) -> dict[str, int]:
        """Asset → free balance (micro-units, rounded down): ``availableBalance`` of each
        USDⓈ-M wallet asset, ``free`` of each spot asset.

        Raises:
            ccxt.BaseError: the exchange did not answer.
            ConversionError: a balance is not decimal text.
        """
        info = self._call("fetch_balance")["info"]
        if self.config.market_type == "perp":
            return {a["asset"]: balance_micros(a, "availableBalance") for a in info["assets"]}
        return {b["asset"]: balance_micros(b, "free") for b in info["balances"]}

    def wallet_balances(self) -> dict[str, int]:
        """Asset → what the account holds of it (micro-units, rounded down), the desk's
        starting cash (``commands/live_ccxt.py``). USDⓈ-M: ``walletBalance`` (deposits plus
        realized PnL, fees and funding, without unrealized PnL or the margin that positions
        and orders hold; the desk's cash is this less its positions' entry notionals). Spot:
        ``free + locked`` (what resting orders lock is still held).

        Raises:
            ccxt.BaseError: the exchange did not answer.
            ConversionError: a balance is not decimal text.
        """
        info = self._call("fetch_balance")["info"]
        if self.config.market_type == "perp":
            return {a["asset"]: balance_micros(a, "walletBalance") for a in info["assets"]}
        return {b["asset"]: holding_micros(b, Decimal(0)) for b in info["balances"]}

    def heartbeat(self, now_ns: int) -> bool:
        """No dead-man switch is used on this venue: always True."""
        del now_ns
        return True

    # ------------------------------------------------------------------ perpetuals
    def positions(self) -> dict[str, PerpPosition]:
        """Token → our one-way position (signed size, exact entry price) for every traded
        perpetual; a flat symbol (which Binance's v3 ``positionRisk`` does not list) is size 0.

        Raises:
            ccxt.BaseError: the exchange did not answer.
            ConversionError: not a perpetual venue, or a field is not exact.
        """
        self._require_perp()
        symbols = [m.ccxt_symbol for m in self.markets.values()]
        rows = self._call("fetch_positions", symbols)
        held = {m.token_id: PerpPosition(token_id=m.token_id) for m in self.markets.values()}
        by_symbol = {m.instrument.symbol: m for m in self.markets.values()}
        for row in rows:
            market = by_symbol.get(str(row["info"].get("symbol")))
            if market is not None:
                held[market.token_id] = position_of(row["info"], market.token_id)
        return held

    def set_leverage(self, token_id: str, leverage: int) -> int:
        """Set the symbol's leverage; returns the leverage the exchange confirms.

        Raises:
            ccxt.BaseError: refused (ccxt checks 1–125 itself) or no answer.
            ConversionError: not a perpetual venue, or an unexpected answer.
        """
        self._require_perp()
        market = self.markets[token_id]
        answer = self._call("set_leverage", leverage, market.ccxt_symbol)
        confirmed = answer.get("leverage")
        if isinstance(confirmed, str) and confirmed.isdigit():
            confirmed = int(confirmed)
        if not isinstance(confirmed, int) or isinstance(confirmed, bool):
            raise ConversionError(f"leverage: expected an integer, got {confirmed!r}")
        return confirmed

    def funding_rate(self, token_id: str) -> FundingRate:
        """The symbol's current funding rate and mark price (exact, :mod:`.account`).

        Raises:
            ccxt.BaseError: no answer.
            ConversionError: not a perpetual venue, or a field is not exact.
        """
        self._require_perp()
        market = self.markets[token_id]
        answer = self._call("fetch_funding_rate", market.ccxt_symbol)
        return funding_of(answer["info"], token_id)

    # ------------------------------------------------------------------ reconciliation
    def reconciliation_snapshot(self, now_ns: int) -> VenueSnapshot:
        """What the exchange holds for us now: open orders (``client_order_id`` ``""`` for an
        order this venue does not know), the fills of our orders (trades of orders this venue
        does not know are left out; a forgotten order's booked trades since the previous
        snapshot are still ours: :meth:`_forget_closed`) and every traded symbol's position:
        on perpetuals the signed position, with the open conditional (stop) orders; on spot
        the base asset's ``free + locked`` balance less the dust of our buys' commissions,
        rounded down (module docstring). Trades are listed before and after the rest; when
        they changed, everything is asked again, at most :data:`SNAPSHOT_TRIES` times.

        The first snapshot lists the trades since ``history_since_ns``; each later one only
        those after the last trade the previous one listed (Binance trade ids grow per
        symbol), so its cost is the interval's trades, not the session's: a trade of ours
        before that was listed, and reported if not booked, by an earlier snapshot, and the
        positions, compared in full each time, still show what it moved. The only state it
        changes is that starting id and the dust of the listed buys of ours, once the answers
        are in.

        Raises:
            ccxt.BaseError: the exchange did not answer.
            ConversionError: an answer that cannot be converted exactly.
            SnapshotError: trades kept changing.
        """
        for _try in range(SNAPSHOT_TRIES):
            before = self._snapshot_trades()
            orders: list[OrderStatusReport] = []
            stops: list[StopOrderReport] = []
            for market in self.markets.values():
                orders.extend(self._open_order_reports(market, now_ns))
                if self.config.market_type == "perp":
                    stops.extend(self.protective_stops(market.token_id, now_ns))
            positions: tuple[PositionReport, ...] = ()
            balances: dict[str, Any] = {}
            if self.config.market_type == "perp":
                positions = self._position_reports()
            else:
                balances = self._base_balances()
            after = self._snapshot_trades()
            if [t for _, t in before] == [t for _, t in after]:
                break
        else:
            raise SnapshotError(f"{self.name}: trades kept changing during the snapshot")
        for market, info in after:
            token = market.token_id
            self._snapshot_from_id[token] = max(
                self._snapshot_from_id.get(token, 0), trade_id_of(info) + 1
            )
        fills = []
        for market, info in after:
            ours = self._by_venue_id.get(venue_order_id_of(info)) or self._fill_ids.get(
                market.token_id, {}
            ).get(trade_id_of(info))
            if ours:
                fill = fill_of(info, market, ours, now_ns)
                self._count_dust(fill, info)
                fills.append(FillReport.of(fill))
        if self.config.market_type == "spot":
            positions = self._spot_position_reports(balances)
        return VenueSnapshot(
            venue=self.name,
            ts_ns=now_ns,
            orders=tuple(orders),
            fills=tuple(sorted(fills, key=lambda f: (f.ts_event_ns, f.fill_id))),
            positions=positions,
            stops=tuple(stops),
        )

    def rebuild(
        self,
        now_ns: int,
        orders: Sequence[VenueOrder] = (),
        known_fill_ids: Iterable[str] = (),
        known_funding_ids: Iterable[str] = (),
    ) -> None:
        """Start-up: register copies of the store's ``orders`` (never changed) and the fill
        and funding payment ids it holds, then learn the rest from the exchange: every open
        order and every order with a trade since ``history_since_ns`` is adopted under the
        client order id the exchange lists (ours when it was sent unchanged, the wire id
        otherwise), the fills the store lacks are emitted once each (``Fill`` events), stored
        orders no longer open are settled, and, with funding polled, the funding payments
        since ``history_since_ns`` the store lacks are emitted once each (``FundingPayment``
        events; the next poll is ``funding_poll_ms`` later). Produces no OrderAccepted for
        adopted orders.

        Raises:
            ccxt.BaseError: the exchange did not answer.
            ConversionError: an answer that cannot be converted exactly.
        """
        for known in known_fill_ids:
            token, _, trade_id = known.rpartition("/t")
            if token and trade_id.isascii() and trade_id.isdigit():  # else no trade's id
                self._fill_ids.setdefault(token, {}).setdefault(int(trade_id), "")
        for stored in orders:
            copy = msgspec.structs.replace(stored)
            self._orders.setdefault(copy.client_order_id, copy)
            self._by_wire_id[wire_client_id(copy.client_order_id)] = copy.client_order_id
            if copy.venue_order_id:
                self._by_venue_id[copy.venue_order_id] = copy.client_order_id
        listed_open: set[str] = set()
        for market in self.markets.values():
            listed = self._call("fetch_open_orders", market.ccxt_symbol)
            for row in listed:
                self._adopt(row["info"], market, now_ns)
                listed_open.add(venue_order_id_of(row["info"]))
            self._sync_trades(market, now_ns, adopt=True)
        from_store = {o.client_order_id for o in orders}
        for cid, order in self._orders.items():
            if cid not in from_store:  # adopted: every trade since history_since_ns is applied
                before = self._executed.get(cid, 0) - order.filled_size
                self._executed_before[cid] = max(before, 0)
        for order in list(self._orders.values()):
            if not order.status.is_open or order.venue_order_id in listed_open:
                continue
            if order.venue_order_id:
                self._settle(order, now_ns)
            elif order.client_order_id not in self._unknown:
                self._unknown.append(order.client_order_id)  # asked on the next advance
        self._funding_ids.update(known_funding_ids)
        if self.funding_poll_ns is not None:
            self._sync_funding(now_ns)
            self._next_funding_ns = now_ns + self.funding_poll_ns

    def orders(self) -> list[VenueOrder]:
        """Copies of every order the venue tracks (open and closed), in the order learnt."""
        return [msgspec.structs.replace(o) for o in self._orders.values()]

    def order(self, client_order_id: str) -> VenueOrder | None:
        """A copy of the venue's view of one order."""
        order = self._orders.get(client_order_id)
        return None if order is None else msgspec.structs.replace(order)

    # ------------------------------------------------------------------ internals
    def _call(self, method: str, *args: Any) -> Any:
        """``await exchange.<method>(*args)`` on the client's loop (:meth:`CcxtClient.call`)."""

        async def request(exchange: Any) -> Any:
            return await getattr(exchange, method)(*args)

        return self.client.call(request)

    def _open_order_reports(self, market: CcxtMarket, now_ns: int) -> list[OrderStatusReport]:
        """The exchange's open regular orders of ``market`` (``client_order_id`` ``""`` for
        an order this venue does not know)."""
        reports = []
        for row in self._call("fetch_open_orders", market.ccxt_symbol):
            info = row["info"]
            cid = self._by_wire_id.get(str(info.get("clientOrderId")), "")
            reports.append(order_report(info, market, cid, now_ns))
        return reports

    def _base_balances(self) -> dict[str, Any]:
        """Base asset → its row of the spot account's balances (``asset``, ``free``,
        ``locked``; absent when the exchange lists none)."""
        rows = self._call("fetch_balance")["info"]["balances"]
        bases = {m.base for m in self.markets.values()}
        return {row["asset"]: row for row in rows if row.get("asset") in bases}

    def _spot_position_reports(self, balances: Mapping[str, Any]) -> tuple[PositionReport, ...]:
        """Each spot instrument's position: its base asset's ``free + locked`` less the dust
        of our buys (:func:`.convert.holding_micros`), rounded down; 0 when not listed.

        Raises:
            ConversionError: a balance is not decimal text, or two instruments share a base
                asset (its balance cannot be split between them).
        """
        markets = sorted(self.markets.values(), key=lambda m: m.token_id)
        bases = [m.base for m in markets]
        for base in bases:
            if bases.count(base) > 1:
                raise ConversionError(
                    f"{self.name}: several instruments trade {base}: its balance is no one "
                    "instrument's position"
                )
        zero = {"free": "0", "locked": "0"}
        return tuple(
            PositionReport(
                token_id=m.token_id,
                size=holding_micros(
                    balances.get(m.base, zero), self._dust.get(m.token_id, _NO_DUST)
                ),
            )
            for m in markets
        )

    def _count_dust(self, fill: Fill, info: Mapping[str, Any]) -> None:
        """Add ``fill``'s commission dust (a buy's commission in the base, rounded up to
        ``fee_size``: :func:`.convert.commission_dust`) to its token's, once per trade."""
        token = fill.token_id
        counted = self._dust_ids.setdefault(token, set())
        trade_id = trade_id_of(info)
        if fill.fee_size and trade_id not in counted:
            counted.add(trade_id)
            self._dust[token] = self._dust.get(token, _NO_DUST) + commission_dust(info)

    def _position_reports(self) -> tuple[PositionReport, ...]:
        return tuple(
            PositionReport(token_id=p.token_id, size=p.size)
            for p in sorted(self.positions().values(), key=lambda p: p.token_id)
        )

    def _require_perp(self) -> None:
        if self.config.market_type != "perp":
            raise ConversionError(f"{self.name} trades spot: no positions, leverage or funding")

    def _request(self, order: VenueOrder, market: CcxtMarket) -> OrderRequest:
        request = order_request(order, market, perp=self.config.market_type == "perp")
        exchange = self.client.exchange
        amount = checked_by_ccxt(
            request.amount, exchange.amount_to_precision, market.ccxt_symbol, "size"
        )
        price = request.price
        if price is not None:
            price = checked_by_ccxt(price, exchange.price_to_precision, market.ccxt_symbol, "price")
        return msgspec.structs.replace(request, amount=amount, price=price)

    def _failure(self, exc: Exception, now_ns: int) -> CcxtError:
        """Classify a ccxt failure (anything else propagates) and start the back-off of a
        429/418."""
        error = classify(exc)
        if error.kind is ErrorKind.AUTH:
            self._auth_failed = True
        if error.kind is ErrorKind.RATE_LIMITED:
            headers = getattr(self.client.exchange, "last_response_headers", None)
            until = now_ns + retry_after_ns(headers, self.config.rate_limit_backoff_ms)
            self._blocked_until_ns = max(self._blocked_until_ns, until)
            log.warning("%s rate limited until %d: %s", self.name, until, error.message)
        return error

    def _apply_order_info(self, order: VenueOrder, info: dict[str, Any], now_ns: int) -> None:
        """Apply an order answer (post, cancel, query): acknowledge it, sync its trades when
        it executed anything, then close it when the exchange closed it."""
        if order.client_order_id in self._unknown:
            self._unknown.remove(order.client_order_id)
        venue_id = venue_order_id_of(info)
        order.venue_order_id = venue_id
        self._by_venue_id[venue_id] = order.client_order_id
        self._note_executed(order.client_order_id, info)
        ts_event = ms_to_ns(info, "updateTime") if "updateTime" in info else now_ns
        if order.status is OrderStatus.PENDING_NEW:
            order.status = OrderStatus.ACCEPTED
            order.ts_updated_ns = now_ns
            self._events.append(
                OrderAccepted(
                    ts_event_ns=ts_event,
                    ts_recv_ns=now_ns,
                    client_order_id=order.client_order_id,
                    venue_order_id=venue_id,
                )
            )
        if exact(info, "executedQty") > order.filled_size:
            self._sync_trades(self.markets[order.token_id], now_ns)
        status = info.get("status")
        if status not in CLOSED_STATUSES or not order.status.is_open:
            return
        if status == "FILLED":
            order.status = OrderStatus.FILLED
            order.ts_updated_ns = now_ns
            return
        reason = ""
        if status != "CANCELED" and order.time_in_force is TimeInForce.FAK:
            reason = _FAK_REMAINDER
        elif status != "CANCELED" and order.time_in_force is TimeInForce.FOK:
            reason = _FOK_NOT_FILLED
        self._mark_canceled(order, now_ns, reason, ts_event)

    def _settle(self, order: VenueOrder, now_ns: int) -> None:
        """Ask for the state of an order the exchange no longer lists open, and apply it."""
        market = self.markets[order.token_id]
        params = {"origClientOrderId": wire_client_id(order.client_order_id)}
        try:
            answer = self._call("fetch_order", None, market.ccxt_symbol, params)
        except Exception as exc:
            error = self._failure(exc, now_ns)
            log.warning("order %s: state unknown (%s)", order.client_order_id, error.message)
            return
        self._apply_order_info(order, answer["info"], now_ns)

    def _resolve_unknown(self, now_ns: int) -> None:
        """Ask for every post that got no answer: found → its state; not found → rejected."""
        for cid in list(self._unknown):
            order = self._orders[cid]
            market = self.markets[order.token_id]
            params = {"origClientOrderId": wire_client_id(cid)}
            try:
                answer = self._call("fetch_order", None, market.ccxt_symbol, params)
            except Exception as exc:
                error = self._failure(exc, now_ns)
                if error.kind is not ErrorKind.ORDER_NOT_FOUND:
                    raise
                self._unknown.remove(cid)
                self._reject(
                    order,
                    REASON_CODES[ErrorKind.UNAVAILABLE],
                    "the post got no answer and the exchange does not know the order",
                    now_ns,
                )
                continue
            self._apply_order_info(order, answer["info"], now_ns)

    def _trades_since(self, market: CcxtMarket, from_id: int | None) -> list[dict[str, Any]]:
        """Every trade of ours on ``market`` from trade id ``from_id`` (or, when None, from
        ``history_since_ns``), oldest first, page by page."""
        out: list[dict[str, Any]] = []
        while True:
            if from_id is None:
                since_ms = self.history_since_ns // _MS if self.history_since_ns else None
                params: dict[str, Any] = {} if since_ms else {"fromId": 0}
            else:
                since_ms, params = None, {"fromId": from_id}
            page = self._call("fetch_my_trades", market.ccxt_symbol, since_ms, TRADES_PAGE, params)
            infos = [row["info"] for row in page]
            out.extend(infos)
            if len(infos) < TRADES_PAGE:
                return out
            from_id = max(trade_id_of(i) for i in infos) + 1

    def _snapshot_trades(self) -> list[tuple[CcxtMarket, dict[str, Any]]]:
        return [
            (market, info)
            for market in self.markets.values()
            for info in self._trades_since(market, self._snapshot_from_id.get(market.token_id))
        ]

    def _sync_trades(self, market: CcxtMarket, now_ns: int, *, adopt: bool = False) -> None:
        """Apply every new trade of ``market`` (each once); with ``adopt``, a trade of an
        order this venue does not know adopts that order first (asked by order id); without,
        only when a watched protective stop became that order (:meth:`_adopt_if_triggered`)."""
        infos = self._trades_since(market, self._next_trade_id.get(market.token_id))
        for info in sorted(infos, key=trade_id_of):
            trade_id = trade_id_of(info)
            venue_id = venue_order_id_of(info)
            booked = trade_id in self._fill_ids.get(market.token_id, {})
            if not booked and venue_id not in self._by_venue_id:
                if adopt:
                    answer = self._call("fetch_order", venue_id, market.ccxt_symbol)
                    self._adopt(answer["info"], market, now_ns)
                else:
                    self._adopt_if_triggered(venue_id, market, now_ns)
            # past this trade only once its order is learnt: a failed request retries it
            nxt = self._next_trade_id.get(market.token_id)
            self._next_trade_id[market.token_id] = max(nxt or 0, trade_id + 1)
            cid = self._by_venue_id.get(venue_id)
            if cid is None:
                if not booked:
                    log.info("trade %d of order %s is not ours: ignored", trade_id, venue_id)
                continue
            fill = fill_of(info, market, cid, now_ns)
            self._count_dust(fill, info)
            if booked:
                continue
            self._fill_ids.setdefault(market.token_id, {})[trade_id] = cid
            order = self._orders[cid]
            order.filled_size += fill.size
            order.ts_updated_ns = now_ns
            if order.status.is_open:
                order.status = (
                    OrderStatus.FILLED
                    if order.filled_size >= order.size
                    else OrderStatus.PARTIALLY_FILLED
                )
            self._events.append(fill)

    def _sync_funding(self, now_ns: int) -> None:
        """Emit every funding payment of ours not emitted before (each once), asking each
        symbol's ``FUNDING_FEE`` income from its latest funding time seen (inclusive; at
        first from ``history_since_ns``, or the exchange's default window when 0), page by
        page, oldest first."""
        for market in self.markets.values():
            token_id = market.token_id
            since_ms = self._funding_since_ms.get(token_id)
            if since_ms is None and self.history_since_ns:
                since_ms = self.history_since_ns // _MS
            while True:
                page = self._call(
                    "fetch_funding_history", market.ccxt_symbol, since_ms, INCOME_PAGE
                )
                payments = sorted(
                    (funding_payment_of(row["info"], market, now_ns) for row in page),
                    key=lambda p: p.ts_event_ns,
                )
                for payment in payments:
                    latest_ms = payment.ts_event_ns // _MS
                    self._funding_since_ms[token_id] = max(
                        self._funding_since_ms.get(token_id, latest_ms), latest_ms
                    )
                    if payment.funding_id not in self._funding_ids:
                        self._funding_ids.add(payment.funding_id)
                        self._events.append(payment)
                following = self._funding_since_ms.get(token_id)
                if len(page) < INCOME_PAGE or following == since_ms:
                    break  # the last page (a full page at one instant cannot move on)
                since_ms = following

    def _forget_stops(self, now_ns: int, failures: list[str]) -> None:
        """Every conditional order is gone: sync the trades of the symbols with watched
        stops (a stop triggered before the cancel is adopted), then watch none."""
        for market in self.markets.values():
            if any(s.token_id == market.token_id for s in self._watched_stops.values()):
                try:
                    self._sync_trades(market, now_ns)
                except ConversionError:
                    raise
                except Exception as exc:
                    failures.append(self._failure(exc, now_ns).message)
                    return
        self._watched_stops.clear()

    def _watch(self, stop: StopOrderReport) -> None:
        """Watch a listed or placed stop when it is a protective stop of ours."""
        if self.stop_client_prefix and stop.client_order_id.startswith(self.stop_client_prefix):
            self._watched_stops[stop.venue_order_id] = stop

    def _adopt_if_triggered(self, venue_id: str, market: CcxtMarket, now_ns: int) -> None:
        """Adopt the unknown order ``venue_id`` when a watched stop of ``market`` became it
        (the stop's ``actualOrderId``); that stop is no longer watched."""
        for algo_id, stop in list(self._watched_stops.items()):
            if stop.token_id != market.token_id:
                continue
            algo = self._call("fetch_order", algo_id, market.ccxt_symbol, _TRIGGER)["info"]
            if str(algo.get("actualOrderId") or "") != venue_id:
                continue
            del self._watched_stops[algo_id]
            answer = self._call("fetch_order", venue_id, market.ccxt_symbol)
            self._adopt(answer["info"], market, now_ns)
            self._triggered.append(self._by_venue_id[venue_id])
            log.warning("protective stop %s triggered: order %s", stop.client_order_id, venue_id)
            return

    def take_triggered(self) -> list[VenueOrder]:
        """Copies of the orders triggered protective stops became (fills applied) since the
        last call, in the order found."""
        cids, self._triggered = self._triggered, []
        return [msgspec.structs.replace(self._orders[cid]) for cid in cids]

    def _adopt(self, info: dict[str, Any], market: CcxtMarket, now_ns: int) -> None:
        """Track an exchange order by its listing (known by wire id: our copy gets its
        venue id and open/closed state; unknown: adopted under its listed client id)."""
        wire_id = str(info.get("clientOrderId", ""))
        cid = self._by_wire_id.get(wire_id, wire_id)
        venue_id = venue_order_id_of(info)
        order = self._orders.get(cid)
        if order is None:
            order = adopted_order(info, market, cid, now_ns)
            self._orders[cid] = order
            self._by_wire_id[wire_id] = cid
        else:
            order.venue_order_id = venue_id
            if order.status is OrderStatus.PENDING_NEW:
                order.status = OrderStatus.ACCEPTED
        self._by_venue_id[venue_id] = cid
        self._note_executed(cid, info)

    def _note_executed(self, cid: str, info: Mapping[str, Any]) -> None:
        """Remember the quantity an order answer says ``cid`` executed (never less than
        before): the order is not forgotten before its trades add up to it."""
        executed = exact(info, "executedQty") if "executedQty" in info else 0
        self._executed[cid] = max(self._executed.get(cid, 0), executed)

    def _trades_missing(self, cid: str, order: VenueOrder) -> bool:
        """Whether the trades applied to ``order`` (with those before ``history_since_ns`` of
        an order adopted at start-up) add up to less than the exchange said it executed."""
        applied = order.filled_size + self._executed_before.get(cid, 0)
        return applied < self._executed.get(cid, 0)

    def _forget_closed(self, now_ns: int) -> None:
        """Forget the orders closed at least :data:`CLOSED_ORDER_RETENTION_S` ago whose trades
        add up to what the exchange said they executed and which nothing waits for (module
        docstring), with their ids; then, per symbol, the booked trade ids below the next
        trade id of the sync and (once a snapshot was taken) of the snapshot, and the
        dust-counted ones below both (kept all until a snapshot was taken: the first one
        lists the trades since ``history_since_ns``)."""
        self._next_retire_ns = now_ns + RETIRE_EVERY_NS
        limit_ns = now_ns - CLOSED_ORDER_RETENTION_S * 1_000_000_000
        waiting = {*self._unknown, *self._triggered}
        gone = {
            cid
            for cid, order in self._orders.items()
            if not order.status.is_open
            and order.ts_updated_ns <= limit_ns
            and not self._trades_missing(cid, order)
            and cid not in waiting
        }
        if gone:
            for cid in gone:
                del self._orders[cid]
                self._executed.pop(cid, None)
                self._executed_before.pop(cid, None)
            self._by_wire_id = {w: c for w, c in self._by_wire_id.items() if c not in gone}
            self._by_venue_id = {v: c for v, c in self._by_venue_id.items() if c not in gone}
        for token, sync_from in self._next_trade_id.items():
            if sync_from is None:
                continue
            snapshot_from = self._snapshot_from_id.get(token)
            bound = sync_from if snapshot_from is None else min(sync_from, snapshot_from)
            booked = self._fill_ids.get(token)
            if booked:
                self._fill_ids[token] = {t: c for t, c in booked.items() if t >= bound}
            counted = self._dust_ids.get(token)
            if counted and snapshot_from is not None:
                self._dust_ids[token] = {t for t in counted if t >= bound}

    def _withdraw(self, order: VenueOrder, reason_code: str, now_ns: int) -> None:
        self._mark_canceled(order, now_ns, reason_code, now_ns)

    def _mark_canceled(
        self, order: VenueOrder, now_ns: int, reason_code: str, ts_event_ns: int
    ) -> None:
        order.status = OrderStatus.CANCELED
        order.ts_updated_ns = now_ns
        self._events.append(
            OrderCanceled(
                ts_event_ns=ts_event_ns,
                ts_recv_ns=now_ns,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
                reason_code=reason_code,
            )
        )

    def _reject(self, order: VenueOrder, code: str, message: str, now_ns: int) -> None:
        order.status = OrderStatus.REJECTED
        order.ts_updated_ns = now_ns
        self._events.append(
            OrderRejected(
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                client_order_id=order.client_order_id,
                reason_code=code,
                message=message,
            )
        )


__all__ = [
    "CancelAllReport",
    "CancelAllUnconfirmedError",
    "CcxtVenue",
    "FundingRate",
    "PerpPosition",
    "SnapshotError",
    "StopOutcome",
    "StopRequest",
    "StopState",
]
