"""A recorded synthetic history of ``risk.killswitch`` for tests and the worked example of
``docs/governance.md``: not evidence of anything the desk did.

The gates of Built → Shadow and Shadow → Limited live measure evidence gathered over days (7
days of CI, 30 days of shadow comparisons, 7 days of shadow running, a chaos suite at the
commit, live-venue runs). A test cannot wait that long, so :func:`record_history` writes such a
history, ending at a chosen clock, through the project's own writers. On a real desk the same
rows come from CI (``polytraders readiness record-ci``), ``polytraders live --shadow`` sessions
and ``polytraders shadow compare``, reviewers (``polytraders shadow review``), the chaos suite
(``polytraders chaos run``) and live sessions of the node.

What is recorded, and how it differs from the real thing (the actor, reviewer and CI host of
every row is :data:`ACTOR`; so is the start of each shadow session's end detail):

- **CI**: one run on ``main`` at the given commit on each of the last 7 UTC days, its JUnit
  report a one-line document naming this module (no test ran; duration 0 ms), audited
  ``GOV_CI_RECORDED`` as ``record-ci`` audits it.
- **Shadow comparisons**: one a day for 30 days, each a real :func:`compare_desks` of the
  default desk (``risk.killswitch`` at its defaults: the candidate) against the same desk with
  the kill switch warning at 10 % of its halt levels (the baseline, "the live desk") over a
  10-minute seeded synthetic feed of that day: verdicts agree; on wide-spread days the baseline
  gives feed-health warnings the candidate does not, divergences that are reviewed ``correct``.
- **Shadow sessions**: on each of the last 7 UTC days a 10-minute session of the default desk
  with the kill switch in SHADOW mode, recorded as ``polytraders live --shadow`` records one
  (the local simulator's websocket URL as data source: a live-clock run) but run on the
  simulated clock over a seeded synthetic feed (:mod:`tests.store.desk_sessions`), so the
  decision latency is the modelled :data:`MODELLED_LATENCY_US`, not a measured one.
- **A live-venue rehearsal** two days before the clock: the live node's config (venue: the
  local CLOB v2 simulator) with the kill switch ENFORCED and its monitor step on, over a feed
  that falls silent for 60 s; the kill switch trips on the feed loss and the desk cancels
  every open order; the run ends HALTED with the trip's reason code, as the live node ends it
  (paper venue, simulated clock, as above).
- **The chaos suite**: the five standard scenarios recorded as passed at the given commit for
  the default desk (kill switch ENFORCED); no scenario ran: each check's value says so.

No P0 alert and no incident is recorded: there were none. The rows end at ``now_ns``, which
must lie at least an hour into its UTC day (each day's evidence is recorded between 00:10 and
01:00 UTC, and the gates count the UTC day of the clock). A store holds the history once.

Run it: ``python -m tests.readiness.governance.history --store URL --bot risk.killswitch
[--now-ns N] [--commit SHA]`` (from the repository root; the commit defaults to its HEAD).
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.shadow_compare import compare_desks, record
from polytraders.bots.risk.killswitch import FEED_LOST
from polytraders.chaos.harness import desk_bots
from polytraders.chaos.suite import SCENARIOS
from polytraders.node.config import LiveNodeConfig
from polytraders.readiness.context import find_repository, git_commit
from polytraders.readiness.store_evidence import (
    DAY_NS,
    final_orders,
    kill_switch_trips_ns,
    utc_day,
)
from polytraders.store import EventStore, RunRef, RunStatus
from polytraders.store.chaos_runs import ChaosCheck, chaos_runs, record_chaos_run
from polytraders.store.ci_runs import record_ci_run
from polytraders.store.shadow_comparisons import comparisons, record_divergence_verdict
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from tests.backtest.shadow_data import desk_entry
from tests.store import desk_sessions as ds
from tests.store.factories import WallClock

ACTOR = "history-fixture"
"""Who recorded every row of the history (actor, reviewer, CI host, run detail)."""

BOT = "risk.killswitch"
"""The bot the history is written for (its warn level, its kill-switch trip)."""

MIN_NS = 60 * 1_000_000_000
SESSION_S = 600
"""Length of each session and compared window (s)."""

MODELLED_LATENCY_US = 40
"""The kill switch's modelled decision time in the shadow sessions (µs; its p99 SLO is
1,000 µs)."""

SHADOW_DAYS = 30
LIVE_DAYS = 7
VENUE_DAY = 2
"""How many days before the clock's day the live-venue rehearsal ran."""

SIM_CLOB_URL = "http://127.0.0.1:8765"
"""The local CLOB v2 simulator's REST endpoint (its market channel is ``ds.WS_URL``)."""


