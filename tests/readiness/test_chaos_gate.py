"""The chaos_suite gate from recorded chaos runs: Successful only when the latest counted run of
all five scenarios passed; Failed when the latest counted run of any failed; Inconclusive when
one has none. A run counts for a bot when its desk ran the bot ENFORCED, at the commit under
evaluation, recorded by the evaluation's clock."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from polytraders.chaos import SCENARIO_NAMES
from polytraders.readiness.chaos_gate import chaos_suite
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Phase
from polytraders.readiness.measures import MEASURES
from polytraders.store import EventStore
from polytraders.store.chaos_runs import ChaosBot, ChaosCheck, record_chaos_run

BOT = "risk.stalebookguard"
COMMIT = "c" * 40
OTHER = "d" * 40
NOW_NS = 10_000
_suites = count()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore.open(tmp_path / "s.sqlite") as handle:
        yield handle


def ctx(store: EventStore | None, commit: str = COMMIT) -> ReadinessContext:
    return ReadinessContext(repo=Path("."), store=store, now_ns=NOW_NS, commit=commit)


def record(
    store: EventStore,
    scenario: str,
    passed: bool = True,
    *,
    commit: str = COMMIT,
    mode: str = "ENFORCED",
    ended_ns: int = 100,
) -> None:
    record_chaos_run(
        store,
        suite_id=f"cs-{next(_suites)}",
        scenario=scenario,
        desk_config_version="v",
        bots=[ChaosBot(bot_id=BOT, mode=mode, config_version="x")],
        checks=[ChaosCheck(name="the_check", passed=passed, value="measured")],
        run_refs=[],
        commit_sha=commit,
        started_wall_ns=ended_ns - 1,
        ended_wall_ns=ended_ns,
        actor="t",
    )


def all_five(store: EventStore, **kw: object) -> None:
    for name in SCENARIO_NAMES:
        record(store, name, **kw)  # type: ignore[arg-type]


def test_the_gate_measures_the_chaos_runs() -> None:
    assert MEASURES["chaos_suite"] is chaos_suite


def test_no_store_and_no_run_are_inconclusive(store: EventStore) -> None:
    assert chaos_suite(BOT, ctx(None)).phase is Phase.INCONCLUSIVE
    found = chaos_suite(BOT, ctx(store))
    assert (found.phase, found.value) == (Phase.INCONCLUSIVE, "0/5 scenarios")
    assert "polytraders chaos run" in found.detail


def test_all_five_passed_at_this_commit_is_successful(store: EventStore) -> None:
    record(store, SCENARIO_NAMES[0], passed=False)  # an earlier failure, run again since
    all_five(store)
    found = chaos_suite(BOT, ctx(store))
    assert (found.phase, found.value) == (Phase.SUCCESSFUL, "5/5 scenarios")
    assert found.evidence and found.evidence[0].result == "5 of 5 scenarios recorded"


def test_the_latest_run_of_a_scenario_failing_fails_the_gate(store: EventStore) -> None:
    all_five(store)
    record(store, "ws_drop_open_orders", passed=False)
    found = chaos_suite(BOT, ctx(store))
    assert (found.phase, found.value) == (Phase.FAILED, "4/5 scenarios")
    assert "ws_drop_open_orders" in found.detail and "the_check" in found.detail


def test_a_failure_wins_over_a_missing_scenario(store: EventStore) -> None:
    record(store, "heartbeat_lapse", passed=False)
    assert chaos_suite(BOT, ctx(store)).phase is Phase.FAILED


def test_a_missing_scenario_is_inconclusive_and_named(store: EventStore) -> None:
    for name in SCENARIO_NAMES[1:]:
        record(store, name)
    found = chaos_suite(BOT, ctx(store))
    assert found.phase is Phase.INCONCLUSIVE and SCENARIO_NAMES[0] in found.detail


@pytest.mark.parametrize(
    ("kw", "evaluated_at", "says"),
    [
        ({"commit": OTHER}, COMMIT, "5 run(s) at other commits do not count"),
        ({"commit": ""}, COMMIT, "5 run(s) at other commits do not count"),
        ({}, "", "no commit"),
        ({"mode": "SHADOW"}, COMMIT, "no recorded run"),
        ({"mode": "STUB"}, COMMIT, "no recorded run"),
        ({"ended_ns": NOW_NS + 1}, COMMIT, "no recorded run"),
    ],
)
def test_runs_that_do_not_count(
    store: EventStore, kw: dict[str, object], evaluated_at: str, says: str
) -> None:
    all_five(store, **kw)
    found = chaos_suite(BOT, ctx(store, evaluated_at))
    assert found.phase is Phase.INCONCLUSIVE, found
    assert says in found.detail


def test_a_failure_at_another_commit_does_not_count_either(store: EventStore) -> None:
    all_five(store)
    record(store, "crash_restart", passed=False, commit=OTHER)
    assert chaos_suite(BOT, ctx(store)).phase is Phase.SUCCESSFUL
    assert chaos_suite("risk.killswitch", ctx(store)).phase is Phase.INCONCLUSIVE  # not in it
