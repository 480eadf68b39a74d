"""Runs split by market (``--jobs``): any number of processes gives the run one process gives,
byte for byte; a desk whose markets are coupled is refused by name; what could couple the
markets after all (collateral, order rate) fails the run; a worker that dies fails it too.

Real data: the shipped sample (12 markets), or its first three markets (each its own
sub-run) where a smaller run is enough.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.backtest.partition import SPLIT_MARKER, couplings
from polytraders.cli import app
from polytraders.contracts import ids
from polytraders.feeds import open_source
from polytraders.feeds.digest import data_digest
from polytraders.store import EventStore
from polytraders.store.records import RunStatus
from tests.waiting import wait_until

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
PER_MARKET = REPO / "examples" / "desk_per_market.toml"
EXAMPLE_STRATEGY = REPO / "examples" / "strategies" / "touch_quoter.py"
TIMING = {"wall_s", "events_per_s"}
"""The figures of ``result.json`` that measure the machine, not the run."""
WALL_COLUMNS = {"started_wall_ns", "ended_wall_ns"}
"""Store columns holding wall-clock times (``run_leases``, the writer's heartbeats while it
runs, is left out whole: how many there are depends on the wall time)."""


def _first_markets(source: Path, target: Path, count: int) -> Path:
    """A Parquet-layout copy of ``source`` holding its first ``count`` markets, whole."""
    target.mkdir(parents=True)
    markets = pq.read_table(source / "markets.parquet")
    kept = pa.array(markets["market_id"].to_pylist()[:count])
    pq.write_table(markets.slice(0, count), target / "markets.parquet")
    books = pq.read_table(source / "books.parquet")
    pq.write_table(
        books.filter(pc.is_in(books["market_id"], value_set=kept)), target / "books.parquet"
    )
    return target


@pytest.fixture(scope="module")
def three_markets(tmp_path_factory: pytest.TempPathFactory, polymarket_sample: Path) -> Path:
    """The sample's first three markets (they start at different times: three sub-runs)."""
    return _first_markets(polymarket_sample, tmp_path_factory.mktemp("data") / "three", 3)


Backtest = Callable[[Path, int], Path]


@pytest.fixture(scope="module")
def split_run(tmp_path_factory: pytest.TempPathFactory) -> Backtest:
    """``polytraders backtest`` of the per-market desk over some data with ``--jobs N`` into a
    fresh folder (``out/``, ``desk.sqlite`` and the terminal's ``output.txt``), each (data,
    jobs) once per module."""
    done: dict[tuple[Path, int], Path] = {}

    def run(data: Path, jobs: int) -> Path:
        if (data, jobs) not in done:
            folder = tmp_path_factory.mktemp(f"{data.name}-jobs{jobs}")
            completed = runner.invoke(
                app,
                [
                    "backtest", "--data", str(data), "--desk", str(PER_MARKET),
                    "--jobs", str(jobs), "--out", str(folder / "out"),
                    "--store", str(folder / "desk.sqlite"),
                ],
            )  # fmt: skip
            assert completed.exit_code == 0, completed.output
            (folder / "output.txt").write_text(completed.output)
            done[(data, jobs)] = folder
        return done[(data, jobs)]

    return run


