"""Batched writes: rows reach the database one transaction per batch, on flush, on close and
on leaving a ``with`` block; a failed flush loses nothing committed before."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.store import EventStore, StoreClosedError, StoreWriteError
from tests.store import factories as f


def _stored(url: str, table: str = "envelopes") -> int:
    """Rows committed in ``table``, counted through a separate connection."""
    probe = EventStore.open(url)
    try:
        with probe._engine.connect() as connection:
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        probe.close()


def test_rows_are_written_when_a_batch_fills(store_url: str) -> None:
    run = ids.run_id("batch", 1)
    recorded = f.timeline(run, 6)  # 24 envelopes
    with EventStore.open(store_url, batch_size=10) as store:
        f.start(store, run)
        for item in recorded[:9]:
            store.record(item)
        assert store.pending == 9
        assert _stored(store_url) == 0
        store.record(recorded[9])  # the 10th row fills the batch
        assert store.pending == 0
        assert _stored(store_url) == 10
        for item in recorded[10:]:
            store.record(item)
        assert (store.pending, _stored(store_url)) == (4, 20)
        store.flush()
        assert (store.pending, _stored(store_url)) == (0, 24)


def test_orders_fills_and_positions_share_the_batch(store_url: str) -> None:
    run = ids.run_id("mixed", 1)
    with EventStore.open(store_url, batch_size=3) as store:
        f.start(store, run)
        store.append_order(run, f.order(run, 0))
        store.append_fill(run, f.fill(run, 0))
        assert _stored(store_url, "orders") == 0
        store.record(f.timeline(run, 1)[0])  # third pending row: one transaction for all
        assert [_stored(store_url, t) for t in ("orders", "fills", "envelopes")] == [1, 1, 1]


def test_leaving_the_with_block_flushes(store_url: str) -> None:
    run = ids.run_id("exit", 1)
    with EventStore.open(store_url, batch_size=1_000) as store:
        f.start(store, run)
        for item in f.timeline(run, 2):
            store.record(item)
        assert _stored(store_url) == 0
    assert _stored(store_url) == 8
    with pytest.raises(StoreClosedError):
        store.record(f.timeline(run, 3)[8])


def test_leaving_the_with_block_on_an_error_still_flushes(store_url: str) -> None:
    run = ids.run_id("exit-error", 1)

    def crashing_desk() -> None:
        with EventStore.open(store_url) as store:
            f.start(store, run)
            for item in f.timeline(run, 1):
                store.record(item)
            raise RuntimeError("desk crashed")

    with pytest.raises(RuntimeError, match="desk crashed"):
        crashing_desk()
    assert _stored(store_url) == 4


def test_a_failed_flush_keeps_earlier_batches_and_the_pending_rows(store_url: str) -> None:
    run = ids.run_id("fail", 1)
    recorded = f.timeline(run, 3)  # 12 envelopes
    store = EventStore.open(store_url, batch_size=4)
    f.start(store, run)
    for item in recorded[:8]:
        store.record(item)
    assert _stored(store_url) == 8
    store.record(recorded[8])
    store.record(recorded[9])
    store.record(recorded[2])  # sequence 2 again: the database refuses the whole batch
    with pytest.raises(StoreWriteError, match=r"flush of 4 rows \(kept pending for a retry\)"):
        store.record(recorded[10])
    assert store.pending == 4
    assert _stored(store_url) == 8  # the committed batches are intact, none of the failed one
    with pytest.raises(StoreWriteError):
        store.close()  # the final flush fails again: reported, never swallowed
    with pytest.raises(StoreClosedError):
        store.flush()
    check = EventStore.open(store_url)
    try:
        assert check.envelopes(run) == recorded[:8]
        assert check.check_integrity(run) == []
    finally:
        check.close()


def test_readers_see_what_is_still_pending(store: EventStore) -> None:
    run = ids.run_id("read-own-writes", 1)
    f.start(store, run)
    store.record(f.timeline(run, 1)[0])
    assert store.pending == 1
    assert len(store.envelopes(run)) == 1
    assert store.pending == 0


def test_batch_size_must_be_positive(store_url: str) -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        EventStore.open(store_url, batch_size=0)
