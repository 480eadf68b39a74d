"""``polytraders fills calibrate``: the queue model fitted to a recorded session.

No live session is recorded in this repository, so the ground truth is built: a paper session
whose venue used the ``probabilistic`` model with ``power`` n = 3, on a synthetic feed without
public trades (``trade_prob=0``: maker fills come from book decreases, where the queue models
differ). Calibrating on that session must find n = 3 with no error at all (the replay sends the
same orders at the same times, with the recorded latencies, over the same feed) and every other
candidate must be further off.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.cli import app
from polytraders.commands.fills import _base_config
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.venues.paper import PaperVenueConfig
from polytraders.venues.paper.calibrate import POWER_GRID, candidates, recorded_orders

MS = 1_000_000
SESSION = "synthetic:normal?seed=5&markets=3&duration_s=1800&trade_prob=0"
TRUTH = """
[venue]
queue_model = "probabilistic"
queue_function = "power"
queue_power_n = 3.0
"""


def _state(cid: str, status: OrderStatus, created_ms: int, updated_ms: int, filled: int = 0):
    return VenueOrder(
        client_order_id=cid,
        intent_id=f"i-{cid}",
        token_id="t",
        market_id="m",
        side=Side.BUY,
        price=440_000,
        size=10_000_000,
        time_in_force=TimeInForce.GTC,
        status=status,
        filled_size=filled,
        ts_created_ns=created_ms * MS,
        ts_updated_ns=updated_ms * MS,
    )


def test_recorded_orders_are_what_the_desk_sent_with_their_latencies() -> None:
    states = [
        _state("sent", OrderStatus.PENDING_NEW, 1_000, 1_000),
        _state("refused", OrderStatus.REJECTED, 1_000, 1_000),  # the desk's own refusal
        _state("held", OrderStatus.PENDING_NEW, 1_100, 1_100),
        _state("sent", OrderStatus.ACCEPTED, 1_000, 1_250),
        _state("held", OrderStatus.CANCELED, 1_100, 1_300),  # withdrawn before it went out
        _state("late", OrderStatus.PENDING_NEW, 1_200, 1_200),
        _state("sent", OrderStatus.PENDING_CANCEL, 1_000, 2_000),
        _state("late", OrderStatus.ACCEPTED, 1_500, 1_800),  # held, sent at 1.5 s
        _state("sent", OrderStatus.CANCELED, 1_000, 2_250),
        _state("late", OrderStatus.FILLED, 1_500, 3_000, filled=10_000_000),
    ]
    sent = recorded_orders(states)
    assert [r.order.client_order_id for r in sent] == ["sent", "late"]
    first, late = sent
    assert (first.sent_ns, first.cancel_ns) == (1_000 * MS, 2_000 * MS)
    assert (first.latency.entry_ns, first.latency.cancel_ns) == (250 * MS, 250 * MS)
    assert (late.sent_ns, late.cancel_ns, late.latency.entry_ns) == (1_500 * MS, None, 300 * MS)
    assert late.latency.cancel_ns is None  # never cancelled: the constant applies


def test_candidates_span_both_bounds_and_every_power_of_the_grid() -> None:
    names = [name for name, _ in candidates(PaperVenueConfig(order_latency_ms=10))]
    assert names[0] == "pessimistic" and names[-1] == "l2_inference"
    assert "probabilistic (log)" in names
    assert [f"probabilistic (power, n = {n:g})" for n in POWER_GRID] == [
        n for n in names if "power" in n
    ]
    assert all(
        c.order_latency_ms == 10 for _, c in candidates(PaperVenueConfig(order_latency_ms=10))
    )


@pytest.mark.slow
def test_calibration_finds_the_queue_model_a_session_really_had(tmp_path: Path) -> None:
    store = tmp_path / "desk.sqlite"
    desk = DeskFile.from_mapping(tomllib.loads(TRUTH))
    outcome = run_desk(data=SESSION, desk_file=desk, store_url=str(store), fill_bounds=False)
    assert outcome.result.money.maker_fills > 10  # a session with maker fills to fit
    answer = CliRunner().invoke(
        app,
        ["fills", "calibrate", "--run", outcome.result.run_id, "--store", str(store), "--json"],
    )
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.output)
    best = document["best"]
    assert best["settings"] == {
        "queue_model": "probabilistic",
        "queue_function": "power",
        "queue_power_n": 3.0,
    }
    assert best["error_shares"] == "0"
    assert best["predicted_maker_shares"] == best["real_maker_shares"] != "0"
    others = document["ranking"][1:]
    assert len(others) == len(candidates(PaperVenueConfig())) - 1
    assert all(fit["error_shares"] != "0" for fit in others)
    # the table names the best fit and its [venue] settings
    table = CliRunner().invoke(
        app, ["fills", "calibrate", "--run", outcome.result.run_id, "--store", str(store)]
    )
    assert "best fit: probabilistic (power, n = 3)" in table.output
    assert "queue_power_n = 3.0" in table.output


def test_calibrate_refuses_an_unknown_run_and_a_session_without_its_recording(
    tmp_path: Path,
) -> None:
    store = tmp_path / "desk.sqlite"
    outcome = run_desk(
        data="synthetic:normal?seed=1&markets=1&duration_s=120",
        desk_file=DeskFile(),
        store_url=str(store),
        fill_bounds=False,
    )
    runner = CliRunner()
    unknown = runner.invoke(app, ["fills", "calibrate", "--run", "run-nope", "--store", str(store)])
    assert unknown.exit_code == 2
    assert "no such run" in unknown.output
    missing = runner.invoke(
        app,
        [
            "fills",
            "calibrate",
            "--run",
            outcome.result.run_id,
            "--store",
            str(store),
            "--data",
            str(tmp_path / "no-such-recording.jsonl"),
        ],
    )
    assert missing.exit_code == 2
    assert "no-such-recording" in missing.output


def test_the_base_settings_come_from_the_sessions_desk_file() -> None:
    paper = {"venue": {"order_latency_ms": 40, "queue_model": "l2_inference", "gone": 1}}
    assert _base_config(paper).order_latency_ms == 40  # queue settings are what is fitted
    node = {"desk": paper, "venue": {"order_latency_ms": 999}, "reconciliation": {}}
    assert _base_config(node).order_latency_ms == 40  # the node's desk file, not its CLOB venue
    assert _base_config({}) == PaperVenueConfig()
