"""Errors of the event store.

Every failure of the store surfaces as a :class:`StoreError` subclass with a message that names
what failed and never shows a password (URLs are masked). The desk maps a
:class:`StoreWriteError` to the reason code ``SYS_STORE_WRITE_FAILED`` and halts: trading never
continues without evidence.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every event-store error."""


class StoreUrlError(StoreError, ValueError):
    """The store URL is empty, malformed or names a database the store does not support."""


class StoreSchemaError(StoreError):
    """The database holds an event-store schema of another version (no silent migration)."""


class StoreWriteError(StoreError):
    """A write was refused or failed. Nothing committed before is lost (each flush is one
    transaction); the rows of the failed flush stay pending and are retried by the next
    :meth:`~polytraders.store.event_store.EventStore.flush`."""


class StoreClosedError(StoreError):
    """The store was used after :meth:`~polytraders.store.event_store.EventStore.close`."""
