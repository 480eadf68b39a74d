"""``polytraders live --live`` checks the wallet's collateral allowance before anything is sent:
against the simulator, an allowance below the balance refuses the start in one line and a
sufficient one starts the desk; either way the check is recorded in the store's audit log
(``GOV_WALLET_ALLOWANCE_CHECKED``), with the run attempt it started when it passed."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.commands.live import DESK_BUILDER
from polytraders.model.allowance import MAX_UINT256
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore
from polytraders.store.allowance_checks import ACTION, allowance_checks
from polytraders.venues.polymarket.signing import (
    CTF_EXCHANGE_V2,
    NEG_RISK_ADAPTER,
    NEG_RISK_CTF_EXCHANGE_V2,
)
from tests.governed import govern
from tests.venues.polymarket.conftest import live_env, throwaway_key

COLLATERAL = 1_000_000_000
"""The simulator account's balance (1,000 pUSD)."""


@pytest.fixture
def keep_signal_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.slow
@pytest.mark.usefixtures("keep_signal_handlers")
def test_live_refuses_a_short_allowance_and_starts_with_a_sufficient_one(tmp_path: Path) -> None:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER, collateral=COLLATERAL)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100)
    store = str(tmp_path / "live.sqlite")
    govern(store, tmp_path / "governance")  # every bot released: the allowance is what is tested
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        env = live_env(key, account, DESK_BUILDER)

        def live(run_id: str) -> tuple[int, str]:
            args = [
                "live", "--live", "--i-understand-this-trades-real-money",
                "--markets", market_id, "--clob-url", sim.url,
                "--ws-url", sim.ws_url + "/ws/market", "--user-ws-url", sim.ws_url + "/ws/user",
                "--duration-s", "2", "--out", str(tmp_path / run_id), "--run-id", run_id,
                "--store", store, "--gov-dir", str(tmp_path / "governance"),
            ]  # fmt: skip
            result = CliRunner().invoke(app, args, env=env)
            return result.exit_code, result.output

        # one micro-pUSD short of the balance: refused in one line, nothing sent, no run
        sim.control("set_allowance", spender=CTF_EXCHANGE_V2, amount=COLLATERAL - 1)
        code, output = live("short")
        assert code == 1, output
        (line,) = [ln for ln in output.splitlines() if "GOV_WALLET_ALLOWANCE" in ln]
        assert line.startswith("error: not going live: wallet allowance too low")
        assert f"{CTF_EXCHANGE_V2} {COLLATERAL - 1}" in line
        assert sim.sim_state()["orders_total"] == 0
        # the allowance covers the balance exactly: the desk starts and trades
        sim.control("set_allowance", spender=CTF_EXCHANGE_V2, amount=COLLATERAL)
        code, output = live("enough")
        assert code == 0, output
        assert sim.sim_state()["orders_total"] > 0
    with EventStore.open(store, create=False) as recorded:
        assert [str(r.ref) for r in recorded.runs()] == ["enough@1"]
        entries = [e for e in recorded.audit_log() if e.action == ACTION]
        assert [(e.actor, e.run_id, e.attempt) for e in entries] == [
            ("desk", None, None),
            ("desk", "enough", 1),
        ]
        refused, started = (json.loads(e.detail) for e in entries)
        assert refused == {
            "account": account.address,
            "signer": account.address,
            "spenders": [CTF_EXCHANGE_V2],
            "balance_micros": COLLATERAL,
            "allowance_micros": {CTF_EXCHANGE_V2: COLLATERAL - 1},
            "verified": False,
        }
        assert started == refused | {
            "allowance_micros": {CTF_EXCHANGE_V2: COLLATERAL},
            "verified": True,
        }
        assert [c.check.verified for c in allowance_checks(recorded)] == [False, True]


@pytest.mark.usefixtures("keep_signal_handlers")
def test_a_neg_risk_market_needs_the_neg_risk_exchange_and_adapter(tmp_path: Path) -> None:
    """The same start on a neg-risk market: the CTF Exchange V2 alone is not enough."""
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER, collateral=COLLATERAL)
    govern(str(tmp_path / "live.sqlite"), tmp_path / "governance")
    with SimClobServer(SimSettings(limit_markets=1), account) as sim:
        tokens = list(sim.exchange.tokens.values())
        for token in tokens:  # the recorded market, flagged neg-risk
            sim.control("set_book", token_id=token.token_id, bids=[[400_000, 10_000_000]],
                        asks=[[600_000, 10_000_000]], ts_ms=1, neg_risk=True)  # fmt: skip
        sim.control("set_allowance", spender=NEG_RISK_ADAPTER, amount=0)
        args = [
            "live", "--live", "--i-understand-this-trades-real-money",
            "--markets", tokens[0].market_id, "--clob-url", sim.url,
            "--ws-url", sim.ws_url + "/ws/market", "--user-ws-url", sim.ws_url + "/ws/user",
            "--duration-s", "1", "--out", str(tmp_path / "out"), "--run-id", "neg",
            "--store", str(tmp_path / "live.sqlite"), "--gov-dir", str(tmp_path / "governance"),
        ]  # fmt: skip
        env = live_env(key, account, DESK_BUILDER)
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 1, result.output
        assert f"{NEG_RISK_ADAPTER} 0 micro-pUSD" in result.output
        assert sim.sim_state()["orders_total"] == 0
    with EventStore.open(tmp_path / "live.sqlite", create=False) as recorded:
        (check,) = allowance_checks(recorded)
    assert check.run_id is None and not check.check.verified
    assert check.check.spenders == (CTF_EXCHANGE_V2, NEG_RISK_CTF_EXCHANGE_V2, NEG_RISK_ADAPTER)
    assert check.check.allowance_micros == {
        CTF_EXCHANGE_V2: MAX_UINT256,
        NEG_RISK_CTF_EXCHANGE_V2: MAX_UINT256,
        NEG_RISK_ADAPTER: 0,
    }
