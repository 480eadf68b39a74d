"""report.html tells the truth at a glance: real runs on the shipped sample, read back the way a
browser shows them (plotly figures, tagged table rows), and the page's parts on hand-made runs."""

from __future__ import annotations

import csv
import json
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.backtest.report import (
    KEPT_POINTS,
    SELECTOR_TOKENS,
    TOP_OF_BOOK_POINTS,
    TopOfBook,
    TopOfBookSeries,
    money_text,
    selector_tokens,
    thin_equity,
    thin_top_of_book,
    write_report,
)
from polytraders.backtest.result import BacktestResult, FillModel, utc_iso
from polytraders.bots.registry import DEFAULT_RISK_ORDER
from polytraders.model.events import KillSwitchTripped, TradingState, TradingStateChanged
from polytraders.model.money import MICROS
from polytraders.model.orders import Side
from polytraders.venues.paper import PaperVenueConfig
from tests.backtest.plotly_page import figure, tagged_rows
from tests.backtest.test_result import RESOLVED, fill, result_for

PASSES = {"PROPOSE", "IDLE", "APPROVE", "ROUTE"}
REFUSALS = {"REJECT", "HALT", "REFUSE", "QUARANTINE"}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory, polymarket_sample: Path) -> Path:
    """The default desk on the shipped Polymarket sample."""
    out = tmp_path_factory.mktemp("report") / "default"
    run_desk(data=polymarket_sample, desk_file=DeskFile(), out_dir=out)
    return out


def test_header_states_the_fill_model_its_estimate_and_both_bounds(sample_run: Path) -> None:
    page = (sample_run / "report.html").read_text()
    header = page.split("<h2>The desk that ran</h2>")[0]
    assert "These figures are an ESTIMATE (probabilistic (log) queue model): maker fills" in header
    assert "queue model <b>probabilistic (log)</b>" in header
    assert "entry latency <b>250 ms</b> · response latency <b>100 ms</b>" in header
    assert "complementary-token fills: <b>ON</b>" in header
    assert "Real recorded market data" in header
    result = json.loads((sample_run / "result.json").read_text())
    bounds = result["fill_model"]["bounds"]
    # the estimate with its two bounds beside it: PnL of each, as money cells
    assert (
        "<th>PESSIMISTIC (pessimistic)</th><th>these figures (probabilistic (log))</th>" in header
    )
    for pnl in (
        bounds["pessimistic"]["pnl_usd"],
        result["pnl_usd"],
        bounds["optimistic"]["pnl_usd"],
    ):
        assert f"title='{pnl} pUSD exactly'>" in header
    assert "Bounds: the same orders, in the same pass, on shadow paper venues" in header
    assert "NO RISK" not in page and "KILL SWITCH TRIPPED" not in page  # nothing to banner
    # offline: plotly.js is embedded once, nothing is fetched
    assert page.count("plotly.js v") <= 2
    assert "https://cdn" not in page.split("<body>")[0]
    assert result["fill_model"]["bound"] == "ESTIMATE"
    # the desk that ran: every bot of the default desk with its mode and config version
    for bot in result["bots_seen"]:
        if bot["bot_id"] != "desk":
            assert f"<code>{bot['bot_id']}</code>" in page
            assert f"<code>{bot['config_version']}</code>" in page
    assert {b["bot_id"] for b in result["bots_seen"]} >= set(DEFAULT_RISK_ORDER)


def test_money_is_pusd_for_people_and_times_are_utc(sample_run: Path) -> None:
    page = (sample_run / "report.html").read_text()
    result = json.loads((sample_run / "result.json").read_text())
    # PnL with thousands separators and 2 decimals, the exact value as its tooltip
    assert f"title='{result['pnl_usd']} pUSD exactly'>" in page
    assert f"{float(result['pnl_usd']):,.2f} pUSD" in page
    assert result["currency"] == "pUSD"
    assert "USDT" not in page
    assert f"{result['events']:,}" in page
    start = utc_iso(result["first_event_ns"])
    assert f"{start[:10]} {start[11:23]} UTC" in page
    traces, layout = figure(page, "equity")
    assert layout["yaxis"]["title"]["text"] == "pUSD"
    assert traces[0]["x"][0] == f"{start[:10]} {start[11:23]}"


