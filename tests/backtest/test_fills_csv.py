"""fills.csv: the columns, every fill tied to its order and intent, UTC times equal to ns."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.backtest.fills_csv import COLUMNS, columns, write_fills_csv
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Instrument
from polytraders.model.money import MICROS
from polytraders.model.orders import Side, VenueOrder
from polytraders.store import EventStore
from tests.backtest.test_result import RESOLVED


def _ns(time_utc: str) -> int:
    whole = datetime.strptime(time_utc[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    assert time_utc[19] == "." and time_utc.endswith("Z")
    return int(whole.timestamp()) * 1_000_000_000 + int(time_utc[20:-1])


def _rows(path: Path, header: tuple[str, ...] = COLUMNS) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == header
        return list(reader)


ORDER = VenueOrder(
    client_order_id="run/o7",
    intent_id="strat.a/s1/i3",
    bot_id="strat.a",
    token_id="yes",
    market_id="m",
    side=Side.BUY,
    price=450_000,
    size=10 * MICROS,
    venue_order_id="run/v8",
)
FILL = Fill(
    fill_id="run/f1",
    client_order_id="run/o7",
    venue_order_id="run/v8",
    token_id="yes",
    market_id="m",
    side=Side.BUY,
    price=450_000,
    size=10 * MICROS,
    fee=173_250,
    liquidity=LiquiditySide.TAKER,
    ts_event_ns=1_790_585_112_649_000_001,
)


def test_a_fill_row_has_its_intent_order_and_units(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    write_fills_csv(path, [FILL], {ORDER.client_order_id: ORDER}, [RESOLVED])
    assert _rows(path) == [
        {
            "fill_id": "run/f1",
            "intent_id": "strat.a/s1/i3",
            "client_order_id": "run/o7",
            "venue_order_id": "run/v8",
            "bot_id": "strat.a",
            "ts_event_ns": "1790585112649000001",
            "time_utc": "2026-09-28T08:45:12.649000001Z",
            "market_id": "m",
            "market_slug": "btc",
            "token_id": "yes",
            "outcome": "Up",
            "side": "BUY",
            "liquidity": "TAKER",
            "price_pusd": "0.45",
            "size_shares": "10",
            "notional_pusd": "4.5",
            "fee_pusd": "0.17325",
            "fee_size_shares": "0",
        }
    ]


def test_a_spot_buy_row_names_the_commission_kept_in_the_base_asset(tmp_path: Path) -> None:
    spot = Instrument(
        venue="binance-spot", symbol="BTCUSDT", price_increment=10_000, size_increment=10,
        min_size=10,
    )  # fmt: skip
    order = msgspec.structs.replace(ORDER, token_id=spot.token_id, market_id="")
    fill = msgspec.structs.replace(
        FILL,
        token_id=spot.token_id,
        market_id=spot.token_id,
        price=61_800_300_000,
        size=12_340,  # 0.01234 BTC, of which 0.00001234 kept by the exchange: 13 micro-BTC
        fee=762_616,  # 0.00001234 × 61800.30 = 0.762615702 USDT, rounded up
        fee_size=13,
    )
    path = tmp_path / "fills.csv"
    write_fills_csv(path, [fill], {order.client_order_id: order}, [], [spot])
    (row,) = _rows(path, columns("USDT"))  # money columns named by the quote currency
    assert (row["market_id"], row["market_slug"], row["outcome"]) == (spot.token_id, "BTCUSDT", "")
    assert (row["size_shares"], row["fee_size_shares"]) == ("0.01234", "0.000013")
    assert (row["price_usdt"], row["notional_usdt"], row["fee_usdt"]) == (
        "61800.3",
        "762.615702",
        "0.762616",
    )


def test_a_fill_of_no_known_order_or_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    with pytest.raises(ValueError, match="fill run/f1 is for order run/o7, which the desk"):
        write_fills_csv(path, [FILL], {}, [RESOLVED])
    with pytest.raises(ValueError, match="fill run/f1 is for unknown token yes"):
        write_fills_csv(path, [FILL], {ORDER.client_order_id: ORDER}, [])
    assert not path.exists()


def test_every_row_resolves_to_the_recorded_order_and_intent(tmp_path: Path) -> None:
    store_url = str(tmp_path / "desk.sqlite")
    out = tmp_path / "run"
    outcome = run_desk(
        data="synthetic:normal?seed=3&markets=1",
        desk_file=DeskFile(),
        out_dir=out,
        store_url=store_url,
    )
    rows = _rows(out / "fills.csv")
    assert len(rows) == outcome.result.money.fills > 0
    with EventStore.open(store_url) as store:
        orders = {o.client_order_id: o for o in store.orders(outcome.result.run_id)}
        fills = {f.fill_id: f for f in store.fills(outcome.result.run_id)}
    intents = set()
    with (out / "envelopes.jsonl").open() as stream:
        for line in stream:
            intents.add(json.loads(line)["correlation_id"])
    for row in rows:
        order = orders[row["client_order_id"]]  # the store's id of the order
        assert row["intent_id"] == order.intent_id
        assert row["intent_id"] in intents  # the envelopes' correlation id
        assert row["venue_order_id"] == order.venue_order_id != ""
        assert row["bot_id"] == order.bot_id
        assert (row["token_id"], row["side"]) == (order.token_id, order.side.value)
        assert row["liquidity"] in {"MAKER", "TAKER"}
        assert _ns(row["time_utc"]) == int(row["ts_event_ns"])
        assert fills[row["fill_id"]].ts_event_ns == int(row["ts_event_ns"])
