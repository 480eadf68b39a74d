"""Prometheus metrics derived from envelopes, and the loopback exposition endpoint."""

from __future__ import annotations

import socket
import urllib.request

from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.events import TradingState
from polytraders.ops.metrics import DeskMetrics


def envelope(seq: int, decision: Decision, config: str = "aaaa", mode: Mode = Mode.ENFORCED):
    return ReportEnvelope(
        envelope_id=f"r/e{seq}",
        run_id="r",
        sequence=seq,
        ts_event_ns=seq * 1_000_000,
        ts_decided_ns=seq * 1_000_000,
        bot_id="risk.stalebookguard",
        bot_class=BotClass.RISK,
        bot_version="0.1.0",
        config_version=config,
        mode=mode,
        decision=decision,
        latency_ns=4_000,
    )


def test_envelopes_drive_bot_metrics() -> None:
    metrics = DeskMetrics()
    metrics.record(envelope(0, Decision.APPROVE))
    metrics.record(envelope(1, Decision.REJECT))
    metrics.record(envelope(2, Decision.QUARANTINE, config="bbbb", mode=Mode.QUARANTINE))
    metrics.update_desk(
        now_ns=5_000_000,
        events=10,
        orders=2,
        maker_fills=1,
        pnl_micros=-1_500_000,
        equity_micros=98_500_000,
        trading_state=TradingState.REDUCING,
        feed_lag_ns=2_000_000,
    )
    text = metrics.exposition().decode()
    bot = 'bot_id="risk.stalebookguard"'
    assert f'polytraders_bot_decisions_total{{{bot},decision="APPROVE"}} 1.0' in text
    assert f'polytraders_bot_decisions_total{{{bot},decision="REJECT"}} 1.0' in text
    assert f"polytraders_bot_errors_total{{{bot}}} 1.0" in text
    assert f'polytraders_bot_config_version{{{bot},config_version="aaaa"}} 0.0' in text
    assert f'polytraders_bot_config_version{{{bot},config_version="bbbb"}} 1.0' in text
    assert f'polytraders_bot_mode{{{bot},polytraders_bot_mode="QUARANTINE"}} 1.0' in text
    assert f"polytraders_bot_heartbeat_age_ms{{{bot}}} 3.0" in text
    assert f"polytraders_bot_decision_latency_ms_count{{{bot}}} 3.0" in text
    assert "polytraders_desk_events_total 10.0" in text
    assert 'polytraders_desk_fills_total{liquidity="MAKER"} 1.0' in text
    assert "polytraders_desk_pnl_pusd -1.5" in text
    assert 'polytraders_desk_trading_state{polytraders_desk_trading_state="REDUCING"} 1.0' in text
    assert "polytraders_desk_feed_lag_ms 2.0" in text


def test_serves_on_loopback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics = DeskMetrics()
    metrics.record(envelope(0, Decision.APPROVE))
    metrics.serve(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    assert "polytraders_bot_decisions_total" in body
