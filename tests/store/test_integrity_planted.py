"""The integrity check finds each kind of problem planted in a real recorded run: the default
desk's backtest over a synthetic feed, recorded into SQLite by ``run_desk``, then edited
behind the store's back (its append-only triggers dropped, as someone with file access could).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.store import EventStore, RunStatus

DATA = "synthetic:normal?seed=3&markets=1"


@dataclass(frozen=True)
class Recorded:
    """A sound recorded run: its SQLite file, run id and what its end record says."""

    store_file: Path
    run_id: str
    envelopes: int
    orders: int
    fills: int


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    work = tmp_path_factory.mktemp("recorded")
    store_file = work / "desk.sqlite"
    outcome = run_desk(
        data=DATA, desk_file=DeskFile(), out_dir=work / "out", store_url=str(store_file)
    )
    assert outcome.status is RunStatus.COMPLETED
    with EventStore.open(str(store_file)) as store:
        (run,) = store.runs()
        assert store.check_integrity(run.run_id) == []
    with sqlite3.connect(store_file) as db:
        envelopes, orders, fills = db.execute(
            "SELECT produced_envelopes, produced_orders, produced_fills FROM run_ends"
        ).fetchone()
    assert fills > 0, "the run must trade for the fill plants"
    return Recorded(store_file, run.run_id, envelopes, orders, fills)


@pytest.fixture
def copy(recorded: Recorded, tmp_path: Path) -> Path:
    """A copy of the recorded store, to plant a problem in."""
    target = tmp_path / "planted.sqlite"
    shutil.copyfile(recorded.store_file, target)
    return target


@contextmanager
def _unguarded(store_file: Path, *tables: str) -> Iterator[sqlite3.Connection]:
    """A connection to ``store_file`` with the append-only triggers of ``tables`` dropped;
    committed on exit."""
    db = sqlite3.connect(store_file)
    try:
        for table in tables:
            db.execute(f"DROP TRIGGER {table}_no_update")
            db.execute(f"DROP TRIGGER {table}_no_delete")
        yield db
        db.commit()
    finally:
        db.close()


def _problems(store_file: Path, run_id: str) -> list[str]:
    with EventStore.open(str(store_file)) as store:
        return store.check_integrity(run_id)


def _correlation(db: sqlite3.Connection, sequence: int) -> str:
    (value,) = db.execute("SELECT correlation_id FROM envelopes WHERE sequence = ?", (sequence,))
    return str(value[0])


def _says(r: Recorded) -> str:
    return (
        f"its end record says it produced {r.envelopes} envelopes, {r.orders} order states "
        f"and {r.fills} fills"
    )


def test_a_deleted_envelope_is_a_gap_and_makes_the_run_incomplete(
    recorded: Recorded, copy: Path
) -> None:
    with _unguarded(copy, "envelopes") as db:
        assert _correlation(db, 1)  # a risk decision: its intent stays known
        db.execute("DELETE FROM envelopes WHERE sequence = 1")
    r = recorded
    assert _problems(copy, r.run_id) == [
        "sequence gap: 2 follows 0 (missing 1..1)",
        f"run '{r.run_id}@1' is incomplete: {_says(r)}; recorded are "
        f"{r.envelopes - 1}, {r.orders} and {r.fills}",
    ]


def test_a_forged_envelope_id_is_reported(recorded: Recorded, copy: Path) -> None:
    """Row and line agree on the forged id: only its derivation gives it away."""
    real = f"{recorded.run_id}/e3"
    with _unguarded(copy, "envelopes") as db:
        db.execute(
            "UPDATE envelopes SET envelope_id = 'forged', line = replace(line, ?, '\"forged\"') "
            "WHERE sequence = 3",
            (f'"{real}"',),
        )
    assert _problems(copy, recorded.run_id) == [
        f"envelope id 'forged' at sequence 3 is not the derived id '{real}'"
    ]


def _loosen_envelopes(db: sqlite3.Connection) -> None:
    """Rebuild the envelopes table without its primary key and unique envelope id (which
    otherwise refuse duplicates before the check could see them)."""
    db.execute("CREATE TABLE envelopes_loose AS SELECT * FROM envelopes")
    db.execute("DROP TABLE envelopes")
    db.execute("ALTER TABLE envelopes_loose RENAME TO envelopes")


def test_a_duplicated_envelope_id_is_reported(recorded: Recorded, copy: Path) -> None:
    run = recorded.run_id
    with _unguarded(copy, "envelopes") as db:
        _loosen_envelopes(db)
        db.execute(
            "UPDATE envelopes SET envelope_id = ?, line = replace(line, ?, ?) WHERE sequence = 3",
            (f"{run}/e2", f'"{run}/e3"', f'"{run}/e2"'),
        )
    assert _problems(copy, run) == [
        f"envelope id '{run}/e2' is recorded twice",
        f"envelope id '{run}/e2' at sequence 3 is not the derived id '{run}/e3'",
    ]


def test_a_duplicated_envelope_row_is_reported(recorded: Recorded, copy: Path) -> None:
    r = recorded
    with _unguarded(copy, "envelopes") as db:
        _loosen_envelopes(db)
        db.execute("INSERT INTO envelopes SELECT * FROM envelopes WHERE sequence = 2")
    assert _problems(copy, r.run_id) == [
        "sequence 2 is recorded twice",
        f"envelope id '{r.run_id}/e2' is recorded twice",
        f"run '{r.run_id}@1' holds rows it never produced: {_says(r)}; recorded are "
        f"{r.envelopes + 1}, {r.orders} and {r.fills}",
    ]


def test_a_row_that_disagrees_with_its_line_is_reported(recorded: Recorded, copy: Path) -> None:
    with _unguarded(copy, "envelopes") as db:
        other = _correlation(db, 5)
        assert other and other != _correlation(db, 1)
        db.execute("UPDATE envelopes SET correlation_id = ? WHERE sequence = 1", (other,))
    assert _problems(copy, recorded.run_id) == [
        "sequence 1: stored JSON line disagrees with the row's columns"
    ]


def test_a_line_that_does_not_decode_is_reported(recorded: Recorded, copy: Path) -> None:
    with _unguarded(copy, "envelopes") as db:
        db.execute("UPDATE envelopes SET line = '{\"truncated' WHERE sequence = 1")
    (problem,) = _problems(copy, recorded.run_id)
    assert problem.startswith("sequence 1: stored line does not decode: ")


def test_a_dangling_correlation_id_is_reported(recorded: Recorded, copy: Path) -> None:
    """Row and line agree on an intent the run never recorded."""
    with _unguarded(copy, "envelopes") as db:
        real = _correlation(db, 1)
        db.execute(
            "UPDATE envelopes SET correlation_id = 'ghost/i7', line = replace(line, ?, ?) "
            "WHERE sequence = 1",
            (f'"correlation_id":"{real}"', '"correlation_id":"ghost/i7"'),
        )
    assert _problems(copy, recorded.run_id) == [
        "sequence 1: correlation id 'ghost/i7' resolves to no intent recorded in the run"
    ]


def test_a_fill_of_an_unknown_order_is_reported(recorded: Recorded, copy: Path) -> None:
    with _unguarded(copy, "fills") as db:
        (fill_id,) = db.execute("SELECT fill_id FROM fills ORDER BY row_id LIMIT 1").fetchone()
        db.execute("UPDATE fills SET client_order_id = 'ghost/i7/o0' WHERE fill_id = ?", (fill_id,))
    assert _problems(copy, recorded.run_id) == [
        f"fill '{fill_id}' refers to unknown order 'ghost/i7/o0'"
    ]


def test_a_lost_fill_makes_the_run_incomplete(recorded: Recorded, copy: Path) -> None:
    r = recorded
    with _unguarded(copy, "fills") as db:
        db.execute("DELETE FROM fills WHERE row_id = (SELECT max(row_id) FROM fills)")
    assert _problems(copy, r.run_id) == [
        f"run '{r.run_id}@1' is incomplete: {_says(r)}; recorded are "
        f"{r.envelopes}, {r.orders} and {r.fills - 1}"
    ]


def test_an_added_order_state_is_reported(recorded: Recorded, copy: Path) -> None:
    """Appending needs no dropped trigger: the end record's counts catch it."""
    r = recorded
    with sqlite3.connect(copy) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(orders)")][1:]  # no row_id
        listed = ", ".join(columns)
        db.execute(
            f"INSERT INTO orders ({listed}) SELECT {listed} FROM orders "
            "WHERE row_id = (SELECT max(row_id) FROM orders)"
        )
    assert _problems(copy, r.run_id) == [
        f"run '{r.run_id}@1' holds rows it never produced: {_says(r)}; recorded are "
        f"{r.envelopes}, {r.orders + 1} and {r.fills}"
    ]
