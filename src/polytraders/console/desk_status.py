"""The Desk status page's reads: what a running or recent desk (a live-clock run attempt) has
recorded in the event store, and the kill-switch commands the page sends through the same
operator checkpoints as ``polytraders kill-switch`` (:mod:`polytraders.desk.checkpoints`).

Where each figure comes from (``docs/console.md`` "Desk status"), all of one attempt, so all
of one source (:func:`~polytraders.console.sources.run_source`):

- trading state, kill switch, start-of-day and peak equity: the desk's latest ``desk``
  checkpoint row (what the desk itself last reported), and the operators' rows written after
  the last one it applied (pending: the desk applies them within its ``operator_poll_ms``);
- liveness: the attempt's lease (renewed by the running desk);
- positions, realized PnL and fees: the attempt's fills (less the reverted ones) folded
  exactly by :class:`~polytraders.accounting.ledger.Ledger` (marks are not recorded, so
  neither is unrealized PnL);
- open orders: the latest recorded state of each order, when still open (found in SQL: only
  the open orders' rows are read);
- feed: the latest decision's event and decision times;
- venue: the recorded config's venue, and the attempt's latest reconciliation;
- bots: the recorded config's bots with their configured mode, and per bot the mode and
  count of its decisions among the attempt's last ``per_run_envelopes`` (a bot whose latest
  decision is in QUARANTINE is quarantined).

Cost: one indexed read per table of the attempt; the fills of the attempt are read whole (the
ledger folds them all), of the orders only the open ones' latest rows, of the envelopes only
the bounded window.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec
import sqlalchemy as sa
from pydantic import BaseModel

from polytraders.accounting.ledger import Ledger, apply_fills
from polytraders.console.queries import NotFoundError, RunSummary, run_summary
from polytraders.console.sources import Source
from polytraders.contracts.modes import Mode
from polytraders.desk.checkpoints import (
    DESK_KIND,
    OPERATOR_KINDS,
    CheckpointChange,
    KillSwitchReset,
    operator_body,
)
from polytraders.model.events import TradingState
from polytraders.model.orders import OrderStatus
from polytraders.readiness.store_evidence import RunKind, run_kind
from polytraders.store import EventStore, RunRecord, RunStatus, schema
from polytraders.store.checkpoints import CheckpointRow
from polytraders.store.errors import RunRefError
from polytraders.store.journal import reverted_fill_ids
from polytraders.store.records import order_from_json
from polytraders.store.run_ref import parse_run_ref

RECENT_DESKS = 20
"""How many of the latest live-clock attempts the page lists."""

_SECTIONS = (("strategies", "strategy"), ("risk", "risk"), ("execution", "execution"))


class DeskSummary(BaseModel):
    """A desk as listed: its attempt and what its latest checkpoint row says (None fields:
    the desk wrote no row yet)."""

    run: RunSummary
    trading_state: str | None
    kill_switch_tripped: bool | None


class KillSwitchView(BaseModel):
    """The kill switch as the desk reported it: for a trip its reason code, ``source``
    (``desk``, a bot id or ``operator:<name>``), detail and desk time ``tripped_ns``."""

    tripped: bool
    reason_code: str
    source: str
    detail: str
    tripped_ns: int


class ReportedControls(BaseModel):
    """The desk's latest ``desk`` checkpoint row: desk time ``ts_ns``, store wall time
    ``wall_ns``, the trading state with the code and source of its latest change, the kill
    switch, the start-of-day and peak equity (micro-units of the quote currency), and the
    sequence of the last operator row it applied (-1: none)."""

    sequence: int
    ts_ns: int
    wall_ns: int
    trading_state: TradingState
    trading_reason_code: str
    trading_source: str
    kill_switch: KillSwitchView
    day_start_equity: int
    peak_equity: int
    operator_sequence: int


class OperatorCommandView(BaseModel):
    """An operator's kill-switch row the desk has not applied yet (``kind``
    ``kill_switch.trip`` / ``kill_switch.reset``; ``trading_state`` of a reset)."""

    sequence: int
    kind: str
    operator: str
    reason: str
    ts_ns: int
    trading_state: TradingState | None


class PositionView(BaseModel):
    """A token's position from the attempt's fills (micro-shares and micro-units)."""

    token_id: str
    size: int
    cost_basis: int
    realized_pnl: int
    fees: int
    fill_count: int


class PnlView(BaseModel):
    """The attempt's realized figures from its fills (micro-units): realized PnL before fees,
    fees, and the cost basis of the open positions."""

    realized_pnl: int
    fees: int
    open_cost_basis: int
    fills: int


class OrderView(BaseModel):
    """An open order as last recorded (price and sizes in micro-units)."""

    client_order_id: str
    bot_id: str
    token_id: str
    side: str
    price: int
    size: int
    filled_size: int
    status: str
    ts_updated_ns: int


class FeedView(BaseModel):
    """The latest decision: its sequence, event time, decision time and ``lag_ns``
    (decided − event)."""

    sequence: int
    ts_event_ns: int
    ts_decided_ns: int
    lag_ns: int


class ReconciliationView(BaseModel):
    """The attempt's latest reconciliation with its venue (drifts in micro-shares)."""

    ts_ns: int
    kind: str
    level: str
    order_drift_micros: int
    position_drift_micros: int
    reason_codes: list[str]


