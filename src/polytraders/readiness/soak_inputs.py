"""What the paper-soak validator reads about one recorded run: from the event store its record,
fills, final order states, decision times and halts; from the run's data source its markets
and the mid prices around each fill (the store holds no books, so the recorded feed is read
again, :mod:`polytraders.feeds.mids`).

Which data: ``--data`` when given, else the run's recorded ``data_source`` (a path resolved
against the working folder, or a ``synthetic:`` spec). For a simulated-clock run (a backtest)
the data are **verified**: the run id is derived from (desk config version, data digest,
seed) (:func:`polytraders.contracts.ids.run_id`), so the data's digest must give back the run
id; data that do not are refused as another data set. A live-clock session records a
websocket URL: its books are readable only from a recording of that session, which cannot be
verified that way (``data_verified`` False, said in the evidence). Without data the
book-based KPIs have nothing to measure and fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.contracts.envelope import Decision
from polytraders.desk.gate import HALTED
from polytraders.feeds import open_source
from polytraders.feeds.digest import data_digest
from polytraders.feeds.mids import MidQuery, doubled_mids
from polytraders.model.fills import Fill
from polytraders.model.market import Market
from polytraders.model.orders import VenueOrder
from polytraders.store import EventStore, schema
from polytraders.store.records import RunRecord
from polytraders.store.sessions import is_live_clock_source

NS_PER_S = 1_000_000_000


class SoakInputError(ValueError):
    """The run cannot be validated: not in the store, or data that are not the run's. One line
    naming the run or the data."""


class SoakData(msgspec.Struct, frozen=True, kw_only=True):
    """Where the run's books come from.

    Fields:
        location: the data read ("" when none could be).
        verified: True when the data's digest gives back the run id (module docstring).
        note: why there are no data, or how they were (not) verified.
        markets: the data's markets (empty without data).
        mids: query → doubled mid (micro-units) or None.
    """

    location: str
    verified: bool
    note: str
    markets: tuple[Market, ...]
    mids: dict[MidQuery, int | None]


class SoakRun(msgspec.Struct, frozen=True, kw_only=True):
    """One run attempt as the validator reads it.

    Fields:
        record: the run's record (status, desk config, data source, end time).
        ref: ``RUN_ID@attempt``.
        fills: its fills in append order.
        orders: each order's last recorded state, by client order id.
        decision_ns: the venue times of its envelopes, sorted (the desk's decisions).
        first_halt_ns: the earliest HALT decision or refusal because trading was HALTED
            (``SYS_TRADING_HALTED``); None when the desk never halted.
    """

    record: RunRecord
    ref: str
    fills: tuple[Fill, ...]
    orders: dict[str, VenueOrder]
    decision_ns: tuple[int, ...]
    first_halt_ns: int | None


def read_run(store: EventStore, run: str) -> SoakRun:
    """Read one run attempt (``RUN_ID`` = the latest, or ``RUN_ID@N``) from ``store``.

    Raises:
        SoakInputError: no such run.
        RunRefError / StoreError: a malformed reference or a failing store.
    """
    record = store.run(run)
    if record is None:
        raise SoakInputError(f"run {run}: not in the store at {store.url}")
    ref = str(record.ref)
    orders: dict[str, VenueOrder] = {}
    for order in store.orders(ref):
        orders[order.client_order_id] = order
    e = schema.envelopes.c
    rows = store.select(
        sa.select(e.ts_event_ns, e.decision, e.reason_codes_json).where(
            e.run_id == record.run_id, e.attempt == record.attempt
        )
    )
    halts = [
        int(r.ts_event_ns)
        for r in rows
        if r.decision == Decision.HALT.value or HALTED in json.loads(r.reason_codes_json)
    ]
    return SoakRun(
        record=record,
        ref=ref,
        fills=tuple(store.fills(ref)),
        orders=orders,
        decision_ns=tuple(sorted(int(r.ts_event_ns) for r in rows)),
        first_halt_ns=min(halts) if halts else None,
    )


def mid_queries(fills: tuple[Fill, ...], horizons_s: tuple[int, ...]) -> list[MidQuery]:
    """Per fill: its token's mid just before the fill, and at each horizon after it."""
    queries: list[MidQuery] = []
    for fill in fills:
        queries.append(MidQuery(fill.ts_event_ns, False, fill.token_id))
        queries += [
            MidQuery(fill.ts_event_ns + h * NS_PER_S, True, fill.token_id) for h in horizons_s
        ]
    return queries


def read_data(run: SoakRun, data: str | None, horizons_s: tuple[int, ...]) -> SoakData:
    """The run's markets and the mids its fills need (module docstring for which data).

    Raises:
        SoakInputError: the data of a simulated-clock run are not the run's (digest), or the
            data cannot be opened or read (the message names them).
    """
    record = run.record
    location = data if data is not None else record.data_source
    live = is_live_clock_source(record.data_source)
    if data is None and live:
        return SoakData(
            location="",
            verified=False,
            note=f"a live session ({record.data_source}): pass --data with its recording",
            markets=(),
            mids={},
        )
    if not location.startswith("synthetic:") and not Path(location).exists():
        raise SoakInputError(
            f"run {run.ref} was fed by {location!r}, which is not here: pass --data with the "
            "run's data"
        )
    try:
        digest = data_digest(location)
    except OSError as exc:
        raise SoakInputError(f"{location}: {exc}") from exc
    if live:
        verified, note = False, "a recording of a live session: not verifiable by digest"
    else:
        derived = ids.run_id(record.desk_config_version, digest, record.seed)
        if derived != record.run_id:
            raise SoakInputError(
                f"{location} (digest {digest}) is not the data run {run.ref} replayed (its id "
                f"would be {derived}); pass --data with the run's data"
            )
        verified, note = True, f"digest {digest} gives back the run id"
    try:
        source = open_source(location)
        mids = doubled_mids(source.events(), mid_queries(run.fills, horizons_s))
    except (ValueError, KeyError, OSError) as exc:  # FeedError, bad levels
        raise SoakInputError(f"{location}: {exc}") from exc
    return SoakData(
        location=location,
        verified=verified,
        note=note,
        markets=tuple(source.markets),
        mids=dict(mids),
    )
