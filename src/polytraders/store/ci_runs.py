"""CI results per commit in the event store (table ``ci_runs``): the evidence of Impl item 15
("CI is green") and of the gate "all tests pass on main for 7 consecutive days" (seed 001).

``.ci/run`` records each run after the tests (``polytraders readiness record-ci``): the
commit, the branch, the exit code of the README's test command (lint, type-check, reason-code
check, pytest), and pytest's JUnit XML report, from which every test id's outcome is kept.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from enum import StrEnum
from typing import Any

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.errors import StoreWriteError
from polytraders.store.event_store import EventStore
from polytraders.store.records import json_text


class CiOutcome(StrEnum):
    """A CI run's outcome: PASSED only when the test command exited 0 and its JUnit report
    holds at least one test and no failure or error."""

    PASSED = "passed"
    FAILED = "failed"


class CaseOutcome(StrEnum):
    """One test's outcome in a JUnit report."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class JunitReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a JUnit XML report says: every test id (``module.path::name[param]``) with its
    outcome."""

    results: dict[str, CaseOutcome]

    def count(self, outcome: CaseOutcome) -> int:
        """How many tests ended with ``outcome``."""
        return sum(1 for value in self.results.values() if value is outcome)


class CiRun(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded CI run (a ``ci_runs`` row).

    Attributes:
        row_id: the store's append order.
        commit_sha: 40 hex digits.
        branch: the branch checked out (``main`` for CI on main; ``HEAD`` when detached).
        outcome: PASSED or FAILED (see :class:`CiOutcome`).
        tests_passed, tests_failed, tests_errors, tests_skipped: counts from the JUnit report.
        duration_ms: the test command's wall time.
        wall_ns: when it was recorded (store's wall clock, ns since the epoch).
        host: the machine's host name.
        junit_sha256: SHA-256 of the JUnit report's bytes ("" without one).
        results: test id → outcome.
    """

    row_id: int
    commit_sha: str
    branch: str
    outcome: CiOutcome
    tests_passed: int
    tests_failed: int
    tests_errors: int
    tests_skipped: int
    duration_ms: int
    wall_ns: int
    host: str
    junit_sha256: str
    results: dict[str, CaseOutcome]


class JunitError(ValueError):
    """A JUnit report that cannot be read."""


def parse_junit(data: bytes) -> JunitReport:
    """Read pytest's JUnit XML (``--junitxml``): each ``testcase`` is passed unless it holds a
    ``failure``, ``error`` or ``skipped`` element. Ids are ``classname::name``.

    Raises:
        JunitError: not well-formed XML, or no ``testcase`` element at all.
    """
    try:
        root = ET.fromstring(data)  # our own pytest's report, read locally
    except ET.ParseError as exc:
        raise JunitError(f"the JUnit report is not well-formed XML: {exc}") from exc
    results: dict[str, CaseOutcome] = {}
    for case in root.iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None:
            outcome = CaseOutcome.FAILED
        elif case.find("error") is not None:
            outcome = CaseOutcome.ERROR
        elif case.find("skipped") is not None:
            outcome = CaseOutcome.SKIPPED
        else:
            outcome = CaseOutcome.PASSED
        # a test both failing and erroring in teardown appears twice: keep the worse outcome
        previous = results.get(test_id)
        if previous is None or previous is CaseOutcome.PASSED:
            results[test_id] = outcome
    if not results:
        raise JunitError("the JUnit report holds no testcase")
    return JunitReport(results=dict(sorted(results.items())))


def record_ci_run(
    store: EventStore,
    *,
    commit_sha: str,
    branch: str,
    exit_code: int,
    junit: bytes | None,
    duration_ms: int,
    host: str,
) -> CiRun:
    """Record one CI run's outcome.

    Args:
        store: the event store.
        commit_sha: the commit tested (40 hex digits).
        branch: the branch checked out.
        exit_code: the test command's exit status (0 = it passed).
        junit: pytest's JUnit XML report, or None when the command stopped before pytest
            (e.g. lint failed): the run is then FAILED with no test counts.
        duration_ms: the command's wall time (ms, ≥ 0).
        host: the machine's name.

    Raises:
        StoreWriteError: a malformed commit, a negative duration, or the write failed.
        JunitError: an unreadable report.
    """
    if len(commit_sha) != 40 or any(c not in "0123456789abcdef" for c in commit_sha):
        raise StoreWriteError(f"a CI run needs a 40-hex commit, got {commit_sha!r}")
    if duration_ms < 0:
        raise StoreWriteError("a CI run's duration cannot be negative")
    report = parse_junit(junit) if junit is not None else JunitReport(results={})
    failed = report.count(CaseOutcome.FAILED)
    errors = report.count(CaseOutcome.ERROR)
    passed = report.count(CaseOutcome.PASSED)
    green = exit_code == 0 and junit is not None and failed == errors == 0 and passed > 0
    row: dict[str, Any] = {
        "commit_sha": commit_sha,
        "branch": branch or "HEAD",
        "outcome": (CiOutcome.PASSED if green else CiOutcome.FAILED).value,
        "tests_passed": passed,
        "tests_failed": failed,
        "tests_errors": errors,
        "tests_skipped": report.count(CaseOutcome.SKIPPED),
        "duration_ms": duration_ms,
        "wall_ns": store.wall_clock_ns(),
        "host": host,
        "junit_sha256": "" if junit is None else _sha256(junit),
        "results_json": json_text({k: v.value for k, v in report.results.items()}),
    }
    store.append_rows(schema.ci_runs, [row], what=f"CI run of {commit_sha[:12]}")
    return ci_runs(store, commit_sha=commit_sha)[-1]


def ci_runs(
    store: EventStore, *, commit_sha: str | None = None, since_wall_ns: int | None = None
) -> list[CiRun]:
    """Recorded CI runs in the order they were recorded, optionally of one commit and/or
    recorded at or after ``since_wall_ns``.

    Raises:
        StoreError: the read failed.
    """
    c = schema.ci_runs.c
    query = sa.select(schema.ci_runs).order_by(c.row_id)
    if commit_sha is not None:
        query = query.where(c.commit_sha == commit_sha)
    if since_wall_ns is not None:
        query = query.where(c.wall_ns >= since_wall_ns)
    return [_from_row(row._asdict()) for row in store.select(query)]


def _from_row(row: dict[str, Any]) -> CiRun:
    results = msgspec.json.decode(row["results_json"], type=dict[str, CaseOutcome])
    return CiRun(
        row_id=int(row["row_id"]),
        commit_sha=row["commit_sha"],
        branch=row["branch"],
        outcome=CiOutcome(row["outcome"]),
        tests_passed=int(row["tests_passed"]),
        tests_failed=int(row["tests_failed"]),
        tests_errors=int(row["tests_errors"]),
        tests_skipped=int(row["tests_skipped"]),
        duration_ms=int(row["duration_ms"]),
        wall_ns=int(row["wall_ns"]),
        host=row["host"],
        junit_sha256=row["junit_sha256"],
        results=results,
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