class VenueView(BaseModel):
    """The venue the attempt trades on (``paper``: in process; ``polymarket``: the CLOB at
    ``clob_host``, the host and port of the recorded ``venue.clob_url``) and its latest
    reconciliation."""

    kind: str
    clob_host: str
    last_reconciliation: ReconciliationView | None


class BotView(BaseModel):
    """A bot of the recorded config: its class and configured mode; over the counted window
    its decisions, the mode of its latest one, and whether that is QUARANTINE."""

    bot_id: str
    bot_class: str
    configured_mode: str
    decisions: int
    latest_mode: str | None
    quarantined: bool


class LeaseView(BaseModel):
    """The attempt's latest heartbeat (store wall clock) and who holds it."""

    renewed_wall_ns: int
    expires_wall_ns: int
    owner_host: str
    owner_pid: int


class DeskStatus(BaseModel):
    """One desk: every figure is of ``source`` (the attempt's); ``reported`` is None until
    the desk writes its first checkpoint row; ``envelopes_counted`` is the window of
    ``bots``."""

    run: RunSummary
    source: Source
    running: bool
    lease: LeaseView | None
    reported: ReportedControls | None
    pending: list[OperatorCommandView]
    positions: list[PositionView]
    pnl: PnlView
    open_orders: list[OrderView]
    feed: FeedView | None
    venue: VenueView
    bots: list[BotView]
    envelopes_counted: int


class DeskStatusView(BaseModel):
    """The page: the latest live-clock attempts, and the one shown (None: there is none)."""

    desks: list[DeskSummary]
    selected: DeskStatus | None


def _last_desk_row(store: EventStore, record: RunRecord) -> CheckpointRow | None:
    c = schema.checkpoints.c
    rows = store.select(
        sa.select(schema.checkpoints)
        .where(c.run_id == record.run_id, c.attempt == record.attempt, c.kind == DESK_KIND)
        .order_by(c.sequence.desc())
        .limit(1)
    )
    return CheckpointRow(**rows[0]._asdict()) if rows else None


def _reported(row: CheckpointRow) -> ReportedControls:
    change = msgspec.json.decode(row.body_json, type=CheckpointChange)
    controls = change.controls
    return ReportedControls(
        sequence=row.sequence,
        ts_ns=row.ts_ns,
        wall_ns=row.wall_ns,
        trading_state=controls.trading_state,
        trading_reason_code=controls.trading_reason_code,
        trading_source=controls.trading_source,
        kill_switch=KillSwitchView(**msgspec.structs.asdict(controls.kill_switch)),
        day_start_equity=controls.day_start_equity,
        peak_equity=controls.peak_equity,
        operator_sequence=change.operator_sequence,
    )


def _pending(store: EventStore, record: RunRecord, after: int) -> list[OperatorCommandView]:
    pending = []
    for row in store.checkpoints(record.ref, after_sequence=after, kinds=OPERATOR_KINDS):
        body = operator_body(row)
        pending.append(
            OperatorCommandView(
                sequence=row.sequence,
                kind=row.kind,
                operator=body.operator,
                reason=body.reason,
                ts_ns=row.ts_ns,
                trading_state=body.trading_state if isinstance(body, KillSwitchReset) else None,
            )
        )
    return pending


