"""Backtest result figures, hand-computed and as a money-conservation property."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from polytraders.backtest.result import (
    EnvelopeTally,
    FillBound,
    FillModel,
    MoneyFigures,
    compute_result,
    max_drawdown,
    sharpe_ratio,
    utc_iso,
)
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.events import KillSwitchTripped, TradingState, TradingStateChanged
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import Side
from polytraders.venues.paper.config import PaperVenueConfig

YES = OutcomeToken(token_id="yes", market_id="m", outcome="Up", complement_token_id="no")
NO = OutcomeToken(token_id="no", market_id="m", outcome="Down", complement_token_id="yes")
RESOLVED = Market(market_id="m", slug="btc", tokens=(YES, NO), payouts={"yes": MICROS, "no": 0})
OPEN = Market(market_id="m", slug="btc", tokens=(YES, NO))
FILL_MODEL = FillModel.of(PaperVenueConfig(queue_model="l2_inference"))


def fill(i: int, token: str, side: Side, price: int, size: int, fee: int, maker: bool) -> Fill:
    return Fill(
        fill_id=f"f{i}",
        client_order_id=f"o{i}",
        token_id=token,
        side=side,
        price=price,
        size=size,
        fee=fee,
        liquidity=LiquiditySide.MAKER if maker else LiquiditySide.TAKER,
        ts_event_ns=i,
    )


def result_for(market: Market, fills: list[Fill], marks: dict[str, int] | None = None):
    return compute_result(
        run_id="r",
        seed=1,
        config_version="c",
        synthetic=False,
        markets=[market],
        fills=fills,
        equity_curve=[(0, 100 * MICROS), (1, 103 * MICROS), (2, 99 * MICROS), (3, 104 * MICROS)],
        tally=EnvelopeTally(),
        envelopes_sha256="x",
        events=10,
        first_event_ns=0,
        last_event_ns=3,
        orders=3,
        venue_rejections={"SYS_VENUE_BELOW_MIN_SIZE": 2},
        final_marks=marks or {},
        wall_s=2.0,
        fill_model=FILL_MODEL,
    )


def test_hand_computed_run_with_settlement() -> None:
    fills = [
        fill(0, "yes", Side.BUY, 450_000, 10 * MICROS, 173_250, maker=False),
        fill(1, "yes", Side.SELL, 500_000, 4 * MICROS, 0, maker=True),
        fill(2, "no", Side.BUY, 500_000, 2 * MICROS, 0, maker=True),
    ]
    doc = result_for(RESOLVED, fills).as_json()
    assert doc["volume_usd"] == "7.5"  # 4.5 + 2.0 + 1.0
    assert doc["invested_usd"] == "5.5"
    assert doc["fees_usd"] == "0.17325"
    assert doc["realized_pnl_usd"] == "0.2"  # 4 × (0.50 − 0.45)
    assert doc["settlement_usd"] == "6"  # 6 YES × 1; 2 NO × 0
    assert doc["settled_pnl_usd"] == "2.3"  # (6 − 2.7) + (0 − 1.0)
    # cash view: −4.5 + 2.0 − 1.0 + 6 − 0.17325
    assert doc["pnl_usd"] == "2.32675"
    assert (doc["fills"], doc["maker_fills"], doc["taker_fills"]) == (3, 2, 1)
    assert doc["max_drawdown_usd"] == "4"
    assert doc["rejections"] == {"SYS_VENUE_BELOW_MIN_SIZE": 2}
    assert doc["events_per_s"] == 5.0
    assert doc["per_market"][0]["final_positions"] == {"no": "2", "yes": "6"}


def test_open_positions_are_marked_and_need_a_mark() -> None:
    fills = [fill(0, "yes", Side.BUY, 450_000, 10 * MICROS, 0, maker=True)]
    doc = result_for(OPEN, fills, {"yes": 480_000}).as_json()
    assert doc["unrealized_pnl_usd"] == "0.3"
    assert doc["pnl_usd"] == "0.3"
    try:
        result_for(OPEN, fills)
    except ValueError as exc:
        assert "no final mark" in str(exc)
    else:
        raise AssertionError("an open position without a mark was accepted")


def test_drawdown_and_sharpe() -> None:
    assert max_drawdown([]) == 0
    assert max_drawdown([(0, 5), (1, 9), (2, 3), (3, 8), (4, 1)]) == 8
    minute = 60 * 1_000_000_000
    rising = [(i * minute, 100 + i) for i in range(10)]
    assert sharpe_ratio(rising) == 0.0  # constant changes: zero variance
    noisy = [(i * minute, v) for i, v in enumerate([100, 102, 101, 104, 103, 106])]
    assert sharpe_ratio(noisy) > 0


trades = st.lists(
    st.tuples(
        st.sampled_from(["yes", "no"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 99).map(lambda c: c * 10_000),
        st.integers(1, 500).map(lambda s: s * 10_000),
        st.integers(0, 20_000).map(lambda f: f * 10),
    ),
    max_size=30,
)


@given(trades, st.booleans())
def test_pnl_equals_cash_flow(seq: list, yes_wins: bool) -> None:
    fills = [
        fill(i, t, side, p, s, f, maker=i % 2 == 0) for i, (t, side, p, s, f) in enumerate(seq)
    ]
    payouts = {"yes": MICROS if yes_wins else 0, "no": 0 if yes_wins else MICROS}
    market = Market(market_id="m", tokens=(YES, NO), payouts=payouts)
    result = result_for(market, fills)
    cash = 0
    held = {"yes": 0, "no": 0}
    for t, side, p, s, f in seq:
        cash += notional_micros(p, s) * (-1 if side is Side.BUY else 1) - f
        held[t] += s if side is Side.BUY else -s
    cash += sum(notional_micros(payouts[t], size) for t, size in held.items())
    assert result.money.pnl == cash
    assert result.money.fills == result.money.maker_fills + result.money.taker_fills
    assert result.per_market[0].final_positions == {
        t: v for t, v in held.items() if any(x[0] == t for x in seq)
    }


def envelope(seq: int, bot: str, cls: BotClass, mode: Mode, decision: Decision, *codes: str):
    return ReportEnvelope(
        envelope_id=f"e{seq}",
        run_id="r",
        sequence=seq,
        ts_event_ns=seq,
        ts_decided_ns=seq,
        bot_id=bot,
        bot_class=cls,
        bot_version="1.0",
        config_version=f"cfg-{bot}",
        mode=mode,
        decision=decision,
        reason_codes=codes,
    )


def test_refusals_by_bot_count_every_non_pass_decision_by_bot_mode_and_code() -> None:
    tally = EnvelopeTally()
    risk, execution = BotClass.RISK, BotClass.EXECUTION
    for e in (
        envelope(0, "strat.a", BotClass.STRATEGY, Mode.ENFORCED, Decision.PROPOSE, "STRAT_X"),
        envelope(1, "risk.a", risk, Mode.ENFORCED, Decision.APPROVE, "RISK_WARN"),
        envelope(2, "risk.a", risk, Mode.ENFORCED, Decision.REJECT, "RISK_A", "RISK_B"),
        envelope(3, "risk.a", risk, Mode.ENFORCED, Decision.REJECT, "RISK_A"),
        envelope(4, "risk.b", risk, Mode.SHADOW, Decision.RESHAPE, "RISK_SMALLER"),
        envelope(5, "risk.b", risk, Mode.QUARANTINE, Decision.QUARANTINE),
        envelope(6, "desk", risk, Mode.ENFORCED, Decision.REJECT, "SYS_TRADING_HALTED"),
        envelope(7, "desk", execution, Mode.ENFORCED, Decision.REFUSE, "SYS_RATE_LIMITED"),
        envelope(8, "exec.a", execution, Mode.ENFORCED, Decision.ROUTE, "EXEC_ROUTED"),
    ):
        tally.record(e)
    rows = [
        (r.bot_id, r.bot_class, r.mode, r.decision, r.reason_code, r.count)
        for r in tally.refusal_counts({"SYS_VENUE_BELOW_MIN_SIZE": 2})
    ]
    assert rows == [
        ("desk", "risk", "ENFORCED", "REJECT", "SYS_TRADING_HALTED", 1),
        ("risk.a", "risk", "ENFORCED", "REJECT", "RISK_A", 2),
        ("risk.a", "risk", "ENFORCED", "REJECT", "RISK_B", 1),
        ("risk.b", "risk", "QUARANTINE", "QUARANTINE", "UNSPECIFIED", 1),
        ("risk.b", "risk", "SHADOW", "RESHAPE", "RISK_SMALLER", 1),
        ("desk", "execution", "ENFORCED", "REFUSE", "SYS_RATE_LIMITED", 1),
        ("venue", "venue", "", "VENUE_REJECT", "SYS_VENUE_BELOW_MIN_SIZE", 2),
    ]
    # the legacy histogram keeps its definition: RESHAPE is not a refusal
    assert "RISK_SMALLER" not in tally.refusals and tally.refusals["RISK_A"] == 2
    seen = {(b.bot_id, b.bot_class): b.modes for b in tally.bots_seen()}
    assert seen[("risk.b", "risk")] == ("QUARANTINE", "SHADOW")
    assert seen[("desk", "execution")] == ("ENFORCED",)
    assert [b.bot_class for b in tally.bots_seen()] == [
        "strategy", "risk", "risk", "risk", "execution", "execution",
    ]  # fmt: skip


def test_result_json_records_desk_events_and_the_fill_model_bound() -> None:
    halted = TradingStateChanged(
        ts_event_ns=1_790_585_112_649_000_001,
        ts_recv_ns=1_790_585_112_649_000_001,
        old_state=TradingState.ACTIVE,
        new_state=TradingState.HALTED,
        reason_code="RISK_KILLSWITCH_DAILY_LOSS",
        source="risk.killswitch",
    )
    trip = KillSwitchTripped(
        ts_event_ns=halted.ts_event_ns,
        ts_recv_ns=halted.ts_recv_ns,
        reason_code="RISK_KILLSWITCH_DAILY_LOSS",
        source="risk.killswitch",
    )
    result = msgspec.structs.replace(result_for(RESOLVED, []), desk_events=[halted, trip])
    doc = result.as_json()
    assert doc["desk_events"] == [
        {
            "type": "trading_state_changed",
            "ts_event_ns": 1_790_585_112_649_000_001,
            "time_utc": "2026-09-28T08:45:12.649000001Z",
            "old_state": "ACTIVE",
            "new_state": "HALTED",
            "reason_code": "RISK_KILLSWITCH_DAILY_LOSS",
            "source": "risk.killswitch",
        },
        {
            "type": "kill_switch_tripped",
            "ts_event_ns": 1_790_585_112_649_000_001,
            "time_utc": "2026-09-28T08:45:12.649000001Z",
            "reason_code": "RISK_KILLSWITCH_DAILY_LOSS",
            "source": "risk.killswitch",
            "detail": "",
        },
    ]
    assert doc["fill_model"]["bound"] == "OPTIMISTIC"
    assert doc["fill_model"]["queue_model"] == "l2_inference"
    assert "bounds" not in doc["fill_model"]  # not computed for this result
    off = FillModel.of(PaperVenueConfig(queue_model="pessimistic"))
    assert off.bound == "PESSIMISTIC" and "never fills us" in off.bound_reason
    estimate = FillModel.of(PaperVenueConfig())
    assert (estimate.bound, estimate.name) == ("ESTIMATE", "probabilistic (log)")


def test_fill_model_names_the_model_and_reports_both_bounds() -> None:
    low = MoneyFigures(pnl=-2 * MICROS, fills=1, maker_fills=1)
    high = MoneyFigures(pnl=5 * MICROS, fills=4, maker_fills=4, volume=3 * MICROS)
    model = FillModel.of(
        PaperVenueConfig(queue_function="power", queue_power_n=2.5, response_latency_ms=40),
        (
            FillBound(which="PESSIMISTIC", queue_model="pessimistic", money=low),
            FillBound(which="OPTIMISTIC", queue_model="l2_inference", money=high),
        ),
    )
    doc = model.as_json()
    assert doc["name"] == "probabilistic (power, n = 2.5)"
    assert (doc["bound"], doc["queue_power_n"], doc["response_latency_ms"]) == (
        "ESTIMATE",
        2.5,
        40,
    )
    bounds = doc["bounds"]
    assert isinstance(bounds, dict)
    assert bounds["pessimistic"]["pnl_usd"] == "-2" and bounds["pessimistic"]["fills"] == 1
    assert bounds["optimistic"]["queue_model"] == "l2_inference"
    assert bounds["optimistic"]["volume_usd"] == "3"
    assert "shadow" in str(doc["bounds_method"])
    assert model.bound_of("OPTIMISTIC") is not None


@given(st.integers(0, 4_102_444_800 * 10**9))  # up to 2100-01-01
def test_utc_iso_is_exactly_the_nanosecond_instant(ts_ns: int) -> None:
    text = utc_iso(ts_ns)
    assert text.endswith("Z") and len(text) == len("2026-09-28T08:45:12.649000001Z")
    whole = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    assert int(whole.timestamp()) * 10**9 + int(text[20:29]) == ts_ns
