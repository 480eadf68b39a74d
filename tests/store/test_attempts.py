"""Attempts: the desk's run id never carries an attempt; the store numbers the attempts of a
run id, keys every row by (run id, attempt), allocates the number race-safely, and identical
runs export identical envelope lines whatever their attempt."""

from __future__ import annotations

import io
import multiprocessing
from multiprocessing.synchronize import Barrier

import pytest

from polytraders.contracts import ids
from polytraders.store import EventStore, RunRef, RunStatus, StoreWriteError
from tests.store import factories as f

CONCURRENT = 4


def _record_attempt(store: EventStore, run: str) -> int:
    attempt = f.start(store, run).attempt
    for item in f.timeline(run, 2):
        store.record(item)
    store.append_order(run, f.order(run, 0))
    store.append_fill(run, f.fill(run, 0))
    store.end_run(run, ended_ns=f.T0_NS + 1, produced=f.produced(store, run))
    return attempt


def test_repeats_of_a_run_are_attempts_with_identical_envelope_lines(store_url: str) -> None:
    run = ids.run_id("repeat", 1)
    for expected in (1, 2, 3):
        with EventStore.open(store_url) as store:
            assert _record_attempt(store, run) == expected
    with EventStore.open(store_url) as store:
        assert [(r.run_id, r.attempt) for r in store.runs()] == [(run, 1), (run, 2), (run, 3)]
        exports = []
        for attempt in (1, 2, 3):
            stream = io.BytesIO()
            assert store.export_jsonl(f"{run}@{attempt}", stream) == 8
            exports.append(stream.getvalue())
            assert store.check_integrity(RunRef(run, attempt)) == []
            # the same fill id is booked once per attempt, never across attempts
            assert store.fills(f"{run}@{attempt}") == [f.fill(run, 0)]
        assert exports[0] == exports[1] == exports[2]
        assert f"{run}@" not in exports[0].decode()  # no attempt inside the hashed content
        assert store.run(run) is not None and store.run(run).attempt == 3  # type: ignore[union-attr]
        assert store.envelopes(run) == store.envelopes(f"{run}@1") == f.timeline(run, 2)


def test_a_store_writes_only_the_attempt_it_holds(store_url: str) -> None:
    run = ids.run_id("held", 1)
    with EventStore.open(store_url) as first, EventStore.open(store_url) as second:
        assert f.start(first, run).attempt == 1
        assert f.start(second, run).attempt == 2
        first.record(f.envelope(run, 0))
        second.record(f.envelope(run, 0))  # the same envelope, in the other attempt
        second.record(f.envelope(run, 1))
        with pytest.raises(StoreWriteError, match=r"'.*@2' is not open in this store"):
            first.append_order(f"{run}@2", f.order(run, 0))
        with pytest.raises(StoreWriteError, match=r"'.*@3' was never started"):
            first.append_order(f"{run}@3", f.order(run, 0))
        first.append_order(f"{run}@1", f.order(run, 0))
        assert first.held == {run: 1} and second.held == {run: 2}
        second.flush()  # a reader sees what other stores have committed
        assert len(first.envelopes(f"{run}@1")) == 1
        assert len(first.envelopes(run)) == 2  # RUN_ID: the latest attempt
        assert first.counts(f"{run}@1").distinct_orders == 1
        assert first.counts(f"{run}@2").distinct_orders == 0


def _start_concurrently(
    url: str, run: str, barrier: Barrier, results: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    with EventStore.open(url) as store:
        barrier.wait(timeout=60)
        started = f.start(store, run)
        store.record(f.envelope(run, 0))
        store.end_run(run, ended_ns=f.T0_NS, produced=f.produced(store, run))
        results.put(started.attempt)


@pytest.mark.slow
def test_processes_starting_the_same_run_at_once_all_get_different_attempts(
    store_url: str,
) -> None:
    run = ids.run_id("race", 1)
    with EventStore.open(store_url):
        pass  # create the schema first: the race is for attempt numbers, not for tables
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(CONCURRENT)
    results = context.Queue()
    workers = [
        context.Process(target=_start_concurrently, args=(store_url, run, barrier, results))
        for _ in range(CONCURRENT)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * CONCURRENT
    attempts = sorted(results.get(timeout=10) for _ in workers)
    assert attempts == list(range(1, CONCURRENT + 1))
    with EventStore.open(store_url) as store:
        records = store.runs()
        assert sorted(r.attempt for r in records) == attempts
        assert {r.status for r in records} == {RunStatus.COMPLETED}
        for attempt in attempts:
            assert store.envelopes(f"{run}@{attempt}") == [f.envelope(run, 0)]


def test_an_attempt_number_is_never_reused_after_a_prune(store_url: str) -> None:
    run = ids.run_id("reuse", 1)
    with EventStore.open(store_url) as store:
        _record_attempt(store, run)
        _record_attempt(store, run)
        store.prune([run], actor="test", reason="drop the latest attempt")
        assert [r.attempt for r in store.runs()] == [1]
        assert _record_attempt(store, run) == 3
        assert [r.attempt for r in store.runs()] == [1, 3]
