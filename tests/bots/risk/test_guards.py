"""The risk guards' rules beyond the fixture packs, through the desk's risk chain.

States are built from the real Polymarket sample (``make_fixtures.base_state``) and then
edited as each scenario states; the desk's :class:`DeskState` and ``run_risk`` do the rest.
The last test checks that every code a guard declares is reached by a pack or a scenario here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from polytraders.bots.risk.compliancegate import ComplianceGate, ComplianceGateConfig
from polytraders.bots.risk.exposureguard import ExposureGuard, ExposureGuardConfig
from polytraders.bots.risk.killswitch import KillSwitch
from polytraders.bots.risk.markethaltguard import MarketHaltGuard
from polytraders.bots.risk.stalebookguard import StaleBookGuard
from polytraders.contracts.authority import Capability
from polytraders.contracts.bot import bot_problems
from polytraders.contracts.decisions import MonitorAction, MonitorDecision, Verdict
from polytraders.contracts.modes import Mode
from polytraders.contracts.reasons import load_registry
from polytraders.desk.harness import run_risk
from polytraders.model.orders import IntentAction, OrderIntent
from polytraders.readiness.packs import (
    CASES,
    RISK_BOTS,
    build_bot,
    build_risk_state,
    load_pack,
    pack_path,
)
from tests.bots.risk import make_fixtures as mf
from tests.bots.risk.make_crypto_fixtures import GUARDS as CRYPTO_GUARDS

M1, M3, NOW, UP1, DOWN1 = mf.M1, mf.M3, mf.NOW, mf.UP1, mf.DOWN1
UP3 = mf.token(M3, "UP")
PUSD = mf.PUSD
MS, S = mf.MS, mf.S
TICK_CHANGE_MS = 1790586472904
"""First snapshot of M1 with prices off the 0.01 grid (0.021): the venue moved the token to a
0.001 tick here (inferred from the recording, which carries no tick_size_change messages)."""
SAFE = "0x2222222222222222222222222222222222222222"


def _intent(token: str, side: str = "BUY", price: int = 80_000, size: int = 10_000_000,
            now_ms: int = NOW, **kw: Any) -> OrderIntent:  # fmt: skip
    return msgspec.convert(mf.intent("test/scenario", token, side, price, size, now_ms, **kw),
                           OrderIntent)  # fmt: skip


@dataclass
class Scenario:
    """One rule: a state edit, an intent, a config, and the chain's expected verdict/codes."""

    bot_id: str
    name: str
    intent: OrderIntent
    verdict: Verdict
    codes: tuple[str, ...]
    market: str = M1
    now_ms: int = NOW
    edit: Callable[[dict[str, Any]], None] = lambda state: None
    config: dict[str, Any] = field(default_factory=dict)
    direct: bool = False
    """Call ``decide`` directly (the desk gate would stop the intent before the bot)."""

    def state_spec(self) -> dict[str, Any]:
        spec, _ = mf.base_state(self.market, self.now_ms)
        spec = copy.deepcopy(spec)
        self.edit(spec)
        return spec


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state.update(values)

    return edit


def _market_state(value: str) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state["markets"][0]["state"] = value

    return edit


def _two_markets(event: str, positions: dict[str, list[int]]) -> Callable[[dict], None]:
    def edit(state: dict[str, Any]) -> None:
        state["markets"] = [
            mf.market_json(M1, neg_risk_event_id=event),
            mf.market_json(M3, neg_risk_event_id=event),
        ]
        state["positions"] = positions

    return edit


def _book(token: str, bids: list[list[int]], asks: list[list[int]], ts_ns: int) -> Callable:
    def edit(state: dict[str, Any]) -> None:
        state["books"][token] = {"bids": bids, "asks": asks, "last_update_ns": ts_ns}

    return edit


def _stamp(token: str, ts_ns: int) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        state["books"][token]["last_update_ns"] = ts_ns

    return edit


