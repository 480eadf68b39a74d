"""What the store reads back, and the exact conversion of model objects to table rows.

Rows are tuples in table column order (the ``*_COLUMNS`` constants, checked against the
schema before the first insert). They hold int micro-units and int ns exactly; enums are
stored by value. Envelopes and venue orders also keep their exact msgspec JSON encoding, so
reading them back is the identity.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from polytraders.contracts.envelope import ReportEnvelope
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import Side, VenueOrder
from polytraders.model.position import Position
from polytraders.store.run_ref import RunRef

_ENCODER = msgspec.json.Encoder()
_ORDER_DECODER = msgspec.json.Decoder(VenueOrder)


class RunStatus(StrEnum):
    """Lifecycle of a run attempt. RUNNING until :meth:`EventStore.end_run` records how it
    ended, with a detail: COMPLETED (feed exhausted or stopped cleanly; detail optional),
    HALTED (the desk halted or the kill switch was tripped at the end; detail = the reason
    code), FAILED (the engine raised; detail = the error text) or INTERRUPTED (SIGINT/SIGTERM;
    detail = the signal name). A RUNNING run whose writer died is reported ABANDONED by the
    readers (:mod:`polytraders.store.lease`); that verdict is never recorded."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    HALTED = "HALTED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


ABANDONED = "ABANDONED"
"""What :attr:`RunRecord.state` shows for a RUNNING attempt whose writer is gone."""


