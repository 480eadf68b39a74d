"""The guarded crypto desk (examples/desk_binance_guarded.toml: strat.ema_cross, the generic and
crypto guards, exec.smartrouter, exec.twap as the unwind bot) backtests on the Binance USDⓈ-M
samples with an ASSUMED funding rate: the funding guard reads it, the paper venue settles it at
the 00:00 UTC funding time the recordings cross (exactly, hand-computed from the recording's
book and the run's fills) and reports it to the desk, whose own ledger books it once (its cash
and equity, a BOOK envelope ``SYS_FUNDING_SETTLED``), and result.json reports both apart. Also
the ETHUSDT regression of examples/desk_binance.toml (the paper ledger refused a 0 reservation
on a short)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from polytraders.accounting.ledger import Ledger
from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import RunOutcome, run_desk
from polytraders.backtest.funding import with_assumed_funding
from polytraders.contracts.envelope import Decision, read_jsonl
from polytraders.feeds import open_source
from polytraders.model.book import OrderBook
from polytraders.model.events import BookDelta, BookSnapshot, FundingPayment, FundingRate
from polytraders.model.money import MICROS, from_micros
from polytraders.store.event_store import EventStore
from polytraders.venues.paper import PaperVenueConfig

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples" / "binance"
BTC = SAMPLES / "usdm_btcusdt_20240808.gz"
ETH = SAMPLES / "usdm_ethusdt_20240808.gz"
GUARDED = ROOT / "examples" / "desk_binance_guarded.toml"
FUNDING_T = 1_723_161_600_000_000_000  # 2024-08-09 00:00:00 UTC
RATE_PPB = 100_000  # the desk file's assumed rate, 0.01 % a period


def _micros(text: str) -> int:
    value = Decimal(text) * MICROS
    assert value == value.to_integral_value()
    return int(value)


def _fills(out: Path) -> list[dict[str, str]]:
    lines = (out / "fills.csv").read_text().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]


def _mid_before(data: Path, token_id: str, ts_ns: int) -> int:
    """The recording's book mid just before ``ts_ns`` (every book event earlier applied)."""
    book = OrderBook(token_id)
    for event in open_source(data).events():
        if event.ts_event_ns >= ts_ns:
            break
        if isinstance(event, BookSnapshot):
            book.apply_snapshot(event.bids, event.asks, event.ts_event_ns)
        elif isinstance(event, BookDelta):
            book.apply_levels(event.bids, event.asks, event.ts_event_ns)
    mid = book.mid()
    assert mid is not None
    return mid


@pytest.fixture(scope="module")
def btc_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, RunOutcome]:
    out = tmp_path_factory.mktemp("guarded") / "out"
    store = str(out.parent / "desk.sqlite")
    outcome = run_desk(data=BTC, desk_file=DeskFile.load(GUARDED), out_dir=out, store_url=store)
    return out, json.loads((out / "result.json").read_text()), outcome


def test_a_short_held_across_the_funding_time_receives_exactly_its_funding(
    btc_run: tuple[Path, dict, RunOutcome],
) -> None:
    out, result, _ = btc_run
    assert result["status"] == "COMPLETED"
    held = 0
    for fill in _fills(out):
        if int(fill["ts_event_ns"]) < FUNDING_T:
            size = _micros(fill["size_shares"])
            held += size if fill["side"] == "BUY" else -size
    assert held == -3_000  # 0.003 BTC short at 00:00 UTC
    mid = _mid_before(BTC, "binance-usdm:BTCUSDT", FUNDING_T)
    # −size × mark × rate, floored: the short receives 0.003 × mid × 0.0001
    expected = -(held * mid * RATE_PPB) // (MICROS * 1_000_000_000)
    assert expected > 0
    assert result["funding_usd"] == from_micros(expected)
    assert result["funding_source"].startswith("assumed")
    report = (out / "report.html").read_text(encoding="utf-8")
    assert f"title='{from_micros(expected)} USDT exactly'" in report.split("funding, ASSUMED")[1]
    # the PnL figures are the fills' and marks' alone: funding is reported apart
    assert _micros(result["pnl_usd"]) == (
        _micros(result["realized_pnl_usd"])
        + _micros(result["unrealized_pnl_usd"])
        - _micros(result["fees_usd"])
    )


