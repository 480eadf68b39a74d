"""``polytraders record`` against the simulator: the market channel lands in the line format
and reads back through the market-data sources."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.feeds import open_source
from polytraders.feeds.lines import iter_raw_lines, split_line
from polytraders.feeds.polymarket_wire import parse_market_frame
from polytraders.model.events import BookDelta, BookSnapshot
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def sim() -> Iterator[SimClobServer]:
    with SimClobServer(SimSettings(limit_markets=1), account_for_key("0x" + "3e" * 32)) as s:
        yield s


def test_record_writes_replayable_lines(sim: SimClobServer, tmp_path: Path) -> None:
    out = tmp_path / "market.jsonl.gz"
    tokens = ",".join(sorted(sim.exchange.tokens))
    stepping = threading.Event()
    subscribed = sim.sim_state()["ws_subscriptions_total"]

    def step() -> None:
        # the recorder has subscribed: every frame the steps make reaches it
        wait_until(
            lambda: sim.sim_state()["ws_subscriptions_total"] > subscribed, 30, "the subscription"
        )
        for _ in range(10):
            sim.step(10)
        stepping.set()

    threading.Thread(target=step, daemon=True).start()
    result = CliRunner().invoke(
        app,
        [
            "record",
            "--out",
            str(out),
            "--tokens",
            tokens,
            "--ws-url",
            sim.ws_url + "/ws/market",
            "--duration-s",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert stepping.is_set()
    lines = list(iter_raw_lines(out))
    assert len(lines) >= 3
    events = []
    for line in lines:
        ts, frame = split_line(line)
        assert ts > 0
        events += parse_market_frame(frame, ts)
    assert sum(isinstance(e, BookSnapshot) for e in events) == 2
    assert any(isinstance(e, BookDelta) for e in events)
    source = open_source(out)
    replayed = list(source.events())
    assert any(isinstance(e, BookDelta) for e in replayed)
    assert source.stats.bad_input_total == 0
