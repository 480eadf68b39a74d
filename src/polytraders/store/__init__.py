"""The append-only event store (SQLAlchemy Core; SQLite by default, PostgreSQL by URL).

>>> from polytraders.store import EventStore
>>> with EventStore.open("runs/desk.sqlite") as store:  # doctest: +SKIP
...     store.start_run(run_id=..., started_ns=..., seed=0, desk_config={}, ...)
...     store.record(envelope)

See ``docs/store.md``.
"""

from polytraders.store.errors import (
    StoreClosedError,
    StoreError,
    StoreSchemaError,
    StoreUrlError,
    StoreWriteError,
)
from polytraders.store.event_store import DEFAULT_BATCH_SIZE, EventStore
from polytraders.store.records import AuditEntry, PositionSnapshot, RunRecord, RunStatus
from polytraders.store.schema import SCHEMA_VERSION
from polytraders.store.url import Backend

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "SCHEMA_VERSION",
    "AuditEntry",
    "Backend",
    "EventStore",
    "PositionSnapshot",
    "RunRecord",
    "RunStatus",
    "StoreClosedError",
    "StoreError",
    "StoreSchemaError",
    "StoreUrlError",
    "StoreWriteError",
]
