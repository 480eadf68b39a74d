"""Prometheus metrics derived from envelopes, and the loopback exposition endpoint."""

from __future__ import annotations

import socket
import urllib.request

from polytraders.bots.registry import BOTS
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.events import TradingState
from polytraders.ops.metrics import BASE_LATENCY_BUCKETS_MS, DeskMetrics, latency_buckets_ms


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


def test_every_declared_latency_budget_is_a_bucket_edge() -> None:
    budgets = {bot_id: cls.RUNTIME_BUDGET for bot_id, cls in BOTS.items()}
    edges = latency_buckets_ms(budgets.values())
    assert list(edges) == sorted(set(edges))
    assert set(BASE_LATENCY_BUCKETS_MS) <= set(edges)
    metrics = DeskMetrics(budgets)
    metrics.record(envelope(0, Decision.APPROVE))
    text = metrics.exposition().decode()
    for bot_id, budget in budgets.items():
        for quantile, budget_us in (
            ("0.95", budget.decision_p95_us),
            ("0.99", budget.decision_p99_us),
        ):
            edge = budget_us / 1_000
            assert edge in edges, (bot_id, quantile, budget_us)
            # the exposition's le label and the exported SLO are the same number
            assert f'le="{edge}"' in text, (bot_id, edge)
            slo = (
                f'polytraders_bot_latency_slo_ms{{bot_id="{bot_id}",quantile="{quantile}"}} {edge}'
            )
            assert slo in text
        ratio = budget.error_rate_max_ppm / 1_000_000
        assert f'polytraders_bot_error_budget_ratio{{bot_id="{bot_id}"}} {ratio}' in text


def test_a_new_budget_adds_its_edges() -> None:
    budget = RuntimeBudget(decision_p95_us=333, decision_p99_us=4_321, calibration="test")
    edges = latency_buckets_ms([budget])
    assert {0.333, 4.321} <= set(edges)
    assert len(edges) == len(BASE_LATENCY_BUCKETS_MS) + 2


def test_controls_feed_age_and_store_failures() -> None:
    metrics = DeskMetrics()
    assert "polytraders_store_write_failures_total 0.0" in metrics.exposition().decode()
    metrics.update_controls(
        now_ns=10_000_000_000,
        kill_switch_tripped=False,
        reason_code="SYS_VENUE_WORKER_FAILED",
        source="venue.polymarket",
        last_feed_event_ns=7_500_000_000,
        store_write_failures=2,
    )
    metrics.update_controls(
        now_ns=11_000_000_000,
        kill_switch_tripped=True,
        reason_code="SYS_KILL_SWITCH_TRIPPED",
        source="risk.killswitch",
        last_feed_event_ns=7_500_000_000,
        store_write_failures=3,
    )
    text = metrics.exposition().decode()
    assert "polytraders_desk_kill_switch_tripped 1.0" in text
    old = 'reason_code="SYS_VENUE_WORKER_FAILED",source="venue.polymarket"'
    new = 'reason_code="SYS_KILL_SWITCH_TRIPPED",source="risk.killswitch"'
    assert f"polytraders_desk_trading_reason{{{old}}} 0.0" in text
    assert f"polytraders_desk_trading_reason{{{new}}} 1.0" in text
    assert "polytraders_desk_feed_age_ms 3500.0" in text
    assert "polytraders_store_write_failures_total 3.0" in text


def test_fills_feed_slippage_and_adverse_selection() -> None:
    metrics = DeskMetrics()
    metrics.observe_fill(liquidity="MAKER", slippage_bps=-12.0, adverse_bps=None)
    metrics.observe_fill(liquidity="MAKER", slippage_bps=None, adverse_bps=30.0)
    text = metrics.exposition().decode()
    assert 'polytraders_desk_fill_slippage_bps_bucket{le="-10.0",liquidity="MAKER"} 1.0' in text
    assert 'polytraders_desk_adverse_selection_bps_bucket{le="25.0",liquidity="MAKER"} 0.0' in text
    assert 'polytraders_desk_adverse_selection_bps_count{liquidity="MAKER"} 1.0' in text
