"""strat.maker_tight end to end on a desk view: stand-downs, no churn, inventory, end of market,
and a replay of a whole recorded market with simulated maker fills."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.bots.strategy.maker_tight import MakerTight, MakerTightConfig
from polytraders.contracts.bot import bot_problems
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.reasons import load_registry
from polytraders.desk.gate import gate_reason
from polytraders.desk.state import DeskState
from polytraders.model.events import (
    BookSnapshot,
    FeedStatus,
    KillSwitchTripped,
    MarketStatus,
    OrderCanceled,
    TickSizeChange,
    Timer,
    TradingState,
)
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market, MarketState
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce, VenueOrder
from polytraders.readiness.packs import build_state, load_case

S = 1_000_000_000


def normal_view(edit=None) -> tuple[DeskState, BookSnapshot]:  # type: ignore[no-untyped-def]
    """The recorded normal case as a real desk state, optionally with its state dict edited."""
    case = load_case("strat.maker_tight", "normal")
    if edit is not None:
        edit(case["state"])
    view = build_state(case["state"])
    event = msgspec.convert(case["input"], BookSnapshot)
    return view, event


def rest(view: DeskState, intents: tuple[OrderIntent, ...]) -> None:
    """Show the proposed orders as the desk's open orders (what the order manager would list)."""
    for order in view.open_orders():
        view.order_closed(order.client_order_id)
    for i in intents:
        view.add_order(
            VenueOrder(
                client_order_id=client_order_id(i.intent_id, 0),
                intent_id=i.intent_id,
                bot_id=i.bot_id,
                token_id=i.token_id,
                side=i.side,
                price=i.price,
                size=i.size,
            )
        )


def ids(market: Market) -> tuple[str, str]:
    return market.tokens[0].token_id, market.tokens[1].token_id


def first_market(view: DeskState) -> Market:
    return view.markets()[0]


def test_contract_conforms() -> None:
    assert bot_problems(MakerTight, load_registry()) == []
    assert MakerTightConfig().config_version == MakerTightConfig().config_version


def test_config_outside_hard_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="base_half_spread_ticks"):
        MakerTightConfig(base_half_spread_ticks=0)
    with pytest.raises(ValueError, match="extra"):
        MakerTightConfig(spread_bps=5)  # type: ignore[call-arg]


def test_quotes_then_holds_without_churn() -> None:
    view, event = normal_view()
    bot = MakerTight()
    first = bot.decide(event, view)
    assert [i.side for i in first.intents] == [Side.BUY, Side.SELL]
    assert all(i.post_only and i.time_in_force is TimeInForce.GTD for i in first.intents)
    again = bot.decide(event, view)
    assert again.intents == () and again.reason_codes == ("STRAT_QUOTES_HELD",)


def test_refresh_on_move_and_on_age() -> None:
    view, event = normal_view()
    bot = MakerTight()
    placed = bot.decide(event, view).intents
    # the recorded book moves up 3 ticks: both quotes are replaced, naming the old intents
    up, down = ids(first_market(view))
    moved = {
        up: ([(83_000, 94_690_000)], [(93_000, 94_170_000)]),
        down: ([(907_000, 94_170_000)], [(917_000, 94_690_000)]),
    }
    view.set_time(event.ts_event_ns + S)
    for token, (bids, asks) in moved.items():
        view.set_book(token, bids, asks, view.now_ns)
    later = BookSnapshot(ts_event_ns=view.now_ns, token_id=up, bids=moved[up][0], asks=moved[up][1])
    out = bot.decide(later, view)
    assert [i.action for i in out.intents] == [IntentAction.REPLACE, IntentAction.REPLACE]
    assert [i.target_intent_id for i in out.intents] == [p.intent_id for p in placed]
    assert out.reason_codes == ("STRAT_QUOTES_REFRESHED",)
    rest(view, out.intents)
    # nothing moves, but 30 s pass: refreshed by age
    view.set_time(view.now_ns + 30 * S)
    aged = bot.decide(Timer(ts_event_ns=view.now_ns, name="tick"), view)
    assert [i.action for i in aged.intents] == [IntentAction.REPLACE, IntentAction.REPLACE]


def _stale(st: dict) -> None:  # type: ignore[type-arg]
    st["stale"] = [st["markets"][0]["tokens"][1]["token_id"]]


def _no_books(st: dict) -> None:  # type: ignore[type-arg]
    st["books"] = {}