def _chain(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        for one in edits:
            one(state)

    return edit


_ONE_SIDED_UP = mf.book_at(M1, "UP", 1790586747899)  # real: no bids, asks from 0.001
_WIDE_DOWN = mf.book_at(M3, "DOWN", mf.WIDE_MS)  # real: bid 0.24 / ask 0.32

SCENARIOS = [
    # ---------------------------------------------------------------- killswitch
    Scenario("risk.killswitch", "error streak halts", _intent(UP1), Verdict.HALT,
             ("RISK_KILLSWITCH_ERROR_STREAK",), edit=_set(consecutive_errors=5)),
    Scenario("risk.killswitch", "feed silent 31 s halts", _intent(UP1), Verdict.HALT,
             ("RISK_KILLSWITCH_FEED_LOST",), edit=_set(last_feed_event_ns=(NOW - 31_000) * MS)),
    Scenario("risk.killswitch", "heartbeat 11 s old halts", _intent(UP1), Verdict.HALT,
             ("RISK_KILLSWITCH_HEARTBEAT_LOST",),
             edit=_set(last_venue_heartbeat_ns=(NOW - 11_000) * MS)),
    Scenario("risk.killswitch", "no heartbeat at all when required halts", _intent(UP1),
             Verdict.HALT, ("RISK_KILLSWITCH_HEARTBEAT_LOST",),
             edit=_set(last_venue_heartbeat_ns=0), config={"venue_heartbeat_required": True}),
    Scenario("risk.killswitch", "three errors in a row warn", _intent(UP1), Verdict.APPROVE,
             ("RISK_KILLSWITCH_HEALTH_WARN",), edit=_set(consecutive_errors=3)),
    Scenario("risk.killswitch", "engaged switch meets every intent with HALT", _intent(UP1),
             Verdict.HALT, ("RISK_KILLSWITCH_ENGAGED",), edit=_set(kill_switch_tripped=True),
             direct=True),
    Scenario("risk.killswitch", "a feed time after the clock is corrupt", _intent(UP1),
             Verdict.REJECT, ("RISK_KILLSWITCH_INPUT_INVALID",),
             edit=_set(last_feed_event_ns=(NOW + 5_000) * MS)),
    # ---------------------------------------------------------------- compliancegate
    Scenario("risk.compliancegate", "Safe signer without a grant", _intent(UP1), Verdict.REJECT,
             ("RISK_COMPLIANCE_SIGNER_NOT_AUTHORIZED",),
             edit=_set(account={"signer": mf.EOA, "funder": SAFE, "signature_type": 2})),
    Scenario("risk.compliancegate", "Safe signer with a grant", _intent(UP1), Verdict.APPROVE, (),
             edit=_set(account={"signer": mf.EOA, "funder": SAFE, "signature_type": 2}),
             config={"signer_grants": [{"funder": SAFE, "signer": mf.EOA, "signature_type": 2}]}),
    Scenario("risk.compliancegate", "denied category", _intent(UP1), Verdict.REJECT,
             ("RISK_COMPLIANCE_MARKET_DENIED",), config={"category_denylist": ["crypto"]}),
    Scenario("risk.compliancegate", "market missing from the allow list", _intent(UP1),
             Verdict.REJECT, ("RISK_COMPLIANCE_MARKET_DENIED",),
             config={"market_allowlist": [M3]}),
    Scenario("risk.compliancegate", "bot only permitted for politics", _intent(UP1),
             Verdict.REJECT, ("RISK_COMPLIANCE_BOT_NOT_PERMITTED",),
             config={"bot_permissions": [{"bot_id": "strat.maker_tight",
                                          "categories": ["politics"]}]}),
    Scenario("risk.compliancegate", "bot permitted for this market", _intent(UP1),
             Verdict.APPROVE, (), config={"unlisted_bots_allowed": False, "bot_permissions": [
                 {"bot_id": "strat.maker_tight", "market_ids": [M1]}]}),
    Scenario("risk.compliancegate", "unlisted bot when unlisted bots are refused", _intent(UP1),
             Verdict.REJECT, ("RISK_COMPLIANCE_BOT_NOT_PERMITTED",),
             config={"unlisted_bots_allowed": False}),
    Scenario("risk.compliancegate", "wrong builderCode",
             _intent(UP1, builder_code="0x" + "ab" * 32), Verdict.REJECT,
             ("RISK_COMPLIANCE_BUILDER_CODE",)),
    # ---------------------------------------------------------------- markethaltguard
    Scenario("risk.markethaltguard", "engine restart", _intent(UP1), Verdict.REJECT,
             ("RISK_MARKETHALT_VENUE_HALT",), edit=_set(venue_state="RESTARTING")),
    Scenario("risk.markethaltguard", "closed-only account, new exposure", _intent(UP1),
             Verdict.REJECT, ("RISK_MARKETHALT_VENUE_HALT",), edit=_set(venue_state="CLOSED_ONLY")),
    Scenario("risk.markethaltguard", "closed-only account, reduce-only passes",
             _intent(UP1, side="SELL", reduce_only=True), Verdict.APPROVE, (),
             edit=_chain(_set(venue_state="CLOSED_ONLY"),
                         _set(positions={UP1: [20_000_000, 1_000_000]}))),
    Scenario("risk.markethaltguard", "market halted", _intent(UP1), Verdict.REJECT,
             ("RISK_MARKETHALT_MARKET_HALTED",), edit=_market_state("HALTED")),
    Scenario("risk.markethaltguard", "market resolved", _intent(UP1), Verdict.REJECT,
             ("RISK_MARKETHALT_MARKET_CLOSED",), edit=_market_state("RESOLVED")),
    Scenario("risk.markethaltguard", "market closed", _intent(UP1), Verdict.REJECT,
             ("RISK_MARKETHALT_MARKET_CLOSED",), edit=_market_state("CLOSED")),
    Scenario("risk.markethaltguard", "0.5 s after the real tick change", _intent(DOWN1),
             Verdict.REJECT, ("RISK_MARKETHALT_TICK_CHANGE",), now_ms=TICK_CHANGE_MS + 500,
             edit=_set(tick_changes_ns={DOWN1: TICK_CHANGE_MS * MS})),
    Scenario("risk.markethaltguard", "settled but no book since the tick change", _intent(DOWN1),
             Verdict.REJECT, ("RISK_MARKETHALT_TICK_CHANGE",), now_ms=TICK_CHANGE_MS + 5_000,
             edit=_chain(_set(tick_changes_ns={DOWN1: (TICK_CHANGE_MS + 4_000) * MS}),
                         _stamp(DOWN1, (TICK_CHANGE_MS + 3_000) * MS))),
    Scenario("risk.markethaltguard", "re-validated after the tick change", _intent(DOWN1),
             Verdict.APPROVE, (), now_ms=TICK_CHANGE_MS + 5_000,
             edit=_chain(_set(tick_changes_ns={DOWN1: TICK_CHANGE_MS * MS}),
                         _stamp(DOWN1, (TICK_CHANGE_MS + 4_000) * MS))),
    Scenario("risk.markethaltguard", "taker order in the post-only window",
             _intent(UP1, time_in_force="FOK", post_only=False), Verdict.REJECT,
             ("RISK_MARKETHALT_POST_ONLY_WINDOW",), edit=_set(venue_state="POST_ONLY")),
    Scenario("risk.markethaltguard", "resting order in the post-only window, reject policy",
             _intent(UP1, post_only=False), Verdict.REJECT, ("RISK_MARKETHALT_POST_ONLY_WINDOW",),
             edit=_set(venue_state="POST_ONLY"), config={"post_only_window_action": "reject"}),
    Scenario("risk.markethaltguard", "resting order reshaped to post-only",
             _intent(UP1, post_only=False), Verdict.APPROVE,
             ("RISK_MARKETHALT_POST_ONLY_RESHAPED",), edit=_set(venue_state="POST_ONLY")),
    Scenario("risk.markethaltguard", "reduce-only passes inside the end buffer",
             _intent(DOWN1, side="SELL", price=990_000, now_ms=mf.end_ms(M1) - 30_000,
                     reduce_only=True),
             Verdict.APPROVE, (), now_ms=mf.end_ms(M1) - 30_000,
             edit=_set(positions={DOWN1: [20_000_000, 10_000_000]})),
    # ---------------------------------------------------------------- stalebookguard
    Scenario("risk.stalebookguard", "complement marked stale by the feed", _intent(UP1),
             Verdict.REJECT, ("RISK_STALEBOOK_FEED_STALE",), edit=_set(stale_tokens=[DOWN1])),
    Scenario("risk.stalebookguard", "book stamped 5 s in the future", _intent(UP1),
             Verdict.REJECT, ("RISK_STALEBOOK_INPUT_INVALID",),
             edit=_stamp(UP1, (NOW + 5_000) * MS)),
    Scenario("risk.stalebookguard", "stale complement ignored when not checked", _intent(UP1),
             Verdict.APPROVE, (), edit=_set(stale_tokens=[DOWN1]),
             config={"check_complement_book": False}),
    # ---------------------------------------------------------------- marketqualityguard
    Scenario("risk.marketqualityguard", "placeholder 0.01/0.99 book (hand-made)", _intent(UP1),
             Verdict.REJECT, ("RISK_QUALITY_PLACEHOLDER_BOOK",),
             edit=_book(UP1, [[10_000, 5_000_000_000]], [[990_000, 5_000_000_000]], NOW * MS)),
    Scenario("risk.marketqualityguard", "empty book (hand-made)", _intent(UP1),
             Verdict.REJECT, ("RISK_QUALITY_PLACEHOLDER_BOOK",),
             edit=_book(UP1, [], [], NOW * MS)),
    Scenario("risk.marketqualityguard", "real one-sided book near the end", _intent(UP1,
             price=1_000, now_ms=1790586747899), Verdict.REJECT, ("RISK_QUALITY_ONE_SIDED",),
             now_ms=1790586747899,
             edit=_book(UP1, _ONE_SIDED_UP[1], _ONE_SIDED_UP[2], 1790586747899 * MS)),
    Scenario("risk.marketqualityguard", "real 8-tick spread above a 6-tick limit",
             _intent(mf.token(M3, "DOWN"), price=240_000, now_ms=mf.WIDE_MS), Verdict.REJECT,
             ("RISK_QUALITY_SPREAD_WIDE",), market=M3, now_ms=mf.WIDE_MS,
             config={"max_spread_ticks": 6}),
    Scenario("risk.marketqualityguard", "real book thinner than 100,000 shares", _intent(UP1),
             Verdict.REJECT, ("RISK_QUALITY_DEPTH_THIN",),
             config={"min_depth_micros": 100_000_000_000}),
    # ---------------------------------------------------------------- exposureguard
    Scenario("risk.exposureguard", "nothing fits above the minimum size", _intent(UP1),
             Verdict.REJECT, ("RISK_EXPOSURE_MARKET_CAP",),
             edit=_set(positions={UP1: [1_000_000_000, 499_900_000]})),
    Scenario("risk.exposureguard", "event cap binds (neg-risk pair), no reshape",
             _intent(UP1, size=1_000_000_000), Verdict.REJECT, ("RISK_EXPOSURE_EVENT_CAP",),
             edit=_two_markets("ev1", {UP3: [1_000_000_000, 450_000_000]}),
             config={"max_event_loss_micros": 500 * PUSD, "reshape_to_fit": False}),
    Scenario("risk.exposureguard", "event cap reshapes to 625 shares",
             _intent(UP1, size=1_000_000_000), Verdict.APPROVE, ("RISK_EXPOSURE_RESHAPED",),
             edit=_two_markets("ev1", {UP3: [1_000_000_000, 450_000_000]}),
             config={"max_event_loss_micros": 500 * PUSD}),
    Scenario("risk.exposureguard", "total cap binds across standalone markets",
             _intent(UP1, size=1_000_000_000), Verdict.REJECT, ("RISK_EXPOSURE_TOTAL_CAP",),
             edit=_two_markets("", {UP3: [1_000_000_000, 450_000_000]}),
             config={"max_total_loss_micros": 500 * PUSD, "reshape_to_fit": False}),
    Scenario("risk.exposureguard", "buying the complement hedges past the cap",
             _intent(DOWN1, price=900_000, size=100_000_000), Verdict.APPROVE,
             ("RISK_EXPOSURE_WARN",),  # worst case 600 -> 590 pUSD: lower, still above 80 %
             edit=_set(positions={UP1: [1_000_000_000, 600_000_000]})),
    Scenario("risk.exposureguard", "a REPLACE is judged without the order it replaces",
             _intent(UP1, price=90_000, size=5_000_000_000, action="REPLACE",
                     target_intent_id="old"),
             Verdict.APPROVE, ("RISK_EXPOSURE_WARN",),  # 450 pUSD, not 400 + 450
             edit=_set(open_orders=[{"client_order_id": "o-old", "intent_id": "old",
                                     "token_id": UP1, "market_id": M1, "side": "BUY",
                                     "price": 80_000, "size": 5_000_000_000,
                                     "status": "ACCEPTED"}])),
    Scenario("risk.exposureguard", "an open order counts as filling adversely",
             _intent(UP1, price=90_000, size=5_000_000_000), Verdict.APPROVE,
             ("RISK_EXPOSURE_RESHAPED",),  # 400 pending + 450 > 500: cut to 100 / 0.09
             edit=_set(open_orders=[{"client_order_id": "o-old", "intent_id": "old",
                                     "token_id": UP1, "market_id": M1, "side": "BUY",
                                     "price": 80_000, "size": 5_000_000_000,
                                     "status": "ACCEPTED"}])),
    Scenario("risk.exposureguard", "reduce-only always passes",
             _intent(UP1, side="SELL", price=10_000, size=500_000_000, reduce_only=True),
             Verdict.APPROVE, (), edit=_set(positions={UP1: [1_000_000_000, 499_900_000]}),
             config={"max_market_loss_micros": 0, "max_total_loss_micros": 0}),
    Scenario("risk.exposureguard", "reduce-only skips the caps (guard alone; the desk checks "
             "that it really reduces)", _intent(UP1, size=5_000_000_000, reduce_only=True),
             Verdict.APPROVE, (), edit=_set(positions={UP1: [1_000_000_000, 499_900_000]}),
             direct=True),
    # ---------------------------------------------------------------- drawdownguard
    Scenario("risk.drawdownguard", "6 % drawdown refuses a new buy", _intent(UP1),
             Verdict.REJECT, ("RISK_DRAWDOWN_INCREASE_BLOCKED",), edit=_set(cash=940 * PUSD)),
]  # fmt: skip


@dataclass
class MonitorScenario:
    """One monitor rule: a state edit, a config, and the finding expected (None: all well)."""

    bot_id: str
    name: str
    finding: MonitorDecision | None
    edit: Callable[[dict[str, Any]], None] = lambda state: None
    config: dict[str, Any] = field(default_factory=dict)


def _halt(*codes: str) -> MonitorDecision:
    return MonitorDecision(action=MonitorAction.HALT, reason_codes=codes)


MONITOR_SCENARIOS = [
    # ---------------------------------------------------------------- killswitch
    MonitorScenario("risk.killswitch", "healthy desk: nothing", None),
    MonitorScenario("risk.killswitch", "feed silent 31 s halts", _halt("RISK_KILLSWITCH_FEED_LOST"),
                    _set(last_feed_event_ns=(NOW - 31_000) * MS)),
    MonitorScenario("risk.killswitch", "feed silent 20 s is only a warning: nothing", None,
                    _set(last_feed_event_ns=(NOW - 20_000) * MS)),
    MonitorScenario("risk.killswitch", "heartbeat 11 s old halts",
                    _halt("RISK_KILLSWITCH_HEARTBEAT_LOST"),
                    _set(last_venue_heartbeat_ns=(NOW - 11_000) * MS)),
    MonitorScenario("risk.killswitch", "daily loss 6 % and a dead feed halt with both codes",
                    _halt("RISK_KILLSWITCH_DAILY_LOSS", "RISK_KILLSWITCH_FEED_LOST"),
                    _set(cash=940 * PUSD, last_feed_event_ns=(NOW - 60_000) * MS)),
    MonitorScenario("risk.killswitch", "error streak halts", _halt("RISK_KILLSWITCH_ERROR_STREAK"),
                    _set(consecutive_errors=5)),
    MonitorScenario("risk.killswitch", "no market data yet: no reading, no halt", None,
                    _set(last_feed_event_ns=0)),
    MonitorScenario("risk.killswitch", "an engaged switch on a healthy desk: nothing new", None,
                    _set(kill_switch_tripped=True)),
    # ---------------------------------------------------------------- drawdownguard
    MonitorScenario("risk.drawdownguard", "2 % drawdown: nothing", None, _set(cash=980 * PUSD)),
    MonitorScenario("risk.drawdownguard", "6 % drawdown reduces",
                    MonitorDecision(action=MonitorAction.REDUCE,
                                    reason_codes=("RISK_DRAWDOWN_REDUCING",)),
                    _set(cash=940 * PUSD)),
    MonitorScenario("risk.drawdownguard", "11 % drawdown halts", _halt("RISK_DRAWDOWN_HALT"),
                    _set(cash=890 * PUSD)),
    MonitorScenario("risk.drawdownguard", "no peak equity: no reading, no halt", None,
                    _set(peak_equity=0)),
]  # fmt: skip


@pytest.mark.parametrize("scenario", MONITOR_SCENARIOS, ids=lambda s: f"{s.bot_id}: {s.name}")
def test_monitor_scenario(scenario: MonitorScenario) -> None:
    spec, _ = mf.base_state(M1, NOW)
    spec = copy.deepcopy(spec)
    scenario.edit(spec)
    bot = build_bot(scenario.bot_id, scenario.config)
    assert bot.monitor(build_risk_state(spec)) == scenario.finding


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"{s.bot_id}: {s.name}")
def test_scenario(scenario: Scenario) -> None:
    state = build_risk_state(scenario.state_spec())
    bot = build_bot(scenario.bot_id, scenario.config)
    if scenario.direct:
        decision = bot.decide(scenario.intent, state)
        assert decision.verdict is scenario.verdict
        assert decision.reason_codes == scenario.codes
        return
    run = run_risk(bot, scenario.intent, state, Mode.ENFORCED)
    assert run.outcome.verdict is scenario.verdict
    assert run.outcome.reason_codes == scenario.codes
    assert not run.slot.quarantine_reason


