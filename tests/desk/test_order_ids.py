"""One client order id end to end: the id the execution bot gives an order in its route plan is
the id the order manager tracks, the venue receives, the store records, fills carry, fills.csv
lists and the intent's outcome names; ids are unique over a whole run; a resumed desk never
sends an id used before the restart."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from polytraders.backtest.fills_csv import write_fills_csv
from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.cli import app
from polytraders.contracts.bot import BotBase
from polytraders.contracts.decisions import Proposal, RoutePlan
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.view import DeskView
from polytraders.desk.desk import Desk, DeskCheckpoint
from polytraders.desk.fixtures import binary_market
from polytraders.desk.orders import SYS_DUPLICATE_ORDER
from polytraders.desk.slots import BotSlot
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, OrderRejected
from polytraders.model.orders import IntentAction, OrderIntent, OrderStatus, Side, VenueOrder
from polytraders.store import EventStore
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.conftest import POLYMARKET_SAMPLE
from tests.desk.doubles import SPACE, ApproveBot, DoubleConfig, PassThroughExec, QuoteBot
from tests.desk.sample_desk import default_desk, sample_head

S = 1_000_000_000


class _SentVenue(PaperVenue):
    """The real paper venue, remembering the client order id of every order submitted."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sent: list[str] = []

    def submit(self, order: VenueOrder, now_ns: int) -> None:
        self.sent.append(order.client_order_id)
        super().submit(order, now_ns)


def _sent(desk: Desk) -> list[str]:
    """The client order ids the desk's (recording) venue received."""
    assert isinstance(desk.venue, _SentVenue)
    return desk.venue.sent


def _routed(desk: Desk) -> dict[str, list[str]]:
    """Intent id → client order ids of the ENFORCED router's ROUTE plans, in plan order."""
    routed: dict[str, list[str]] = {}
    for envelope in desk.envelopes:
        output = envelope.output
        if (
            envelope.bot_id == "exec.smartrouter"
            and envelope.decision is Decision.ROUTE
            and isinstance(output, RoutePlan)
        ):
            routed.setdefault(envelope.correlation_id, []).extend(
                o.client_order_id for o in output.orders
            )
    return routed


def _check_one_id_everywhere(desk: Desk, sent: Sequence[str]) -> None:
    """The invariants of one id end to end, over everything the run did."""
    routed = _routed(desk)
    route_ids = [cid for ids in routed.values() for cid in ids]
    # unique over the run, and each derived from its intent and its position in the plan
    assert len(route_ids) == len(set(route_ids))
    for intent_id, ids in routed.items():
        assert ids == [client_order_id(intent_id, k) for k in range(len(ids))]
    # the order manager tracks every routed order under the router's id, and nothing else
    assert list(desk.state.orders) == route_ids
    for cid, order in desk.state.orders.items():
        assert order.client_order_id == cid and cid in routed[order.intent_id]
    # the venue received those ids, each once (held orders withdrawn before sending never go)
    assert len(sent) == len(set(sent)) and set(sent) <= set(route_ids)
    # fills carry the id of an order the venue received
    assert {f.client_order_id for f in desk.orders.fills} <= set(sent)
    # an intent's outcome names exactly its routed orders
    for intent_id, ids in routed.items():
        outcome = desk.state.intent_outcome(intent_id)
        assert outcome is not None and list(outcome.client_order_ids) == ids