def test_refusal_table_equals_the_envelope_counts_by_bot_and_code(sample_run: Path) -> None:
    expected: Counter[tuple[str, str, str, str, str]] = Counter()
    refused_codes: Counter[str] = Counter()
    with (sample_run / "envelopes.jsonl").open() as stream:
        for line in stream:
            e = json.loads(line)
            if e["decision"] in PASSES:
                continue
            codes = e["reason_codes"] or ["UNSPECIFIED"]
            for code in codes:
                expected[(e["bot_id"], e["bot_class"], e["mode"], e["decision"], code)] += 1
            if e["decision"] in REFUSALS:
                refused_codes.update(codes)
    result = json.loads((sample_run / "result.json").read_text())
    # what the venue refused is the rest of `rejections` (venue + envelope refusals)
    for code, count in result["rejections"].items():
        if count > refused_codes[code]:
            expected[("venue", "venue", "", "VENUE_REJECT", code)] = count - refused_codes[code]
    rows = tagged_rows((sample_run / "report.html").read_text(), "refusal")
    table = {
        (r["bot"], r["class"], r["mode"], r["decision"], r["code"]): int(r["count"]) for r in rows
    }
    assert len(rows) == len(table) == len(expected) > 0
    assert table == dict(expected)
    assert any(key[0] == "venue" for key in table)
    as_json = {
        (r["bot_id"], r["bot_class"], r["mode"], r["decision"], r["reason_code"]): r["count"]
        for r in result["refusals_by_bot"]
    }
    assert as_json == table
    # the reason-code chart is on a log axis and shows every code, the rarest included
    traces, layout = figure((sample_run / "report.html").read_text(), "reason-codes")
    assert layout["xaxis"]["type"] == "log"
    assert dict(zip(traces[0]["y"], traces[0]["x"], strict=True)) == result["reason_codes"]
    counts = result["reason_codes"].values()
    assert min(counts) < 10 and max(counts) > 10_000  # rare codes stay visible beside thousands


def test_token_selector_offers_every_token_with_fills(sample_run: Path) -> None:
    with (sample_run / "fills.csv").open() as stream:
        fills = Counter(f"{r['market_slug']} {r['outcome']}" for r in csv.DictReader(stream))
    traces, layout = figure((sample_run / "report.html").read_text(), "fills-on-book")
    buttons = layout["updatemenus"][0]["buttons"]
    offered = {b["label"] for b in buttons}
    assert offered == {f"{label} ({count:,} fills)" for label, count in fills.items()}
    # the first entry (shown on load) is the busiest token, and each entry shows its own traces
    busiest, count = fills.most_common(1)[0]
    assert buttons[0]["label"] == f"{busiest} ({count:,} fills)"
    assert len(traces) == 4 * len(buttons)
    for index, button in enumerate(buttons):
        shown = button["args"][0]["visible"]
        assert [i for i, v in enumerate(shown) if v] == list(range(4 * index, 4 * index + 4))
        marks = traces[4 * index + 2]["x"] + traces[4 * index + 3]["x"]
        label = button["label"].rsplit(" (", 1)[0]
        assert len(marks) == fills[label]
    assert all(len(t["x"]) <= TOP_OF_BOOK_POINTS for t in traces)


def test_a_kill_switch_trip_is_marked_on_the_equity_curve(
    tmp_path: Path, polymarket_sample: Path
) -> None:
    # the paper venue has no heartbeat; requiring one trips the kill switch at the first order
    risk: list[dict[str, Any]] = [{"id": bot_id} for bot_id in DEFAULT_RISK_ORDER]
    for entry in risk:
        if entry["id"] == "risk.killswitch":
            entry["config"] = {"venue_heartbeat_required": True}
    out = tmp_path / "halted"
    outcome = run_desk(
        data=polymarket_sample, desk_file=DeskFile.from_mapping({"risk": risk}), out_dir=out
    )
    assert outcome.desk_result.kill_switch_tripped
    result = json.loads((out / "result.json").read_text())
    trips = [e for e in result["desk_events"] if e["type"] == "kill_switch_tripped"]
    assert len(trips) == 1
    trip = trips[0]
    assert trip["reason_code"] == "RISK_KILLSWITCH_HEARTBEAT_LOST"
    assert trip["time_utc"] == utc_iso(trip["ts_event_ns"])
    page = (out / "report.html").read_text()
    when = f"{trip['time_utc'][:10]} {trip['time_utc'][11:23]}"
    assert f"KILL SWITCH TRIPPED at {when} UTC: RISK_KILLSWITCH_HEARTBEAT_LOST" in page
    traces, layout = figure(page, "equity")
    marks = {t["name"]: t for t in traces}
    assert marks["kill switch tripped"]["x"] == [when]
    assert marks["kill switch tripped"]["text"] == ["RISK_KILLSWITCH_HEARTBEAT_LOST"]
    assert marks["HALTED"]["text"] == ["RISK_KILLSWITCH_HEARTBEAT_LOST"]
    assert [s["x0"] for s in layout["shapes"]] == [when]  # the trip's vertical line
    # the equity line runs to the last event, not just to the last change of equity
    last = utc_iso(result["last_event_ns"])
    assert marks["equity"]["x"][-1] == f"{last[:10]} {last[11:23]}"
    rows = tagged_rows(page, "desk-event")
    assert [(int(r["ts-ns"]), r["code"]) for r in rows] == [
        (e["ts_event_ns"], e["reason_code"]) for e in result["desk_events"]
    ]


