"""readiness.clob_packs: every fixture case of every bot with a pack of Polymarket markets
(the crypto guards' packs of instruments run in test_exchange_packs) runs through the desk against
the CLOB v2 simulator with the real Polymarket venue adapter, and passes; the simulator holds
each case's book, clock and balances; a broken case fails with a clear problem.

One simulator serves the module (about 2.5 s to start; the 36 cases take about 1.5 s more)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polytraders.bots.registry import BOTS
from polytraders.readiness.clob_packs import (
    SENTINEL_PREFIX,
    ClobCaseRun,
    ClobPackRunner,
    pack_markets,
    shared_runner,
)
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.exchange_packs import uses_instruments
from polytraders.readiness.packs import CASES, load_pack, pack_path, source_repository

MARKET_BOTS = [bot_id for bot_id in BOTS if not uses_instruments(bot_id, source_repository())]
PACKS = [(bot_id, case) for bot_id in MARKET_BOTS for case in CASES]


@pytest.fixture(scope="module")
def runner() -> Iterator[ClobPackRunner]:
    with ClobPackRunner(source_repository()) as opened:
        yield opened


def run(runner: ClobPackRunner, bot_id: str, case: str) -> ClobCaseRun:
    return runner.run_case(load_pack(pack_path(bot_id, case)))


@pytest.mark.parametrize(("bot_id", "case"), PACKS)
def test_every_case_passes_against_the_simulator(
    runner: ClobPackRunner, bot_id: str, case: str
) -> None:
    result = run(runner, bot_id, case)
    assert result.problems == ()
    assert result.decision.passed
    assert result.posted == len(result.expected_orders)
    assert len(result.live_orders) == len(result.expected_orders)
    assert all(o.venue_order_id for o in result.sent)  # each an EIP-712 order hash


def test_the_whole_pack_is_fast(runner: ClobPackRunner) -> None:
    """All 36 cases in well under the 60 s that would make this a slow test."""
    began = time.perf_counter()
    for bot_id in MARKET_BOTS:
        assert all(r.passed for r in runner.run_pack(bot_id).values())
    assert time.perf_counter() - began < 30


def test_an_approved_order_rests_at_the_venue_as_routed(runner: ClobPackRunner) -> None:
    """maker_tight's normal case: BUY UP @ 0.082 and SELL UP @ 0.089 post-only GTD; with no UP
    held the sell goes out as BUY DOWN @ 0.911 (the router's complement), both live."""
    result = run(runner, "strat.maker_tight", "normal")
    rows = sorted((o["side"], o["price"], o["original_size"]) for o in result.live_orders)
    assert rows == [("BUY", 82_000, 10_000_000), ("BUY", 911_000, 10_000_000)]
    assert {(o["post_only"], o["order_type"]) for o in result.live_orders} == {(True, "GTD")}
    served = runner.served_tokens
    assert {o["token_id"] for o in result.live_orders} <= served  # the venue's uint256 ids


def test_a_reshape_reaches_the_venue_at_its_new_size(runner: ClobPackRunner) -> None:
    result = run(runner, "risk.exposureguard", "hard")
    (order,) = result.live_orders
    assert order["original_size"] == 250_000_000  # cut from 500 shares


def test_a_rejection_sends_nothing(runner: ClobPackRunner) -> None:
    for bot_id, case in [("risk.stalebookguard", "hard"), ("exec.smartrouter", "failure")]:
        result = run(runner, bot_id, case)
        assert result.passed and result.posted == 0 and result.venue_orders == ()


def test_a_kill_switch_halt_cancels_everything_at_the_venue(runner: ClobPackRunner) -> None:
    result = run(runner, "risk.killswitch", "hard")
    assert result.passed and result.sentinel_id
    (sentinel,) = result.venue_orders
    assert sentinel["status"] == "CANCELED" and result.live_orders == ()
    assert not any(o.client_order_id.startswith(SENTINEL_PREFIX) for o in result.sent)


def test_the_simulator_holds_the_cases_book_and_balances(runner: ClobPackRunner) -> None:
    """Read between requests (the server is idle): the book, tick and minimum size of the
    case's token and the account's position are the case's."""
    pack = load_pack(pack_path("strat.maker_tight", "hard"))
    run(runner, "strat.maker_tight", "hard")
    up = pack.state["markets"][0]["tokens"][0]
    token = runner.server.exchange.tokens[runner.venue_token_id(up["token_id"]) or ""]
    book = pack.state["books"][up["token_id"]]
    assert sorted(token.bids.items(), reverse=True) == [tuple(x) for x in book["bids"]]
    assert (token.tick_size, token.min_order_size) == (up["tick_size"], up["min_order_size"])
    held = runner.server.exchange.positions
    assert held == {token.token_id: pack.state["positions"][up["token_id"]][0]}


def _broken(tmp_path: Path, bot_id: str, case: str, edit: Any) -> Path:
    data = json.loads(pack_path(bot_id, case).read_text())
    edit(data)
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(data))
    return path


def test_a_case_expecting_another_order_fails_at_the_venue(
    runner: ClobPackRunner, tmp_path: Path
) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["expected"]["output"]["orders"][0]["price"] = 88_000

    result = runner.run_case(load_pack(_broken(tmp_path, "exec.smartrouter", "normal", edit)))
    assert not result.passed
    assert any(p.startswith("decision: output: got") for p in result.problems)
    assert any(
        p.startswith("venue: live orders") and "88000" in p and "89000" in p
        for p in result.problems
    )


def test_a_case_expecting_another_code_fails(runner: ClobPackRunner, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["expected"]["reason_codes"] = ["RISK_STALEBOOK_NO_BOOK"]

    result = runner.run_case(load_pack(_broken(tmp_path, "risk.stalebookguard", "hard", edit)))
    assert result.problems == (
        "decision: reason codes: got ['RISK_STALEBOOK_TOO_OLD'], "
        "expected ['RISK_STALEBOOK_NO_BOOK']",
    )


def test_an_expected_approval_the_desk_rejects_fails_at_the_venue(
    runner: ClobPackRunner, tmp_path: Path
) -> None:
    """A case claiming APPROVE where the desk rejects: the venue holds nothing, not the order
    the case expects."""

    def edit(data: dict[str, Any]) -> None:
        data["expected"] |= {"verdict": "APPROVE", "decision": "APPROVE", "decided_by": ""}
        data["expected"]["reason_codes"] = []

    result = runner.run_case(load_pack(_broken(tmp_path, "risk.stalebookguard", "hard", edit)))
    assert "venue: 0 orders posted, expected 1" in result.problems
    assert any(p.startswith("venue: live orders [] differ") for p in result.problems)


def test_the_packs_markets_are_served(runner: ClobPackRunner) -> None:
    markets = pack_markets(source_repository())
    assert len(markets) == 3
    assert {t.market_id for t in runner.server.exchange.tokens.values()} == set(markets)


def test_shared_runner_reuses_the_open_simulator(tmp_path: Path) -> None:
    ctx = ReadinessContext(repo=source_repository(), store=None, now_ns=0, commit="")
    with shared_runner(ctx) as outer:
        with shared_runner(ctx) as inner:
            assert inner is outer
        assert not outer.closed  # the inner block left it open
    assert outer.closed and ctx.cache == {}


def test_the_throwaway_key_is_never_shown(runner: ClobPackRunner) -> None:
    key = runner._credentials.private_key
    assert key.startswith("0x") and len(key) == 66
    assert key not in repr(runner._credentials)
