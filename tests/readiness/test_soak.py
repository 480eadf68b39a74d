"""The paper-soak validator (issue 15 item 5) on a real recorded run: the main job's backtest of
the shipped Polymarket sample into a temporary store. Every KPI is recomputed here from the
run's own outputs (fills.csv, envelopes.jsonl, the store's rows read with plain SQL, the
recorded books looked up by bisection), not by calling the validator's functions."""

from __future__ import annotations

import csv
import itertools
import json
import sqlite3
from bisect import bisect_left, bisect_right
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.commands.soak import app as soak_app
from polytraders.feeds import open_source
from polytraders.feeds.books import BookSet
from polytraders.model.money import to_micros
from polytraders.readiness.evidence import ItemStatus
from polytraders.readiness.soak import (
    SoakThresholds,
    load_thresholds,
    soak_kpis,
)
from polytraders.readiness.soak_inputs import SoakData, SoakRun
from polytraders.store.records import RunRecord, RunStatus

runner = CliRunner()
S = 1_000_000_000


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(soak_app, name="soak")

    @app.command()
    def version() -> None:  # a second command keeps ``soak`` a sub-command
        """Unused."""

    return app


class Recorded:
    """The recorded run: its id, store file, output folder and data."""

    def __init__(self, run_id: str, store: Path, out: Path, data: Path) -> None:
        self.run_id, self.store, self.out, self.data = run_id, store, out, data


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, polymarket_sample: Path) -> Recorded:
    root = tmp_path_factory.mktemp("soak")
    store = root / "desk.sqlite"
    outcome = run_desk(
        data=polymarket_sample,
        desk_file=DeskFile(),
        out_dir=root / "out",
        store_url=str(store),
        fill_bounds=False,
    )
    assert outcome.status is RunStatus.COMPLETED
    return Recorded(outcome.result.run_id, store, root / "out", polymarket_sample)


@pytest.fixture(scope="module")
def report(recorded: Recorded) -> dict[str, Any]:
    completed = runner.invoke(
        _cli(), ["soak", "validate", recorded.run_id, "--store", str(recorded.store), "--json"]
    )
    assert completed.exit_code in (0, 1), completed.output
    document: dict[str, Any] = json.loads(completed.output)
    assert (completed.exit_code == 0) is document["passed"]
    return document


