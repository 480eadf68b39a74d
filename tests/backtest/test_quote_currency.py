"""A run's money is labelled with its quote currency: a backtest of the Binance USDⓈ-M BTCUSDT
sample says USDT (CLI summary, result.json, fills.csv columns, report) and never pUSD; a
Polymarket run says pUSD; instruments of unknown quote, or a run mixing currencies, are
refused with one line."""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from polytraders.backtest.fills_csv import COLUMNS, columns, write_fills_csv
from polytraders.backtest.result import EnvelopeTally, FillModel, compute_result
from polytraders.cli import app
from polytraders.model.market import BINANCE_SPOT, BINANCE_USDM, Instrument
from polytraders.model.quote import (
    PUSD,
    QUOTE_ASSETS,
    QuoteCurrencyError,
    instrument_quote,
    run_currency,
)
from polytraders.venues.paper import PaperVenueConfig
from tests.backtest.test_result import RESOLVED

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "data" / "samples" / "binance" / "usdm_btcusdt_20240808.gz"
DESK = ROOT / "examples" / "desk_binance.toml"
runner = CliRunner()


def _instrument(venue: str, symbol: str) -> Instrument:
    return Instrument(venue=venue, symbol=symbol, price_increment=1, size_increment=1)


@pytest.fixture(scope="module")
def usdt_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("usdt") / "out"
    completed = runner.invoke(
        app, ["backtest", "--data", str(BTC), "--desk", str(DESK), "--out", str(out)]
    )
    assert completed.exit_code == 0, completed.output
    return out, completed.output


