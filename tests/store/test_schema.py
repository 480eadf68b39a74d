"""The row layouts match the tables, and the schema version is recorded once."""

from __future__ import annotations

import sqlalchemy as sa

from polytraders.store import SCHEMA_VERSION, EventStore, schema
from polytraders.store.bulk import insert_columns
from polytraders.store.records import (
    ENVELOPE_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
)


def test_row_layouts_follow_the_table_columns() -> None:
    assert insert_columns(schema.envelopes) == ENVELOPE_COLUMNS
    assert insert_columns(schema.orders) == ORDER_COLUMNS
    assert insert_columns(schema.fills) == FILL_COLUMNS
    assert insert_columns(schema.positions) == POSITION_COLUMNS


def test_opening_twice_keeps_one_schema_version_row(store_url: str) -> None:
    for _ in range(2):
        with EventStore.open(store_url) as store, store._engine.connect() as connection:
            rows = connection.execute(sa.select(schema.store_meta)).all()
            tables = set(sa.inspect(connection).get_table_names())
    assert [(r.key, r.value) for r in rows] == [("schema_version", str(SCHEMA_VERSION))]
    assert {t.name for t in schema.APPEND_ONLY_TABLES} <= tables
