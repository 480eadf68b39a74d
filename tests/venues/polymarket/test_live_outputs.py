"""Every mode takes --desk, --store, --out and --metrics-port, and each reaches the session:
a backtest and ``run --venue polymarket --paper|--shadow|--live`` against the local CLOB v2
simulator, each a ``polytraders`` process with all four options. While it runs its metrics
endpoint answers a real HTTP GET (the desk's metrics, and for the live venue modes the venue's
too); a live session writes a snapshot of its outputs on SIGUSR1; after SIGTERM the store holds
the run (and a shadow candidate's) with the desk file's bots, and ``--out`` holds the same four
files as a backtest, ``envelopes_sha256`` being the hash of ``envelopes.jsonl``.

Every wait polls the process, the endpoint or the files against a deadline."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from polytraders.backtest.desk_file import DeskFile
from polytraders.commands.live import DESK_BUILDER
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore
from tests.governed import govern
from tests.venues.polymarket.conftest import live_env, throwaway_key
from tests.waiting import wait_until

DEADLINE_S = 60.0
OUTPUT_FILES = ["envelopes.jsonl", "fills.csv", "report.html", "result.json"]

# not the default desk: fewer guards, one in SHADOW, its own seed
DESK_TOML = """
seed = 5
[[strategies]]
id = "strat.maker_tight"
[[risk]]
id = "risk.killswitch"
[[risk]]
id = "risk.stalebookguard"
mode = "SHADOW"
[[risk]]
id = "risk.exposureguard"
[[execution]]
id = "exec.smartrouter"
"""
CANDIDATE_TOML = """
seed = 6
[[strategies]]
id = "strat.maker_tight"
[[risk]]
id = "risk.killswitch"
[[execution]]
id = "exec.smartrouter"
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def live_sim() -> Iterator[tuple[SimClobServer, str, Account]]:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100)
    with SimClobServer(settings, account) as sim:
        yield sim, key, account


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _desk_files(tmp_path: Path) -> tuple[Path, Path]:
    desk, candidate = tmp_path / "desk.toml", tmp_path / "candidate.toml"
    desk.write_text(DESK_TOML)
    candidate.write_text(CANDIDATE_TOML)
    return desk, candidate


class _Session:
    """One ``polytraders`` process with its output in a log file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "polytraders", *args],
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        assert self.process.poll() is None, f"the session ended early:\n{self.output()[-3_000:]}"
        return True

    def stop(self) -> int:
        """SIGTERM: the graceful shutdown; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=DEADLINE_S)
        self._handle.close()
        return code


def _scrape(port: int) -> Samples | None:
    """Every sample the endpoint serves (a real HTTP GET), None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _scrape_when_deciding(session: _Session, port: int) -> Samples:
    """The endpoint's samples once the desk has processed events and its strategy decided."""
    got: dict[str, Samples] = {}

    def deciding() -> bool:
        session.alive()
        samples = _scrape(port)
        if samples is None:
            return False
        got["samples"] = samples
        decided = any(
            name == "polytraders_bot_decisions_total" and ("bot_id", "strat.maker_tight") in labels
            for name, labels in samples
        )
        return decided and samples.get(("polytraders_desk_events_total", ()), 0) > 0

    wait_until(deciding, DEADLINE_S, "the metrics endpoint to show the desk deciding")
    return got["samples"]


def _check_outputs(out: Path, run_id: str, session: str, status: str) -> dict[str, object]:
    """``out`` holds the four files of one run, consistent with each other."""
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == OUTPUT_FILES
    result = json.loads((out / "result.json").read_text())
    envelopes = (out / "envelopes.jsonl").read_bytes()
    assert (result["run_id"], result["session"], result["status"]) == (run_id, session, status)
    assert result["envelopes_sha256"] == hashlib.sha256(envelopes).hexdigest()
    assert result["envelopes"] == len(envelopes.splitlines()) > 0
    assert all(json.loads(line)["run_id"] == run_id for line in envelopes.splitlines())
    fills_csv = (out / "fills.csv").read_text().splitlines()
    assert fills_csv[0].startswith("fill_id,intent_id,client_order_id")
    assert len(fills_csv) - 1 == result["fills"]
    report = (out / "report.html").read_text()
    assert f"Polytraders run {run_id}" in report
    assert "<code>strat.maker_tight</code></td><td>ENFORCED</td>" in report
    return result


