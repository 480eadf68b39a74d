"""How runs end: COMPLETED, HALTED, FAILED, INTERRUPTED, always recorded, never left RUNNING."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.cli import app
from polytraders.store import EventStore
from polytraders.store.records import RunStatus
from tests.waiting import wait_until

runner = CliRunner()


def _wait_for_envelopes(
    store_file: Path, process: subprocess.Popen[str], deadline_s: float
) -> None:
    """Poll the store until the run has recorded envelopes (or fail at the deadline)."""

    def recorded() -> bool:
        assert process.poll() is None, "the run ended before it could be interrupted"
        if not store_file.exists():
            return False
        try:
            with sqlite3.connect(f"file:{store_file}?mode=ro", uri=True) as db:
                (count,) = db.execute("SELECT count(*) FROM envelopes").fetchone()
        except sqlite3.OperationalError:  # schema not created yet
            return False
        return bool(count > 0)

    wait_until(recorded, deadline_s, "the run's first envelopes in the store")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_interrupts_the_run_which_is_recorded_and_written(
    tmp_path: Path, polymarket_sample: Path, signum: signal.Signals, code: int
) -> None:
    store_file = tmp_path / "desk.sqlite"
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "polytraders", "run", "--data", str(polymarket_sample),
            "--speed", "100", "--store", str(store_file), "--out", str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        _wait_for_envelopes(store_file, process, deadline_s=60)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, output
    assert f"INTERRUPTED by {signum.name}" in output
    result = json.loads((out / "result.json").read_text())
    envelopes = (out / "envelopes.jsonl").read_bytes()
    assert hashlib.sha256(envelopes).hexdigest() == result["envelopes_sha256"]
    assert 0 < result["events"] < 25_640  # what was done so far, not the whole sample
    with EventStore.open(str(store_file)) as store:
        (run,) = store.runs()
        assert run.status is RunStatus.INTERRUPTED
        assert store.check_integrity(run.run_id) == []
        recorded = io.BytesIO()
        store.export_jsonl(run.run_id, recorded)
        assert recorded.getvalue() == envelopes  # nothing flushed is lost, nothing extra


def test_a_store_write_failure_halts_the_desk_and_keeps_what_was_recorded(
    tmp_path: Path,
) -> None:
    store_file = tmp_path / "desk.sqlite"
    EventStore.open(str(store_file)).close()  # the schema, then a database that fails mid-run
    with sqlite3.connect(store_file) as db:
        db.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON envelopes WHEN NEW.sequence >= 2500 "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    out = tmp_path / "out"
    completed = runner.invoke(
        app,
        [
            "run", "--data", "synthetic:normal?seed=3&markets=2", "--store", str(store_file),
            "--out", str(out),
        ],
    )  # fmt: skip
    assert completed.exit_code == 4, completed.output
    assert "HALTED: SYS_STORE_WRITE_FAILED" in completed.output
    assert "STORE FAILED" in completed.output
    lines = (out / "envelopes.jsonl").read_text().splitlines()
    result = json.loads((out / "result.json").read_text())
    assert (
        hashlib.sha256((out / "envelopes.jsonl").read_bytes()).hexdigest()
        == (result["envelopes_sha256"])
    )
    with sqlite3.connect(store_file) as db:
        (kept,) = db.execute("SELECT count(*) FROM envelopes").fetchone()
    # every batch committed before the failure is still there, exactly as in the file
    assert 0 < kept < 2500
    with EventStore.open(str(store_file)) as store:
        (run,) = store.runs()
        recorded = io.BytesIO()
        store.export_jsonl(run.run_id, recorded)
        assert recorded.getvalue().splitlines() == [ln.encode() for ln in lines[:kept]]


@pytest.fixture(scope="module")
def synthetic_lines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Polymarket line recording (with its markets sidecar), from synthetic data: larger
    than the 4 MiB head the source checks at open, small enough to be quick."""
    path = tmp_path_factory.mktemp("lines") / "syn.txt"
    completed = runner.invoke(
        app, ["data", "convert", "synthetic:normal?seed=3&markets=8", str(path), "--to", "lines"]
    )
    assert completed.exit_code == 0, completed.output
    return path


def _copy_recording(source: Path, target: Path, lines: list[bytes]) -> Path:
    target.write_bytes(b"".join(lines))
    sidecar = source.with_name(source.name + ".markets.json")
    target.with_name(target.name + ".markets.json").write_bytes(sidecar.read_bytes())
    return target


def test_a_run_that_breaks_midway_is_failed_recorded_and_written(
    tmp_path: Path, synthetic_lines: Path
) -> None:
    # a gzip recording damaged nine tenths in: readable at open (its head is sound)
    whole = gzip.compress(synthetic_lines.read_bytes())
    broken = _copy_recording(synthetic_lines, tmp_path / "broken.txt.gz", [])
    broken.write_bytes(whole[: len(whole) * 9 // 10] + b"\x00garbage\xff" * 64)
    store_file = tmp_path / "desk.sqlite"
    out = tmp_path / "out"
    # without a progress bar nothing reads ahead: the damage is met midway
    outcome = run_desk(
        data=str(broken), desk_file=DeskFile(), out_dir=out, store_url=str(store_file)
    )
    assert outcome.status is RunStatus.FAILED
    assert outcome.status_detail.startswith("FeedError") and "gzip" in outcome.status_detail
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "FAILED" and result["events"] > 0
    assert "RUN FAILED" in (out / "report.html").read_text()
    digest = hashlib.sha256((out / "envelopes.jsonl").read_bytes()).hexdigest()
    assert digest == result["envelopes_sha256"]
    with EventStore.open(str(store_file)) as store:
        (run,) = store.runs()
        assert run.status is RunStatus.FAILED
        assert run.detail == outcome.status_detail
        assert store.check_integrity(run.ref) == []
    # the command line reads the data once for its progress bar: refused before recording
    completed = runner.invoke(app, ["backtest", "--data", str(broken), "--out", str(out)])
    assert completed.exit_code == 2, completed.output
    assert "corrupt or truncated gzip stream" in completed.output


def test_feed_problems_over_the_threshold_fail_the_run(
    tmp_path: Path, synthetic_lines: Path
) -> None:
    lines = synthetic_lines.read_bytes().splitlines(keepends=True)
    # every 20th line mangled: 5 % bad input, over the default 1 %
    mangled = [
        line.split(b" ", 1)[0] + b" {not json\n" if i % 20 == 19 else line
        for i, line in enumerate(lines)
    ]
    data = _copy_recording(synthetic_lines, tmp_path / "mangled.txt", mangled)
    out = tmp_path / "out"
    completed = runner.invoke(app, ["backtest", "--data", str(data), "--out", str(out)])
    assert completed.exit_code == 1, completed.output
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "FAILED"
    assert "bad input records" in result["status_detail"]
    assert "SYS_MALFORMED_MESSAGE" in result["status_detail"]
    # the same data passes with a desk that tolerates 10 %
    desk = tmp_path / "tolerant.toml"
    desk.write_text("[feed]\nmax_bad_input_pct = 10.0\n")
    completed = runner.invoke(
        app, ["backtest", "--data", str(data), "--desk", str(desk), "--out", str(out)]
    )
    assert completed.exit_code == 0, completed.output
    assert json.loads((out / "result.json").read_text())["status"] == "COMPLETED"
