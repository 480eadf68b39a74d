"""Running chaos scenarios and recording their verdicts.

:func:`run_scenario` runs one scenario of :data:`SCENARIOS` — a fresh simulator with a
throwaway key, the desk under test as a live session against it (recording to the event
store under the run id ``chaos-<suite id>-<scenario>``), the fault, the written checks — and
records the verdict in the store's ``chaos_runs`` table with a ``GOV_CHAOS_RUN`` audit entry
(:mod:`polytraders.store.chaos_runs`). :func:`run_suite` runs several (default: all five, in
order) under one suite id.

A scenario that raises (the desk could not start, the simulator failed, a bug) is not lost:
its verdict is recorded failed, the error in the value of every check it had not measured.
The commit recorded is that of the code that ran (the git checkout holding this package; ""
when it is not one, and such a run never counts for the readiness gate).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polytraders
from polytraders.backtest.desk_file import DeskFile
from polytraders.chaos import (
    crash_restart,
    engine_restart,
    feed_stale_gap,
    heartbeat_lapse,
    ws_drop,
)
from polytraders.chaos.harness import (
    DEFAULT_TIMEOUT_S,
    Judge,
    LiveDesk,
    ScenarioStoppedError,
    SimWindows,
    desk_bots,
)
from polytraders.readiness.context import git_commit
from polytraders.store.chaos_runs import ChaosRunRow, record_chaos_run
from polytraders.store.event_store import EventStore


@dataclass(frozen=True)
class Scenario:
    """A standard scenario: its name, what it injects, its written checks (name →
    criterion), the venue timing it runs with, and its body."""

    name: str
    title: str
    criteria: Mapping[str, str]
    windows: SimWindows
    run: Callable[[LiveDesk, Judge], None]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            feed_stale_gap.NAME,
            "market-data feed goes stale, then gaps; the desk resumes after a fresh snapshot",
            feed_stale_gap.CRITERIA,
            SimWindows(),
            feed_stale_gap.run,
        ),
        Scenario(
            engine_restart.NAME,
            "venue 425 engine restart, then a post-only window",
            engine_restart.CRITERIA,
            SimWindows(post_only_after_restart_ms=engine_restart.POST_ONLY_MS),
            engine_restart.run,
        ),
        Scenario(
            heartbeat_lapse.NAME,
            "order heartbeat lapse: the venue cancels all",
            heartbeat_lapse.CRITERIA,
            SimWindows(
                dead_man_ms=heartbeat_lapse.WINDOW_MS,
                heartbeat_interval_ms=heartbeat_lapse.HEARTBEAT_MS,
                heartbeat_timeout_ms=heartbeat_lapse.WINDOW_MS,
            ),
            heartbeat_lapse.run,
        ),
        Scenario(
            ws_drop.NAME,
            "websocket drop with orders open; a fill while disconnected",
            ws_drop.CRITERIA,
            SimWindows(),
            ws_drop.run,
        ),
        Scenario(
            crash_restart.NAME,
            "desk process killed mid-order and restarted; a fill while it was down",
            crash_restart.CRITERIA,
            SimWindows(dead_man_ms=crash_restart.DEAD_MAN_MS),
            crash_restart.run,
        ),
    )
}
"""The five standard scenarios (seed 001 "all 5 standard scenarios pass"), in suite order."""

SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)


def new_suite_id(now_ns: int | None = None) -> str:
    """A fresh suite id: ``cs-<UTC time>-<8 random hex>`` (ordered by time, never reused)."""
    when = datetime.fromtimestamp((now_ns or time.time_ns()) / 1e9, tz=UTC)
    return f"cs-{when:%Y%m%dt%H%M%Sz}-{secrets.token_hex(4)}"


def code_commit() -> str:
    """The commit of the code running (the git checkout holding this package), or ""."""
    return git_commit(Path(polytraders.__file__).resolve().parent)


def run_scenario(
    name: str,
    *,
    desk: DeskFile,
    store_url: str,
    suite_id: str,
    actor: str,
    commit_sha: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    runs_store_url: str | None = None,
) -> ChaosRunRow:
    """Run scenario ``name`` against ``desk`` and record its verdict; returns the row.

    Args:
        name: a key of :data:`SCENARIOS`.
        desk: the desk under test.
        store_url: the event store for the verdict (created when missing); also for the
            desk's run records unless ``runs_store_url`` is given.
        suite_id: the suite the run belongs to (:func:`new_suite_id`).
        actor: who runs it (recorded and audited).
        commit_sha: the commit to record (default :func:`code_commit`).
        timeout_s: deadline of each wait of the scenario (s).
        runs_store_url: where the desk's own run records go (``polytraders chaos run`` keeps
            them apart, so the faults it injects never count as a bot's runtime evidence:
            error rate, latency, drift, demotion read the main store).

    Raises:
        KeyError: an unknown scenario.
        polytraders.store.errors.StoreError: the verdict could not be recorded.
    """
    scenario = SCENARIOS[name]
    judge = Judge(scenario.criteria)
    started_ns = time.time_ns()
    stopped = ""
    live = LiveDesk(
        desk,
        runs_store_url or store_url,
        f"chaos-{suite_id}-{name}",
        windows=scenario.windows,
        timeout_s=timeout_s,
    )
    try:
        with live:
            live.start()
            scenario.run(live, judge)
    except ScenarioStoppedError as exc:
        stopped = str(exc)
    except Exception as exc:  # a scenario that errs is a failed scenario, recorded as such
        stopped = f"{type(exc).__name__}: {exc}"
    ended_ns = time.time_ns()
    with EventStore.open(store_url) as store:
        return record_chaos_run(
            store,
            suite_id=suite_id,
            scenario=name,
            desk_config_version=desk.config_version,
            bots=desk_bots(desk),
            checks=judge.checks(stopped),
            run_refs=live.run_refs,
            commit_sha=code_commit() if commit_sha is None else commit_sha,
            started_wall_ns=started_ns,
            ended_wall_ns=ended_ns,
            actor=actor,
        )


def run_suite(
    *,
    desk: DeskFile,
    store_url: str,
    actor: str,
    scenarios: Sequence[str] = SCENARIO_NAMES,
    suite_id: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_result: Callable[[ChaosRunRow], None] | None = None,
    runs_store_url: str | None = None,
) -> list[ChaosRunRow]:
    """Run ``scenarios`` (in the order given) under one suite id and record each verdict;
    ``on_result`` sees each row as soon as it is recorded; ``runs_store_url`` as in
    :func:`run_scenario`.

    Raises:
        KeyError: an unknown scenario (before anything runs).
        polytraders.store.errors.StoreError: a verdict could not be recorded.
    """
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise KeyError(f"unknown scenario(s) {unknown}; one of {', '.join(SCENARIO_NAMES)}")
    suite = suite_id or new_suite_id()
    commit = code_commit()
    rows: list[ChaosRunRow] = []
    for name in scenarios:
        row = run_scenario(
            name,
            desk=desk,
            store_url=store_url,
            suite_id=suite,
            actor=actor,
            commit_sha=commit,
            timeout_s=timeout_s,
            runs_store_url=runs_store_url,
        )
        rows.append(row)
        if on_result is not None:
            on_result(row)
    return rows
