"""Store queries the gates share: which runs a bot took part in and what kind they were, its
envelopes in a window, the orders, reconciliations and kill-switch trips of its live runs.

Kinds of run (from what the commands record, ``docs/runs.md``): a **backtest** replays a
dataset or a synthetic spec on a simulated clock (its ``data_source`` is a path or
``synthetic:…``; latencies are modelled, not measured); a **live-clock** session (``polytraders
live --paper`` / ``--shadow`` / ``--live``) records the websocket URL it listens to as its
``data_source``; a **live-venue** session is a live-clock one whose recorded config is the live
node's (it holds the ``venue`` and ``worker`` tables of
:class:`~polytraders.node.config.LiveNodeConfig`): orders went to a real CLOB (or the
simulator).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

import msgspec
import sqlalchemy as sa

from polytraders.model.orders import OrderStatus
from polytraders.store import EventStore, RunRecord, schema
from polytraders.store.sessions import is_live_clock_source

DAY_NS = 86_400 * 1_000_000_000
"""One day in ns (gate windows are whole days ending at the evaluation's clock)."""


def utc_day(ts_ns: int) -> str:
    """The UTC calendar day (``YYYY-MM-DD``) of an instant in ns since the epoch."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d")


class RunKind(StrEnum):
    """What kind of run recorded the evidence."""

    BACKTEST = "backtest"
    LIVE_CLOCK = "live_clock"
    LIVE_VENUE = "live_venue"


def run_kind(record: RunRecord) -> RunKind:
    """The kind of a recorded run (module docstring;
    :func:`polytraders.store.sessions.is_live_clock_source`)."""
    if not is_live_clock_source(record.data_source):
        return RunKind.BACKTEST
    try:
        config = msgspec.json.decode(record.desk_config_json)
    except msgspec.DecodeError:
        return RunKind.LIVE_CLOCK
    if isinstance(config, dict) and "venue" in config and "worker" in config:
        return RunKind.LIVE_VENUE
    return RunKind.LIVE_CLOCK


def emitted_codes(store: EventStore, bot_id: str) -> set[str]:
    """Every reason code in an envelope of ``bot_id``, in any run of the store.

    Raises:
        StoreError: the read failed.
    """
    e = schema.envelopes.c
    query = sa.select(e.reason_codes_json).where(e.bot_id == bot_id).distinct()
    codes: set[str] = set()
    for row in store.select(query):
        codes.update(msgspec.json.decode(row.reason_codes_json, type=list[str]))
    return codes


def bot_runs(store: EventStore, bot_id: str, kinds: Sequence[RunKind]) -> list[RunRecord]:
    """The recorded runs of the given kinds in which ``bot_id`` recorded an envelope, in the
    store's order.

    Raises:
        StoreError: the read failed.
    """
    e = schema.envelopes.c
    query = sa.select(e.run_id, e.attempt).where(e.bot_id == bot_id).distinct()
    took_part = {(row.run_id, int(row.attempt)) for row in store.select(query)}
    return [r for r in store.runs() if (r.run_id, r.attempt) in took_part and run_kind(r) in kinds]


ERROR_DECISIONS = frozenset({"ERROR", "QUARANTINE"})
"""Envelope decisions that record the bot failing: ERROR (it raised, overran its budget, or
gave an invalid or unauthorised output: the desk's quarantine path) and QUARANTINE (the
fail-closed answer of a bot quarantined for such a failure). A venue's failures (rejections,
errors, lapsed heartbeats) never produce one: they are order states, reconciliations and
venue-origin incidents, so these count the bot's own errors only."""


class EnvelopeWindow(msgspec.Struct, frozen=True, kw_only=True):
    """A bot's envelopes of some runs inside a time window.

    Attributes:
        decisions: how many envelopes.
        errors: how many are ERROR or QUARANTINE (the desk's record of the bot failing).
        latencies_ns: every envelope's decision latency (ns), sorted.
        days: the distinct UTC days (``YYYY-MM-DD``) with an envelope.
        modes: decision count per mode.
    """

    decisions: int
    errors: int
    latencies_ns: tuple[int, ...]
    days: tuple[str, ...]
    modes: dict[str, int]


