"""What the store reads back, and the exact conversion of model objects to table rows.

Rows hold int micro-units and int ns exactly; enums are stored by value. Envelopes and venue
orders also keep their exact msgspec JSON encoding, so reading them back is the identity.
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
    FAILED (the engine raised)."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    HALTED = "HALTED"
    FAILED = "FAILED"


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


def envelope_row(envelope: ReportEnvelope, line: bytes) -> dict[str, Any]:
    """The ``envelopes`` row of ``envelope``; ``line`` is its exact JSON encoding (no
    newline)."""
    output = envelope.output
    return {
        "run_id": envelope.run_id,
        "sequence": envelope.sequence,
        "envelope_id": envelope.envelope_id,
        "ts_event_ns": envelope.ts_event_ns,
        "ts_decided_ns": envelope.ts_decided_ns,
        "bot_id": envelope.bot_id,
        "bot_class": envelope.bot_class.value,
        "bot_version": envelope.bot_version,
        "config_version": envelope.config_version,
        "mode": envelope.mode.value,
        "decision": envelope.decision.value,
        "reason_codes_json": _ENCODER.encode(envelope.reason_codes).decode(),
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
        "input_digest": envelope.input_digest,
        "output_type": "" if output is None else type(output).__struct_config__.tag,
        "output_json": _ENCODER.encode(output).decode(),
        "latency_ns": envelope.latency_ns,
        "line": line.decode(),
    }


ENVELOPE_TEXT_COLUMNS = (
    "envelope_id",
    "run_id",
    "bot_id",
    "bot_version",
    "config_version",
    "correlation_id",
    "causation_id",
    "input_digest",
)
"""Envelope fields stored as plain text columns (checked for NUL characters, which
PostgreSQL cannot store; the JSON columns escape them)."""


def order_row(run_id: str, order: VenueOrder) -> dict[str, Any]:
    """The ``orders`` row of one lifecycle state of ``order`` in run ``run_id``."""
    return {
        "run_id": run_id,
        "client_order_id": order.client_order_id,
        "intent_id": order.intent_id,
        "venue_order_id": order.venue_order_id,
        "bot_id": order.bot_id,
        "token_id": order.token_id,
        "market_id": order.market_id,
        "side": order.side.value,
        "price": order.price,
        "size": order.size,
        "notional": order.notional,
        "time_in_force": order.time_in_force.value,
        "status": order.status.value,
        "filled_size": order.filled_size,
        "ts_created_ns": order.ts_created_ns,
        "ts_updated_ns": order.ts_updated_ns,
        "order_json": _ENCODER.encode(order).decode(),
    }


def order_from_json(text: str) -> VenueOrder:
    """Decode an ``orders.order_json`` value back into the exact :class:`VenueOrder`."""
    return _ORDER_DECODER.decode(text)


def fill_row(run_id: str, fill: Fill) -> dict[str, Any]:
    """The ``fills`` row of ``fill`` in run ``run_id``."""
    return {
        "run_id": run_id,
        "fill_id": fill.fill_id,
        "client_order_id": fill.client_order_id,
        "venue_order_id": fill.venue_order_id,
        "token_id": fill.token_id,
        "market_id": fill.market_id,
        "side": fill.side.value,
        "price": fill.price,
        "size": fill.size,
        "fee": fill.fee,
        "liquidity": fill.liquidity.value,
        "ts_event_ns": fill.ts_event_ns,
        "ts_recv_ns": fill.ts_recv_ns,
    }


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


def position_row(run_id: str, position: Position, ts_ns: int) -> dict[str, Any]:
    """The ``positions`` row of a snapshot of ``position`` taken at ``ts_ns``."""
    return {
        "run_id": run_id,
        "ts_ns": ts_ns,
        "token_id": position.token_id,
        "size": position.size,
        "cost_basis": position.cost_basis,
        "realized_pnl": position.realized_pnl,
        "fees": position.fees,
        "fill_count": position.fill_count,
    }
