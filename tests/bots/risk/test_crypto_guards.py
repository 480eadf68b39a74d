"""The crypto guards' rules beyond their fixture packs, and their invariants as properties.

States are built from the real Binance USDⓈ-M snapshot the packs use
(``make_crypto_fixtures.base_state``), edited per scenario; decisions go through the desk's risk
chain (``run_risk``) or, for properties, straight to ``decide``/``monitor`` on the desk's own
:class:`DeskState`.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.bots.risk.crypto import gross_of, instrument_tokens
from polytraders.bots.risk.fundingguard import FundingGuard, FundingGuardConfig
from polytraders.bots.risk.leverageguard import LeverageGuard, LeverageGuardConfig
from polytraders.bots.risk.marginguard import MarginGuard
from polytraders.bots.risk.netexposureguard import NetExposureGuard
from polytraders.contracts.authority import reshape_problems
from polytraders.contracts.decisions import MonitorAction, Verdict
from polytraders.contracts.modes import Mode
from polytraders.desk.harness import run_risk
from polytraders.desk.state import DeskState
from polytraders.model.events import FundingRate, TradingState
from polytraders.model.market import Instrument
from polytraders.model.orders import OrderIntent
from polytraders.readiness.packs import build_risk_state, load_pack, pack_path
from tests.bots.risk import make_crypto_fixtures as cf
from tests.bots.risk import make_fixtures as mf

USDT = cf.USDT
LOT = cf.BTC_LOT
BTC = cf.token("BTC")
CRYPTO = cf.GUARDS


def _state(equity: int, size: int, **extra: Any) -> DeskState:
    spec, _ = cf.base_state(equity, {BTC: size}, **extra)
    return build_risk_state(spec)


def _intent(side: str, size: int, **kw: Any) -> OrderIntent:
    return msgspec.convert(cf.order("test/x", side, size, **kw), OrderIntent)


def _market_state() -> DeskState:
    spec, _ = mf.base_state(mf.M1, mf.NOW)
    return build_risk_state(spec)


_POLY = msgspec.convert(mf.intent("test/p", mf.UP1, "BUY", 80_000, 10_000_000, mf.NOW),
                        OrderIntent)  # fmt: skip


@pytest.mark.parametrize("bot", [LeverageGuard(), MarginGuard(), FundingGuard(),
                                 NetExposureGuard()])  # fmt: skip
def test_a_polymarket_token_passes_every_crypto_guard(bot: Any) -> None:
    """Market tokens are not these guards' business: approved plainly (documented)."""
    assert bot.decide(_POLY, _market_state()).verdict is Verdict.APPROVE


@pytest.mark.parametrize("bot", [LeverageGuard(), MarginGuard(), FundingGuard(),
                                 NetExposureGuard()])  # fmt: skip
def test_an_unknown_token_is_refused(bot: Any) -> None:
    intent = _intent("BUY", 10 * LOT, token_id="binance-usdm:NOPEUSDT")
    state = _state(10_000 * USDT, 100 * LOT, funding_rates_ppb={BTC: 100_000})
    decision = bot.decide(intent, state)
    assert decision.verdict is Verdict.REJECT
    assert decision.reason_codes[0].endswith("_INPUT_INVALID")


def test_leverage_reshape_is_exact_and_refuses_below_the_minimum() -> None:
    state = _state(10_000 * USDT, -450 * LOT)  # 2.78×, room 2,189.8875 USDT
    decision = LeverageGuard().decide(_intent("SELL", 100 * LOT), state)
    assert decision.verdict is Verdict.RESHAPE and decision.reshaped is not None
    assert decision.reshaped.size == 35 * LOT
    no_reshape = LeverageGuard(LeverageGuardConfig(reshape_to_fit=False))
    assert no_reshape.decide(_intent("SELL", 100 * LOT), state).reason_codes == (
        "RISK_LEVERAGE_CAP",
    )
    full = _state(10_000 * USDT, -485 * LOT)  # 29,973 USDT gross: 0.0004 BTC left, lot 0.001
    assert LeverageGuard().decide(_intent("SELL", 10 * LOT), full).reason_codes == (
        "RISK_LEVERAGE_CAP",
    )


def test_leverage_counts_open_orders_of_other_instruments_and_skips_a_replaced_one() -> None:
    resting = cf._resting("strat.a/1", "strat.a", "SELL", 61_900_000_000, 400 * LOT)
    state = _state(10_000 * USDT, 0, open_orders=[resting])
    assert gross_of(state, instrument_tokens(state)) == 24_760_000_000
    more = _intent("SELL", 200 * LOT)  # 24,760 + 12,360 > 30,000
    assert LeverageGuard().decide(more, state).verdict is Verdict.RESHAPE
    replace = _intent("SELL", 200 * LOT, action="REPLACE", target_intent_id="strat.a/1")
    assert LeverageGuard().decide(replace, state).verdict is Verdict.APPROVE


