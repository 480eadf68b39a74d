"""Structured logs: every line JSON with run_id (and correlation_id where bound), stdlib
records through the same processors, secrets masked by key name and by value; a live session
against the CLOB simulator logs JSON lines without any secret."""

from __future__ import annotations

import json
import logging
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.commands.live import DESK_BUILDER
from polytraders.ops.logs import MASK, configure_logging
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from tests.governed import govern
from tests.venues.polymarket.conftest import live_env, throwaway_key


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    ours = logging.getLogger("polytraders")
    ours_level = ours.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    ours.setLevel(ours_level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_ids_and_never_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    api_secret = secrets.token_urlsafe(32)
    private_key = secrets.token_hex(32)
    passphrase = secrets.token_hex(8)  # not registered: masked by its key's name
    configure_logging(
        run_id="run-7",
        fmt="json",
        secrets=[api_secret],
        environ={"POLYMARKET_PRIVATE_KEY": private_key},
    )
    plain = logging.getLogger("polytraders.desk.orders")
    plain.warning("order %s not acknowledged in %d ms", "run-7:3", 500)
    with structlog.contextvars.bound_contextvars(correlation_id="run-7:i12"):
        plain.error("venue said: bad signature for key %s", private_key)
        structlog.get_logger("polytraders.test").info(
            "credentials", api_passphrase=passphrase, token_id="7132", nested={"secret": "x"}
        )
    try:
        raise RuntimeError(f"request failed with secret {api_secret}")
    except RuntimeError:
        plain.exception("step failed")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    assert len(lines) == 4
    assert {line["run_id"] for line in lines} == {"run-7"}
    assert [line.get("correlation_id") for line in lines] == [None, "run-7:i12", "run-7:i12", None]
    assert lines[0]["event"] == "order run-7:3 not acknowledged in 500 ms"
    assert (lines[0]["level"], lines[0]["logger"]) == ("warning", "polytraders.desk.orders")
    assert lines[1]["event"] == f"venue said: bad signature for key {MASK}"
    assert (lines[2]["api_passphrase"], lines[2]["token_id"]) == (MASK, "7132")
    assert lines[2]["nested"] == {"secret": MASK}
    assert "RuntimeError: request failed with secret ***" in lines[3]["exception"]
    for secret in (api_secret, private_key, passphrase):
        assert secret not in err


@pytest.mark.usefixtures("restore_logging")
def test_console_lines_are_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(run_id="bt-1", fmt="console", environ={})
    logging.getLogger("polytraders.backtest.engine").warning("store closed with %d rows", 3)
    (line,) = capsys.readouterr().err.splitlines()
    assert "[warning  ] store closed with 3 rows" in line
    assert "run_id=bt-1" in line and not line.startswith("{")


@pytest.mark.slow
@pytest.mark.usefixtures("restore_logging")
def test_live_session_logs_json_without_secrets(tmp_path: Path) -> None:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100)
    govern(str(tmp_path / "live.sqlite"), tmp_path / "gov")  # every bot released
    try:
        with SimClobServer(settings, account) as sim:
            market_id = next(iter(sim.exchange.tokens.values())).market_id
            env = live_env(key, account, DESK_BUILDER)
            args = [
                "live", "--live", "--i-understand-this-trades-real-money",
                "--markets", market_id, "--clob-url", sim.url,
                "--ws-url", sim.ws_url + "/ws/market", "--user-ws-url", sim.ws_url + "/ws/user",
                "--duration-s", "2", "--out", str(tmp_path / "out"), "--run-id", "log-live",
                "--store", str(tmp_path / "live.sqlite"), "--gov-dir", str(tmp_path / "gov"),
            ]  # fmt: skip
            result = CliRunner().invoke(app, args, env=env)
            assert result.exit_code == 0, result.output
            assert sim.sim_state()["orders_total"] > 0
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    events = [line["event"] for line in lines]
    assert events[0] == f"live session starting: markets {market_id}"
    assert events[-1] == "live session ended: COMPLETED"
    assert all(line["run_id"] == "log-live" for line in lines)
    everything = result.output + result.stderr
    credentials = (account.api_key, account.api_secret, account.api_passphrase)
    for secret in (key, key.removeprefix("0x"), *credentials):
        assert secret not in everything