def _bots(config: dict[str, object]) -> list[tuple[str, str]]:
    """(id, mode) of every bot of a canonical desk config, in order."""
    return [
        (str(bot["id"]), str(bot["mode"]))  # type: ignore[index]
        for section in ("strategies", "risk", "execution")
        for bot in config[section]  # type: ignore[attr-defined]
    ]


def _check_store(
    store: Path, run_id: str, desk: DeskFile, status: str, *, node: bool = False
) -> None:
    """The store holds one attempt of ``run_id``, ended ``status``, sound, recording the desk
    file's bots (inside the node config for --live)."""
    with EventStore.open(store, create=False) as reader:
        (run,) = [r for r in reader.runs() if r.run_id == run_id]
        assert (run.status.value, reader.check_integrity(run.ref)) == (status, [])
        assert reader.counts(run.ref).envelopes > 0
        recorded = json.loads(run.desk_config_json)
    config = recorded["desk"] if node else recorded
    assert _bots(config) == _bots(desk.canonical())
    if not node:
        assert run.desk_config_version == desk.config_version


def _check_bots_seen(result: dict[str, object], desk: DeskFile) -> None:
    """The bots that decided are the desk file's (and the desk itself)."""
    declared = {bot for bot, _ in _bots(desk.canonical())}
    seen = {b["bot_id"] for b in result["bots_seen"]}  # type: ignore[attr-defined, index]
    assert "strat.maker_tight" in seen and seen <= declared | {"desk"}


@pytest.mark.slow
def test_a_backtest_takes_the_four_options(tmp_path: Path, polymarket_sample: Path) -> None:
    desk_path, _ = _desk_files(tmp_path)
    port, out, store = _free_port(), tmp_path / "out", tmp_path / "desk.sqlite"
    session = _Session(
        [
            "run", "--data", str(polymarket_sample), "--speed", "100", "--desk", str(desk_path),
            "--store", str(store), "--out", str(out), "--metrics-port", str(port),
        ],
        tmp_path / "run.log",
        {},
    )  # fmt: skip
    try:
        samples = _scrape_when_deciding(session, port)
    finally:
        code = session.stop()
    assert code == 143, session.output()[-3_000:]  # interrupted by SIGTERM, recorded
    assert ("polytraders_desk_equity_pusd", ()) in samples
    desk = DeskFile.load(desk_path)
    result = json.loads((out / "result.json").read_text())
    _check_outputs(out, str(result["run_id"]), "backtest", "INTERRUPTED")
    _check_store(store, str(result["run_id"]), desk, "INTERRUPTED")
    _check_bots_seen(result, desk)


