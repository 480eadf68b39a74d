"""Batched inserts: the one place where the backends differ in how rows reach the database.

The table definitions and column lists are SQLAlchemy Core's for both; only the transfer is
tuned per driver (profiled with ``bench/bench_store.py``: SQLAlchemy's per-row parameter
processing and psycopg's per-row pipeline messages each cost more than the insert itself):

- SQLite: one ``executemany`` of the Core-compiled ``INSERT`` with positional rows, through
  :meth:`sqlalchemy.engine.Connection.exec_driver_sql`.
- PostgreSQL (psycopg 3): ``COPY table (columns) FROM STDIN`` on the same connection and
  transaction, rows written with psycopg's ``Copy.write_row``.

Either way the rows of one flush commit or roll back together with the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

_CHECKED: dict[tuple[str, str, tuple[str, ...]], str] = {}


def insert_columns(table: sa.Table) -> tuple[str, ...]:
    """The columns a batched insert fills: every column of ``table`` except ``row_id``, in
    table order."""
    return tuple(column.name for column in table.columns if column.name != "row_id")


def bulk_insert(
    connection: sa.Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` inside the connection's
    current transaction.

    Raises:
        RuntimeError: ``columns`` is not :func:`insert_columns` of the table (a programming
            error caught before any row is written).
        sqlalchemy.exc.DBAPIError / psycopg.Error: the database refused the rows.
    """
    if not rows:
        return
    statement = _statement(connection.dialect, table, columns)
    if connection.dialect.name == "postgresql":
        driver_connection: Any = connection.connection.driver_connection
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        connection.exec_driver_sql(statement, list(rows))


def _statement(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> str:
    """The insert statement for ``table`` in ``dialect`` (built and checked once)."""
    key = (dialect.name, table.name, columns)
    statement = _CHECKED.get(key)
    if statement is not None:
        return statement
    if columns != insert_columns(table):
        raise RuntimeError(
            f"row layout {columns} does not match table {table.name} {insert_columns(table)}"
        )
    if dialect.name == "postgresql":
        preparer = dialect.identifier_preparer
        column_list = ", ".join(preparer.quote(name) for name in columns)
        statement = f"COPY {preparer.format_table(table)} ({column_list}) FROM STDIN"
    else:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        if not dialect.positional or tuple(compiled.positiontup or ()) != columns:
            raise RuntimeError(f"no positional insert for {table.name} on {dialect.name}")
        statement = str(compiled)
    _CHECKED[key] = statement
    return statement