def test_the_desk_books_the_venues_funding_once_in_its_own_ledger(
    btc_run: tuple[Path, dict, RunOutcome],
) -> None:
    out, result, outcome = btc_run
    assert result["desk_funding_usd"] == result["funding_usd"] == "0.018497"
    funding = _micros(result["funding_usd"])
    ledger = outcome.desk_result.ledger
    (payment,) = ledger.funding_payments
    assert (payment.token_id, payment.ts_event_ns, payment.amount) == (
        "binance-usdm:BTCUSDT",
        FUNDING_T,
        funding,
    )
    assert (payment.size, payment.rate_ppb) == (-3_000, RATE_PPB)
    # the desk's cash is the fills' flows plus the funding, exactly (the venue's cash rule)
    flows = sum(
        (f.notional if f.side.value == "SELL" else -f.notional) - f.fee
        for f in outcome.desk_result.fills
    )
    assert ledger.cash == ledger.initial_cash + flows + funding
    assert Ledger.restore(ledger).reconciliation_error() == 0
    with (out / "envelopes.jsonl").open("rb") as stream:
        booked = [e for e in read_jsonl(stream) if e.decision is Decision.BOOK]
    # a payment concerns no intent: no correlation id; the output names it
    assert [(e.bot_id, e.reason_codes, e.correlation_id) for e in booked] == [
        ("desk", ("SYS_FUNDING_SETTLED",), "")
    ]
    assert isinstance(booked[0].output, FundingPayment) and booked[0].output == payment
    # the store's evidence is sound: every correlation id resolves to an intent of the run
    with EventStore.open(str(out.parent / "desk.sqlite")) as events:
        (record,) = events.runs()
        assert events.check_integrity(record.ref) == []


def test_the_guarded_run_is_deterministic(
    btc_run: tuple[Path, dict, RunOutcome], tmp_path: Path
) -> None:
    out, result, _ = btc_run
    again = run_desk(data=BTC, desk_file=DeskFile.load(GUARDED), out_dir=tmp_path / "again")
    assert again.result.envelopes_sha256 == result["envelopes_sha256"]
    assert again.result.funding_micros == _micros(result["funding_usd"])
    assert (tmp_path / "again" / "fills.csv").read_bytes() == (out / "fills.csv").read_bytes()


def test_without_an_assumed_rate_the_funding_guard_refuses_every_order(tmp_path: Path) -> None:
    desk = DeskFile.load(GUARDED)
    venue = PaperVenueConfig.model_validate({**desk.venue.model_dump(), "funding_rates_ppb": {}})
    outcome = run_desk(
        data=BTC,
        desk_file=desk.model_copy(update={"venue": venue}),
        out_dir=tmp_path / "out",
        fill_bounds=False,
    )
    result = outcome.result
    assert result.money.fills == 0 and result.funding_micros is None
    assert set(result.rejections) == {"RISK_FUNDING_MISSING"}
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    assert "funding_usd" not in document and "desk_funding_usd" not in document
    assert "funding, ASSUMED" not in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_on_ethusdt_the_margin_guard_fails_closed_without_a_bracket_table(
    tmp_path: Path,
) -> None:
    outcome = run_desk(
        data=ETH, desk_file=DeskFile.load(GUARDED), out_dir=tmp_path / "out", fill_bounds=False
    )
    result = outcome.result
    assert result.status == "COMPLETED" and result.orders == 0
    assert set(result.rejections) == {"RISK_MARGIN_INPUT_INVALID"}
    assert result.funding_micros == 0  # flat at the funding time


