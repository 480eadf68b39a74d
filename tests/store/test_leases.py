"""Leases: a running attempt names its owner and renews a heartbeat at most every interval;
readers report an attempt left RUNNING by a dead writer as ABANDONED: its lease lapsed (a
controllable wall clock, no waiting) or its owner process on this host is gone (a real
subprocess killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.store import (
    EventStore,
    Owner,
    RunStatus,
    StoreClosedError,
    StoreWriteError,
    schema,
)
from polytraders.store.lease import owner_gone, process_start, this_process
from tests.store import factories as f

REPO = Path(__file__).resolve().parents[2]
S = 1_000_000_000

_CHILD = """
import sys
from polytraders.store import EventStore
from tests.store import factories as f
url, run = sys.argv[1], sys.argv[2]
store = EventStore.open(url, lease_s=3600)
f.start(store, run)
store.record(f.envelope(run, 0))
store.flush()
print("started", flush=True)
sys.stdin.read()  # hold the run until killed
"""


def _lease_rows(store: EventStore) -> int:
    with store._engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(schema.run_leases)
            ).scalar_one()
        )


def test_heartbeats_are_written_at_most_every_interval(store_url: str) -> None:
    run = ids.run_id("heartbeat", 1)
    clock = f.WallClock()
    with EventStore.open(store_url, wall_clock_ns=clock, heartbeat_interval_s=10) as store:
        f.start(store, run)  # the first heartbeat is written with the start
        clock.advance(9)
        store.record(f.envelope(run, 0))
        store.flush()
        assert _lease_rows(store) == 1
        clock.advance(1)
        store.flush()  # nothing pending, but the heartbeat is due
        assert _lease_rows(store) == 2
        for sequence in range(1, 40):  # many flushes within one interval: no extra rows
            store.record(f.envelope(run, sequence))
            store.flush()
        assert _lease_rows(store) == 2
        clock.advance(1)
        store.renew_lease(run)  # explicit: written now whatever the interval
        assert _lease_rows(store) == 3
        record = store.run(run)
        assert record is not None and record.lease is not None
        assert record.lease.renewed_wall_ns == f.T0_NS + 11 * S
        assert record.lease.owner == this_process()
        assert record.lease.lease_s == 60
        with pytest.raises(StoreWriteError, match="never started"):
            store.renew_lease("run-elsewhere")


def test_a_lapsed_lease_is_abandoned_and_a_renewed_one_is_not(store_url: str) -> None:
    run = ids.run_id("lapse", 1)
    writer_clock, reader_clock = f.WallClock(), f.WallClock()
    with (
        EventStore.open(store_url, wall_clock_ns=writer_clock, lease_s=60) as writer,
        EventStore.open(store_url, wall_clock_ns=reader_clock) as reader,
    ):
        f.start(writer, run)
        reader_clock.advance(60)
        assert reader.run(run).abandoned == ""  # type: ignore[union-attr]  # lapses after 60 s
        writer_clock.advance(50)
        writer.flush()  # the writer is busy: its heartbeat renews the lease
        reader_clock.advance(50)
        assert reader.run(run).abandoned == ""  # type: ignore[union-attr]
        reader_clock.advance(1)  # the writer went silent 61 s ago (hung, or on another host)
        record = reader.run(run)
        assert record is not None and record.status is RunStatus.RUNNING
        assert record.state == "ABANDONED"
        assert record.abandoned.startswith("its lease lapsed 1 s ago (last heartbeat ")
        assert reader.check_integrity(run)[0].startswith(f"run '{run}@1' is ABANDONED: its lease")
        writer.end_run(
            run,
            ended_ns=f.T0_NS,
            status=RunStatus.INTERRUPTED,
            detail="SIGTERM",
            produced=f.produced(writer, run),
        )
        ended = reader.run(run)
        assert ended is not None
        assert (ended.state, ended.detail, ended.abandoned) == ("INTERRUPTED", "SIGTERM", "")
        assert reader.check_integrity(run) == []


def test_a_run_whose_writer_was_killed_is_abandoned_and_can_be_resumed(
    store_url: str,
) -> None:
    run = ids.run_id("killed", 1)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, store_url, run],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        with EventStore.open(store_url) as store:
            alive = store.run(run)
            assert alive is not None and alive.lease is not None
            assert alive.lease.owner.pid == child.pid
            assert (alive.state, alive.abandoned) == ("RUNNING", "")
            assert store.check_integrity(run) == []
            with pytest.raises(StoreWriteError, match=f"RUNNING under pid {child.pid} on"):
                store.resume_run(run)
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=60) == -signal.SIGKILL
            dead = store.run(run)
            assert dead is not None and dead.status is RunStatus.RUNNING
            assert dead.state == "ABANDONED"
            assert (
                dead.abandoned
                == f"its owner process (pid {child.pid} on {socket.gethostname()}) is gone"
            )
            # what its writer flushed before dying is there, but the run never said what it
            # produced: its evidence is incomplete, not sound
            assert store.check_integrity(run) == [
                f"run '{run}@1' is ABANDONED: {dead.abandoned}",
                f"run '{run}@1' is incomplete: it has no end record (its writer stopped before "
                "ending it), so what it produced is unknown; recorded are 1 envelopes, "
                "0 order states and 0 fills",
            ]
            assert store.resume_run(run).attempt == 1  # a restarted desk takes it over
            store.record(f.envelope(run, 1))
            store.end_run(
                run,
                ended_ns=f.T0_NS,
                status=RunStatus.COMPLETED,
                produced=f.produced(store, run),
            )
            done = store.run(run)
            assert done is not None and done.lease is not None
            assert (done.state, done.lease.owner.pid) == ("COMPLETED", os.getpid())
            assert store.check_integrity(run) == []
            assert store.envelopes(run) == [f.envelope(run, 0), f.envelope(run, 1)]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)


def test_a_reused_pid_is_not_mistaken_for_the_owner() -> None:
    me = this_process()
    host = socket.gethostname()
    assert me.process_start  # Linux: boot id and start ticks from /proc
    assert not owner_gone(me, host)
    assert owner_gone(Owner(host=host, pid=me.pid, process_start="another-boot:1"), host)
    assert not owner_gone(Owner(host="elsewhere", pid=2**22 + 1, process_start=""), host)
    assert process_start(2**22 + 1) is None  # above Linux's pid_max: no such process


def test_a_write_to_a_closed_store_is_a_store_write_error(store_url: str) -> None:
    run = ids.run_id("closed", 1)
    store = EventStore.open(store_url)
    f.start(store, run)
    store.close()
    for write in (
        lambda: store.record(f.envelope(run, 0)),
        lambda: store.append_fill(run, f.fill(run, 0)),
        store.flush,
        lambda: store.renew_lease(run),
    ):
        with pytest.raises(StoreWriteError) as caught:
            write()
        assert isinstance(caught.value, StoreClosedError)
