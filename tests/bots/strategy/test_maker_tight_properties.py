"""Property: over any path of book moves and partial maker fills, strat.maker_tight only ever
proposes post-only quotes on the tick that do not cross the book, and its net inventory plus
what its resting quotes could still add never passes the maximum position."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.bots.strategy.maker_tight import MakerTight, MakerTightConfig
from polytraders.bots.strategy.maker_tight.quotes import ASK, BID
from polytraders.model.events import BookSnapshot
from polytraders.model.orders import IntentAction, OrderIntent, OrderStatus, Side, VenueOrder
from polytraders.readiness.packs import build_state, load_case

MS = 1_000_000
TICK = 1_000
MAX = 30_000_000


def simulate(steps: list[tuple[int, float, float]]) -> tuple[list[str], int]:
    """Run the path, asserting the invariants after every event; return every reason code seen
    and the largest |net inventory|."""
    case = load_case("strat.maker_tight", "normal")
    view = build_state(case["state"])
    market = view.markets()[0]
    up, down = (t.token_id for t in market.tokens)
    bot = MakerTight(MakerTightConfig(max_position_micros=MAX, refresh_ticks=1))
    working: dict[str, OrderIntent] = {}  # intent id → resting order (primary-token terms)
    held = {up: 0, down: 0}
    bid_px = 400_000
    codes: list[str] = []
    worst = 0
    for move, fill_bid, fill_ask in steps:
        view.set_time(view.now_ns + 500 * MS)
        bid_px = min(max(bid_px + move * TICK, 20_000), 960_000)
        ask_px = bid_px + 10 * TICK
        # maker fills: a fraction of each resting quote trades (BUY → UP held, SELL → DOWN held,
        # as the router sends a SELL of unheld UP as a BUY of DOWN)
        for iid, order in list(working.items()):
            frac = fill_bid if order.side is Side.BUY else fill_ask
            filled = int(order.size * frac) // 10_000 * 10_000
            if not filled:
                continue
            held[up if order.side is Side.BUY else down] += filled
            remaining = order.size - filled
            view.order_closed(iid + "/o0")
            if remaining:
                working[iid] = msgspec.structs.replace(order, size=remaining)
            else:
                del working[iid]
        for token, size in held.items():
            view.ledger.set_position(token, size, size // 2)
        for iid, order in working.items():
            view.add_order(
                VenueOrder(
                    client_order_id=iid + "/o0",
                    intent_id=iid,
                    bot_id=order.bot_id,
                    token_id=order.token_id,
                    side=order.side,
                    price=order.price,
                    size=order.size,
                    status=OrderStatus.ACCEPTED,
                )
            )
        bids, asks = [(bid_px, 50_000_000)], [(ask_px, 50_000_000)]
        view.set_book(up, bids, asks, view.now_ns)
        view.set_book(
            down,
            [(1_000_000 - ask_px, 50_000_000)],
            [(1_000_000 - bid_px, 50_000_000)],
            view.now_ns,
        )
        out = bot.decide(
            BookSnapshot(ts_event_ns=view.now_ns, token_id=up, bids=bids, asks=asks), view
        )
        for intent in out.intents:
            if intent.action is not IntentAction.PLACE:
                working.pop(intent.target_intent_id, None)
                view.order_closed(intent.target_intent_id + "/o0")
            if intent.action is IntentAction.CANCEL:
                continue
            assert intent.post_only and intent.price % TICK == 0
            assert intent.price < ask_px if intent.side is Side.BUY else intent.price > bid_px
            working[intent.intent_id] = intent
        codes += out.reason_codes
        net = held[up] - held[down]
        worst = max(worst, abs(net))
        resting_bid = bot.quotes.get(market.market_id, BID)
        resting_ask = bot.quotes.get(market.market_id, ASK)
        assert net + (resting_bid.size if resting_bid else 0) <= MAX
        assert net - (resting_ask.size if resting_ask else 0) >= -MAX
    return codes, worst


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(-6, 6), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=25
    )
)
def test_any_path_keeps_quotes_post_only_uncrossed_and_within_the_cap(
    steps: list[tuple[int, float, float]],
) -> None:
    simulate(steps)


def test_a_one_way_market_reaches_the_cap_and_stops_buying() -> None:
    codes, worst = simulate([(0, 1.0, 0.0)] * 8)  # every bid fills completely, no ask does
    # bids of 10, 8.33, 6.94 shares fill (each shrunk by the skew); at 25.27 held the room left
    # (4.73) is under the 5-share minimum, so the bid stops and only the ask is quoted
    assert worst == 25_270_000
    assert "STRAT_INVENTORY_LIMIT" in codes
