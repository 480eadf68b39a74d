"""The simulator's control routes are not open to any web page: a cross-site "simple" request
(a form or text/plain POST, which a browser sends without a CORS preflight) is refused, and
so is any request without the control token printed at start."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from eth_account import Account as EthAccount

from polytraders.simclob.app import SimState
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key


@pytest.fixture(scope="module")
def sim() -> Iterator[SimClobServer]:
    key = "0x" + bytes(EthAccount.create().key).hex()
    with SimClobServer(SimSettings(limit_markets=1), account_for_key(key)) as server:
        yield server


@pytest.fixture
def raw(sim: SimClobServer) -> Iterator[httpx.Client]:
    """A client without the token, as a browser page posting cross-site would be."""
    with httpx.Client(base_url=sim.url, timeout=5.0) as client:
        yield client


def test_a_cross_site_text_plain_post_cannot_inject_a_fault(
    sim: SimClobServer, raw: httpx.Client
) -> None:
    plain = {"Content-Type": "text/plain"}
    answer = raw.post("/sim/fault", content=b'{"kind": "cancel_only"}', headers=plain)
    assert answer.status_code == 401
    answer = raw.post("/sim/fault", data={"kind": "cancel_only"})  # an HTML form post
    assert answer.status_code == 401
    with_token = {**plain, "Authorization": f"Bearer {sim.control_token}"}
    answer = raw.post("/sim/fault", content=b'{"kind": "cancel_only"}', headers=with_token)
    assert answer.status_code == 415
    assert sim.exchange.faults.cancel_only is False  # nothing was applied


def test_a_cross_site_post_cannot_step_the_replay(sim: SimClobServer, raw: httpx.Client) -> None:
    cursor = sim.sim_state()["cursor"]
    answer = raw.post("/sim/step", content=b'{"count": 5}', headers={"Content-Type": "text/plain"})
    assert answer.status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert raw.post("/sim/step", json={"count": 5}, headers=wrong).status_code == 401
    assert raw.get("/sim/state").status_code == 401
    assert sim.sim_state()["cursor"] == cursor


def test_the_token_and_json_drive_the_simulator(sim: SimClobServer, raw: httpx.Client) -> None:
    token = {"Authorization": f"Bearer {sim.control_token}"}
    answer = raw.post("/sim/fault", json={"kind": "closed_only"}, headers=token)
    assert answer.status_code == 200 and sim.exchange.faults.closed_only is True
    assert raw.post("/sim/fault", json={"kind": "clear"}, headers=token).status_code == 200
    assert sim.exchange.faults.closed_only is False
    malformed = raw.post(
        "/sim/step",
        content=b"{not json",
        headers={**token, "Content-Type": "application/json; charset=utf-8"},
    )
    assert malformed.status_code == 400
    assert SimState(sim.exchange).control_token != sim.control_token  # random per server


def test_a_rate_limit_can_target_one_path(sim: SimClobServer, raw: httpx.Client) -> None:
    """The 429 fault can hit only the order heartbeat (the desk's dead-man switch), so a test
    injects exactly "a single 429 on a heartbeat"."""
    sim.control("rate_limit", count=1, retry_after_s="1", path="/v1/heartbeats")
    token = next(iter(sim.exchange.tokens))
    assert raw.get("/book", params={"token_id": token}).status_code == 200
    answer = raw.post("/v1/heartbeats", json={"heartbeat_id": ""})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert raw.get("/book", params={"token_id": token}).status_code == 200
    sim.control("clear")


def test_a_response_delay_holds_each_answer_but_no_other_connection(
    sim: SimClobServer, raw: httpx.Client
) -> None:
    """``delay_responses`` makes every REST answer late without blocking the server: two
    requests waiting at once each take the delay, together not twice it, and the control
    routes answer meanwhile."""
    delay_s = 1.5
    sim.control("delay_responses", ms=int(delay_s * 1000))
    token = next(iter(sim.exchange.tokens))
    took: list[float] = []

    def timed_book() -> None:
        with httpx.Client(base_url=sim.url, timeout=10.0) as client:
            begun = time.monotonic()
            assert client.get("/book", params={"token_id": token}).status_code == 200
            took.append(time.monotonic() - begun)

    try:
        begun = time.monotonic()
        threads = [threading.Thread(target=timed_book) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert sim.sim_state()["response_delay_ms"] == 1500  # control: not delayed
        assert any(thread.is_alive() for thread in threads)  # answered while they wait
        for thread in threads:
            thread.join(10)
        both_s = time.monotonic() - begun
        assert len(took) == 2 and min(took) >= delay_s
        assert both_s < 2 * delay_s  # served side by side, not one after the other
        bad = raw.post(
            "/sim/fault",
            json={"kind": "delay_responses", "ms": -1},
            headers={"Authorization": f"Bearer {sim.control_token}"},
        )
        assert bad.status_code == 400
    finally:
        sim.control("delay_responses", ms=0)
    begun = time.monotonic()
    assert raw.get("/ok").status_code == 200
    assert time.monotonic() - begun < delay_s
