"""One run's record from the sub-runs of a run split by market, in a fixed order
(:mod:`polytraders.backtest.partition`), and the checks that the markets really ran apart.

Order: what has a time is merged by (time, market index, position within its sub-run), so the
merged record depends only on the sub-runs, never on which process ran them.

- Envelopes by ``ts_decided_ns``, renumbered: the merged timeline's ``n``-th envelope gets the
  run's id, sequence ``n`` and envelope id ``<run id>/e<n>``; everything else (correlation and
  causation ids, which name the sub-run) is kept.
- Fills by ``ts_recv_ns`` (when the desk learnt of them), settlements by ``ts_ns``, desk events
  by ``ts_event_ns``, order states and fills for the store by the time of the change
  (``ts_updated_ns`` of an order state, ``ts_recv_ns`` of a fill).
- Equity: every sub-run starts from the same starting cash, and markets share nothing but
  the account, so the account's equity is the starting cash plus each sub-run's equity change.
  The merged curve applies each sub-run's equity points in merged order (changes at the same
  nanosecond in market order) and keeps a point where the sum changed: it is exact, and the
  drawdown and Sharpe ratio computed from it are the account's.
- Counts and money totals add up; positions, marks and markets are per market already.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import msgspec

from polytraders.accounting.ledger import EquityPoint, LedgerSnapshot, Settlement
from polytraders.backtest.partition_host import HostSetup, PartitionResult
from polytraders.backtest.result import utc_iso
from polytraders.contracts.envelope import ReportEnvelope, decode_envelope
from polytraders.contracts.ids import envelope_id
from polytraders.desk.desk import DeskResult
from polytraders.desk.orders import OrderManagerConfig, TokenBucket
from polytraders.desk.sinks import DigestingSink, FanoutSink
from polytraders.desk.slots import Quarantine
from polytraders.model.events import TradingState
from polytraders.model.fills import Fill
from polytraders.model.money import from_micros
from polytraders.model.orders import VenueOrder
from polytraders.store.errors import StoreWriteError
from polytraders.store.event_store import EventStore

T = TypeVar("T")


def in_order(groups: Iterable[tuple[int, Sequence[T]]], time: Callable[[T], int]) -> list[T]:
    """The items of every ``(index, items)`` group, by (``time(item)``, index, position)."""
    keyed = [
        (time(item), index, position, item)
        for index, items in groups
        for position, item in enumerate(items)
    ]
    keyed.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in keyed]


def _timeline(path: Path, index: int) -> Iterator[tuple[tuple[int, int], ReportEnvelope]]:
    with path.open("rb") as stream:
        for line in stream:
            envelope = decode_envelope(line)
            yield (envelope.ts_decided_ns, index), envelope


def merge_timelines(
    setup: HostSetup,
    run_id: str,
    parts: Sequence[PartitionResult],
    *,
    sink: DigestingSink,
    fanout: FanoutSink,
    store: EventStore | None,
) -> StoreWriteError | None:
    """Record the sub-runs' envelopes, merged and renumbered (module docstring), in ``sink``
    (which forwards to ``fanout``). A store in ``fanout`` that fails is removed from it and the
    others go on; its error is returned (None when it did not fail)."""
    streams = [_timeline(setup.timeline(part.index), part.index) for part in parts]
    failure: StoreWriteError | None = None
    merged = heapq.merge(*streams, key=lambda keyed: keyed[0])
    for sequence, (_, envelope) in enumerate(merged):
        renumbered = msgspec.structs.replace(
            envelope,
            envelope_id=envelope_id(run_id, sequence),
            run_id=run_id,
            sequence=sequence,
        )
        try:
            sink.record(renumbered)
        except StoreWriteError as exc:  # the store is the fan-out's last sink
            if store is None:
                raise
            fanout.remove(store)
            failure = exc
    return failure


def store_journal(store: EventStore, ref: str, parts: Sequence[PartitionResult]) -> None:
    """Record the sub-runs' order states and fills in the store's attempt ``ref``, merged.

    Raises:
        StoreWriteError: the store refused or lost a write.
    """

    def changed(record: VenueOrder | Fill) -> int:
        return record.ts_updated_ns if isinstance(record, VenueOrder) else record.ts_recv_ns

    for record in in_order(((p.index, p.journal) for p in parts), changed):
        if isinstance(record, VenueOrder):
            store.append_order(ref, record)
        else:
            store.append_fill(ref, record)


def merge_equity(parts: Sequence[PartitionResult], starting_cash: int) -> list[EquityPoint]:
    """The account's equity curve (module docstring)."""
    points = in_order(
        ((p.index, [(p.index, point) for point in p.desk_result.equity_curve]) for p in parts),
        lambda item: item[1].ts_ns,
    )
    current = {p.index: starting_cash for p in parts}
    total = starting_cash
    curve: list[EquityPoint] = []
    for index, point in points:
        total += point.equity - current[index]
        current[index] = point.equity
        if not curve or curve[-1].equity != total:
            curve.append(EquityPoint(point.ts_ns, total))
    return curve