def test_reshapes_are_what_the_rules_say() -> None:
    post_only = next(s for s in SCENARIOS if s.name == "resting order reshaped to post-only")
    run = run_risk(build_bot(post_only.bot_id, {}), post_only.intent,
                   build_risk_state(post_only.state_spec()))  # fmt: skip
    assert run.outcome.reshaped and run.outcome.intent.post_only
    assert run.outcome.intent.size == post_only.intent.size
    event = next(s for s in SCENARIOS if s.name == "event cap reshapes to 625 shares")
    run = run_risk(build_bot(event.bot_id, event.config), event.intent,
                   build_risk_state(event.state_spec()))  # fmt: skip
    # event worst 450 (none wins or M3 loses); room 50 pUSD at 0.08 -> 625 shares.
    assert run.outcome.intent.size == 625_000_000
    pending = next(s for s in SCENARIOS if s.name == "an open order counts as filling adversely")
    run = run_risk(
        build_bot(pending.bot_id, {}), pending.intent, build_risk_state(pending.state_spec())
    )
    # 400 pUSD pending if DOWN wins; room 100 pUSD at 0.09 -> 1,111.11 shares (0.01 grid).
    assert run.outcome.intent.size == 1_111_110_000


def test_drawdown_blocked_buy_puts_the_desk_in_reducing() -> None:
    scenario = next(s for s in SCENARIOS if s.name == "6 % drawdown refuses a new buy")
    state = build_risk_state(scenario.state_spec())
    run_risk(build_bot(scenario.bot_id, {}), scenario.intent, state)
    assert state.trading_state.value == "REDUCING"


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_cancels_always_pass(bot_id: str) -> None:
    """A cancel is approved by every guard even on a desk where every new order fails."""
    spec, _ = mf.base_state(M1, NOW, day_start_equity=0, peak_equity=0, books={},
                            stale_tokens=[UP1], venue_state="CANCEL_ONLY")  # fmt: skip
    state = build_risk_state(spec)
    cancel = OrderIntent(intent_id="c1", bot_id="strat.maker_tight", action=IntentAction.CANCEL,
                         token_id=UP1, side="BUY", price=0, size=0,
                         target_intent_id="i0")  # fmt: skip
    bot = build_bot(bot_id, {})
    assert bot.decide(cancel, state).verdict is Verdict.APPROVE


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_unknown_token_rejected_by_the_bot_itself(bot_id: str) -> None:
    """Even with the desk's unknown-token check off, the guard fails closed (never approves)."""
    spec, _ = mf.base_state(M1, NOW)
    state = build_risk_state(spec)
    intent = _intent(UP3)
    run = run_risk(build_bot(bot_id, {}), intent, state, require_known_tokens=False)
    mine = [e for e in run.envelopes if e.bot_id == bot_id]
    if bot_id in ("risk.killswitch", "risk.drawdownguard"):
        # desk-wide guards do not look at the token; they pass a healthy desk.
        assert mine[0].decision.value == "APPROVE"
    else:
        assert mine[0].decision.value == "REJECT"
        assert mine[0].reason_codes[0].endswith(("INPUT_INVALID", "NO_BOOK"))


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_contract_verification(bot_id: str) -> None:
    assert bot_problems(RISK_BOTS[bot_id], load_registry()) == []