def _one_sided(st: dict) -> None:  # type: ignore[type-arg]
    up, down = (t["token_id"] for t in st["markets"][0]["tokens"])
    st["books"][up]["bids"] = []
    st["books"][down]["asks"] = []


def _crossed(st: dict) -> None:  # type: ignore[type-arg]
    up = st["markets"][0]["tokens"][0]["token_id"]  # the UP book itself: bid 0.095 > ask 0.09
    st["books"][up]["bids"].insert(0, [95_000, 1_000_000])


def _disagree(st: dict) -> None:  # type: ignore[type-arg]
    down = st["markets"][0]["tokens"][1]["token_id"]  # valid alone; implies UP ask 0.05 < 0.08
    st["books"][down] = {"ts_ns": st["now_ns"], "bids": [[950_000, 1]], "asks": [[960_000, 1]]}


def _halted(st: dict) -> None:  # type: ignore[type-arg]
    st["trading_state"] = "HALTED"


def _killed(st: dict) -> None:  # type: ignore[type-arg]
    st["trading_state"] = "HALTED"
    st["kill_switch_tripped"] = True


def _market_halted(st: dict) -> None:  # type: ignore[type-arg]
    st["markets"][0]["state"] = "HALTED"


def _one_token(st: dict) -> None:  # type: ignore[type-arg]
    st["markets"][0]["tokens"] = st["markets"][0]["tokens"][:1]


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (_stale, "STRAT_STALE_BOOK"),
        (_no_books, "STRAT_NO_BOOK"),
        (_one_sided, "STRAT_ONE_SIDED_BOOK"),
        (_crossed, "STRAT_CROSSED_BOOK"),
        (_halted, "STRAT_TRADING_HALTED"),
        (_killed, "STRAT_TRADING_HALTED"),
        (_market_halted, "STRAT_MARKET_NOT_ACTIVE"),
        (_one_token, "STRAT_INVALID_MARKET"),
    ],
)
def test_bad_input_stands_down_and_withdraws_quotes(edit, code: str) -> None:  # type: ignore[no-untyped-def]
    view, event = normal_view()
    bot = MakerTight()
    placed = bot.decide(event, view).intents
    bad, _ = normal_view(edit)  # the same desk a moment later, with the input corrupted
    out = bot.decide(event, bad)
    assert out.reason_codes == (code, "STRAT_QUOTE_WITHDRAWN")
    assert [i.action for i in out.intents] == [IntentAction.CANCEL, IntentAction.CANCEL]
    assert sorted(i.target_intent_id for i in out.intents) == sorted(p.intent_id for p in placed)
    # and it stays down: nothing more to cancel, never a quote
    again = bot.decide(event, bad)
    assert again.intents == () and again.reason_codes == (code,)


def test_books_that_disagree_are_held_then_treated_as_crossed() -> None:
    view, event = normal_view()
    bot = MakerTight()
    bot.decide(event, view)
    edited = load_case("strat.maker_tight", "normal")
    _disagree(edited["state"])
    for delay_ms, expected in ((0, 0), (2_000, 0), (2_001, 2)):
        edited["state"]["now_ns"] = event.ts_event_ns + delay_ms * 1_000_000
        out = bot.decide(event, build_state(edited["state"]))
        if expected == 0:  # within max_book_disagreement_ms: nothing changes
            assert out.intents == () and out.reason_codes == ("STRAT_BOOKS_DISAGREE",)
        else:
            assert out.reason_codes == ("STRAT_CROSSED_BOOK", "STRAT_QUOTE_WITHDRAWN")
            assert len(out.intents) == expected


def test_unknown_token_event_is_ignored_with_a_code() -> None:
    view, event = normal_view()
    stray = msgspec.structs.replace(event, token_id="0xdead:UP")
    out = MakerTight().decide(stray, view)
    assert out.intents == () and out.reason_codes == ("STRAT_UNKNOWN_TOKEN",)
    feed = FeedStatus(ts_event_ns=1, token_id="nope", stale=True)
    assert MakerTight().decide(feed, view).reason_codes == ("STRAT_UNKNOWN_TOKEN",)


