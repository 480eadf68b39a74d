"""``polytraders runs list|show|check|export|prune`` end to end through the CLI, on a SQLite
file and on PostgreSQL, over a store holding two attempts of one run, a HALTED run and a run
left RUNNING by a writer that went silent (ABANDONED)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner, Result

from polytraders.cli import app
from polytraders.contracts import ids
from polytraders.model.fills import Fill
from polytraders.store import EventStore, ReconciliationKind, RunStatus
from tests.store import factories as f

runner = CliRunner()
DONE, HALTED, SILENT = (
    ids.run_id("cli-done", 1),
    ids.run_id("cli-halted", 1),
    ids.run_id("cli-silent", 1),
)


def _record(store: EventStore, run: str, intents: int = 3) -> None:
    f.start(store, run)
    for item in f.timeline(run, intents):
        store.record(item)
    for n in range(intents):
        store.append_order(run, f.order(run, n))
        store.append_fill(run, f.fill(run, n))


@pytest.fixture
def recorded(store_url: str) -> str:
    """The store: DONE@1 and DONE@2 COMPLETED, HALTED@1 HALTED (RISK_KILL_SWITCH) with four
    reconciliations (start-up OK, two periodic OK, a periodic CRITICAL), and SILENT@1 left
    RUNNING with a lease that lapsed long ago (its writer's clock is 2025)."""
    clock = f.WallClock()
    with EventStore.open(store_url, wall_clock_ns=clock) as store:
        for _ in range(2):
            clock.advance(60)
            _record(store, DONE)
            store.end_run(DONE, ended_ns=f.T0_NS + 5, produced=f.produced(store, DONE))
        clock.advance(60)
        _record(store, HALTED, intents=1)
        f.reconciliation(store, HALTED, kind=ReconciliationKind.STARTUP)
        for minute in (1, 2):
            f.reconciliation(store, HALTED, ts_ns=f.T0_NS + minute * 60 * 10**9)
        f.reconciliation(
            store,
            HALTED,
            ts_ns=f.T0_NS + 180 * 10**9,
            level="critical",
            position_drift_micros=5_000_000,
        )
        store.end_run(
            HALTED,
            ended_ns=f.T0_NS,
            status=RunStatus.HALTED,
            detail="RISK_KILL_SWITCH",
            produced=f.produced(store, HALTED),
        )
        clock.advance(60)
        _record(store, SILENT, intents=1)  # never ended: the store closes with it RUNNING
    return store_url


def _invoke(*args: str) -> Result:
    return runner.invoke(app, ["runs", *args])


def _refused(result: Result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], lines


def test_list_shows_every_attempt_with_status_times_source_and_counts(recorded: str) -> None:
    result = _invoke("list", "--store", recorded)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[0:8:2]] == [
        [f"{DONE}@1", "COMPLETED"],
        [f"{DONE}@2", "COMPLETED"],
        [f"{HALTED}@1", "HALTED"],
        [f"{SILENT}@1", "ABANDONED"],
    ]
    assert "2025-11-21T04:41:00Z → 2025-11-21T04:41:00Z" in lines[0]
    assert lines[1].split("·")[1].strip() == "12 envelopes, 3 orders, 3 fills"
    assert "tests/store factories  [SYNTHETIC]" in lines[1]
    assert lines[5].endswith("·  RISK_KILL_SWITCH")
    assert lines[-1].startswith("4 run attempt(s) in ")
    assert max(len(line) for line in lines[:-1]) <= 100


def test_list_json_and_status_filter(recorded: str) -> None:
    result = _invoke("list", "--store", recorded, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["run"], r["status"]) for r in rows] == [
        (f"{DONE}@1", "COMPLETED"),
        (f"{DONE}@2", "COMPLETED"),
        (f"{HALTED}@1", "HALTED"),
        (f"{SILENT}@1", "ABANDONED"),
    ]
    assert rows[0]["envelopes"] == 12 and rows[0]["fills"] == 3 and rows[0]["synthetic"] is True
    assert rows[3]["recorded_status"] == "RUNNING"
    assert rows[3]["abandoned"].startswith("its lease lapsed")
    assert rows[3]["ended_utc"] == "-"
    only = _invoke(
        "list", "--store", recorded, "--json", "--status", "abandoned", "--status", "HALTED"
    )
    assert [r["run"] for r in json.loads(only.stdout)] == [f"{HALTED}@1", f"{SILENT}@1"]
    _refused(_invoke("list", "--store", recorded, "--status", "DONE"), 2, "--status 'DONE'")