def test_state_capabilities_only_for_killswitch_and_the_portfolio_guards() -> None:
    held = {b: cls.capabilities for b, cls in RISK_BOTS.items() if cls.capabilities}
    assert held == {
        "risk.killswitch": {Capability.HALT, Capability.KILL_SWITCH},
        "risk.drawdownguard": {Capability.REDUCE, Capability.HALT},
        "risk.marginguard": {Capability.REDUCE, Capability.HALT},
        "risk.fundingguard": {Capability.REDUCE},
    }


@pytest.mark.parametrize(
    ("config_cls", "values", "field_name"),
    [
        (KillSwitch.Config, {"daily_loss_halt_bps": 6_000}, "daily_loss_halt_bps"),
        (StaleBookGuard.Config, {"max_book_age_ms": 0}, "max_book_age_ms"),
        (ExposureGuardConfig, {"max_market_loss_micros": -1}, "max_market_loss_micros"),
        (ComplianceGateConfig, {"builder_code": "0x1234"}, "builder_code"),
        (MarketHaltGuard.Config, {"post_only_window_action": "ignore"}, "post_only_window_action"),
    ],
)
def test_config_outside_hard_limits_is_refused(
    config_cls: Any, values: dict[str, Any], field_name: str
) -> None:
    with pytest.raises(ValidationError, match=field_name):
        config_cls(**values)


