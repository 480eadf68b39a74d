"""Runs of the real desk recorded as live-clock sessions, for the governance-evidence tests.

A paper session (``polytraders run --venue polymarket --paper``) records its desk file's
canonical JSON and config version, the seed, and the market channel's websocket URL as the
data source, ``synthetic=False`` (:func:`polytraders.commands.live._paper_recording`). A test
cannot wait seven days of wall time, so :func:`record_session` runs the real desk (the desk
file's bots, the paper venue, the simulated clock) over a seeded synthetic feed whose window
starts on the day wanted, and records it into a run started exactly as a paper session starts
one (the same fields; :data:`WS_URL` is the form of the local CLOB v2 simulator's market
channel). Envelopes, order states and fills stream into the store as in a backtest. Under the
simulated clock ``latency_ns`` is each slot's modelled latency (``modelled_latency_us`` in the
desk file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import data_digest
from polytraders.contracts import ids
from polytraders.desk.desk import Desk
from polytraders.feeds import open_source
from polytraders.model.events import AnyEvent
from polytraders.store import EventStore, RunJournal, RunProduced, RunRef, RunStatus
from polytraders.venues.paper import PaperVenue

WS_URL = "ws://127.0.0.1:8765/ws/market"
"""The market channel of a local simulator, as a paper session records it."""

NS_PER_DAY = 86_400 * 1_000_000_000
DAY0_NS = 1_767_225_600 * 1_000_000_000
"""2026-01-01T00:00:00Z: the synthetic feed's default start."""

SHADOW_DESK: dict[str, Any] = {
    "seed": 5,
    "risk": [
        {"id": "risk.killswitch"},
        {"id": "risk.markethaltguard"},
        {"id": "risk.stalebookguard", "mode": "SHADOW"},
        {"id": "risk.marketqualityguard"},
        {"id": "risk.exposureguard"},
    ],
}
"""A desk with ``risk.stalebookguard`` in SHADOW mode beside enforced guards."""


def desk(mapping: dict[str, Any] | None = None, **stalebook: Any) -> DeskFile:
    """The desk file ``mapping`` (default :data:`SHADOW_DESK`); ``stalebook`` overrides the
    stale-book guard's entry (e.g. ``modelled_latency_us=400``)."""
    data = dict(SHADOW_DESK if mapping is None else mapping)
    if stalebook:
        data["risk"] = [
            {**entry, **stalebook} if entry["id"] == "risk.stalebookguard" else entry
            for entry in data["risk"]
        ]
    return DeskFile.from_mapping(data)


def synthetic(day: int, *, scenario: str = "normal", duration_s: int = 600, seed: int = 3) -> str:
    """A synthetic feed spec whose window starts ``day`` days after 2026-01-01 at 01:00 UTC."""
    start_ns = DAY0_NS + day * NS_PER_DAY + 3_600 * 1_000_000_000
    return f"synthetic:{scenario}?seed={seed}&duration_s={duration_s}&start_ns={start_ns}"


def start_session(
    store: EventStore,
    desk_file: DeskFile,
    data: str,
    run_id: str,
    *,
    config: Mapping[str, Any] | None = None,
) -> tuple[Desk, RunRef, list[AnyEvent]]:
    """A desk of ``desk_file`` on the paper venue over ``data``, recording into a new attempt
    of ``run_id`` started as a paper session starts one (``config``: the config recorded
    instead of the desk file's); returns the desk, the attempt and the data's events, none
    processed yet."""
    source = open_source(data)
    events = list(source.events())
    ref = store.start_run(
        run_id=run_id,
        started_ns=events[0].ts_event_ns,
        seed=desk_file.seed,
        desk_config=dict(config) if config is not None else desk_file.canonical(),
        desk_config_version=desk_file.config_version,
        data_source=WS_URL,
        synthetic=False,
    ).ref
    strategies, risk, execution = desk_file.build_slots()
    desk = Desk(
        run_id=run_id,
        venue=PaperVenue(desk_file.venue, source.markets, run_id),
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=source.markets,
        sink=store,
        config=desk_file.desk,
        account=desk_file.account.identity(),
        journal=RunJournal(store, str(ref)),
    )
    return desk, ref, events


def record_session(
    store: EventStore,
    desk_file: DeskFile,
    data: str,
    *,
    status: RunStatus = RunStatus.COMPLETED,
    detail: str = "",
    config: Mapping[str, Any] | None = None,
    before_end: Callable[[RunRef], None] | None = None,
) -> RunRef:
    """Run the desk of ``desk_file`` over ``data`` into a new attempt of its run, started as a
    paper session starts one, and end it with ``status``; returns the attempt.

    ``config`` is the config recorded with the run instead of the desk file's (a live node's
    ``LiveNodeConfig.canonical()`` makes it a live-venue run); ``before_end`` is called with
    the attempt while the store still holds it (e.g. to record reconciliations)."""
    run_id = ids.run_id(desk_file.config_version, data_digest(data), desk_file.seed)
    running, ref, events = start_session(store, desk_file, data, run_id, config=config)
    result = running.run(events)
    if before_end is not None:
        before_end(ref)
    stats = running.orders.stats
    store.end_run(
        ref,
        ended_ns=result.last_event_ns,
        status=status,
        detail=detail,
        produced=RunProduced(
            envelopes=result.envelope_count, orders=stats.order_states, fills=stats.fills_booked
        ),
    )
    store.flush()
    assert store.check_integrity(ref) == []
    return ref