def _ledger(store: EventStore, record: RunRecord) -> tuple[list[PositionView], PnlView]:
    reverted = reverted_fill_ids(store, record.ref)
    fills = [f for f in store.fills(record.ref) if f.fill_id not in reverted]
    ledger = Ledger()
    apply_fills(ledger, fills)
    positions = [
        PositionView(
            token_id=p.token_id,
            size=p.size,
            cost_basis=p.cost_basis,
            realized_pnl=p.realized_pnl,
            fees=p.fees,
            fill_count=p.fill_count,
        )
        for p in sorted(ledger.positions(), key=lambda p: p.token_id)
    ]
    pnl = PnlView(
        realized_pnl=ledger.realized_pnl,
        fees=ledger.fees,
        open_cost_basis=ledger.open_cost_basis(),
        fills=len(fills),
    )
    return positions, pnl


def _open_orders(store: EventStore, record: RunRecord) -> list[OrderView]:
    """The open orders as last recorded, in the order each first appeared: the latest row of
    each order is found in SQL (``ix_orders_run_client`` covers the grouping), and only the
    open ones are read and decoded."""
    o = schema.orders.c
    latest = (
        sa.select(sa.func.min(o.row_id).label("first"), sa.func.max(o.row_id).label("last"))
        .where(o.run_id == record.run_id, o.attempt == record.attempt)
        .group_by(o.client_order_id)
        .subquery("latest")
    )
    rows = store.select(
        sa.select(o.order_json)
        .join(latest, o.row_id == latest.c.last)
        .where(o.status.in_([status.value for status in OrderStatus if status.is_open]))
        .order_by(latest.c.first)
    )
    orders = [order_from_json(row.order_json) for row in rows]
    return [
        OrderView(
            client_order_id=order.client_order_id,
            bot_id=order.bot_id,
            token_id=order.token_id,
            side=order.side.value,
            price=order.price,
            size=order.size,
            filled_size=order.filled_size,
            status=order.status.value,
            ts_updated_ns=order.ts_updated_ns,
        )
        for order in orders
    ]


def _feed(store: EventStore, record: RunRecord) -> FeedView | None:
    e = schema.envelopes.c
    rows = store.select(
        sa.select(e.sequence, e.ts_event_ns, e.ts_decided_ns)
        .where(e.run_id == record.run_id, e.attempt == record.attempt)
        .order_by(e.sequence.desc())
        .limit(1)
    )
    if not rows:
        return None
    row = rows[0]
    return FeedView(
        sequence=int(row.sequence),
        ts_event_ns=int(row.ts_event_ns),
        ts_decided_ns=int(row.ts_decided_ns),
        lag_ns=int(row.ts_decided_ns) - int(row.ts_event_ns),
    )