def _ledger(
    parts: Sequence[PartitionResult],
    starting_cash: int,
    settlements: tuple[Settlement, ...],
    curve: list[EquityPoint],
    peak: int,
) -> LedgerSnapshot:
    ledgers = [p.desk_result.ledger for p in parts]
    return LedgerSnapshot(
        initial_cash=starting_cash,
        deposits=sum(s.deposits for s in ledgers),
        cash=starting_cash + sum(s.cash - s.initial_cash for s in ledgers),
        positions=tuple(position for s in ledgers for position in s.positions),
        settled_markets=tuple(sorted(m for s in ledgers for m in s.settled_markets)),
        settlements=settlements,
        seen_fill_ids=tuple(sorted(f for s in ledgers for f in s.seen_fill_ids)),
        marks=tuple(sorted(mark for s in ledgers for mark in s.marks)),
        token_markets=tuple(sorted(pair for s in ledgers for pair in s.token_markets)),
        equity_curve=tuple(curve),
        peak_equity=peak,
        buy_notional=sum(s.buy_notional for s in ledgers),
        sell_notional=sum(s.sell_notional for s in ledgers),
        volume=sum(s.volume for s in ledgers),
        maker_volume=sum(s.maker_volume for s in ledgers),
    )


def _quarantines(parts: Sequence[PartitionResult]) -> dict[str, Quarantine]:
    """Each bot quarantined in some sub-run, with its earliest quarantine (sorted by bot)."""
    earliest: dict[str, tuple[int, int, Quarantine]] = {}
    for part in parts:
        for bot_id, quarantine in part.desk_result.quarantined.items():
            key = (quarantine.ts_ns, part.index, quarantine)
            if bot_id not in earliest or key[:2] < earliest[bot_id][:2]:
                earliest[bot_id] = key
    return {bot_id: earliest[bot_id][2] for bot_id in sorted(earliest)}


def _trading_state(parts: Sequence[PartitionResult]) -> TradingState:
    """The most restrictive end state of the sub-runs (HALTED, then REDUCING, then ACTIVE)."""
    states = {p.desk_result.trading_state for p in parts}
    for state in (TradingState.HALTED, TradingState.REDUCING):
        if state in states:
            return state
    return TradingState.ACTIVE


def merge_results(
    parts: Sequence[PartitionResult], *, run_id: str, starting_cash: int, timeline: DigestingSink
) -> DeskResult:
    """The run's desk result from its sub-runs' (module docstring); ``timeline`` is the sink
    that recorded the merged envelopes (count, digest, reason codes)."""
    results = [p.desk_result for p in parts]
    curve = merge_equity(parts, starting_cash)
    peak = max([starting_cash, *(point.equity for point in curve)])
    firsts = [r.first_event_ns for r in results if r.first_event_ns]
    settlements = tuple(
        in_order(((p.index, p.desk_result.settlements) for p in parts), lambda s: s.ts_ns)
    )
    return DeskResult(
        run_id=run_id,
        events_processed=sum(r.events_processed for r in results),
        envelope_count=timeline.count,
        timeline_sha256=timeline.hexdigest(),
        reason_codes=dict(sorted(timeline.reason_codes.items())),
        fills=tuple(in_order(((p.index, p.desk_result.fills) for p in parts), _recv_ns)),
        settlements=settlements,
        desk_events=tuple(
            in_order(((p.index, p.desk_result.desk_events) for p in parts), _event_ns)
        ),
        operator_actions=tuple(a for r in results for a in r.operator_actions),
        equity_curve=tuple(curve),
        ledger=_ledger(parts, starting_cash, settlements, curve, peak),
        final_equity=starting_cash + sum(r.final_equity - starting_cash for r in results),
        peak_equity=peak,
        trading_state=_trading_state(parts),
        kill_switch_tripped=any(r.kill_switch_tripped for r in results),
        orders_submitted=sum(r.orders_submitted for r in results),
        orders_rejected_locally=sum(r.orders_rejected_locally for r in results),
        quarantined=_quarantines(parts),
        first_event_ns=min(firsts, default=0),
        last_event_ns=max((r.last_event_ns for r in results), default=0),
    )


