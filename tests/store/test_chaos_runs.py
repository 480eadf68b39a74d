"""Chaos-suite verdicts in the store: the verdict is computed from the checks (none is no
pass), each row is audited with GOV_CHAOS_RUN, bad input is refused, rows are append-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from polytraders.store import EventStore
from polytraders.store.chaos_runs import (
    ACTION,
    ChaosBot,
    ChaosCheck,
    chaos_run_refs,
    chaos_runs,
    record_chaos_run,
)
from polytraders.store.errors import StoreWriteError
from polytraders.store.schema import APPEND_ONLY_MESSAGE

COMMIT = "a" * 40
BOTS = (ChaosBot(bot_id="risk.killswitch", mode="ENFORCED", config_version="0af8c90cf7f878a9"),)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore.open(tmp_path / "s.sqlite") as handle:
        yield handle


def check(name: str, passed: bool) -> ChaosCheck:
    return ChaosCheck(name=name, passed=passed, value=f"{name} measured", criterion="c")


def record(store: EventStore, checks: list[ChaosCheck], **kw: object) -> object:
    args: dict[str, object] = {
        "suite_id": "cs-1",
        "scenario": "heartbeat_lapse",
        "desk_config_version": "8af2494adb02d9f0",
        "bots": BOTS,
        "checks": checks,
        "run_refs": ["chaos-cs-1-heartbeat_lapse@1"],
        "commit_sha": COMMIT,
        "started_wall_ns": 10,
        "ended_wall_ns": 20,
        "actor": "ana",
    } | kw
    return record_chaos_run(store, **args)  # type: ignore[arg-type]


def test_a_run_is_recorded_with_its_checks_and_audited(store: EventStore) -> None:
    row = record(store, [check("a", True), check("b", False)])
    assert chaos_runs(store) == [row]
    (stored,) = chaos_runs(store, scenario="heartbeat_lapse", suite_id="cs-1")
    assert not stored.passed and stored.failed_checks == ("b",)
    assert stored.checks[0] == check("a", True) and stored.bots == BOTS
    assert stored.run_refs == ("chaos-cs-1-heartbeat_lapse@1",)
    assert chaos_run_refs(store) == {"chaos-cs-1-heartbeat_lapse@1"}
    (entry,) = store.audit_log()
    assert (entry.actor, entry.action, entry.ts_ns) == ("ana", ACTION, 20)
    detail = msgspec.json.decode(entry.detail)
    assert detail["passed"] is False and detail["failed_checks"] == ["b"]


def test_the_verdict_is_computed_never_given(store: EventStore) -> None:
    assert record(store, [check("a", True)], suite_id="s1").passed  # type: ignore[attr-defined]
    assert not record(store, [], suite_id="s2").passed  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("actor", " ", "non-empty actor"),
        ("scenario", "", "non-empty scenario"),
        ("commit_sha", "abc", "40 hex digits or empty"),
        ("ended_wall_ns", 5, "end before it started"),
    ],
)
def test_bad_input_is_refused(store: EventStore, field: str, value: object, message: str) -> None:
    with pytest.raises(StoreWriteError, match=message):
        record(store, [check("a", True)], **{field: value})
    assert chaos_runs(store) == []


def test_a_scenario_is_recorded_once_per_suite_and_rows_are_append_only(
    store: EventStore,
) -> None:
    record(store, [check("a", True)])
    with pytest.raises(StoreWriteError):
        record(store, [check("a", False)])  # the same scenario of the same suite again
    record(store, [check("a", True)], suite_id="cs-2", commit_sha="")  # outside git: allowed
    with (
        pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY_MESSAGE),
        store._engine.begin() as connection,
    ):
        connection.execute(sa.text("UPDATE chaos_runs SET passed = 0"))