@pytest.mark.slow
def test_a_paper_session_takes_the_four_options_and_snapshots_on_request(
    tmp_path: Path, live_sim: tuple[SimClobServer, str, Account]
) -> None:
    sim, _, _ = live_sim
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    desk_path, _ = _desk_files(tmp_path)
    port, out, store = _free_port(), tmp_path / "out", tmp_path / "desk.sqlite"
    orders_before = sim.sim_state()["orders_total"]
    session = _Session(
        [
            "run", "--venue", "polymarket", "--paper", "--markets", market_id,
            "--clob-url", sim.url, "--ws-url", sim.ws_url + "/ws/market", "--run-id", "paper-4",
            "--desk", str(desk_path), "--store", str(store), "--out", str(out),
            "--metrics-port", str(port),
        ],
        tmp_path / "paper.log",
        {"POLYMARKET_PRIVATE_KEY": ""},
    )  # fmt: skip
    try:
        samples = _scrape_when_deciding(session, port)
        # the venue's metrics are served beside the desk's: the market look-up was timed, the
        # paper venue has no heartbeat (age unknown), no reconciliation ran
        lookup = (("endpoint", "GET /markets/{id}"), ("status", "200"))
        assert samples[("polytraders_venue_request_latency_seconds_count", lookup)] == 1
        assert 0 < samples[("polytraders_venue_request_latency_seconds_sum", lookup)] < 5
        assert math.isnan(samples[("polytraders_venue_heartbeat_age_seconds", ())])
        assert math.isnan(samples[("polytraders_venue_reconciliation_order_drift_micros", ())])
        level = "polytraders_venue_reconciliation_drift_level"
        assert samples[(level, ((level, "none"),))] == 1  # nothing measured, never "ok"
        assert not any(name == "polytraders_venue_reconciliations_total" for name, _ in samples)
        assert samples[("polytraders_store_write_failures_total", ())] == 0
        # the same port answers /healthz and /readyz: the feed is fresh, the paper venue in
        # process, the store writable
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            assert (answer.status, json.loads(answer.read())) == (200, {"status": "alive"})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            ready = json.loads(answer.read())
            assert (answer.status, ready["ready"], ready["failed"]) == (200, True, [])
        assert sorted(ready["checks"]) == ["feed", "store", "venue"]
        assert ready["checks"]["venue"]["detail"] == "paper venue (in process)"
        # SIGUSR1: a snapshot of the outputs while the session goes on
        session.process.send_signal(signal.SIGUSR1)
        wait_until(
            lambda: session.alive() and (out / "result.json").exists(),
            DEADLINE_S,
            "the snapshot's result.json",
        )
        snapshot = _check_outputs(out, "paper-4", "paper", "RUNNING")
        snapshot_envelopes = (out / "envelopes.jsonl").read_bytes()
        assert "snapshot: captured in" in session.output()
        # the session goes on deciding after the snapshot
        decided = samples[("polytraders_desk_events_total", ())]
        wait_until(
            lambda: (_scrape(port) or {}).get(("polytraders_desk_events_total", ()), 0) > decided,
            DEADLINE_S,
            "more events after the snapshot",
        )
    finally:
        code = session.stop()
    assert code == 143, session.output()[-3_000:]  # SIGTERM: interrupted
    final = _check_outputs(out, "paper-4", "paper", "INTERRUPTED")
    model = final["fill_model"]  # the default desk's paper venue: the probabilistic estimate
    assert (model["venue"], model["bound"]) == ("paper", "ESTIMATE")  # type: ignore[index]
    # the final timeline continues the snapshot's: the same envelopes, then more
    assert (out / "envelopes.jsonl").read_bytes().startswith(snapshot_envelopes)
    assert int(final["envelopes"]) > int(snapshot["envelopes"])  # type: ignore[call-overload]
    desk = DeskFile.load(desk_path)
    _check_store(store, "paper-4", desk, "INTERRUPTED")
    _check_bots_seen(final, desk)
    exported = io.BytesIO()  # the store's timeline is the file's
    with EventStore.open(store, create=False) as reader:
        reader.export_jsonl("paper-4", exported)
    assert exported.getvalue() == (out / "envelopes.jsonl").read_bytes()
    # nothing is left beside --out: no working or staging folder
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert sim.sim_state()["orders_total"] == orders_before  # paper: nothing reached the venue


