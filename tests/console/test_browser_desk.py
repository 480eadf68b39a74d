"""The Desk status and Shadow mode pages in a real browser (Debian's Chromium through
Playwright, as ``test_browser.py``): an operator trips and resets the kill switch of a paper
desk RUNNING in its own ``polytraders run --venue polymarket --paper`` process against the
local CLOB v2 simulator, recording into the console's store; the desk halts (its own
checkpoint row says so), the audit log names the console user, the reset lets it trade again;
then a reviewer records a verdict on a shadow divergence. Screenshots are kept in the test's
tmp dir. Every wait polls the store or the page against a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from polytraders.console.app import create_app
from polytraders.console.auth import PasswordCheck
from polytraders.console.desk_status import DeskStatus, desks
from polytraders.desk.checkpoints import RESET_ACTION, TRIP_ACTION
from polytraders.simclob.server import (
    SimClobServer,
    SimSettings,
    account_for_key,
    throwaway_key,
)
from polytraders.store import EventStore
from polytraders.store.shadow_comparisons import divergence_verdicts
from tests.console.desk_fixtures import add_users, record_shadow_comparison
from tests.console.support import CHEAP_HASHER, PASSWORD, settings
from tests.console.test_browser import _free_port, require_chromium
from tests.waiting import wait_until

DEADLINE_S = 60.0
RUN = "paper-console"


@pytest.fixture
def sim() -> Iterator[SimClobServer]:
    account = account_for_key(throwaway_key())
    with SimClobServer(
        SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100), account
    ) as server:
        yield server


class _Desk:
    """``polytraders run --venue polymarket --paper`` recording into ``store``, its outputs
    in ``out``."""

    def __init__(self, sim: SimClobServer, store: Path, out: Path, log: Path) -> None:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        self.log = log
        self._handle = log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "polytraders", "run", "--venue", "polymarket", "--paper",
                "--markets", market_id, "--clob-url", sim.url,
                "--ws-url", sim.ws_url + "/ws/market", "--run-id", RUN, "--store", str(store),
                "--out", str(out),
            ],
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "POLYMARKET_PRIVATE_KEY": ""},
        )  # fmt: skip

    def alive(self) -> bool:
        assert self.process.poll() is None, (
            f"the desk ended early:\n{self.log.read_text(errors='replace')[-3_000:]}"
        )
        return True

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=DEADLINE_S)
        self._handle.close()
        return code


def _status(store: EventStore) -> DeskStatus | None:
    """What the desk reports of itself now (None before its run and first checkpoint row)."""
    if store.run(RUN) is None:
        return None
    selected = desks(store, RUN, 1_000).selected
    return selected if selected is not None and selected.reported is not None else None


def _reports(store: EventStore, desk: _Desk, *, tripped: bool, state: str) -> bool:
    desk.alive()
    status = _status(store)
    return (
        status is not None
        and status.reported is not None
        and status.reported.kill_switch.tripped is tripped
        and status.reported.trading_state.value == state
    )


@pytest.fixture
def console(tmp_path: Path, sim: SimClobServer) -> Iterator[tuple[str, EventStore, _Desk, str]]:
    """The console (uvicorn, a thread) over a store a running paper desk records into."""
    path = tmp_path / "desk.sqlite"
    store = EventStore.open(str(path))
    add_users(store)
    comparison_id = record_shadow_comparison(store)
    desk = _Desk(sim, path, tmp_path / "out", tmp_path / "desk.log")
    app = create_app(
        store, settings(allowed_hosts=("127.0.0.1",)), password_check=PasswordCheck(CHEAP_HASHER)
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 10, "the console to start")
        yield f"http://127.0.0.1:{port}", store, desk, comparison_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        code = desk.stop()
        store.close()
        assert code == 143, desk.log.read_text(errors="replace")[-3_000:]


def test_trip_and_reset_a_running_paper_desk_and_review_in_chromium(
    console: tuple[str, EventStore, _Desk, str], screenshots: Path
) -> None:
    chromium = require_chromium(Path("/usr/bin/chromium"))
    from playwright.sync_api import expect, sync_playwright

    url, store, desk, comparison_id = console
    shots = screenshots
    shots.mkdir()
    wait_until(
        lambda: _reports(store, desk, tripped=False, state="ACTIVE"),
        DEADLINE_S,
        "the paper desk to report itself ACTIVE",
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}/login?next=/desk-status")
        page.fill("input[name=name]", "otto")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Desk status")
        expect(page.locator("h2.run-title")).to_contain_text(f"{RUN}@1")
        expect(page.locator("#trading-state")).to_have_text("ACTIVE")
        page.screenshot(path=str(shots / "desk-active.png"), full_page=True)
        # trip: the running desk halts within its operator poll
        page.fill("form.trip input[name=reason]", "browser drill")
        page.click("form.trip button")
        wait_until(
            lambda: _reports(store, desk, tripped=True, state="HALTED"),
            DEADLINE_S,
            "the desk to report its kill switch tripped",
        )
        # the page's poller shows it without a reload
        expect(page.locator("#kill-switch")).to_contain_text("TRIPPED", timeout=10_000)
        expect(page.locator("#kill-switch")).to_contain_text("operator:otto")
        expect(page.locator("#trading-state")).to_have_text("HALTED")
        page.screenshot(path=str(shots / "desk-tripped.png"), full_page=True)
        trips = [e for e in store.audit_log(f"{RUN}@1") if e.action == TRIP_ACTION]
        assert [(e.actor, json.loads(e.detail)["reason"]) for e in trips] == [
            ("otto", "browser drill")
        ]
        # reset: the desk trades again
        page.fill("form.reset input[name=reason]", "drill over")
        page.select_option("form.reset select[name=trading_state]", "ACTIVE")
        page.click("form.reset button")
        wait_until(
            lambda: _reports(store, desk, tripped=False, state="ACTIVE"),
            DEADLINE_S,
            "the desk to report its kill switch reset",
        )
        expect(page.locator("#kill-switch")).to_contain_text("open", timeout=10_000)
        expect(page.locator("#trading-state")).to_have_text("ACTIVE")
        page.screenshot(path=str(shots / "desk-reset.png"), full_page=True)
        resets = [e for e in store.audit_log(f"{RUN}@1") if e.action == RESET_ACTION]
        assert [e.actor for e in resets] == ["otto"]
        # the operator may not record a review verdict: no form, and the post is refused
        page.goto(f"{url}/shadow")
        expect(page.locator("form.review")).to_have_count(0)
        page.click("form.signout button")
        # a reviewer records one
        page.goto(f"{url}/login?next=/shadow")
        page.fill("input[name=name]", "rita")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Shadow mode")
        first = page.locator("article.divergence").first
        envelope_id = first.get_attribute("id")
        first.locator("input[value=incorrect]").check()
        first.locator("input[name=note]").fill("the looser guard let a stale book through")
        first.locator("form.review button").click()
        judged = page.locator(f"article.divergence[id='{envelope_id}'] ul.verdicts")
        expect(judged).to_contain_text("rita: incorrect")
        page.screenshot(path=str(shots / "shadow-reviewed.png"), full_page=True)
        browser.close()
    verdicts = divergence_verdicts(store, [comparison_id])
    ((_, by_reviewer),) = [(k, v) for k, v in verdicts.items() if k[3] == envelope_id]
    assert by_reviewer["rita"].verdict.value == "incorrect"
    assert sorted(p.name for p in shots.iterdir()) == [
        "desk-active.png",
        "desk-reset.png",
        "desk-tripped.png",
        "shadow-reviewed.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in shots.iterdir())
