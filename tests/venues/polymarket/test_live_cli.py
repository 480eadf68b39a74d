"""``polytraders live``: nothing goes live implicitly; with credentials, the confirmation flag
and passing start-up checks it trades at the given --clob-url (here the simulator)."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.commands.live import DESK_BUILDER
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore
from tests.governed import govern
from tests.venues.polymarket.conftest import live_env, throwaway_key


@pytest.fixture
def keep_signal_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_mode_must_be_explicit_and_live_needs_confirmation(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["live", "--markets", "0xabc", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "exactly one of" in result.output
    result = runner.invoke(app, ["live", "--live", "--markets", "0xabc"])
    assert result.exit_code == 2 and "i-understand" in result.output
    result = runner.invoke(
        app,
        ["live", "--live", "--i-understand-this-trades-real-money", "--markets", "0xabc"],
        env={"POLYMARKET_PRIVATE_KEY": ""},
    )
    assert result.exit_code == 2 and "missing credentials" in result.output


@pytest.mark.slow
@pytest.mark.usefixtures("keep_signal_handlers")
def test_live_run_against_the_simulator(tmp_path: Path) -> None:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100)
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        env = live_env(key, account, DESK_BUILDER)
        args = [
            "live", "--live", "--i-understand-this-trades-real-money",
            "--markets", market_id, "--clob-url", sim.url,
            "--ws-url", sim.ws_url + "/ws/market", "--user-ws-url", sim.ws_url + "/ws/user",
            "--duration-s", "3", "--out", str(tmp_path / "out"), "--run-id", "cli-live",
        ]  # fmt: skip
        store = str(tmp_path / "live.sqlite")
        gov_dir = tmp_path / "governance"
        govern(store, gov_dir)  # every bot of the default desk released to Limited live
        args += ["--gov-dir", str(gov_dir)]
        result = CliRunner().invoke(app, [*args, "--store", store], env=env)
        assert result.exit_code == 0, result.output
        assert "reconciled: 0 open" in result.output
        assert sim.sim_state()["orders_total"] > 0
        assert sim.sim_state()["orders_live"] == 0  # shutdown cancelled everything
        timeline = (tmp_path / "out" / "envelopes.jsonl").read_bytes()
        assert timeline
        # the run is in the store, ended by the duration, sound, its timeline the file's
        with EventStore.open(store, create=False) as recorded:
            (run,) = recorded.runs()
            checked = [e for e in recorded.audit_log() if e.action == "GOV_NODE_RELEASES_CHECKED"]
            assert len(checked) == 1 and '"allowed":true' in checked[0].detail
            assert (str(run.ref), run.status.value) == ("cli-live@1", "COMPLETED")
            assert recorded.check_integrity(run.ref) == []
            exported = io.BytesIO()
            recorded.export_jsonl(run.ref, exported)
            assert exported.getvalue() == timeline
        # a builder code other than the expected one fails the start-up compliance checks;
        # one that is not bytes32 is refused with the credentials
        before = sim.sim_state()["orders_total"]
        env["POLYMARKET_BUILDER_CODE"] = "0x" + "ab" * 32
        second = [*args[:-4], "--run-id", "cli-live-2", "--gov-dir", str(gov_dir)]
        result = CliRunner().invoke(app, [*second, "--store", store], env=env)
        assert result.exit_code == 1 and "not going live" in result.output, result.output
        env["POLYMARKET_BUILDER_CODE"] = "0x1234"
        result = CliRunner().invoke(app, [*second, "--store", store], env=env)
        assert result.exit_code == 2, result.output
        assert "POLYMARKET_BUILDER_CODE must be 0x and 64 hex digits" in result.output
        assert sim.sim_state()["orders_total"] == before


@pytest.mark.slow
@pytest.mark.usefixtures("keep_signal_handlers")
def test_shadow_runs_a_candidate_on_the_same_events(tmp_path: Path) -> None:
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=50)
    with SimClobServer(settings, account_for_key(throwaway_key())) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        args = [
            "live", "--shadow", "--markets", market_id, "--clob-url", sim.url,
            "--ws-url", sim.ws_url + "/ws/market", "--duration-s", "3",
            "--out", str(tmp_path), "--run-id", "shadow",
        ]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        lines = [line for line in result.output.splitlines() if " market events, " in line]
        assert [line.split(":")[0] for line in lines] == ["shadow", "shadow-candidate"]
        # both desks saw exactly the same events; nothing reached the venue
        assert lines[0].split(":")[1].split(",")[0] == lines[1].split(":")[1].split(",")[0]
        assert sim.sim_state()["orders_total"] == 0
        assert (tmp_path / "candidate" / "envelopes.jsonl").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.usefixtures("keep_signal_handlers")
def test_run_with_venue_polymarket_is_the_live_entry_point(tmp_path: Path) -> None:
    """``polytraders run --venue polymarket --paper`` (the issue's spelling) drives the same
    live runner: live data from the simulator's market channel, paper venue."""
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100)
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        args = [
            "run", "--venue", "polymarket", "--paper", "--markets", market_id,
            "--clob-url", sim.url, "--ws-url", sim.ws_url + "/ws/market",
            "--duration-s", "2", "--out", str(tmp_path / "out"), "--run-id", "cli-paper",
            "--store", str(tmp_path / "desk.sqlite"),
        ]  # fmt: skip
        result = CliRunner().invoke(app, args, env={"POLYMARKET_PRIVATE_KEY": ""})
        assert result.exit_code == 0, result.output
        assert (tmp_path / "out" / "envelopes.jsonl").stat().st_size > 0
        assert sim.sim_state()["orders_total"] == 0  # paper: nothing reaches the venue
    refused = CliRunner().invoke(app, ["run", "--paper"])
    assert refused.exit_code == 2
    assert "unexpected arguments" in refused.output
