"""``Desk.demote``: automatic demotion taking a bot out of ENFORCED in a running desk, with a
``BotModeChanged`` desk event, by class (a strategy's quotes cancelled, an execution bot
routing nothing, a risk guard's loss of authority failing closed into REDUCING), pinned so no
operator command makes the bot ENFORCED again in that desk."""

from __future__ import annotations

import pytest

from polytraders.backtest.result import desk_event_json
from polytraders.contracts.modes import Mode
from polytraders.desk.fixtures import binary_market
from polytraders.model.events import BotModeChanged, OperatorCommand, TradingState
from polytraders.model.orders import OrderStatus
from tests.desk.doubles import ApproveBot, QuoteBot, RejectBot
from tests.desk.test_desk import make_desk, snap

S = 1_000_000_000
MARKET = binary_market("m1", "yes", "no", category="crypto")
CODE = "GOV_DEMOTION_APPLIED"


def _set_mode(desk: object, bot_id: str, mode: str) -> tuple[bool, str]:
    action = desk.operator(  # type: ignore[attr-defined]
        OperatorCommand(
            ts_event_ns=9 * S,
            command="set_mode",
            operator="on-call",
            args={"bot_id": bot_id, "mode": mode},
        )
    )
    return action.applied, action.detail


def test_a_demoted_strategy_goes_to_shadow_and_its_quotes_are_cancelled() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=False))  # rests a bid
    desk.process(snap(1.0))
    desk.process(snap(2.0))
    assert [o.status for o in desk.state.open_orders()] == [OrderStatus.ACCEPTED]
    event = desk.demote("strat.quoter", reason_code=CODE, source="governance.demotion")
    assert event == BotModeChanged(
        ts_event_ns=2 * S,
        ts_recv_ns=2 * S,
        bot_id="strat.quoter",
        old_mode="ENFORCED",
        new_mode="SHADOW",
        reason_code=CODE,
        source="governance.demotion",
    )
    assert desk.strategies.slots[0].mode is Mode.SHADOW
    assert desk.state.trading_state is TradingState.ACTIVE  # a strategy leaves the desk as is
    desk.process(snap(3.0))  # the cancel is confirmed; the shadow strategy sends nothing new
    assert desk.state.open_orders() == []
    assert [o.status for o in desk.state.orders.values()] == [OrderStatus.CANCELED]
    shadow = [e for e in desk.envelopes if e.bot_id == "strat.quoter" and e.ts_event_ns == 3 * S]
    assert shadow and {e.mode for e in shadow} == {Mode.SHADOW}  # still runs, only recorded
    # on-call cannot put it back, in any way the desk offers
    applied, detail = _set_mode(desk, "strat.quoter", "ENFORCED")
    assert not applied and "was demoted (GOV_DEMOTION_APPLIED by governance.demotion)" in detail
    assert _set_mode(desk, "strat.quoter", "ADVISORY")[0]  # anything short of ENFORCED is fine
    assert desk.demote("strat.quoter", reason_code=CODE, source="again") is None  # idempotent
    result = desk.run([snap(4.0)])
    assert [e for e in result.desk_events if isinstance(e, BotModeChanged)] == [event]
    recorded = desk_event_json(event)  # as result.json writes it
    assert (recorded["type"], recorded["bot_id"], recorded["new_mode"]) == (
        "bot_mode_changed",
        "strat.quoter",
        "SHADOW",
    )


def test_a_demoted_risk_guard_puts_an_active_desk_into_reducing() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=True), risk=[ApproveBot(), RejectBot()])
    desk.process(snap(1.0))
    event = desk.demote("risk.reject_all", reason_code=CODE, source="governance.demotion")
    assert event is not None and event.new_mode == "SHADOW"
    # its protection is not silently lost: only exposure-reducing intents pass from now on
    assert desk.state.trading_state is TradingState.REDUCING
    controls = desk.state.controls()
    assert (controls.trading_reason_code, controls.trading_source) == (CODE, "governance.demotion")
    desk.process(snap(2.0))
    assert desk.orders.stats.submitted == 0  # the strategy's buys add exposure: refused
    assert not _set_mode(desk, "risk.reject_all", "ENFORCED")[0]
    # an operator who accepts trading without the guard says so explicitly; the guard, now
    # only recorded, no longer rejects
    resumed = desk.operator(
        OperatorCommand(
            ts_event_ns=3 * S,
            command="set_trading_state",
            operator="on-call",
            args={"state": "ACTIVE"},
        )
    )
    assert resumed.applied
    desk.process(snap(4.0))
    assert desk.orders.stats.submitted == 1


def test_a_demoted_execution_bot_routes_nothing() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=True))
    desk.demote("exec.passthrough", reason_code=CODE, source="governance.demotion")
    assert desk.execution.slots[0].mode is Mode.SHADOW
    desk.process(snap(1.0))
    assert desk.orders.stats.submitted == 0 and desk.state.open_orders() == []


def test_a_bot_not_enforced_is_pinned_without_an_event_and_unknown_bots_are_refused() -> None:
    desk = make_desk(QuoteBot("yes", "m1"))
    assert _set_mode(desk, "strat.quoter", "SHADOW")[0]
    assert desk.demote("strat.quoter", reason_code=CODE, source="governance.demotion") is None
    assert "strat.quoter" in desk.demoted
    assert not _set_mode(desk, "strat.quoter", "ENFORCED")[0]
    with pytest.raises(ValueError, match=r"no bot 'strat\.nope'"):
        desk.demote("strat.nope", reason_code=CODE, source="governance.demotion")