def test_show_one_attempt(recorded: str) -> None:
    result = _invoke("show", DONE, "--store", recorded)
    assert result.exit_code == 0, result.output
    assert f"{DONE} attempt 2 (of 2 recorded)" in result.stdout
    assert "cfg-1" in result.stdout  # the desk config version
    assert "integrity" in result.stdout and "sound" in result.stdout
    document = json.loads(_invoke("show", f"{HALTED}@1", "--store", recorded, "--json").stdout)
    assert (document["status"], document["detail"]) == ("HALTED", "RISK_KILL_SWITCH")
    assert document["desk_config"] == {"order_latency_ms": 250, "risk_chain": ["risk.a", "risk.b"]}
    assert document["integrity_problems"] == []
    assert document["attempts_recorded"] == 1
    silent = json.loads(_invoke("show", SILENT, "--store", recorded, "--json").stdout)
    assert silent["status"] == "ABANDONED"
    assert silent["integrity_problems"][0].startswith(f"run '{SILENT}@1' is ABANDONED")


def test_show_lists_the_reconciliations_of_an_attempt(recorded: str) -> None:
    """The table counts them by kind and level and lists the start-up one and every one that
    was not OK; the JSON lists every one with its codes and differences."""
    result = _invoke("show", HALTED, "--store", recorded)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "4 (1 start-up, 3 periodic): 1 critical, 3 ok" in out
    listed = [line.strip() for line in out.splitlines() if "micro-shares" in line]
    assert len(listed) == 2
    assert listed[0].startswith("2025-11-21T04:40:00Z  startup   ok")
    assert listed[1] == (
        "2025-11-21T04:43:00Z  periodic  critical  orders 0  positions 5,000,000 "
        "micro-shares  SYS_RECONCILE_DRIFT_CRITICAL"
    )
    document = json.loads(_invoke("show", HALTED, "--store", recorded, "--json").stdout)
    rows = document["reconciliations"]
    assert [(r["kind"], r["level"]) for r in rows] == [
        ("startup", "ok"),
        ("periodic", "ok"),
        ("periodic", "ok"),
        ("periodic", "critical"),
    ]
    assert rows[-1]["reason_codes"] == ["SYS_RECONCILE_DRIFT_CRITICAL"]
    assert rows[-1]["position_drift_micros"] == 5_000_000
    assert rows[-1]["differences"] == {"positions": []}
    none = _invoke("show", DONE, "--store", recorded)
    assert "reconciliations" in none.stdout and "none" in none.stdout
    assert (
        json.loads(_invoke("show", DONE, "--store", recorded, "--json").stdout)["reconciliations"]
        == []
    )


def test_check_exits_non_zero_naming_the_abandoned_run(recorded: str) -> None:
    result = _invoke("check", "--store", recorded)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"ok    {DONE}@1 COMPLETED: sound",
        f"ok    {DONE}@2 COMPLETED: sound",
        f"ok    {HALTED}@1 HALTED: sound",
    ]
    assert lines[3] == f"FAIL  {SILENT}@1 ABANDONED: 2 problem(s)"
    assert lines[4].strip().startswith(f"run '{SILENT}@1' is ABANDONED: its lease lapsed")
    assert lines[5].strip().startswith(f"run '{SILENT}@1' is incomplete: it has no end record")
    assert lines[-1] == "3 of 4 run(s) sound"
    sound = _invoke("check", f"{DONE}@1", HALTED, "--store", recorded)
    assert sound.exit_code == 0, sound.output
    assert sound.stdout.splitlines()[-1] == "2 of 2 run(s) sound"


