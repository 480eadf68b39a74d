"""The crypto desk on a live clock through ccxt (``polytraders live --venue ccxt``): the same
:class:`~polytraders.commands.live.LiveSession`, desk composition
(:func:`~polytraders.commands.live.compose_desk`: the desk file's bots, as in a backtest),
recording and store attempt as the Polymarket node; only the feed (Binance diff depth,
:mod:`polytraders.feeds.live.binance_depth`) and the venue
(:class:`~polytraders.venues.ccxt.venue.CcxtVenue` owned by a
:class:`~polytraders.node.venue_worker.VenueWorker`, so the desk loop never waits on the
network) differ. The instruments come from the exchange (``load_markets``).

**Protective stop** (:class:`ProtectiveStops`, run after every step): whenever the desk's
position in an instrument differs from the one last synced (and at the first step, so a
restart checks what the exchange holds), the
:class:`~polytraders.venues.ccxt.protective_stop.ProtectiveStopKeeper` syncs the exchange's
stop with the exchange's position, on the worker thread. Each action it took is recorded as a
desk envelope (the desk's execution identity, ``bot_id="desk"``): ROUTE with
``SYS_CCXT_STOP_PLACED`` / ``_REPLACED`` / ``_CANCELED`` when the exchange confirmed it,
REFUSE with the exchange's code otherwise, and ``SYS_CCXT_POSITION_UNPROTECTED`` when a
position is left without its stop (the sync is tried again at the next step). The envelopes
carry no ``correlation_id`` (a stop is no intent; ``causation_id`` is
``position:<token>:<size>``); an action's output is a
:class:`~polytraders.contracts.protective_stop.ProtectiveStopAction` (action, side, trigger
price, size or close-position, working type, what the exchange holds afterwards; an
UNPROTECTED envelope has none). While the kill switch is tripped the keeper does nothing: the
kill switch cancelled every order at the exchange, conditional ones included (issue 21).

**Shutdown.** A clean shutdown cancels the regular orders only
(:meth:`CcxtVenue.cancel_orders_keeping_stops`, as the worker's
:attr:`~polytraders.node.venue_worker.VenueWorker.shutdown_cancel`): a desk that stops while
holding a position leaves its protective stop at the exchange. A kill switch cancels
everything (:meth:`CcxtVenue.cancel_all`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from polytraders.commands.live import (
    LiveRecording,
    LiveSession,
    _believed_holdings,
    _open_attempt,
    _record_reconciliation,
    compose_desk,
    positions_with_cost,
    trim_timeline,
)
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import Mode
from polytraders.contracts.protective_stop import ProtectiveStopAction
from polytraders.desk.desk import Desk, SessionMemory
from polytraders.desk.sinks import EnvelopeSink, JsonlSink
from polytraders.feeds.live.background import BackgroundFeed
from polytraders.model.events import AnyEvent, FundingPayment, FundingRate
from polytraders.model.fills import Fill
from polytraders.model.money import notional_micros
from polytraders.model.orders import VenueOrder
from polytraders.model.position import Position
from polytraders.node.venue_worker import VenueWorker
from polytraders.store.records import ReconciliationKind, RunProduced
from polytraders.venues.drift import ReconciliationResult, compare, records_of

if TYPE_CHECKING:
    from polytraders.desk.checkpoints import RestoredCheckpoint
    from polytraders.desk.clock import Clock
    from polytraders.feeds.live.binance_depth import BinanceDepthFeed
    from polytraders.feeds.live.connection import KeepaliveConfig
    from polytraders.node.config import CcxtNodeConfig
    from polytraders.venues.ccxt.credentials import ApiKeyCredentials
    from polytraders.venues.ccxt.protective_stop import (
        ProtectiveStopKeeper,
        StopAction,
        StopSync,
    )
    from polytraders.venues.ccxt.reconcile import OrphanReport
    from polytraders.venues.ccxt.stops import StopOutcome
    from polytraders.venues.ccxt.venue import CcxtVenue

_LOG = logging.getLogger(__name__)
BINANCE_USDM_WS = "wss://fstream.binance.com"
BINANCE_USDM_REST = "https://fapi.binance.com"
BINANCE_SPOT_WS = "wss://stream.binance.com:9443"
BINANCE_SPOT_REST = "https://api.binance.com"
STOP_TRIGGERED = "SYS_CCXT_STOP_TRIGGERED"
STOP_CODES = {
    "place": "SYS_CCXT_STOP_PLACED",
    "replace": "SYS_CCXT_STOP_REPLACED",
    "cancel": "SYS_CCXT_STOP_CANCELED",
}
"""Action kind → the code a confirmed protective stop action is recorded with."""


class DepthFeeds:
    """Several symbols' :class:`BinanceDepthFeed`\\ s on one event loop (one
    :class:`BackgroundFeed` for the session)."""

    def __init__(self, feeds: Sequence[BinanceDepthFeed]) -> None:
        self.feeds = list(feeds)

    async def run(self) -> None:
        """Run every feed until :meth:`stop`."""
        await asyncio.gather(*(feed.run() for feed in self.feeds))

    def stop(self) -> None:
        """Stop every feed (on the feeds' loop)."""
        for feed in self.feeds:
            feed.stop()


def start_depth_feed(
    symbols: Sequence[str],
    ws_url: str,
    rest_url: str,
    keepalive: KeepaliveConfig | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
    market: str = "usdm",
) -> BackgroundFeed[AnyEvent]:
    """The Binance diff-depth streams of ``symbols`` (``market`` ``usdm`` or ``spot``; snapshot
    from ``rest_url``) on a background thread, their receive times by ``clock_ns``."""
    from polytraders.feeds.live.binance_depth import BinanceDepthConfig, BinanceDepthFeed

    def configs() -> list[BinanceDepthConfig]:
        if keepalive is None:
            return [
                BinanceDepthConfig(symbol=s, ws_url=ws_url, rest_url=rest_url, market=market)
                for s in symbols
            ]
        return [
            BinanceDepthConfig(
                symbol=s, ws_url=ws_url, rest_url=rest_url, keepalive=keepalive, market=market
            )
            for s in symbols
        ]

    return BackgroundFeed[AnyEvent](
        lambda push: DepthFeeds([BinanceDepthFeed(c, push, clock_ns) for c in configs()]),
        "binance-depth",
    ).start()


def stop_action_record(
    action: StopAction, outcome: StopOutcome, token_id: str, client_id: str
) -> ProtectiveStopAction:
    """The envelope output of one protective-stop action: the requested stop for a place or
    replace (the replaced one's client id beside it), the cancelled stop for a cancel, with
    what the exchange holds afterwards."""
    request, stop = action.request, action.stop
    if request is not None and action.kind.value != "cancel":
        return ProtectiveStopAction(
            action=action.kind.value,
            token_id=token_id,
            client_id=client_id,
            replaced_client_id=stop.client_order_id if stop is not None else "",
            side=request.side.value,
            position_size=request.position_size,
            stop_price=request.stop_price,
            size=0 if request.close_position else abs(request.position_size),
            close_position=request.close_position,
            working_type=request.working_type,
            outcome=outcome.state.value,
            message=outcome.message,
        )
    return ProtectiveStopAction(
        action=action.kind.value,
        token_id=token_id,
        client_id=client_id,
        side=stop.side.value if stop is not None else "",
        position_size=0,
        stop_price=stop.stop_price if stop is not None else 0,
        size=stop.size if stop is not None else 0,
        close_position=stop.close_position if stop is not None else False,
        working_type=stop.working_type if stop is not None else "",
        outcome=outcome.state.value,
        message=outcome.message,
    )


class ProtectiveStops:
    """The after-step hook keeping each position's exchange stop (module docstring).

    Args:
        desk: the session's desk (its positions are watched, its recorder records).
        worker: the venue worker owning ``keeper``'s venue (the keeper runs on its thread).
        keeper: the protective stop keeper.
    """

    def __init__(
        self, desk: Desk, worker: VenueWorker[CcxtVenue], keeper: ProtectiveStopKeeper
    ) -> None:
        self.desk = desk
        self.worker = worker
        self.keeper = keeper
        self.synced: dict[str, int] = {}
        """Token → the desk position size the exchange's stop was last confirmed for."""
        self.syncs: list[StopSync | str] = []
        """Every sync's result, in order (a string: the exchange did not answer)."""
        self.triggered: list[VenueOrder] = []
        """The orders triggered stops became (the venue adopted them), in order recorded."""
        self._pending: set[str] = set()

    def __call__(self) -> None:
        """Ask for a sync of every instrument whose position changed since its last
        confirmed sync (none while the kill switch is tripped, or while one is under way)."""
        state = self.desk.state
        if state.kill_switch_tripped:
            return
        for instrument in state.instruments():
            token_id = instrument.token_id
            position = state.ledger.position(token_id)
            size = position.size if position is not None else 0
            if self.synced.get(token_id) == size or token_id in self._pending:
                continue
            self._pending.add(token_id)
            now_ns = self.desk.clock.now_ns()
            self.worker.call(
                _sync_on_worker(self.keeper, token_id, now_ns),
                _then(self._done, token_id, size, now_ns),
            )

    def _done(
        self,
        token_id: str,
        size: int,
        asked_ns: int,
        answer: tuple[StopSync | str, list[VenueOrder]],
    ) -> None:
        """Record the triggered stops' orders, then the sync's actions (decision thread)."""
        got, triggered = answer
        self._pending.discard(token_id)
        self.syncs.append(got)
        desk = self.desk
        actor = desk.execution.desk
        cause = f"position:{token_id}:{size}"

        def record(
            decision: Decision, codes: tuple[str, ...], output: ProtectiveStopAction | None = None
        ) -> None:
            desk.recorder.record(
                bot_id=actor.bot_id,
                bot_class=actor.bot_class,
                bot_version=actor.version,
                config_version=actor.config_version,
                mode=Mode.ENFORCED,
                decision=decision,
                ts_event_ns=asked_ns,
                ts_decided_ns=desk.state.now_ns,
                reason_codes=codes,
                causation_id=cause,
                input_digest=digest,
                output=output,
            )

        for order in triggered:
            self._record_triggered(order)
        if isinstance(got, str):
            _LOG.warning("protective stop of %s not synced: %s", token_id, got)
            digest = hashlib.sha256(got.encode()).hexdigest()[:16]
            if size:
                record(Decision.REFUSE, ("SYS_CCXT_POSITION_UNPROTECTED",))
            return
        digest = hashlib.sha256(msgspec.json.encode(got)).hexdigest()[:16]
        for action, outcome in got.actions:
            wanted = "NO_STOP" if action.kind.value == "cancel" else "NEW_STOP"
            ok = outcome.state.name == wanted
            stop_id = (
                action.request.client_id
                if action.request is not None and action.kind.value != "cancel"
                else (action.stop.client_order_id if action.stop is not None else "")
            )
            codes = (STOP_CODES[action.kind.value],) if ok else (outcome.reason_code,)
            done = stop_action_record(action, outcome, token_id, stop_id)
            record(Decision.ROUTE if ok else Decision.REFUSE, codes, done)
            _LOG.info(
                "protective stop %s %s (%s) stop price %d: %s",
                action.kind.value,
                stop_id,
                token_id,
                done.stop_price,
                outcome.state.name,
            )
        if got.reason_code == "SYS_CCXT_POSITION_UNPROTECTED":
            record(Decision.REFUSE, (got.reason_code,))
        if not got.reason_code:
            self.synced[token_id] = size

    def _record_triggered(self, order: VenueOrder) -> None:
        """A stop triggered at the exchange: its order (closed, filled; its fills were booked
        when the venue reported them) joins the desk's orders and the store, with a desk
        envelope ``SYS_CCXT_STOP_TRIGGERED``."""
        desk = self.desk
        if not desk.orders.adopt(order):
            return
        self.triggered.append(order)
        actor = desk.execution.desk
        desk.recorder.record(
            bot_id=actor.bot_id,
            bot_class=actor.bot_class,
            bot_version=actor.version,
            config_version=actor.config_version,
            mode=Mode.ENFORCED,
            decision=Decision.ROUTE,
            ts_event_ns=order.ts_updated_ns,
            ts_decided_ns=desk.state.now_ns,
            reason_codes=(STOP_TRIGGERED,),
            correlation_id=order.intent_id,
            causation_id=f"venue:{order.venue_order_id}",
            input_digest=hashlib.sha256(msgspec.json.encode(order)).hexdigest()[:16],
        )
        _LOG.warning(
            "protective stop triggered at the exchange: %s %s %d of %s filled",
            order.client_order_id,
            order.side,
            order.filled_size,
            order.token_id,
        )


def _sync_on_worker(
    keeper: ProtectiveStopKeeper, token_id: str, now_ns: int
) -> Callable[[CcxtVenue], tuple[StopSync | str, list[VenueOrder]]]:
    """The keeper's sync as a worker call, with the orders triggered stops became since the
    last one (:meth:`CcxtVenue.take_triggered`); no answer from the exchange is a refusal
    line."""
    import ccxt

    def sync(venue: CcxtVenue) -> tuple[StopSync | str, list[VenueOrder]]:
        triggered = venue.take_triggered()
        try:
            return keeper.sync(token_id, now_ns), triggered
        except ccxt.BaseError as exc:
            return f"{type(exc).__name__}: {exc}", triggered

    return sync


def _then(
    done: Callable[[str, int, int, Any], None], token_id: str, size: int, asked_ns: int
) -> Callable[[Any], None]:
    def deliver(got: Any) -> None:
        done(token_id, size, asked_ns, got)

    return deliver


class FundingRates:
    """Each perpetual's funding rate for the desk: an after-step hook that asks the venue
    worker for the rates (:meth:`CcxtVenue.funding_rate`, ``premiumIndex``) from ``first_ns``
    on, every ``interval_ms`` of the desk clock (one poll at a time), and a market
    source (:meth:`take`) that hands the answers to the desk as
    :class:`~polytraders.model.events.FundingRate` events (``ts_event_ns`` the exchange's
    time, ``ts_recv_ns`` when the worker got it, by the desk's clock), so the desk loop never
    waits for them. An unanswered poll is logged and asked again at the next period (the desk
    keeps the last rates); an inexact answer fails the worker (the desk halts).

    Args:
        desk: the session's desk (its clock paces the polls).
        worker: the venue worker.
        token_ids: the perpetuals polled, in order.
        interval_ms: the period (ms).
        first_ns: desk time of the first poll (0: the first step).
    """

    def __init__(
        self,
        desk: Desk,
        worker: VenueWorker[CcxtVenue],
        token_ids: Sequence[str],
        interval_ms: int,
        *,
        first_ns: int = 0,
    ) -> None:
        self.desk = desk
        self.worker = worker
        self.token_ids = list(token_ids)
        self.interval_ns = interval_ms * 1_000_000
        self.polls = 0
        """Polls answered (with rates or a failure line)."""
        self.received = 0
        """Funding rate events handed to the desk."""
        self._next_ns = first_ns
        self._pending = False
        self._ready: list[AnyEvent] = []

    def __call__(self) -> None:
        """Ask for the rates when a period has passed and no poll is under way."""
        now_ns = self.desk.clock.now_ns()
        if self._pending or now_ns < self._next_ns:
            return
        self._pending = True
        self._next_ns = now_ns + self.interval_ns
        self.worker.call(_funding_on_worker(self.token_ids, self.desk.clock.now_ns), self._got)

    def _got(self, got: list[FundingRate] | str) -> None:
        self._pending = False
        self.polls += 1
        if isinstance(got, str):
            _LOG.warning("funding rates not fetched: %s", got)
            return
        self._ready.extend(got)

    def take(self) -> list[AnyEvent]:
        """The funding rate events received since the last call, in order."""
        ready, self._ready = self._ready, []
        self.received += len(ready)
        return ready


def _funding_on_worker(
    token_ids: Sequence[str], clock_ns: Callable[[], int]
) -> Callable[[CcxtVenue], list[FundingRate] | str]:
    """The funding rates as a worker call, received at ``clock_ns()`` (the session's clock);
    no answer from the exchange is a failure line."""
    import ccxt

    def fetch(venue: CcxtVenue) -> list[FundingRate] | str:
        try:
            rates = [venue.funding_rate(token_id) for token_id in token_ids]
        except ccxt.BaseError as exc:
            return f"{type(exc).__name__}: {exc}"
        received_ns = clock_ns()
        return [
            FundingRate(
                ts_event_ns=r.ts_event_ns,
                ts_recv_ns=received_ns,
                token_id=r.token_id,
                rate_ppb=r.rate_ppb,
                next_funding_ns=r.next_funding_ns,
            )
            for r in rates
        ]

    return fetch


class CcxtStartup(NamedTuple):
    """What the start-up reconciliation of a ccxt session found: the comparison with the
    store's records (``comparison``) and what the orphan policy did (``orphans``)."""

    comparison: ReconciliationResult
    orphans: OrphanReport


def build_ccxt_session(
    *,
    run_id: str,
    credentials: ApiKeyCredentials,
    node: CcxtNodeConfig,
    ws_url: str | None = None,
    keepalive: KeepaliveConfig | None = None,
    timeline: Path | None = None,
    store_url: str | None = None,
    sinks: Sequence[EnvelopeSink] = (),
    clock: Clock | None = None,
) -> tuple[LiveSession, CcxtStartup]:
    """A desk trading ``node.venue.symbols`` at the exchange (or the loopback simulator at
    ``node.venue.api_url``) through ccxt, with the depth streams at ``ws_url`` (None:
    Binance's USDⓈ-M or spot streams, by the venue's market) and the snapshot from
    ``api_url`` or Binance's REST (the market's feed: futures depth chained by ``pu``, spot by
    ``U``).

    Start-up, on the calling thread before any decision: load the markets (the desk's
    instruments), open the store attempt (``store_url``: a RUNNING attempt of ``run_id`` is
    resumed, else a new one carries the previous attempt's orders and fills, exactly as
    :func:`~polytraders.commands.live.build_live_session`), rebuild the venue from the store
    (:meth:`CcxtVenue.rebuild`: the store's orders, fill ids and funding payment ids
    registered, the exchange's open orders and traded orders adopted, the fills and, on a
    perpetual venue, the funding payments the store lacks emitted once each; the payments are
    recorded as ``funding.recovered``, not booked: the exchange balance the desk starts from
    includes them),
    apply ``node.reconciliation.orphan_policy`` to the open orders the store did not know
    (:func:`~polytraders.venues.ccxt.reconcile.apply_orphan_policy`: adopted, or cancelled
    with every conditional order that is not the desk's protective stop of a current
    position), compare the exchange's snapshot with the store's records and the adopted
    orphans (:func:`~polytraders.venues.drift.compare`, concluded like the Polymarket
    start-up: a CRITICAL verdict starts the desk HALTED), and build the desk state from the
    exchange's positions — perpetuals: signed, at its entry price; spot: the snapshot's
    position of each instrument (its base asset's free + locked balance less the venue's
    commission dust, :meth:`CcxtVenue.reconciliation_snapshot`) at the average price of the
    buys the store and the missed fills hold (cost 0 when none prices it:
    :func:`~polytraders.commands.live.positions_with_cost`), recorded as the holdings the
    desk starts with like the perpetual ones — and funding rates (perpetuals: the desk never
    starts without them, which ``risk.fundingguard`` would refuse), the cash (perpetuals: the
    quote asset's ``walletBalance`` less the positions' signed entry notionals, the desk's
    own accounting, where a BUY pays its notional, so equity = wallet + unrealized PnL; spot:
    the quote's free + locked balance, its buys already paid) and every order the venue
    tracks (so no client order id is sent twice; a cancelled orphan is recorded in the store
    as CANCELED). Then the venue
    goes to a started
    :class:`VenueWorker`, the desk is composed (:func:`compose_desk`, the desk file's bots)
    with a live session's bounded past (:meth:`SessionMemory.live` with
    :data:`~polytraders.venues.ccxt.venue.CLOSED_ORDER_REPORT_S`), checkpoints persist in the
    store, the depth feed starts, and on a perpetual venue :class:`ProtectiveStops` and
    :class:`FundingRates` (every ``node.funding_poll_interval_ms`` after start-up) run
    after every step, and the venue polls the funding payments at that interval too (the
    desk books each once, :meth:`~polytraders.desk.orders.OrderManager.apply`).

    ``clock`` is the session's time: the desk's, the venue worker's and the start-up's
    (None: the wall clock, :class:`~polytraders.desk.clock.LiveClock`, what the CLI uses). A
    test against the simulator passes a clock that follows the simulator's replay, whose
    depth events carry the recording's times (``tests/commands/test_live_ccxt_desk.py``).

    Returns the session and its :class:`CcxtStartup` (the comparison, the orphans).

    Raises:
        ccxt.BaseError: the exchange did not answer at start-up.
        polytraders.venues.ccxt.convert.ConversionError: a symbol is missing or an answer
            is not exact.
        polytraders.store.errors.StoreError: the store cannot be opened or the attempt is
            held elsewhere.
    """
    import ccxt

    from polytraders.desk.checkpoints import CheckpointWriter, allocator_restore, load_checkpoint
    from polytraders.desk.clock import LiveClock
    from polytraders.desk.state import DeskState
    from polytraders.store.journal import FUNDING_RECOVERED, funding_payments, record_funding
    from polytraders.venues.ccxt.protective_stop import ProtectiveStopKeeper
    from polytraders.venues.ccxt.reconcile import apply_orphan_policy
    from polytraders.venues.ccxt.venue import CLOSED_ORDER_REPORT_S, CcxtVenue, SnapshotError

    clock = clock if clock is not None else LiveClock()
    perp = node.venue.market_type == "perp"
    if ws_url is None:
        ws_url = BINANCE_USDM_WS if perp else BINANCE_SPOT_WS
    stop_prefix = node.protective_stop.client_id_prefix if node.protective_stop else ""
    venue = CcxtVenue.from_credentials(
        credentials,
        node.venue,
        stop_client_prefix=stop_prefix,
        funding_poll_ms=node.funding_poll_interval_ms if perp else None,
    )
    known = None
    restored: RestoredCheckpoint | None = None
    try:
        instruments = [m.instrument for m in venue.load_markets()]
        quotes = {m.quote for m in venue.markets.values()}
        if store_url is not None:
            known = _open_attempt(store_url, run_id, node=node, ws_url=ws_url)
        store_orders = list(known.orders) if known is not None else []
        store_fills = known.fills if known is not None else []
        if known is not None and known.source is not None:
            restored = load_checkpoint(known.store, known.source)
            if restored is not None and not known.resumed:
                restored = msgspec.structs.replace(restored, last_sequence=-1, operator_sequence=-1)
        if restored is not None:
            listed = {o.client_order_id for o in store_orders}
            store_orders += [o for o in restored.open_orders if o.client_order_id not in listed]
        started_ns = clock.now_ns()
        known_ids = [f.fill_id for f in store_fills]
        known_funding = (
            [p.funding_id for p in funding_payments(known.store, known.source)]
            if known is not None and known.source is not None
            else []
        )
        venue.rebuild(started_ns, store_orders, known_ids, known_funding)
        orphans = apply_orphan_policy(
            venue,
            node.reconciliation.orphan_policy,
            [o.client_order_id for o in store_orders],
            stop_prefix=stop_prefix,
            now_ns=started_ns,
        )
        polled = venue.poll()
        missed = [e for e in polled if isinstance(e, Fill)]
        missed_funding = [e for e in polled if isinstance(e, FundingPayment)]
        snapshot = venue.reconciliation_snapshot(started_ns)
        believed = _believed_holdings(known, has_records=bool(store_orders))
        records = records_of([*store_orders, *orphans.adopted], known_ids, believed)
        comparison = compare(snapshot, records, node.reconciliation)
        held = venue.positions() if perp else {}
        rates = (
            {i.token_id: venue.funding_rate(i.token_id).rate_ppb for i in instruments}
            if perp
            else {}
        )
        balances = venue.balances()
        wallets = venue.wallet_balances()
    except BaseException:
        venue.close()
        if known is not None:
            known.store.close()
        raise
    if perp:
        positions = {
            token_id: (
                p.size,
                notional_micros(p.entry_price, abs(p.size)) * (1 if p.size > 0 else -1),
            )
            for token_id, p in held.items()
            if p.size
        }
    else:  # spot: the base balances the snapshot reports, priced by the known buys
        positions = positions_with_cost(
            {p.token_id: p.size for p in snapshot.positions}, [*store_fills, *missed]
        )
    state = DeskState.build(
        now_ns=clock.now_ns(),
        instruments=instruments,
        positions=positions,
        cash=sum(wallets.get(q, 0) for q in sorted(quotes))
        - (sum(cost for _, cost in positions.values()) if perp else 0),
        open_orders=[o for o in venue.orders() if o.status.is_open],
        account=node.desk.account.identity(),
        funding_rates_ppb=rates,
    )
    for order in venue.orders():  # closed orders too: their ids are never sent again
        if not order.status.is_open:
            state.add_order(order)
    base = None
    allocation = None
    if known is not None:
        tokens = sorted(held) if perp else sorted(i.token_id for i in instruments)
        holdings = [state.ledger.position(t) or Position(t) for t in tokens]
        _record_reconciliation(known, venue.orders(), missed, holdings, started_ns)
        # after the reconciliation's missed fills are recorded: attribution covers them too
        allocation = allocator_restore(known.store, known.run, restored)
        for payment in missed_funding:
            record_funding(known.store, known.run, payment, FUNDING_RECOVERED)
        counts = known.store.counts(known.run)
        base = RunProduced(envelopes=counts.envelopes, orders=counts.orders, fills=counts.fills)
    file_sink = None
    if timeline is not None:
        if known is not None and known.resumed:
            trim_timeline(timeline, known.next_envelope)
        else:
            timeline.unlink(missing_ok=True)
        file_sink = JsonlSink(timeline)
    recording = LiveRecording(
        store=known.store if known is not None else None,
        run=known.run if known is not None else None,
        timeline=file_sink,
        base=base,
        sinks=sinks,
        config=node.canonical(),
        config_version=node.config_version,
        seed=node.desk.seed,
    )
    worker = VenueWorker(
        venue,
        balances=balances,
        max_pending_submits=node.worker.max_pending_submits_count,
        idle_advance_ms=node.worker.idle_advance_ms,
        close_timeout_s=node.worker.close_timeout_s,
        clock_ns=clock.now_ns,
    )
    if perp:
        worker.shutdown_cancel = _keep_stops
    worker.start()
    try:
        desk = compose_desk(
            node.desk,
            run_id=run_id,
            venue=worker,
            markets=[],
            instruments=instruments,
            sink=recording.sink,
            state=state,
            start_sequence=known.next_envelope if known is not None else 0,
            journal=recording.journal,
            memory=SessionMemory.live(CLOSED_ORDER_REPORT_S),
            clock=clock,
            allocator_restore=allocation,
        )
        if known is not None:
            writer = CheckpointWriter(known.store, str(known.run), restored=restored)
            desk.persist_checkpoints(writer, restored)
        rest_url = node.venue.api_url or (BINANCE_USDM_REST if perp else BINANCE_SPOT_REST)
        feed = start_depth_feed(
            [i.symbol for i in instruments],
            ws_url,
            rest_url,
            keepalive=keepalive,
            clock_ns=clock.now_ns,
            market="usdm" if perp else "spot",
        )
    except BaseException:
        worker.close(cancel_open_orders=False)
        raise
    hooks: list[Callable[[], None]] = []
    sources: list[Callable[[], list[AnyEvent]]] = []
    if perp and node.protective_stop is not None:
        keeper = ProtectiveStopKeeper(venue, node.protective_stop)
        hooks.append(ProtectiveStops(desk, worker, keeper))
    if perp:
        funding = FundingRates(
            desk,
            worker,
            [i.token_id for i in instruments],
            node.funding_poll_interval_ms,
            first_ns=desk.clock.now_ns() + node.funding_poll_interval_ms * 1_000_000,
        )
        hooks.append(funding)
        sources.append(funding.take)
    session = LiveSession(
        desk,
        worker,
        feed,
        recording=recording,
        reconciliation=node.reconciliation,
        booked_fill_ids=[f.fill_id for f in (*store_fills, *missed)],
        snapshot_refusals=(ccxt.BaseError, SnapshotError),
        after_step=hooks,
        market_sources=sources,
    )
    try:
        session.conclude_reconciliation(comparison, ReconciliationKind.STARTUP)
    except BaseException:
        session.close(cancel_open_orders=False)
        raise
    return session, CcxtStartup(comparison=comparison, orphans=orphans)


def _keep_stops(venue: CcxtVenue, now_ns: int) -> None:
    """A clean shutdown's cancel (:attr:`VenueWorker.shutdown_cancel`): regular orders only."""
    venue.cancel_orders_keeping_stops(now_ns)
