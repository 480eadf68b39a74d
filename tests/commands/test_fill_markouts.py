"""A live desk's execution-quality metrics: slippage against the mid when a fill is seen and
the mid's move against it five seconds later (``FillMarkouts``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from polytraders.commands.live_outputs import MARKOUT_HORIZON_NS, FillMarkouts
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import Side
from polytraders.ops.metrics import DeskMetrics


def _fill(fill_id: str, side: Side, price: int, token: str = "yes") -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=f"c-{fill_id}",
        token_id=token,
        side=side,
        price=price,
        size=10_000_000,
        liquidity=LiquiditySide.MAKER,
        ts_event_ns=1,
        ts_recv_ns=1,
    )


def _desk(mids: dict[str, int | None], fills: list[Fill], now_ns: int) -> Any:
    return SimpleNamespace(
        state=SimpleNamespace(mid=mids.get, now_ns=now_ns), orders=SimpleNamespace(fills=fills)
    )


def _sample(metrics: DeskMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"liquidity": "MAKER", **labels})


def test_slippage_when_seen_and_adverse_selection_after_the_horizon() -> None:
    metrics = DeskMetrics()
    markouts = FillMarkouts(metrics)
    # bought at 0.49 with the mid at 0.50: 200 bps better than the mid; sold at 0.51: too
    fills = [_fill("f1", Side.BUY, 490_000), _fill("f2", Side.SELL, 510_000)]
    markouts.update(_desk({"yes": 500_000}, fills, now_ns=0))
    assert _sample(metrics, "polytraders_desk_fill_slippage_bps_count") == 2
    assert _sample(metrics, "polytraders_desk_fill_slippage_bps_bucket", le="-100.0") == 2
    # seen again before the horizon: nothing measured twice, no markout yet
    markouts.update(_desk({"yes": 480_000}, fills, now_ns=MARKOUT_HORIZON_NS - 1))
    assert _sample(metrics, "polytraders_desk_fill_slippage_bps_count") == 2
    assert _sample(metrics, "polytraders_desk_adverse_selection_bps_count") is None
    # 5 s later the mid fell to 0.48: 400 bps against the buy, 400 bps for the sell
    markouts.update(_desk({"yes": 480_000}, fills, now_ns=MARKOUT_HORIZON_NS))
    assert _sample(metrics, "polytraders_desk_adverse_selection_bps_count") == 2
    assert _sample(metrics, "polytraders_desk_adverse_selection_bps_bucket", le="-100.0") == 1
    assert _sample(metrics, "polytraders_desk_adverse_selection_bps_bucket", le="100.0") == 1


def test_a_fill_without_a_mid_is_not_measured() -> None:
    metrics = DeskMetrics()
    markouts = FillMarkouts(metrics)
    markouts.update(_desk({}, [_fill("f1", Side.BUY, 490_000, token="no")], now_ns=0))
    markouts.update(_desk({}, [], now_ns=MARKOUT_HORIZON_NS))
    assert _sample(metrics, "polytraders_desk_fill_slippage_bps_count") is None
    assert _sample(metrics, "polytraders_desk_adverse_selection_bps_count") is None
