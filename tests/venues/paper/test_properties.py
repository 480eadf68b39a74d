"""Property tests of the paper venue on random books, trades and orders (hypothesis).

Invariants (issue 4, "Done when"):

- no order fills more than the liquidity the book showed plus what traded: per market event the
  maker fills it causes are at most the trade's size (a ``Trade``) or the book's decreases plus
  the liquidity it shows (a book update); per order fills never exceed its size (or notional);
- the same liquidity never fills twice across our orders: the taker fills at a level while it
  stays in the book sum to at most the largest size the book showed there, and so does the
  venue's consumed-liquidity record;
- money is conserved exactly: cash − start = Σ sells − Σ buys − Σ fees, holdings = start +
  Σ buys − Σ sells, no balance negative, every reservation released once nothing is open;
- fills respect prices and fees: BUY fills at or below the limit, SELL at or above, makers at
  their own price with no fee, takers pay ``taker_fee_micros``;
- determinism: the same steps give byte-identical venue events;
- the response latency only delays delivery: with ``R`` > 0 the venue makes the same events,
  each delivered ``R`` later.

Every property runs under every queue model (``pytest.mark.parametrize`` over
``QUEUE_MODELS``; the probabilistic model's function and exponent drawn by hypothesis), and
public trades print on both tokens (the complementary token's reach orders at ``1 − x``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.model.events import (
    BookDelta,
    BookSnapshot,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    Trade,
)
from polytraders.model.fees import taker_fee_micros
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import notional_micros
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.venues.base import VenueEvent
from polytraders.venues.paper import QUEUE_MODELS, PaperVenue, PaperVenueConfig
from tests.venues.paper.support import MARKET, MS, NO, RUN, SH, YES, binary_market

CENT = 10_000
START_HOLDINGS = 100 * SH
CRYPTO_RATE_PPM = 70_000

prices = st.integers(min_value=44, max_value=56).map(lambda c: c * CENT)
sizes = st.integers(min_value=1, max_value=60).map(lambda s: s * SH)


@st.composite
def book_snapshots(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], list[tuple[int, int]]]:
    mid = draw(st.integers(min_value=46, max_value=54))
    bid_offsets = draw(st.sets(st.integers(min_value=1, max_value=5), max_size=4))
    ask_offsets = draw(st.sets(st.integers(min_value=0, max_value=4), max_size=4))
    bids = [((mid - k) * CENT, draw(sizes)) for k in sorted(bid_offsets)]
    asks = [((mid + 1 + k) * CENT, draw(sizes)) for k in sorted(ask_offsets)]
    return ("snapshot", bids, asks)


book_deltas = st.tuples(
    st.just("delta"),
    st.sampled_from([Side.BUY, Side.SELL]),
    prices,
    st.one_of(st.just(0), sizes),
)
trades = st.tuples(
    st.just("trade"),
    prices,
    sizes,
    st.sampled_from([Side.BUY, Side.SELL, None]),
    st.sampled_from([YES, YES, NO]),  # a NO print reaches our YES orders at 1 − x
)
orders = st.tuples(
    st.just("order"),
    st.sampled_from([Side.BUY, Side.SELL]),
    prices,
    st.integers(min_value=5, max_value=40).map(lambda s: s * SH),
    st.sampled_from(list(TimeInForce)),
    st.booleans(),  # post-only (only kept for GTC/GTD)
    st.booleans(),  # BUY market order sized by notional
)
cancels = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=30))
advances = st.tuples(st.just("advance"))
steps = st.builds(
    lambda first, rest: [(0, first), *rest],
    book_snapshots(),
    st.lists(
        st.tuples(
            st.sampled_from([0, 40, 120, 300]),
            st.one_of(
                book_snapshots(),
                book_deltas,
                book_deltas,
                trades,
                orders,
                orders,
                cancels,
                advances,
            ),
        ),
        min_size=10,
        max_size=60,
    ),
)


def configs(queue_model: str) -> st.SearchStrategy[PaperVenueConfig]:
    """Venue configs with ``queue_model`` (answers delivered at once: the per-step checks
    read each step's events; the response latency has its own property)."""
    settings: st.SearchStrategy[dict[str, Any]] = st.just({})
    if queue_model == "probabilistic":
        settings = st.one_of(
            st.builds(
                dict,
                queue_function=st.just("power"),
                queue_power_n=st.sampled_from([0.5, 1.0, 2.0, 3.5]),
            ),
            st.just({"queue_function": "log"}),
        )
    return st.builds(
        lambda extra, **fields: PaperVenueConfig(**fields, **extra),
        settings,
        queue_model=st.just(queue_model),
        order_latency_ms=st.sampled_from([0, 100, 250]),
        cancel_latency_ms=st.sampled_from([0, 250]),
        response_latency_ms=st.just(0),
        complement_fills=st.booleans(),
    )


every_model = pytest.mark.parametrize("queue_model", QUEUE_MODELS)


@dataclass
class Run:
    """Everything a run produced, plus the test's own record of what the book showed."""

    venue: PaperVenue
    events: list[VenueEvent] = field(default_factory=list)
    submitted: dict[str, VenueOrder] = field(default_factory=dict)
    epoch_max: dict[tuple[Side, int, int], int] = field(default_factory=dict)
    taker_by_epoch: dict[tuple[Side, int, int], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    problems: list[str] = field(default_factory=list)


def run_steps(config: PaperVenueConfig, plan: list[tuple[int, tuple[Any, ...]]]) -> Run:
    venue = PaperVenue(config, [binary_market()], RUN, starting_holdings={YES: START_HOLDINGS})
    run = Run(venue)
    shown: dict[tuple[Side, int], int] = {}
    epoch: dict[tuple[Side, int], int] = defaultdict(int)
    now = 0
    for n, (dt_ms, step) in enumerate(plan):
        now += dt_ms * MS
        kind = step[0]
        epoch_before = dict(epoch)
        event: BookSnapshot | BookDelta | Trade | None = None
        if kind == "snapshot":
            _, bids, asks = step
            event = BookSnapshot(ts_event_ns=now, token_id=YES, bids=bids, asks=asks)
            new_shown = {(Side.BUY, p): s for p, s in bids} | {(Side.SELL, p): s for p, s in asks}
        elif kind == "delta":
            _, side, price, size = step
            event = BookDelta(
                ts_event_ns=now,
                token_id=YES,
                bids=[(price, size)] if side is Side.BUY else [],
                asks=[(price, size)] if side is Side.SELL else [],
            )
            new_shown = dict(shown)
            new_shown[(side, price)] = size
            new_shown = {k: v for k, v in new_shown.items() if v}
        elif kind == "trade":
            _, price, size, aggressor, token = step
            event = Trade(
                ts_event_ns=now, token_id=token, price=price, size=size, aggressor=aggressor
            )
        if event is not None:
            venue.on_market_event(event)
        elif kind == "order":
            _, side, price, size, tif, post_only, by_notional = step
            notional = 0
            if by_notional and side is Side.BUY and tif in (TimeInForce.FOK, TimeInForce.FAK):
                notional, size = size // 2, 0
            venue_order = VenueOrder(
                client_order_id=f"{RUN}/o{n}",
                intent_id=f"{RUN}/i{n}",
                token_id=YES,
                market_id=MARKET,
                side=side,
                price=price,
                size=size,
                notional=notional,
                time_in_force=tif,
                post_only=bool(post_only) and tif in (TimeInForce.GTC, TimeInForce.GTD),
                expire_at_ns=now + (60_000 + 2_000) * MS if tif is TimeInForce.GTD else 0,
            )
            run.submitted[venue_order.client_order_id] = venue_order
            venue.submit(venue_order, now)
        elif kind == "cancel":
            ids = list(run.submitted)
            if ids:
                venue.cancel(ids[step[1] % len(ids)], now)
        else:
            venue.advance(now)
        produced = venue.poll()
        run.events.extend(produced)
        # what the book shows now: epochs end when a level leaves the book
        if kind in ("snapshot", "delta"):
            drops = sum(max(0, size - new_shown.get(key, 0)) for key, size in shown.items())
            for key in shown:
                if key not in new_shown:
                    epoch[key] += 1
            shown = new_shown
            for key, size in shown.items():
                ekey = (key[0], key[1], epoch[key])
                run.epoch_max[ekey] = max(run.epoch_max.get(ekey, 0), size)
            maker = sum(
                f.size
                for f in produced
                if isinstance(f, Fill) and f.liquidity is LiquiditySide.MAKER
            )
            if maker > drops + sum(shown.values()):
                run.problems.append(f"step {n}: maker fills {maker} exceed drops+shown")
        elif kind == "trade":
            maker = sum(
                f.size
                for f in produced
                if isinstance(f, Fill) and f.liquidity is LiquiditySide.MAKER
            )
            if maker > step[2]:
                run.problems.append(f"step {n}: maker fills {maker} exceed the trade {step[2]}")
        elif any(isinstance(f, Fill) and f.liquidity is LiquiditySide.MAKER for f in produced):
            run.problems.append(f"step {n}: maker fill without a market event")
        for fill in produced:
            if isinstance(fill, Fill) and fill.liquidity is LiquiditySide.TAKER:
                key = (fill.side.opposite, fill.price)
                run.taker_by_epoch[(key[0], key[1], epoch_before.get(key, 0))] += fill.size
        for side, price, taken in venue.consumed(YES):
            limit = run.epoch_max.get((side, price, epoch[(side, price)]), 0)
            if taken > limit:
                run.problems.append(f"step {n}: consumed {taken} at {side} {price} > shown {limit}")
        ledger_problems = venue.ledger.conservation_problems()
        if ledger_problems:
            run.problems.append(f"step {n}: {ledger_problems}")
    return run


def fills(run: Run) -> list[Fill]:
    return [e for e in run.events if isinstance(e, Fill)]


@every_model
@settings(max_examples=100, deadline=None)
@given(data=st.data(), plan=steps)
def test_liquidity_is_never_overfilled_or_filled_twice(
    queue_model: str, data: st.DataObject, plan: list[tuple[int, tuple[Any, ...]]]
) -> None:
    config = data.draw(configs(queue_model))
    run = run_steps(config, plan)
    assert run.problems == []
    for ekey, taken in run.taker_by_epoch.items():
        assert taken <= run.epoch_max.get(ekey, 0), (ekey, taken)
    per_order: dict[str, list[Fill]] = defaultdict(list)
    for fill in fills(run):
        per_order[fill.client_order_id].append(fill)
    for cid, order_fills in per_order.items():
        order = run.submitted[cid]
        filled = sum(f.size for f in order_fills)
        if order.notional:
            assert sum(f.notional for f in order_fills) <= order.notional
        else:
            assert filled <= order.size
        if order.time_in_force is TimeInForce.FOK and not order.notional:
            assert filled == order.size
        for fill in order_fills:
            assert fill.side is order.side
            if fill.liquidity is LiquiditySide.MAKER:
                assert (fill.price, fill.fee) == (order.price, 0)
            else:
                assert fill.fee == taker_fee_micros(fill.size, fill.price, CRYPTO_RATE_PPM)
            assert (
                fill.price <= order.price if order.side is Side.BUY else fill.price >= order.price
            )


@every_model
@settings(max_examples=100, deadline=None)
@given(data=st.data(), plan=steps)
def test_money_is_conserved_exactly(
    queue_model: str, data: st.DataObject, plan: list[tuple[int, tuple[Any, ...]]]
) -> None:
    config = data.draw(configs(queue_model))
    run = run_steps(config, plan)
    venue = run.venue
    buys = sum(f.notional for f in fills(run) if f.side is Side.BUY)
    sells = sum(f.notional for f in fills(run) if f.side is Side.SELL)
    fees = sum(f.fee for f in fills(run))
    bought = sum(f.size for f in fills(run) if f.side is Side.BUY)
    sold = sum(f.size for f in fills(run) if f.side is Side.SELL)
    assert venue.ledger.cash == config.starting_cash_micros + sells - buys - fees
    assert venue.ledger.holdings(YES) == START_HOLDINGS + bought - sold
    assert all(amount >= 0 for amount in venue.balances().values())
    assert all(notional_micros(f.price, f.size) == f.notional for f in fills(run))
    # close everything: every reservation comes back
    end = 10**15
    venue.cancel_all(end)
    venue.advance(end + 10**12)
    venue.poll()
    assert venue.open_orders() == []
    assert venue.ledger.reserved_cash == 0
    assert venue.balances() == {"pUSD": venue.ledger.cash, YES: venue.ledger.holdings(YES)}
    assert venue.ledger.conservation_problems() == []
    closed = {
        e.client_order_id
        for e in run.events
        if isinstance(e, OrderCanceled | OrderExpired | OrderRejected)
    }
    assert closed <= set(run.submitted) | {
        e.client_order_id for e in run.events if isinstance(e, OrderRejected)
    }


@every_model
@settings(max_examples=15, deadline=None)
@given(data=st.data(), plan=steps)
def test_same_steps_give_byte_identical_events(
    queue_model: str, data: st.DataObject, plan: list[tuple[int, tuple[Any, ...]]]
) -> None:
    config = data.draw(configs(queue_model))
    first = msgspec.json.encode(run_steps(config, plan).events)
    second = msgspec.json.encode(run_steps(config, plan).events)
    assert first == second


@every_model
@settings(max_examples=40, deadline=None)
@given(data=st.data(), plan=steps, response_ms=st.sampled_from([1, 100, 700]))
def test_the_response_latency_only_delays_delivery(
    queue_model: str, data: st.DataObject, plan: list[tuple[int, tuple[Any, ...]]], response_ms: int
) -> None:
    config = data.draw(configs(queue_model))
    end = 10**15  # after the plan: the actions still due run, what travels is delivered

    def everything(run: Run) -> list[VenueEvent]:
        run.venue.advance(end)
        events = [*run.events, *run.venue.poll()]
        assert run.venue.answers_in_flight == 0
        return events

    at_once = everything(run_steps(config, plan))
    late = everything(
        run_steps(config.model_copy(update={"response_latency_ms": response_ms}), plan)
    )
    shifted = [
        msgspec.structs.replace(e, ts_recv_ns=e.ts_event_ns + response_ms * MS) for e in at_once
    ]
    assert late == shifted