# ---------------------------------------------------------------------------- hand-made runs
def _page(tmp_path: Path, result: BacktestResult, config: dict[str, Any]) -> str:
    fills = [
        fill(0, "yes", Side.BUY, 450_000, 10 * MICROS, 0, maker=True),
        fill(5, "yes", Side.SELL, 480_000, 10 * MICROS, 0, maker=True),
        fill(6, "no", Side.BUY, 500_000, 1 * MICROS, 0, maker=False),
    ]
    path = tmp_path / "report.html"
    write_report(
        path,
        result=result,
        equity_curve=[(0, 100 * MICROS), (5, 100_300_000)],
        fills=fills,
        token_labels={"yes": "btc Up", "no": "btc Down"},
        top_of_book={"yes": [(0, 440_000, 460_000), (5, 470_000, None)]},
        chosen_token=None,
        config=config,
    )
    return path.read_text()


def test_pessimistic_bound_no_risk_banner_and_user_strategy(tmp_path: Path) -> None:
    result = msgspec.structs.replace(
        result_for(RESOLVED, []),
        fill_model=FillModel.of(PaperVenueConfig(queue_model="pessimistic")),
    )
    config = {
        "strategies": [{"id": "strat.mine", "mode": "SHADOW", "source": "mine.py:Mine"}],
        "risk": [],
        "execution": [{"id": "exec.smartrouter", "mode": "ENFORCED"}],
    }
    page = _page(tmp_path, result, config)
    assert "These figures are an PESSIMISTIC bound" not in page
    assert "These figures are a PESSIMISTIC bound: maker fills only from recorded trades" in page
    assert "queue model <b>pessimistic</b>" in page
    assert "<table class='bounds'>" not in page  # bounds not computed for this result
    assert "NO RISK BOTS: this desk ran with an empty risk list" in page
    assert "<code>strat.mine</code></td><td>SHADOW</td><td>mine.py:Mine</td>" in page
    shadow_only = {**config, "risk": [{"id": "risk.killswitch", "mode": "SHADOW"}]}
    assert "NO RISK BOT ENFORCED" in _page(tmp_path, result, shadow_only)


def test_desk_events_and_quarantines_are_bannered(tmp_path: Path) -> None:
    reducing = TradingStateChanged(
        ts_event_ns=3,
        ts_recv_ns=3,
        old_state=TradingState.ACTIVE,
        new_state=TradingState.REDUCING,
        reason_code="RISK_DRAWDOWN_REDUCE",
        source="risk.drawdownguard",
    )
    trip = KillSwitchTripped(
        ts_event_ns=4, ts_recv_ns=4, reason_code="SYS_KILL_SWITCH_TRIPPED", source="operator:ann"
    )
    result = msgspec.structs.replace(result_for(RESOLVED, []), desk_events=[reducing, trip])
    page = _page(tmp_path, result, {"risk": [{"id": "risk.killswitch"}]})
    assert "Desk went REDUCING at 1970-01-01 00:00:00.000 UTC: RISK_DRAWDOWN_REDUCE" in page
    assert "KILL SWITCH TRIPPED at 1970-01-01 00:00:00.000 UTC: SYS_KILL_SWITCH_TRIPPED" in page
    traces, _ = figure(page, "equity")
    assert {t["name"] for t in traces} == {"equity", "REDUCING", "kill switch tripped"}


def test_money_text_and_selector_helpers() -> None:
    assert money_text(1_234_567_890_125, "pUSD") == "1,234,567.89 pUSD"
    assert money_text(-5_000, "pUSD") == "-0.00 pUSD"
    assert money_text(2_005_000, "USDT") == "2.00 USDT"  # half-even on the exact decimal
    fills = [fill(i, t, Side.BUY, 1, 1, 0, True) for i, t in enumerate("abbcc")]
    assert selector_tokens(fills, None) == ["b", "c", "a"]
    assert selector_tokens(fills, "z") == ["z", "b", "c", "a"]


