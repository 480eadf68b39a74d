"""A paper run killed with SIGKILL keeps in the store every order state and fill produced
before its last flush (they stream with the envelopes), and the integrity check reports the
run ABANDONED and incomplete rather than sound."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from polytraders.store import EventStore, StoreError
from tests.conftest import REPO
from tests.waiting import wait_until

_DEADLINE_S = 180.0


def _run(store: Path, out: Path) -> subprocess.Popen[bytes]:
    """``polytraders run`` (the main job: default desk, the shipped real books, paper venue)."""
    return subprocess.Popen(
        [sys.executable, "-m", "polytraders", "run", "--store", str(store), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _flushed_fills(store: Path) -> int:
    """Fills the running attempt has flushed so far (0 while the store is not there yet)."""
    try:
        with EventStore.open(store, create=False) as reader:
            records = reader.runs()
            return reader.counts(records[0].ref).fills if records else 0
    except StoreError:
        return 0


@pytest.mark.slow
def test_a_killed_paper_run_keeps_what_it_flushed_and_is_reported_incomplete(
    tmp_path: Path,
) -> None:
    killed_store = tmp_path / "killed.sqlite"
    child = _run(killed_store, tmp_path / "killed")
    try:

        def flushed_while_running() -> bool:
            assert child.poll() is None, "the run ended before it flushed a fill"
            return _flushed_fills(killed_store) > 0

        wait_until(flushed_while_running, _DEADLINE_S, "a flushed fill")
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)
    complete_store = tmp_path / "complete.sqlite"
    reference = _run(complete_store, tmp_path / "complete")
    _, stderr = reference.communicate(timeout=_DEADLINE_S)
    assert reference.returncode == 0, stderr.decode()

    with (
        EventStore.open(killed_store, create=False) as killed,
        EventStore.open(complete_store, create=False) as complete,
    ):
        (record,) = killed.runs()
        (finished,) = complete.runs()
        assert record.run_id == finished.run_id  # same data, desk and seed: the same run
        assert record.state == "ABANDONED" and finished.state == "COMPLETED"
        problems = killed.check_integrity(record.ref)
        assert problems[0].startswith(f"run '{record.ref}' is ABANDONED: its owner process")
        assert problems[1].startswith(f"run '{record.ref}' is incomplete: it has no end record")
        assert complete.check_integrity(finished.ref) == []

        # everything flushed before the kill is there, exactly as the complete run produced it
        envelopes, orders, fills = (
            list(killed.iter_envelopes(record.ref)),
            killed.order_lines(record.ref),
            killed.fills(record.ref),
        )
        assert orders and fills
        assert envelopes == complete.envelopes(finished.ref)[: len(envelopes)]
        all_orders, all_fills = complete.order_lines(finished.ref), complete.fills(finished.ref)
        assert orders == all_orders[: len(orders)]
        assert fills == all_fills[: len(fills)]
        # ... and nothing produced before the last flushed envelope is missing: every order
        # state and fill of the complete run stamped before that envelope's desk time is kept
        flushed_ns = envelopes[-1].ts_decided_ns
        before = [o for o in complete.orders(finished.ref) if o.ts_updated_ns < flushed_ns]
        assert len(orders) >= len(before) > 0
        assert len(fills) >= sum(f.ts_event_ns < flushed_ns for f in all_fills) > 0
