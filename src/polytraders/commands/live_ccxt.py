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
position is left without its stop (the sync is tried again at the next step). The envelope's
``correlation_id`` is the stop's client id; its output is empty (the envelope's output types
carry no conditional order; the stop price is in the INFO log line). While the kill switch is
tripped the keeper does nothing: the kill switch cancelled every order at the exchange,
conditional ones included (issue 21).

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
from typing import TYPE_CHECKING, Any

import msgspec

from polytraders.commands.live import (
    LiveRecording,
    LiveSession,
    _believed_holdings,
    _open_attempt,
    _record_reconciliation,
    compose_desk,
    trim_timeline,
)
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import Mode
from polytraders.desk.desk import Desk
from polytraders.desk.sinks import EnvelopeSink, JsonlSink
from polytraders.feeds.live.background import BackgroundFeed
from polytraders.model.events import AnyEvent
from polytraders.model.fills import Fill
from polytraders.model.money import notional_micros
from polytraders.model.position import Position
from polytraders.node.venue_worker import VenueWorker
from polytraders.store.records import ReconciliationKind, RunProduced
from polytraders.venues.drift import ReconciliationResult, compare, records_of

if TYPE_CHECKING:
    from polytraders.desk.checkpoints import RestoredCheckpoint
    from polytraders.feeds.live.binance_depth import BinanceDepthFeed
    from polytraders.feeds.live.connection import KeepaliveConfig
    from polytraders.node.config import CcxtNodeConfig
    from polytraders.venues.ccxt.credentials import ApiKeyCredentials
    from polytraders.venues.ccxt.protective_stop import ProtectiveStopKeeper, StopSync
    from polytraders.venues.ccxt.venue import CcxtVenue

_LOG = logging.getLogger(__name__)
BINANCE_USDM_WS = "wss://fstream.binance.com"
BINANCE_USDM_REST = "https://fapi.binance.com"
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
    symbols: Sequence[str], ws_url: str, rest_url: str, keepalive: KeepaliveConfig | None = None
) -> BackgroundFeed[AnyEvent]:
    """The Binance USDⓈ-M diff-depth streams of ``symbols`` (snapshot from ``rest_url``) on a
    background thread."""
    from polytraders.feeds.live.binance_depth import BinanceDepthConfig, BinanceDepthFeed

    def configs() -> list[BinanceDepthConfig]:
        if keepalive is None:
            return [BinanceDepthConfig(symbol=s, ws_url=ws_url, rest_url=rest_url) for s in symbols]
        return [
            BinanceDepthConfig(symbol=s, ws_url=ws_url, rest_url=rest_url, keepalive=keepalive)
            for s in symbols
        ]

    return BackgroundFeed[AnyEvent](
        lambda push: DepthFeeds([BinanceDepthFeed(c, push) for c in configs()]), "binance-depth"
    ).start()


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

    def _done(self, token_id: str, size: int, asked_ns: int, got: StopSync | str) -> None:
        """Record a sync's actions (decision thread)."""
        self._pending.discard(token_id)
        self.syncs.append(got)
        desk = self.desk
        actor = desk.execution.desk
        cause = f"position:{token_id}:{size}"

        def record(decision: Decision, codes: tuple[str, ...], correlation: str) -> None:
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
                correlation_id=correlation,
                causation_id=cause,
                input_digest=digest,
            )

        if isinstance(got, str):
            _LOG.warning("protective stop of %s not synced: %s", token_id, got)
            digest = hashlib.sha256(got.encode()).hexdigest()[:16]
            if size:
                record(Decision.REFUSE, ("SYS_CCXT_POSITION_UNPROTECTED",), "")
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
            record(Decision.ROUTE if ok else Decision.REFUSE, codes, stop_id)
            price = action.request.stop_price if action.request is not None else 0
            _LOG.info(
                "protective stop %s %s (%s) stop price %d: %s",
                action.kind.value,
                stop_id,
                token_id,
                price,
                outcome.state.name,
            )
        if got.reason_code == "SYS_CCXT_POSITION_UNPROTECTED":
            desired = got.desired.client_id if got.desired is not None else ""
            record(Decision.REFUSE, (got.reason_code,), desired)
        if not got.reason_code:
            self.synced[token_id] = size


def _sync_on_worker(
    keeper: ProtectiveStopKeeper, token_id: str, now_ns: int
) -> Callable[[CcxtVenue], StopSync | str]:
    """The keeper's sync as a worker call; no answer from the exchange is a refusal line."""
    import ccxt

    def sync(venue: CcxtVenue) -> StopSync | str:
        del venue  # the keeper holds it; only the worker thread calls it
        try:
            return keeper.sync(token_id, now_ns)
        except ccxt.BaseError as exc:
            return f"{type(exc).__name__}: {exc}"

    return sync


def _then(
    done: Callable[[str, int, int, StopSync | str], None], token_id: str, size: int, asked_ns: int
) -> Callable[[Any], None]:
    def deliver(got: Any) -> None:
        done(token_id, size, asked_ns, got)

    return deliver


