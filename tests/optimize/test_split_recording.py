"""A Binance recording splits in time: the out-of-sample part starts from a snapshot of the
book the in-sample lines built and replays with no gap, and the two parts' books are exactly
the whole recording's. A study on it labels its money USDT (terminal tables and report)."""

from __future__ import annotations

from pathlib import Path

from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.books import BookSet
from polytraders.model.events import BookSnapshot
from polytraders.optimize.split import split_data
from tests.optimize.conftest import invoke

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "samples" / "binance" / "usdm_btcusdt_20240808.gz"
TOKEN = "binance-usdm:BTCUSDT"


def _book_at_end(path: Path) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    books = BookSet()
    for event in BinanceDepthSource(path, book_only=True).events():
        books.apply(event)
    book = books.books[TOKEN]
    return book.bids(), book.asks()


def test_the_parts_replay_the_recorded_book_exactly(tmp_path: Path) -> None:
    split = split_data(str(DATA), in_sample_pct=50, folder=tmp_path)
    assert split.in_sample.market_ids == split.out_of_sample.market_ids == (TOKEN,)
    assert split.in_sample.end_ns <= split.out_of_sample.start_ns
    assert not split.overlap
    assert split.currency == "USDT"
    out_source = BinanceDepthSource(Path(split.out_of_sample.path), book_only=True)
    first = next(iter(out_source.events()))
    assert isinstance(first, BookSnapshot)
    assert (first.bids, first.asks) == _book_at_end(Path(split.in_sample.path))
    for _ in out_source.events():
        pass
    assert "SYS_FEED_GAP" not in out_source.stats.counters
    assert _book_at_end(Path(split.out_of_sample.path)) == _book_at_end(DATA)


def test_a_study_on_the_recording_labels_its_money_usdt(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        "optimize", "--bot", "strat.ema_cross", "--data", str(DATA),
        "--desk", str(ROOT / "examples" / "desk_binance.toml"),
        "--in-sample-pct", "50", "--trials", "2", "--batch", "2",
        "--ranges", str(ROOT / "examples" / "ranges" / "ema_cross_binance.toml"), "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PnL (USDT)" in result.output and "pUSD" not in result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<th>PnL (USDT)</th>" in page and "max drawdown (USDT)" in page
    assert "pUSD" not in page
