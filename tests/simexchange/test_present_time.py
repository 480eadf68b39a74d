"""The present-time replay: the recording served as if it were happening now (every time the
simulator serves shifted by one offset, exactly) and released at its recorded pace. The
server's clock is injected (:class:`StepClock`): the test moves it and waits, with deadlines,
for the replay to have read the new time — no sleeps."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.waiting import wait_until
from typer.testing import CliRunner
from websockets.sync.client import connect

from polytraders.cli import app
from polytraders.model.money import MICROS
from polytraders.simexchange.engine import ExchangeSettings, FuturesExchange
from polytraders.simexchange.replay import default_recording_path, load_recording
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key

MS = 1_000_000
RECORDING = load_recording(default_recording_path())
FIRST_MS = RECORDING.steps[0].depth.ts_event_ns // MS
SPOT = load_recording(default_recording_path("spot"))
FUNDING_MS = 1_723_161_600_000
"""2024-08-09 00:00 UTC: the funding time the recording crosses."""


class StepClock:
    """A clock the test sets; counts its reads (the replay reads it once a round)."""

    def __init__(self, now_ns: int) -> None:
        self._now_ns = now_ns
        self._lock = threading.Lock()
        self.reads = 0

    def __call__(self) -> int:
        with self._lock:
            self.reads += 1
            return self._now_ns

    def set(self, now_ns: int) -> None:
        """Move to ``now_ns`` and return once the replay has read it (two reads later: one
        whole round of the replay loop saw it)."""
        with self._lock:
            self._now_ns = now_ns
            seen = self.reads + 2
        wait_until(lambda: self.reads >= seen, 10, "the replay to read the clock")


def test_a_session_started_at_a_time_shifts_every_market_time_exactly() -> None:
    start_ms = 1_900_000_000_123
    offset_ms = start_ms - FIRST_MS
    ex = FuturesExchange(RECORDING, ExchangeSettings())
    ex.restart(ExchangeSettings(), start_ms=start_ms)
    assert ex.offset_ms == offset_ms and ex.last_event_ms == start_ms
    assert ex.book.last_update_ns == start_ms * MS
    ex.seed_position(10_000, 618_000 * MICROS // 1_000)  # 0.01 BTC long: it pays funding
    assert ex.replay_until(start_ms * MS) == 2  # steps 1 and 2 share the snapshot's time
    ex.drain()
    later = RECORDING.steps[3].depth.ts_event_ns
    assert ex.next_step_ns() == later + offset_ms * MS
    assert ex.replay_until(later + offset_ms * MS - 1) == 0  # not due a nanosecond early
    assert ex.replay_until(later + offset_ms * MS) == 1
    (event,) = ex.drain()
    assert event["E"] == event["T"] == later // MS + offset_ms
    assert ex.next_funding_ms(ex.last_event_ms) == FUNDING_MS + offset_ms
    ex.replay_until(RECORDING.steps[-1].depth.ts_event_ns + offset_ms * MS)
    assert ex.next_step_ns() is None
    (income,) = ex.incomes  # the recording's 00:00 funding, at its shifted time
    assert income.time_ms == FUNDING_MS + offset_ms and income.amount < 0


@pytest.fixture
def clock() -> StepClock:
    return StepClock(time.time_ns())


@pytest.fixture
def sim(clock: StepClock) -> Iterator[SimExchangeServer]:
    settings = SimExchangeSettings(present_time=True)
    with SimExchangeServer(settings, throwaway_key(), clock_ns=clock) as server:
        yield server


def test_events_are_released_at_their_recorded_pace_in_present_time(
    sim: SimExchangeServer, clock: StepClock
) -> None:
    start_ms = clock() // MS
    offset_ms = start_ms - FIRST_MS
    state = sim.sim_state()
    assert state["time_offset_ms"] == offset_ms
    assert state["cursor"] == 3  # the snapshot and the two deltas of its millisecond
    steps = RECORDING.steps
    assert steps[5].depth.ts_event_ns > steps[4].depth.ts_event_ns
    clock.set(steps[5].depth.ts_event_ns + offset_ms * MS - 1)
    assert sim.exchange.cursor == 5  # steps 3 and 4 released, step 5 due a nanosecond later
    clock.set(steps[5].depth.ts_event_ns + offset_ms * MS)
    assert sim.exchange.cursor == 6
    assert steps[401].depth.ts_event_ns > steps[400].depth.ts_event_ns
    later = steps[400].depth.ts_event_ns + offset_ms * MS  # the clock jumps: a catch-up
    clock.set(later)
    assert sim.exchange.cursor == 401
    with httpx.Client(base_url=sim.url) as client:
        depth = client.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 5}).json()
        server_ms = client.get("/fapi/v1/time").json()["serverTime"]
        premium = client.get("/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"}).json()
    assert depth["E"] == depth["T"] == later // MS == steps[400].depth.ts_event_ns // MS + offset_ms
    assert server_ms == later // MS  # the server's clock
    assert premium["nextFundingTime"] == FUNDING_MS + offset_ms
    assert premium["time"] == server_ms


def test_present_time_refuses_stepping_by_hand(sim: SimExchangeServer, clock: StepClock) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        sim.step(1)
    assert caught.value.response.status_code == 409
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sim.session(wallet_micros=1_000 * MICROS, until_ns=RECORDING.steps[9].depth.ts_event_ns)
    assert refused.value.response.status_code == 400
    clock.set(clock() + 60_000 * MS)
    restarted_ms = clock() // MS
    assert sim.session(wallet_micros=1_000 * MICROS)["cursor"] == 1  # a new session: from now
    clock.set(restarted_ms * MS)
    assert sim.exchange.cursor == 3
    assert sim.sim_state()["time_offset_ms"] == restarted_ms - FIRST_MS
    with pytest.raises(ValueError, match="present_time"):
        SimExchangeServer(SimExchangeSettings(present_time=True, replay_interval_ms=100),
                          throwaway_key())  # fmt: skip


def test_the_spot_market_replays_in_present_time_from_the_same_core(clock: StepClock) -> None:
    """The offset lives in the shared matching core: spot serves its recording from now,
    paced and stamped by the server's clock, ``/sim/step`` refused, a session restarted from
    now."""
    first_ms = SPOT.steps[0].depth.ts_event_ns // MS
    settings = SimExchangeSettings(market="spot", present_time=True)
    with (
        SimExchangeServer(settings, throwaway_key(), clock_ns=clock) as sim,
        httpx.Client(base_url=sim.url) as client,
    ):
        offset_ms = clock() // MS - first_ms
        assert sim.sim_state()["time_offset_ms"] == offset_ms
        with connect(f"{sim.ws_url}/ws/btcusdt@depth@100ms") as ws:
            wait_until(lambda: sim.sim_state()["ws_connections"] == 1, 10, "the websocket")
            due_ns = SPOT.steps[sim.exchange.cursor].depth.ts_event_ns + offset_ms * MS
            clock.set(due_ns)
            event = json.loads(ws.recv(timeout=5))
        assert event["E"] == due_ns // MS
        assert sim.exchange.last_event_ms == due_ns // MS
        assert client.get("/api/v3/time").json()["serverTime"] == due_ns // MS
        with pytest.raises(httpx.HTTPStatusError) as caught:
            sim.step(1)
        assert caught.value.response.status_code == 409
        with pytest.raises(httpx.HTTPStatusError) as refused:
            sim.spot_session(base_e8=0, quote_e8=0, until_ns=SPOT.steps[9].depth.ts_event_ns)
        assert refused.value.response.status_code == 400
        clock.set(clock() + 60_000 * MS)
        assert sim.spot_session(base_e8=0, quote_e8=0)["cursor"] == 1
        assert sim.sim_state()["time_offset_ms"] == clock() // MS - first_ms


def test_on_the_wall_clock_the_depth_stream_is_fresh() -> None:
    """Default clock: each ``depthUpdate``'s ``E`` is the wall clock's now within a margin
    (the event is sent when the clock reaches its shifted time)."""
    with (
        SimExchangeServer(SimExchangeSettings(present_time=True), throwaway_key()) as sim,
        connect(f"{sim.ws_url}/ws/btcusdt@depth@100ms") as ws,
    ):
        lags_ms = []
        for _ in range(20):
            event = json.loads(ws.recv(timeout=5))
            lags_ms.append(time.time_ns() // MS - event["E"])
    assert all(-5 <= lag < 500 for lag in lags_ms), lags_ms


def test_the_cli_refuses_an_interval_with_present_time() -> None:
    args = ["sim-exchange", "--present-time", "--replay-interval-ms", "50", "--port", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--replay-interval-ms: not with --present-time" in result.output
