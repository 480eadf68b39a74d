"""The Runtime score from store evidence on SQLite and PostgreSQL: sessions of the real desk
recorded as live-clock runs (:mod:`tests.store.desk_sessions`), a real paper session against
the CLOB v2 simulator, incidents, promotions, and the repository's monitoring files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from polytraders.backtest.engine import run_desk
from polytraders.bots.registry import BOTS
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import ReportEnvelope
from polytraders.model.orders import IntentAction
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import EvidenceKind, ItemStatus, Score, ScoreName
from polytraders.readiness.runtime_score import nearest_rank, runtime_score
from polytraders.store import EventStore, RunStatus, schema
from polytraders.store.incidents import close_incident, open_incident
from tests.store import desk_sessions as ds
from tests.store.conftest import pg_schema_url, store, store_url
from tests.waiting import wait_until

__all__ = ["pg_schema_url", "store", "store_url"]  # the store fixtures of tests/store

GUARD = "risk.stalebookguard"  # SHADOW in the sessions' desk
DAY = ds.NS_PER_DAY
NOW_AFTER_7_DAYS = ds.DAY0_NS + 7 * DAY  # sessions of days 0..6 run 01:00–01:10 UTC


def _score(
    store: EventStore | None, repo: Path, bot: str = GUARD, now_ns: int = NOW_AFTER_7_DAYS
) -> Score:
    return runtime_score(bot, ReadinessContext(repo=repo, store=store, now_ns=now_ns, commit=""))


def _statuses(score: Score) -> list[str]:
    return [item.status.value for item in score.items]


def _week(store: EventStore, days: range = range(7), **stalebook: object) -> None:
    for day in days:
        ds.record_session(store, ds.desk(**stalebook), ds.synthetic(day))


def test_without_a_store_the_store_items_are_pending(tmp_path: Path) -> None:
    score = _score(None, tmp_path)
    assert (score.name, score.out_of, score.passed) == (ScoreName.RUNTIME, 8, 0)
    assert _statuses(score) == ["PENDING"] * 5 + ["FAIL", "FAIL", "PENDING"]
    assert {score.item(n).detail for n in (1, 2, 3, 4, 5, 8)} == {"no event store"}
    assert score.item(6).evidence[0].ref == "ops/grafana/"
    assert score.item(6).evidence[0].result == "missing"
    assert score.item(7).evidence[0].ref == "ops/prometheus/"


def test_a_clean_shadow_week_passes_items_1_to_4(store: EventStore, tmp_path: Path) -> None:
    _week(store)
    score = _score(store, tmp_path)
    assert _statuses(score)[:4] == ["PASS"] * 4, [i.detail for i in score.items]
    assert score.item(1).detail == "clean shadow telemetry on 7 UTC days in 7 run attempt(s)"
    # the figures, recomputed from the recorded envelopes themselves
    mine = [e for e in _live_envelopes(store) if e.bot_id == GUARD]
    rejects = sum(1 for e in mine if e.decision.value in ("REJECT", "HALT") and e.correlation_id)
    decided = sum(
        1
        for e in mine
        if e.decision.value in ("APPROVE", "REJECT", "RESHAPE", "HALT") and e.correlation_id
    )
    assert rejects > 0
    assert f"{rejects} rejected of {decided} = " in score.item(4).detail
    assert f"0 ERROR/QUARANTINE of {len(mine)} decisions" in score.item(2).detail
    assert score.item(3).detail.startswith(f"p95 0.0 µs (p99 0.0 µs) over {len(mine)} decisions")
    for number in (1, 2, 3, 4):
        (evidence,) = score.item(number).evidence
        assert evidence.kind is EvidenceKind.STORE and len(evidence.digest) == 64
    # the same store read again gives the same evidence digests
    again = _score(store, tmp_path)
    assert [i.evidence for i in again.items[:4]] == [i.evidence for i in score.items[:4]]


def _live_envelopes(store: EventStore) -> list[ReportEnvelope]:
    return [
        e
        for record in store.runs()
        if record.data_source.startswith("ws://")
        for e in store.envelopes(record.ref)
    ]


def test_six_days_are_not_enough_and_backtests_do_not_count(
    store: EventStore, store_url: str, tmp_path: Path
) -> None:
    _week(store, range(6))
    store.close()
    for day in (6, 7):  # a backtest of the same desk on two more days: simulated clock
        run_desk(
            data=ds.synthetic(day), desk_file=ds.desk(), store_url=store_url, fill_bounds=False
        )
    with EventStore.open(store_url, create=False) as reader:
        score = _score(reader, tmp_path, now_ns=ds.DAY0_NS + 8 * DAY)
    assert score.item(1).status is ItemStatus.PENDING
    assert score.item(1).detail == "clean shadow telemetry on 6 UTC day(s) of the 7 needed"
    # the 7-day window before day 8 holds live sessions of days 1..5 only
    assert score.item(2).status is ItemStatus.PASS


def test_only_backtests_leave_items_1_to_4_pending(store_url: str, tmp_path: Path) -> None:
    run_desk(data=ds.synthetic(0), desk_file=ds.desk(), store_url=store_url, fill_bounds=False)
    with EventStore.open(store_url, create=False) as reader:
        score = _score(reader, tmp_path)
    assert _statuses(score)[:4] == ["PENDING"] * 4
    assert score.item(1).detail == f"no live-clock run with {GUARD} in SHADOW mode"
    assert score.item(2).detail == "no live-clock decision in the last 7 days"


def test_an_error_rate_over_budget_fails_items_1_and_2(store: EventStore, tmp_path: Path) -> None:
    # the guard's modelled decision time exceeds its slot budget: the desk times it out
    _week(store, modelled_latency_us=6_000)
    score = _score(store, tmp_path)
    assert score.item(2).status is ItemStatus.FAIL
    errors = [e for e in _live_envelopes(store) if e.bot_id == GUARD]
    failed = sum(1 for e in errors if e.decision.value in ("ERROR", "QUARANTINE"))
    assert failed > 0
    assert f"{failed} ERROR/QUARANTINE of {len(errors)} decisions" in score.item(2).detail
    assert score.item(1).status is ItemStatus.FAIL
    assert "ERROR envelope(s) in run-" in score.item(1).detail


def test_a_p95_over_the_budget_fails_item_3(store: EventStore, tmp_path: Path) -> None:
    _week(store, modelled_latency_us=400)  # under the 5 ms slot budget, over the 250 µs p95
    score = _score(store, tmp_path)
    assert BOTS[GUARD].RUNTIME_BUDGET.decision_p95_us == 250
    assert score.item(3).status is ItemStatus.FAIL
    assert score.item(3).detail.startswith("p95 400.0 µs (p99 400.0 µs)")
    assert score.item(2).status is ItemStatus.PASS


def test_a_failed_session_fails_item_1(store: EventStore, tmp_path: Path) -> None:
    _week(store, range(6))
    ref = ds.record_session(
        store, ds.desk(), ds.synthetic(6), status=RunStatus.FAILED, detail="OSError: feed gone"
    )
    score = _score(store, tmp_path)
    assert score.item(1).status is ItemStatus.FAIL
    assert f"{ref} FAILED" in score.item(1).detail


def test_reject_rates_against_the_band_for_a_guard_and_a_strategy(
    store: EventStore, tmp_path: Path
) -> None:
    for day in range(3):  # thin books: the market-quality guard rejects every intent
        ds.record_session(store, ds.desk(), ds.synthetic(day, scenario="thin_book"))
    guard = _score(store, tmp_path, bot="risk.marketqualityguard")
    assert guard.item(4).status is ItemStatus.FAIL
    assert "= 10,000 bps; band [0, 1,000] bps" in guard.item(4).detail
    strategy = _score(store, tmp_path, bot="strat.maker_tight")
    assert strategy.item(4).status is ItemStatus.FAIL
    intents, refused = _strategy_figures(store)
    assert intents > 0 and refused == intents
    assert f"{refused} rejected of {intents} = 10,000 bps; band [0, 3,000] bps" in (
        strategy.item(4).detail
    )


def test_a_strategy_on_normal_books_is_inside_its_band(store: EventStore, tmp_path: Path) -> None:
    _week(store, range(3))
    score = _score(store, tmp_path, bot="strat.maker_tight")
    intents, refused = _strategy_figures(store)
    assert intents > 0
    assert score.item(4).detail.startswith(f"{refused} rejected of {intents} = ")
    assert score.item(4).status is (
        ItemStatus.PASS if refused * 10_000 <= 3_000 * intents else ItemStatus.FAIL
    )
    routed = [e for e in _live_envelopes(store) if e.bot_id == "exec.smartrouter"]
    refusals = sum(1 for e in routed if e.decision.value == "REFUSE")
    decisions = sum(1 for e in routed if e.decision.value in ("ROUTE", "REFUSE"))
    router = _score(store, tmp_path, bot="exec.smartrouter").item(4)
    assert router.detail.startswith(f"{refusals} rejected of {decisions} = ")
    assert router.status is (
        ItemStatus.PASS if refusals * 10_000 <= 100 * decisions else ItemStatus.FAIL
    )


def _strategy_figures(store: EventStore) -> tuple[int, int]:
    """maker_tight's PLACE/REPLACE intents and those refused downstream, recomputed from the
    envelopes and orders (the rule of Runtime item 4)."""
    decoder = msgspec.json.Decoder(Proposal)
    intents: set[tuple[str, str]] = set()
    refused: set[tuple[str, str]] = set()
    for record in store.runs():
        if not record.data_source.startswith("ws://"):
            continue
        for e in store.envelopes(record.ref):
            if e.bot_id == "strat.maker_tight" and e.decision.value == "PROPOSE":
                proposal = decoder.decode(msgspec.json.encode(e.output))
                intents |= {
                    (record.run_id, i.intent_id)
                    for i in proposal.intents
                    if i.action is not IntentAction.CANCEL
                }
            applied = e.mode.value in ("ENFORCED", "QUARANTINE")
            if e.correlation_id and (
                (
                    e.bot_class.value == "risk"
                    and applied
                    and e.decision.value in ("REJECT", "HALT", "QUARANTINE")
                )
                or (e.decision.value == "REFUSE" and e.mode.value == "ENFORCED")
            ):
                refused.add((record.run_id, e.correlation_id))
        refused |= {
            (record.run_id, o.intent_id)
            for o in store.orders(record.ref)
            if o.status.value == "REJECTED"
        }
    return len(intents), len(intents & refused)


def test_a_closed_incident_with_the_runbook_passes_item_5(
    store: EventStore, tmp_path: Path
) -> None:
    assert _score(store, tmp_path).item(5).status is ItemStatus.PENDING
    real = open_incident(
        store, bot_id=GUARD, severity="P2", title="late rejects", operator="ana", known_bots=BOTS
    )
    close_incident(store, real.incident_id, operator="ana", resolution="config fixed")
    pending = _score(store, tmp_path).item(5)
    assert pending.status is ItemStatus.PENDING
    assert "(1 incident(s) on record)" in pending.detail
    drill = open_incident(
        store,
        bot_id=GUARD,
        severity="P1",
        title="replayed stale feed",
        operator="bob",
        known_bots=BOTS,
        drill=True,
    )
    close_incident(
        store,
        drill.incident_id,
        operator="bob",
        resolution="runbook followed",
        runbook_exercised=True,
    )
    passed = _score(store, tmp_path).item(5)
    assert passed.status is ItemStatus.PASS
    assert f"drill {drill.incident_id} (P1) closed by bob" in passed.detail
    assert _score(store, tmp_path, bot="risk.killswitch").item(5).status is ItemStatus.PENDING


def _promote(store: EventStore, bot: str, *steps: tuple[str, str, str]) -> None:
    store.append_rows(
        schema.promotions,
        [
            {
                "bot_id": bot,
                "from_state": from_state,
                "to_state": to_state,
                "outcome": outcome,
                "reason_code": "GOV_TEST",
                "evaluation_id": f"ev-{n}",
                "evidence_digest": "0" * 64,
                "actor": "lead",
                "detail": "",
                "ts_ns": ds.DAY0_NS + n,
            }
            for n, (from_state, to_state, outcome) in enumerate(steps)
        ],
        what="promotions",
    )


def test_promotion_history_decides_item_8(store: EventStore, tmp_path: Path) -> None:
    assert (
        _score(store, tmp_path).item(8).detail
        == "not yet promoted to general live (furthest: never promoted)"
    )
    _promote(
        store,
        GUARD,
        ("built", "shadow", "promoted"),
        ("shadow", "limited_live", "refused"),
    )
    item = _score(store, tmp_path).item(8)
    assert (item.status, item.detail) == (
        ItemStatus.PENDING,
        "not yet promoted to general live (furthest: shadow)",
    )
    _promote(
        store,
        GUARD,
        ("shadow", "limited_live", "promoted"),
        ("limited_live", "general_live", "promoted"),
    )
    assert _score(store, tmp_path).item(8).status is ItemStatus.PASS
    _promote(
        store,
        "risk.killswitch",
        ("built", "shadow", "promoted"),
        ("shadow", "general_live", "promoted"),
    )
    skipped = _score(store, tmp_path, bot="risk.killswitch").item(8)
    assert (skipped.status, skipped.detail) == (
        ItemStatus.FAIL,
        "promoted to general_live without passing limited_live",
    )


DASHBOARD = {
    "title": "Per bot",
    "templating": {
        "list": [
            {
                "name": "bot",
                "type": "query",
                "query": "label_values(polytraders_bot_decisions_total, bot_id)",
            }
        ]
    },
    "panels": [
        {
            "type": "row",
            "title": "collapsed",
            "collapsed": True,
            "panels": [
                {
                    "title": "Decisions",
                    "targets": [
                        {
                            "expr": "sum by (decision) "
                            '(rate(polytraders_bot_decisions_total{bot_id=~"$bot"}[5m]))'
                        }
                    ],
                },
            ],
        },
        {"title": "Desk PnL", "targets": [{"expr": "polytraders_desk_pnl_pusd"}]},
    ],
}
RULES = """
groups:
  - name: bots
    rules:
      - record: bot:errors:rate5m
        expr: sum by (bot_id) (rate(polytraders_bot_errors_total[5m]))
      - alert: BotQuarantined
        expr: polytraders_bot_mode{polytraders_bot_mode="QUARANTINE"} == 1
        for: 1m
        labels: {severity: P0}
      - alert: ErrorBudgetBurn
        expr: sum by (bot_id) (rate(polytraders_bot_errors_total[1h])) > 0.001
        labels: {severity: P1}
      - alert: KillSwitchLatency
        expr: >-
          histogram_quantile(0.99,
          rate(polytraders_bot_decision_latency_ms_bucket{bot_id="risk.killswitch"}[5m])) > 1
        labels: {severity: P2}
