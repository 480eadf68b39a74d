"""``polytraders sim-clob`` (the local CLOB v2 simulator) and ``polytraders record`` (the
Polymarket market channel to a line recording).

``record`` writes ``<receive ts ns> <raw frame>`` per line (:mod:`polytraders.feeds.lines`,
the market-data format; ``.gz`` names are gzip-compressed), frames exactly as received, so
``polytraders data inspect`` and the recorded-data sources replay them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeGuard

import msgspec
import typer
from pydantic import ValidationError

from polytraders.accounting.ledger import Ledger
from polytraders.backtest.desk_file import DESK_BUILDER_CODE, DeskFile, DeskFileError
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.view import AccountIdentity
from polytraders.desk.desk import Desk
from polytraders.desk.slots import Quarantine
from polytraders.feeds.live.background import BackgroundFeed
from polytraders.feeds.samples import sample_path
from polytraders.model.events import AnyEvent, BookSnapshot, OperatorCommand, TradingState
from polytraders.model.fills import Fill
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.money import to_micros
from polytraders.model.orders import OrderIntent, Side, VenueOrder
from polytraders.venues.base import Venue
from polytraders.venues.polymarket.credentials import Credentials, CredentialsError

if TYPE_CHECKING:
    from polytraders.desk.checkpoints import RestoredCheckpoint
    from polytraders.desk.state import DeskState
    from polytraders.feeds.live.market_channel import MarketChannelConfig
    from polytraders.node.config import LiveNodeConfig
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
    desk can point at the simulator with --clob-url/--ws-url exactly as at Polymarket.
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
    )

    def announce(url: str, market_ids: list[str]) -> None:
        ws = url.replace("http://", "ws://")
        typer.echo(f"simulator on {url} (market channel {ws}/ws/market, user {ws}/ws/user)")
        typer.echo(f"account {account.address}")
        typer.echo(
            "simulator-only credentials: "
            f"POLYMARKET_API_KEY={account.api_key} POLYMARKET_API_SECRET={account.api_secret} "
            f"POLYMARKET_API_PASSPHRASE={account.api_passphrase}",
            nl=True,
        )
        for market_id in market_ids:
            typer.echo(f"market {market_id}")

    serve_forever(settings, account, port, announce)


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
def _is_live(venue: object) -> TypeGuard[PolymarketVenue]:
    """True for the Polymarket venue (checked by name: importing the class would load the
    official client for paper runs too)."""
    return getattr(venue, "name", "") == "polymarket" and hasattr(venue, "halt_reason")


HALTING_CODES = frozenset(
    {
        "SYS_POLY_HEARTBEAT_LAPSED",
        "SYS_POLY_UNAVAILABLE",
        "SYS_POLY_AUTH_FAILED",
        "SYS_POLY_NOT_RECONCILED",
    }
)
"""Venue conditions that HALT the desk (an operator resumes). The venue-wide modes (425
restart, post-only, cancel-only, closed-only) go to ``DeskState.venue_state`` instead, where
``risk.markethaltguard`` refuses what the mode forbids and lets trading resume by itself."""


class LiveSession:
    """Drives one desk on a live clock from the market channel, with the polymarket (or paper)
    venue, the user channel and the venue's safety states wired to the desk.

    Each :meth:`step` (never blocks on the network for market data):

    0. until every token has its first book snapshot, snapshots only fill the books (the
       strategies start once they can read both books of each market);
    1. user-channel events are applied to the venue (fills counted at MATCHED, final at
       CONFIRMED, FAILED reverted: a reverted fill is kept in :attr:`reverted_fills` and
       taken out of the desk's ledger exactly (:meth:`Desk.revert_fill`), or, when that is
       impossible, the kill switch trips until an operator reconciles);
    2. every market event received since the last step goes through ``desk.process`` (the
       desk advances the venue: queued orders go out in batches, heartbeats when due);
    3. ``desk.tick()`` fires due timers, and the venue is advanced once more;
    4. the venue's mode (425 restart back-off, post-only window, cancel-only, closed-only)
       becomes ``DeskState.venue_state``; a halting condition (:data:`HALTING_CODES`:
       heartbeat lapse, unreachable, refused credentials, not reconciled) sets the desk
       HALTED with the venue's registered code; an accepted heartbeat is recorded;
    5. every bot the desk quarantined since the last round raises an alert
       (:meth:`_alert_quarantines`; the desk itself has already cancelled a quarantined
       strategy's open orders).

    Args:
        desk: the desk (live clock).
        venue: the venue the desk uses (its ``halt_reason`` is watched when it has one).
        market_feed: the running market channel.
        user_feed: the running user channel, or None (paper).
        venue_poll_ms: interval of the ``venue.poll`` timer, which makes the desk advance the
            venue (heartbeat, queued orders, fills) even when no market event arrives.
        recorder: persists orders and fills to the event store each step (None: no store).
        shadows: candidate desks (paper venues, recording only) fed exactly the same events
            after the main desk (``--shadow``).
    """

    def __init__(
        self,
        desk: Desk,
        venue: Venue,
        market_feed: BackgroundFeed[AnyEvent],
        user_feed: BackgroundFeed[tuple[dict[str, Any], int]] | None = None,
        venue_poll_ms: int = 250,
        recorder: StoreRecorder | None = None,
        shadows: Sequence[Desk] = (),
    ) -> None:
        self.desk = desk
        self.recorder = recorder
        self.shadows = list(shadows)
        self.venue = venue
        self.market_feed = market_feed
        self.user_feed = user_feed
        self.reverted_fills: list[Fill] = []
        self.halts: list[str] = []
        self.alerts: list[Quarantine] = []
        """The main desk's quarantines alerted so far, in order (one ERROR log line each)."""
        self.events_in = 0
        self.restamped_events = 0
        self._last_market_ns = 0
        # a timer keeps the venue advanced (heartbeats, acks, fills) when the market is quiet
        first_ns = desk.clock.now_ns()
        for each in (desk, *self.shadows):
            each.add_timer("venue.poll", venue_poll_ms * 1_000_000, first_ns=first_ns)
        self._waiting_for_books = {t.token_id for m in desk.state.markets() for t in m.tokens}

    def step(self) -> int:
        """One round (see the class docstring); returns how many market events were
        processed."""
        venue = self.venue
        if self.user_feed is not None and _is_live(venue):
            for message, ts_recv_ns in self.user_feed.poll():
                try:
                    venue.on_user_message(message, ts_recv_ns)
                except ValueError as exc:
                    _LOG.warning("user-channel message skipped (SYS_MALFORMED_MESSAGE): %s", exc)
        events = self.market_feed.poll()
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
        self._watch_venue()
        self._alert_quarantines()
        if self.recorder is not None and _is_live(venue):
            self.recorder.sync(venue.orders(), self.desk.orders.fills)
        self.events_in += len(events)
        return len(events)

    def _ordered(self, event: AnyEvent) -> AnyEvent:
        """A simulated (paper) venue needs market events in time order, but live frames of
        different tokens and connections interleave: an event stamped before the previous
        one is re-stamped to the previous time (counted in :attr:`restamped_events`). The live
        venue ignores market events, so nothing is changed for it."""
        if _is_live(self.venue):
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
        venue = self.venue
        if not _is_live(venue):
            return
        state = self.desk.state
        if venue.last_heartbeat_ok_ns > state.last_venue_heartbeat_ns:
            state.record_heartbeat(venue.last_heartbeat_ok_ns)
        for fill in venue.take_reverted():
            self.reverted_fills.append(fill)
            if not self.desk.revert_fill(fill, "SYS_POLY_TRADE_FAILED"):
                self.halts.append("SYS_POLY_TRADE_FAILED")
                _LOG.error("failed fill %s could not be reversed: kill switch", fill.fill_id)
        mode = venue.venue_state(self.desk.clock.now_ns())
        if mode is not state.venue_state:
            _LOG.warning("venue state %s -> %s", state.venue_state, mode)
            state.set_venue_state(mode)
        code = venue.halt_reason
        if code in HALTING_CODES and state.trading_state is not TradingState.HALTED:
            state.set_trading_state(TradingState.HALTED, code, "venue.polymarket")
            self.halts.append(code)
            _LOG.error("venue condition %s: desk HALTED", code)

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

    def close(self, cancel_open_orders: bool = True) -> None:
        """Shut the desk down (cancel all unless told not to, flush), then stop the feeds and
        persist the final order states. ``cancel_open_orders=False`` models a crash: the
        orders stay at the venue for the next start-up's reconciliation."""
        if cancel_open_orders:
            self.desk.shutdown()
        for shadow in self.shadows:
            shadow.shutdown()
        self.market_feed.stop()
        if self.user_feed is not None:
            self.user_feed.stop()
        if self.recorder is not None and _is_live(self.venue):
            self.recorder.sync(self.venue.orders(), self.desk.orders.fills)
            self.recorder.store.close()
        if _is_live(self.venue):
            self.venue.close()


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

    Raises:
        ValueError: the desk cannot be built (no ENFORCED execution bot).
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
        clock=LiveClock(),
        state=state,
        start_sequence=start_sequence,
        account=desk_file.account.identity(),
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


class StoreRecorder:
    """Persists a live session's evidence in the event store as it happens: every lifecycle
    change of every venue order (append-only rows) and every fill once. Flushed each step, so
    a crash loses at most one step, and start-up reconciliation recovers the rest from the
    venue."""

    def __init__(self, store: Any, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._order_marks: dict[str, tuple[str, int, str]] = {}
        self._fill_ids: set[str] = set()

    def seed(self, orders: Sequence[VenueOrder], fills: Sequence[Fill]) -> None:
        """What the store already holds (after a resume): not written again."""
        for order in orders:
            self._order_marks[order.client_order_id] = _mark(order)
        self._fill_ids.update(f.fill_id for f in fills)

    def sync(self, orders: Sequence[VenueOrder], fills: Sequence[Fill]) -> None:
        """Append changed orders and new fills, then flush."""
        for order in orders:
            mark = _mark(order)
            if self._order_marks.get(order.client_order_id) != mark:
                self._order_marks[order.client_order_id] = mark
                self.store.append_order(self.run_id, msgspec.structs.replace(order))
        for fill in fills:
            if fill.fill_id not in self._fill_ids:
                self._fill_ids.add(fill.fill_id)
                self.store.append_fill(self.run_id, fill)
        self.store.flush()


def _mark(order: VenueOrder) -> tuple[str, int, str]:
    return (order.status.value, order.filled_size, order.venue_order_id)


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
    is the fills' average entry price × that size (0 when flat or no fills price it)."""
    bought: dict[str, tuple[int, int]] = {}
    for fill in fills:
        if fill.side is Side.BUY:
            size, cash = bought.get(fill.token_id, (0, 0))
            bought[fill.token_id] = (size + fill.size, cash + fill.notional)
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
    sink: Any = None,
    expected_builder_code: str = DESK_BUILDER,
    store_url: str | None = None,
) -> tuple[LiveSession, ReconcileReport]:
    """A desk trading at ``node.venue.clob_url`` (Polymarket or the simulator): fetch markets,
    cache metadata, reconcile with ``node.reconciliation`` (fail closed until done; the
    report's drift level is logged and returned, not acted on), start the feeds. With a store,
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
    have passed; the recorded ``node.canonical()`` is that desk, so the store holds the desk
    that actually runs.

    Raises:
        ClobRequestError: the venue did not answer at start-up.
        RuntimeError: the compliance checks failed (nothing was sent).
    """
    from polytraders.feeds.live.user_channel import UserAuth, UserChannel, UserChannelConfig
    from polytraders.node.config import NodeConfigError
    from polytraders.venues.polymarket.reconcile import reconcile
    from polytraders.venues.polymarket.venue import PolymarketVenue
    from polytraders.venues.reconciliation import DriftLevel

    venue = PolymarketVenue.from_credentials(credentials, node.venue, wall_clock_ns=time.time_ns)
    node = node.model_copy(update={"venue": venue.config})
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
    try:
        node = node.with_account(account)
    except NodeConfigError as exc:
        venue.close()
        raise RuntimeError(exc.one_line()) from exc
    tokens = [t.token_id for m in markets for t in m.tokens]
    store = recorder = None
    store_orders: list[VenueOrder] = []
    store_fills: list[Fill] = []
    start_sequence = 0
    restored: RestoredCheckpoint | None = None
    if store_url is not None:
        from polytraders.desk.checkpoints import load_checkpoint
        from polytraders.store.event_store import EventStore

        store = EventStore.open(store_url)
        if store.run(run_id) is None:
            store.start_run(
                run_id=run_id,
                started_ns=time.time_ns(),
                seed=0,
                desk_config=node.canonical(),
                desk_config_version=node.config_version,
                data_source=ws_url,
                synthetic=False,
            )
        else:  # resume: the same run id continues with the same deterministic ids
            store.resume_run(run_id)
            store_orders = latest_orders(store.orders(run_id))
            store_fills = store.fills(run_id)
            start_sequence = store.next_sequence(run_id)
            restored = load_checkpoint(store, run_id)
        recorder = StoreRecorder(store, run_id)
        recorder.seed(store_orders, store_fills)
        if restored is not None:  # orders checkpointed before the crash, not yet in `orders`
            known = {o.client_order_id for o in store_orders}
            store_orders += [o for o in restored.open_orders if o.client_order_id not in known]
    believed: dict[str, int] | None = None  # a new run adopts the venue's holdings
    if store_orders or store_fills:  # a resumed run: its records say what it holds
        believed = {}
        for fill in store_fills:
            held = believed.get(fill.token_id, 0)
            believed[fill.token_id] = held + fill.size * fill.side.sign
    report = reconcile(
        venue,
        store_orders=store_orders,
        known_fill_ids=[f.fill_id for f in store_fills],
        store_positions=believed,
        tokens=tokens,
        config=node.reconciliation,
        now_ns=time.time_ns(),
    )
    from polytraders.desk.state import DeskState

    open_orders = [o for o in venue.orders() if o.status.is_open]
    state = DeskState.build(
        now_ns=time.time_ns(),
        markets=markets,
        positions=positions_with_cost(report.positions, [*store_fills, *report.missed_fills]),
        cash=venue.balances().get("pUSD", 0),
        open_orders=open_orders,
        account=account,
    )
    for order in venue.orders():  # the run's closed orders too: their ids are never sent again
        if not order.status.is_open:
            state.add_order(msgspec.structs.replace(order))
    if recorder is not None:
        recorder.sync(venue.orders(), report.missed_fills)
    desk = compose_desk(
        node.desk,
        run_id=run_id,
        venue=venue,
        markets=markets,
        sink=sink,
        state=state,
        start_sequence=start_sequence,
    )
    if store is not None:  # checkpoint from now on; a restart resumes its controls first
        from polytraders.desk.checkpoints import CheckpointWriter

        desk.persist_checkpoints(CheckpointWriter(store, run_id, restored=restored), restored)
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
    if report.drift is not DriftLevel.OK:
        _LOG.warning(
            "start-up reconciliation %s: unexplained drift, orders %d, positions %d micro-shares",
            report.drift.reason_code,
            report.order_drift_micros,
            report.position_drift_micros,
        )
    return LiveSession(desk, venue, market_feed, user, recorder=recorder), report


def build_paper_session(
    *,
    run_id: str,
    markets_ids: Sequence[str],
    clob_url: str,
    ws_url: str,
    desk: DeskFile | None = None,
    sink: Any = None,
    shadow_sinks: Sequence[tuple[str, Any]] = (),
    candidate_desk: DeskFile | None = None,
) -> LiveSession:
    """A desk on live market data with the paper venue (no credentials, nothing sent), plus
    one candidate desk per ``(run id, sink)`` in ``shadow_sinks`` on the same events.

    Every desk is composed by :func:`compose_desk` on a paper venue with its desk file's
    ``[venue]`` fill model and ``[account]`` (the paper identity, as in a backtest).

    Args:
        desk: the desk file (None: the default desk).
        candidate_desk: the candidates' desk file (None: ``desk``, so a candidate runs the
            same bots as the current desk).

    Raises:
        ClobRequestError: the venue did not answer the market look-ups.
    """
    from py_clob_client_v2.clob_types import ApiCreds

    from polytraders.venues.paper import PaperVenue
    from polytraders.venues.polymarket.client import ClobHttpClient

    current = desk if desk is not None else DeskFile()
    candidate = candidate_desk if candidate_desk is not None else current
    # public endpoints only: paper mode reads market metadata and never signs
    no_creds = ApiCreds(api_key="", api_secret="", api_passphrase="")
    client = ClobHttpClient(clob_url, chain_id=137, private_key="0x" + "01" * 32, creds=no_creds)
    try:
        markets = markets_from_venue(client, markets_ids)
    finally:
        client.close()

    def paper_desk(desk_file: DeskFile, desk_run_id: str, desk_sink: Any) -> Desk:
        venue = PaperVenue(desk_file.venue, markets, desk_run_id)
        return compose_desk(
            desk_file, run_id=desk_run_id, venue=venue, markets=markets, sink=desk_sink
        )

    main = paper_desk(current, run_id, sink)
    shadows = [paper_desk(candidate, r, k) for r, k in shadow_sinks]
    tokens = [t.token_id for m in markets for t in m.tokens]
    return LiveSession(main, main.venue, start_market_feed(ws_url, tokens), shadows=shadows)


def run(
    *,
    venue: Annotated[str, typer.Option("--venue", help="Venue: polymarket.")] = "polymarket",
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
    clob_url: Annotated[str, typer.Option("--clob-url")] = POLYMARKET_CLOB,
    ws_url: Annotated[str, typer.Option("--ws-url", help="Market channel URL.")] = (
        POLYMARKET_MARKET_WS
    ),
    user_ws_url: Annotated[str, typer.Option("--user-ws-url")] = POLYMARKET_USER_WS,
    credentials_file: Annotated[Path | None, typer.Option("--credentials-file")] = None,
    orphan_policy: Annotated[str, typer.Option("--orphan-policy", help="cancel | adopt")] = (
        "cancel"
    ),
    duration_s: Annotated[float, typer.Option("--duration-s", help="0: until Ctrl-C")] = 0,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the envelope timelines.")
    ] = Path("runs"),
    run_id: Annotated[str, typer.Option("--run-id")] = "",
    builder_code: Annotated[
        str, typer.Option("--builder-code", help="The builderCode the compliance gate expects.")
    ] = DESK_BUILDER,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Event store (--live): orders, fills and the desk checkpoint (kill switch) "
            "persisted; the same --run-id resumes.",
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
) -> None:
    """Run the desk on Polymarket: --paper (live data, paper venue), --shadow (a candidate desk
    beside the current one, recording only) or --live (real orders: credentials, the explicit
    confirmation flag and the start-up compliance checks are all required). Nothing goes live
    implicitly; --clob-url/--ws-url point the desk at the local simulator.

    The desk is ``--desk`` (default: the default desk), composed exactly as a backtest composes
    it; with --live its ``[account]`` is replaced by the credentials' identity. A bad desk
    file is refused (exit 2) before anything is contacted."""
    from polytraders.desk.sinks import JsonlSink
    from polytraders.node.config import LiveNodeConfig, NodeConfigError
    from polytraders.venues.polymarket.client import ClobRequestError

    if venue != "polymarket":
        typer.echo(f"error: unknown venue {venue!r}", err=True)
        raise typer.Exit(2)
    if sum((paper, shadow, live)) != 1:
        typer.echo("error: choose exactly one of --paper, --shadow, --live", err=True)
        raise typer.Exit(2)
    ids = [m.strip() for m in markets.split(",") if m.strip()]
    if not ids:
        typer.echo("error: --markets is empty", err=True)
        raise typer.Exit(2)
    if candidate_desk is not None and not shadow:
        typer.echo("error: --candidate-desk: only with --shadow", err=True)
        raise typer.Exit(2)
    desk_file = _load_desk(desk)
    candidate_file = _load_desk(candidate_desk) if candidate_desk is not None else desk_file
    rid = run_id or f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    out_dir.mkdir(parents=True, exist_ok=True)
    sessions: list[LiveSession] = []
    if live:
        if not confirm_live:
            typer.echo("error: --live needs --i-understand-this-trades-real-money", err=True)
            raise typer.Exit(2)
        try:
            node = LiveNodeConfig.from_mapping(
                {
                    "desk": desk_file,
                    "venue": {"clob_url": clob_url},
                    "reconciliation": {"orphan_policy": orphan_policy},
                },
                "--clob-url/--orphan-policy",
            )
        except NodeConfigError as exc:
            typer.echo(f"error: {exc.one_line()}", err=True)
            raise typer.Exit(2) from exc
        try:
            creds = (
                Credentials.from_file(credentials_file)
                if credentials_file is not None
                else Credentials.from_env()
            )
        except CredentialsError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        try:
            session, report = build_live_session(
                run_id=rid,
                credentials=creds,
                markets_ids=ids,
                node=node,
                ws_url=ws_url,
                user_ws_url=user_ws_url,
                sink=JsonlSink(out_dir / f"{rid}.envelopes.jsonl"),
                expected_builder_code=builder_code,
                store_url=store,
            )
        except (RuntimeError, ClobRequestError) as exc:
            typer.echo(f"error: not going live: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(
            f"reconciled: {len(report.open_known)} open, {len(report.missed_fills)} missed fills,"
            f" orphans adopted {len(report.orphans_adopted)} / cancelled"
            f" {len(report.orphans_canceled)}, drift {report.drift}"
            f" (orders {report.order_drift_micros}, positions {report.position_drift_micros}"
            " micro-shares)"
        )
        switch = session.desk.state.controls().kill_switch
        if switch.tripped:
            typer.echo(
                f"kill switch TRIPPED ({switch.reason_code} by {switch.source}): open orders "
                "cancelled, nothing is traded until `polytraders kill-switch reset`"
            )
        sessions.append(session)
    else:
        candidate = f"{rid}-candidate"
        sessions.append(
            build_paper_session(
                run_id=rid,
                markets_ids=ids,
                clob_url=clob_url,
                ws_url=ws_url,
                desk=desk_file,
                sink=JsonlSink(out_dir / f"{rid}.envelopes.jsonl"),
                candidate_desk=candidate_file,
                shadow_sinks=[(candidate, JsonlSink(out_dir / f"{candidate}.envelopes.jsonl"))]
                if shadow
                else [],
            )
        )
    stop = False

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    deadline = time.monotonic() + duration_s if duration_s > 0 else float("inf")
    try:
        while not stop and time.monotonic() < deadline:
            if not sum(s.step() for s in sessions):
                time.sleep(0.02)
    finally:
        for session in sessions:
            session.close()
    for session in sessions:
        for each in (session.desk, *session.shadows):
            _summary(each, session.events_in)


def _load_desk(path: Path | None) -> DeskFile:
    """The desk file at ``path`` (None: the default desk); a bad file exits 2 with one line."""
    if path is None:
        return DeskFile()
    try:
        return DeskFile.load(path)
    except DeskFileError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(2) from exc


def _summary(desk: Desk, market_events: int) -> None:
    result = desk.result()
    typer.echo(
        f"{result.run_id}: {market_events} market events, {result.events_processed} events,"
        f" {result.orders_submitted} orders, {len(result.fills)} fills,"
        f" state {result.trading_state}"
    )
