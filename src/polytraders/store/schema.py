"""The event-store schema (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Tables (every one append-only; the database itself refuses UPDATE, DELETE and, on PostgreSQL,
TRUNCATE through triggers installed with the tables):

- ``store_meta``: key/value rows; ``schema_version`` = :data:`SCHEMA_VERSION`.
- ``runs``: one row per run when it starts: id, ``started_ns``, seed, desk config JSON and its
  version, data-source description, synthetic flag, status at start (``RUNNING``).
- ``run_ends``: one row per ended run (``ended_ns``, final status). A run's end is a second
  fact appended, not an update of the first, so ``runs`` stays append-only; readers join them.
- ``envelopes``: every :class:`~polytraders.contracts.envelope.ReportEnvelope` field as a
  column, the output as JSON (``output_json``, with its tag in ``output_type``) and the exact
  JSON line (``line``, without the newline) from which the timeline is re-exported byte for
  byte. Primary key (run id, sequence); envelope ids unique.
- ``orders``: one row per lifecycle state of a :class:`~polytraders.model.orders.VenueOrder`
  (its columns plus the exact JSON), in append order (``row_id``).
- ``fills``: one row per :class:`~polytraders.model.fills.Fill`; (run id, fill id) unique, so
  the same fill can never be booked twice.

Orders, fills, positions and run ends reference ``runs`` by foreign key; envelopes do not (see
the comment at the table), the store checks their run before buffering them.
- ``positions``: position snapshots (signed size, cost basis, realized PnL, fees).
- ``audit_log``: who did what when (actor, action, detail, ``ts_ns``), optionally in a run.

Money and sizes are int micro-units, times int ns since the epoch (64-bit signed columns).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

SCHEMA_VERSION = 1
"""Version of this schema; a database holding another version is refused (no silent
migration)."""

APPEND_ONLY_MESSAGE = "polytraders event store is append-only"

# BIGINT PRIMARY KEY is not SQLite's auto-incrementing row id alias; INTEGER is (also 64-bit).
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(200), primary_key=True),
    sa.Column("started_ns", sa.BigInteger, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("desk_config_json", sa.Text, nullable=False),
    sa.Column("desk_config_version", sa.String(200), nullable=False),
    sa.Column("data_source", sa.Text, nullable=False),
    sa.Column("synthetic", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
)

run_ends = sa.Table(
    "run_ends",
    metadata,
    sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("ended_ns", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
)

# No foreign key from envelopes to runs: the per-row referential check was a third of
# PostgreSQL's insert cost for this, the hottest table (bench/bench_store.py). The store refuses
# envelopes of runs that were never started (or have ended) before buffering them, and
# check_integrity reports a run that is not recorded.
envelopes = sa.Table(
    "envelopes",
    metadata,
    sa.Column("run_id", sa.String(200), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("envelope_id", sa.Text, nullable=False, unique=True),
    sa.Column("ts_event_ns", sa.BigInteger, nullable=False),
    sa.Column("ts_decided_ns", sa.BigInteger, nullable=False),
    sa.Column("bot_id", sa.Text, nullable=False),
    sa.Column("bot_class", sa.String(32), nullable=False),
    sa.Column("bot_version", sa.Text, nullable=False),
    sa.Column("config_version", sa.Text, nullable=False),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("reason_codes_json", sa.Text, nullable=False),
    sa.Column("correlation_id", sa.Text, nullable=False),
    sa.Column("causation_id", sa.Text, nullable=False),
    sa.Column("input_digest", sa.Text, nullable=False),
    sa.Column("output_type", sa.String(32), nullable=False),
    sa.Column("output_json", sa.Text, nullable=False),
    sa.Column("latency_ns", sa.BigInteger, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("client_order_id", sa.Text, nullable=False),
    sa.Column("intent_id", sa.Text, nullable=False),
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("bot_id", sa.Text, nullable=False),
    sa.Column("token_id", sa.Text, nullable=False),
    sa.Column("market_id", sa.Text, nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("price", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("notional", sa.BigInteger, nullable=False),
    sa.Column("time_in_force", sa.String(8), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("filled_size", sa.BigInteger, nullable=False),
    sa.Column("ts_created_ns", sa.BigInteger, nullable=False),
    sa.Column("ts_updated_ns", sa.BigInteger, nullable=False),
    sa.Column("order_json", sa.Text, nullable=False),
    sa.Index("ix_orders_run_client", "run_id", "client_order_id"),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("fill_id", sa.Text, nullable=False),
    sa.Column("client_order_id", sa.Text, nullable=False),
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("token_id", sa.Text, nullable=False),
    sa.Column("market_id", sa.Text, nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("price", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("liquidity", sa.String(8), nullable=False),
    sa.Column("ts_event_ns", sa.BigInteger, nullable=False),
    sa.Column("ts_recv_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("run_id", "fill_id", name="uq_fills_run_fill"),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("token_id", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("cost_basis", sa.BigInteger, nullable=False),
    sa.Column("realized_pnl", sa.BigInteger, nullable=False),
    sa.Column("fees", sa.BigInteger, nullable=False),
    sa.Column("fill_count", sa.BigInteger, nullable=False),
    sa.Index("ix_positions_run", "run_id", "row_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(200), nullable=True),
)

APPEND_ONLY_TABLES = (
    store_meta,
    runs,
    run_ends,
    envelopes,
    orders,
    fills,
    positions,
    audit_log,
)
"""Every table; each refuses UPDATE and DELETE at the database level."""

_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION polytraders_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    # "%%": the driver formats the statement (psycopg placeholders); PostgreSQL sees "%".
    f"RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: %% on %% refused', TG_OP, TG_TABLE_NAME; "
    "END $$"
)


def append_only_ddl(table_name: str, dialect_name: str) -> list[str]:
    """The statements that make ``table_name`` refuse UPDATE and DELETE (and TRUNCATE on
    PostgreSQL) in the given dialect. Run once, right after the table is created."""
    if dialect_name == "postgresql":
        return [
            f"CREATE TRIGGER {table_name}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            f"ON {table_name} FOR EACH STATEMENT EXECUTE FUNCTION polytraders_append_only()"
        ]
    if dialect_name == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table_name}_no_{operation.lower()} "
            f"BEFORE {operation} ON {table_name} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {operation} on {table_name} "
            "refused'); END"
            for operation in ("UPDATE", "DELETE")
        ]
    raise ValueError(f"no append-only triggers for dialect {dialect_name!r}")


@event.listens_for(metadata, "before_create")
def _create_trigger_function(
    target: sa.MetaData, connection: sa.Connection, tables: Any = (), **_: Any
) -> None:
    """Install the PostgreSQL trigger function when tables are about to be created (only
    then: opening an existing store needs no DDL privilege)."""
    if connection.dialect.name == "postgresql" and tables:
        connection.exec_driver_sql(_PG_FUNCTION)


def _make_append_only(target: sa.Table, connection: sa.Connection, **_: Any) -> None:
    for statement in append_only_ddl(target.name, connection.dialect.name):
        connection.exec_driver_sql(statement)


for _table in APPEND_ONLY_TABLES:
    event.listen(_table, "after_create", _make_append_only)
