"""The console in a real browser: Debian's Chromium driven by Playwright signs in through
the form, opens the Reason codes and Runs pages and a run, searches and filters, and signs
out; over the promotion-path store it opens the Promotion path and the Readiness board. A
screenshot of each page is kept in runs/ci/screenshots/<test>/ (the ``screenshots`` fixture).

Without ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) the
test is skipped with that message, and fails under ``POLYTRADERS_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from polytraders.console.app import create_app
from polytraders.console.auth import PasswordCheck
from polytraders.store import EventStore
from tests.conftest import services_required
from tests.console.governed_store import Governed
from tests.console.support import CHEAP_HASHER, PASSWORD, Recorded, settings
from tests.readiness.governance.history import BOT

CHROMIUM = Path("/usr/bin/chromium")


def require_chromium(path: Path) -> Path:
    """``path`` when it exists; else skip, or fail under POLYTRADERS_REQUIRE_SERVICES=1."""
    if path.exists():
        return path
    message = f"{path} is missing: apt-get install -y chromium"
    if services_required():
        pytest.fail(f"{message} (POLYTRADERS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(f"{message} (set POLYTRADERS_REQUIRE_SERVICES=1 to fail)")


@pytest.fixture
def chromium() -> Path:
    return require_chromium(CHROMIUM)


def test_a_missing_chromium_fails_in_ci_and_skips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "chromium"
    monkeypatch.setenv("POLYTRADERS_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="chromium is missing"):
        require_chromium(missing)
    monkeypatch.delenv("POLYTRADERS_REQUIRE_SERVICES")
    with pytest.raises(pytest.skip.Exception, match="set POLYTRADERS_REQUIRE_SERVICES=1 to fail"):
        require_chromium(missing)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(store: EventStore) -> Iterator[str]:
    """The real console over ``store`` served by uvicorn on a free loopback port, in a
    thread; yields its URL."""
    app = create_app(
        store,
        settings(allowed_hosts=("127.0.0.1",)),
        password_check=PasswordCheck(CHEAP_HASHER),
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start within 10 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def console_url(store: EventStore) -> Iterator[str]:
    """The console over the shared store."""
    with serve(store) as url:
        yield url


def test_sign_in_and_browse_in_chromium(
    chromium: Path, console_url: str, recorded: Recorded, screenshots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = screenshots
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{console_url}/runs")
        expect(page).to_have_url(f"{console_url}/login?next=/runs")
        expect(page.locator("#purpose")).to_contain_text("What this page is for")
        page.fill("input[name=name]", "val")
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
        page.screenshot(path=str(shots / "login-refused.png"), full_page=True)
        page.fill("input[name=name]", "val")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        # back to the page asked for, signed in
        expect(page).to_have_url(f"{console_url}/runs")
        expect(page.locator("h1")).to_have_text("Runs")
        expect(page.locator(".who")).to_contain_text("val")
        for ref in recorded.refs.values():
            expect(page.locator("table.runs")).to_contain_text(ref)
        page.screenshot(path=str(shots / "runs.png"), full_page=True)
        page.select_option("select[name=source]", "live")
        page.click("form.filters button")
        expect(page.locator("table.runs tbody tr")).to_have_count(1)
        expect(page.locator("table.runs")).to_contain_text(recorded.refs["live"])
        # open the backtest of the real sample
        page.goto(f"{console_url}/runs?source=backtest")
        page.click(f"text={recorded.refs['backtest']}")
        expect(page.locator("h2.run-title")).to_contain_text(recorded.refs["backtest"])
        expect(page.locator("dl.record")).to_contain_text("sound")
        expect(page.locator("dl.record")).to_contain_text("64,720 decisions")
        expect(page.locator("table.envelopes tbody tr")).to_have_count(50)
        page.click("a.next")
        expect(page.locator("table.envelopes tbody tr").first).to_contain_text("50")
        page.screenshot(path=str(shots / "run.png"), full_page=True)
        # the reason codes: search, and open the decisions carrying a code
        page.click("header nav >> text=Reason codes")
        expect(page.locator("h1")).to_have_text("Reason codes")
        page.fill("input[name=q]", "stale")
        page.click("form.filters button")
        expect(page.locator("table.codes")).to_contain_text("RISK_STALEBOOK")
        page.screenshot(path=str(shots / "reason-codes.png"), full_page=True)
        page.locator("table.codes .run-link a").first.click()
        expect(page.locator("h1")).to_have_text("Run")
        expect(page.locator("input[name=code]")).to_have_value(
            page.locator("input[name=code]").input_value()
        )
        assert page.locator("input[name=code]").input_value().startswith("RISK_STALEBOOK")
        page.screenshot(path=str(shots / "run-filtered.png"), full_page=True)
        # a viewer is refused the users page
        response = page.goto(f"{console_url}/users")
        assert response is not None
        assert response.status == 403
        expect(page.locator("p.error")).to_contain_text("this needs the admin role")
        # sign out through the form (CSRF token and same-origin POST)
        page.goto(f"{console_url}/")
        page.click("form.signout button")
        expect(page).to_have_url(f"{console_url}/login")
        page.goto(f"{console_url}/reason-codes")
        expect(page).to_have_url(f"{console_url}/login?next=/reason-codes")
        browser.close()
    assert sorted(p.name for p in shots.iterdir()) == [
        "login-refused.png",
        "reason-codes.png",
        "run-filtered.png",
        "run.png",
        "runs.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in shots.iterdir())


def test_promotion_path_and_readiness_board_in_chromium(
    chromium: Path, governed: Governed, screenshots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = screenshots
    shots.mkdir()
    with (
        EventStore.open(governed.url, create=False) as store,
        serve(store) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}/promotion-path")
        expect(page).to_have_url(f"{url}/login?next=/promotion-path")
        page.fill("input[name=name]", "val")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{url}/promotion-path")
        expect(page.locator("h1")).to_have_text("Promotion path")
        expect(page.locator("#purpose")).to_contain_text("What this page is for")
        expect(page.locator("#next-up")).to_contain_text(BOT)
        expect(page.locator(f"[id='{BOT}-multisig_approval']")).to_contain_text("2 of 2 signatures")
        expect(page.locator("table.activity")).to_contain_text("GOV_PROMOTION_REFUSED")
        expect(page.locator("[id='risk.compliancegate']")).to_contain_text("no recorded evaluation")
        page.screenshot(path=str(shots / "promotion-path.png"), full_page=True)
        page.click("header nav >> text=Readiness board")
        expect(page.locator("h1")).to_have_text("Readiness board")
        expect(page.locator(f"[id='board-{BOT}']")).to_contain_text("27/27")
        expect(page.locator("[id='board-risk.compliancegate']")).to_contain_text(
            "no recorded board"
        )
        page.screenshot(path=str(shots / "readiness.png"), full_page=True)
        browser.close()
    assert sorted(p.name for p in shots.iterdir()) == ["promotion-path.png", "readiness.png"]
    assert all(p.stat().st_size > 10_000 for p in shots.iterdir())
