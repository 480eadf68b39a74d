"""strat.ema_cross trades the Binance USDⓈ-M BTCUSDT perpetual of the shipped sample through
examples/desk_binance.toml (the crypto desk): it goes long, then a bearish cross sells twice
the long (allow_short: the position turns short); the run's PnL reconciles exactly with its
fills and a replay is byte-identical. strat.mean_reversion trades the same recording through
examples/desk_mean_reversion_binance.toml: entries and exits in a neutral regime."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.model.fees import bps_fee_micros
from polytraders.model.money import from_micros

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "samples" / "binance" / "usdm_btcusdt_20240808.gz"
DESK = ROOT / "examples" / "desk_binance.toml"
TOKEN = "binance-usdm:BTCUSDT"


def _micros(text: str) -> int:
    value = Decimal(text) * 1_000_000
    assert value == value.to_integral_value()
    return int(value)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ema") / "out"
    run_desk(data=DATA, desk_file=DeskFile.load(DESK), out_dir=out)
    return out, json.loads((out / "result.json").read_text())


def _fills(out: Path) -> list[dict[str, str]]:
    lines = (out / "fills.csv").read_text().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]


def test_ema_cross_goes_long_then_short_on_the_perpetual_with_exact_pnl(
    run: tuple[Path, dict],
) -> None:
    out, result = run
    assert result["status"] == "COMPLETED"
    assert result["markets"] == 1  # the instrument counts as the run's one market
    fills = _fills(out)
    assert [(f["token_id"], f["side"], f["size_shares"], f["liquidity"]) for f in fills] == [
        (TOKEN, "BUY", "0.003", "MAKER"),
        (TOKEN, "SELL", "0.006", "MAKER"),  # closes the long and opens a short
    ]
    assert {f["bot_id"] for f in fills} == {"strat.ema_cross"}
    buy, sell = (_micros(f["price_usdt"]) for f in fills)
    fees = [bps_fee_micros(buy, 3_000, 2), bps_fee_micros(sell, 6_000, 2)]  # maker 2 bps
    assert [_micros(f["fee_usdt"]) for f in fills] == fees
    realized = (sell - buy) * 3_000 // 1_000_000
    assert result["realized_pnl_usd"] == from_micros(realized)
    assert result["fees_usd"] == from_micros(sum(fees))
    (entry,) = result["per_market"]
    assert entry["final_positions"] == {TOKEN: "-0.003"}
    pnl = _micros(result["pnl_usd"])
    assert pnl == realized - sum(fees) + _micros(result["unrealized_pnl_usd"])


def test_ema_cross_on_the_perpetual_is_deterministic(
    run: tuple[Path, dict], tmp_path: Path
) -> None:
    out, result = run
    again = run_desk(data=DATA, desk_file=DeskFile.load(DESK), out_dir=tmp_path / "again")
    assert again.result.envelopes_sha256 == result["envelopes_sha256"]
    assert (tmp_path / "again" / "fills.csv").read_bytes() == (out / "fills.csv").read_bytes()


def test_mean_reversion_enters_and_exits_on_the_perpetual(tmp_path: Path) -> None:
    desk = ROOT / "examples" / "desk_mean_reversion_binance.toml"
    outcome = run_desk(data=DATA, desk_file=DeskFile.load(desk), out_dir=tmp_path / "mr")
    result = outcome.result
    assert result.status == "COMPLETED"
    codes = result.reason_codes
    assert codes.get("STRAT_MR_ENTRY", 0) >= 2 and codes.get("STRAT_MR_EXIT", 0) >= 2
    fills = _fills(tmp_path / "mr")
    assert {f["side"] for f in fills} == {"BUY", "SELL"}
    assert {f["bot_id"] for f in fills} == {"strat.mean_reversion"}
    fees = sum(_micros(f["fee_usdt"]) for f in fills)
    assert result.money.fees == fees