def envelope_window(
    store: EventStore,
    bot_id: str,
    runs: Sequence[RunRecord],
    *,
    since_ns: int,
    until_ns: int,
) -> EnvelopeWindow:
    """``bot_id``'s envelopes in ``runs`` decided in ``[since_ns, until_ns]`` (wall-clock
    ns: live-clock runs stamp decisions with the wall clock).

    Raises:
        StoreError: the read failed.
    """
    e = schema.envelopes.c
    keys = [(r.run_id, r.attempt) for r in runs]
    latencies: list[int] = []
    days: set[str] = set()
    modes: dict[str, int] = {}
    errors = 0
    for run_id, attempt in keys:
        query = sa.select(e.decision, e.mode, e.latency_ns, e.ts_decided_ns).where(
            e.run_id == run_id,
            e.attempt == attempt,
            e.bot_id == bot_id,
            e.ts_decided_ns >= since_ns,
            e.ts_decided_ns <= until_ns,
        )
        for row in store.select(query):
            latencies.append(int(row.latency_ns))
            modes[row.mode] = modes.get(row.mode, 0) + 1
            if row.decision in ERROR_DECISIONS:
                errors += 1
            days.add(utc_day(int(row.ts_decided_ns)))
    latencies.sort()
    return EnvelopeWindow(
        decisions=len(latencies),
        errors=errors,
        latencies_ns=tuple(latencies),
        days=tuple(sorted(days)),
        modes=dict(sorted(modes.items())),
    )


class Bucket(msgspec.Struct, frozen=True, kw_only=True):
    """A bot's decisions and errors (:data:`ERROR_DECISIONS`) decided in
    ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int
    decisions: int
    errors: int


def envelope_buckets(
    store: EventStore,
    bot_id: str,
    runs: Sequence[RunRecord],
    *,
    since_ns: int,
    bucket_ns: int,
    count: int,
) -> list[Bucket]:
    """``bot_id``'s decisions and errors in ``runs`` in ``count`` consecutive buckets of
    ``bucket_ns`` from ``since_ns`` (bucket ``i`` is ``[since_ns + i·bucket_ns, since_ns +
    (i+1)·bucket_ns)``, by ``ts_decided_ns``: wall-clock ns in live-clock runs), one read per
    run.

    Raises:
        ValueError: ``bucket_ns`` or ``count`` below 1.
        StoreError: the read failed.
    """
    if bucket_ns < 1 or count < 1:
        raise ValueError(f"bucket_ns and count must be at least 1, got {bucket_ns}, {count}")
    until_ns = since_ns + bucket_ns * count
    decisions = [0] * count
    errors = [0] * count
    e = schema.envelopes.c
    for record in runs:
        query = sa.select(e.decision, e.ts_decided_ns).where(
            e.run_id == record.run_id,
            e.attempt == record.attempt,
            e.bot_id == bot_id,
            e.ts_decided_ns >= since_ns,
            e.ts_decided_ns < until_ns,
        )
        for row in store.select(query):
            i = (int(row.ts_decided_ns) - since_ns) // bucket_ns
            decisions[i] += 1
            if row.decision in ERROR_DECISIONS:
                errors[i] += 1
    return [
        Bucket(
            start_ns=since_ns + i * bucket_ns,
            end_ns=since_ns + (i + 1) * bucket_ns,
            decisions=decisions[i],
            errors=errors[i],
        )
        for i in range(count)
    ]


class OrderFinal(msgspec.Struct, frozen=True, kw_only=True):
    """An order's last recorded state in a run."""

    client_order_id: str
    status: OrderStatus
    builder_code: str
    ts_updated_ns: int


def final_orders(store: EventStore, record: RunRecord) -> list[OrderFinal]:
    """Each order of the run at its last recorded state, by client order id.

    Raises:
        StoreError: the read failed.
    """
    last: dict[str, OrderFinal] = {}
    for order in store.orders(record.ref):
        last[order.client_order_id] = OrderFinal(
            client_order_id=order.client_order_id,
            status=order.status,
            builder_code=order.builder_code,
            ts_updated_ns=order.ts_updated_ns,
        )
    return list(last.values())


def kill_switch_trips_ns(store: EventStore, record: RunRecord) -> list[int]:
    """When the run's kill switch tripped (desk clock, ns): operators' ``kill_switch.trip``
    checkpoints and HALT envelopes that set the desk HALTED from a bot holding the
    KILL_SWITCH capability (``risk.killswitch``).

    Raises:
        StoreError: the read failed.
    """
    c = schema.checkpoints.c
    trips = [
        int(row.ts_ns)
        for row in store.select(
            sa.select(c.ts_ns).where(
                c.run_id == record.run_id,
                c.attempt == record.attempt,
                c.kind == "kill_switch.trip",
            )
        )
    ]
    e = schema.envelopes.c
    trips += [
        int(row.ts_event_ns)
        for row in store.select(
            sa.select(e.ts_event_ns).where(
                e.run_id == record.run_id,
                e.attempt == record.attempt,
                e.bot_id == "risk.killswitch",
                e.decision == "HALT",
            )
        )
    ]
    return sorted(trips)