def test_margin_projected_ratio_refuses_an_order_that_would_cross_the_soft_level() -> None:
    # short 0.45 BTC on 400 USDT: 111.24 / 400 = 27.8 %; selling 0.5 BTC more → 0.95 BTC,
    # 58,710 USDT in bracket 2 (0.5 % − 50): 243.55 / 400 = 60.9 % ≥ 50 %.
    state = _state(400 * USDT, -450 * LOT)
    decision = MarginGuard().decide(_intent("SELL", 500 * LOT), state)
    assert decision.reason_codes == ("RISK_MARGIN_PROJECTED",)
    assert MarginGuard().decide(_intent("SELL", 10 * LOT), state).verdict is Verdict.APPROVE


def test_margin_monitor_levels() -> None:
    guard = MarginGuard()
    assert guard.monitor(_state(10_000 * USDT, -450 * LOT)) is None
    soft = guard.monitor(_state(200 * USDT, -450 * LOT))
    assert soft is not None and soft.action is MonitorAction.REDUCE
    hard = guard.monitor(_state(130 * USDT, -450 * LOT))
    assert hard is not None and hard.action is MonitorAction.HALT


def test_funding_event_reaches_the_view_and_the_monitor_reduces() -> None:
    """A FundingRate event applied by the desk state puts a paying long in REDUCING through
    the monitor; a short (receiving) is left alone; no rate for a held perpetual → REDUCE."""
    state = _state(10_000 * USDT, 100 * LOT)
    guard = FundingGuard()
    missing = guard.monitor(state)
    assert missing is not None and missing.reason_codes == ("RISK_FUNDING_MISSING",)
    state.apply_event(FundingRate(ts_event_ns=state.now_ns, token_id=BTC, rate_ppb=1_000_000))
    assert state.funding_rate_ppb(BTC) == 1_000_000
    finding = guard.monitor(state)
    assert finding is not None and finding.reason_codes == ("RISK_FUNDING_REDUCING",)
    short = _state(10_000 * USDT, -100 * LOT, funding_rates_ppb={BTC: 1_000_000})
    assert guard.monitor(short) is None
    negative = _state(10_000 * USDT, -100 * LOT, funding_rates_ppb={BTC: -1_000_000})
    assert guard.monitor(negative) is not None


def test_funding_cost_against_the_assumed_edge() -> None:
    # 24 h = 3 funding times; half of a 20 bps edge = 1,000,000 ppb: refuse above 333,333.
    state = _state(10_000 * USDT, 0, funding_rates_ppb={BTC: 333_334})
    assert FundingGuard().decide(_intent("BUY", 10 * LOT), state).reason_codes == (
        "RISK_FUNDING_COST_OVER_EDGE",
    )
    assert FundingGuard().decide(_intent("SELL", 10 * LOT), state).verdict is Verdict.APPROVE
    ok = _state(10_000 * USDT, 0, funding_rates_ppb={BTC: 333_333})
    assert FundingGuard().decide(_intent("BUY", 10 * LOT), ok).verdict is Verdict.APPROVE


def test_funding_guard_puts_the_desk_in_reducing_through_the_chain() -> None:
    state = _state(10_000 * USDT, 100 * LOT, funding_rates_ppb={BTC: 1_000_000})
    run = run_risk(FundingGuard(), _intent("BUY", 10 * LOT), state, Mode.ENFORCED,
                   run_id="run-test", causation_id="test")  # fmt: skip
    assert not run.outcome.approved
    assert state.trading_state is TradingState.REDUCING


def test_netexposure_same_direction_flag_rides_on_a_reshape() -> None:
    resting = cf._resting("strat.mean_reversion/1", "strat.mean_reversion", "BUY",
                          61_700_000_000, 50 * LOT)  # fmt: skip
    state = _state(20_000 * USDT, 250 * LOT, open_orders=[resting])
    decision = NetExposureGuard().decide(_intent("BUY", 100 * LOT), state)
    assert decision.verdict is Verdict.RESHAPE
    assert decision.reason_codes == ("RISK_NETEXPOSURE_RESHAPED", "RISK_NETEXPOSURE_SAME_DIRECTION")
    own = cf._resting("strat.ema_cross/1", "strat.ema_cross", "BUY", 61_700_000_000, 50 * LOT)
    alone = _state(20_000 * USDT, 100 * LOT, open_orders=[own])
    assert NetExposureGuard().decide(_intent("BUY", 10 * LOT), alone).reason_codes == ()