def test_market_status_event_withdraws() -> None:
    view, event = normal_view()
    bot = MakerTight()
    bot.decide(event, view)
    market = first_market(view)
    status = MarketStatus(
        ts_event_ns=event.ts_event_ns,
        market_id=market.market_id,
        state=MarketState.CLOSED,
        accepting_orders=False,
    )
    view.apply_event(status)
    out = bot.decide(status, view)
    assert out.reason_codes[0] == "STRAT_MARKET_NOT_ACTIVE" and len(out.intents) == 2


def test_kill_switch_event_reaches_every_market() -> None:
    view, event = normal_view()
    bot = MakerTight()
    bot.decide(event, view)
    view.trip_kill_switch("SYS_KILL_SWITCH_TRIPPED", "op")
    out = bot.decide(
        KillSwitchTripped(
            ts_event_ns=event.ts_event_ns, reason_code="SYS_KILL_SWITCH_TRIPPED", source="op"
        ),
        view,
    )
    assert all(i.action is IntentAction.CANCEL for i in out.intents) and len(out.intents) == 2


def test_fill_and_cancel_events_update_working_quotes() -> None:
    view, event = normal_view()
    bot = MakerTight()
    bid, ask = bot.decide(event, view).intents
    rest(view, (bid, ask))
    assert bot.decide(event, view).intents == ()  # the desk lists both quotes: learnt, kept
    up, _ = ids(first_market(view))
    view.order_closed(client_order_id(bid.intent_id, 0))  # the desk applied the fill
    fill = Fill(
        fill_id="f0",
        client_order_id=client_order_id(bid.intent_id, 0),
        token_id=up,
        market_id=bid.market_id,
        side=Side.BUY,
        price=bid.price,
        size=bid.size,
        liquidity=LiquiditySide.MAKER,
        ts_event_ns=event.ts_event_ns,
    )
    view.ledger.set_position(up, bid.size, 820_000)
    out = bot.decide(fill, view)
    # the bid filled completely: a new, smaller (skewed) bid is placed. The reservation price
    # drops 0.2 tick (2 ticks × 10/100): the ask target moves 0.089 → 0.088, one tick, below
    # refresh_ticks = 3, so the working ask is kept (no churn)
    assert [(i.action, i.side) for i in out.intents] == [(IntentAction.PLACE, Side.BUY)]
    assert out.intents[0].size == 9_500_000  # 10 × (1 − 50 % × 10/100)
    assert out.intents[0].price == 81_000  # ⌊0.084813 − 3 ticks⌋
    gone = OrderCanceled(
        ts_event_ns=event.ts_event_ns, client_order_id=client_order_id(ask.intent_id, 0)
    )
    view.order_closed(gone.client_order_id)
    out = bot.decide(gone, view)
    assert [(i.action, i.side) for i in out.intents] == [(IntentAction.PLACE, Side.SELL)]


def test_inventory_skew_moves_both_quotes_with_a_one_tick_refresh() -> None:
    view, event = normal_view()
    bot = MakerTight(MakerTightConfig(refresh_ticks=1))
    placed = bot.decide(event, view).intents
    rest(view, placed)
    up, _ = ids(first_market(view))
    view.ledger.set_position(up, 10_000_000, 820_000)  # long 10 UP (a fill elsewhere)
    out = bot.decide(Timer(ts_event_ns=view.now_ns, name="tick"), view)
    # bid: size 10 → 9.5 (smaller: replace); ask: 0.089 → 0.088 (one tick ≥ refresh_ticks)
    assert [(i.action, i.side, i.price, i.size) for i in out.intents] == [
        (IntentAction.REPLACE, Side.BUY, 81_000, 9_500_000),
        (IntentAction.REPLACE, Side.SELL, 88_000, 10_000_000),
    ]


def test_reducing_state_quotes_only_the_reducing_side() -> None:
    view, event = normal_view()
    view.set_trading_state(TradingState.REDUCING, "RISK_DRAWDOWN_WARNING", "risk.drawdownguard")
    out = MakerTight().decide(event, view)
    assert out.intents == () and "STRAT_REDUCING_ONLY" in out.reason_codes
    _, down = ids(first_market(view))
    view.ledger.set_position(down, 20_000_000, 18_200_000)  # net short UP
    out = MakerTight().decide(event, view)
    assert [i.side for i in out.intents] == [Side.BUY]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("hold", []),
        ("passive", [(Side.SELL, TimeInForce.GTC, True, 946_000)]),
        ("taker", [(Side.SELL, TimeInForce.FAK, False, 940_000)]),
    ],
)
def test_end_window_unwind_rules(
    rule: str, expected: list[tuple[Side, TimeInForce, bool, int]]
) -> None:
    case = load_case("strat.maker_tight", "hard")
    view = build_state(case["state"])
    event = msgspec.convert(case["input"], BookSnapshot)
    out = MakerTight(MakerTightConfig(unwind_rule=rule)).decide(event, view)  # type: ignore[arg-type]
    assert out.reason_codes[0] == "STRAT_END_WINDOW"
    got = [(i.side, i.time_in_force, i.post_only, i.price) for i in out.intents]
    assert got == expected
    assert all(i.reduce_only and i.size == 20_000_000 for i in out.intents)


