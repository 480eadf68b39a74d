"""CI runs recorded per commit from pytest's real JUnit report; read back by commit and
time; the Impl item 15 they feed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from polytraders.readiness.ci_evidence import ci_item
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import ItemStatus
from polytraders.store import EventStore
from polytraders.store.ci_runs import (
    CaseOutcome,
    CiOutcome,
    JunitError,
    ci_runs,
    parse_junit,
    record_ci_run,
)
from polytraders.store.errors import StoreWriteError

COMMIT = "a" * 40
OTHER = "b" * 40

_SUITE = """
import pytest

def test_passes():
    assert 1 + 1 == 2

def test_fails():
    assert 1 + 1 == 3

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n > 0
"""


@pytest.fixture(scope="module")
def junit(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real JUnit report: pytest run on a small suite with a pass, a failure, a skip."""
    folder = tmp_path_factory.mktemp("suite")
    (folder / "test_small.py").write_text(_SUITE)
    report = folder / "junit.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            str(folder / "test_small.py"),
        ],
        cwd=folder,
        capture_output=True,
        check=False,
        timeout=120,
    )
    return report.read_bytes()


def test_the_junit_report_gives_every_test_and_its_outcome(junit: bytes) -> None:
    report = parse_junit(junit)
    assert report.results == {
        "test_small::test_fails": CaseOutcome.FAILED,
        "test_small::test_param[1]": CaseOutcome.PASSED,
        "test_small::test_param[2]": CaseOutcome.PASSED,
        "test_small::test_passes": CaseOutcome.PASSED,
        "test_small::test_skipped": CaseOutcome.SKIPPED,
    }
    with pytest.raises(JunitError, match="not well-formed"):
        parse_junit(b"<testsuite")
    with pytest.raises(JunitError, match="no testcase"):
        parse_junit(b"<testsuites><testsuite/></testsuites>")


def test_ci_runs_are_recorded_per_commit_and_feed_impl_item_15(
    store_url: str, junit: bytes, tmp_path: Path
) -> None:
    green = b"<testsuites><testsuite><testcase classname='t' name='ok'/></testsuite></testsuites>"
    with EventStore.open(store_url) as store:
        ctx = ReadinessContext(repo=tmp_path, store=store, now_ns=time.time_ns(), commit=COMMIT)
        assert ci_item(ctx).status is ItemStatus.PENDING
        failed = record_ci_run(
            store,
            commit_sha=COMMIT,
            branch="main",
            exit_code=1,
            junit=junit,
            duration_ms=1_000,
            host="ci",
        )
        assert failed.outcome is CiOutcome.FAILED
        assert (failed.tests_passed, failed.tests_failed, failed.tests_skipped) == (3, 1, 1)
        assert ci_item(ctx).status is ItemStatus.FAIL
        # a command that exits 0 but whose report holds a failure is still not green
        assert (
            record_ci_run(
                store,
                commit_sha=COMMIT,
                branch="main",
                exit_code=0,
                junit=junit,
                duration_ms=1,
                host="ci",
            ).outcome
            is CiOutcome.FAILED
        )
        # lint failed before pytest: no report, FAILED with no counts
        lint = record_ci_run(
            store,
            commit_sha=OTHER,
            branch="main",
            exit_code=1,
            junit=None,
            duration_ms=5,
            host="ci",
        )
        assert lint.outcome is CiOutcome.FAILED and lint.tests_passed == 0
        passed = record_ci_run(
            store,
            commit_sha=COMMIT,
            branch="main",
            exit_code=0,
            junit=green,
            duration_ms=2,
            host="ci",
        )
        assert passed.outcome is CiOutcome.PASSED
        item = ci_item(ctx)
        assert item.status is ItemStatus.PASS and item.number == 15
        assert "latest of 3 CI run(s)" in item.detail
        assert [r.commit_sha for r in ci_runs(store)] == [COMMIT, COMMIT, OTHER, COMMIT]
        assert len(ci_runs(store, commit_sha=OTHER)) == 1
        assert ci_runs(store, since_wall_ns=passed.wall_ns + 1) == []
        with pytest.raises(StoreWriteError, match="40-hex commit"):
            record_ci_run(
                store,
                commit_sha="HEAD",
                branch="main",
                exit_code=0,
                junit=green,
                duration_ms=1,
                host="ci",
            )
        no_store = ReadinessContext(repo=tmp_path, store=None, now_ns=0, commit=COMMIT)
        assert ci_item(no_store).status is ItemStatus.PENDING
