"""hftbacktest's side of ``bench/bench_fills_hft.py`` (runs with the peer's interpreter,
``.venv-peers/hft/bin/python``: hftbacktest 2.4.4, numba, numpy; nothing from Polytraders).

Usage: ``python hft_fills_peer.py EVENTS.tsv SETTINGS.json OUT.json``.

``EVENTS.tsv``: one hftbacktest event per line, ``flags  ts_ns  price_ticks  qty_micros`` (the
Binance sample as Polytraders' feed yields it, already turned into level updates and trades by
the bench). ``SETTINGS.json``: tick and lot size, latencies, step, order size, position limit,
queue exponent, taker-fee probe rate. ``OUT.json``: fills, volume, value, fee, position, balance,
final best bid/ask, and the code ``elapse`` ended with (1 = end of data; anything else is an
error hftbacktest reported, e.g. 14 = InvalidOrderStatus).

The strategy (numba) is the bench's touch quoter, line for line: every ``step_ns``, for each
side, keep one GTC limit order at the touch (bid at the best bid, ask at the best ask) while the
position is inside the limit; cancel orders of that side at another price (or beyond the limit)
once they can be cancelled; submit one at the touch when none of that side is there.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from hftbacktest import (
    BUY,
    GTC,
    LIMIT,
    SELL,
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from hftbacktest.binding import event_dtype
from numba import njit


@njit
def touch_quoter(hbt, step_ns, qty, max_position, tick_size):
    asset = 0
    next_id = 1
    steps = 0
    code = 0
    while True:
        code = hbt.elapse(step_ns)
        if code != 0:
            break
        steps += 1
        hbt.clear_inactive_orders(asset)
        depth = hbt.depth(asset)
        bid = depth.best_bid_tick
        ask = depth.best_ask_tick
        if not (depth.best_bid > 0.0 and depth.best_ask > 0.0 and ask > bid):
            continue
        position = hbt.position(asset)
        orders = hbt.orders(asset)
        for side_index in range(2):
            side = BUY if side_index == 0 else SELL
            target = bid if side_index == 0 else ask
            allowed = position < max_position if side_index == 0 else position > -max_position
            has_target = False
            values = orders.values()
            while values.has_next():
                order = values.get()
                if order.side != side:
                    continue
                if order.price_tick == target and allowed:
                    has_target = True
                elif order.cancellable:
                    hbt.cancel(asset, order.order_id, False)
            if allowed and not has_target:
                price = target * tick_size
                if side_index == 0:
                    hbt.submit_buy_order(asset, next_id, price, qty, GTC, LIMIT, False)
                else:
                    hbt.submit_sell_order(asset, next_id, price, qty, GTC, LIMIT, False)
                next_id += 1
    values = hbt.state_values(asset)
    depth = hbt.depth(asset)
    return (
        code,
        steps,
        next_id - 1,
        values.num_trades,
        values.trading_volume,
        values.trading_value,
        values.fee,
        values.position,
        values.balance,
        depth.best_bid_tick,
        depth.best_ask_tick,
    )


def main(events_path: str, settings_path: str, out_path: str) -> None:
    with open(settings_path, encoding="utf-8") as stream:
        settings = json.load(stream)
    raw = np.loadtxt(events_path, dtype=np.int64, ndmin=2)
    data = np.zeros(len(raw), event_dtype)
    data["ev"] = raw[:, 0].astype(np.uint64)
    data["exch_ts"] = raw[:, 1]
    data["local_ts"] = raw[:, 1]
    data["px"] = raw[:, 2] * settings["tick_size"]
    data["qty"] = raw[:, 3] / 1e6
    asset = (
        BacktestAsset()
        .data([data])
        .linear_asset(1.0)
        .constant_order_latency(settings["entry_latency_ns"], settings["response_latency_ns"])
        .power_prob_queue_model(settings["queue_power_n"])
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, settings["taker_fee_probe_rate"])
        .tick_size(settings["tick_size"])
        .lot_size(settings["lot_size"])
        .last_trades_capacity(0)
    )
    hbt = HashMapMarketDepthBacktest([asset])
    result = touch_quoter(
        hbt,
        settings["step_ns"],
        settings["order_qty"],
        settings["max_position"],
        settings["tick_size"],
    )
    hbt.close()
    keys = (
        "end_code",
        "steps",
        "orders",
        "fills",
        "volume",
        "value",
        "fee",
        "position",
        "balance",
        "best_bid_tick",
        "best_ask_tick",
    )
    figures = {key: float(value) for key, value in zip(keys, result, strict=True)}
    with open(out_path, "w", encoding="utf-8") as stream:
        json.dump(figures, stream)


if __name__ == "__main__":
    main(*sys.argv[1:4])