@pytest.mark.slow
def test_a_shadow_session_records_and_writes_its_candidate_too(
    tmp_path: Path, live_sim: tuple[SimClobServer, str, Account]
) -> None:
    sim, _, _ = live_sim
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    desk_path, candidate_path = _desk_files(tmp_path)
    port, out, store = _free_port(), tmp_path / "out", tmp_path / "desk.sqlite"
    orders_before = sim.sim_state()["orders_total"]
    session = _Session(
        [
            "run", "--venue", "polymarket", "--shadow", "--markets", market_id,
            "--clob-url", sim.url, "--ws-url", sim.ws_url + "/ws/market", "--run-id", "shadow-4",
            "--desk", str(desk_path), "--candidate-desk", str(candidate_path),
            "--store", str(store), "--out", str(out), "--metrics-port", str(port),
        ],
        tmp_path / "shadow.log",
        {"POLYMARKET_PRIVATE_KEY": ""},
    )  # fmt: skip
    try:
        _scrape_when_deciding(session, port)
    finally:
        code = session.stop()
    assert code == 143, session.output()[-3_000:]  # SIGTERM: interrupted
    desk, candidate = DeskFile.load(desk_path), DeskFile.load(candidate_path)
    current = _check_outputs(out, "shadow-4", "shadow", "INTERRUPTED")
    shadowed = _check_outputs(
        out / "candidate", "shadow-4-candidate", "shadow-candidate", "INTERRUPTED"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUT_FILES, "candidate"])
    _check_store(store, "shadow-4", desk, "INTERRUPTED")
    _check_store(store, "shadow-4-candidate", candidate, "INTERRUPTED")
    _check_bots_seen(current, desk)
    _check_bots_seen(shadowed, candidate)
    assert current["config_version"] == desk.config_version
    assert shadowed["config_version"] == candidate.config_version
    assert sim.sim_state()["orders_total"] == orders_before


@pytest.mark.slow
def test_a_live_session_against_the_simulator_takes_the_four_options(
    tmp_path: Path, live_sim: tuple[SimClobServer, str, Account]
) -> None:
    sim, key, account = live_sim
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    desk_path, _ = _desk_files(tmp_path)
    port, out, store = _free_port(), tmp_path / "out", tmp_path / "desk.sqlite"
    gov_dir = tmp_path / "governance"
    govern(str(store), gov_dir, DeskFile.load(desk_path))  # its bots released to Limited live
    env = live_env(key, account, DESK_BUILDER)
    session = _Session(
        [
            "run", "--venue", "polymarket", "--live", "--i-understand-this-trades-real-money",
            "--markets", market_id, "--clob-url", sim.url,
            "--ws-url", sim.ws_url + "/ws/market", "--user-ws-url", sim.ws_url + "/ws/user",
            "--run-id", "live-4", "--desk", str(desk_path), "--store", str(store),
            "--gov-dir", str(gov_dir), "--out", str(out), "--metrics-port", str(port),
        ],
        tmp_path / "live.log",
        env,
    )  # fmt: skip
    try:
        _scrape_when_deciding(session, port)

        def heartbeat_seen() -> bool:
            samples = _scrape(port) or {}
            age = samples.get(("polytraders_venue_heartbeat_age_seconds", ()), math.nan)
            return session.alive() and 0 <= age < 30

        wait_until(heartbeat_seen, DEADLINE_S, "an accepted heartbeat's age")
        samples = _scrape(port)
        assert samples is not None
    finally:
        code = session.stop()
    assert code == 143, session.output()[-3_000:]  # SIGTERM: interrupted
    heartbeats = (("endpoint", "POST /v1/heartbeats"), ("status", "200"))
    assert samples[("polytraders_venue_request_latency_seconds_count", heartbeats)] >= 1
    assert samples[("polytraders_venue_reconciliations_total", (("level", "ok"),))] == 1
    level = "polytraders_venue_reconciliation_drift_level"
    assert samples[(level, ((level, "ok"),))] == 1
    assert samples[("polytraders_venue_reconciliation_position_drift_micros", ())] == 0
    result = _check_outputs(out, "live-4", "live", "INTERRUPTED")
    assert result["fill_model"] == {  # the venue's own fills: no fill model
        "venue": "polymarket",
        "bound": "REAL",
        "bound_reason": "the fills are polymarket's own executions of the orders the desk "
        "sent (live trading): no fill model is involved",
    }
    report = (out / "report.html").read_text()
    assert "These figures are REAL" in report
    assert "NO RISK BOTS" not in report  # the desk table reads the node config's desk
    assert "<code>risk.exposureguard</code></td><td>ENFORCED</td>" in report
    desk = DeskFile.load(desk_path)
    _check_store(store, "live-4", desk, "INTERRUPTED", node=True)
    _check_bots_seen(result, desk)
    assert sim.sim_state()["orders_live"] == 0  # the shutdown cancelled everything
