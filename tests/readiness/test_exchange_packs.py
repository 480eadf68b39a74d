"""readiness.exchange_packs: the crypto guards' packs through the desk against the Binance USDⓈ-M
exchange simulator (BTCUSDT and ETHUSDT) with the real ccxt venue adapter (Impl item 13 for
packs of instruments): orders live at the exchange as the router makes them, nothing sent on a
refusal, everything cancelled on a kill-switch trip, positions of two symbols held in one
cross account, and a case whose state the exchange cannot hold fails."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.exchange_packs import (
    ExchangePackRunner,
    run_exchange_pack,
    shared_runner,
    uses_instruments,
)
from polytraders.readiness.packs import load_pack, pack_from_data, pack_path, source_repository

REPO = source_repository()
CRYPTO_GUARDS = ("risk.leverageguard", "risk.marginguard", "risk.fundingguard",
                 "risk.netexposureguard")  # fmt: skip


@pytest.fixture(scope="module")
def runner() -> Iterator[ExchangePackRunner]:
    with ExchangePackRunner(REPO) as r:
        yield r


def test_packs_are_picked_by_their_tokens() -> None:
    assert all(uses_instruments(bot_id, REPO) for bot_id in CRYPTO_GUARDS)
    assert not uses_instruments("risk.killswitch", REPO)
    assert not uses_instruments("strat.maker_tight", REPO)


@pytest.mark.parametrize("bot_id", CRYPTO_GUARDS)
def test_every_crypto_guard_case_against_the_exchange(
    runner: ExchangePackRunner, bot_id: str
) -> None:
    for case, run in runner.run_pack(bot_id).items():
        assert run.passed, (case, run.problems)
        assert run.decision.passed, (case, run.decision.problems)


def test_a_reshaped_sale_rests_at_the_exchange_with_the_reshaped_size(
    runner: ExchangePackRunner,
) -> None:
    run = runner.run_case(load_pack(pack_path("risk.leverageguard", "hard", REPO)))
    assert run.passed, run.problems
    (order,) = run.live_orders
    assert (order["side"], order["price"], order["size"]) == ("SELL", 61_800_300_000, 35_000)
    assert order["post_only"] and not order["reduce_only"]
    (sent,) = run.sent
    assert sent.venue_order_id == order["id"]


def test_a_refusal_and_a_halt_send_nothing(runner: ExchangePackRunner) -> None:
    for bot_id, case in (("risk.fundingguard", "hard"), ("risk.marginguard", "hard")):
        run = runner.run_case(load_pack(pack_path(bot_id, case, REPO)))
        assert run.passed, run.problems
        assert run.posted == 0 and run.venue_orders == ()


def test_the_case_open_order_is_held_at_the_exchange(runner: ExchangePackRunner) -> None:
    run = runner.run_case(load_pack(pack_path("risk.netexposureguard", "warning", REPO)))
    assert run.passed, run.problems
    live = sorted((o["client_order_id"], o["price"]) for o in run.live_orders)
    assert ("strat.mean_reversion/1/o0", 61_700_000_000) in live and len(live) == 2
    assert run.posted == 1


def test_a_kill_switch_trip_cancels_everything_at_the_exchange(
    runner: ExchangePackRunner,
) -> None:
    """risk.killswitch on an instrument: today's loss 6.5 % of the 10,700 USDT day start
    (limit 5 %): HALT; the case's open order and a sentinel the desk never tracked are
    cancelled at the exchange."""
    base = load_pack(pack_path("risk.netexposureguard", "warning", REPO))
    data = copy.deepcopy(dict(base.data))
    now = data["state"]["now_ns"]
    data["bot_id"], data["case"] = "risk.killswitch", "hard"
    day_start = 10_700_000_000
    data["state"].update(peak_equity=day_start, day_start_equity=day_start,
                         last_venue_heartbeat_ns=now - 10**9, consecutive_errors=0)  # fmt: skip
    data["expected"] = {"verdict": "HALT", "reason_codes": ["RISK_KILLSWITCH_DAILY_LOSS"],
                        "decided_by": "risk.killswitch", "decision": "HALT",
                        "trading_state": "HALTED", "kill_switch_tripped": True}  # fmt: skip
    run = runner.run_case(pack_from_data(base.path, data))
    assert run.passed, run.problems
    assert run.sentinel_id
    assert {o["status"] for o in run.venue_orders} == {"CANCELED"}
    assert len(run.venue_orders) == 2 and run.posted == 0


def test_an_insolvent_short_is_held_as_a_loss_beyond_the_wallet(
    runner: ExchangePackRunner,
) -> None:
    """risk.leverageguard's failure case: the desk's equity is −100 USDT; the exchange holds it
    as a positive wallet (cash 6,080.025 + cost basis −5,000 = 1,080.025 USDT) under a short
    whose unrealized loss at the mark 61,800.2 (−1,180.02 USDT) exceeds it. Refused: nothing
    sent."""
    run = runner.run_case(load_pack(pack_path("risk.leverageguard", "failure", REPO)))
    assert run.passed, run.problems
    assert run.posted == 0 and run.venue_orders == ()
    exchange = runner.server.exchange
    assert (exchange.position.size, exchange.position.cost_basis) == (-100_000, -5_000_000_000)
    assert exchange.wallet == 1_080_025_000
    assert exchange.unrealized_pnl() == -1_180_020_000
    assert exchange.wallet + exchange.unrealized_pnl() < 0


def test_positions_of_two_symbols_are_held_in_one_cross_account(
    runner: ExchangePackRunner,
) -> None:
    """risk.marginguard's failure case: long 0.1 BTC (entry 61,800.25) and 1 ETH (entry
    2,681.625) with 1,138.35 USDT cash: the exchange holds both positions and one wallet of
    cash plus both cost bases (10,000 USDT); the desk's model has no ETH bracket table, so the
    decision is REJECT and nothing is sent."""
    run = runner.run_case(load_pack(pack_path("risk.marginguard", "failure", REPO)))
    assert run.passed, run.problems
    assert run.posted == 0 and run.venue_orders == ()
    markets = runner.server.venue.markets
    held = {s: (m.position.size, m.position.cost_basis) for s, m in markets.items()}
    assert held == {"BTCUSDT": (100_000, 6_180_025_000), "ETHUSDT": (1_000_000, 2_681_625_000)}
    assert markets["BTCUSDT"].wallet == markets["ETHUSDT"].wallet == 10_000_000_000


def test_an_unserved_symbol_is_a_problem_of_the_case(runner: ExchangePackRunner) -> None:
    base = load_pack(pack_path("risk.marginguard", "failure", REPO))
    data = copy.deepcopy(dict(base.data))
    state = data["state"]
    state["instruments"][1]["symbol"] = "SOLUSDT"
    for key in ("positions", "books"):
        state[key]["binance-usdm:SOLUSDT"] = state[key].pop("binance-usdm:ETHUSDT")
    run = runner.run_case(pack_from_data(base.path, data))
    served = "binance-usdm:BTCUSDT, binance-usdm:ETHUSDT"
    assert f"venue: the simulator trades {served} only, not binance-usdm:SOLUSDT" in run.problems
    assert "venue: the simulator has no book of binance-usdm:SOLUSDT" in run.problems
    assert (
        f"venue: a position of 1000000 in binance-usdm:SOLUSDT cannot be held (the simulator "
        f"trades {served} only)" in run.problems
    )


def test_a_negative_wallet_is_a_problem_of_the_case(runner: ExchangePackRunner) -> None:
    """A case whose cash plus cost basis is negative cannot be held (an exchange's wallet is
    never below zero): the case fails with the reason even though the decision passes."""
    base = load_pack(pack_path("risk.leverageguard", "failure", REPO))
    data = copy.deepcopy(dict(base.data))
    data["state"]["positions"]["binance-usdm:BTCUSDT"] = [-100_000, -6_180_025_000]
    run = runner.run_case(pack_from_data(base.path, data))
    assert run.decision.passed, run.decision.problems
    assert "venue: a wallet of -100000000 micro-USDT cannot be held" in run.problems


def test_runs_are_memoised_on_one_simulator() -> None:
    ctx = ReadinessContext(repo=REPO, store=None, now_ns=0, commit="")
    with shared_runner(ctx) as outer:
        first = run_exchange_pack("risk.fundingguard", ctx)
        assert run_exchange_pack("risk.fundingguard", ctx) == first
        with shared_runner(ctx) as inner:
            assert inner is outer
    assert outer.closed