"""


def test_dashboards_and_alert_rules_are_read_from_the_repository(tmp_path: Path) -> None:
    grafana, prometheus = tmp_path / "ops" / "grafana", tmp_path / "ops" / "prometheus"
    grafana.mkdir(parents=True)
    prometheus.mkdir(parents=True)
    (grafana / "bots.json").write_text(json.dumps({"dashboard": DASHBOARD}))
    (prometheus / "bots.yml").write_text(RULES)
    score = _score(None, tmp_path)
    assert (score.item(6).status, score.item(7).status) == (ItemStatus.PASS, ItemStatus.PASS)
    assert "ops/grafana/bots.json#Decisions" in score.item(6).detail
    assert score.item(7).detail == f"1 alerting rule(s) cover {GUARD}, tiers P1"
    assert [e.ref for e in score.item(7).evidence] == ["ops/prometheus/bots.yml"]
    assert len(score.item(7).evidence[0].digest) == 64
    killswitch = _score(None, tmp_path, bot="risk.killswitch").item(7)
    assert killswitch.detail == "2 alerting rule(s) cover risk.killswitch, tiers P1, P2"
    # a panel naming another bot only, without the variable, does not cover this one
    only = dict(DASHBOARD, templating={"list": []})
    only["panels"] = [
        {
            "title": "KS",
            "targets": [{"expr": 'polytraders_bot_errors_total{bot_id="risk.killswitch"}'}],
        }
    ]
    (grafana / "bots.json").write_text(json.dumps(only))
    assert _score(None, tmp_path).item(6).status is ItemStatus.FAIL
    assert _score(None, tmp_path, bot="risk.killswitch").item(6).status is ItemStatus.PASS
    # broken files and untiered alerts fail, naming the file
    (grafana / "broken.json").write_text("{")
    assert "ops/grafana/broken.json" in _score(None, tmp_path).item(6).detail
    (prometheus / "bots.yml").write_text(RULES.replace("severity: P1", "severity: critical"))
    untiered = _score(None, tmp_path).item(7)
    assert untiered.status is ItemStatus.FAIL
    assert (
        untiered.detail
        == "ops/prometheus/bots.yml#ErrorBudgetBurn: severity 'critical' is not P0, P1 or P2"
    )
    (prometheus / "bots.yml").write_text("groups: [")
    assert "not valid YAML" in _score(None, tmp_path).item(7).detail


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank(list(range(1, 101)), 95) == 95
    assert nearest_rank([5], 95) == 5
    assert (
        nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100], 95)
        == 19
    )
    with pytest.raises(ValueError):
        nearest_rank([], 95)


# ---------------------------------------------------------------- a real paper session

PAPER_DESK = """
seed = 5
[[strategies]]
id = "strat.maker_tight"
[[risk]]
id = "risk.killswitch"
[[risk]]
id = "risk.stalebookguard"
mode = "SHADOW"
[[risk]]
id = "risk.exposureguard"
[[execution]]
id = "exec.smartrouter"
"""


@pytest.fixture(scope="module")
def simulator() -> Iterator[object]:
    from polytraders.commands.live import DESK_BUILDER
    from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
    from tests.venues.polymarket.conftest import throwaway_key

    account = account_for_key(throwaway_key(), builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100)
    with SimClobServer(settings, account) as sim:
        yield sim


@pytest.mark.slow
def test_a_paper_session_is_live_clock_evidence_with_measured_latency(
    tmp_path: Path, simulator: object
) -> None:
    from polytraders.simclob.server import SimClobServer

    assert isinstance(simulator, SimClobServer)
    market_id = next(iter(simulator.exchange.tokens.values())).market_id
    desk = tmp_path / "desk.toml"
    desk.write_text(PAPER_DESK)
    store = tmp_path / "paper.sqlite"
    log = tmp_path / "paper.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "polytraders", "run", "--venue", "polymarket", "--paper",
                "--markets", market_id, "--clob-url", simulator.url,
                "--ws-url", simulator.ws_url + "/ws/market", "--run-id", "paper-runtime",
                "--desk", str(desk), "--store", str(store), "--out", str(tmp_path / "out"),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "POLYMARKET_PRIVATE_KEY": ""},
        )  # fmt: skip

        def shadow_decisions() -> bool:
            assert process.poll() is None, log.read_text()[-3_000:]
            if not store.exists():
                return False
            try:
                with EventStore.open(store, create=False) as reader:
                    return any(
                        e.bot_id == GUARD and e.correlation_id
                        for e in reader.iter_envelopes("paper-runtime")
                    )
            except Exception:  # the session has not created its tables yet
                return False

        try:
            wait_until(shadow_decisions, 90.0, "the shadow guard's first decisions")
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    assert code == 143, log.read_text()[-3_000:]
    with EventStore.open(store, create=False) as reader:
        (run,) = reader.runs()
        assert run.data_source == simulator.ws_url + "/ws/market"
        mine = [e for e in reader.envelopes(run.ref) if e.bot_id == GUARD]
        now_ns = max(e.ts_decided_ns for e in mine) + 1
        score = runtime_score(
            GUARD, ReadinessContext(repo=tmp_path, store=reader, now_ns=now_ns, commit="")
        )
    assert {e.mode.value for e in mine} == {"SHADOW"}
    assert score.item(1).status is ItemStatus.PENDING
    assert score.item(1).detail == "clean shadow telemetry on 1 UTC day(s) of the 7 needed"
    assert score.item(2).status is ItemStatus.PASS
    latencies = [e.latency_ns for e in mine]
    assert any(latency > 0 for latency in latencies)  # measured thread CPU time, not modelled
    p95 = nearest_rank(latencies, 95)
    assert score.item(3).detail.startswith(f"p95 {p95 / 1_000:,.1f} µs")
    assert score.item(3).status is (ItemStatus.PASS if p95 <= 250_000 else ItemStatus.FAIL)
