"""Chaos-suite verdicts in the event store (table ``chaos_runs``): the evidence of the gate
"Failure-injection recipes pass — all 5 standard scenarios pass" (seed 001, Shadow → Limited
live; :mod:`polytraders.readiness.chaos_gate`).

One row per scenario run (:mod:`polytraders.chaos`): the suite it belongs to (one
``polytraders chaos run`` invocation), the scenario's name, the desk under test (its desk
file's ``config_version`` and every bot with its mode and config version), the verdict, every
written check with its measured value, the desk's own run records in the store (``RUN_ID@N``;
the envelopes, orders, fills and reconciliations of the scenario's live session), the commit
of the code that ran, and when and by whom. The verdict is computed here, never given: a run
passes only when it has at least one check and every check passed (no check is no pass).

Every row also appends an audit entry ``GOV_CHAOS_RUN`` (suite, scenario, verdict, failed
checks, runs). Row and audit entry are two transactions; should the second fail, the error is
raised (the row stays, the audit log lacks its entry), as for incidents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.errors import StoreWriteError
from polytraders.store.event_store import EventStore
from polytraders.store.records import json_text

ACTION = "GOV_CHAOS_RUN"
"""The audit action (a registered GOV_ code) of every recorded scenario run."""

_COMMIT = re.compile(r"(?:[0-9a-f]{40})?")


class ChaosCheck(msgspec.Struct, frozen=True, kw_only=True):
    """One written pass criterion of a scenario and how the run measured it.

    Attributes:
        name: the criterion's name (snake_case, stable: tests and operators refer to it).
        passed: whether the run met it.
        value: what was measured, as text with its unit (e.g. ``"0 orders sent while
            stale"``).
        criterion: the criterion in words (what has to hold).
    """

    name: str
    passed: bool
    value: str
    criterion: str = ""


class ChaosBot(msgspec.Struct, frozen=True, kw_only=True):
    """A bot of the desk under test: its id, the mode it ran in, its config's version."""

    bot_id: str
    mode: str
    config_version: str


class ChaosRunRow(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded scenario run (a ``chaos_runs`` row).

    Attributes:
        row_id: the store's append order.
        suite_id: the suite run it belongs to (one ``polytraders chaos run``).
        scenario: the scenario's name (:data:`polytraders.chaos.SCENARIOS`).
        desk_config_version: the desk file's ``config_version`` (its bots, configs, code
            digests; the simulator's address and the venue settings are not part of it).
        bots: every bot of the desk (STUB ones included) with mode and config version.
        passed: every check passed (and there was at least one).
        checks: the written criteria with their measured values, in order.
        run_refs: the desk's run records of the scenario (``RUN_ID@N``).
        commit_sha: the commit of the code that ran (40 hex; ``""`` outside a git checkout:
            such a run never counts for the gate).
        started_wall_ns, ended_wall_ns: the wall clock at the scenario's start and end (ns).
        actor: who ran it.
    """

    row_id: int
    suite_id: str
    scenario: str
    desk_config_version: str
    bots: tuple[ChaosBot, ...]
    passed: bool
    checks: tuple[ChaosCheck, ...]
    run_refs: tuple[str, ...]
    commit_sha: str
    started_wall_ns: int
    ended_wall_ns: int
    actor: str

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """Names of the checks that did not pass."""
        return tuple(c.name for c in self.checks if not c.passed)


def record_chaos_run(
    store: EventStore,
    *,
    suite_id: str,
    scenario: str,
    desk_config_version: str,
    bots: Sequence[ChaosBot],
    checks: Sequence[ChaosCheck],
    run_refs: Sequence[str],
    commit_sha: str,
    started_wall_ns: int,
    ended_wall_ns: int,
    actor: str,
) -> ChaosRunRow:
    """Record one scenario run and its ``GOV_CHAOS_RUN`` audit entry; return the stored row.

    Raises:
        StoreWriteError: an empty suite id, scenario or actor, a commit that is neither 40
            lower-case hex digits nor empty, an end before the start, the same scenario twice
            in one suite, or the write failed.
    """
    for value, what in ((suite_id, "suite id"), (scenario, "scenario"), (actor, "actor")):
        if not value.strip():
            raise StoreWriteError(f"a chaos run needs a non-empty {what}")
    if not _COMMIT.fullmatch(commit_sha):
        raise StoreWriteError(f"a chaos run's commit is 40 hex digits or empty, not {commit_sha!r}")
    if ended_wall_ns < started_wall_ns:
        raise StoreWriteError("a chaos run cannot end before it started")
    passed = bool(checks) and all(c.passed for c in checks)
    row: dict[str, Any] = {
        "suite_id": suite_id,
        "scenario": scenario,
        "desk_config_version": desk_config_version,
        "bots_json": _json(list(bots)),
        "passed": passed,
        "checks_json": _json(list(checks)),
        "run_refs_json": _json(list(run_refs)),
        "commit_sha": commit_sha,
        "started_wall_ns": started_wall_ns,
        "ended_wall_ns": ended_wall_ns,
        "actor": actor,
    }
    store.append_rows(schema.chaos_runs, [row], what=f"chaos run {suite_id}/{scenario}")
    store.audit(
        actor=actor,
        action=ACTION,
        ts_ns=ended_wall_ns,
        detail={
            "suite_id": suite_id,
            "scenario": scenario,
            "passed": passed,
            "failed_checks": [c.name for c in checks if not c.passed],
            "desk_config_version": desk_config_version,
            "run_refs": list(run_refs),
            "commit_sha": commit_sha,
        },
    )
    return chaos_runs(store, suite_id=suite_id, scenario=scenario)[-1]


def chaos_runs(
    store: EventStore, *, scenario: str | None = None, suite_id: str | None = None
) -> list[ChaosRunRow]:
    """Recorded scenario runs in the order recorded, optionally of one scenario or suite.

    Raises:
        StoreError: the read failed.
    """
    c = schema.chaos_runs.c
    query = sa.select(schema.chaos_runs).order_by(c.row_id)
    if scenario is not None:
        query = query.where(c.scenario == scenario)
    if suite_id is not None:
        query = query.where(c.suite_id == suite_id)
    return [_row(r._asdict()) for r in store.select(query)]


def chaos_run_refs(store: EventStore) -> set[str]:
    """Every run record (``RUN_ID@N``) a chaos scenario produced: live sessions against the
    simulator with injected faults, which other evidence (error rates, latencies, drift) may
    want to leave out.

    Raises:
        StoreError: the read failed.
    """
    return {ref for row in chaos_runs(store) for ref in row.run_refs}


def _json(value: object) -> str:
    return json_text(value)


def _row(data: dict[str, Any]) -> ChaosRunRow:
    return ChaosRunRow(
        row_id=int(data["row_id"]),
        suite_id=data["suite_id"],
        scenario=data["scenario"],
        desk_config_version=data["desk_config_version"],
        bots=msgspec.json.decode(data["bots_json"], type=tuple[ChaosBot, ...]),
        passed=bool(data["passed"]),
        checks=msgspec.json.decode(data["checks_json"], type=tuple[ChaosCheck, ...]),
        run_refs=msgspec.json.decode(data["run_refs_json"], type=tuple[str, ...]),
        commit_sha=data["commit_sha"],
        started_wall_ns=int(data["started_wall_ns"]),
        ended_wall_ns=int(data["ended_wall_ns"]),
        actor=data["actor"],
    )