def test_every_declared_code_is_reached() -> None:
    """Each code a guard may emit appears in one of its packs or (monitor) scenarios above
    (the crypto guards: ``test_crypto_guards.test_every_declared_code_is_reached``)."""
    guards = [b for b in RISK_BOTS if b not in CRYPTO_GUARDS]
    reached: dict[str, set[str]] = {bot_id: set() for bot_id in guards}
    for bot_id in guards:
        for case in CASES:
            reached[bot_id].update(load_pack(pack_path(bot_id, case)).expected["reason_codes"])
    for scenario in SCENARIOS:
        reached[scenario.bot_id].update(scenario.codes)
    for monitored in MONITOR_SCENARIOS:
        if monitored.finding is not None:
            reached[monitored.bot_id].update(monitored.finding.reason_codes)
    for bot_id in guards:
        assert reached[bot_id] == set(RISK_BOTS[bot_id].reason_codes), bot_id


# ---------------------------------------------------------------- properties
@given(
    held=st.integers(0, 2_000).map(lambda v: v * 1_000_000),
    cost_cents=st.integers(1, 99),
    price_cents=st.integers(1, 99),
    size=st.integers(1, 5_000).map(lambda v: v * 1_000_000),
    yes=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_exposure_reshape_always_fits(
    held: int, cost_cents: int, price_cents: int, size: int, yes: bool
) -> None:
    """Whatever the position, the exposure guard's output never leaves a cap exceeded more
    than before: a RESHAPE, re-checked, is approved; an APPROVE keeps every level in its cap
    (or below the level it started from)."""
    spec, _ = mf.base_state(M1, NOW)
    if held:
        spec["positions"] = {UP1: [held, held * cost_cents // 100]}
    state = build_risk_state(spec)
    guard = ExposureGuard()
    intent = _intent(UP1 if yes else DOWN1, price=price_cents * 10_000, size=size)
    decision = guard.decide(intent, state)
    if decision.verdict is Verdict.RESHAPE:
        assert decision.reshaped is not None
        assert decision.reshaped.size < intent.size
        again = guard.decide(decision.reshaped, state)
        assert again.verdict is Verdict.APPROVE
    else:
        assert decision.verdict in (Verdict.APPROVE, Verdict.REJECT)


def test_compliance_builder_code_is_case_insensitive() -> None:
    spec, _ = mf.base_state(M1, NOW)
    state = build_risk_state(spec)
    upper = _intent(UP1, builder_code="0x" + mf.DESK_BUILDER_CODE[2:].upper())
    assert ComplianceGate().decide(upper, state).verdict is Verdict.APPROVE