def test_export_writes_the_attempts_records_byte_exact(recorded: str, tmp_path: Path) -> None:
    outputs = []
    for attempt in (1, 2):
        out = tmp_path / f"export-{attempt}"
        result = _invoke("export", f"{DONE}@{attempt}", "--out", str(out), "--store", recorded)
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in out.iterdir()) == [
            "envelopes.jsonl",
            "fills.jsonl",
            "orders.jsonl",
            "positions.jsonl",
            "run.json",
        ]
        outputs.append(out)
    first, second = ((out / "envelopes.jsonl").read_bytes() for out in outputs)
    assert first == second  # identical runs: identical lines whatever the attempt
    with EventStore.open(recorded, create=False) as store:
        expected = io.BytesIO()
        store.export_jsonl(f"{DONE}@1", expected)
        assert first == expected.getvalue()
        order_lines = store.order_lines(f"{DONE}@1")
        fills = store.fills(f"{DONE}@1")
    assert (outputs[0] / "orders.jsonl").read_text().splitlines() == order_lines
    decoded = [
        msgspec.json.decode(line, type=Fill)
        for line in (outputs[0] / "fills.jsonl").read_bytes().splitlines()
    ]
    assert decoded == fills
    document = json.loads((outputs[0] / "run.json").read_text())
    assert (document["run"], document["envelopes"], document["integrity_problems"]) == (
        f"{DONE}@1",
        12,
        [],
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _invoke("export", DONE, "--out", str(empty), "--store", recorded).exit_code == 0
    _refused(
        _invoke("export", DONE, "--out", str(outputs[0]), "--store", recorded), 2, "is not empty"
    )
    _refused(
        _invoke("export", DONE, "--out", str(outputs[0] / "run.json"), "--store", recorded),
        2,
        "is a file, not a directory",
    )


def test_prune_needs_yes_never_takes_a_live_run_and_is_audited(recorded: str) -> None:
    with EventStore.open(recorded) as writer:  # a live writer: its lease is alive
        live = ids.run_id("cli-live", 1)
        f.start(writer, live)
        writer.flush()
        dry = _invoke("prune", "--store", recorded, "--keep-last", "2", "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert dry.stdout.splitlines()[-1] == "dry run: 3 run attempt(s) would be pruned"
        assert [
            line.split()[1] for line in dry.stdout.splitlines() if line.startswith("prune ")
        ] == [
            f"{DONE}@1",
            f"{DONE}@2",
            f"{HALTED}@1",
        ]
        unconfirmed = _invoke("prune", "--store", recorded, "--keep-last", "2")
        _refused(unconfirmed, 1, "3 run attempt(s) not pruned: add --yes to delete")
        assert len(writer.runs()) == 5
        only_live = _invoke("prune", "--store", recorded, "--run", live, "--yes")
        assert only_live.exit_code == 0, only_live.output
        assert only_live.stdout.splitlines() == [
            f"kept  {live}@1: RUNNING with a live lease (never pruned)",
            f"nothing to prune (--run {live})",
        ]
        done = _invoke(
            "prune",
            "--store",
            recorded,
            "--keep-last",
            "2",
            "--older-than-days",
            "0",
            "--yes",
            "--actor",
            "ana",
            "--reason",
            "make room",
        )
        assert done.exit_code == 0, done.output
        pruned = (
            "pruned 3 run attempt(s): 28 envelopes, 7 orders, 7 fills, 4 reconciliations, "
            "3 run_leases"
        )
        assert pruned in done.stdout
        assert ("bytes freed)" in done.stdout) == ("://" not in recorded)
        assert [str(r.ref) for r in writer.runs()] == [f"{SILENT}@1", f"{live}@1"]
        entry = writer.audit_log()[-1]
        assert (entry.actor, entry.action) == ("ana", "store.prune")
        assert json.loads(entry.detail)["reason"] == "--keep-last 2 --older-than-days 0: make room"
        writer.end_run(live, ended_ns=f.T0_NS, produced=f.produced(writer, live))


def test_bad_stores_and_run_references_are_one_line_and_exit_2(
    recorded: str, tmp_path: Path
) -> None:
    missing = tmp_path / "runs" / "desk.sqlite"
    for command in (["list"], ["check"], ["show", DONE], ["prune", "--keep-last", "1"]):
        _refused(_invoke(*command, "--store", str(missing)), 2, "no event store at")
    assert not missing.parent.exists()  # the commands never create a store
    _refused(_invoke("list", "--store", "mysql://u:pw@h/db"), 2, "unsupported event-store URL")
    for ref, problem in ((f"{DONE}@0", "bad run reference"), ("run-nope", "is not in the store")):
        for command in (
            ["show", ref],
            ["check", ref],
            ["export", ref, "--out", str(tmp_path / "x")],
        ):
            _refused(_invoke(*command, "--store", recorded), 2, problem)
    _refused(_invoke("prune", "--run", "a@b", "--store", recorded), 2, "--run: bad run reference")
    _refused(_invoke("prune", "--run", "run-nope", "--store", recorded), 2, "is not in the store")
    _refused(_invoke("prune", "--store", recorded), 2, "needs --keep-last")
    _refused(
        _invoke("prune", "--older-than-days", "-1", "--store", recorded),
        2,
        "--older-than-days must be 0 or more",
    )