series_strategy = st.lists(
    st.tuples(st.integers(0, 10**6), st.none() | st.integers(1, 99), st.integers(1, 99)),
    max_size=400,
).map(lambda points: sorted(points, key=lambda p: p[0]))


@given(series_strategy, st.integers(2, 60))
def test_thinning_keeps_exact_points_and_hides_no_change_longer_than_a_bucket(
    series: list[TopOfBook], max_points: int
) -> None:
    kept = thin_top_of_book(series, max_points)
    if len(series) <= max_points:
        assert kept == series
        return
    assert len(kept) <= max_points
    assert kept[0] is series[0] and kept[-1] is series[-1]
    positions = [next(i for i, p in enumerate(series) if p is k) for k in kept]
    assert positions == sorted(set(positions))  # an ordered subsequence of the input
    buckets = max_points // 2
    span = series[-1][0] - series[0][0] + 1
    for (a, b), (i, j) in zip(pairwise(kept), pairwise(positions), strict=True):
        if j > i + 1:  # points were skipped between a and b: all inside one bucket
            assert (b[0] - a[0]) * buckets < span


@given(series_strategy)
def test_a_recorded_series_reads_back_as_observed_while_it_fits(series: list[TopOfBook]) -> None:
    tops = TopOfBookSeries()
    expected: list[TopOfBook] = []
    for ts, bid, ask in series:
        if not expected or expected[-1][1:] != (bid, ask):
            expected.append((ts, bid, ask))
        tops.observe("t", ts, bid, ask)
    assert list(tops.series.get("t", ())) == expected == tops.copy().get("t", [])


def test_a_long_series_is_thinned_as_it_grows_and_counts_every_change() -> None:
    """Beyond KEPT_POINTS the series is thinned on the way (exact points, first and last
    kept), so a token of a long run holds a bounded number of points."""
    tops = TopOfBookSeries()
    changes = 5 * KEPT_POINTS + 7
    for k in range(changes):
        tops.observe("t", k * 1_000, 400_000 + k % 50, None if k % 3 == 0 else 600_000)
        assert len(tops.series["t"]) <= KEPT_POINTS
    points = tops.series["t"]
    assert points.observed == changes
    assert points[0] == (0, 400_000, None) and points[-1][0] == (changes - 1) * 1_000
    for ts, bid, ask in points:  # every kept point is one that was observed
        k = ts // 1_000
        assert (bid, ask) == (400_000 + k % 50, None if k % 3 == 0 else 600_000)


@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(-(10**9), 10**9)), max_size=400).map(
        lambda points: sorted(points, key=lambda p: p[0])
    ),
    st.integers(4, 60),
)
def test_equity_thinning_keeps_exact_points_and_every_extreme(
    curve: list[tuple[int, int]], max_points: int
) -> None:
    kept = thin_equity(curve, max_points)
    if len(curve) <= max_points:
        assert kept == curve
        return
    assert len(kept) <= max_points
    assert kept[0] is curve[0] and kept[-1] is curve[-1]
    positions = [next(i for i, p in enumerate(curve) if p is k) for k in kept]
    assert positions == sorted(set(positions))  # an ordered subsequence of the input
    values = [e for _, e in kept]
    assert min(values) == min(e for _, e in curve) and max(values) == max(e for _, e in curve)


def test_the_selector_shows_the_tokens_with_most_fills_and_says_so(tmp_path: Path) -> None:
    """A run with more tokens with fills than the selector holds: the page draws the
    SELECTOR_TOKENS with most fills (also in the inventory plot) and says how many there are."""
    tokens = [f"t{k:03d}" for k in range(SELECTOR_TOKENS + 5)]
    counts = [k + 1 for k in range(len(tokens))]  # more fills for later tokens
    fills = [
        fill(sum(counts[:k]) + n, token, Side.BUY, 500_000, MICROS, 0, maker=True)
        for k, token in enumerate(tokens)
        for n in range(counts[k])
    ]
    result = result_for(RESOLVED, [])
    write_report(
        tmp_path / "report.html",
        result=result,
        equity_curve=[(0, 100), (1, 90)],
        fills=fills,
        token_labels={t: t for t in tokens},
        top_of_book={},
        chosen_token=None,
        config={},
    )
    page = (tmp_path / "report.html").read_text()
    assert f"The {SELECTOR_TOKENS:,} tokens with most fills of the {len(tokens):,}" in page
    _, layout = figure(page, "fills-on-book")
    labels = [b["label"].split(" (")[0] for b in layout["updatemenus"][0]["buttons"]]
    assert labels == tokens[::-1][:SELECTOR_TOKENS]
    traces, _ = figure(page, "inventory")
    assert {t["name"] for t in traces} == set(labels)
