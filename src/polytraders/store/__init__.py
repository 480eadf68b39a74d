"""The append-only event store (SQLAlchemy Core; SQLite by default, PostgreSQL by URL).

>>> from polytraders.store import EventStore
>>> with EventStore.open("runs/desk.sqlite") as store:  # doctest: +SKIP
...     started = store.start_run(run_id=..., started_ns=..., seed=0, desk_config={}, ...)
...     store.record(envelope)  # goes to attempt started.attempt of envelope.run_id
...     store.end_run(started.run_id, ended_ns=..., status=RunStatus.COMPLETED,
...                   produced=RunProduced(envelopes=..., orders=..., fills=...))

See ``docs/store.md``.
"""

from polytraders.store.checkpoints import CheckpointRow
from polytraders.store.errors import (
    RunRefError,
    StoreClosedError,
    StoreError,
    StoreOpenError,
    StoreSchemaError,
    StoreUrlError,
    StoreWriteError,
    UnknownRunError,
)
from polytraders.store.event_store import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONNECT_TIMEOUT_S,
    EventStore,
)
from polytraders.store.journal import FILL_REVERTED, RunJournal, reverted_fill_ids
from polytraders.store.lease import DEFAULT_HEARTBEAT_INTERVAL_S, DEFAULT_LEASE_S
from polytraders.store.prune import PrunePlan, PruneResult, select_for_prune
from polytraders.store.records import (
    ABANDONED,
    AuditEntry,
    Lease,
    Owner,
    PositionSnapshot,
    ReconciliationKind,
    ReconciliationRow,
    RunCounts,
    RunProduced,
    RunRecord,
    RunStatus,
)
from polytraders.store.run_ref import RunRef, parse_run_ref
from polytraders.store.schema import SCHEMA_VERSION
from polytraders.store.url import Backend

__all__ = [
    "ABANDONED",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "DEFAULT_LEASE_S",
    "FILL_REVERTED",
    "SCHEMA_VERSION",
    "AuditEntry",
    "Backend",
    "CheckpointRow",
    "EventStore",
    "Lease",
    "Owner",
    "PositionSnapshot",
    "PrunePlan",
    "PruneResult",
    "ReconciliationKind",
    "ReconciliationRow",
    "RunCounts",
    "RunJournal",
    "RunProduced",
    "RunRecord",
    "RunRef",
    "RunRefError",
    "RunStatus",
    "StoreClosedError",
    "StoreError",
    "StoreOpenError",
    "StoreSchemaError",
    "StoreUrlError",
    "StoreWriteError",
    "UnknownRunError",
    "parse_run_ref",
    "reverted_fill_ids",
    "select_for_prune",
]