class Recorded(NamedTuple):
    """One kind of evidence recorded: its name, how many rows or runs, and what they hold."""

    kind: str
    rows: int
    detail: str


def _feed(start_ns: int, *, scenario: str = "normal", seed: int = 3, extra: str = "") -> str:
    return f"synthetic:{scenario}?seed={seed}&duration_s={SESSION_S}&start_ns={start_ns}{extra}"


def _check_clock(now_ns: int) -> int:
    """The UTC midnight of ``now_ns``'s day.

    Raises:
        ValueError: ``now_ns`` lies less than an hour into its UTC day.
    """
    midnight = now_ns - now_ns % DAY_NS
    if now_ns - midnight < 60 * MIN_NS:
        raise ValueError(
            f"now_ns must lie at least an hour into its UTC day ({utc_day(now_ns)}): each "
            "day's evidence is recorded between 00:10 and 01:00 UTC"
        )
    return midnight


def _suite_id(commit: str) -> str:
    return f"cs-{ACTOR}-{commit[:8]}"


def _ci(store: EventStore, clock: WallClock, midnight: int, commit: str) -> Recorded:
    for k in reversed(range(LIVE_DAYS)):
        clock.now_ns = midnight - k * DAY_NS + 25 * MIN_NS
        junit = (
            '<testsuites><testsuite name="history-fixture"><testcase '
            f'classname="tests.readiness.governance.history" name="ci_{utc_day(clock.now_ns)}"/>'
            "</testsuite></testsuites>"
        )
        run = record_ci_run(
            store,
            commit_sha=commit,
            branch="main",
            exit_code=0,
            junit=junit.encode(),
            duration_ms=0,
            host=ACTOR,
        )
        store.audit(  # as `polytraders readiness record-ci` audits it
            actor=ACTOR,
            action="GOV_CI_RECORDED",
            ts_ns=clock.now_ns,
            detail={"commit_sha": commit, "branch": "main", "outcome": run.outcome.value},
        )
    return Recorded("ci_runs", LIVE_DAYS, f"main at {commit[:12]}, passed, one a UTC day")


def _shadow_comparisons(store: EventStore, clock: WallClock, midnight: int) -> Recorded:
    baseline, candidate = desk_entry(BOT, config={"warn_level_pct": 10}), DeskFile()
    reviewed = 0
    for k in reversed(range(SHADOW_DAYS)):
        start = midnight - k * DAY_NS + 10 * MIN_NS
        scenario = "wide_spread" if k % 7 == 3 else "normal"
        comparison = compare_desks(
            data=_feed(start, scenario=scenario, seed=k + 1),
            baseline=baseline,
            candidate=candidate,
            parity=False,
        )
        clock.now_ns = start + 20 * MIN_NS
        record(comparison, store, actor=ACTOR, ts_ns=clock.now_ns)
        for divergence in comparison.bot(BOT).divergences:
            clock.now_ns += MIN_NS
            record_divergence_verdict(
                store,
                comparison.comparison_id,
                divergence.candidate.envelope_id,
                verdict="correct",
                reviewer=ACTOR,
                note="the live desk's earlier feed-health warning; the verdict is the same",
                ts_ns=clock.now_ns,
            )
            reviewed += 1
    rows = comparisons(store, bot_id=BOT)
    compared = sum(r.compared for r in rows)
    agreed = sum(r.agree_verdict for r in rows)
    return Recorded(
        "shadow_comparisons",
        len(rows),
        f"{BOT}: {agreed}/{compared} verdicts agree, {reviewed} divergence(s) reviewed correct",
    )


def _moved_to(clock: WallClock, end_ns: int) -> Callable[[RunRef], None]:
    """A ``before_end`` hook that moves the wall clock to the session's end."""

    def hook(ref: RunRef) -> None:
        clock.now_ns = end_ns

    return hook


def _shadow_sessions(store: EventStore, clock: WallClock, midnight: int) -> Recorded:
    desk = desk_entry(BOT, mode="SHADOW", modelled_latency_us=MODELLED_LATENCY_US)
    for k in reversed(range(LIVE_DAYS)):
        start = midnight - k * DAY_NS + 10 * MIN_NS
        clock.now_ns = start
        ds.record_session(
            store,
            desk,
            _feed(start, seed=100 + k),
            detail=f"{ACTOR}: shadow session on the simulated clock (modelled latency)",
            before_end=_moved_to(clock, start + SESSION_S * 1_000_000_000),
        )
    return Recorded(
        "live-clock shadow sessions", LIVE_DAYS, f"{BOT} in SHADOW, one a UTC day, {ds.WS_URL}"
    )