def test_after_the_end_nothing_is_placed() -> None:
    case = load_case("strat.maker_tight", "hard")
    case["state"]["now_ns"] = case["state"]["markets"][0]["end_ns"]
    view = build_state(case["state"])
    event = msgspec.convert(case["input"], BookSnapshot)
    out = MakerTight().decide(event, view)
    assert out.intents == () and out.reason_codes == ("STRAT_END_WINDOW",)


def test_a_restarted_bot_never_reuses_intent_ids() -> None:
    view, event = normal_view()
    first = MakerTight().decide(event, view)
    assert first.intents[0].intent_id == f"strat.maker_tight/s{view.now_ns}/i0"
    view.set_time(view.now_ns + 1)  # a resumed run: the new bot's first decision is later
    again = MakerTight().decide(event, view)
    assert not {i.intent_id for i in first.intents} & {i.intent_id for i in again.intents}


def test_reset_restarts_ids() -> None:
    view, event = normal_view()
    bot = MakerTight()
    first = bot.decide(event, view)
    bot.reset()
    assert bot.decide(event, view) == first


# ---------------------------------------------------------------- properties
@settings(max_examples=150, deadline=None)
@given(
    bid=st.integers(20, 960),
    width=st.integers(1, 30),
    up_held=st.integers(0, 150),
    down_held=st.integers(0, 150),
    size_a=st.integers(1, 10**9),
    size_b=st.integers(1, 10**9),
)
def test_any_book_and_inventory(
    bid: int, width: int, up_held: int, down_held: int, size_a: int, size_b: int
) -> None:
    view, event = normal_view()
    up, down = ids(first_market(view))
    bid_px, ask_px = bid * 1_000, min(bid * 1_000 + width * 1_000, 990_000)
    view.set_book(up, [(bid_px, size_a)], [(ask_px, size_b)], view.now_ns)
    view.set_book(down, [(1_000_000 - ask_px, size_b)], [(1_000_000 - bid_px, size_a)], view.now_ns)
    for token, held in ((up, up_held), (down, down_held)):
        view.ledger.set_position(token, held * 1_000_000, held * 500_000)
    net = (up_held - down_held) * 1_000_000
    cfg = MakerTightConfig()
    out = MakerTight(cfg).decide(event, view)
    for intent in out.intents:
        assert intent.post_only and intent.price % 1_000 == 0
        if intent.side is Side.BUY:
            assert intent.price < ask_px and net + intent.size <= cfg.max_position_micros
        else:
            assert intent.price > bid_px and net - intent.size >= -cfg.max_position_micros


def test_volatile_regime_widens_quotes_with_a_warning() -> None:
    view, event = normal_view()
    bot = MakerTight(MakerTightConfig(volatile_atr_ticks=1.0, fee_cover_pct=0))
    calm = bot.decide(event, view)
    assert "STRAT_VOLATILE_REGIME" not in calm.reason_codes
    calm_width = calm.intents[1].price - calm.intents[0].price
    up, down = ids(first_market(view))
    view.set_time(event.ts_event_ns + S)
    view.set_book(up, [(92_000, 94_690_000)], [(102_000, 94_170_000)], view.now_ns)
    view.set_book(down, [(898_000, 94_170_000)], [(908_000, 94_690_000)], view.now_ns)
    jump = BookSnapshot(
        ts_event_ns=view.now_ns,
        token_id=up,
        bids=[(92_000, 94_690_000)],
        asks=[(102_000, 94_170_000)],
    )
    out = bot.decide(jump, view)
    # a 12-tick jump: ATR = 2/21 × 12 ≈ 1.14 ticks ≥ 1 → VOLATILE; half-spread 1 (base)
    # + ⌈1.14⌉ (ATR) + 1 (volatile) = 4 ticks against 1 tick when calm
    assert out.reason_codes[0] == "STRAT_VOLATILE_REGIME"
    reading = bot.regime.reading(first_market(view).market_id)
    assert reading is not None and reading.atr_ticks == pytest.approx(12 * 2 / 21)
    width = out.intents[1].price - out.intents[0].price
    assert calm_width <= 3_000 and width >= 8_000