def _kpi(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [k for k in report["kpis"] if k["name"] == name]
    return found


def _fills(recorded: Recorded) -> list[dict[str, Any]]:
    rows = []
    with (recorded.out / "fills.csv").open(newline="") as stream:
        for row in csv.DictReader(stream):
            rows.append(
                {
                    "order": row["client_order_id"],
                    "ts": int(row["ts_event_ns"]),
                    "market": row["market_id"],
                    "token": row["token_id"],
                    "outcome": row["outcome"],
                    "sign": 1 if row["side"] == "BUY" else -1,
                    "maker": row["liquidity"] == "MAKER",
                    "price": to_micros(row["price_pusd"]),
                    "size": to_micros(row["size_shares"]),
                }
            )
    return rows


def _orders(recorded: Recorded) -> dict[str, str]:
    """client order id → last recorded status (plain SQL)."""
    with sqlite3.connect(recorded.store) as db:
        rows = db.execute(
            "SELECT client_order_id, status FROM orders WHERE run_id = ? ORDER BY row_id",
            (recorded.run_id,),
        ).fetchall()
    last: dict[str, str] = {}
    for order, status in rows:
        last[order] = status
    return last


def test_the_main_jobs_run_is_validated_with_its_figures(
    recorded: Recorded, report: dict[str, Any]
) -> None:
    assert report["run"] == f"{recorded.run_id}@1"
    assert report["data_verified"] is True
    names = [k["name"] for k in report["kpis"]]
    assert names == [
        "fill_rate", "maker_share", "spread_capture", "adverse_selection_1s",
        "adverse_selection_5s", "adverse_selection_30s", "inventory_excursion", "reject_rate",
        "uptime",
    ]  # fmt: skip
    fills, orders = _fills(recorded), _orders(recorded)
    assert len(fills) > 1_000

    sent = len(orders)
    rejected = sum(status == "REJECTED" for status in orders.values())
    with_fill = {f["order"] for f in fills}
    filled = sum(1 for o, s in orders.items() if o in with_fill and s != "REJECTED")
    assert _kpi(report, "fill_rate")["figures"] == {
        "orders_sent": sent,
        "orders_accepted": sent - rejected,
        "orders_filled": filled,
    }
    assert _kpi(report, "reject_rate")["figures"] == {
        "orders_sent": sent,
        "orders_rejected": rejected,
    }
    assert _kpi(report, "reject_rate")["value"] == f"{rejected * 100 / sent:.2f} %"

    notional = [f["price"] * f["size"] // 1_000_000 for f in fills]
    maker = sum(n for n, f in zip(notional, fills, strict=True) if f["maker"])
    figures = _kpi(report, "maker_share")["figures"]
    assert (figures["notional_micros"], figures["maker_notional_micros"]) == (sum(notional), maker)


def _tops(data: Path) -> tuple[dict[str, tuple[list[int], list[int | None]]], int]:
    """Per token: the times of its book events and the doubled mid after each (None when a
    side is empty); and the data's last event time."""
    source = open_source(data)
    books = BookSet()
    series: dict[str, tuple[list[int], list[int | None]]] = defaultdict(lambda: ([], []))
    last = 0
    for event in source.events():
        books.apply(event)
        last = event.ts_event_ns
        token = getattr(event, "token_id", None)
        if token is None or token not in books.books:
            continue
        book = books.books[token]
        bid, ask = book.best_bid(), book.best_ask()
        times, mids = series[token]
        times.append(event.ts_event_ns)
        mids.append(None if bid is None or ask is None else bid + ask)
    return dict(series), last


def _mid_before(series: tuple[list[int], list[int | None]], ts: int) -> int | None:
    i = bisect_left(series[0], ts) - 1
    return series[1][i] if i >= 0 else None


def _mid_at(series: tuple[list[int], list[int | None]], ts: int) -> int | None:
    i = bisect_right(series[0], ts) - 1
    return series[1][i] if i >= 0 else None


def test_spread_capture_and_adverse_selection_against_the_recorded_books(
    recorded: Recorded, report: dict[str, Any]
) -> None:
    tops, last = _tops(recorded.data)
    ends = {m.market_id: m.end_ns for m in open_source(recorded.data).markets}
    fills = _fills(recorded)
    capture, capture_notional = 0, 0
    for fill in fills:
        before = _mid_before(tops[fill["token"]], fill["ts"])
        assert before is not None  # every fill of the sample has a two-sided book before it
        capture += fill["sign"] * (before - 2 * fill["price"]) * fill["size"]
        capture_notional += fill["price"] * fill["size"] // 1_000_000
    spread = _kpi(report, "spread_capture")
    assert spread["figures"]["capture_micros"] == capture // 2_000_000
    assert spread["figures"]["notional_micros"] == capture_notional
    assert spread["status"] == ("PASS" if capture >= 0 else "FAIL")
    for horizon in (1, 5, 30):
        adverse, kept_capture, measured, notional = 0, 0, 0, 0
        for fill in fills:
            at = fill["ts"] + horizon * S
            before = _mid_before(tops[fill["token"]], fill["ts"])
            after = _mid_at(tops[fill["token"]], at)
            if after is None or before is None or at >= ends[fill["market"]] or at > last:
                continue
            measured += 1
            notional += fill["price"] * fill["size"] // 1_000_000
            adverse += fill["sign"] * (before - after) * fill["size"]
            kept_capture += fill["sign"] * (before - 2 * fill["price"]) * fill["size"]
        kpi = _kpi(report, f"adverse_selection_{horizon}s")
        assert kpi["figures"] == {
            "horizon_s": horizon,
            "fills_measured": measured,
            "fills_unmeasured": len(fills) - measured,
            "notional_micros": notional,
            "adverse_micros": adverse // 2_000_000,
            "capture_micros": kept_capture // 2_000_000,
            "spread_kept_micros": (kept_capture - adverse) // 2_000_000,
        }
        assert kpi["status"] == ("PASS" if adverse * 100 <= 100 * kept_capture else "FAIL")
    # horizons that pass their market's end are left out: 30 s leaves out more than 1 s
    assert (
        _kpi(report, "adverse_selection_30s")["figures"]["fills_unmeasured"]
        > _kpi(report, "adverse_selection_1s")["figures"]["fills_unmeasured"]
    )


def test_inventory_excursion_from_the_fills(recorded: Recorded, report: dict[str, Any]) -> None:
    net: dict[str, int] = defaultdict(int)
    peak: dict[str, int] = defaultdict(int)
    for fill in sorted(_fills(recorded), key=lambda f: f["ts"]):
        yes = 1 if fill["outcome"] == "Up" else -1  # buying Down is selling Up
        net[fill["market"]] += yes * fill["sign"] * fill["size"]
        peak[fill["market"]] = max(peak[fill["market"]], abs(net[fill["market"]]))
    kpi = _kpi(report, "inventory_excursion")
    assert kpi["figures"]["max_abs_micros"] == max(peak.values())
    assert kpi["figures"]["markets"] == len(peak)
    assert kpi["status"] == ("PASS" if max(peak.values()) <= 100_000_000 else "FAIL")


def test_uptime_from_the_envelope_times(recorded: Recorded, report: dict[str, Any]) -> None:
    times = sorted(
        json.loads(line)["ts_event_ns"] for line in (recorded.out / "envelopes.jsonl").open()
    )
    with sqlite3.connect(recorded.store) as db:
        (ended,) = db.execute(
            "SELECT ended_ns FROM run_ends WHERE run_id = ?", (recorded.run_id,)
        ).fetchone()
    markets = open_source(recorded.data).markets
    start, end = times[0], max(ended, times[-1])
    # trading time second by second (the sample's windows are whole seconds)
    trading = set()
    for market in markets:
        trading.update(range(max(market.start_ns, start) // S, min(market.end_ns, end) // S))
    down = set()
    edges = [start, *times, end]
    for a, b in itertools.pairwise(edges):
        if b - a > 60 * S:
            down.update(range(-(-a // S), b // S))
    kpi = _kpi(report, "uptime")
    assert kpi["figures"]["trading_ns"] == len(trading) * S
    assert kpi["figures"]["down_ns"] == len(trading & down) * S
    assert kpi["figures"]["halted_from_ns"] == 0


def test_the_thresholds_decide_pass_or_fail(recorded: Recorded, tmp_path: Path) -> None:
    strict = load_thresholds().model_dump()
    strict["maker_share_min_bps"] = 10_000
    strict["reject_rate_max_bps"] = 0
    strict["inventory_max_abs_micros"] = 1_000_000
    path = tmp_path / "strict.toml"
    path.write_text("\n".join(f"{k} = {v}" for k, v in strict.items()) + "\n")
    completed = runner.invoke(
        _cli(),
        [
            "soak", "validate", recorded.run_id, "--store", str(recorded.store),
            "--thresholds", str(path), "--json",
        ],
    )  # fmt: skip
    assert completed.exit_code == 1, completed.output
    document = json.loads(completed.output)
    failed = {k["name"] for k in document["kpis"] if k["status"] == "FAIL"}
    # the sample's run makes every fill as maker (100 % passes 100 %), rejects some orders and
    # holds more than one share somewhere
    assert failed == {"reject_rate", "inventory_excursion"}
    assert _kpi(document, "inventory_excursion")["figures"]["excursions_above_cap"] >= 1


def test_data_that_are_not_the_runs_are_refused(recorded: Recorded) -> None:
    completed = runner.invoke(
        _cli(),
        [
            "soak", "validate", recorded.run_id, "--store", str(recorded.store),
            "--data", "synthetic:normal?seed=1&markets=1",
        ],
    )  # fmt: skip
    assert completed.exit_code == 2
    assert "is not the data run" in " ".join(completed.output.split())


def test_unknown_run_and_bad_thresholds_are_refused(recorded: Recorded, tmp_path: Path) -> None:
    missing = runner.invoke(
        _cli(), ["soak", "validate", "run-0000000000000000", "--store", str(recorded.store)]
    )
    assert missing.exit_code == 2 and "not in the store" in missing.output
    bad = tmp_path / "bad.toml"
    bad.write_text("min_fills = 0\n")
    refused = runner.invoke(
        _cli(),
        ["soak", "validate", recorded.run_id, "--store", str(recorded.store), "--thresholds",
         str(bad)],
    )  # fmt: skip
    assert refused.exit_code == 2


# ---------------------------------------------------------------------------- fail closed
def _record(**changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "run_id": "run-x",
        "attempt": 1,
        "started_ns": 0,
        "ended_ns": 1_000 * S,
        "started_wall_ns": 0,
        "ended_wall_ns": 0,
        "seed": 7,
        "desk_config_json": "{}",
        "desk_config_version": "v",
        "data_source": "d",
        "synthetic": False,
        "status": RunStatus.COMPLETED,
        "detail": "",
        "lease": None,
        "abandoned": "",
        **changes,
    }
    return RunRecord(**fields)


def _thresholds() -> SoakThresholds:
    return load_thresholds()


def test_a_run_without_fills_or_orders_fails_every_kpi_it_cannot_measure() -> None:
    run = SoakRun(
        record=_record(),
        ref="run-x@1",
        fills=(),
        orders={},
        decision_ns=tuple(range(0, 1_001 * S, 10 * S)),
        first_halt_ns=None,
    )
    data = SoakData(location="d", verified=True, note="", markets=(), mids={})
    kpis = {k.name: k for k in soak_kpis(run, data, _thresholds(), store_url="s")}
    for name in (
        "fill_rate", "maker_share", "spread_capture", "adverse_selection_1s",
        "adverse_selection_5s", "adverse_selection_30s", "inventory_excursion", "reject_rate",
    ):  # fmt: skip
        assert kpis[name].status is ItemStatus.FAIL, name
    assert kpis["uptime"].status is ItemStatus.PASS  # it decided every 10 s
    assert "fewer than 30" in kpis["maker_share"].detail
    assert "no accepted order" in kpis["fill_rate"].detail


def test_halts_and_silences_are_downtime() -> None:
    decisions = tuple(range(0, 1_001 * S, 10 * S))  # every 10 s for 1,000 s
    halted = SoakRun(
        record=_record(),
        ref="run-x@1",
        fills=(),
        orders={},
        decision_ns=decisions,
        first_halt_ns=995 * S,
    )
    data = SoakData(location="d", verified=True, note="", markets=(), mids={})
    uptime = soak_kpis(halted, data, _thresholds(), store_url="s")[-1]
    assert uptime.figures["down_ns"] == 5 * S  # the last 5 s of 1,000: 99.5 % up
    assert uptime.status is ItemStatus.PASS
    quiet = SoakRun(
        record=_record(),
        ref="run-x@1",
        fills=(),
        orders={},
        decision_ns=(0, *range(100 * S, 1_001 * S, 10 * S)),  # silent for the first 100 s
        first_halt_ns=None,
    )
    uptime = soak_kpis(quiet, data, _thresholds(), store_url="s")[-1]
    assert uptime.figures["down_ns"] == 100 * S
    assert uptime.status is ItemStatus.FAIL  # 90 % up
    failed = SoakRun(
        record=_record(status=RunStatus.FAILED, detail="boom"),
        ref="run-x@1",
        fills=(),
        orders={},
        decision_ns=decisions,
        first_halt_ns=None,
    )
    assert soak_kpis(failed, data, _thresholds(), store_url="s")[-1].status is ItemStatus.FAIL
