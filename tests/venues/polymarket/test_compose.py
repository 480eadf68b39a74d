"""One composition: a desk file gives the same bots, order, modes and config versions as a
backtest and on every live path (``--paper`` and its ``--shadow`` candidate, ``--live``), and
``run --venue polymarket --paper --desk FILE`` runs that desk against the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.cli import app
from polytraders.commands.live import DESK_BUILDER, build_live_session, build_paper_session
from polytraders.desk.desk import Desk
from polytraders.node.config import LiveNodeConfig
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore
from polytraders.store.errors import StoreOpenError
from polytraders.venues.polymarket.venue import PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, throwaway_key

DEADLINE_S = 60.0

# not the default desk: guards reordered, one in SHADOW, one with its own config
DESK_TOML = """
seed = 11
[[strategies]]
id = "strat.maker_tight"
[[risk]]
id = "risk.killswitch"
[[risk]]
id = "risk.compliancegate"
[[risk]]
id = "risk.stalebookguard"
[[risk]]
id = "risk.markethaltguard"
[[risk]]
id = "risk.exposureguard"
mode = "SHADOW"
[[risk]]
id = "risk.drawdownguard"
[risk.config]
halt_drawdown_bps = 2500
[[execution]]
id = "exec.smartrouter"
"""

Chain = list[tuple[str, str, str]]
"""(bot id, mode, config version) of each risk bot, in chain order."""


@pytest.fixture
def desk_path(tmp_path: Path) -> Path:
    path = tmp_path / "desk.toml"
    path.write_text(DESK_TOML)
    return path


@pytest.fixture
def live_sim() -> Iterator[tuple[SimClobServer, str, Account]]:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=0)
    with SimClobServer(settings, account) as sim:
        yield sim, key, account


def _desk_chain(desk: Desk) -> Chain:
    return [(s.bot_id, s.mode.value, s.config_version) for s in desk.risk.slots]


def _recorded_chains(envelopes: Path) -> list[Chain]:
    """Per intent, the risk envelopes recorded for it in the file, in sequence order."""
    return _chains(json.loads(line) for line in envelopes.read_text().splitlines())


def _stored_chains(store: Path) -> list[Chain]:
    """:func:`_recorded_chains` of the first run in the store (none while it has none)."""
    try:
        reader = EventStore.open(store, create=False)
    except StoreOpenError:  # not created yet
        return []
    with reader:
        runs = reader.runs()
        envelopes = reader.envelopes(runs[0].ref) if runs else []
    return _chains(msgspec.to_builtins(e) for e in envelopes)


def _chains(rows: Iterable[dict[str, Any]]) -> list[Chain]:
    chains: dict[str, Chain] = defaultdict(list)
    for row in rows:
        if row["bot_class"] == "risk" and row["correlation_id"] and row["bot_id"] != "desk":
            chains[row["correlation_id"]].append(
                (row["bot_id"], row["mode"], row["config_version"])
            )
    return list(chains.values())


def _in_order(chain: Chain, expected: Chain) -> bool:
    """``chain`` is ``expected`` with some bots left out (a bot may not evaluate every intent,
    e.g. a cancel), never reordered or changed."""
    rest = iter(expected)
    return all(any(bot == each for each in rest) for bot in chain)


def _expected(desk_file: DeskFile) -> Chain:
    _, risk, _ = desk_file.build_slots()
    return [(s.bot_id, s.mode.value, s.config_version) for s in risk]


@pytest.mark.slow
def test_backtest_and_live_compose_the_same_risk_chain(
    desk_path: Path, tmp_path: Path, live_sim: tuple[SimClobServer, str, Account]
) -> None:
    desk_file = DeskFile.load(desk_path)
    expected = _expected(desk_file)
    assert [bot for bot, _, _ in expected][2:] == [
        "risk.stalebookguard", "risk.markethaltguard", "risk.exposureguard",
        "risk.drawdownguard",
    ]  # fmt: skip
    # the backtest records the chain it ran in its envelopes
    run_desk(data="synthetic:normal?seed=3&markets=1", desk_file=desk_file, out_dir=tmp_path / "bt")
    recorded = _recorded_chains(tmp_path / "bt" / "envelopes.jsonl")
    assert expected in recorded
    assert all(_in_order(chain, expected) for chain in recorded)
    # the live paths compose the same chain from the same file
    sim, key, account = live_sim
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    node = LiveNodeConfig(
        desk=desk_file, venue=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)
    )
    live, _ = build_live_session(
        run_id="compose-live",
        credentials=credentials_for(key, account),
        markets_ids=[market_id],
        node=node,
        ws_url=sim.ws_url + "/ws/market",
        user_ws_url=sim.ws_url + "/ws/user",
    )
    try:
        assert _desk_chain(live.desk) == expected
        # the credentials' identity replaced the desk file's paper [account]
        assert live.desk.state.account is not None
        assert live.desk.state.account.signer.lower() == account.address.lower()
    finally:
        live.close()
    candidate_file = DeskFile.from_mapping({"seed": 3})  # the default desk
    paper = build_paper_session(
        run_id="compose-paper",
        markets_ids=[market_id],
        clob_url=sim.url,
        ws_url=sim.ws_url + "/ws/market",
        desk=desk_file,
        shadow=True,
        candidate_desk=candidate_file,
    )
    try:
        assert _desk_chain(paper.desk) == expected
        assert paper.shadows[0].run_id == "compose-paper-candidate"
        assert _desk_chain(paper.shadows[0]) == _expected(candidate_file)
        assert paper.desk.state.account == desk_file.account.identity()
    finally:
        paper.close()


def test_a_bad_desk_file_is_refused_with_one_line_before_anything_is_contacted(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[risk]]\nid = "risk.nosuchguard"\n')
    runner = CliRunner()
    common = ["--markets", "0xabc", "--clob-url", "http://127.0.0.1:9", "--out", str(tmp_path)]
    for args in (
        ["run", "--venue", "polymarket", "--paper", "--desk", str(bad), *common],
        ["live", "--live", "--i-understand-this-trades-real-money", "--desk", str(bad), *common],
        ["live", "--shadow", "--candidate-desk", str(bad), *common],
        ["live", "--paper", "--desk", str(tmp_path / "missing.toml"), *common],
    ):
        result = runner.invoke(app, args, env={"POLYMARKET_PRIVATE_KEY": ""})
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert "invalid desk file" in lines[0]
    assert (
        "risk.nosuchguard"
        in runner.invoke(app, ["live", "--paper", "--desk", str(bad), *common]).output
    )
    result = runner.invoke(app, ["live", "--paper", "--candidate-desk", str(bad), *common])
    assert result.exit_code == 2 and "--candidate-desk: only with --shadow" in result.output


@pytest.mark.slow
def test_run_paper_with_a_desk_file_runs_that_desk_against_the_simulator(
    desk_path: Path, tmp_path: Path, live_sim: tuple[SimClobServer, str, Account]
) -> None:
    sim, _, _ = live_sim
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    out = tmp_path / "out"
    store = tmp_path / "desk.sqlite"
    log = tmp_path / "desk.log"
    args = [
        "run", "--venue", "polymarket", "--paper", "--desk", str(desk_path),
        "--markets", market_id, "--clob-url", sim.url, "--ws-url", sim.ws_url + "/ws/market",
        "--out", str(out), "--run-id", "paper-desk", "--store", str(store),
    ]  # fmt: skip
    desk_file = DeskFile.load(desk_path)
    expected = _expected(desk_file)
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "polytraders", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "POLYMARKET_PRIVATE_KEY": ""},
        )
        try:
            deadline = time.monotonic() + DEADLINE_S
            while expected not in _stored_chains(store):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"no full risk chain recorded:\n{log.read_text()[-3_000:]}")
                sim.step(2)
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=DEADLINE_S)
    assert code == 143, log.read_text()[-3_000:]  # SIGTERM: interrupted, as a backtest
    recorded = _recorded_chains(out / "envelopes.jsonl")
    assert expected in recorded
    assert all(_in_order(chain, expected) for chain in recorded)
    assert sim.sim_state()["orders_total"] == 0  # paper: nothing reached the venue
    # the store and result.json record the desk file's config version, as a backtest does
    with EventStore.open(store, create=False) as reader:
        (run,) = reader.runs()
    assert run.desk_config_version == desk_file.config_version
    assert json.loads(run.desk_config_json) == desk_file.canonical()
    result = json.loads((out / "result.json").read_text())
    assert (result["config_version"], result["session"]) == (desk_file.config_version, "paper")
    seen = {(b["bot_id"], b["config_version"]) for b in result["bots_seen"]}
    assert {(bot, version) for bot, _, version in expected} <= seen
