"""Errors of the event store.

Every failure of the store surfaces as a :class:`StoreError` subclass with a one-line message
that names what failed and never shows a password (URLs are masked). The desk maps a
:class:`StoreWriteError` (which includes :class:`StoreClosedError`: a write to a closed store
is a failed write) to the reason code ``SYS_STORE_WRITE_FAILED`` and halts: trading never
continues without evidence.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every event-store error."""


class StoreUrlError(StoreError, ValueError):
    """The store URL is empty, malformed or names a database the store does not support."""


class StoreOpenError(StoreError):
    """The store could not be opened: the database is unreachable (or did not answer within
    the connect time-out), the SQLite path is a directory, read-only or in a read-only folder,
    or (when opening without ``create``) there is no store there."""


class StoreSchemaError(StoreError):
    """The database holds an event-store schema of another version (no silent migration)."""


class StoreWriteError(StoreError):
    """A write was refused or failed. Nothing committed before is lost (each flush is one
    transaction); the rows of the failed flush stay pending and are retried by the next
    :meth:`~polytraders.store.event_store.EventStore.flush`."""


class StoreClosedError(StoreWriteError):
    """The store was used after :meth:`~polytraders.store.event_store.EventStore.close`."""


class RunRefError(StoreError, ValueError):
    """A run reference is not ``RUN_ID`` or ``RUN_ID@N`` (N a whole number ≥ 1)."""


class UnknownRunError(StoreError, LookupError):
    """A run reference names no run (or no such attempt) in the store."""


class EvidenceError(StoreError):
    """A governance-evidence record (incident, review sample or verdict, alert firing) was
    refused; nothing was written. The message is one line naming what was wrong."""


class EvidenceInputError(EvidenceError, ValueError):
    """Bad input: an unknown bot, severity or origin, an unknown incident or sample, an
    envelope outside the sample, a malformed alert payload, an empty operator."""


class EvidenceStateError(EvidenceError):
    """The record's state does not allow it: closing an incident that is already closed."""
