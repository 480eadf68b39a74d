"""The venue metrics a live session serves beside the desk's: request latency by endpoint and
status, heartbeat age, websocket reconnects and reconciliation drift; and the desk metrics fed
from totals."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from polytraders.model.events import TradingState
from polytraders.ops.metrics import DeskMetrics
from polytraders.ops.venue_metrics import VenueMetrics, channel_label, endpoint_label
from polytraders.venues.reconciliation import DriftLevel

CONDITION = "0x" + "ab" * 32


def samples(metrics: DeskMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed by prometheus-client: (name, labels) → value."""
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_endpoint_labels_keep_the_path_and_drop_ids() -> None:
    assert endpoint_label("get", f"http://h:1/markets/{CONDITION}") == "GET /markets/{id}"
    assert endpoint_label("GET", f"http://h/data/order/{CONDITION}") == "GET /data/order/{id}"
    assert endpoint_label("POST", "https://clob.polymarket.com/v1/heartbeats") == (
        "POST /v1/heartbeats"
    )
    assert endpoint_label("DELETE", "http://h/order") == "DELETE /order"
    assert endpoint_label("GET", "http://h/markets-by-token/123456789") == (
        "GET /markets-by-token/{id}"
    )
    assert endpoint_label("GET", "http://h/balance-allowance/update") == (
        "GET /balance-allowance/update"
    )
    assert channel_label("wss://ws-subscriptions-clob.polymarket.com/ws/market") == "market"
    assert channel_label("ws://127.0.0.1:8765/ws/user") == "user"


def test_venue_metrics_share_the_desk_registry() -> None:
    now_ns = [10_000_000_000]
    desk = DeskMetrics()
    venue = VenueMetrics(desk.registry, wall_clock_ns=lambda: now_ns[0])
    # before any heartbeat the age is unknown, not zero
    assert math.isnan(samples(desk)[("polytraders_venue_heartbeat_age_seconds", ())])
    venue.observe_request("GET", f"http://h/markets/{CONDITION}", 200, 0.012)
    venue.observe_request("GET", f"http://h/markets/{'cd' * 32}", 200, 0.030)
    venue.observe_request("POST", "http://h/order", 0, 5.0)
    venue.heartbeat_accepted(7_500_000_000)
    venue.heartbeat_accepted(7_000_000_000)  # older: ignored
    venue.reconnected("ws://h/ws/market")
    venue.reconnected("ws://h/ws/market")
    venue.reconnected("ws://h/ws/user")
    before = samples(desk)  # nothing measured yet: NaN and "none", never 0 and "ok"
    assert math.isnan(before[("polytraders_venue_reconciliation_order_drift_micros", ())])
    assert math.isnan(before[("polytraders_venue_reconciliation_position_drift_micros", ())])
    none = ("polytraders_venue_reconciliation_drift_level",) * 2
    assert before[(none[0], ((none[1], "none"),))] == 1
    venue.reconciled(order_drift_micros=10_000, position_drift_micros=0, level=DriftLevel.WARNING)
    got = samples(desk)
    markets = (("endpoint", "GET /markets/{id}"), ("status", "200"))
    assert got[("polytraders_venue_request_latency_seconds_count", markets)] == 2
    assert math.isclose(got[("polytraders_venue_request_latency_seconds_sum", markets)], 0.042)
    unanswered = (("endpoint", "POST /order"), ("status", "0"))
    assert got[("polytraders_venue_request_latency_seconds_count", unanswered)] == 1
    assert got[("polytraders_venue_heartbeat_age_seconds", ())] == 2.5
    now_ns[0] += 1_000_000_000  # computed when scraped
    assert samples(desk)[("polytraders_venue_heartbeat_age_seconds", ())] == 3.5
    assert got[("polytraders_venue_ws_reconnects_total", (("channel", "market"),))] == 2
    assert got[("polytraders_venue_ws_reconnects_total", (("channel", "user"),))] == 1
    assert got[("polytraders_venue_reconciliation_order_drift_micros", ())] == 10_000
    assert got[("polytraders_venue_reconciliation_position_drift_micros", ())] == 0
    level = "polytraders_venue_reconciliation_drift_level"
    assert got[(level, ((level, "warning"),))] == 1
    assert got[(level, ((level, "ok"),))] == 0
    assert got[("polytraders_venue_reconciliations_total", (("level", "warning"),))] == 1


def test_desk_totals_advance_the_counters_by_what_was_added() -> None:
    metrics = DeskMetrics()

    def update(events: int, orders: int, maker: int, taker: int) -> None:
        metrics.update_desk_totals(
            now_ns=1,
            events=events,
            orders=orders,
            maker_fills=maker,
            taker_fills=taker,
            pnl_micros=-250_000,
            equity_micros=99_750_000,
            trading_state=TradingState.ACTIVE,
        )

    update(10, 2, 1, 0)
    update(25, 3, 2, 1)
    update(25, 3, 1, 1)  # a maker fill taken back: nothing added ...
    update(25, 3, 2, 1)  # ... nor when the total is back where it was
    got = samples(metrics)
    assert got[("polytraders_desk_events_total", ())] == 25
    assert got[("polytraders_desk_orders_total", ())] == 3
    assert got[("polytraders_desk_fills_total", (("liquidity", "MAKER"),))] == 2
    assert got[("polytraders_desk_fills_total", (("liquidity", "TAKER"),))] == 1
    assert got[("polytraders_desk_pnl_pusd", ())] == -0.25
