"""Retention and backups: ``runs prune --policy`` keeps what a release manifest references;
``store backup`` / ``store restore`` round-trip a SQLite file and a PostgreSQL schema with the
same integrity result; backup retention keeps the newest N."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from polytraders.commands.runs import app as runs_app
from polytraders.commands.store import app as store_app
from polytraders.contracts import ids
from polytraders.store import EventStore, RunRecord
from polytraders.store.backup import BackupError, backup_store, backups_in, restore_store
from polytraders.store.releases import ReleaseRow, record_release
from polytraders.store.retention import RetentionPolicy, RetentionPolicyError, plan_retention
from tests.store import factories as f

DAY_NS = 86_400 * 1_000_000_000
NOW_NS = f.T0_NS + 100 * DAY_NS


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(runs_app, name="runs")
    root.add_typer(store_app, name="store")
    return root


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_cli(), list(args))
    return result.exit_code, result.output


def _record(store: EventStore, name: str, clock: f.WallClock, intents: int = 5) -> str:
    run: str = ids.run_id(name, 1)
    f.start(store, run)
    for item in f.timeline(run, intents):
        store.record(item)
    for n in range(intents):
        store.append_order(run, f.order(run, n))
        store.append_fill(run, f.fill(run, n))
    store.end_run(run, ended_ns=f.T0_NS + 1, produced=f.produced(store, run))
    clock.advance(86_400)
    return run


def _integrity(url: str) -> list[tuple[str, str, list[str], object]]:
    """Every attempt with its state, integrity problems and counts."""
    with EventStore.open(url, create=False) as store:
        counts = store.all_counts()
        return [
            (str(r.ref), r.state, store.check_integrity(r.ref), counts.get(r.ref))
            for r in store.runs()
        ]


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "retention.toml"
    path.write_text(text)
    return path


def test_policy_plan_keeps_recent_last_and_released_runs(tmp_path: Path) -> None:
    clock = f.WallClock()
    with EventStore.open(tmp_path / "s.sqlite", wall_clock_ns=clock) as store:
        runs = [_record(store, f"r{n}", clock) for n in range(6)]  # one a day
        records: list[RunRecord] = store.runs()
    policy = RetentionPolicy.load(_policy(tmp_path, "[runs]\nkeep_days = 2.5\nkeep_last = 1\n"))
    assert policy.backups.keep == 7
    now = f.T0_NS + 6 * DAY_NS  # r3 started 3 days ago, r4 2, r5 1
    planned = plan_retention(records, policy, now_wall_ns=now, referenced_run_ids={runs[1]})
    assert [r.run_id for r in planned.plan.selected] == [runs[0], runs[2], runs[3]]
    assert [r.run_id for r in planned.released] == [runs[1]]
    for bad, message in (
        ("[runs]\n", "runs.keep_days: Field required"),
        ("[runs]\nkeep_days = 0\n", "runs.keep_days: Input should be greater than or equal to 1"),
        ("[runs]\nkeep_days = 3\nkeep = 1\n", "runs.keep: Extra inputs are not permitted"),
        ("[runs", "not TOML"),
    ):
        with pytest.raises(RetentionPolicyError, match=message):
            RetentionPolicy.load(_policy(tmp_path, bad))


def test_runs_prune_policy(tmp_path: Path) -> None:
    clock = f.WallClock(f.T0_NS - 100 * DAY_NS)  # every run is long past keep_days
    url = str(tmp_path / "s.sqlite")
    with EventStore.open(url, wall_clock_ns=clock) as store:
        runs = [_record(store, f"r{n}", clock) for n in range(4)]
        record_release(store, _release_citing(runs[0]))  # its evidence cites the first run
    policy = _policy(tmp_path, "[runs]\nkeep_days = 30\nkeep_last = 1\n")
    code, out = _invoke("runs", "prune", "--store", url, "--policy", str(policy), "--dry-run")
    assert code == 0, out
    assert f"kept  {runs[0]}@1: referenced by an accepted release manifest" in out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("prune ")] == [
        f"{runs[1]}@1",
        f"{runs[2]}@1",
    ]
    code, out = _invoke("runs", "prune", "--store", url, "--policy", str(policy), "--yes")
    assert code == 0 and "pruned 2 run attempt(s)" in out, out
    with EventStore.open(url, create=False) as store:
        assert [r.run_id for r in store.runs()] == [runs[0], runs[3]]
    code, out = _invoke(
        "runs", "prune", "--store", url, "--policy", str(policy), "--keep-last", "3"
    )
    assert code == 2 and "--policy: not with --keep-last" in out


def _release_citing(run_id: str) -> ReleaseRow:
    """An accepted release whose evidence cites ``run_id`` (the fields retention reads)."""
    return ReleaseRow(
        bot_id="risk.killswitch",
        sequence=1,
        manifest_sha256="a" * 64,
        bot_version="0.1.0",
        from_state="shadow",
        to_state="limited_live",
        code_sha256="c" * 64,
        config_sha256="d" * 64,
        config_version="d" * 16,
        evidence_sha256="e" * 64,
        expires_ns=f.T0_NS + 30 * DAY_NS,
        signers=("ana", "cleo"),
        evidence_runs=(run_id,),
        envelope_json="{}",
        actor="test",
        ts_ns=f.T0_NS,
    )


def test_sqlite_backup_restore_and_backup_retention(tmp_path: Path) -> None:
    clock = f.WallClock()
    url = str(tmp_path / "desk.sqlite")
    with EventStore.open(url, wall_clock_ns=clock) as store:
        for n in range(2):
            _record(store, f"r{n}", clock)
    folder = tmp_path / "backups"
    made = [backup_store(url, folder, keep=2, now_ns=f.T0_NS + n) for n in range(3)]
    assert [p.name for p in backups_in(folder)] == [m.path.name for m in made[1:]]
    assert made[2].removed == (made[0].path,)
    assert made[0].path.name == "polytraders-store-20251121T044000.000000000Z.sqlite"
    restored = str(tmp_path / "restored" / "desk.sqlite")
    code, out = _invoke("store", "restore", str(made[2].path), "--store", restored)
    assert code == 0, out
    assert _integrity(restored) == _integrity(url)
    assert len(_integrity(url)) == 2
    code, out = _invoke("store", "restore", str(made[2].path), "--store", restored)
    assert code == 2 and "exists: restore into a new file" in out
    code, out = _invoke("store", "backup", "--store", url, "--to", str(folder), "--keep", "1")
    assert code == 0 and out.count("removed ") == 2, out
    assert len(backups_in(folder)) == 1


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL of a new, empty database, dropped after the test."""
    name = f"test_restore_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def _in_schema(url: str, schema: str) -> str:
    return (
        sa.make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@pytest.mark.services
def test_postgresql_backup_restores_into_a_fresh_schema(
    pg_schema_url: str, fresh_database: str, tmp_path: Path
) -> None:
    clock = f.WallClock()
    with EventStore.open(pg_schema_url, wall_clock_ns=clock) as store:
        for n in range(2):
            _record(store, f"pg{n}", clock)
    folder = tmp_path / "backups"
    code, out = _invoke("store", "backup", "--store", pg_schema_url, "--to", str(folder))
    assert code == 0, out
    (dump,) = backups_in(folder)
    assert dump.suffix == ".pgdump"
    expected = _integrity(pg_schema_url)
    assert len(expected) == 2 and all(problems == [] for _, _, problems, _ in expected)
    # into a fresh schema of a fresh database (the dumped schema restored, then renamed)
    target = _in_schema(fresh_database, f"restored_{uuid.uuid4().hex[:8]}")
    code, out = _invoke("store", "restore", str(dump), "--store", target)
    assert code == 0, out
    assert _integrity(target) == expected
    # the restored store is append-only as the original (its triggers came along)
    with (
        EventStore.open(target, create=False) as store,
        pytest.raises(sa.exc.DBAPIError),
        store._engine.begin() as connection,
    ):
        connection.exec_driver_sql("DELETE FROM audit_log")
    # never over a store, never beside the dumped schema in the same database
    with pytest.raises(BackupError, match="restore into an absent or empty schema"):
        restore_store(dump, target)
    beside = _in_schema(sa.make_url(pg_schema_url).set(query={}).render_as_string(False), "x1")
    with pytest.raises(BackupError, match="exists in"):
        restore_store(dump, beside)


@pytest.mark.services
def test_postgresql_public_schema_round_trip(fresh_database: str, tmp_path: Path) -> None:
    """A store in a database's public schema restores into another database's (empty)
    public schema."""
    clock = f.WallClock()
    with EventStore.open(fresh_database, wall_clock_ns=clock) as store:
        _record(store, "pub", clock)
    result = backup_store(fresh_database, tmp_path, keep=3)
    other = sa.make_url(fresh_database)
    admin = sa.create_engine(other.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"{other.database}_copy"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        target = other.set(database=name).render_as_string(hide_password=False)
        restore_store(result.path, target)
        assert _integrity(target) == _integrity(fresh_database)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
