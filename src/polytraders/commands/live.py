"""``polytraders sim-clob`` (the local CLOB v2 simulator) and ``polytraders record`` (the
Polymarket market channel to a line recording).

``record`` writes ``<receive ts ns> <raw frame>`` per line (:mod:`polytraders.feeds.lines`,
the market-data format; ``.gz`` names are gzip-compressed), frames exactly as received, so
``polytraders data inspect`` and the recorded-data sources replay them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import msgspec
import typer
from pydantic import ValidationError

from polytraders.accounting.ledger import Ledger
from polytraders.backtest.desk_file import DESK_BUILDER_CODE, DeskFile, DeskFileError
from polytraders.backtest.outputs import CANDIDATE_FOLDER, OutputDirError, check_output_target
from polytraders.backtest.result import FillModel
from polytraders.backtest.shadow_live import DEFAULT_WINDOW_S, LiveShadowComparator
from polytraders.commands.desk_option import load_desk
from polytraders.commands.failures import EXIT_FAILED, EXIT_REFUSED, fail
from polytraders.commands.live_outputs import DeskOutputs, LiveOutputs, LiveTelemetry
from polytraders.commands.run import DEFAULT_OUT, check_store_outside_out, serve_metrics
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.view import AccountIdentity
from polytraders.desk.desk import Desk, SessionMemory
from polytraders.desk.shadow_chain import ShadowChain
from polytraders.desk.sinks import EnvelopeSink, JsonlSink
from polytraders.desk.slots import Quarantine
from polytraders.feeds.live.background import BackgroundFeed
from polytraders.feeds.samples import sample_path
from polytraders.model.allowance import AllowanceCheck
from polytraders.model.events import (
    AnyEvent,
    BookSnapshot,
    KillSwitchTripped,
    OperatorCommand,
    TradingState,
    TradingStateChanged,
)
from polytraders.model.fills import Fill
from polytraders.model.market import Instrument, Market, OutcomeToken
from polytraders.model.money import notional_micros, to_micros
from polytraders.model.orders import OrderIntent, Side, VenueOrder
from polytraders.model.position import Position
from polytraders.node.venue_worker import SYS_VENUE_WORKER_FAILED, VenueWorker, VenueWorkerError
from polytraders.ops.heap_trim import HeapTrimmer
from polytraders.ops.logs import configure_logging
from polytraders.readiness.demotion_watch import DemotionWatch
from polytraders.readiness.release_policy import NodeMode
from polytraders.store.allowance_checks import record_allowance_check
from polytraders.store.errors import StoreError
from polytraders.store.records import ReconciliationKind, RunProduced, RunStatus
from polytraders.store.run_ref import RunRef
from polytraders.venues.base import ReportingVenue, Venue
from polytraders.venues.drift import DeskRecords, ReconciliationResult, compare, records_of
from polytraders.venues.polymarket.credentials import Credentials, CredentialsError
from polytraders.venues.reconciliation import (
    RECONCILE_DRIFT_CRITICAL,
    DriftLevel,
    ReconciliationConfig,
)
from polytraders.venues.reports import VenueSnapshot

if TYPE_CHECKING:
    from polytraders.desk.allocator import AllocatorRestore
    from polytraders.desk.checkpoints import RestoredCheckpoint
    from polytraders.desk.clock import Clock
    from polytraders.desk.orders import OrderJournal
    from polytraders.desk.state import DeskState
    from polytraders.feeds.live.connection import KeepaliveConfig
    from polytraders.feeds.live.market_channel import MarketChannelConfig
    from polytraders.node.config import CcxtNodeConfig, LiveNodeConfig
    from polytraders.ops.health import HealthChecks
    from polytraders.ops.venue_metrics import VenueMetrics
    from polytraders.store.event_store import EventStore
    from polytraders.store.journal import RunJournal
    from polytraders.venues.polymarket.client import ClobHttpClient
    from polytraders.venues.polymarket.reconcile import ReconcileReport
    from polytraders.venues.polymarket.venue import PolymarketVenue

# The official client and the websocket/HTTP server libraries (the ``live`` extra) are imported
# inside the functions that use them, so the rest of the CLI starts fast and works without it.

_LOG = logging.getLogger(__name__)
POLYMARKET_MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"


def sim_clob(
    *,
    port: Annotated[int, typer.Option("--port", help="Loopback port (0 picks a free one).")] = 8765,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Recorded books directory (default: the shipped sample)."),
    ] = None,
    limit_markets: Annotated[
        int, typer.Option("--limit-markets", help="Markets to serve (0 = all).")
    ] = 2,
    replay_interval_ms: Annotated[
        int,
        typer.Option(
            "--replay-interval-ms",
            help="Replay one recorded snapshot per interval (0: only POST /sim/step).",
        ),
    ] = 1_000,
    heartbeat_timeout_ms: Annotated[int, typer.Option("--heartbeat-timeout-ms")] = 10_000,
    delay_ms: Annotated[
        int,
        typer.Option(
            "--delay-ms",
            min=0,
            help="Answer every REST request this many ms late (a slow venue; websockets and "
            "other connections are not held up). POST /sim/fault delay_responses changes it.",
        ),
    ] = 0,
    builder_code: Annotated[
        str, typer.Option("--builder-code", help="Required bytes32 builder code.")
    ] = "",
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--credentials-file", help="Credentials file (mode 600); else the environment."
        ),
    ] = None,
) -> None:
    """Serve the local Polymarket CLOB v2 simulator on 127.0.0.1 (REST + /ws/market + /ws/user).

    The served account is the signer key from POLYMARKET_PRIVATE_KEY (environment or
    --credentials-file); its simulator API credentials are derived from the key and printed, so the
    desk can point at the simulator with --clob-url/--ws-url exactly as at Polymarket. The
    control routes (/sim/fault, /sim/step, /sim/state) need the control token printed at start
    (a bearer token) and JSON bodies, so no web page can drive the simulator.
    """
    from polytraders.simclob.server import SimSettings, account_for_key, serve_forever

    values = dict(os.environ)
    if key_file is not None:
        try:
            values |= {"POLYMARKET_PRIVATE_KEY": Credentials.from_file(key_file).private_key}
        except CredentialsError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    key = values.get("POLYMARKET_PRIVATE_KEY", "")
    if not key:
        typer.echo("error: set POLYMARKET_PRIVATE_KEY or pass --credentials-file", err=True)
        raise typer.Exit(2)
    account = account_for_key(key, builder_code=builder_code)
    settings = SimSettings(
        data_path=data if data is not None else sample_path(),
        limit_markets=limit_markets or None,
        heartbeat_timeout_ms=heartbeat_timeout_ms,
        replay_interval_ms=replay_interval_ms,
        restamp=True,
        response_delay_ms=delay_ms,
    )

    def announce(url: str, market_ids: list[str], control_token: str) -> None:
        ws = url.replace("http://", "ws://")
        typer.echo(f"simulator on {url} (market channel {ws}/ws/market, user {ws}/ws/user)")
        typer.echo(f"account {account.address}")
        typer.echo(
            f"control token (POST /sim/fault, /sim/step, GET /sim/state with "
            f'"Authorization: Bearer <token>" and JSON bodies): {control_token}'
        )
        typer.echo(
            "simulator-only credentials: "
            f"POLYMARKET_API_KEY={account.api_key} POLYMARKET_API_SECRET={account.api_secret} "
            f"POLYMARKET_API_PASSPHRASE={account.api_passphrase}",
            nl=True,
        )
        for market_id in market_ids:
            typer.echo(f"market {market_id}")

    serve_forever(settings, account, port, announce)


def sim_exchange(
    *,
    port: Annotated[int, typer.Option("--port", help="Loopback port (0 picks a free one).")] = 8766,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="Depth recording of --market (default: the shipped BTCUSDT sample of it). "
            "Repeat for more USDⓈ-M symbols (one recording each, one clock, one cross-margin "
            "account; the first is the default symbol). Spot: one.",
        ),
    ] = None,
    market: Annotated[
        str,
        typer.Option(
            "--market",
            help="What to serve: usdm (Binance USDⓈ-M futures, /fapi) or spot (/api/v3).",
        ),
    ] = "usdm",
    replay_interval_ms: Annotated[
        int | None,
        typer.Option(
            "--replay-interval-ms",
            min=0,
            help="Replay one recorded depth event per interval (0: only POST /sim/step; "
            "default 100). Not with --present-time.",
        ),
    ] = None,
    present_time: Annotated[
        bool,
        typer.Option(
            "--present-time",
            help="Replay the recording as if it were happening now, at its own pace (either "
            "market): every served time is the recorded one shifted by (start - first event), "
            "so a desk on the wall clock sees fresh books (futures funding then falls off the "
            "8-hour boundaries).",
        ),
    ] = False,
) -> None:
    """Serve the local Binance USDⓈ-M futures simulator (or, with ``--market spot``, the Binance
    spot one: REST /api/v3) on 127.0.0.1 (REST /fapi + depth websocket, docs/simexchange.md):
    one symbol per ``--data`` recording (spot: one). A fresh API key and secret (simulator-only,
    kept in memory) and the control token are printed at start."""
    from polytraders.simexchange.replay import Market as ServedMarket
    from polytraders.simexchange.replay import default_recording_path
    from polytraders.simexchange.server import (
        SimExchangeSettings,
        throwaway_key,
    )
    from polytraders.simexchange.server import (
        serve_forever as serve_exchange,
    )

    if present_time and replay_interval_ms is not None:
        typer.echo("error: --replay-interval-ms: not with --present-time", err=True)
        raise typer.Exit(2)
    if market not in ("usdm", "spot"):
        raise typer.BadParameter(f"{market!r}: usdm or spot", param_hint="--market")
    if market == "spot" and data is not None and len(data) > 1:
        raise typer.BadParameter("spot serves one recording", param_hint="--data")
    interval_ms = 100 if replay_interval_ms is None else replay_interval_ms
    key = throwaway_key()
    served: ServedMarket = "spot" if market == "spot" else "usdm"
    paths = list(data) if data else [default_recording_path(served)]
    settings = SimExchangeSettings(
        market=served,
        data_path=paths[0],
        more_data_paths=tuple(paths[1:]),
        replay_interval_ms=0 if present_time else interval_ms,
        present_time=present_time,
    )

    def announce(url: str, symbols: str, control_token: str) -> None:
        ws = url.replace("http://", "ws://")
        streams = ", ".join(f"{ws}/ws/{s.lower()}@depth" for s in symbols.split(","))
        typer.echo(f"simulator on {url} ({symbols}; depth streams {streams})")
        typer.echo(
            f"simulator-only credentials: BINANCE_API_KEY={key.key} BINANCE_API_SECRET={key.secret}"
        )
        typer.echo(f"control token (POST /sim/fault, /sim/step, GET /sim/state): {control_token}")
        if present_time:
            typer.echo(
                "present time: the recording replays from now at its own pace, every time "
                "shifted by now - its first event (GET /sim/state time_offset_ms); "
                "POST /sim/session restarts it from now"
            )

    serve_exchange(settings, key, port, announce)


def record(
    *,
    out: Annotated[Path, typer.Option("--out", help="Output file (.gz for gzip).")],
    tokens: Annotated[str, typer.Option("--tokens", help="Comma-separated token ids.")],
    ws_url: Annotated[
        str, typer.Option("--ws-url", help="Market channel URL.")
    ] = POLYMARKET_MARKET_WS,
    duration_s: Annotated[
        float, typer.Option("--duration-s", help="Stop after this long (0: until Ctrl-C).")
    ] = 0,
    max_tokens_per_connection: Annotated[int, typer.Option("--max-tokens-per-connection")] = 200,
    ping_interval_ms: Annotated[int, typer.Option("--ping-interval-ms")] = 10_000,
    pong_timeout_ms: Annotated[int, typer.Option("--pong-timeout-ms")] = 30_000,
) -> None:
    """Record the Polymarket market channel to a line file (``<ts_recv_ns> <frame>``) and the
    markets seen in it to its ``.markets.json`` sidecar (ids and tokens only: no outcomes, end
    times or payouts)."""
    from polytraders.feeds.live.connection import KeepaliveConfig
    from polytraders.feeds.live.market_channel import MarketChannelConfig

    token_ids = [t.strip() for t in tokens.split(",") if t.strip()]
    if not token_ids:
        typer.echo("error: --tokens is empty", err=True)
        raise typer.Exit(2)
    config = MarketChannelConfig(
        ws_url=ws_url,
        max_tokens_per_connection=max_tokens_per_connection,
        keepalive=KeepaliveConfig(
            ping_interval_ms=ping_interval_ms, pong_timeout_ms=pong_timeout_ms
        ),
    )
    written = asyncio.run(_record(out, token_ids, config, duration_s))
    from polytraders.feeds.polymarket_lines import infer_markets, write_sidecar

    sidecar = write_sidecar(out, infer_markets(out))
    typer.echo(f"wrote {written} frames to {out}, markets seen to {sidecar}")


async def _record(
    out: Path, token_ids: list[str], config: MarketChannelConfig, duration_s: float
) -> int:
    from polytraders.feeds.lines import format_line, open_writer
    from polytraders.feeds.live.market_channel import MarketChannel

    count = 0
    with open_writer(out) as handle:

        def on_frame(ts_recv_ns: int, frame: str | bytes) -> None:
            nonlocal count
            raw = frame.encode() if isinstance(frame, str) else frame
            # one line per frame: a newline is JSON whitespace (inside a string it is invalid
            # JSON either way), so a frame with one is recorded with spaces instead
            handle.write(format_line(ts_recv_ns, raw.replace(b"\n", b" ")))
            count += 1

        channel = MarketChannel(token_ids, lambda _event: None, config, on_frame=on_frame)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, channel.stop)
        if duration_s > 0:
            loop.call_later(duration_s, channel.stop)
        await channel.run()
    return count


# ====================================================================== desk on live data
HALTING_CODES = frozenset(
    {
        "SYS_POLY_HEARTBEAT_LAPSED",
        "SYS_POLY_UNAVAILABLE",
        "SYS_POLY_AUTH_FAILED",
        "SYS_POLY_NOT_RECONCILED",
        "SYS_CCXT_AUTH_FAILED",
    }
)
"""Venue conditions that HALT the desk (an operator resumes). The venue-wide modes (425
restart, post-only, cancel-only, closed-only) go to ``DeskState.venue_state`` instead, where
``risk.markethaltguard`` refuses what the mode forbids and lets trading resume by itself."""


def _snapshot_or_refusal(
    venue: ReportingVenue, now_ns: int, refusals: tuple[type[Exception], ...]
) -> VenueSnapshot | str:
    """``venue.reconciliation_snapshot(now_ns)``, or the venue's refusal (one of
    ``refusals``) as one line when it gave no usable answer (no answer, an error status, a
    malformed page): a reconciliation that cannot be made is skipped, never a failure of the
    venue worker."""
    try:
        return venue.reconciliation_snapshot(now_ns)
    except refusals as exc:
        return f"{type(exc).__name__}: {exc}"


class LiveSession:
    """Drives one desk on a live clock from the market channel, with the polymarket (or paper)
    venue, the user channel and the venue's safety states wired to the desk.

    The live venue is a :class:`~polytraders.node.venue_worker.VenueWorker`: the network
    venue runs on the worker's thread (posts, cancels, heartbeats, retries, trade syncs), so
    no step ever waits on the network; a paper venue (``--paper``, ``--shadow``) has no
    network and is driven directly. Each :meth:`step`:

    0. until every token has its first book snapshot, snapshots only fill the books (the
       strategies start once they can read both books of each market);
    1. user-channel messages received so far are handed to the worker, which applies them
       to the venue (fills counted at MATCHED, final at CONFIRMED, FAILED reverted);
    2. every market event received since the last step (the feed's, then each of
       ``market_sources``') goes through ``desk.process``; each
       venue advance of the desk hands the orders it decided since the previous advance to
       the worker (they go out in batches, after the desk's checkpoint row for them) and
       collects the venue events the worker produced so far (acks, rejections, cancels,
       fills), never waiting for an answer;
    3. ``desk.tick()`` fires due timers (the ``venue.poll`` timer advances the venue even
       when no market event arrives); then the orders decided in the step and not handed
       over yet go to the worker (:meth:`VenueWorker.hand_over`);
    4. after every venue advance (inside the desk's loop, before the event's decisions) and
       at the end of the step, the worker's latest status is copied into the desk state: the
       accepted heartbeat time, the venue's mode (425 restart back-off, post-only window,
       cancel-only, closed-only) as ``DeskState.venue_state``, and a halting condition
       (:data:`HALTING_CODES`: heartbeat lapse, unreachable, refused credentials, not
       reconciled) sets the desk HALTED with the venue's registered code — so no decision is
       taken on a stale heartbeat time or into a mode the venue just announced. At the end
       of the step the results of :meth:`VenueWorker.call` are delivered, and fills the
       venue reported FAILED are kept in :attr:`reverted_fills` and taken out of the desk's
       ledger exactly (:meth:`Desk.revert_fill`, which also records the reversal in the
       store), or, when that is impossible, the kill switch trips until an operator
       reconciles. A failed worker (an exception in the venue) halts the desk with
       ``SYS_VENUE_WORKER_FAILED`` and the step raises :class:`VenueWorkerError`;
    5. the recording is flushed: envelopes, order states and fills of the step reach the
       store (and the timeline file) together, so a crash loses at most one step; then, at
       most every 10 s, the C heap's free pages go back to the OS
       (:class:`~polytraders.ops.heap_trim.HeapTrimmer`; a few ms on this step);
    6. every bot the desk quarantined since the last round raises an alert
       (:meth:`_alert_quarantines`; the desk itself has already cancelled a quarantined
       strategy's open orders);
    7. with ``reconciliation`` set, every ``interval_s`` of the desk clock (the first one
       ``interval_s`` after construction) the venue is reconciled (:meth:`reconcile`).

    **Demotion** (seed 001): with a store (``recording.store``), before anything else the
    first step and then every 10 minutes of the desk clock run the demotion monitor
    (:class:`~polytraders.readiness.demotion_watch.DemotionWatch`): a main-desk bot in General
    live whose condition has held for 24 hours is demoted in the store, and a bot whose
    latest recorded move is a demotion is taken out of ENFORCED in the main desk
    (:meth:`Desk.demote`, a ``BotModeChanged`` desk event ``GOV_DEMOTION_APPLIED``, audited in
    the run). No option or setting turns this off. Candidate desks (``--shadow``) never
    affect users and are not changed.

    **Reconciliation** is two steps so that the network part can run off the decision loop:
    the fetch is one read-only call on the venue (``venue.reconciliation_snapshot``), the
    comparison (:meth:`on_reconciliation`) runs on the loop with the snapshot and the desk's
    records taken when the fetch was asked for (:meth:`desk_records`; fills booked meanwhile
    are the snapshot's unbooked fills, which explain the difference). Its verdict
    (:meth:`conclude_reconciliation`, also given the start-up one) is recorded in the store's
    ``reconciliations`` table; WARNING is logged; CRITICAL logs an ERROR and sets the desk
    HALTED with ``SYS_RECONCILE_DRIFT_CRITICAL`` (a desk event, checkpointed): an unexplained
    position means the desk's own positions are wrong, so it can no longer tell which
    orders reduce exposure (REDUCING would trust them); only cancels pass until an operator
    has checked and resumes the desk (``polytraders kill-switch reset``). Resting orders are
    not cancelled by the halt.

    Args:
        desk: the desk (live clock).
        venue: the venue the desk uses: a started :class:`VenueWorker` (its status is
            watched) or a paper venue.
        market_feed: the running market channel.
        user_feed: the running user channel, or None (paper).
        venue_poll_ms: interval of the ``venue.poll`` timer, which makes the desk advance the
            venue (collect the worker's events and status; paper: fill and expire orders)
            even when no market event arrives.
        recording: where the desk's evidence goes (store attempt and timeline file), flushed
            every step and ended by :meth:`close` (None: only the desk's own sink).
        shadows: candidate desks (paper venues, recording only) fed exactly the same events
            after the main desk (``--shadow``).
        reconciliation: when and how to reconcile with the venue while running (None: never).
        booked_fill_ids: fill ids the run had booked before this desk started (the store's
            and the start-up reconciliation's): with the desk's own fills, what the venue's
            listed fills are checked against.
        shadow_recordings: the candidates' recordings (flushed every step and ended by
            :meth:`close`, like ``recording``).
        shadow_comparator: the candidate's risk chain shadowing ``desk`` (already given to it),
            whose comparison is recorded window by window after each step and at
            :meth:`close` (:class:`~polytraders.backtest.shadow_live.LiveShadowComparator`).
        venue_metrics: the node's venue metrics; every reconciliation concluded here
            (start-up and periodic) sets their drift gauges and counts.
        snapshot_refusals: the venue's errors that skip a periodic reconciliation (None:
            Polymarket's ``ClobRequestError``).
        after_step: hooks run every step once its orders went to the worker.
        market_sources: more market events, polled every step after the feed's.
    """

    def __init__(
        self,
        desk: Desk,
        venue: VenueWorker[Any] | ReportingVenue,
        market_feed: BackgroundFeed[AnyEvent],
        user_feed: BackgroundFeed[tuple[dict[str, Any], int]] | None = None,
        venue_poll_ms: int = 250,
        recording: LiveRecording | None = None,
        shadows: Sequence[Desk] = (),
        reconciliation: ReconciliationConfig | None = None,
        booked_fill_ids: Iterable[str] = (),
        shadow_recordings: Sequence[LiveRecording] = (),
        venue_metrics: VenueMetrics | None = None,
        shadow_comparator: LiveShadowComparator | None = None,
        snapshot_refusals: tuple[type[Exception], ...] | None = None,
        after_step: Sequence[Callable[[], None]] = (),
        market_sources: Sequence[Callable[[], list[AnyEvent]]] = (),
    ) -> None:
        if snapshot_refusals is None:
            from polytraders.venues.polymarket.client import ClobRequestError

            snapshot_refusals = (ClobRequestError,)
        self.snapshot_refusals = snapshot_refusals
        """A periodic reconciliation that raises one of these is skipped (logged)."""
        self.after_step = list(after_step)
        """Run every step after the step's orders went to the worker (the ccxt session's
        protective stop keeper, :mod:`polytraders.commands.live_ccxt`)."""
        self.market_sources = list(market_sources)
        """Polled every step after the market feed; their events go to the desks the same way
        (the ccxt session's funding rates, fetched by the venue worker)."""
        self.desk = desk
        self.shadow_comparator = shadow_comparator
        self.recording = recording
        self.shadows = list(shadows)
        self.shadow_recordings = list(shadow_recordings)
        self.venue = venue
        self.worker = venue if isinstance(venue, VenueWorker) else None
        """The live venue's worker (None: a paper venue)."""
        self.market_feed = market_feed
        self.user_feed = user_feed
        self.reverted_fills: list[Fill] = []
        self.halts: list[str] = []
        self.alerts: list[Quarantine] = []
        """The main desk's quarantines alerted so far, in order (one ERROR log line each)."""
        self.events_in = 0
        self.restamped_events = 0
        self.heap_trimmer = HeapTrimmer()
        """Gives the C heap's free pages back to the OS every 10 s, at the end of a step
        (:mod:`polytraders.ops.heap_trim`)."""
        self._last_market_ns = 0
        self._closed = False
        # a timer keeps the venue advanced (heartbeats, acks, fills) when the market is quiet
        first_ns = desk.clock.now_ns()
        for each in (desk, *self.shadows):
            each.add_timer("venue.poll", venue_poll_ms * 1_000_000, first_ns=first_ns)
        self._waiting_for_books = {t.token_id for m in desk.state.markets() for t in m.tokens} | {
            i.token_id for i in desk.state.instruments()
        }
        if self.worker is not None:
            self.worker.after_advance = self._sync_venue
        self.reconciliation = reconciliation
        self.venue_metrics = venue_metrics
        self.reconciliations: list[tuple[ReconciliationKind, ReconciliationResult]] = []
        """Every reconciliation concluded by this session, in order."""
        self._booked_before = frozenset(booked_fill_ids)
        self._next_reconciliation_ns = (
            first_ns + reconciliation.interval_s * 1_000_000_000 if reconciliation else 0
        )
        self.demotion: DemotionWatch | None = None
        """The main desk's demotion monitor: always on with a store (nothing turns it off)."""
        if recording is not None and recording.store is not None:
            self.demotion = DemotionWatch(recording.store, desk, run=recording.run, now_ns=first_ns)

    def step(self) -> int:
        """One round (see the class docstring); returns how many market events were
        processed.

        Raises:
            VenueWorkerError: the venue worker failed (the desk is HALTED first).
            polytraders.store.errors.StoreError: the demotion monitor could not read or write
                the store (the session then ends FAILED, as when a reconciliation cannot be
                recorded: a desk that cannot tell whether a bot is demoted does not go on).
        """
        if self.demotion is not None:
            self.demotion.poll(self.desk.clock.now_ns())
        self._apply_user_messages()
        events = self.market_feed.poll()
        for source in self.market_sources:
            events.extend(source())
        for received in events:
            event = self._ordered(received)
            if self._waiting_for_books and self._warm_up(event):
                continue
            self.desk.process(event)
            for shadow in self.shadows:
                shadow.process(event)
        self.desk.tick()
        for shadow in self.shadows:
            shadow.tick()
        if self.worker is not None:  # the step's checkpoint rows are written: send its orders
            self.worker.hand_over(self.desk.clock.now_ns())
        for hook in self.after_step:
            hook()
        self._watch_venue()
        self._alert_quarantines()
        self._reconcile_if_due()
        for recording in (self.recording, *self.shadow_recordings):
            if recording is not None:
                recording.flush()
        self.heap_trimmer.maybe_trim()
        if self.shadow_comparator is not None:
            try:  # evidence about the candidate: a store refusing it does not stop the desk
                self.shadow_comparator.maybe_record(self.desk.clock.now_ns())
            except StoreError as exc:
                _LOG.error("shadow comparison window not recorded: %s", exc)
        self.events_in += len(events)
        if self.worker is not None and self.worker.failure:
            raise VenueWorkerError(f"venue worker failed: {self.worker.failure}")
        return len(events)

    def _apply_user_messages(self) -> None:
        """Hand every user-channel message received so far to the venue worker."""
        if self.user_feed is None or self.worker is None:
            return
        for message, ts_recv_ns in self.user_feed.poll():
            self.worker.on_user_message(message, ts_recv_ns)

    def _sync_venue(self) -> None:
        """Copy the worker's latest status into the desk state: the accepted heartbeat, the
        venue's mode, a halting condition or the worker's failure (run after every venue
        advance, see :attr:`VenueWorker.after_advance`, and every step)."""
        if self.worker is None:
            return
        status = self.worker.status
        state = self.desk.state
        # a heartbeat accepted while the desk works through a lagging event (a timer) is
        # recorded at the desk's time: it is at least that recent, never in its future
        accepted_ns = min(status.last_heartbeat_ok_ns, state.now_ns)
        if accepted_ns > state.last_venue_heartbeat_ns:
            state.record_heartbeat(accepted_ns)
        if status.venue_state is not state.venue_state:
            _LOG.warning("venue state %s -> %s", state.venue_state, status.venue_state)
            state.set_venue_state(status.venue_state)
        code = SYS_VENUE_WORKER_FAILED if status.failure else status.halt_reason
        if code in HALTING_CODES | {SYS_VENUE_WORKER_FAILED} and (
            state.trading_state is not TradingState.HALTED
        ):
            state.set_trading_state(TradingState.HALTED, code, f"venue.{self.worker.name}")
            self.halts.append(code)
            _LOG.error("venue condition %s: desk HALTED", code)

    def _ordered(self, event: AnyEvent) -> AnyEvent:
        """A simulated (paper) venue needs market events in time order, but live frames of
        different tokens and connections interleave: an event stamped before the previous
        one is re-stamped to the previous time (counted in :attr:`restamped_events`). The live
        venue ignores market events, so nothing is changed for it."""
        if self.worker is not None:
            return event
        if event.ts_event_ns < self._last_market_ns:
            self.restamped_events += 1
            return msgspec.structs.replace(event, ts_event_ns=self._last_market_ns)
        self._last_market_ns = event.ts_event_ns
        return event

    def _warm_up(self, event: AnyEvent) -> bool:
        """Before every token has its first snapshot, snapshots only update the books (no
        decisions): a binary quote reads both books, so the desk starts deciding once it has
        them all. Returns True when the event was consumed here."""
        if not isinstance(event, BookSnapshot):
            return False
        for desk in (self.desk, *self.shadows):
            state = desk.state
            state.set_time(max(state.now_ns, desk.clock.now_ns()))
            state.apply_event(event)
            desk.venue.on_market_event(event)
        self._waiting_for_books.discard(event.token_id)
        return True

    def _watch_venue(self) -> None:
        """Deliver the worker's call results, take back fills whose trade failed, then sync
        the venue's state (step 4)."""
        if self.worker is None:
            return
        self.worker.deliver_results()
        for fill in self.worker.take_reverted():
            self.reverted_fills.append(fill)
            if not self.desk.revert_fill(fill, "SYS_POLY_TRADE_FAILED"):
                self.halts.append("SYS_POLY_TRADE_FAILED")
                _LOG.error("failed fill %s could not be reversed: kill switch", fill.fill_id)
        self._sync_venue()

    def _alert_quarantines(self) -> None:
        """Alert on each bot the main desk quarantined since the last call: an ERROR log line
        with the bot, the mode it failed in, the failure's code, message and location, and
        whether its quotes were stopped. The metrics follow from the bot's ERROR envelope
        (``polytraders_bot_errors_total`` and ``polytraders_bot_mode`` QUARANTINE) when a
        :class:`~polytraders.ops.metrics.DeskMetrics` is among the desk's sinks."""
        for quarantine in self.desk.quarantines[len(self.alerts) :]:
            self.alerts.append(quarantine)
            failure = quarantine.failure
            stopped = (
                quarantine.bot_class is BotClass.STRATEGY and quarantine.from_mode is Mode.ENFORCED
            )
            _LOG.error(
                "ALERT: %s %s quarantined from %s: %s %s%s%s",
                quarantine.bot_class,
                quarantine.bot_id,
                quarantine.from_mode,
                failure.code,
                failure.message,
                f" at {failure.location}" if failure.location else "",
                "; its open orders are being cancelled" if stopped else "",
            )

    # ------------------------------------------------------------------ reconciliation
    def _reconcile_if_due(self) -> None:
        """Reconcile when ``interval_s`` of desk time has passed since the last one."""
        config = self.reconciliation
        now_ns = self.desk.clock.now_ns()
        if config is None or now_ns < self._next_reconciliation_ns:
            return
        self._next_reconciliation_ns = now_ns + config.interval_s * 1_000_000_000
        self.reconcile(now_ns)

    def reconcile(self, now_ns: int) -> None:
        """Start one periodic reconciliation now: take the desk's records, then fetch the
        venue's snapshot — through the venue worker (:meth:`VenueWorker.call`, on its thread;
        the verdict follows at a later step, when the worker delivers the snapshot) or, for a
        venue without one (paper: no network), at once — and judge it
        (:meth:`on_reconciliation`). A venue that gives no usable snapshot is logged as a
        WARNING and asked again at the next interval.

        Raises:
            ValueError: the session has no reconciliation settings.
            polytraders.store.errors.StoreError: recording a verdict given at once failed.
        """
        records = self.desk_records()
        venue = self.venue
        if isinstance(venue, VenueWorker):
            venue.call(
                lambda network_venue: _snapshot_or_refusal(
                    network_venue, now_ns, self.snapshot_refusals
                ),
                lambda got: self._judge(got, records),
            )
            return
        self._judge(_snapshot_or_refusal(venue, now_ns, self.snapshot_refusals), records)

    def _judge(self, got: VenueSnapshot | str, records: DeskRecords) -> None:
        """Judge a fetched snapshot (or log why there is none)."""
        if isinstance(got, str):
            _LOG.warning("periodic reconciliation skipped, no usable venue snapshot: %s", got)
            return
        self.on_reconciliation(got, records)

    def desk_records(self) -> DeskRecords:
        """The desk's records now (copies): every order it tracks, every fill the run has
        booked and not reverted (before this desk started and since), its positions."""
        state = self.desk.state
        return records_of(
            list(state.orders.values()),
            self._booked_before | self.desk.orders.booked_fill_ids,
            {p.token_id: p.size for p in state.positions()},
        )

    def on_reconciliation(
        self, snapshot: VenueSnapshot, records: DeskRecords
    ) -> ReconciliationResult:
        """Judge a periodic snapshot against the records taken when it was asked for (on the
        decision loop; pure but for :meth:`conclude_reconciliation`).

        Raises:
            ValueError: the session has no reconciliation settings.
            polytraders.store.errors.StoreError: recording the result failed.
        """
        if self.reconciliation is None:
            raise ValueError("this session has no reconciliation settings")
        result = compare(snapshot, records, self.reconciliation)
        self.conclude_reconciliation(result, ReconciliationKind.PERIODIC)
        return result

    def conclude_reconciliation(
        self, result: ReconciliationResult, kind: ReconciliationKind
    ) -> None:
        """Act on a reconciliation's verdict (class docstring): record it in the store
        attempt (when recording to one) and in the venue metrics (when given), log a WARNING
        or an ERROR, and on CRITICAL set the desk HALTED with
        ``SYS_RECONCILE_DRIFT_CRITICAL``. Unknown venue orders and orders
        closed at the venue found while running are logged as WARNINGs.

        Raises:
            polytraders.store.errors.StoreError: recording it failed.
        """
        self.reconciliations.append((kind, result))
        if self.venue_metrics is not None:
            self.venue_metrics.reconciled(
                order_drift_micros=result.order_drift_micros,
                position_drift_micros=result.position_drift_micros,
                level=result.level,
            )
        recording = self.recording
        if recording is not None and recording.store is not None and recording.run is not None:
            recording.store.append_reconciliation(
                recording.run,
                ts_ns=result.ts_ns,
                kind=kind,
                level=result.level.value,
                order_drift_micros=result.order_drift_micros,
                position_drift_micros=result.position_drift_micros,
                reason_codes=result.reason_codes,
                differences_json=result.differences.to_json(),
            )
        found = result.differences
        if kind is ReconciliationKind.PERIODIC and (found.unknown_orders or found.closed_at_venue):
            _LOG.warning(
                "periodic reconciliation: %d open venue orders the desk does not know (%s), "
                "%d desk orders no longer open at the venue (%s)",
                len(found.unknown_orders),
                ", ".join(r.venue_order_id for r in found.unknown_orders),
                len(found.closed_at_venue),
                ", ".join(found.closed_at_venue),
            )
        if result.level is DriftLevel.OK:
            return
        figures = (
            f"{kind} reconciliation {result.level.reason_code}: unexplained drift, orders "
            f"{result.order_drift_micros}, positions {result.position_drift_micros} micro-shares"
        )
        if result.level is DriftLevel.WARNING:
            _LOG.warning("%s", figures)
            return
        _LOG.error("%s: desk HALTED until an operator reconciles", figures)
        state = self.desk.state
        change = state.set_trading_state(
            TradingState.HALTED, RECONCILE_DRIFT_CRITICAL, "reconciliation"
        )
        if change is not None:
            self.halts.append(RECONCILE_DRIFT_CRITICAL)

    def kill(self, operator: str = "operator") -> None:
        """Trip the kill switch: the desk cancels every open order at the venue."""
        self.desk.operator(
            OperatorCommand(
                ts_event_ns=self.desk.state.now_ns,
                ts_recv_ns=self.desk.state.now_ns,
                command="kill",
                operator=operator,
            )
        )

    def run_for(self, duration_s: float, idle_sleep_s: float = 0.02) -> None:
        """Step until ``duration_s`` has passed or the desk asked to stop."""
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline:
            if not self.step():
                time.sleep(idle_sleep_s)

    def close(
        self,
        cancel_open_orders: bool = True,
        *,
        status: RunStatus | None = None,
        detail: str = "",
    ) -> None:
        """Shut the desk down and record how the run ended.

        With ``cancel_open_orders`` (a graceful stop): user-channel messages received so far
        are handed to the venue, the venue worker cancels everything (the venue then syncs
        its trades, so fills matched just before are reported) and stops
        (:meth:`VenueWorker.close`, bounded by its ``close_timeout_s``), the desk shuts down
        (its cancels and those fills are booked, not lost); the recording is flushed and the
        store attempt ended with ``status`` (default: HALTED with the reason code when the
        desk ended halted, else COMPLETED) and ``detail``, claiming every envelope, order
        state and fill it produced; so is each candidate's (``status`` or its own ending).
        ``cancel_open_orders=False`` models a crash: the worker
        just stops, orders stay at the venue and the attempt stays RUNNING for the next
        start-up to reconcile and resume. The feeds and the venue's connection are closed in
        both cases, also when the shutdown raises: a worker that failed (before or during the
        close) or a cancel-all not done in time ends the attempt FAILED with the error, which
        is raised (only logged when ``status`` is already FAILED: the caller is reporting an
        error). Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        ending = (status, detail) if status is not None else _ending(self.desk)
        shadow_endings = [
            (status, detail) if status is not None else _ending(s) for s in self.shadows
        ]
        try:
            if cancel_open_orders:
                self._apply_user_messages()
                problem: VenueWorkerError | None = None
                if self.worker is not None:
                    try:
                        self.worker.close(cancel_open_orders=True)
                    except VenueWorkerError as exc:
                        problem = exc
                self.desk.shutdown()  # books what the worker reported, its cancels included
                if problem is not None:
                    if ending[0] is not RunStatus.FAILED:
                        raise problem
                    _LOG.error("venue worker at shutdown: %s", problem)
        except Exception as exc:  # e.g. the venue did not answer the cancel-all
            ending = (RunStatus.FAILED, f"{type(exc).__name__} at shutdown: {exc}")
            raise
        finally:
            if self.shadow_comparator is not None:
                try:  # the last window; a store that refuses it does not stop the shutdown
                    self.shadow_comparator.close(self.desk.state.now_ns)
                except StoreError as exc:
                    _LOG.error("shadow comparison not recorded: %s", exc)
            for shadow in self.shadows:
                shadow.shutdown()
            for shadow, recording, (shadow_status, shadow_detail) in zip(
                self.shadows, self.shadow_recordings, shadow_endings, strict=False
            ):
                if cancel_open_orders:
                    recording.end(shadow, shadow_status, shadow_detail)
                recording.close()
            self.market_feed.stop()
            if self.user_feed is not None:
                self.user_feed.stop()
            if self.recording is not None:
                if cancel_open_orders:
                    self.recording.end(self.desk, *ending)
                self.recording.close()
            if self.worker is not None:
                self.worker.close(cancel_open_orders=False)  # stopped already unless a crash


def _ending(desk: Desk) -> tuple[RunStatus, str]:
    """How a desk ends that is stopping now (before its shutdown): HALTED with the reason
    code of its kill-switch trip or of its latest halt when it is halted, else COMPLETED."""
    state = desk.state
    if not state.kill_switch_tripped and state.trading_state is not TradingState.HALTED:
        return RunStatus.COMPLETED, ""
    kind = KillSwitchTripped if state.kill_switch_tripped else TradingStateChanged
    codes = [e.reason_code for e in desk.result().desk_events if isinstance(e, kind)]
    if codes:
        return RunStatus.HALTED, codes[-1]
    return RunStatus.HALTED, "SYS_KILL_SWITCH_TRIPPED" if kind is KillSwitchTripped else "HALTED"


def markets_from_venue(client: ClobHttpClient, condition_ids: Sequence[str]) -> list[Market]:
    """Markets and their tokens from ``GET /markets/{condition_id}`` (tick size, minimum size,
    neg-risk), at start-up: metadata is cached before any order is signed.

    Raises:
        ClobRequestError: the venue did not answer.
        ValueError: an answer without two tokens.
    """
    markets: list[Market] = []
    for condition_id in condition_ids:
        data = client.get_market(condition_id)
        tokens = data.get("tokens") or []
        if len(tokens) != 2:
            raise ValueError(f"market {condition_id} does not have two tokens")
        tick = to_micros(str(data.get("minimum_tick_size", "0.01")))
        minimum = to_micros(str(data.get("minimum_order_size", "5")))
        neg_risk = bool(data.get("neg_risk", False))
        ids = [str(t["token_id"]) for t in tokens]
        markets.append(
            Market(
                market_id=condition_id,
                slug=str(data.get("market_slug", "")),
                question=str(data.get("question", "")),
                category=str(data.get("category", "other") or "other").lower(),
                tokens=tuple(
                    OutcomeToken(
                        token_id=ids[i],
                        market_id=condition_id,
                        outcome=str(tokens[i].get("outcome", "")),
                        complement_token_id=ids[1 - i],
                        tick_size=tick,
                        min_order_size=minimum,
                        neg_risk=neg_risk,
                    )
                    for i in (0, 1)
                ),
            )
        )
    return markets


def compose_desk(
    desk_file: DeskFile,
    *,
    run_id: str,
    venue: Venue,
    markets: Sequence[Market],
    sink: Any = None,
    state: DeskState | None = None,
    start_sequence: int = 0,
    journal: OrderJournal | None = None,
    shadow: ShadowChain | None = None,
    memory: SessionMemory | None = None,
    instruments: Sequence[Instrument] = (),
    clock: Clock | None = None,
    allocator_restore: AllocatorRestore | None = None,
) -> Desk:
    """The desk of ``desk_file`` on a live clock: every live path (``--paper``, ``--shadow``'s
    candidate, ``--live``) composes its desk here, and the bots come from
    :meth:`DeskFile.build_slots` exactly as in a backtest (same bots, order, modes, configs,
    budgets, seeded generators), with the file's desk loop settings (``[desk]``) and account
    (``[account]``: a live session replaces it with the credentials' identity first, see
    :meth:`LiveNodeConfig.with_account`).

    Args:
        desk_file: the desk to run.
        run_id: the run's id (envelopes, client order ids).
        venue: the venue the desk trades on.
        markets: the markets it trades.
        sink: envelope sink (None: in memory).
        state: a prepared state (a live start-up's reconciled positions and orders; it carries
            its own account); None: a fresh state with the desk file's account.
        start_sequence: envelope sequence number to resume from.
        journal: where order states and fills are recorded as they happen (None: nowhere).
        shadow: a candidate risk chain deciding beside the desk's, never applied.
        memory: how much of its past the desk keeps (None: all of it, as a backtest;
            :class:`~polytraders.desk.desk.SessionMemory`).
        instruments: the crypto instruments it trades (a ccxt session's, from the exchange).
        clock: the desk's clock (None: the wall clock, :class:`~polytraders.desk.clock.LiveClock`,
            what every command uses; a test against the exchange simulator passes one that
            follows the simulator's replay).
        allocator_restore: a restart's MetaAllocator state and the run's fills
            (:func:`~polytraders.desk.checkpoints.allocator_restore`).

    Raises:
        ValueError: the desk cannot be built (no ENFORCED execution bot; an allocator on
            a state with orders or positions and no ``allocator_restore``; an
            ``allocator_restore`` whose strategies are not the desk file's budgets).
    """
    from polytraders.desk.clock import LiveClock

    strategies, risk, execution = desk_file.build_slots()
    return Desk(
        run_id=run_id,
        venue=venue,
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=markets,
        sink=sink,
        config=desk_file.desk,
        clock=clock if clock is not None else LiveClock(),
        state=state,
        start_sequence=start_sequence,
        account=desk_file.account.identity(),
        journal=journal,
        shadow=shadow,
        memory=memory,
        unwind=desk_file.build_unwind_slot(),
        instruments=instruments,
        allocator_restore=allocator_restore,
    )


def compliance_problems(
    account: AccountIdentity,
    markets: Sequence[Market],
    venue: PolymarketVenue,
    expected_builder_code: str = "",
    desk: DeskFile | None = None,
) -> list[str]:
    """Start-up checks before ``--live``: the compliance gate approves a probe order on every
    market (the account's builder code must equal ``expected_builder_code`` when given; signer
    authority; market lists), so does each ENFORCED ``risk.compliancegate`` of ``desk`` with
    its own config (a desk whose gate would refuse every order of this account does not go
    live), and the account is not closed-only. Empty when live trading may start."""
    from polytraders.bots.risk.compliancegate import ComplianceGate, ComplianceGateConfig
    from polytraders.desk.harness import run_risk
    from polytraders.desk.state import DeskState

    problems: list[str] = []
    try:
        gate = ComplianceGate(
            ComplianceGateConfig(builder_code=expected_builder_code or account.builder_code)
        )
    except ValidationError as exc:
        return [f"builder code is not a bytes32 0x-hex value ({exc.error_count()} error)"]
    gates: list[tuple[str, Any]] = [("compliance gate", gate)]
    if desk is not None:
        for i, entry in enumerate(desk.risk):
            cls = desk.bot_class(entry)
            if issubclass(cls, ComplianceGate) and entry.mode is Mode.ENFORCED:
                gates.append((f"desk risk[{i}] {cls.bot_id}", cls(cls.Config(**entry.config))))
    state = DeskState(ledger=Ledger(0), account=account)
    for market in markets:
        state.add_market(market)
    for market in markets:
        token = market.tokens[0]
        probe = OrderIntent(
            intent_id=f"startup-probe:{token.token_id}",
            bot_id="strat.maker_tight",
            token_id=token.token_id,
            market_id=market.market_id,
            side=Side.BUY,
            price=token.tick_size,
            size=token.min_order_size,
            post_only=True,
            builder_code=account.builder_code,
        )
        for name, each in gates:
            outcome = run_risk(each, probe, state).outcome
            if not outcome.approved:
                problems.append(f"{market.market_id}: {name} {outcome.reason_codes}")
    if venue.refresh_closed_only():
        problems.append("account is closed-only (SYS_POLY_CLOSED_ONLY)")
    return problems


def check_wallet_allowance(
    venue: PolymarketVenue, markets: Sequence[Market], store_url: str | None
) -> tuple[AllowanceCheck, int]:
    """The start-up allowance check before ``--live`` (:meth:`PolymarketVenue.allowance_check`:
    the funder's collateral allowance to the CTF Exchange V2 — and, when one of ``markets``
    is neg-risk, to the neg-risk exchange and adapter — at least its balance), with the wall
    clock it was made at. A passing check is returned for the caller to record with the run
    attempt it starts; a failing one is recorded desk-wide in ``store_url`` (when given, as
    ``GOV_WALLET_ALLOWANCE_CHECKED``), the venue is closed and the start refused.

    Raises:
        RuntimeError: the allowance does not cover the balance (one line,
            ``GOV_WALLET_ALLOWANCE_INSUFFICIENT``; nothing was sent).
        ClobRequestError: the venue did not answer (the venue is closed).
        polytraders.store.errors.StoreError: the failing check could not be recorded.
    """
    from polytraders.store.event_store import EventStore

    try:
        check = venue.allowance_check(neg_risk=any(t.neg_risk for m in markets for t in m.tokens))
        checked_ns = time.time_ns()
        if not check.verified:
            if store_url is not None:
                with EventStore.open(store_url) as store:
                    record_allowance_check(store, check, ts_ns=checked_ns)
            raise RuntimeError(check.problem)
    except BaseException:
        venue.close()
        raise
    return check, checked_ns


class LiveRecording:
    """Where a live desk's evidence goes, and how its store attempt ends.

    :attr:`sink` is what the desk records envelopes into: the store (same sequence rules as a
    backtest: an attempt's envelopes from 0 without gaps, a resumed attempt continuing at
    :meth:`EventStore.next_sequence`), then the timeline file, then :attr:`tally` (the
    counts ``result.json`` reports) and any further ``sinks`` (e.g. the metrics), in that
    order, so the file never holds an envelope the store lost. Order states and fills reach
    the store through the desk's journal (:attr:`journal`), buffered with the envelopes.
    :meth:`flush` writes all of them together (every step). ``base`` is what the attempt held
    before this process's desk started (earlier processes of a resumed attempt and this
    start-up's reconciliation), so :meth:`end` claims everything the attempt produced.

    Args:
        store / run: the store and the attempt it holds (None: not recorded in a store).
        timeline: the envelope timeline file (None: none).
        base: what the attempt held before this desk started.
        sinks: further envelope sinks, after the tally.
        config / config_version / seed: the desk config the run records (the desk file's
            canonical JSON, or a live node's), its version and the seed (``result.json``).
    """

    def __init__(
        self,
        *,
        store: EventStore | None = None,
        run: RunRef | None = None,
        timeline: JsonlSink | None = None,
        base: RunProduced | None = None,
        sinks: Sequence[EnvelopeSink] = (),
        config: Mapping[str, Any],
        config_version: str,
        seed: int,
    ) -> None:
        from polytraders.backtest.result import EnvelopeTally
        from polytraders.desk.sinks import FanoutSink

        self.store = store
        self.run = run
        self.timeline = timeline
        self.base = base or RunProduced(envelopes=0, orders=0, fills=0)
        self.config = config
        self.config_version = config_version
        self.seed = seed
        self.tally = EnvelopeTally()
        chain: list[EnvelopeSink] = [
            *([store] if store is not None else []),
            *([timeline] if timeline is not None else []),
            self.tally,
            *sinks,
        ]
        self.sink: EnvelopeSink = FanoutSink(chain)

    @property
    def journal(self) -> RunJournal | None:
        """The desk's order journal on the store attempt (None without a store)."""
        from polytraders.store.journal import RunJournal

        if self.store is None or self.run is None:
            return None
        return RunJournal(self.store, self.run)

    def flush(self) -> None:
        """Write everything recorded so far (store rows in one transaction, then the file)."""
        self.sink.flush()

    def end(self, desk: Desk, status: RunStatus, detail: str) -> None:
        """Flush, then end the store attempt with ``status``/``detail`` and what it produced
        (``base`` plus this desk's envelopes, order states and booked fills)."""
        self.flush()
        if self.store is None or self.run is None:
            return
        stats = desk.orders.stats
        self.store.end_run(
            self.run,
            ended_ns=desk.state.now_ns,
            status=status,
            detail=detail,
            produced=RunProduced(
                envelopes=self.base.envelopes + desk.result().envelope_count,
                orders=self.base.orders + stats.order_states,
                fills=self.base.fills + stats.fills_booked,
            ),
        )

    def abandon(self, detail: str) -> None:
        """A start-up failed before the desk ran: end the store attempt FAILED with
        ``detail`` (claiming what ``base`` holds), then :meth:`close`."""
        try:
            if self.store is not None and self.run is not None:
                self.store.end_run(
                    self.run,
                    ended_ns=time.time_ns(),
                    status=RunStatus.FAILED,
                    detail=detail,
                    produced=self.base,
                )
        finally:
            self.close()

    def close(self) -> None:
        """Close the timeline file and the store (pending rows are written)."""
        if self.timeline is not None:
            self.timeline.close()
        if self.store is not None:
            self.store.close()


def trim_timeline(path: Path, next_sequence: int) -> int:
    """Keep only the envelopes with a sequence below ``next_sequence`` in the timeline file
    at ``path`` (a resumed attempt continues from the store's next sequence; lines written
    after the store's last flush are dropped, not duplicated). Returns the lines kept.

    Raises:
        OSError: the file cannot be read or replaced.
        msgspec.DecodeError: a line is not an envelope.
    """
    if not path.exists():
        return 0
    kept: list[bytes] = []
    with path.open("rb") as stream:
        for line in stream:
            if _SEQUENCE.decode(line).sequence >= next_sequence:
                break
            kept.append(line)
    staging = path.with_name(path.name + ".trim")
    staging.write_bytes(b"".join(kept))
    staging.replace(path)
    return len(kept)


class _Sequenced(msgspec.Struct):
    sequence: int


_SEQUENCE = msgspec.json.Decoder(_Sequenced)


def latest_orders(rows: Sequence[VenueOrder]) -> list[VenueOrder]:
    """The last recorded state of each order (store rows are one per lifecycle change)."""
    latest: dict[str, VenueOrder] = {}
    for row in rows:
        latest[row.client_order_id] = row
    return list(latest.values())


def positions_with_cost(
    venue_positions: dict[str, int], fills: Sequence[Fill]
) -> dict[str, tuple[int, int]]:
    """Token → (venue size, cost basis). The size is the venue's (the truth); the cost basis
    is the BUY fills' average entry price (of what each added: ``size − fee_size`` at its
    price, as the ledger's cost basis) × that size (0 when flat or no fills price it)."""
    bought: dict[str, tuple[int, int]] = {}
    for fill in fills:
        if fill.side is Side.BUY:
            size, cash = bought.get(fill.token_id, (0, 0))
            bought[fill.token_id] = (
                size + fill.net_size,
                cash + notional_micros(fill.price, fill.net_size),
            )
    out: dict[str, tuple[int, int]] = {}
    for token_id, size in venue_positions.items():
        if size == 0:
            continue
        shares, cash = bought.get(token_id, (0, 0))
        out[token_id] = (size, cash * size // shares if shares else 0)
    return out


POLYMARKET_CLOB = "https://clob.polymarket.com"
DESK_BUILDER = DESK_BUILDER_CODE
"""The builderCode ``--builder-code`` expects by default (the desk file's default account's and
the compliance gate's default)."""
POLYMARKET_USER_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/user"


def _counting_reconnects(keepalive: Any, venue_metrics: VenueMetrics) -> KeepaliveConfig:
    """``keepalive`` (None: the defaults) with websocket reconnects counted in
    ``venue_metrics``."""
    from polytraders.feeds.live.connection import KeepaliveConfig

    base = keepalive if keepalive is not None else KeepaliveConfig()
    return dataclasses.replace(base, on_reconnect=venue_metrics.reconnected)


def start_market_feed(
    ws_url: str, tokens: Sequence[str], keepalive: Any = None
) -> BackgroundFeed[AnyEvent]:
    """The market channel for ``tokens`` on a background thread."""
    from polytraders.feeds.live.market_channel import MarketChannel, MarketChannelConfig

    config = (
        MarketChannelConfig(ws_url=ws_url)
        if keepalive is None
        else MarketChannelConfig(ws_url=ws_url, keepalive=keepalive)
    )
    return BackgroundFeed[AnyEvent](
        lambda push: MarketChannel(tokens, push, config), "polymarket-market"
    ).start()


def build_live_session(
    *,
    run_id: str,
    credentials: Credentials,
    markets_ids: Sequence[str],
    node: LiveNodeConfig,
    ws_url: str,
    user_ws_url: str,
    keepalive: Any = None,
    timeline: Path | None = None,
    expected_builder_code: str = DESK_BUILDER,
    store_url: str | None = None,
    sinks: Sequence[EnvelopeSink] = (),
    venue_metrics: VenueMetrics | None = None,
) -> tuple[LiveSession, ReconcileReport]:
    """A desk trading at ``node.venue.clob_url`` (Polymarket or the simulator): fetch markets,
    cache metadata, reconcile with ``node.reconciliation`` (fail closed until done), start the
    feeds. The start-up reconciliation's verdict is concluded like a periodic one
    (:meth:`LiveSession.conclude_reconciliation`: recorded in the store's ``reconciliations``,
    logged, and a CRITICAL one starts the desk HALTED), and the session reconciles again every
    ``node.reconciliation.interval_s``. With a store,
    a new run records ``node.canonical()`` (its venue part as in effect, with the credentials'
    builder code when the node sets none) and that config's ``config_version``, and the desk
    checkpoints its controls there (:mod:`polytraders.desk.checkpoints`). Resuming a run
    (same run id) folds its checkpoint: orders checkpointed but not yet in the ``orders``
    table are reconciled too, and the desk starts with the trading state, kill switch,
    day-start and peak equity and seen intent ids it had, plus any operator trip or reset
    written while it was down (a tripped switch cancels what reconciliation found open).

    The desk is ``node.desk`` composed by :func:`compose_desk` (the bots of
    :meth:`DeskFile.build_slots`, as in a backtest), with the desk file's ``[account]``
    replaced by the credentials' identity (:meth:`LiveNodeConfig.with_account`: signer,
    funder and signature type from the key, the builder code in effect) once the start-up
    compliance checks (:func:`compliance_problems`, the desk's own compliance gate included)
    and the wallet allowance check (:func:`check_wallet_allowance`) have passed; the recorded
    ``node.canonical()`` is that desk, so the store holds the desk that actually runs. With
    ``store_url`` the allowance check is recorded (``GOV_WALLET_ALLOWANCE_CHECKED``) with the
    attempt it starts, or desk-wide when it refuses the start.

    With ``store_url`` the run is recorded in the event store: a RUNNING attempt of
    ``run_id`` (a crashed desk) is resumed — its orders and fills are reconciled with the
    venue and its envelopes, orders and fills continue in the same attempt (envelope and
    order sequences continuing); after an ended attempt a new one starts, carrying the
    previous attempt's orders (recorded again in the new attempt after reconciliation, and
    the order sequence continues, so no client order id is ever reused). Reconciled order
    states and missed fills are recorded before the desk starts. ``timeline`` is the
    envelope file (JSON lines) of the attempt: a resumed attempt's file is trimmed to the
    store's next sequence and continued, a new attempt's file is started afresh. ``sinks``
    also receive every envelope (e.g. the metrics); ``venue_metrics`` (when given) observe
    every REST request and websocket reconnect and receive the start-up reconciliation's drift
    (:meth:`VenueMetrics.reconciled`).

    The desk keeps a bounded past (:meth:`SessionMemory.live` with the venue's
    ``closed_order_retention_s``): a closed order leaves it, fills and all, a minute after
    the venue forgets it, and the equity curve keeps a point per 10 s; the ids of its fills
    stay booked (reconciliation, the ledger). The ``--out`` files still list every fill and
    draw the whole curve: :class:`~polytraders.commands.live_outputs.LiveOutputs` archives
    them on disk as they happen.

    Start-up (markets, compliance and allowance checks, reconciliation, the balances
    snapshot) runs synchronously on the calling thread, before any decision; then the venue
    is handed to a started :class:`~polytraders.node.venue_worker.VenueWorker`, the only
    caller of the venue from then on, and the desk trades through it (a restored tripped kill
    switch's cancel-all already goes through the worker).

    Raises:
        ClobRequestError: the venue did not answer at start-up.
        RuntimeError: the compliance checks or the allowance check failed (nothing was
            sent).
        polytraders.store.errors.StoreError: the store cannot be opened, the attempt is
            held by a live process elsewhere, or the start-up reconciliation could not be
            recorded (the session is then closed as a crash would end it: open orders stay
            at the venue, the attempt RUNNING).
    """
    from polytraders.desk.checkpoints import CheckpointWriter, allocator_restore, load_checkpoint
    from polytraders.desk.state import DeskState
    from polytraders.feeds.live.user_channel import UserAuth, UserChannel, UserChannelConfig
    from polytraders.node.config import NodeConfigError
    from polytraders.venues.polymarket.reconcile import reconcile
    from polytraders.venues.polymarket.venue import PolymarketVenue

    venue = PolymarketVenue.from_credentials(credentials, node.venue, wall_clock_ns=time.time_ns)
    if venue_metrics is not None:
        venue.client.request_observer = venue_metrics.observe_request
        keepalive = _counting_reconnects(keepalive, venue_metrics)
    node = node.model_copy(update={"venue": venue.config})  # the builder code in effect
    markets = markets_from_venue(venue.client, markets_ids)
    for market in markets:
        for token in market.tokens:
            venue.set_token(token)
    account = AccountIdentity(
        signer=venue.signer.address,
        funder=venue.signer.funder,
        signature_type=venue.signer.signature_type,
        builder_code=venue.config.builder_code,
    )
    problems = compliance_problems(account, markets, venue, expected_builder_code, node.desk)
    if problems:
        venue.close()
        raise RuntimeError("compliance checks failed: " + "; ".join(problems))
    allowance, checked_ns = check_wallet_allowance(venue, markets, store_url)
    try:
        node = node.with_account(account)
    except NodeConfigError as exc:
        venue.close()
        raise RuntimeError(f"the desk cannot take the live account: {exc}") from exc
    tokens = [t.token_id for m in markets for t in m.tokens]
    known: _Attempt | None = None
    restored: RestoredCheckpoint | None = None
    try:
        if store_url is not None:
            known = _open_attempt(store_url, run_id, node=node, ws_url=ws_url)
            record_allowance_check(known.store, allowance, ts_ns=checked_ns, run=known.run)
        store_orders = list(known.orders) if known is not None else []
        store_fills = known.fills if known is not None else []
        if known is not None and known.source is not None:
            # the checkpoint of the attempt resumed, or of the one before a new attempt: a
            # tripped kill switch stays tripped until an operator resets it
            restored = load_checkpoint(known.store, known.source)
            if restored is not None and not known.resumed:
                # row sequences are per attempt: the new attempt's operator rows start afresh
                restored = msgspec.structs.replace(restored, last_sequence=-1, operator_sequence=-1)
        if restored is not None:  # orders checkpointed before the crash, not yet in `orders`
            listed = {o.client_order_id for o in store_orders}
            store_orders += [o for o in restored.open_orders if o.client_order_id not in listed]
        started_ns = time.time_ns()
        report = reconcile(
            venue,
            store_orders=store_orders,
            known_fill_ids=[f.fill_id for f in store_fills],
            store_positions=_believed_holdings(known, has_records=bool(store_orders)),
            config=node.reconciliation,
            now_ns=started_ns,
        )
    except BaseException:  # nothing is left open behind a failed start-up
        venue.close()
        if known is not None:
            known.store.close()
        raise
    balances = venue.balances()
    state = DeskState.build(
        now_ns=time.time_ns(),
        markets=markets,
        positions=positions_with_cost(report.positions, [*store_fills, *report.missed_fills]),
        cash=balances.get("pUSD", 0),
        open_orders=[o for o in venue.orders() if o.status.is_open],
        account=account,
    )
    for order in venue.orders():  # the run's closed orders too: their ids are never sent again
        if not order.status.is_open:
            state.add_order(order)
    base = None
    allocation = None
    if known is not None:
        holdings = [
            state.ledger.position(token_id) or Position(token_id) for token_id in report.positions
        ]
        _record_reconciliation(known, venue.orders(), report.missed_fills, holdings, started_ns)
        # after the reconciliation's missed fills are recorded: attribution covers them too
        allocation = allocator_restore(known.store, known.run, restored)
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
    # start-up is over: from here on only the worker's thread calls the venue
    worker = VenueWorker(
        venue,
        balances=balances,
        max_pending_submits=node.worker.max_pending_submits_count,
        idle_advance_ms=node.worker.idle_advance_ms,
        close_timeout_s=node.worker.close_timeout_s,
    ).start()
    try:
        desk = compose_desk(
            node.desk,
            run_id=run_id,
            venue=worker,
            markets=markets,
            sink=recording.sink,
            state=state,
            start_sequence=known.next_envelope if known is not None else 0,
            journal=recording.journal,
            memory=SessionMemory.live(node.venue.closed_order_retention_s),
            allocator_restore=allocation,
        )
        if known is not None:  # checkpoint from now on; a restart resumes its controls first
            writer = CheckpointWriter(known.store, str(known.run), restored=restored)
            desk.persist_checkpoints(writer, restored)
        auth = UserAuth(credentials.api_key, credentials.api_secret, credentials.api_passphrase)
        user_config = (
            UserChannelConfig(ws_url=user_ws_url)
            if keepalive is None
            else UserChannelConfig(ws_url=user_ws_url, keepalive=keepalive)
        )
        user = BackgroundFeed[tuple[dict[str, Any], int]](
            lambda push: UserChannel(
                auth,
                lambda item, ts: push((item, ts)),
                markets=[m.market_id for m in markets],
                config=user_config,
            ),
            "polymarket-user",
        ).start()
        market_feed = start_market_feed(ws_url, tokens, keepalive)
    except BaseException:
        worker.close(cancel_open_orders=False)
        raise
    session = LiveSession(
        desk,
        worker,
        market_feed,
        user,
        recording=recording,
        reconciliation=node.reconciliation,
        booked_fill_ids=[f.fill_id for f in (*store_fills, *report.missed_fills)],
        venue_metrics=venue_metrics,
    )
    try:
        session.conclude_reconciliation(report.comparison, ReconciliationKind.STARTUP)
    except BaseException:  # the start-up verdict could not be recorded: stop as a crash would
        session.close(cancel_open_orders=False)
        raise
    return session, report


class _Attempt(NamedTuple):
    """The store attempt a live desk records into, and what the store already knew."""

    store: EventStore
    run: RunRef
    resumed: bool
    """True: a RUNNING attempt continued; False: a new attempt."""
    source: RunRef | None
    """The attempt whose records carry over: ``run`` when resumed, else the previous one."""
    orders: list[VenueOrder]
    """Latest state of every order known (this attempt's, or the previous attempt's)."""
    recorded: dict[str, tuple[str, int, str]]
    """Client order id → (status, filled size, venue id) as recorded in ``run`` itself."""
    fills: list[Fill]
    """Fills still counted (reverted ones left out)."""
    next_envelope: int
    """The next envelope sequence in ``run`` (0 for a new attempt)."""


def _open_attempt(
    store_url: str, run_id: str, *, node: LiveNodeConfig | CcxtNodeConfig, ws_url: str
) -> _Attempt:
    """Resume the RUNNING attempt of ``run_id`` or start the next one (recording ``node``,
    the desk that runs, and carrying the previous attempt's orders and fills, if any)."""
    from polytraders.store.event_store import EventStore
    from polytraders.store.journal import reverted_fill_ids

    store = EventStore.open(store_url)
    latest = store.run(run_id)
    if latest is not None and latest.status is RunStatus.RUNNING:
        ref = store.resume_run(latest.ref).ref
        resumed = True
    else:
        ref = store.start_run(
            run_id=run_id,
            started_ns=time.time_ns(),
            seed=0,
            desk_config=node.canonical(),
            desk_config_version=node.config_version,
            data_source=ws_url,
            synthetic=False,
        ).ref
        resumed = False
    source = ref if resumed else (latest.ref if latest is not None else None)
    if source is None:
        return _Attempt(store, ref, resumed, None, [], {}, [], 0)
    orders = latest_orders(store.orders(source))
    reverted = reverted_fill_ids(store, source)
    fills = [f for f in store.fills(source) if f.fill_id not in reverted]
    recorded = {o.client_order_id: _mark(o) for o in orders} if resumed else {}
    next_envelope = store.next_sequence(ref) if resumed else 0
    return _Attempt(store, ref, resumed, source, orders, recorded, fills, next_envelope)


def _record_reconciliation(
    attempt: _Attempt,
    orders: Sequence[VenueOrder],
    missed_fills: Sequence[Fill],
    holdings: Sequence[Position],
    ts_ns: int,
) -> None:
    """Record in the attempt every order whose reconciled state it does not hold yet (a new
    attempt: all of them), the fills the venue reported that the store missed, and the
    holdings the desk starts with (a position snapshot of every token at ``ts_ns``, the
    start-up reconciliation's time: what :func:`_believed_holdings` starts from after a
    restart)."""
    for order in orders:
        if attempt.recorded.get(order.client_order_id) != _mark(order):
            attempt.store.append_order(attempt.run, order)
    for fill in missed_fills:
        attempt.store.append_fill(attempt.run, fill)
    for position in holdings:
        attempt.store.append_position(attempt.run, position, ts_ns)
    attempt.store.flush()


def _believed_holdings(attempt: _Attempt | None, *, has_records: bool) -> dict[str, int] | None:
    """What the store says the run holds (token → micro-shares), for the start-up
    reconciliation to judge the venue's holdings against; None when it says nothing (a new
    run, or one with neither orders nor fills: the venue's holdings are adopted).

    Every start-up records the holdings the desk starts with (:func:`_record_reconciliation`:
    the venue's, reconciled, consistent with the fills known then), so the belief is the
    source attempt's latest such snapshot plus the fills it booked after it (received later
    than that start-up; the fills recovered at it are in the snapshot). Holdings from before
    the run's first start and fills of earlier attempts are therefore part of the belief. An
    attempt without a snapshot (one that crashed before recording its start) believes the sum
    of its fills.
    """
    if attempt is None or attempt.source is None:
        return None
    snapshots = attempt.store.positions(attempt.source)
    if snapshots:
        start_ns = max(s.ts_ns for s in snapshots)
        believed = {s.token_id: s.size for s in snapshots if s.ts_ns == start_ns}
        fills = [f for f in attempt.fills if f.ts_recv_ns > start_ns]
    elif has_records or attempt.fills:
        believed, fills = {}, attempt.fills
    else:
        return None
    for fill in fills:
        believed[fill.token_id] = believed.get(fill.token_id, 0) + fill.position_change
    return believed


def _mark(order: VenueOrder) -> tuple[str, int, str]:
    return (order.status.value, order.filled_size, order.venue_order_id)


CANDIDATE_SUFFIX = "-candidate"
"""A shadow session's candidate desk records as the run ``<run id>-candidate``."""


def build_paper_session(
    *,
    run_id: str,
    markets_ids: Sequence[str],
    clob_url: str,
    ws_url: str,
    desk: DeskFile | None = None,
    candidate_desk: DeskFile | None = None,
    shadow: bool = False,
    store_url: str | None = None,
    timeline: Path | None = None,
    candidate_timeline: Path | None = None,
    sinks: Sequence[EnvelopeSink] = (),
    venue_metrics: VenueMetrics | None = None,
    shadow_window_s: int = DEFAULT_WINDOW_S,
) -> LiveSession:
    """A desk on live market data with the paper venue (no credentials, nothing sent), plus,
    with ``shadow``, a candidate desk (run ``<run_id>-candidate``) on the same events and the
    candidate's risk chain shadowing the desk on every intent, its agreement with the desk's
    decisions recorded every ``shadow_window_s`` of desk time and at the end as a shadow
    comparison (:class:`~polytraders.backtest.shadow_live.LiveShadowComparator`; in the store
    when ``store_url`` is given).

    Every desk is composed by :func:`compose_desk` on a paper venue with its desk file's
    ``[venue]`` fill model and ``[account]`` (the paper identity, as in a backtest), and
    recorded like a backtest (:class:`LiveRecording`): with ``store_url`` each desk starts a
    new attempt of its run in the event store (its desk file's canonical JSON and config
    version, the seed, ``ws_url`` as the data source), its envelopes, order states and fills
    flushed every step, its checkpoint rows written and operators' kill-switch rows applied
    (:mod:`polytraders.desk.checkpoints`, ``polytraders kill-switch``) and the attempt ended
    by :meth:`LiveSession.close`; ``timeline`` and
    ``candidate_timeline`` are the desks' envelope files (started afresh).

    Args:
        desk: the desk file (None: the default desk).
        candidate_desk: the candidate's desk file (None: ``desk``, so the candidate runs the
            same bots as the current desk).
        sinks: further envelope sinks of the current desk (e.g. the metrics).
        venue_metrics: observe the market look-ups and the market channel's reconnects.

    Raises:
        ClobRequestError: the venue did not answer the market look-ups.
        polytraders.store.errors.StoreError: the store cannot be opened or refused a start.
    """
    from py_clob_client_v2.clob_types import ApiCreds

    from polytraders.desk.checkpoints import CheckpointWriter
    from polytraders.venues.paper import PaperVenue
    from polytraders.venues.polymarket.client import ClobHttpClient

    current = desk if desk is not None else DeskFile()
    candidate = candidate_desk if candidate_desk is not None else current
    # public endpoints only: paper mode reads market metadata and never signs
    no_creds = ApiCreds(api_key="", api_secret="", api_passphrase="")
    client = ClobHttpClient(clob_url, chain_id=137, private_key="0x" + "01" * 32, creds=no_creds)
    if venue_metrics is not None:
        client.request_observer = venue_metrics.observe_request
    try:
        markets = markets_from_venue(client, markets_ids)
    finally:
        client.close()
    recordings: list[LiveRecording] = []
    venues: list[PaperVenue] = []

    comparator = (
        LiveShadowComparator(
            candidate=candidate,
            run_id=run_id,
            markets=markets,
            data_source=ws_url,
            store_url=store_url,
            window_s=shadow_window_s,
        )
        if shadow
        else None
    )

    def paper_desk(
        desk_file: DeskFile,
        desk_run_id: str,
        file: Path | None,
        extra: Sequence[EnvelopeSink],
        chain: ShadowChain | None = None,
    ) -> Desk:
        recording = _paper_recording(store_url, desk_run_id, desk_file, ws_url, file, extra)
        recordings.append(recording)
        venue = PaperVenue(desk_file.venue, markets, desk_run_id)
        venues.append(venue)
        built = compose_desk(
            desk_file,
            run_id=desk_run_id,
            venue=venue,
            markets=markets,
            sink=recording.sink,
            journal=recording.journal,
            shadow=chain,
        )
        if recording.store is not None and recording.run is not None:
            # checkpoints: operators' kill-switch rows (polytraders kill-switch, the console)
            # reach the running desk; a new attempt, so nothing to restore
            built.persist_checkpoints(CheckpointWriter(recording.store, desk_run_id))
        return built

    try:
        if comparator is not None:
            main = paper_desk(
                current, run_id, timeline, [*sinks, comparator.baseline_tap], comparator.chain
            )
        else:
            main = paper_desk(current, run_id, timeline, sinks)
        shadows = (
            [paper_desk(candidate, run_id + CANDIDATE_SUFFIX, candidate_timeline, ())]
            if shadow
            else []
        )
        tokens = [t.token_id for m in markets for t in m.tokens]
        keepalive = _counting_reconnects(None, venue_metrics) if venue_metrics else None
        feed = start_market_feed(ws_url, tokens, keepalive)
    except BaseException as exc:  # nothing is left RUNNING behind a failed start-up
        for recording in recordings:
            recording.abandon(f"{type(exc).__name__} at start-up: {exc}")
        raise
    return LiveSession(
        main,
        venues[0],
        feed,
        recording=recordings[0],
        shadows=shadows,
        shadow_recordings=recordings[1:],
        shadow_comparator=comparator,
    )


def _paper_recording(
    store_url: str | None,
    run_id: str,
    desk_file: DeskFile,
    data_source: str,
    timeline: Path | None,
    sinks: Sequence[EnvelopeSink],
) -> LiveRecording:
    """A paper desk's recording: a new attempt of ``run_id`` in the store (when given), the
    timeline file ``timeline`` (when given, started afresh), then ``sinks``."""
    from polytraders.store.event_store import EventStore

    store = run = None
    if store_url is not None:
        store = EventStore.open(store_url)
        try:
            run = store.start_run(
                run_id=run_id,
                started_ns=time.time_ns(),
                seed=desk_file.seed,
                desk_config=desk_file.canonical(),
                desk_config_version=desk_file.config_version,
                data_source=data_source,
                synthetic=False,
            ).ref
        except BaseException:
            store.close()
            raise
    file = None
    if timeline is not None:
        timeline.unlink(missing_ok=True)
        file = JsonlSink(timeline)
    return LiveRecording(
        store=store,
        run=run,
        timeline=file,
        sinks=sinks,
        config=desk_file.canonical(),
        config_version=desk_file.config_version,
        seed=desk_file.seed,
    )


def run(
    *,
    venue: Annotated[
        str,
        typer.Option(
            "--venue",
            help="polymarket, or ccxt (a crypto exchange; --live with a --node file whose "
            "[venue] is a ccxt venue, docs/ccxt_venue.md).",
        ),
    ] = "polymarket",
    paper: Annotated[bool, typer.Option("--paper", help="Live data, paper venue.")] = False,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="A candidate paper desk beside the current one.")
    ] = False,
    live: Annotated[bool, typer.Option("--live", help="Real orders (needs credentials).")] = False,
    confirm_live: Annotated[
        bool,
        typer.Option("--i-understand-this-trades-real-money", help="Required with --live."),
    ] = False,
    markets: Annotated[str, typer.Option("--markets", help="Comma-separated condition ids.")] = "",
    clob_url: Annotated[
        str | None,
        typer.Option(
            "--clob-url",
            help=f"CLOB REST base (default {POLYMARKET_CLOB}; with --live it overrides the "
            "node file's venue.clob_url).",
        ),
    ] = None,
    ws_url: Annotated[str, typer.Option("--ws-url", help="Market channel URL.")] = (
        POLYMARKET_MARKET_WS
    ),
    user_ws_url: Annotated[
        str | None,
        typer.Option(
            "--user-ws-url", help=f"--live: user channel URL (default {POLYMARKET_USER_WS})."
        ),
    ] = None,
    credentials_file: Annotated[
        Path | None, typer.Option("--credentials-file", help="--live: a mode-600 credentials file.")
    ] = None,
    orphan_policy: Annotated[
        str | None,
        typer.Option(
            "--orphan-policy",
            help="--live: cancel | adopt (overrides the node file's reconciliation.orphan_policy).",
        ),
    ] = None,
    node_file: Annotated[
        Path | None,
        typer.Option(
            "--node",
            help="--live: the node file (TOML, examples/node.toml): its desk, venue, "
            "reconciliation and worker settings; --desk/--strategy/--clob-url/--orphan-policy "
            "override it.",
        ),
    ] = None,
    duration_s: Annotated[float, typer.Option("--duration-s", help="0: until Ctrl-C")] = 0,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for result.json, envelopes.jsonl, fills.csv, report.html (a --shadow "
            "candidate's in its candidate/ folder): written at the end and on SIGUSR1.",
        ),
    ] = DEFAULT_OUT,
    run_id: Annotated[str, typer.Option("--run-id")] = "",
    builder_code: Annotated[
        str | None,
        typer.Option(
            "--builder-code",
            help=f"--live: the builderCode the start-up compliance check expects (default "
            f"the desk's, {DESK_BUILDER}).",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Event store (SQLite path/URL or postgresql+psycopg://…): each desk's run, "
            "envelopes, orders and fills; --live also persists the desk checkpoint (kill "
            "switch) and the same --run-id resumes.",
        ),
    ] = None,
    desk: Annotated[
        Path | None,
        typer.Option("--desk", help="Desk file (TOML); default: the default desk, as backtests."),
    ] = None,
    candidate_desk: Annotated[
        Path | None,
        typer.Option(
            "--candidate-desk",
            help="--shadow: the candidate's desk file (default: the --desk desk).",
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Your strategy, FILE.py:Class or module:Class: shorthand for a desk whose "
            "strategies are that one bot (as for backtests).",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            help="Serve Prometheus metrics on 127.0.0.1:PORT (a backtest's, plus the venue's).",
        ),
    ] = None,
    gov_dir: Annotated[
        Path,
        typer.Option(
            "--gov-dir",
            help="Governance directory (signer list, manifests, evidence bundles): every bot "
            "is checked against its release before the desk starts (docs/governance.md).",
        ),
    ] = Path("governance"),
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help="Logs on stderr: json (one JSON object per line, with run_id; the default) "
            "or console (readable lines, for a terminal). Secrets are always masked.",
        ),
    ] = "json",
) -> None:
    """Run the desk on Polymarket: --paper (live data, paper venue), --shadow (a candidate desk
    beside the current one, recording only) or --live (real orders: credentials, the explicit
    confirmation flag and the start-up compliance checks are all required). Nothing goes live
    implicitly; --clob-url/--ws-url point the desk at the local simulator.

    The desk is ``--desk`` (default: the default desk), composed exactly as a backtest composes
    it; with --live its ``[account]`` is replaced by the credentials' identity. A bad desk
    file, ``--out`` or ``--metrics-port`` is refused (exit 2) before anything is contacted.
    Every desk writes a backtest's outputs into ``--out`` when the session ends and on SIGUSR1
    (``docs/runs.md``), and is recorded in ``--store`` like a backtest."""
    from polytraders.node.config import NodeConfigError
    from polytraders.ops.venue_metrics import VenueMetrics
    from polytraders.store.errors import StoreError
    from polytraders.venues.polymarket.client import ClobRequestError

    if venue == "ccxt":
        polymarket_only = {
            "--paper": paper,
            "--shadow": shadow,
            "--markets": bool(markets),
            "--clob-url": clob_url is not None,
            "--user-ws-url": user_ws_url is not None,
            "--orphan-policy": orphan_policy is not None,
            "--builder-code": builder_code is not None,
            "--candidate-desk": candidate_desk is not None,
        }
        given = [name for name, used in polymarket_only.items() if used]
        if given:
            fail(f"{', '.join(given)}: not with --venue ccxt (the node file names the symbols)")
        _run_ccxt(
            live=live,
            confirm_live=confirm_live,
            node_file=node_file,
            desk=desk,
            strategy=strategy,
            ws_url=ws_url if ws_url != POLYMARKET_MARKET_WS else "",
            credentials_file=credentials_file,
            duration_s=duration_s,
            out_dir=out_dir,
            run_id=run_id,
            store=store,
            metrics_port=metrics_port,
            gov_dir=gov_dir,
            log_format=log_format,
        )
        return
    if venue != "polymarket":
        fail(f"unknown venue {venue!r}: polymarket or ccxt")
    if log_format not in ("json", "console"):
        fail(f"--log-format {log_format!r}: json or console")
    if sum((paper, shadow, live)) != 1:
        fail("choose exactly one of --paper, --shadow, --live")
    ids = [m.strip() for m in markets.split(",") if m.strip()]
    if not ids:
        fail("--markets is empty")
    if candidate_desk is not None and not shadow:
        fail("--candidate-desk: only with --shadow")
    if metrics_port is not None and not 1 <= metrics_port <= 65_535:
        fail(f"--metrics-port {metrics_port}: out of range (1-65535)")
    if live and not confirm_live:
        fail("--live needs --i-understand-this-trades-real-money")
    if not live:
        live_only = {
            "--i-understand-this-trades-real-money": confirm_live,
            "--credentials-file": credentials_file is not None,
            "--user-ws-url": user_ws_url is not None,
            "--orphan-policy": orphan_policy is not None,
            "--builder-code": builder_code is not None,
            "--node": node_file is not None,
        }
        given = [name for name, used in live_only.items() if used]
        if given:
            fail(f"{', '.join(given)}: only with --live (a paper desk sends no orders)")
    desk_file = load_desk(desk)
    if strategy:
        try:
            desk_file = desk_file.with_strategy(strategy)
        except DeskFileError as exc:
            fail(exc.one_line(), EXIT_REFUSED, exc)
    candidate_file = load_desk(candidate_desk) if candidate_desk is not None else desk_file
    try:
        check_output_target(out_dir)
    except OutputDirError as exc:
        fail(str(exc), EXIT_REFUSED, exc)
    check_store_outside_out(store, out_dir)
    node: LiveNodeConfig | None = None
    creds: Credentials | None = None
    if live:
        try:
            node = _live_node(
                node_file,
                desk_file if desk is not None else None,
                strategy=strategy,
                clob_url=clob_url,
                orphan_policy=orphan_policy,
            )
        except NodeConfigError as exc:
            fail(exc.one_line(), EXIT_REFUSED, exc)
        try:
            creds = (
                Credentials.from_file(credentials_file)
                if credentials_file is not None
                else Credentials.from_env()
            )
        except CredentialsError as exc:
            fail(str(exc), EXIT_REFUSED, exc)
    if live and store is None:
        fail("--live needs --store: the bots' accepted releases are read from it")
    if store is not None:
        node_mode = NodeMode.LIVE if live else NodeMode.SHADOW if shadow else NodeMode.PAPER
        desks = [node.desk] if node is not None else [desk_file]
        if shadow and candidate_file is not desk_file:
            desks.append(candidate_file)
        _check_releases(desks, node_mode=node_mode, store_url=store, gov_dir=gov_dir)
    if node is not None:
        _report_paper_only(node.desk)
    rid = run_id or f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    configure_logging(
        run_id=rid,
        fmt="json" if log_format == "json" else "console",
        secrets=()
        if creds is None
        else (
            creds.private_key.removeprefix("0x"),
            creds.api_key,
            creds.api_secret,
            creds.api_passphrase,
        ),
    )
    mode = "live" if live else "shadow" if shadow else "paper"
    _LOG.info("%s session starting: markets %s", mode, ", ".join(ids))
    signals = _Signals()
    signals.catch(signal.SIGUSR1)  # from now on a snapshot request waits for the loop
    try:
        metrics = serve_metrics(metrics_port)
        try:
            outputs = LiveOutputs(out_dir)
        except OutputDirError as exc:
            fail(str(exc), EXIT_REFUSED, exc)
        venue_metrics = VenueMetrics(metrics.registry) if metrics is not None else None
        sinks = [metrics] if metrics is not None else []
        try:
            if node is not None and creds is not None:
                session, report = build_live_session(
                    run_id=rid,
                    credentials=creds,
                    markets_ids=ids,
                    node=node,
                    ws_url=ws_url,
                    user_ws_url=user_ws_url or POLYMARKET_USER_WS,
                    timeline=outputs.timeline(""),
                    expected_builder_code=builder_code or DESK_BUILDER,
                    store_url=store,
                    sinks=sinks,
                    venue_metrics=venue_metrics,
                )
            else:
                session = build_paper_session(
                    run_id=rid,
                    markets_ids=ids,
                    clob_url=clob_url or POLYMARKET_CLOB,
                    ws_url=ws_url,
                    desk=desk_file,
                    candidate_desk=candidate_file,
                    shadow=shadow,
                    store_url=store,
                    timeline=outputs.timeline(""),
                    candidate_timeline=outputs.timeline(CANDIDATE_FOLDER) if shadow else None,
                    sinks=sinks,
                    venue_metrics=venue_metrics,
                )
        except (RuntimeError, ClobRequestError, StoreError, ValueError) as exc:
            outputs.discard()
            what = "not going live" if live else "not starting"
            typer.echo(f"error: {what}: {exc}", err=True)
            raise typer.Exit(1) from exc
        if live:
            typer.echo(
                f"reconciled: {len(report.open_known)} open, {len(report.missed_fills)} missed"
                f" fills, orphans adopted {len(report.orphans_adopted)} / cancelled"
                f" {len(report.orphans_canceled)}, drift {report.drift}"
                f" (orders {report.order_drift_micros}, positions {report.position_drift_micros}"
                " micro-shares)"
            )
            switch = session.desk.state.controls().kill_switch
            if switch.tripped:
                typer.echo(
                    f"kill switch TRIPPED ({switch.reason_code} by {switch.source}): open orders "
                    "are being cancelled, nothing is traded until `polytraders kill-switch reset`"
                )
        _add_outputs(outputs, session, live=live, shadow=shadow)
        telemetry = LiveTelemetry(outputs.desks, metrics, venue_metrics)
        if metrics is not None:
            register_readiness(metrics.health, session)
        status, detail = _drive(session, outputs, telemetry, duration_s, signals)
    finally:
        signals.restore()
    _LOG.info("%s session ended: %s%s", mode, status.value, f" ({detail})" if detail else "")
    _summaries(session, outputs, store)
    code = _exit_code(status, detail, session.desk)
    if code:
        raise typer.Exit(code)


def _run_ccxt(
    *,
    live: bool,
    confirm_live: bool,
    node_file: Path | None,
    desk: Path | None,
    strategy: str | None,
    ws_url: str,
    credentials_file: Path | None,
    duration_s: float,
    out_dir: Path,
    run_id: str,
    store: str | None,
    metrics_port: int | None,
    gov_dir: Path,
    log_format: str,
) -> None:
    """``polytraders live --venue ccxt --live``: the crypto desk of ``--node`` (a
    :class:`~polytraders.node.config.CcxtNodeConfig`; ``--desk``/``--strategy`` override its
    desk) through ccxt (:func:`~polytraders.commands.live_ccxt.build_ccxt_session`), with the
    same checks, outputs, signals and exit codes as the Polymarket node."""
    import ccxt

    from polytraders.commands.live_ccxt import build_ccxt_session
    from polytraders.node.config import CcxtNodeConfig, NodeConfigError
    from polytraders.store.errors import StoreError
    from polytraders.venues.ccxt.convert import ConversionError
    from polytraders.venues.ccxt.credentials import ApiKeyCredentials

    if log_format not in ("json", "console"):
        fail(f"--log-format {log_format!r}: json or console")
    if not live:
        fail("--venue ccxt: only --live (against a loopback simulator, set the node file's "
             "venue.api_url)")  # fmt: skip
    if not confirm_live:
        fail("--live needs --i-understand-this-trades-real-money")
    if metrics_port is not None and not 1 <= metrics_port <= 65_535:
        fail(f"--metrics-port {metrics_port}: out of range (1-65535)")
    if store is None:
        fail("--live needs --store: the bots' accepted releases are read from it")
    try:
        node = CcxtNodeConfig.load(node_file) if node_file is not None else CcxtNodeConfig()
        desk_file = load_desk(desk) if desk is not None else node.desk
        if strategy:
            desk_file = desk_file.with_strategy(strategy)
        node = node.model_copy(update={"desk": desk_file})
    except NodeConfigError as exc:
        fail(exc.one_line(), EXIT_REFUSED, exc)
    except DeskFileError as exc:
        fail(exc.one_line(), EXIT_REFUSED, exc)
    try:
        prefix = node.venue.credentials_prefix
        creds = (
            ApiKeyCredentials.from_file(credentials_file, prefix)
            if credentials_file is not None
            else ApiKeyCredentials.from_env(prefix)
        )
    except CredentialsError as exc:
        fail(str(exc), EXIT_REFUSED, exc)
    try:
        check_output_target(out_dir)
    except OutputDirError as exc:
        fail(str(exc), EXIT_REFUSED, exc)
    check_store_outside_out(store, out_dir)
    _check_releases([node.desk], node_mode=NodeMode.LIVE, store_url=store, gov_dir=gov_dir)
    _report_paper_only(node.desk)
    rid = run_id or f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    configure_logging(
        run_id=rid,
        fmt="json" if log_format == "json" else "console",
        secrets=(creds.api_key, creds.api_secret),
    )
    _LOG.info("ccxt session starting: %s %s", node.venue.venue, ", ".join(node.venue.symbols))
    signals = _Signals()
    signals.catch(signal.SIGUSR1)
    try:
        metrics = serve_metrics(metrics_port)
        try:
            outputs = LiveOutputs(out_dir)
        except OutputDirError as exc:
            fail(str(exc), EXIT_REFUSED, exc)
        try:
            session, startup = build_ccxt_session(
                run_id=rid,
                credentials=creds,
                node=node,
                ws_url=ws_url or None,  # None: Binance's streams of the venue's market
                timeline=outputs.timeline(""),
                store_url=store,
                sinks=[metrics] if metrics is not None else [],
            )
        except (ccxt.BaseError, ConversionError, StoreError, RuntimeError, ValueError) as exc:
            outputs.discard()
            typer.echo(f"error: not going live: {exc}", err=True)
            raise typer.Exit(1) from exc
        comparison, orphans = startup
        found = comparison.differences
        typer.echo(
            f"reconciled: {len(session.desk.state.open_orders())} open, "
            f"{len(found.unbooked_fills)} missed fills, orphans adopted {len(orphans.adopted)}"
            f" / cancelled {len(orphans.orders_canceled)} orders and "
            f"{len(orphans.stops_canceled)} stops, drift {comparison.level} (orders "
            f"{comparison.order_drift_micros}, positions {comparison.position_drift_micros} "
            "micro-units)"
        )
        _add_outputs(outputs, session, live=True, shadow=False)
        telemetry = LiveTelemetry(outputs.desks, metrics, None)
        if metrics is not None:
            register_readiness(metrics.health, session)
        status, detail = _drive(session, outputs, telemetry, duration_s, signals)
    finally:
        signals.restore()
    _LOG.info("ccxt session ended: %s%s", status.value, f" ({detail})" if detail else "")
    _summaries(session, outputs, store)
    code = _exit_code(status, detail, session.desk)
    if code:
        raise typer.Exit(code)


def _check_releases(
    desks: Sequence[DeskFile], *, node_mode: NodeMode, store_url: str, gov_dir: Path
) -> None:
    """The node's start-up check of every bot against its release
    (:mod:`polytraders.readiness.release_policy`), recorded in the store; exits 1 naming each
    refused bot and its GOV_ code, before anything is contacted."""
    from polytraders.readiness.release_policy import check_node
    from polytraders.readiness.release_subjects import desk_subjects
    from polytraders.store import EventStore
    from polytraders.store.errors import StoreError

    subjects = {s.bot_id: s for d in desks for s in desk_subjects(d).values()}
    try:
        with EventStore.open(store_url) as event_store:
            checks = check_node(
                list(subjects.values()),
                node_mode=node_mode,
                store=event_store,
                gov_dir=gov_dir,
                now_ns=time.time_ns(),
                actor="node",
            )
    except StoreError as exc:
        fail(f"--store: {exc}", EXIT_REFUSED, exc)
    refused = [c for c in checks if not c.allowed]
    for c in refused:
        typer.echo(f"refused: {c.bot_id} ({c.mode}): {c.code}: {c.detail}", err=True)
    if refused:
        what = "not going live" if node_mode is NodeMode.LIVE else "not starting"
        typer.echo(
            f"error: {what}: {len(refused)} bot(s) lack a valid release for their mode "
            "(GOV_NODE_RELEASES_CHECKED recorded)",
            err=True,
        )
        raise typer.Exit(EXIT_FAILED)
    if node_mode is NodeMode.LIVE:
        for c in checks:
            if c.required:
                typer.echo(f"release: {c.bot_id} ({c.mode}): {c.detail}")


FEED_MAX_AGE_S = 30
"""``/readyz``: the last market event must have been received at most this long ago."""
HEARTBEAT_MAX_AGE_S = 10
"""``/readyz``: a live venue's last accepted heartbeat at most this old (the CLOB's default
heartbeat time-out, after which it cancels every open order)."""


def register_readiness(
    checks: HealthChecks, session: LiveSession, wall_clock_ns: Callable[[], int] = time.time_ns
) -> None:
    """Register the session's ``/readyz`` checks (:mod:`polytraders.ops.health`): ``feed``
    (the market feed runs and its last event is at most :data:`FEED_MAX_AGE_S` old),
    ``venue`` (a live venue's worker has not failed and accepted a heartbeat at most
    :data:`HEARTBEAT_MAX_AGE_S` ago, or runs a venue without a dead-man switch, e.g. ccxt's;
    the paper venue is in process) and ``store`` (no write
    has failed since the last committed flush; passes without a store)."""
    from polytraders.ops.health import Check

    state = session.desk.state

    def feed() -> Check:
        if session.market_feed.error is not None:
            return Check(ok=False, detail=f"market feed stopped: {session.market_feed.error}")
        last_ns = state.last_feed_event_ns
        if not last_ns:
            return Check(ok=False, detail="no market event received yet")
        age_s = (wall_clock_ns() - last_ns) / 1e9
        ok = age_s <= FEED_MAX_AGE_S
        return Check(
            ok=ok, detail=f"last market event {age_s:.1f} s ago (limit {FEED_MAX_AGE_S} s)"
        )

    def venue() -> Check:
        worker = session.worker
        if worker is None:
            return Check(ok=True, detail="paper venue (in process)")
        if worker.failure:
            return Check(ok=False, detail=f"venue worker failed: {worker.failure}")
        last_ns = state.last_venue_heartbeat_ns
        if not last_ns and worker.heartbeat(wall_clock_ns()):
            return Check(ok=True, detail="the venue uses no dead-man switch; its worker runs")
        if not last_ns:
            return Check(ok=False, detail="no heartbeat accepted by the venue yet")
        age_s = (wall_clock_ns() - last_ns) / 1e9
        ok = age_s <= HEARTBEAT_MAX_AGE_S
        return Check(
            ok=ok,
            detail=f"last heartbeat accepted {age_s:.1f} s ago (limit {HEARTBEAT_MAX_AGE_S} s)",
        )

    def store() -> Check:
        recording = session.recording
        if recording is None or recording.store is None:
            return Check(ok=True, detail="not recording to a store")
        if recording.store.write_failing:
            return Check(
                ok=False,
                detail=f"the last write failed ({recording.store.write_failures} failure(s))",
            )
        return Check(ok=True, detail=f"writable ({recording.store.write_failures} failure(s))")

    checks.register("feed", feed)
    checks.register("venue", venue)
    checks.register("store", store)


def _live_node(
    node_file: Path | None,
    desk_file: DeskFile | None,
    *,
    strategy: str | None,
    clob_url: str | None,
    orphan_policy: str | None,
) -> LiveNodeConfig:
    """The node a ``--live`` session runs: the ``--node`` file (default: the default node),
    its desk replaced by ``--desk`` (``desk_file``, with ``--strategy`` applied) or, without
    one, ``--strategy`` applied to the node's own desk; ``--clob-url`` and ``--orphan-policy``
    override the file's values when given. Validated once, as a whole.

    Raises:
        NodeConfigError: an unreadable or invalid node file, a bad strategy target, or an
            override outside its limits (one line names the file or option).
    """
    from polytraders.node.config import LiveNodeConfig, NodeConfigError

    base = LiveNodeConfig.load(node_file) if node_file is not None else LiveNodeConfig()
    desk = desk_file if desk_file is not None else base.desk
    if desk_file is None and strategy:
        try:
            desk = desk.with_strategy(strategy)
        except DeskFileError as exc:
            raise NodeConfigError("--strategy", [exc.one_line()]) from exc
    data: dict[str, Any] = {
        "desk": desk,
        "venue": base.venue.model_dump(mode="json"),
        "reconciliation": base.reconciliation.model_dump(mode="json"),
        "worker": base.worker.model_dump(mode="json"),
    }
    if clob_url is not None:
        data["venue"] = {**data["venue"], "clob_url": clob_url}
    if orphan_policy is not None:
        data["reconciliation"] = {**data["reconciliation"], "orphan_policy": orphan_policy}
    source = str(node_file) if node_file is not None else "--clob-url/--orphan-policy"
    return LiveNodeConfig.from_mapping(data, source)


def paper_only_settings(desk_file: DeskFile) -> list[str]:
    """The settings ``desk_file`` gives that configure the paper venue only (``[venue]``:
    :class:`~polytraders.venues.paper.PaperVenueConfig`, the fill model of backtests and
    ``--paper``), as ``[venue] <key>`` in key order; empty when it gives none. A ``--live``
    session trades at the venue itself and uses none of them: the venue's own latencies,
    fills, fees and funding apply."""
    return [f"[venue] {key}" for key in sorted(desk_file.venue.model_fields_set)]


def _report_paper_only(desk_file: DeskFile) -> None:
    """Say which of the desk file's settings a ``--live`` session does not use (both live
    paths, before start-up), so the same desk file runs in a backtest and live without any
    of its settings being ignored silently."""
    unused = paper_only_settings(desk_file)
    if unused:
        typer.echo(
            f"desk file: {', '.join(unused)} configure the paper venue only (backtests, "
            "--paper): not used with --live, where the venue's own latencies, fills, fees "
            "and funding apply"
        )


def _exit_code(status: RunStatus, detail: str, desk: Desk) -> int:
    """The exit code of a live session whose current desk ended with ``status`` (``detail``:
    the signal's name when interrupted), as a backtest's (:mod:`.failures`): 130/143
    interrupted, 1 failed, 4 halted, 3 a bot quarantined, else 0."""
    from polytraders.backtest.stop import EXIT_CODE_BY_SIGNAL
    from polytraders.commands.failures import EXIT_FAILED, EXIT_HALTED, EXIT_QUARANTINED

    if status is RunStatus.INTERRUPTED:
        return EXIT_CODE_BY_SIGNAL.get(detail, EXIT_FAILED)
    if status is RunStatus.FAILED:
        return EXIT_FAILED
    if status is RunStatus.HALTED:
        return EXIT_HALTED
    if desk.quarantines:
        return EXIT_QUARANTINED
    return 0


def _add_outputs(outputs: LiveOutputs, session: LiveSession, *, live: bool, shadow: bool) -> None:
    """Register the session's desks with ``outputs``: the current desk's into ``--out``, a
    shadow candidate's into ``--out/candidate``."""
    recording = session.recording
    assert recording is not None  # both builders record
    if live:
        outputs.add(
            DeskOutputs(
                desk=session.desk,
                recording=recording,
                session="live",
                folder="",
                fill_model=FillModel.real(session.venue.name),
            )
        )
        return
    outputs.add(
        DeskOutputs(
            desk=session.desk,
            recording=recording,
            session="shadow" if shadow else "paper",
            folder="",
            fill_model=_paper_fill_model(session.desk),
        )
    )
    for candidate, candidate_recording in zip(
        session.shadows, session.shadow_recordings, strict=True
    ):
        outputs.add(
            DeskOutputs(
                desk=candidate,
                recording=candidate_recording,
                session="shadow-candidate",
                folder=CANDIDATE_FOLDER,
                fill_model=_paper_fill_model(candidate),
            )
        )


def _paper_fill_model(desk: Desk) -> FillModel:
    """The fill model of a desk's paper venue."""
    from polytraders.venues.paper import PaperVenue

    venue = desk.venue
    assert isinstance(venue, PaperVenue)
    return FillModel.of(venue.config)


class _Signals:
    """What the operator asked by signal: SIGINT/SIGTERM stop the session (:attr:`stop`, the
    signal's name), SIGUSR1 asks for a snapshot of the outputs (:attr:`snapshot`). Caught
    from :meth:`catch` until :meth:`restore` (main thread only)."""

    def __init__(self) -> None:
        self.stop = ""
        self.snapshot = False
        self._previous: dict[int, Any] = {}

    def catch(self, *signums: int) -> None:
        """Catch these signals from now on."""
        for signum in signums:
            self._previous.setdefault(signum, signal.signal(signum, self._on_signal))

    def _on_signal(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGUSR1:
            self.snapshot = True
        else:
            self.stop = signal.Signals(signum).name

    def restore(self) -> None:
        """Put the previous handlers back."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


def _drive(
    session: LiveSession,
    outputs: LiveOutputs,
    telemetry: LiveTelemetry,
    duration_s: float,
    signals: _Signals,
) -> tuple[RunStatus, str]:
    """Step ``session`` until ``duration_s`` has passed (0: no limit) or SIGINT/SIGTERM, with
    a snapshot of the outputs on each SIGUSR1; then close it (recording how each desk ended)
    and write the final outputs, also when a step or the shutdown raised (FAILED). Returns
    how the current desk ended (status, detail)."""
    signals.catch(signal.SIGINT, signal.SIGTERM)
    deadline = time.monotonic() + duration_s if duration_s > 0 else float("inf")
    failure = ""
    try:
        while not signals.stop and time.monotonic() < deadline:
            if not session.step():
                time.sleep(0.02)
            telemetry.after_step(session.events_in)
            if signals.snapshot:
                held_ms = outputs.snapshot()
                if held_ms is not None:
                    signals.snapshot = False
                    typer.echo(
                        f"snapshot: captured in {held_ms:.1f} ms, writing {outputs.target} "
                        "in the background"
                    )
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        stop = signals.stop
        status = RunStatus.FAILED if failure else RunStatus.INTERRUPTED if stop else None
        detail = failure or stop
        endings = {
            d.run_id: (status, detail) if status is not None else _ending(d)
            for d in (session.desk, *session.shadows)
        }
        try:
            session.close(status=status, detail=detail)
        except Exception as exc:
            endings[session.desk.run_id] = (
                RunStatus.FAILED,
                f"{type(exc).__name__} at shutdown: {exc}",
            )
            raise
        finally:
            telemetry.update_metrics(session.events_in)
            try:
                outputs.finish(endings)
            except (OSError, ValueError) as exc:
                typer.echo(
                    f"error: outputs could not be written to {outputs.target}: {exc}", err=True
                )
                raise typer.Exit(1) from exc
    return endings[session.desk.run_id]


def _summaries(session: LiveSession, outputs: LiveOutputs, store: str | None) -> None:
    """How the session went: a line per desk, where its outputs and records are."""
    desks = (session.desk, *session.shadows)
    for each in desks:
        _summary(each, session.events_in)
    typer.echo(f"outputs: {outputs.target} (result.json, envelopes.jsonl, fills.csv, report.html)")
    if session.shadows:
        typer.echo(f"candidate outputs: {outputs.target / CANDIDATE_FOLDER}")
    if outputs.snapshots_written or outputs.snapshot_errors:
        failed = outputs.snapshot_errors
        typer.echo(
            f"snapshots on request: {outputs.snapshots_written} written"
            + (f", {len(failed)} failed (last: {failed[-1]})" if failed else "")
        )
    if store is not None:
        typer.echo(f"store: {store}: runs {', '.join(d.run_id for d in desks)}")


def _summary(desk: Desk, market_events: int) -> None:
    result = desk.result()
    typer.echo(
        f"{result.run_id}: {market_events} market events, {result.events_processed} events,"
        f" {result.orders_submitted} orders, {desk.orders.stats.fills_booked} fills,"
        f" state {result.trading_state}"
    )