def test_one_client_order_id_from_the_route_plan_to_the_store_and_fills_csv(
    tmp_path: Path,
) -> None:
    """maker_tight, the default risk chain, exec.smartrouter and the paper venue on the real
    sample, recorded in a real SQLite store and written to fills.csv."""
    markets, head = sample_head()
    events = head[:400]
    desk = default_desk(MakerTight(), venue_class=_SentVenue)
    venue = desk.venue
    assert isinstance(venue, _SentVenue)
    with EventStore.open(tmp_path / "desk.sqlite") as store:
        store.start_run(
            run_id=desk.run_id,
            started_ns=events[0].ts_event_ns,
            seed=0,
            desk_config=desk.config.model_dump_json(),
            desk_config_version=desk.config.config_version,
            data_source="data/samples/polymarket/resolvedkit_btc15m (head)",
            synthetic=False,
        )
        resting = 0
        for event in events:
            desk.process(event)
            for cid, order in desk.state.orders.items():  # working orders: at the venue, same id
                if order.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
                    at_venue = venue.order(cid)
                    if at_venue is None:  # closed there; the answer is still travelling
                        assert cid in {e.client_order_id for e in venue.in_flight()}
                        continue
                    assert at_venue.client_order_id == cid
                    assert at_venue.intent_id == order.intent_id
                    resting += 1
        assert resting > 0
        for envelope in desk.envelopes:
            store.record(envelope)
        for order in desk.state.orders.values():
            store.append_order(desk.run_id, order)
        for fill in desk.orders.fills:
            store.append_fill(desk.run_id, fill)
        store.flush()
        assert store.check_integrity(desk.run_id) == []
        stored_orders = [o.client_order_id for o in store.orders(desk.run_id)]
        stored_fills = [f.client_order_id for f in store.fills(desk.run_id)]
        stored_routes = {
            o.client_order_id
            for e in store.envelopes(desk.run_id)
            if isinstance(e.output, RoutePlan) and e.decision is Decision.ROUTE
            for o in e.output.orders
        }
    assert desk.orders.fills, "the sample's head fills some quotes"
    _check_one_id_everywhere(desk, venue.sent)
    assert stored_orders == list(desk.state.orders)
    assert stored_fills == [f.client_order_id for f in desk.orders.fills]
    assert stored_routes == set(desk.state.orders)
    write_fills_csv(tmp_path / "fills.csv", desk.orders.fills, desk.state.orders, markets)
    with (tmp_path / "fills.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [r["client_order_id"] for r in rows] == stored_fills
    for row in rows:
        assert row["client_order_id"] in _routed(desk)[row["intent_id"]]


@pytest.mark.slow
def test_the_default_backtest_uses_the_routers_ids_in_every_output(tmp_path: Path) -> None:
    """`polytraders backtest` on the whole shipped sample with a store: envelopes.jsonl,
    the store's orders and fills, and fills.csv name every order by its ROUTE envelope's id."""
    out, store_path = tmp_path / "out", tmp_path / "desk.sqlite"
    args = ["backtest", "--data", str(POLYMARKET_SAMPLE), "--out", str(out)]
    answer = CliRunner().invoke(app, [*args, "--store", str(store_path)])
    assert answer.exit_code == 0, answer.output
    routed: dict[str, str] = {}  # client order id → intent id, in timeline order
    for line in (out / "envelopes.jsonl").read_bytes().splitlines():
        envelope = msgspec.json.decode(line, type=ReportEnvelope)
        plan = envelope.output
        if envelope.decision is not Decision.ROUTE or not isinstance(plan, RoutePlan):
            continue
        assert set(plan.cancel_client_order_ids) <= set(routed)  # cancels name routed ids
        for k, order in enumerate(plan.orders):
            assert order.client_order_id == client_order_id(envelope.correlation_id, k)
            assert order.client_order_id not in routed  # unique over the whole run
            routed[order.client_order_id] = envelope.correlation_id
    assert len(routed) > 2_000
    with EventStore.open(store_path, create=False) as store:
        (run,) = store.runs()
        orders = store.orders(run.run_id)
        stored_fills = [f.client_order_id for f in store.fills(run.run_id)]
    assert {o.client_order_id for o in orders} == set(routed)
    assert all(routed[o.client_order_id] == o.intent_id for o in orders)
    with (out / "fills.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) > 1_000
    assert [r["client_order_id"] for r in rows] == stored_fills
    assert all(routed[r["client_order_id"]] == r["intent_id"] for r in rows)


class _Scripted(BotBase[DoubleConfig]):
    """Follows a drawn script, one step per book event of the sample's first market: PLACE
    (passive or crossing, either token, BUY or SELL — a SELL of shares not held goes partly to
    the complement, a two-leg plan), REPLACE or CANCEL of an earlier intent."""

    bot_id: ClassVar[str] = "strat.scripted_ids"
    bot_class: ClassVar[BotClass] = BotClass.STRATEGY
    Config = DoubleConfig
    SEARCH_SPACE = SPACE

    def __init__(self, script: list[tuple[str, int, int, int, int]], tokens: list[str]) -> None:
        super().__init__()
        self.script = list(script)
        self.tokens = tokens
        self.count = 0

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta) or event.token_id not in self.tokens:
            return Proposal()
        if not self.script:
            return Proposal()
        kind, token_index, ticks, shares, target = self.script.pop(0)
        token_id = self.tokens[token_index]
        token = view.token(token_id)
        book = view.book(token_id)
        if token is None or book is None:
            return Proposal()
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return Proposal()
        self.count += 1
        side = Side.SELL if kind == "sell" else Side.BUY
        edge = bid if side is Side.BUY else ask
        tick = token.tick_size
        price = min(max(edge - ticks * tick if side is Side.BUY else edge + ticks * tick, tick),
                    1_000_000 - tick)  # fmt: skip
        action, target_id = IntentAction.PLACE, ""
        if kind in ("replace", "cancel") and self.count > 1:
            action = IntentAction.REPLACE if kind == "replace" else IntentAction.CANCEL
            target_id = f"{self.bot_id}/{target % (self.count - 1) + 1}"
        intent = OrderIntent(
            intent_id=f"{self.bot_id}/{self.count}",
            bot_id=self.bot_id,
            action=action,
            target_intent_id=target_id,
            token_id=token_id,
            market_id=token.market_id,
            side=side,
            price=price if action is not IntentAction.CANCEL else 0,
            size=shares * 1_000_000 if action is not IntentAction.CANCEL else 0,
            builder_code=view.account.builder_code,
            ts_created_ns=view.now_ns,
        )
        return Proposal(intents=(intent,))


steps = st.tuples(
    st.sampled_from(["buy", "buy", "sell", "sell", "replace", "cancel"]),
    st.integers(0, 1),  # token: UP or DOWN
    st.integers(-3, 3),  # ticks away from our side's best price (negative: crossing)
    st.integers(5, 40),  # shares
    st.integers(0, 1_000),  # which earlier intent a REPLACE/CANCEL targets
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=120))
def test_client_order_ids_are_unique_and_the_same_everywhere_over_a_whole_run(
    script: list[tuple[str, int, int, int, int]],
) -> None:
    markets, head = sample_head()
    tokens = [t.token_id for t in markets[0].tokens]
    desk = default_desk(_Scripted(script, tokens), venue_class=_SentVenue)
    desk.run(list(head[:300]))
    _check_one_id_everywhere(desk, _sent(desk))
    plans = _routed(desk).values()
    event("orders routed" if any(plans) else "nothing routed")
    event("a two-leg plan (SELL + complement BUY)" if any(len(p) > 1 for p in plans) else "one leg")
    event("fills" if desk.orders.fills else "no fill")