class Owner(msgspec.Struct, frozen=True, kw_only=True):
    """The process holding a run's lease: ``host`` name, ``pid`` and ``process_start``
    (``<boot id>:<start ticks>`` from Linux ``/proc``; empty when the platform does not
    tell)."""

    host: str
    pid: int
    process_start: str

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """A run attempt's latest heartbeat: its ``owner``, when it was written
    (``renewed_wall_ns``, wall clock, ns since the epoch) and how long it lasts
    (``lease_s``)."""

    owner: Owner
    renewed_wall_ns: int
    lease_s: int

    @property
    def expires_wall_ns(self) -> int:
        """Wall-clock time (ns since the epoch) at which the lease lapses."""
        return self.renewed_wall_ns + self.lease_s * 1_000_000_000


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt of a run as recorded.

    Fields: ``run_id`` (the desk's, the same in every attempt) and ``attempt`` (1, 2, ... in
    the order the attempts started); ``started_ns`` and ``ended_ns`` (the caller's clock, ns
    since the epoch; ``ended_ns`` is None while running); ``started_wall_ns`` and
    ``ended_wall_ns`` (the store's wall clock when the start and end were written);
    ``seed``; ``desk_config_json`` (the desk config exactly as given) and
    ``desk_config_version``; ``data_source`` (what fed the run); ``synthetic`` (True when the
    data were generated); ``status``; ``detail`` (the end's reason code, error text or signal;
    ``""`` while running); ``lease`` (the latest heartbeat); ``abandoned`` (why a RUNNING
    attempt is ABANDONED, judged when it was read; ``""`` otherwise).
    """

    run_id: str
    attempt: int
    started_ns: int
    ended_ns: int | None
    started_wall_ns: int
    ended_wall_ns: int | None
    seed: int
    desk_config_json: str
    desk_config_version: str
    data_source: str
    synthetic: bool
    status: RunStatus
    detail: str
    lease: Lease | None
    abandoned: str

    @property
    def ref(self) -> RunRef:
        """The reference naming exactly this attempt (``RUN_ID@N``)."""
        return RunRef(self.run_id, self.attempt)

    @property
    def state(self) -> str:
        """The status to show: the recorded status, or ``ABANDONED``."""
        return ABANDONED if self.abandoned else self.status.value


class RunCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Rows recorded for one run attempt: ``envelopes``, ``orders`` (lifecycle-state rows),
    ``distinct_orders`` (client order ids), ``fills``, ``positions`` (snapshots)."""

    envelopes: int = 0
    orders: int = 0
    distinct_orders: int = 0
    fills: int = 0
    positions: int = 0


class RunProduced(msgspec.Struct, frozen=True, kw_only=True):
    """What a run attempt says it produced, written with its end (:meth:`EventStore.end_run`)
    and compared with what was recorded by the integrity check: ``envelopes``, ``orders``
    (order lifecycle-state rows) and ``fills`` (fill rows; a fill taken back later stays a row,
    its reversal is an audit entry). Every count is ≥ 0."""

    envelopes: int
    orders: int
    fills: int


class PositionSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A position of attempt ``attempt`` of ``run_id`` as recorded at ``ts_ns``: signed
    ``size`` (micro-shares), ``cost_basis``, ``realized_pnl`` and ``fees`` (micro-units of the
    quote currency), ``fill_count``."""

    run_id: str
    attempt: int
    ts_ns: int
    token_id: str
    size: int
    cost_basis: int
    realized_pnl: int
    fees: int
    fill_count: int


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One audit-log row: ``actor`` (operator, bot or ``desk``) did ``action`` at ``ts_ns``;
    ``detail`` is free text or canonical JSON; ``run_id`` and ``attempt`` are None for
    desk-wide actions."""

    ts_ns: int
    actor: str
    action: str
    detail: str
    run_id: str | None
    attempt: int | None


class ReconciliationKind(StrEnum):
    """When a reconciliation ran: at start-up (before the first order) or periodically while
    the desk ran."""

    STARTUP = "startup"
    PERIODIC = "periodic"


class ReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded reconciliation of attempt ``attempt`` of ``run_id`` with its venue.

    Fields: ``ts_ns`` (the desk's clock) and ``wall_ns`` (the store's wall clock when
    written); ``kind``; ``level`` (``ok``, ``warning`` or ``critical``); ``order_drift_micros``
    and ``position_drift_micros`` (micro-shares); ``reason_codes`` (registered codes);
    ``differences_json`` (what differed, JSON text as written).
    """

    run_id: str
    attempt: int
    ts_ns: int
    wall_ns: int
    kind: ReconciliationKind
    level: str
    order_drift_micros: int
    position_drift_micros: int
    reason_codes: tuple[str, ...]
    differences_json: str


def json_text(value: object) -> str:
    """Deterministic msgspec JSON of ``value`` (mapping keys sorted) as text."""
    return msgspec.json.encode(value, order="sorted").decode()


Row = tuple[Any, ...]
"""A table row as values in the order of the table's ``*_COLUMNS`` constant."""

ENVELOPE_COLUMNS = (
    "run_id",
    "attempt",
    "sequence",
    "envelope_id",
    "ts_event_ns",
    "ts_decided_ns",
    "bot_id",
    "bot_class",
    "bot_version",
    "config_version",
    "mode",
    "decision",
    "reason_codes_json",
    "correlation_id",
    "causation_id",
    "input_digest",
    "output_type",
    "output_json",
    "latency_ns",
    "line",
)
"""Columns of an ``envelopes`` row, in table order."""

ENVELOPE_TEXT_INDEXES = tuple(
    ENVELOPE_COLUMNS.index(name)
    for name in (
        "run_id",
        "envelope_id",
        "bot_id",
        "bot_version",
        "config_version",
        "correlation_id",
        "causation_id",
        "input_digest",
    )
)
"""Positions of the envelope fields stored as plain text (checked for NUL characters, which
PostgreSQL cannot store; the JSON columns escape them)."""


def envelope_row(envelope: ReportEnvelope, line: bytes, attempt: int) -> Row:
    """The ``envelopes`` row of ``envelope`` in attempt ``attempt`` of its run
    (:data:`ENVELOPE_COLUMNS` order); ``line`` is its exact JSON encoding without the
    newline.

    Raises:
        AttributeError / TypeError / msgspec.EncodeError: a field of the wrong type.
    """
    output = envelope.output
    return (
        envelope.run_id,
        attempt,
        envelope.sequence,
        envelope.envelope_id,
        envelope.ts_event_ns,
        envelope.ts_decided_ns,
        envelope.bot_id,
        envelope.bot_class._value_,  # == .value without the enum property's call
        envelope.bot_version,
        envelope.config_version,
        envelope.mode._value_,
        envelope.decision._value_,
        _ENCODER.encode(envelope.reason_codes).decode(),
        envelope.correlation_id,
        envelope.causation_id,
        envelope.input_digest,
        "" if output is None else _output_tag(type(output)),
        _ENCODER.encode(output).decode(),
        envelope.latency_ns,
        line.decode(),
    )


_OUTPUT_TAGS: dict[type, str] = {}


def _output_tag(output_type: type) -> str:
    """The msgspec tag of an envelope output struct type (looked up once per type)."""
    tag = _OUTPUT_TAGS.get(output_type)
    if tag is None:
        tag = _OUTPUT_TAGS[output_type] = output_type.__struct_config__.tag  # type: ignore[attr-defined]
    return tag


ORDER_COLUMNS = (
    "run_id",
    "attempt",
    "client_order_id",
    "intent_id",
    "venue_order_id",
    "bot_id",
    "token_id",
    "market_id",
    "side",
    "price",
    "size",
    "notional",
    "time_in_force",
    "status",
    "filled_size",
    "ts_created_ns",
    "ts_updated_ns",
    "order_json",
)
"""Columns of an ``orders`` row, in table order (``row_id`` is assigned by the database)."""


def order_row(run_id: str, attempt: int, order: VenueOrder) -> Row:
    """The ``orders`` row (:data:`ORDER_COLUMNS` order) of one lifecycle state of ``order``
    in attempt ``attempt`` of run ``run_id``."""
    return (
        run_id,
        attempt,
        order.client_order_id,
        order.intent_id,
        order.venue_order_id,
        order.bot_id,
        order.token_id,
        order.market_id,
        order.side.value,
        order.price,
        order.size,
        order.notional,
        order.time_in_force.value,
        order.status.value,
        order.filled_size,
        order.ts_created_ns,
        order.ts_updated_ns,
        _ENCODER.encode(order).decode(),
    )


def order_from_json(text: str) -> VenueOrder:
    """Decode an ``orders.order_json`` value back into the exact :class:`VenueOrder`."""
    return _ORDER_DECODER.decode(text)


FILL_COLUMNS = (
    "run_id",
    "attempt",
    "fill_id",
    "client_order_id",
    "venue_order_id",
    "token_id",
    "market_id",
    "side",
    "price",
    "size",
    "fee",
    "liquidity",
    "ts_event_ns",
    "ts_recv_ns",
    "fee_size",
)
"""Columns of a ``fills`` row, in table order (``row_id`` is assigned by the database)."""


def fill_row(run_id: str, attempt: int, fill: Fill) -> Row:
    """The ``fills`` row (:data:`FILL_COLUMNS` order) of ``fill`` in attempt ``attempt`` of
    run ``run_id``."""
    return (
        run_id,
        attempt,
        fill.fill_id,
        fill.client_order_id,
        fill.venue_order_id,
        fill.token_id,
        fill.market_id,
        fill.side.value,
        fill.price,
        fill.size,
        fill.fee,
        fill.liquidity.value,
        fill.ts_event_ns,
        fill.ts_recv_ns,
        fill.fee_size,
    )


def fill_from_row(row: Any) -> Fill:
    """Rebuild the exact :class:`Fill` from a ``fills`` row."""
    return Fill(
        fill_id=row.fill_id,
        client_order_id=row.client_order_id,
        venue_order_id=row.venue_order_id,
        token_id=row.token_id,
        market_id=row.market_id,
        side=Side(row.side),
        price=row.price,
        size=row.size,
        fee=row.fee,
        liquidity=LiquiditySide(row.liquidity),
        ts_event_ns=row.ts_event_ns,
        ts_recv_ns=row.ts_recv_ns,
        fee_size=row.fee_size,
    )


POSITION_COLUMNS = (
    "run_id",
    "attempt",
    "ts_ns",
    "token_id",
    "size",
    "cost_basis",
    "realized_pnl",
    "fees",
    "fill_count",
)
"""Columns of a ``positions`` row, in table order (``row_id`` is assigned by the database)."""


def position_row(run_id: str, attempt: int, position: Position, ts_ns: int) -> Row:
    """The ``positions`` row (:data:`POSITION_COLUMNS` order) of a snapshot of ``position``
    taken at ``ts_ns`` in attempt ``attempt`` of run ``run_id``."""
    return (
        run_id,
        attempt,
        ts_ns,
        position.token_id,
        position.size,
        position.cost_basis,
        position.realized_pnl,
        position.fees,
        position.fill_count,
    )