def test_price_near_certainty_quotes_one_side() -> None:
    def near_one(st: dict) -> None:  # type: ignore[type-arg]
        up, down = (t["token_id"] for t in st["markets"][0]["tokens"])
        st["books"][up] = {
            "ts_ns": st["now_ns"],
            "bids": [[998_000, 50_000_000]],
            "asks": [[999_000, 50_000_000]],
        }
        st["books"][down] = {
            "ts_ns": st["now_ns"],
            "bids": [[1_000, 50_000_000]],
            "asks": [[2_000, 50_000_000]],
        }

    view, event = normal_view(near_one)
    out = MakerTight().decide(event, view)
    assert out.reason_codes == ("STRAT_PRICE_AT_EXTREME", "STRAT_QUOTES_PLACED")
    # fair 0.9985: the ask would be ⌈0.9995⌉ = 1.0 > 1 − tick, so only the bid (⌊0.9975⌋) rests
    assert [(i.side, i.price) for i in out.intents] == [(Side.BUY, 997_000)]


def test_tick_size_change_requotes_on_the_new_grid() -> None:
    view, event = normal_view()
    bot = MakerTight()
    placed = bot.decide(event, view).intents
    rest(view, placed)
    up, down = ids(first_market(view))
    for token in (up, down):
        change = TickSizeChange(
            ts_event_ns=view.now_ns, token_id=token, old_tick_size=1_000, new_tick_size=10_000
        )
        view.apply_event(change)
    out = bot.decide(change, view)
    # 0.082 / 0.089 are off the 0.01 grid: both replaced, on the grid, inside the 0.08/0.09 book
    assert [i.action for i in out.intents] == [IntentAction.REPLACE, IntentAction.REPLACE]
    assert all(i.price % 10_000 == 0 for i in out.intents)
    assert out.intents[0].price < 90_000 and out.intents[1].price > 80_000


@pytest.mark.parametrize(
    ("held_up", "held_down", "expected"),
    [
        (20_000_000, 0, [("UP", 20_000_000)]),
        (20_000_000, 14_000_000, [("UP", 6_000_000)]),  # 14 pairs kept, the 6 extra UP sold
        (20_000_000, 17_000_000, []),  # 3 extra UP: below the 5-share minimum
        (20_000_000, 20_000_000, []),  # fully paired: nothing at risk
        (0, 12_000_000, [("DOWN", 12_000_000)]),
    ],
)
def test_unwind_sells_only_the_net_exposure_and_passes_the_desk_gate(
    held_up: int, held_down: int, expected: list[tuple[str, int]]
) -> None:
    case = load_case("strat.maker_tight", "hard")
    up, down = (t["token_id"] for t in case["state"]["markets"][0]["tokens"])
    case["state"]["positions"] = {
        token: [size, size * 500_000 // 1_000_000]
        for token, size in ((up, held_up), (down, held_down))
        if size
    }
    view = build_state(case["state"])
    event = msgspec.convert(case["input"], BookSnapshot)
    for rule in ("passive", "taker"):
        out = MakerTight(MakerTightConfig(unwind_rule=rule)).decide(event, view)  # type: ignore[arg-type]
        got = [(i.token_id.rsplit(":", 1)[1], i.size) for i in out.intents]
        assert got == expected
        for intent in out.intents:
            assert intent.reduce_only and intent.side is Side.SELL
            assert gate_reason(intent, view) is None  # the desk accepts it as reduce-only


def test_a_market_found_valid_is_checked_again_when_its_payouts_change_in_place() -> None:
    view, event = normal_view()
    bot = MakerTight()
    assert bot.decide(event, view).intents  # valid: quoting (and remembered as valid)
    market = view.markets()[0]
    market.payouts[market.tokens[0].token_id] = 5  # the same record, now malformed
    out = bot.decide(event, view)
    assert out.reason_codes == ("STRAT_INVALID_MARKET", "STRAT_QUOTE_WITHDRAWN")