def _snap(t_s: float) -> BookSnapshot:
    return BookSnapshot(
        ts_event_ns=int(t_s * S),
        token_id="yes",
        bids=[(440_000, 100_000_000)],
        asks=[(460_000, 100_000_000)],
    )


def test_a_resumed_desk_never_sends_an_id_used_before_the_restart() -> None:
    market = binary_market("m1", "yes", "no", category="crypto")
    first = Desk(
        run_id="run-r",
        venue=PaperVenue(PaperVenueConfig(), [market], "run-r"),
        strategies=[BotSlot(QuoteBot("yes", "m1", cross=True))],
        risk=[BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
        markets=[market],
    )
    first.process(_snap(1.0))
    first.process(_snap(2.0))
    used = first.state.orders["strat.quoter/1/o0"]
    assert used.status is OrderStatus.FILLED  # closed: only the desk's record remembers it
    saved = msgspec.json.encode(first.checkpoint())
    venue = _SentVenue(PaperVenueConfig(), [market], "run-r")
    resumed = Desk.resume(
        msgspec.json.decode(saved, type=DeskCheckpoint),
        venue=venue,
        strategies=[BotSlot(QuoteBot("yes", "m1", cross=True))],
        risk=[BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
    )
    # a restarted strategy that numbers its intents from 1 again routes the same id
    again = OrderIntent(
        intent_id="strat.quoter/1",
        bot_id="strat.quoter",
        token_id="yes",
        market_id="m1",
        side=Side.BUY,
        price=460_000,
        size=10_000_000,
    )
    plan = PassThroughExec().decide(again, resumed.state)
    assert plan.orders[0].client_order_id == "strat.quoter/1/o0"
    assert resumed.orders.execute(again, plan, 3 * S) == []
    assert venue.sent == []  # never sent again
    refused = resumed.orders.drain_local()
    assert refused == [
        OrderRejected(
            ts_event_ns=3 * S,
            ts_recv_ns=3 * S,
            client_order_id="strat.quoter/1/o0",
            reason_code=SYS_DUPLICATE_ORDER,
            message="client order id already used",
        )
    ]
    tracked = resumed.state.orders["strat.quoter/1/o0"]
    assert msgspec.json.encode(tracked) == msgspec.json.encode(used)  # left as it was
    assert resumed.orders.stats.duplicates == 1
    # a fresh intent id gets a fresh order id and is sent
    fresh = msgspec.structs.replace(again, intent_id="strat.quoter/s2/1")
    assert resumed.orders.execute(fresh, PassThroughExec().decide(fresh, resumed.state), 3 * S) == [
        "strat.quoter/s2/1/o0"
    ]
    assert venue.sent == ["strat.quoter/s2/1/o0"]


class _RenumberingExec(PassThroughExec):
    """Unauthorised: names its orders ``<run>/o<n>`` (a run-scoped counter, not the intent)."""

    bot_id = "exec.renumbering"

    def __init__(self) -> None:
        super().__init__()
        self.sequence = 0

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RoutePlan:
        (order,) = super().decide(intent, view).orders
        self.sequence += 1
        renamed = msgspec.structs.replace(order, client_order_id=f"run-x/o{self.sequence}")
        return RoutePlan(orders=(renamed,))


def test_a_route_plan_whose_ids_do_not_derive_from_the_intent_is_refused() -> None:
    market = binary_market("m1", "yes", "no", category="crypto")
    venue = _SentVenue(PaperVenueConfig(), [market], "run-x")
    desk = Desk(
        run_id="run-x",
        venue=venue,
        strategies=[BotSlot(QuoteBot("yes", "m1"))],
        execution=[BotSlot(_RenumberingExec())],
        markets=[market],
    )
    result = desk.run([_snap(1.0), _snap(2.0)])
    failure = result.quarantined["exec.renumbering"].failure
    assert failure.code == "SYS_AUTHORITY_VIOLATION"
    assert "order #0 has client order id 'run-x/o1', not 'strat.quoter/1/o0'" in failure.message
    assert venue.sent == [] and desk.state.orders == {}
