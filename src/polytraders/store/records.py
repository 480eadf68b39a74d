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

_ENCODER = msgspec.json.Encoder()
_ORDER_DECODER = msgspec.json.Decoder(VenueOrder)


class RunStatus(StrEnum):
    """Lifecycle of a run. RUNNING until :meth:`EventStore.end_run` records how it ended:
    COMPLETED (feed exhausted or stopped cleanly), HALTED (kill switch or fatal condition),
    FAILED (the engine raised), INTERRUPTED (SIGINT/SIGTERM)."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    HALTED = "HALTED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One run as recorded.

    Fields: ``run_id``; ``started_ns`` and ``ended_ns`` (ns since the epoch; ``ended_ns`` is
    None while running); ``seed``; ``desk_config_json`` (the desk config exactly as given) and
    ``desk_config_version``; ``data_source`` (what fed the run); ``synthetic`` (True when the
    data were generated); ``status``.
    """

    run_id: str
    started_ns: int
    ended_ns: int | None
    seed: int
    desk_config_json: str
    desk_config_version: str
    data_source: str
    synthetic: bool
    status: RunStatus


class PositionSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A position as recorded at ``ts_ns``: signed ``size`` (micro-shares), ``cost_basis``,
    ``realized_pnl`` and ``fees`` (micro-units of the quote currency), ``fill_count``."""

    run_id: str
    ts_ns: int
    token_id: str
    size: int
    cost_basis: int
    realized_pnl: int
    fees: int
    fill_count: int


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One audit-log row: ``actor`` (operator, bot or ``desk``) did ``action`` at ``ts_ns``;
    ``detail`` is free text or canonical JSON; ``run_id`` is None for desk-wide actions."""

    ts_ns: int
    actor: str
    action: str
    detail: str
    run_id: str | None


def json_text(value: object) -> str:
    """Deterministic msgspec JSON of ``value`` (mapping keys sorted) as text."""
    return msgspec.json.encode(value, order="sorted").decode()


Row = tuple[Any, ...]
"""A table row as values in the order of the table's ``*_COLUMNS`` constant."""

ENVELOPE_COLUMNS = (
    "run_id",
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


def envelope_row(envelope: ReportEnvelope, line: bytes) -> Row:
    """The ``envelopes`` row of ``envelope`` (:data:`ENVELOPE_COLUMNS` order); ``line`` is its
    exact JSON encoding without the newline.

    Raises:
        AttributeError / TypeError / msgspec.EncodeError: a field of the wrong type.
    """
    output = envelope.output
    return (
        envelope.run_id,
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


def order_row(run_id: str, order: VenueOrder) -> Row:
    """The ``orders`` row (:data:`ORDER_COLUMNS` order) of one lifecycle state of ``order``."""
    return (
        run_id,
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
)
"""Columns of a ``fills`` row, in table order (``row_id`` is assigned by the database)."""


def fill_row(run_id: str, fill: Fill) -> Row:
    """The ``fills`` row (:data:`FILL_COLUMNS` order) of ``fill`` in run ``run_id``."""
    return (
        run_id,
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
    )


POSITION_COLUMNS = (
    "run_id",
    "ts_ns",
    "token_id",
    "size",
    "cost_basis",
    "realized_pnl",
    "fees",
    "fill_count",
)
"""Columns of a ``positions`` row, in table order (``row_id`` is assigned by the database)."""


def position_row(run_id: str, position: Position, ts_ns: int) -> Row:
    """The ``positions`` row (:data:`POSITION_COLUMNS` order) of a snapshot of ``position``
    taken at ``ts_ns``."""
    return (
        run_id,
        ts_ns,
        position.token_id,
        position.size,
        position.cost_basis,
        position.realized_pnl,
        position.fees,
        position.fill_count,
    )
