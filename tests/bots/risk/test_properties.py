"""Property tests of the risk guards' thresholds and of fail-closed behaviour.

States start from a real snapshot of the Polymarket sample (``make_fixtures.base_state``) and
hypothesis varies one input at a time; the guards are called directly on the desk's
:class:`DeskState`.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.bots.risk.drawdownguard import DrawdownGuard
from polytraders.bots.risk.killswitch import KillSwitch
from polytraders.bots.risk.marketqualityguard import MarketQualityGuard
from polytraders.bots.risk.stalebookguard import StaleBookGuard
from polytraders.contracts.decisions import Verdict
from polytraders.model.orders import OrderIntent, Side
from polytraders.readiness.packs import RISK_BOTS, build_bot, build_risk_state
from tests.bots.risk import make_fixtures as mf
from tests.bots.risk.make_crypto_fixtures import GUARDS as CRYPTO_GUARDS

MS = mf.MS
PUSD = mf.PUSD
_BASE, _ = mf.base_state(mf.M1, mf.NOW)
_INTENT = msgspec.convert(mf.intent("prop", mf.UP1, "BUY", 80_000, 10_000_000, mf.NOW), OrderIntent)
TOKEN_GUARDS = [
    b for b in RISK_BOTS if b not in ("risk.killswitch", "risk.drawdownguard", *CRYPTO_GUARDS)
]
"""The market-token guards (the crypto guards' properties: ``test_crypto_guards``)."""


def _state(**changes: Any) -> Any:
    spec = copy.deepcopy(_BASE)
    spec.update(changes)
    return build_risk_state(spec)


@given(
    day_start=st.integers(1, 10_000).map(lambda v: v * PUSD),
    loss_bps=st.integers(-2_000, 9_000),
)
@settings(max_examples=150, deadline=None)
def test_killswitch_daily_loss_thresholds_are_exact(day_start: int, loss_bps: int) -> None:
    """HALT iff the loss reaches 5 % of day-start equity; warning iff it reaches 3 %."""
    equity = day_start - day_start * loss_bps // 10_000
    state = _state(cash=equity, day_start_equity=day_start)
    decision = KillSwitch().decide(_INTENT, state)
    loss_scaled = (day_start - equity) * 10_000
    if loss_scaled >= 500 * day_start:
        assert decision.verdict is Verdict.HALT
        assert decision.reason_codes == ("RISK_KILLSWITCH_DAILY_LOSS",)
    elif loss_scaled * 100 >= 500 * day_start * 60:
        assert decision.reason_codes == ("RISK_KILLSWITCH_DAILY_LOSS_WARN",)
    else:
        assert decision.verdict is Verdict.APPROVE and not decision.reason_codes


@given(age_ms=st.integers(-5_000, 60_000))
@settings(max_examples=150, deadline=None)
def test_stalebook_age_thresholds_are_exact(age_ms: int) -> None:
    """Older than 15 s rejects, older than 5 s warns, more than 1 s in the future rejects."""
    spec = copy.deepcopy(_BASE)
    for book in spec["books"].values():
        book["last_update_ns"] = (mf.NOW - age_ms) * MS
    decision = StaleBookGuard().decide(_INTENT, build_risk_state(spec))
    if age_ms < -1_000:
        assert decision.reason_codes == ("RISK_STALEBOOK_INPUT_INVALID",)
    elif age_ms > 15_000:
        assert decision.reason_codes == ("RISK_STALEBOOK_TOO_OLD",)
    elif age_ms > 5_000:
        assert decision.verdict is Verdict.APPROVE
        assert decision.reason_codes == ("RISK_STALEBOOK_AGE_WARN",)
    else:
        assert decision.verdict is Verdict.APPROVE and not decision.reason_codes
    assert (decision.verdict is Verdict.REJECT) == (age_ms > 15_000 or age_ms < -1_000)


@given(bid_ticks=st.integers(1, 98), spread_ticks=st.integers(-3, 40))
@settings(max_examples=150, deadline=None)
def test_quality_spread_thresholds_are_exact(bid_ticks: int, spread_ticks: int) -> None:
    """A deep book (1,000 shares a level) at any spread: crossed, wide, warning or clean."""
    bid = bid_ticks * 10_000
    ask = bid + spread_ticks * 10_000
    if not 0 < ask < 1_000_000:
        return
    spec = copy.deepcopy(_BASE)
    spec["books"][mf.UP1] = {
        "bids": [[bid, 1_000_000_000]],
        "asks": [[ask, 1_000_000_000]],
        "last_update_ns": mf.NOW * MS,
    }
    decision = MarketQualityGuard().decide(_INTENT, build_risk_state(spec))
    if bid <= 10_000 and ask >= 990_000:
        assert decision.reason_codes == ("RISK_QUALITY_PLACEHOLDER_BOOK",)
    elif spread_ticks <= 0:
        assert decision.reason_codes == ("RISK_QUALITY_CROSSED_BOOK",)
    elif spread_ticks > 10:
        assert decision.reason_codes == ("RISK_QUALITY_SPREAD_WIDE",)
    elif spread_ticks > 4:
        assert decision.reason_codes == ("RISK_QUALITY_WARN",)
    else:
        assert decision.verdict is Verdict.APPROVE and not decision.reason_codes


@given(drawdown_bps=st.integers(-1_000, 9_999), sell=st.booleans())
@settings(max_examples=150, deadline=None)
def test_drawdown_levels_are_exact(drawdown_bps: int, sell: bool) -> None:
    """HALT at 10 %, REDUCING from 5 % (only sales of held shares pass), APPROVE below."""
    peak = 1_000 * PUSD
    equity = peak - peak * drawdown_bps // 10_000
    state = _state(cash=equity, peak_equity=peak, positions={mf.DOWN1: [50_000_000, 0]})
    # the DOWN position is valued at mid: move its value out of cash so equity stays as set.
    state.ledger.cash -= state.equity - equity
    intent = msgspec.structs.replace(
        _INTENT, token_id=mf.DOWN1, side=Side.SELL if sell else Side.BUY, size=10_000_000
    )
    decision = DrawdownGuard().decide(intent, state)
    scaled = (peak - equity) * 10_000
    if scaled >= 1_000 * peak:
        assert decision.verdict is Verdict.HALT
    elif scaled * 100 >= 1_000 * peak * 50:
        assert decision.set_state is not None and decision.set_state.value == "REDUCING"
        assert decision.verdict is (Verdict.APPROVE if sell else Verdict.REJECT)
    else:
        assert decision.verdict is Verdict.APPROVE and decision.set_state is None


_CORRUPTIONS = st.sampled_from(
    ["no_book", "no_complement_book", "unknown_market", "no_markets", "foreign_market_id"]
)


@given(bot_id=st.sampled_from(TOKEN_GUARDS), corruption=_CORRUPTIONS)
@settings(max_examples=80, deadline=None)
def test_token_guards_never_approve_missing_inputs(bot_id: str, corruption: str) -> None:
    """Every guard that reads the token's market or books refuses when what it reads is gone."""
    spec = copy.deepcopy(_BASE)
    intent = _INTENT
    needs = {
        "risk.compliancegate": {"unknown_market", "no_markets", "foreign_market_id"},
        "risk.markethaltguard": {"unknown_market", "no_markets", "foreign_market_id"},
        "risk.exposureguard": {"unknown_market", "no_markets", "foreign_market_id"},
        "risk.stalebookguard": {"no_book", "no_complement_book", "no_markets"},
        "risk.marketqualityguard": {"no_book", "no_markets"},
    }[bot_id]
    if corruption not in needs:
        return
    if corruption == "no_book":
        del spec["books"][mf.UP1]
    elif corruption == "no_complement_book":
        del spec["books"][mf.DOWN1]
    elif corruption == "unknown_market":
        spec["markets"][0]["tokens"][0]["market_id"] = "0xunknown"
    elif corruption == "no_markets":
        spec["markets"] = []
    else:
        intent = msgspec.structs.replace(intent, market_id=mf.M3)
    decision = build_bot(bot_id, {}).decide(intent, build_risk_state(spec))
    assert decision.verdict is Verdict.REJECT


@given(lead_ms=st.integers(-40_000, 5_000))
@settings(max_examples=150, deadline=None)
def test_killswitch_feed_receipt_ahead_of_the_desk_clock(lead_ms: int) -> None:
    """A receipt up to 1 s ahead of the (venue-time) desk clock is fresh; further ahead is
    corrupt input (REJECT); behind by 30 s or more is a lost feed (HALT)."""
    now = _BASE["now_ns"]
    state = _state(last_feed_event_ns=now + lead_ms * MS)
    decision = KillSwitch().decide(_INTENT, state)
    if lead_ms > 1_000:
        assert decision.verdict is Verdict.REJECT
        assert decision.reason_codes == ("RISK_KILLSWITCH_INPUT_INVALID",)
    elif lead_ms <= -30_000:
        assert decision.verdict is Verdict.HALT
        assert "RISK_KILLSWITCH_FEED_LOST" in decision.reason_codes
    else:
        assert decision.verdict is Verdict.APPROVE