def _result(folder: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((folder / "out" / "result.json").read_text())
    return document


def _store_rows(folder: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, wall-clock columns and lease heartbeats left out."""
    rows: dict[str, list[tuple[object, ...]]] = {}
    with sqlite3.connect(folder / "desk.sqlite") as db:
        query = "SELECT name FROM sqlite_master WHERE type='table' AND name != 'run_leases'"
        tables = [name for (name,) in db.execute(query)]
        for table in tables:
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            kept = [c for c in columns if c not in WALL_COLUMNS]
            rows[table] = db.execute(f"SELECT {', '.join(kept)} FROM {table}").fetchall()
    return rows


def _assert_same_run(one: Path, other: Path) -> None:
    first, second = _result(one), _result(other)
    assert {k: v for k, v in first.items() if k not in TIMING} == {
        k: v for k, v in second.items() if k not in TIMING
    }
    for name in ("envelopes.jsonl", "fills.csv"):
        assert (one / "out" / name).read_bytes() == (other / "out" / name).read_bytes(), name
    timeline = (one / "out" / "envelopes.jsonl").read_bytes()
    assert hashlib.sha256(timeline).hexdigest() == first["envelopes_sha256"]
    assert _store_rows(one) == _store_rows(other)


@pytest.mark.parametrize("jobs", [2, 3])
def test_any_jobs_give_the_run_of_one_process_byte_for_byte(
    split_run: Backtest, three_markets: Path, jobs: int
) -> None:
    one = split_run(three_markets, 1)
    _assert_same_run(one, split_run(three_markets, jobs))
    result = _result(one)
    assert result["status"] == "COMPLETED"
    assert result["orders"] and result["fills"]
    # its own run id: the desk version, data digest, seed and the split marker
    desk = DeskFile.load(PER_MARKET)
    digest = data_digest(three_markets)
    assert result["run_id"] == ids.run_id(desk.config_version, digest, desk.seed, SPLIT_MARKER)
    assert result["run_id"] != ids.run_id(desk.config_version, digest, desk.seed)
    with EventStore.open(str(one / "desk.sqlite")) as store:
        (run,) = store.runs()
        assert run.status is RunStatus.COMPLETED
        assert store.check_integrity(run.ref) == []


def test_the_timeline_is_one_run_in_decision_time_order(
    split_run: Backtest, three_markets: Path
) -> None:
    lines = (split_run(three_markets, 1) / "out" / "envelopes.jsonl").read_text().splitlines()
    envelopes = [json.loads(line) for line in lines]
    run_id = envelopes[0]["run_id"]
    assert [e["sequence"] for e in envelopes] == list(range(len(envelopes)))
    assert all(e["run_id"] == run_id for e in envelopes)
    assert all(e["envelope_id"] == f"{run_id}/e{e['sequence']}" for e in envelopes)
    decided = [e["ts_decided_ns"] for e in envelopes]
    assert decided == sorted(decided)
    # each market was its own sub-run: causation ids name three of them
    sub_runs = {e["causation_id"].rsplit("/", 1)[0] for e in envelopes if e["causation_id"]}
    assert sub_runs == {f"{run_id}/p{k}" for k in range(3)}


def test_the_summary_says_how_the_run_was_split(split_run: Backtest, three_markets: Path) -> None:
    output = (split_run(three_markets, 2) / "output.txt").read_text()
    assert "3 sub-runs on 2 processes" in output
    assert "integrity sound" in output


@pytest.mark.slow
def test_the_sample_gives_the_same_run_with_one_and_two_processes(
    split_run: Backtest, polymarket_sample: Path
) -> None:
    one, two = split_run(polymarket_sample, 1), split_run(polymarket_sample, 2)
    _assert_same_run(one, two)
    result = _result(one)
    assert result["markets"] == 12 and result["status"] == "COMPLETED"
    assert result["events"] == sum(1 for _ in open_source(polymarket_sample).events())


# ---------------------------------------------------------------- what couples markets


def test_the_default_desk_is_refused_more_than_one_process_naming_its_guards(
    tmp_path: Path,
) -> None:
    completed = runner.invoke(
        app,
        ["run", "--jobs", "2", "--out", str(tmp_path / "out"), "--store", str(tmp_path / "s.db")],
    )
    assert completed.exit_code == 2, completed.output
    (line,) = [ln for ln in completed.output.splitlines() if ln.strip()]
    assert line.startswith("error: run refused: --jobs 2: this run's markets cannot run apart")
    for bot_id in ("risk.killswitch", "risk.drawdownguard", "risk.exposureguard"):
        assert bot_id in line
    for bot_id in ("risk.stalebookguard", "strat.maker_tight", "exec.smartrouter"):
        assert bot_id not in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "s.db").exists()


def test_a_users_bot_couples_the_markets_and_jobs_must_be_positive(tmp_path: Path) -> None:
    completed = runner.invoke(
        app,
        [
            "backtest", "--data", "synthetic:normal?seed=3&markets=2", "--desk", str(PER_MARKET),
            "--strategy", f"{EXAMPLE_STRATEGY}:TouchQuoter", "--jobs", "2",
            "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert completed.exit_code == 2, completed.output
    assert "strat.touch_quoter (a user's bot: what it reads is not declared)" in completed.output
    completed = runner.invoke(
        app, ["backtest", "--data", "synthetic:normal", "--out", str(tmp_path / "o"), "--jobs", "0"]
    )
    assert completed.exit_code == 2
    assert "--jobs 0: must be at least 1" in completed.output


def _desk(**changes: object) -> DeskFile:
    data = DeskFile.load(PER_MARKET).model_dump(mode="json")
    data.update(changes)
    return DeskFile.from_mapping(data)


def test_what_couples_markets_is_named_and_a_stub_reads_nothing(polymarket_sample: Path) -> None:
    markets = open_source(polymarket_sample).markets
    assert couplings(DeskFile.load(PER_MARKET), markets, shadow=False, drills=False) == []
    assert [
        c.split(" ")[0] for c in couplings(DeskFile(), markets, shadow=False, drills=False)
    ] == [
        "risk.killswitch",
        "risk.drawdownguard",
        "risk.exposureguard",
    ]
    risk = DeskFile.load(PER_MARKET).model_dump(mode="json")["risk"]
    stub = _desk(risk=[*risk, {"id": "risk.drawdownguard", "mode": "STUB"}])
    assert couplings(stub, markets, shadow=False, drills=False) == []
    shadow = _desk(risk=[*risk, {"id": "risk.drawdownguard", "mode": "SHADOW"}])
    (found,) = couplings(shadow, markets, shadow=False, drills=False)
    assert found.startswith("risk.drawdownguard (the account's equity against its peak")
    desk = DeskFile.load(PER_MARKET)
    assert couplings(desk, markets, shadow=True, drills=True) == [
        "a shadow desk (its risk chain decides on the whole desk's view)",
        "scheduled demotions (counted in the whole desk's events)",
    ]
    assert couplings(desk, [], shadow=False, drills=False) == [
        "the data names no markets to split by (instruments only)"
    ]


def test_markets_that_together_exceed_the_shared_cash_or_order_rate_fail_the_run(
    tmp_path: Path, three_markets: Path
) -> None:
    desk = _desk(
        venue={"starting_cash_micros": 60_000_000},
        desk={"orders": {"order_rate_per_s": 1, "order_burst_count": 3}},
    )
    outcome = run_desk(data=three_markets, desk_file=desk, out_dir=tmp_path / "out", jobs=2)
    assert outcome.status is RunStatus.FAILED
    detail = outcome.status_detail
    assert detail.startswith("the markets did not run apart: ")
    assert "the shared collateral (run venue): at 2026-" in detail
    assert "more than the 60 pUSD starting cash" in detail
    assert "the desk's order-rate limit (3 orders, 1/s)" in detail
    assert json.loads((tmp_path / "out" / "result.json").read_text())["status"] == "FAILED"


# ---------------------------------------------------------------- endings


def _workers(parent: int) -> list[int]:
    """The split run's worker processes: ``parent``'s children started by ``spawn``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parent_pid = int(stat.rsplit(")", 1)[1].split()[1])
        if parent_pid == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


def _run_and(act: Callable[[list[int], int], None], tmp_path: Path, data: Path) -> tuple[int, str]:
    """``polytraders run`` of the per-market desk over ``data`` with two jobs, paced to last
    about 15 s; once both workers run, ``act(worker pids, parent pid)``; then the exit code and
    the output."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "polytraders", "run", "--data", str(data),
            "--desk", str(PER_MARKET), "--jobs", "2", "--speed", "300",
            "--out", str(tmp_path / "out"), "--store", str(tmp_path / "desk.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: len(_workers(process.pid)) == 2, 60, "two worker processes")
        act(_workers(process.pid), process.pid)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, output


def _run_status(tmp_path: Path) -> tuple[RunStatus, str]:
    """The recorded run's status and detail, after checking its integrity."""
    with EventStore.open(str(tmp_path / "desk.sqlite")) as store:
        (run,) = store.runs()
        assert store.check_integrity(run.ref) == []
        return run.status, run.detail


def test_a_worker_that_dies_fails_the_run_with_no_outputs(
    tmp_path: Path, three_markets: Path
) -> None:
    code, output = _run_and(
        lambda workers, _: os.kill(workers[0], signal.SIGKILL), tmp_path, three_markets
    )
    assert code == 1, output
    assert "recorded FAILED, no outputs written: worker process split-run-" in output
    assert "died (exit code -9)" in output
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind
    status, detail = _run_status(tmp_path)
    assert status is RunStatus.FAILED
    assert detail.startswith("WorkerDiedError: worker process split-run-")


def test_a_signal_interrupts_a_split_run_which_is_recorded_and_written(
    tmp_path: Path, three_markets: Path
) -> None:
    code, output = _run_and(
        lambda _, parent: os.kill(parent, signal.SIGINT), tmp_path, three_markets
    )
    assert code == 130, output
    assert "INTERRUPTED by SIGINT" in output
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    timeline = (tmp_path / "out" / "envelopes.jsonl").read_bytes()
    assert hashlib.sha256(timeline).hexdigest() == result["envelopes_sha256"]
    assert result["status"] == "INTERRUPTED"
    assert result["events"] < sum(1 for _ in open_source(three_markets).events())
    assert _run_status(tmp_path)[0] is RunStatus.INTERRUPTED