def test_a_binance_backtest_says_usdt_everywhere_and_never_pusd(
    usdt_run: tuple[Path, str],
) -> None:
    out, summary = usdt_run
    result = json.loads((out / "result.json").read_text())
    assert result["currency"] == "USDT"
    assert result["fills"] > 0  # there are money figures to label
    # the CLI summary: every money row in USDT
    assert f"PnL total (after fees) │ {result['pnl_usd']} USDT (ESTIMATE)" in re.sub(
        r" {2,}", " ", summary
    )
    assert f"{result['max_drawdown_usd']} USDT" in summary
    assert f"{result['fees_usd']} USDT" in summary
    # fills.csv: the money columns named by the currency
    with (out / "fills.csv").open(newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == columns("USDT")
        rows = list(reader)
    assert {"price_usdt", "notional_usdt", "fee_usdt"} <= rows[0].keys()
    # the report: summary cells, titles and axes
    page = (out / "report.html").read_text()
    assert f"title='{result['pnl_usd']} USDT exactly'>" in page
    assert "<tr><th>money in</th><td><b>USDT</b> (the run's quote currency)</td></tr>" in page
    for text in (
        "Equity (USDT, marked to mid) with desk events",
        "PnL per market (USDT, after fees)",
        "price (USDT per base-asset unit)",
        "Inventory per token (base-asset units)",
    ):
        assert text in page, text
    for where, text in (("summary", summary), ("report", page), ("result", json.dumps(result))):
        assert "pusd" not in text.lower(), where
    assert "pusd" not in (out / "fills.csv").read_text().lower()


def test_a_polymarket_run_stays_pusd(tmp_path: Path) -> None:
    out = tmp_path / "out"
    data = "synthetic:normal?seed=3&markets=2"
    completed = runner.invoke(app, ["backtest", "--data", data, "--out", str(out)])
    assert completed.exit_code == 0, completed.output
    result = json.loads((out / "result.json").read_text())
    assert result["currency"] == PUSD
    assert f"{result['max_drawdown_usd']} pUSD" in completed.output
    assert "USDT" not in completed.output
    header = (out / "fills.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == COLUMNS
    assert {"price_pusd", "notional_pusd", "fee_pusd"} <= set(COLUMNS)
    assert "PnL per market (pUSD, after fees)" in (out / "report.html").read_text()


def test_instrument_quotes_by_venue_and_symbol() -> None:
    assert instrument_quote(_instrument(BINANCE_USDM, "BTCUSDT")) == "USDT"
    assert instrument_quote(_instrument(BINANCE_USDM, "ETHUSDC")) == "USDC"
    assert instrument_quote(_instrument(BINANCE_SPOT, "ETHBTC")) == "BTC"
    assert instrument_quote(_instrument(BINANCE_SPOT, "BTCFDUSD")) == "FDUSD"
    with pytest.raises(QuoteCurrencyError, match=r"binance-usdm:BTCUSDT_240927: symbol ends"):
        instrument_quote(_instrument(BINANCE_USDM, "BTCUSDT_240927"))
    with pytest.raises(QuoteCurrencyError, match=r"binance-spot:USDT: symbol ends in no"):
        instrument_quote(_instrument(BINANCE_SPOT, "USDT"))
    with pytest.raises(QuoteCurrencyError, match=r"no known quote currency for venue 'kraken'"):
        instrument_quote(_instrument("kraken", "XBTUSD"))


@given(
    venue=st.sampled_from(sorted(QUOTE_ASSETS)),
    base=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
    data=st.data(),
)
def test_a_symbol_of_base_and_quote_names_that_quote_and_one_run_one_currency(
    venue: str, base: str, data: st.DataObject
) -> None:
    quote = data.draw(st.sampled_from(QUOTE_ASSETS[venue]))
    symbol = base + quote
    named = instrument_quote(_instrument(venue, symbol))
    # the longest quote asset the symbol ends in: the named one, or a longer one ending in it
    assert named.endswith(quote) and symbol.endswith(named)
    assert run_currency([], [_instrument(venue, symbol)] * 2) == named
    assert run_currency([RESOLVED], []) == run_currency([], []) == PUSD


def test_mixing_currencies_is_refused_in_one_line(tmp_path: Path) -> None:
    btc_usdt = _instrument(BINANCE_USDM, "BTCUSDT")
    eth_btc = _instrument(BINANCE_SPOT, "ETHBTC")
    with pytest.raises(QuoteCurrencyError) as mixed:
        run_currency([RESOLVED], [btc_usdt])
    assert str(mixed.value) == (
        "the run mixes quote currencies (USDT: binance-usdm:BTCUSDT; pUSD: 1 Polymarket "
        "market(s)); its money figures would sum them under one label: run each currency "
        "separately"
    )
    with pytest.raises(QuoteCurrencyError, match=r"BTC: binance-spot:ETHBTC; USDT: binance-usdm"):
        run_currency([], [btc_usdt, eth_btc])
    with pytest.raises(QuoteCurrencyError, match="mixes quote currencies"):
        write_fills_csv(tmp_path / "fills.csv", [], {}, [RESOLVED], [btc_usdt])
    assert not (tmp_path / "fills.csv").exists()
    with pytest.raises(QuoteCurrencyError, match="mixes quote currencies"):
        compute_result(
            run_id="r", seed=0, config_version="c", synthetic=False, markets=[RESOLVED],
            fills=[], equity_curve=[], tally=EnvelopeTally(), envelopes_sha256="", events=0,
            first_event_ns=0, last_event_ns=0, orders=0, venue_rejections={}, final_marks={},
            wall_s=0.0, fill_model=FillModel.of(PaperVenueConfig()), instruments=[btc_usdt],
        )  # fmt: skip


def test_a_recording_of_unknown_quote_is_refused_before_the_run(tmp_path: Path) -> None:
    """The BTCUSDT sample's first lines renamed to a TRY-quoted symbol (not a quote asset of
    binance-usdm): the backtest exits 2 with one line and writes nothing."""
    with gzip.open(BTC, "rt") as stream:
        lines = [next(stream) for _ in range(200)]
    data = tmp_path / "usdm_btctry.txt"
    data.write_text("".join(lines).replace("BTCUSDT", "BTCTRY").replace("btcusdt", "btctry"))
    out = tmp_path / "out"
    completed = runner.invoke(
        app, ["backtest", "--data", str(data), "--desk", str(DESK), "--out", str(out)]
    )
    assert completed.exit_code == 2, completed.output
    assert "binance-usdm:BTCTRY: symbol ends in no known quote asset of binance-usdm" in (
        completed.output
    )
    assert not out.exists() or not any(out.iterdir())