def build_ccxt_session(
    *,
    run_id: str,
    credentials: ApiKeyCredentials,
    node: CcxtNodeConfig,
    ws_url: str = BINANCE_USDM_WS,
    keepalive: KeepaliveConfig | None = None,
    timeline: Path | None = None,
    store_url: str | None = None,
    sinks: Sequence[EnvelopeSink] = (),
) -> tuple[LiveSession, ReconciliationResult]:
    """A desk trading ``node.venue.symbols`` at the exchange (or the loopback simulator at
    ``node.venue.api_url``) through ccxt, with the depth streams at ``ws_url`` (the snapshot
    from ``api_url`` or Binance's REST).

    Start-up, on the calling thread before any decision: load the markets (the desk's
    instruments), open the store attempt (``store_url``: a RUNNING attempt of ``run_id`` is
    resumed, else a new one carries the previous attempt's orders and fills, exactly as
    :func:`~polytraders.commands.live.build_live_session`), rebuild the venue from the store
    (:meth:`CcxtVenue.rebuild`: the store's orders and fill ids registered, the exchange's
    open orders and traded orders adopted, the fills the store lacks emitted once each),
    compare the exchange's snapshot with the store's records
    (:func:`~polytraders.venues.drift.compare`, concluded like the Polymarket start-up: a
    CRITICAL verdict starts the desk HALTED), and build the desk state from the exchange's
    positions (signed, at its entry price), the quote asset's available balance and every
    order the venue tracks (so no client order id is sent twice). Then the venue goes to a
    started :class:`VenueWorker`, the desk is composed (:func:`compose_desk`, the desk
    file's bots), checkpoints persist in the store, the depth feed starts, and on a
    perpetual venue :class:`ProtectiveStops` runs after every step.

    Raises:
        ccxt.BaseError: the exchange did not answer at start-up.
        polytraders.venues.ccxt.convert.ConversionError: a symbol is missing or an answer
            is not exact.
        polytraders.store.errors.StoreError: the store cannot be opened or the attempt is
            held elsewhere.
    """
    import ccxt

    from polytraders.desk.checkpoints import CheckpointWriter, load_checkpoint
    from polytraders.desk.state import DeskState
    from polytraders.venues.ccxt.protective_stop import ProtectiveStopKeeper
    from polytraders.venues.ccxt.venue import CcxtVenue, SnapshotError

    venue = CcxtVenue.from_credentials(credentials, node.venue)
    known = None
    restored: RestoredCheckpoint | None = None
    perp = node.venue.market_type == "perp"
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
        started_ns = time.time_ns()
        known_ids = [f.fill_id for f in store_fills]
        venue.rebuild(started_ns, store_orders, known_ids)
        missed = [e for e in venue.poll() if isinstance(e, Fill)]
        snapshot = venue.reconciliation_snapshot(started_ns)
        believed = _believed_holdings(known, has_records=bool(store_orders))
        comparison = compare(
            snapshot, records_of(store_orders, known_ids, believed), node.reconciliation
        )
        held = venue.positions() if perp else {}
        balances = venue.balances()
    except BaseException:
        venue.close()
        if known is not None:
            known.store.close()
        raise
    positions = {
        token_id: (p.size, notional_micros(p.entry_price, abs(p.size)) * (1 if p.size > 0 else -1))
        for token_id, p in held.items()
        if p.size
    }
    state = DeskState.build(
        now_ns=time.time_ns(),
        instruments=instruments,
        positions=positions,
        cash=sum(balances.get(q, 0) for q in sorted(quotes)),
        open_orders=[o for o in venue.orders() if o.status.is_open],
        account=node.desk.account.identity(),
    )
    for order in venue.orders():  # closed orders too: their ids are never sent again
        if not order.status.is_open:
            state.add_order(order)
    base = None
    if known is not None:
        holdings = [state.ledger.position(t) or Position(t) for t in sorted(held)]
        _record_reconciliation(known, venue.orders(), missed, holdings, started_ns)
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
        )
        if known is not None:
            writer = CheckpointWriter(known.store, str(known.run), restored=restored)
            desk.persist_checkpoints(writer, restored)
        rest_url = node.venue.api_url or BINANCE_USDM_REST
        feed = start_depth_feed(
            [i.symbol for i in instruments], ws_url, rest_url, keepalive=keepalive
        )
    except BaseException:
        worker.close(cancel_open_orders=False)
        raise
    hooks: list[Callable[[], None]] = []
    if perp and node.protective_stop is not None:
        keeper = ProtectiveStopKeeper(venue, node.protective_stop)
        hooks.append(ProtectiveStops(desk, worker, keeper))
    session = LiveSession(
        desk,
        worker,
        feed,
        recording=recording,
        reconciliation=node.reconciliation,
        booked_fill_ids=[f.fill_id for f in (*store_fills, *missed)],
        snapshot_refusals=(ccxt.BaseError, SnapshotError),
        after_step=hooks,
    )
    try:
        session.conclude_reconciliation(comparison, ReconciliationKind.STARTUP)
    except BaseException:
        session.close(cancel_open_orders=False)
        raise
    return session, comparison


def _keep_stops(venue: CcxtVenue, now_ns: int) -> None:
    """A clean shutdown's cancel (:attr:`VenueWorker.shutdown_cancel`): regular orders only."""
    venue.cancel_orders_keeping_stops(now_ns)