def _venue_rehearsal(store: EventStore, clock: WallClock, midnight: int) -> Recorded:
    desk = desk_entry(BOT, config={"monitor_interval_ms": 1_000, "feed_loss_halt_ms": 20_000})
    node = LiveNodeConfig(desk=desk, venue=PolymarketVenueConfig(clob_url=SIM_CLOB_URL))
    start = midnight - VENUE_DAY * DAY_NS + 10 * MIN_NS
    clock.now_ns = start
    ref = ds.record_session(
        store,
        desk,
        _feed(start, scenario="stale", seed=7, extra="&stale_s=60"),
        config=node.canonical(),
        status=RunStatus.HALTED,  # as the live node ends a session whose kill switch tripped
        detail=FEED_LOST,
        before_end=_moved_to(clock, start + SESSION_S * 1_000_000_000),
    )
    (record,) = [r for r in store.runs() if r.ref == ref]
    if not kill_switch_trips_ns(store, record):
        raise RuntimeError(f"the rehearsal {ref} recorded no kill-switch trip")
    orders = final_orders(store, record)
    return Recorded(
        "live-venue runs",
        1,
        f"{ref}: {len(orders)} orders, kill switch tripped ({FEED_LOST}), "
        f"{sum(o.status.is_open for o in orders)} left open",
    )


def _chaos(store: EventStore, clock: WallClock, midnight: int, commit: str) -> Recorded:
    desk = DeskFile()
    start = midnight + 30 * MIN_NS
    for n, (name, scenario) in enumerate(SCENARIOS.items()):
        clock.now_ns = start + (2 * n + 1) * MIN_NS
        record_chaos_run(
            store,
            suite_id=_suite_id(commit),
            scenario=name,
            desk_config_version=desk.config_version,
            bots=desk_bots(desk),
            checks=[
                ChaosCheck(
                    name=check,
                    passed=True,
                    value=f"{ACTOR}: recorded as passed, not run",
                    criterion=criterion,
                )
                for check, criterion in scenario.criteria.items()
            ],
            run_refs=[],
            commit_sha=commit,
            started_wall_ns=start + 2 * n * MIN_NS,
            ended_wall_ns=clock.now_ns,
            actor=ACTOR,
        )
    return Recorded("chaos_runs", len(SCENARIOS), f"all passed at {commit[:12]}, default desk")


def record_history(
    store_url: str | Path, *, bot_id: str, commit: str, now_ns: int
) -> list[Recorded]:
    """Record the history of the module docstring for ``bot_id`` in the store at
    ``store_url`` (opened here with a wall clock that walks through the history, so CI runs,
    run starts and ends carry the history's times), ending at ``now_ns``; returns what was
    recorded, one entry per kind.

    Raises:
        ValueError: ``bot_id`` is not :data:`BOT`, ``commit`` is not 40 lower-case hex
            digits, ``now_ns`` lies less than an hour into its UTC day, or the store already
            holds the history of this commit.
        polytraders.store.errors.StoreError: the store cannot be opened or written.
    """
    if bot_id != BOT:
        raise ValueError(f"the recorded history is written for {BOT} only, not {bot_id!r}")
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ValueError(f"the commit must be 40 lower-case hex digits, not {commit!r}")
    midnight = _check_clock(now_ns)
    clock = WallClock(midnight)
    with EventStore.open(store_url, wall_clock_ns=clock) as store:
        if any(r.suite_id == _suite_id(commit) for r in chaos_runs(store)):
            raise ValueError(f"{store.url} already holds the history of commit {commit[:12]}")
        return [
            _shadow_comparisons(store, clock, midnight),
            _shadow_sessions(store, clock, midnight),
            _venue_rehearsal(store, clock, midnight),
            _ci(store, clock, midnight, commit),
            _chaos(store, clock, midnight, commit),
        ]


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.readiness.governance.history --store URL --bot BOT [--now-ns N]
    [--commit SHA]``: record the history and print one line per kind of evidence."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="event store URL or SQLite path")
    parser.add_argument("--bot", required=True, help=f"the bot ({BOT})")
    parser.add_argument("--now-ns", type=int, default=None, help="the clock (default: now)")
    parser.add_argument("--commit", default=None, help="the commit (default: HEAD of the repo)")
    args = parser.parse_args(argv)
    commit = args.commit or git_commit(find_repository(Path(__file__).parent))
    now_ns = args.now_ns if args.now_ns is not None else time.time_ns()
    try:
        recorded = record_history(args.store, bot_id=args.bot, commit=commit, now_ns=now_ns)
    except ValueError as exc:
        parser.error(str(exc))
    for kind, rows, detail in recorded:
        print(f"{kind}: {rows} ({detail})")


if __name__ == "__main__":
    main()
