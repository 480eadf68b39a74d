"""The Prometheus rules of ``ops/prometheus/`` under ``promtool``: they load, their unit tests
(``ops/prometheus/tests/``) pass, a changed threshold makes those tests fail, and the 7-day
error-rate alert agrees with the readiness gate computed from the event store on the same
synthetic history.

promtool comes from Debian's ``prometheus`` package (``.ci/run`` installs it). Without it
these tests skip, unless ``POLYTRADERS_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from polytraders.bots.registry import BOTS
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.ops.metrics import DeskMetrics
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Phase
from polytraders.readiness.measures import error_rate_7_days
from polytraders.store import EventStore, RunProduced
from tests.conftest import REPO, services_required
from tests.store.conftest import pg_schema_url, store, store_url
from tests.store.desk_sessions import DAY0_NS, NS_PER_DAY, WS_URL

__all__ = ["pg_schema_url", "store", "store_url"]  # the store fixtures of tests/store

RULES = REPO / "ops" / "prometheus"
UNIT_TESTS = RULES / "tests" / "alerts_test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    """The path of promtool (skip, or fail under POLYTRADERS_REQUIRE_SERVICES=1, without)."""
    found = shutil.which("promtool")
    if found is not None:
        return found
    message = "promtool is not installed (Debian: apt-get install -y prometheus)"
    if services_required():
        pytest.fail(f"{message} and POLYTRADERS_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{message}; set POLYTRADERS_REQUIRE_SERVICES=1 to fail instead")


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_rule_files_load(promtool: str) -> None:
    done = _run(promtool, "check", "rules", RULES / "recording.yml", RULES / "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 14 rules found" in done.stdout
    assert "SUCCESS: 13 rules found" in done.stdout


def test_the_rule_unit_tests_pass(promtool: str) -> None:
    done = _run(promtool, "test", "rules", UNIT_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize(
    ("old", "new", "alert"),
    [
        ("(14.4 *", "(20 *", "PolytradersBotErrorBudgetFastBurn"),
        (
            "heartbeat_age_seconds > 10",
            "heartbeat_age_seconds > 12",
            "PolytradersVenueHeartbeatLapsed",
        ),
        ('quantile="0.99"})', 'quantile="0.95"})', "PolytradersBotLatencyP99OverSLO"),
    ],
)
def test_a_changed_threshold_fails_the_unit_tests(
    promtool: str, tmp_path: Path, old: str, new: str, alert: str
) -> None:
    copy = tmp_path / "prometheus"
    shutil.copytree(RULES, copy)
    alerts = copy / "alerts.yml"
    text = alerts.read_text(encoding="utf-8")
    assert old in text
    alerts.write_text(text.replace(old, new), encoding="utf-8")
    done = _run(promtool, "test", "rules", copy / "tests" / "alerts_test.yml")
    assert done.returncode != 0
    assert "FAILED" in done.stderr
    assert f"alertname: {alert}" in done.stderr


# ------------------------------------------------------------------ gate ↔ rule agreement
HOUR_NS = 3_600 * 1_000_000_000
STEP_H = 6  # one scrape every 6 h: 28 samples cover the 7 days
STEPS = 7 * 24 // STEP_H
NOW_NS = DAY0_NS + 7 * NS_PER_DAY
HISTORIES = {
    # bot: (decisions, errors) over the 7 days; the budget is 1,000 ppm
    "risk.killswitch": (2_000, 0),  # clean
    "risk.stalebookguard": (2_000, 1),  # 500 ppm: under budget
    "risk.exposureguard": (2_000, 2),  # 1,000 ppm: the budget itself, the gate fails
    "exec.smartrouter": (2_000, 3),  # 1,500 ppm: over budget
}


def _history(seed: int = 7) -> list[ReportEnvelope]:
    """Every bot's decisions spread at random over the 7 days (each 6-hour step gets some, so
    every UTC day has decisions), errors at random among them, in time order."""
    rng = random.Random(seed)
    timed: list[tuple[int, str, Decision]] = []
    for bot_id, (decisions, errors) in HISTORIES.items():
        times = [DAY0_NS + step * STEP_H * HOUR_NS + 1 for step in range(STEPS)]
        times += [DAY0_NS + rng.randrange(7 * NS_PER_DAY) for _ in range(decisions - STEPS)]
        failing = set(rng.sample(range(decisions), errors))
        for i, ts in enumerate(sorted(times)):
            ok = Decision.ROUTE if bot_id.startswith("exec.") else Decision.APPROVE
            timed.append((ts, bot_id, Decision.ERROR if i in failing else ok))
    timed.sort()
    return [
        ReportEnvelope(
            envelope_id=f"run-agree/e{seq}",
            run_id="run-agree",
            sequence=seq,
            ts_event_ns=ts,
            ts_decided_ns=ts,
            bot_id=bot_id,
            bot_class=BotClass(BOTS[bot_id].bot_class),
            bot_version=BOTS[bot_id].version,
            config_version="c0",
            mode=Mode.SHADOW,
            decision=decision,
            latency_ns=50_000,
        )
        for seq, (ts, bot_id, decision) in enumerate(timed)
    ]


def _series(envelopes: list[ReportEnvelope]) -> list[dict[str, str]]:
    """promtool input series: the real DeskMetrics fed the envelopes in time order, every
    sample of its registry read at each 6-hour scrape (t = 0, 6 h, …, 168 h)."""
    metrics = DeskMetrics({b: BOTS[b].RUNTIME_BUDGET for b in HISTORIES})
    wanted = (
        "polytraders_bot_decisions_total",
        "polytraders_bot_errors_total",
        "polytraders_bot_error_budget_ratio",
    )
    samples: dict[str, list[float]] = {}
    pending = iter(envelopes)
    upcoming = next(pending, None)
    for step in range(STEPS + 1):
        scrape_ns = DAY0_NS + step * STEP_H * HOUR_NS
        while upcoming is not None and upcoming.ts_decided_ns <= scrape_ns:
            metrics.record(upcoming)
            upcoming = next(pending, None)
        seen: set[str] = set()
        for family in metrics.registry.collect():
            for sample in family.samples:
                if sample.name not in wanted:
                    continue
                labels = {**sample.labels, "instance": "desk", "job": "polytraders"}
                key = (
                    sample.name
                    + "{"
                    + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                    + "}"
                )
                values = samples.setdefault(key, [])
                values.extend([0.0] * (step - len(values)))  # a series absent so far reads 0
                values.append(float(sample.value))
                seen.add(key)
        assert seen == set(samples)
    return [{"series": k, "values": " ".join(repr(v) for v in vs)} for k, vs in samples.items()]


def test_the_7_day_error_alert_agrees_with_the_gate(
    promtool: str, store: EventStore, tmp_path: Path
) -> None:
    envelopes = _history()
    run = store.start_run(
        run_id="run-agree",
        started_ns=DAY0_NS,
        seed=0,
        desk_config={"agreement": True},
        desk_config_version="c0",
        data_source=WS_URL,
        synthetic=False,
    ).ref
    for envelope in envelopes:
        store.record(envelope)
    store.end_run(
        run, ended_ns=NOW_NS, produced=RunProduced(envelopes=len(envelopes), orders=0, fills=0)
    )
    ctx = ReadinessContext(repo=REPO, store=store, now_ns=NOW_NS, commit="")
    verdicts = {bot: error_rate_7_days(bot, ctx).phase for bot in HISTORIES}
    assert verdicts == {
        "risk.killswitch": Phase.SUCCESSFUL,
        "risk.stalebookguard": Phase.SUCCESSFUL,
        "risk.exposureguard": Phase.FAILED,
        "exec.smartrouter": Phase.FAILED,
    }
    failed = sorted(bot for bot, phase in verdicts.items() if phase is Phase.FAILED)
    test_file = {
        "rule_files": [str(RULES / "recording.yml"), str(RULES / "alerts.yml")],
        "evaluation_interval": f"{STEP_H}h",
        "tests": [
            {
                "interval": f"{STEP_H}h",
                "input_series": _series(envelopes),
                "alert_rule_test": [
                    {
                        "eval_time": f"{7 * 24}h",
                        "alertname": "PolytradersBotErrorRateOverBudget7d",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "P2", "bot_id": bot},
                                "exp_annotations": {
                                    "summary": f"{bot}'s 7-day error rate is at or over its "
                                    "budget (the promotion gate fails)"
                                },
                            }
                            for bot in failed
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "agreement_test.yml"
    path.write_text(yaml.safe_dump(test_file, sort_keys=False), encoding="utf-8")
    done = _run(promtool, "test", "rules", path)
    assert done.returncode == 0, done.stdout + done.stderr