def _recv_ns(fill: Fill) -> int:
    return fill.ts_recv_ns


def _event_ns(event: msgspec.Struct) -> int:
    return int(getattr(event, "ts_event_ns", 0))


def merge_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Counts by key, added up."""
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(total)


def coupling_problems(
    parts: Sequence[PartitionResult], *, starting_cash: int, orders: OrderManagerConfig
) -> list[str]:
    """Why the sub-runs do not stand for one desk, one line each (empty when they do).

    - **Ids**: every intent id and client order id belongs to one market (a strategy whose ids
      do not tell markets apart would give two markets' orders one id).
    - **Collateral**: one account holds the starting cash for every market. Each sub-run's
      venue notes the pUSD its account had committed over time, its balance checks included
      (:class:`~polytraders.backtest.partition_host.PartitionResult` ``cash_in_use``); when
      at every moment the markets' amounts (at a moment where several change, the largest of
      each) add up to no more than the starting cash, one account would have accepted every
      order the sub-runs' accounts accepted and refused the same others. Checked for the run's
      venue and for each bound's.
    - **Order rate**: the desk's token bucket (``[desk.orders]``) is shared. Replaying every
      sub-run's submissions in time order through one bucket must never find it empty; then no
      market's order would have been refused for another's.
    """
    problems: list[str] = []
    for what, ids in (
        ("intent id", [(p.index, p.intent_ids) for p in parts]),
        ("client order id", [(p.index, [o.client_order_id for o in p.orders]) for p in parts]),
    ):
        shared = _shared(ids)
        if shared is not None:
            item, first, second = shared
            problems.append(
                f"{what} {item} is used in markets m{first} and m{second}: the strategy's ids "
                "do not tell markets apart"
            )
    for venue in sorted({venue for p in parts for venue in p.cash_in_use}):
        most, at_ns = _most_in_use([p.cash_in_use.get(venue, []) for p in parts])
        if most > starting_cash:
            problems.append(
                f"the shared collateral ({venue.lower()} venue): at {utc_iso(at_ns)} the "
                f"markets had {from_micros(most)} pUSD committed together, more than the "
                f"{from_micros(starting_cash)} pUSD starting cash, so one account could have "
                "refused orders the markets' own accounts accepted"
            )
    bucket = TokenBucket(orders.order_rate_per_s, orders.order_burst_count)
    for submitted_ns in sorted(t for p in parts for t in p.submits_ns):
        if not bucket.take(submitted_ns):
            problems.append(
                f"the desk's order-rate limit ({orders.order_burst_count} orders, "
                f"{orders.order_rate_per_s}/s): the markets' orders together find it empty at "
                f"{utc_iso(submitted_ns)}"
            )
            break
    return problems


def _shared(groups: Sequence[tuple[int, Sequence[str]]]) -> tuple[str, int, int] | None:
    """The first id found in two groups, with both groups' indexes (None when none is)."""
    owner: dict[str, int] = {}
    for index, items in groups:
        for item in items:
            first = owner.setdefault(item, index)
            if first != index:
                return item, first, index
    return None


def _most_in_use(series: Sequence[Sequence[tuple[int, int]]]) -> tuple[int, int]:
    """The most the series add up to at one time, and when (0, 0 when never positive): each
    series holds its last value until its next point; at a time where a series has several
    points its largest counts."""
    points = sorted(
        ((ts_ns, index, value) for index, points in enumerate(series) for ts_ns, value in points),
        key=lambda point: point[:2],  # stable: a series' points at one time keep their order
    )
    carried = [0] * len(series)
    most, most_ns = 0, 0
    for ts_ns, group in itertools.groupby(points, key=lambda point: point[0]):
        largest: dict[int, int] = {}
        last: dict[int, int] = {}
        for _, index, value in group:
            largest[index] = max(largest.get(index, value), value)
            last[index] = value
        total = sum(carried) + sum(largest[i] - carried[i] for i in largest)
        if total > most:
            most, most_ns = total, ts_ns
        for index, value in last.items():
            carried[index] = value
    return most, most_ns