def _config(record: RunRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    """(desk config, venue config) of the recorded config: a live-venue run records its
    node's config (the desk nested in it, the CLOB venue beside it), a paper one its desk
    file (venue config not needed: the paper venue runs in process)."""
    config = msgspec.json.decode(record.desk_config_json)
    if not isinstance(config, dict):
        return {}, {}
    desk, venue = config.get("desk"), config.get("venue")
    if run_kind(record) is RunKind.LIVE_VENUE and isinstance(desk, dict):
        return desk, venue if isinstance(venue, dict) else {}
    return config, {}


def _venue(store: EventStore, record: RunRecord, venue: dict[str, Any]) -> VenueView:
    recs = store.reconciliations(record.ref)
    last = recs[-1] if recs else None
    url = venue.get("clob_url")
    live = run_kind(record) is RunKind.LIVE_VENUE
    return VenueView(
        kind="polymarket" if live else "paper",
        clob_host=urlsplit(url).netloc if live and isinstance(url, str) else "",
        last_reconciliation=None
        if last is None
        else ReconciliationView(
            ts_ns=last.ts_ns,
            kind=last.kind.value,
            level=last.level,
            order_drift_micros=last.order_drift_micros,
            position_drift_micros=last.position_drift_micros,
            reason_codes=list(last.reason_codes),
        ),
    )


def _bots(
    store: EventStore, record: RunRecord, desk: dict[str, Any], window: int
) -> tuple[list[BotView], int]:
    e = schema.envelopes.c
    in_run = sa.and_(e.run_id == record.run_id, e.attempt == record.attempt)
    (last,) = store.select(sa.select(sa.func.max(e.sequence)).where(in_run))[0]
    first = 0 if last is None else max(0, int(last) - window + 1)
    grouped = store.select(
        sa.select(
            e.bot_id, e.mode, sa.func.count().label("n"), sa.func.max(e.sequence).label("latest")
        )
        .where(in_run, e.sequence >= first)
        .group_by(e.bot_id, e.mode)
    )
    seen: dict[str, tuple[int, int, str]] = {}  # bot → (decisions, latest sequence, its mode)
    counted = 0
    for row in grouped:
        counted += int(row.n)
        decisions, latest, mode = seen.get(row.bot_id, (0, -1, ""))
        if int(row.latest) > latest:
            latest, mode = int(row.latest), str(row.mode)
        seen[row.bot_id] = (decisions + int(row.n), latest, mode)
    bots = []
    for section, bot_class in _SECTIONS:
        entries = desk.get(section)
        for entry in entries if isinstance(entries, list) else []:
            bot_id = str(entry.get("id", ""))
            decisions, _, mode = seen.get(bot_id, (0, -1, ""))
            bots.append(
                BotView(
                    bot_id=bot_id,
                    bot_class=bot_class,
                    configured_mode=str(entry.get("mode", "")),
                    decisions=decisions,
                    latest_mode=mode or None,
                    quarantined=mode == Mode.QUARANTINE.value,
                )
            )
    return bots, counted


def desk_status(store: EventStore, record: RunRecord, per_run_envelopes: int) -> DeskStatus:
    """Everything the page shows of one attempt (module docstring).

    Raises:
        StoreError: a read failed.
        CheckpointError: a checkpoint row that does not decode.
    """
    row = _last_desk_row(store, record)
    reported = None if row is None else _reported(row)
    positions, pnl = _ledger(store, record)
    desk, venue = _config(record)
    bots, counted = _bots(store, record, desk, per_run_envelopes)
    lease = record.lease
    summary = run_summary(record)
    return DeskStatus(
        run=summary,
        source=summary.source,
        running=record.status is RunStatus.RUNNING and not record.abandoned,
        lease=None
        if lease is None
        else LeaseView(
            renewed_wall_ns=lease.renewed_wall_ns,
            expires_wall_ns=lease.expires_wall_ns,
            owner_host=lease.owner.host,
            owner_pid=lease.owner.pid,
        ),
        reported=reported,
        pending=_pending(store, record, -1 if reported is None else reported.operator_sequence),
        positions=positions,
        pnl=pnl,
        open_orders=_open_orders(store, record),
        feed=_feed(store, record),
        venue=_venue(store, record, venue),
        bots=bots,
        envelopes_counted=counted,
    )


def _summary(store: EventStore, record: RunRecord) -> DeskSummary:
    row = _last_desk_row(store, record)
    reported = None if row is None else _reported(row)
    return DeskSummary(
        run=run_summary(record),
        trading_state=None if reported is None else reported.trading_state.value,
        kill_switch_tripped=None if reported is None else reported.kill_switch.tripped,
    )


def desks(store: EventStore, run: str | None, per_run_envelopes: int) -> DeskStatusView:
    """The latest :data:`RECENT_DESKS` live-clock attempts, newest first, and the status of
    ``run`` (``RUN_ID`` or ``RUN_ID@N``; default: the newest running one, else the newest).

    Raises:
        NotFoundError: ``run`` is malformed, not recorded, or not a live-clock attempt.
        StoreError: a read failed.
    """
    live = [r for r in reversed(store.runs()) if run_kind(r) is not RunKind.BACKTEST]
    listed = live[:RECENT_DESKS]
    if run:
        try:
            record = store.run(parse_run_ref(run))
        except RunRefError as exc:
            raise NotFoundError(str(exc)) from exc
        if record is None:
            raise NotFoundError(f"run {run!r} is not recorded")
        if run_kind(record) is RunKind.BACKTEST:
            raise NotFoundError(f"run {run!r} is a backtest, not a desk session")
    else:
        running = [r for r in listed if r.state == RunStatus.RUNNING.value]
        candidates = running or listed
        record = candidates[0] if candidates else None
    return DeskStatusView(
        desks=[_summary(store, r) for r in listed],
        selected=None if record is None else desk_status(store, record, per_run_envelopes),
    )
