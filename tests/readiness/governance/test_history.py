"""The recorded synthetic history (:mod:`tests.readiness.governance.history`) makes every gate
of Built → Shadow and Shadow → Limited live Successful for ``risk.killswitch`` under the real
evaluation, except three it cannot and must not provide; every row it writes says it is the
fixture's and lies at or before the clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytraders.bots.risk.killswitch import FEED_LOST
from polytraders.contracts.modes import BotClass
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evaluate import evaluate
from polytraders.readiness.evidence import Phase
from polytraders.readiness.gates import transition_gates
from polytraders.readiness.lifecycle import State
from polytraders.readiness.store_evidence import DAY_NS
from polytraders.store import EventStore, RunStatus
from polytraders.store.chaos_runs import chaos_runs
from polytraders.store.ci_runs import ci_runs
from polytraders.store.shadow_comparisons import comparisons
from tests.conftest import REPO
from tests.readiness.governance.history import ACTOR, BOT, main, record_history

NOW_NS = 1_772_452_800_000_000_000  # 2026-03-02T12:00:00Z
COMMIT = "5eed" * 10
"""The commit under evaluation (the chaos and CI gates count rows of this commit only)."""

LEFT_TO_THE_LEAD = {
    "reviewer_signoff": "a reviewer's signed statement: the governance signatures provide it",
    "console_page": "a page of the operator console: no history of runs can declare one",
    "wallet_allowance": "the venue adapter's CTFExchangeV2 allowance check: not a history",
}
"""The gates of the two transitions a recorded history does not make Successful, and why."""

TRANSITIONS = ((State.BUILT, State.SHADOW), (State.SHADOW, State.LIMITED_LIVE))


def _phases(store: EventStore) -> dict[str, Phase]:
    ctx = ReadinessContext(repo=REPO, store=store, now_ns=NOW_NS, commit=COMMIT)
    phases: dict[str, Phase] = {}
    for src, dst in TRANSITIONS:
        gates = transition_gates(src, dst, BotClass.RISK)
        evaluation = evaluate(BOT, gates, ctx, from_state=src.value, target=dst.value)
        phases |= {r.gate.gate_id: r.measurement.phase for r in evaluation.results}
    return phases


def test_every_gate_but_three_is_successful_on_the_history(store_url: str) -> None:
    with EventStore.open(store_url) as empty:
        before = _phases(empty)
    assert {g for g, p in before.items() if p is not Phase.SUCCESSFUL} >= {
        "ci_green_7_days",
        "shadow_agreement",
        "p99_latency",
        "error_rate_7_days",
        "no_p0_alerts",
        "chaos_suite",
        "builder_code_bound",
        "kill_switch_routing",
    }  # the history is what makes these pass
    recorded = record_history(store_url, bot_id=BOT, commit=COMMIT, now_ns=NOW_NS)
    assert [r.kind for r in recorded] == [
        "shadow_comparisons",
        "live-clock shadow sessions",
        "live-venue runs",
        "ci_runs",
        "chaos_runs",
    ]
    with EventStore.open(store_url, create=False) as store:
        phases = _phases(store)
        failing = {g: p.value for g, p in phases.items() if p is not Phase.SUCCESSFUL}
        assert failing == dict.fromkeys(LEFT_TO_THE_LEAD, Phase.INCONCLUSIVE.value)
        _assert_marked_and_before_the_clock(store)


def _assert_marked_and_before_the_clock(store: EventStore) -> None:
    runs = store.runs()
    assert all(r.data_source.startswith("ws://127.0.0.1:") for r in runs)
    ended = sorted((r.status, r.detail.split(":")[0]) for r in runs)
    assert ended == [(RunStatus.COMPLETED, ACTOR)] * 7 + [(RunStatus.HALTED, FEED_LOST)]
    assert all(r.ended_ns is not None and r.ended_ns <= NOW_NS for r in runs)
    ci = ci_runs(store)
    assert {(r.host, r.commit_sha, r.branch) for r in ci} == {(ACTOR, COMMIT, "main")}
    assert all(NOW_NS - 7 * DAY_NS <= r.wall_ns <= NOW_NS for r in ci)
    chaos = chaos_runs(store)
    assert {r.actor for r in chaos} == {ACTOR} and all(r.ended_wall_ns <= NOW_NS for r in chaos)
    assert all(ACTOR in c.value for r in chaos for c in r.checks)
    shadow = comparisons(store, bot_id=BOT)
    assert {r.actor for r in shadow} == {ACTOR} and max(r.ts_ns for r in shadow) <= NOW_NS
    assert all(e.ts_ns <= NOW_NS for e in store.audit_log())
    actors = {e.action: e.actor for e in store.audit_log()}
    assert actors["GOV_SHADOW_DIVERGENCE_REVIEWED"] == actors["GOV_CI_RECORDED"] == ACTOR


def test_the_command_prints_one_line_per_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(tmp_path / "history.sqlite")
    main(["--store", url, "--bot", BOT, "--now-ns", str(NOW_NS), "--commit", COMMIT])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "shadow_comparisons",
        "live-clock shadow sessions",
        "live-venue runs",
        "ci_runs",
        "chaos_runs",
    ]
    assert lines[3] == f"ci_runs: 7 (main at {COMMIT[:12]}, passed, one a UTC day)"
    assert lines[4] == f"chaos_runs: 5 (all passed at {COMMIT[:12]}, default desk)"
    assert lines[0].startswith("shadow_comparisons: 30 (risk.killswitch: ")
    assert lines[2].endswith(f"kill switch tripped ({FEED_LOST}), 0 left open)")
    # the same history twice in one store is refused (one line on stderr, exit status 2)
    with pytest.raises(SystemExit) as exited:
        main(["--store", url, "--bot", BOT, "--now-ns", str(NOW_NS), "--commit", COMMIT])
    assert exited.value.code == 2
    assert "already holds the history of commit 5eed5eed5eed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("bot", "commit", "now_ns", "says"),
    [
        ("risk.stalebookguard", COMMIT, NOW_NS, "written for risk.killswitch only"),
        (BOT, "", NOW_NS, "40 lower-case hex digits"),
        (BOT, COMMIT, NOW_NS - NOW_NS % DAY_NS + 3_599 * 10**9, "an hour into its UTC day"),
    ],
)
def test_other_bots_bad_commits_and_clocks_near_midnight_are_refused(
    tmp_path: Path, bot: str, commit: str, now_ns: int, says: str
) -> None:
    url = str(tmp_path / "refused.sqlite")
    with pytest.raises(ValueError, match=says):
        record_history(url, bot_id=bot, commit=commit, now_ns=now_ns)
    assert not (tmp_path / "refused.sqlite").exists()  # refused before the store is opened