def test_ethusdt_runs_through_a_short_and_a_long_paying_funding(tmp_path: Path) -> None:
    """examples/desk_binance.toml on ETHUSDT: the position turns short (it used to fail with
    ``LedgerError: reserve 0 exceeds free binance-usdm:ETHUSDT``), then long; with an assumed
    positive rate the long held at 00:00 UTC pays exactly."""
    desk = DeskFile.load(ROOT / "examples" / "desk_binance.toml")
    venue = PaperVenueConfig.model_validate(
        {**desk.venue.model_dump(), "funding_rates_ppb": {"binance-usdm:ETHUSDT": RATE_PPB}}
    )
    out = tmp_path / "out"
    outcome = run_desk(data=ETH, desk_file=desk.model_copy(update={"venue": venue}), out_dir=out)
    assert outcome.result.status == "COMPLETED", outcome.result.status_detail
    positions = [0]
    for fill in _fills(out):
        size = _micros(fill["size_shares"])
        positions.append(positions[-1] + (size if fill["side"] == "BUY" else -size))
    assert min(positions) < 0 < positions[-1]  # short, then long
    mid = _mid_before(ETH, "binance-usdm:ETHUSDT", FUNDING_T)
    expected = -(positions[-1] * mid * RATE_PPB) // (MICROS * 1_000_000_000)
    assert expected < 0  # the long pays
    assert outcome.result.funding_micros == outcome.result.desk_funding_micros == expected


def test_an_empty_funding_table_leaves_the_venue_config_version_unchanged() -> None:
    default = PaperVenueConfig()
    assert "funding_rates_ppb" not in default.canonical()
    assert PaperVenueConfig(funding_rates_ppb={}).config_version == default.config_version
    funded = PaperVenueConfig(funding_rates_ppb={"binance-usdm:BTCUSDT": RATE_PPB})
    assert funded.config_version != default.config_version
    with pytest.raises(ValueError, match="venue"):
        PaperVenueConfig(funding_rates_ppb={"BTCUSDT": RATE_PPB})
    with pytest.raises(ValueError, match="within"):
        PaperVenueConfig(funding_rates_ppb={"binance-usdm:BTCUSDT": 40_000_000})


def test_assumed_funding_events_come_at_the_start_and_at_each_funding_time() -> None:
    period = 8 * 3_600 * 1_000_000_000
    times = [FUNDING_T - 10**9, FUNDING_T, FUNDING_T + period + 10**9]
    books = [
        BookSnapshot(ts_event_ns=t, ts_recv_ns=t, token_id="binance-usdm:BTCUSDT", bids=[], asks=[])
        for t in times
    ]
    rates = {"binance-usdm:ETHUSDT": -5, "binance-usdm:BTCUSDT": 7}
    events = list(with_assumed_funding(books, rates))
    funding = [
        (e.ts_event_ns, e.token_id, e.rate_ppb, e.next_funding_ns)
        for e in events
        if isinstance(e, FundingRate)
    ]
    assert funding == [
        (times[0], "binance-usdm:BTCUSDT", 7, FUNDING_T),
        (times[0], "binance-usdm:ETHUSDT", -5, FUNDING_T),
        (FUNDING_T, "binance-usdm:BTCUSDT", 7, FUNDING_T + period),
        (FUNDING_T, "binance-usdm:ETHUSDT", -5, FUNDING_T + period),
        (FUNDING_T + period, "binance-usdm:BTCUSDT", 7, FUNDING_T + 2 * period),
        (FUNDING_T + period, "binance-usdm:ETHUSDT", -5, FUNDING_T + 2 * period),
    ]
    assert all(isinstance(e, BookSnapshot) or e.synthetic for e in events)
    # each instant's announcements come before the data's events of that instant
    assert [type(e).__name__ for e in events] == [
        *["FundingRate"] * 2, "BookSnapshot", *["FundingRate"] * 2, "BookSnapshot",
        *["FundingRate"] * 2, "BookSnapshot",
    ]  # fmt: skip
    assert list(with_assumed_funding(books, {})) == books