def test_every_declared_code_is_reached() -> None:
    """Each code a crypto guard declares is produced by its pack or a test in this module."""
    reached = {c for b in CRYPTO for case in ("normal", "warning", "hard", "failure")
               for c in load_pack(pack_path(b, case)).expected["reason_codes"]}  # fmt: skip
    reached |= {"RISK_LEVERAGE_CAP", "RISK_MARGIN_PROJECTED", "RISK_MARGIN_REDUCING",
                "RISK_FUNDING_COST_OVER_EDGE", "RISK_FUNDING_INPUT_INVALID",
                "RISK_LEVERAGE_INPUT_INVALID", "RISK_MARGIN_INCREASE_BLOCKED",
                "RISK_NETEXPOSURE_CAP", "RISK_NETEXPOSURE_WARN"}  # fmt: skip
    state = _state(200 * USDT, -450 * LOT)
    assert MarginGuard().decide(_intent("SELL", 10 * LOT), state).reason_codes == (
        "RISK_MARGIN_INCREASE_BLOCKED",
    )
    cap = NetExposureGuard().decide(_intent("BUY", 10 * LOT), _state(30_000 * USDT, 330 * LOT))
    assert cap.reason_codes == ("RISK_NETEXPOSURE_CAP",)  # 20,394 USDT already over 20,000
    warn = NetExposureGuard().decide(_intent("BUY", 10 * LOT), _state(20_000 * USDT, 270 * LOT))
    assert warn.reason_codes == ("RISK_NETEXPOSURE_WARN",)  # 17,304 USDT ≥ 16,000
    declared = {c for b in (LeverageGuard, MarginGuard, FundingGuard, NetExposureGuard)
                for c in b.reason_codes}  # fmt: skip
    assert declared <= reached


# ------------------------------------------------------------------------------ properties
def _leverage_ppm(state: DeskState, extra: int = 0) -> int:
    gross = gross_of(state, instrument_tokens(state)) + extra
    return -(-gross * 1_000_000 // state.equity)


@given(
    held=st.integers(-600, 600),
    equity_usdt=st.integers(1_000, 40_000),
    side=st.sampled_from(["BUY", "SELL"]),
    lots=st.integers(1, 800),
    cap_x10=st.integers(10, 50),
)
@settings(max_examples=300, deadline=None)
def test_leverage_never_above_the_cap_and_reducing_never_refused(
    held: int, equity_usdt: int, side: str, lots: int, cap_x10: int
) -> None:
    """An approved or reshaped intent, filled completely, never takes gross leverage above
    max(cap, leverage now); an intent that shrinks the position is never refused."""
    state = _state(equity_usdt * USDT + max(held, 0) * 62 * USDT, held * LOT)
    cap_ppm = cap_x10 * 100_000
    guard = LeverageGuard(LeverageGuardConfig(max_leverage_ppm=cap_ppm))
    intent = _intent(side, lots * LOT)
    decision = guard.decide(intent, state)
    before = gross_of(state, instrument_tokens(state))
    shrinks = (side == "SELL" and 0 < lots <= held) or (side == "BUY" and 0 < lots <= -held)
    if shrinks:
        assert decision.verdict is Verdict.APPROVE
    if decision.verdict is Verdict.REJECT:
        return
    final = decision.reshaped if decision.verdict is Verdict.RESHAPE else intent
    assert final is not None
    if decision.reshaped is not None:
        assert reshape_problems(intent, decision.reshaped) == []
    signed = state.instrument_notional(BTC) or 0
    added = final.price * final.size // 1_000_000
    after = abs(signed + (added if side == "BUY" else -added))
    assert after * 1_000_000 <= max(cap_ppm * state.equity, before * 1_000_000) + 1_000_000


@given(held=st.integers(-600, 600), rate=st.integers(-3_000_000, 3_000_000),
       side=st.sampled_from(["BUY", "SELL"]), lots=st.integers(1, 600))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_funding_guard_never_refuses_a_reducing_or_receiving_order(
    held: int, rate: int, side: str, lots: int
) -> None:
    state = _state(40_000 * USDT, held * LOT, funding_rates_ppb={BTC: rate})
    decision = FundingGuard(FundingGuardConfig()).decide(_intent(side, lots * LOT), state)
    shrinks = (side == "SELL" and lots <= held) or (side == "BUY" and lots <= -held)
    receives = (rate > 0 and side == "SELL") or (rate < 0 and side == "BUY") or rate == 0
    if shrinks or receives:
        assert decision.verdict is Verdict.APPROVE


def test_spot_has_no_funding_or_margin() -> None:
    spot = Instrument(venue="binance-spot", symbol="BTCUSDT", price_increment=10_000,
                      size_increment=10, min_size=10)  # fmt: skip
    state = DeskState.build(instruments=[spot], cash=10_000 * USDT,
                            books={spot.token_id: ([(61_800_000_000, 1_000_000)],
                                                   [(61_800_010_000, 1_000_000)])})  # fmt: skip
    intent = _intent("BUY", 10 * LOT, token_id=spot.token_id, price=61_800_000_000)
    assert FundingGuard().decide(intent, state).verdict is Verdict.APPROVE
    assert MarginGuard().decide(intent, state).verdict is Verdict.APPROVE
