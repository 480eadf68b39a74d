"""Calibrate the paper venue's queue model on a recorded session (``polytraders fills calibrate``).

A recorded session (live, shadow or paper) holds its orders' lifecycle rows and its fills; the
recorded feed holds what the market did. :func:`recorded_orders` turns the lifecycle rows into
what the desk sent and when; :func:`replay` sends the same orders, at the same times, to paper
venues fed the same market events; :func:`calibrate` does so for every candidate queue model in
one pass and ranks them by how far their maker fills are from the session's real ones.

Rules, exact:

1. An order was sent when its first journaled state is PENDING_NEW and it was not withdrawn
   before sending (PENDING_NEW straight to CANCELED, with no ack, no fill and no cancel request,
   is a held order the desk withdrew). Orders the desk refused itself (first state REJECTED) were
   never sent. Sent at ``ts_created_ns`` of its first state past PENDING_NEW (the desk resets it
   when a held order goes out), else of its first state.
2. Its cancel is the first PENDING_CANCEL state (``ts_updated_ns``): the desk asked then.
3. Recorded latencies (:class:`~polytraders.venues.paper.latency.OrderLatency`): entry = first
   ack or rejection ``ts_updated_ns`` − sent; cancel = CANCELED ``ts_updated_ns`` − cancel
   request. The paper venue stamps its answers with the venue's time, so a paper session gives
   the latencies exactly; a live venue stamps them when the answer arrives, so entry and cancel
   then include the response time (an upper bound). Missing: the venue config's constants.
4. Replay: actions (sends, cancels) at ``t`` go to the venue after every market event at or
   before ``t`` and before any later one (the desk acts after the event it reacted to), in
   recorded order; answers reach the replay at once (response latency 0: only the venue's fills
   matter). After the last event the venues run to the end.
5. Score of a candidate: Σ over sent orders of |predicted maker micro-shares − real maker
   micro-shares|; lower is better; ties keep the candidates' order (:func:`candidates`). The
   best fit is the first of the ranking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from polytraders.model.events import AnyEvent
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market
from polytraders.model.orders import OrderStatus, VenueOrder
from polytraders.venues.paper.config import PaperVenueConfig
from polytraders.venues.paper.latency import ConstantLatency, OrderLatency, RecordedLatency
from polytraders.venues.paper.venue import PaperVenue

POWER_GRID: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
"""Exponents of the ``power`` function tried by :func:`candidates`."""

_END_NS = 2**62


class RecordedOrder(NamedTuple):
    """An order the desk sent: the order, when (ns), when it asked to cancel it (None: never),
    and its recorded latencies."""

    order: VenueOrder
    sent_ns: int
    cancel_ns: int | None
    latency: OrderLatency


def recorded_orders(states: Iterable[VenueOrder]) -> list[RecordedOrder]:
    """The sent orders of a session from its journaled order states (store append order), in
    the order they were sent (rules 1–3)."""
    by_order: dict[str, list[VenueOrder]] = {}
    for state in states:
        by_order.setdefault(state.client_order_id, []).append(state)
    sent: list[RecordedOrder] = []
    for rows in by_order.values():
        first = rows[0]
        if first.status is not OrderStatus.PENDING_NEW:
            continue  # refused by the desk: never sent
        statuses = [row.status for row in rows]
        answered = next(
            (
                r
                for r in rows
                if r.status not in (OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL)
            ),
            None,
        )
        if (
            answered is not None
            and answered.status is OrderStatus.CANCELED
            and (
                OrderStatus.PENDING_CANCEL not in statuses
                and not any(r.filled_size for r in rows)
                and OrderStatus.ACCEPTED not in statuses
            )
        ):
            continue  # a held order withdrawn before it was sent
        sent_ns = (answered or first).ts_created_ns
        cancel = next((r for r in rows if r.status is OrderStatus.PENDING_CANCEL), None)
        canceled = next((r for r in rows if r.status is OrderStatus.CANCELED), None)
        ack = next(
            (r for r in rows if r.status in (OrderStatus.ACCEPTED, OrderStatus.REJECTED)), None
        )
        entry = ack.ts_updated_ns - sent_ns if ack is not None else None
        cancel_latency = (
            canceled.ts_updated_ns - cancel.ts_updated_ns
            if cancel is not None and canceled is not None
            else None
        )
        sent.append(
            RecordedOrder(
                order=first,
                sent_ns=sent_ns,
                cancel_ns=cancel.ts_updated_ns if cancel is not None else None,
                latency=OrderLatency(
                    entry_ns=entry if entry is not None and entry >= 0 else None,
                    cancel_ns=(
                        cancel_latency
                        if cancel_latency is not None and cancel_latency >= 0
                        else None
                    ),
                ),
            )
        )
    sent.sort(key=lambda r: r.sent_ns)
    return sent


def candidates(base: PaperVenueConfig) -> list[tuple[str, PaperVenueConfig]]:
    """The queue models tried, each as (name, venue config): ``pessimistic``, the
    ``probabilistic`` ``log`` function, the ``power`` function for every n of
    :data:`POWER_GRID`, and ``l2_inference``; everything else as in ``base``."""
    found = [("pessimistic", base.with_queue_model("pessimistic"))]
    log = base.with_queue_model("probabilistic", queue_function="log")
    found.append((log.queue_model_name, log))
    for n in POWER_GRID:
        power = base.with_queue_model("probabilistic", queue_function="power", queue_power_n=n)
        found.append((power.queue_model_name, power))
    found.append(("l2_inference", base.with_queue_model("l2_inference")))
    return found


def replay(
    orders: Sequence[RecordedOrder],
    events: Iterable[AnyEvent],
    markets: Sequence[Market],
    configs: Mapping[str, PaperVenueConfig],
) -> dict[str, list[Fill]]:
    """Every fill each venue config makes for ``orders`` over ``events`` (rule 4), by name.

    Raises:
        ValueError: from the paper venue (events out of time order, a market it refuses).
    """
    latency = {r.order.client_order_id: r.latency for r in orders}
    venues = {
        name: PaperVenue(
            config.model_copy(update={"response_latency_ms": 0}),
            markets,
            f"calibrate/{name}",
            latency=RecordedLatency(latency, ConstantLatency(config)),
        )
        for name, config in configs.items()
    }
    actions: list[tuple[int, int, VenueOrder | str]] = []
    for seq, recorded in enumerate(orders):
        actions.append((recorded.sent_ns, 2 * seq, recorded.order))
        if recorded.cancel_ns is not None:
            actions.append((recorded.cancel_ns, 2 * seq + 1, recorded.order.client_order_id))
    actions.sort(key=lambda a: (a[0], a[1]))
    fills: dict[str, list[Fill]] = {name: [] for name in venues}
    done = 0

    def act_until(limit_ns: int) -> None:
        nonlocal done
        while done < len(actions) and actions[done][0] < limit_ns:
            at_ns, _, action = actions[done]
            for venue in venues.values():
                venue.advance(at_ns)
                if isinstance(action, VenueOrder):
                    venue.submit(action, at_ns)
                else:
                    venue.cancel(action, at_ns)
            done += 1

    for event in events:
        act_until(event.ts_event_ns)
        for name, venue in venues.items():
            venue.on_market_event(event)
            fills[name].extend(e for e in venue.poll() if isinstance(e, Fill))
    act_until(_END_NS)
    for name, venue in venues.items():
        venue.advance(_END_NS)
        fills[name].extend(e for e in venue.poll() if isinstance(e, Fill))
    return fills


class Fit(NamedTuple):
    """How one candidate's maker fills compare with the session's (micro-shares)."""

    name: str
    config: PaperVenueConfig
    error_micros: int
    """Σ over sent orders of |predicted − real| maker micro-shares (rule 5)."""
    predicted_micros: int
    real_micros: int
    orders_filled_predicted: int
    orders_filled_real: int


def maker_by_order(fills: Iterable[Fill]) -> dict[str, int]:
    """Maker micro-shares filled per client order id."""
    filled: dict[str, int] = {}
    for fill in fills:
        if fill.liquidity is LiquiditySide.MAKER:
            filled[fill.client_order_id] = filled.get(fill.client_order_id, 0) + fill.size
    return filled


def calibrate(
    orders: Sequence[RecordedOrder],
    real_fills: Iterable[Fill],
    events: Iterable[AnyEvent],
    markets: Sequence[Market],
    base: PaperVenueConfig,
) -> list[Fit]:
    """Rank :func:`candidates` of ``base`` by how well their maker fills for ``orders`` over
    ``events`` match ``real_fills`` (rules 4–5), best first.

    Raises:
        ValueError: from the paper venue (see :func:`replay`).
    """
    named = candidates(base)
    predicted = replay(orders, events, markets, dict(named))
    real = maker_by_order(real_fills)
    sent = [r.order.client_order_id for r in orders]
    fits = []
    for name, config in named:
        mine = maker_by_order(predicted[name])
        fits.append(
            Fit(
                name=name,
                config=config,
                error_micros=sum(abs(mine.get(cid, 0) - real.get(cid, 0)) for cid in sent),
                predicted_micros=sum(mine.get(cid, 0) for cid in sent),
                real_micros=sum(real.get(cid, 0) for cid in sent),
                orders_filled_predicted=sum(1 for cid in sent if mine.get(cid)),
                orders_filled_real=sum(1 for cid in sent if real.get(cid)),
            )
        )
    order = {name: i for i, (name, _) in enumerate(named)}
    return sorted(fits, key=lambda f: (f.error_micros, order[f.name]))
