"""The promotion path and the readiness board over a store recorded through the project's own
code (:mod:`tests.console.governed_store`): the phases, counts, next-up candidate, signatures
and activity the pages show are those recorded, each with its time and commit; a bot with
nothing recorded says so; the JSON API returns the same; only signed-in users see them; and
every query either follows an index or stops at a LIMIT (no full scan of a big store)."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from markupsafe import escape

from polytraders.bots.registry import BOTS
from polytraders.console.promotion_path import promotion_path
from polytraders.console.readiness_board import readiness_board
from polytraders.readiness.board_record import recorded_boards
from polytraders.readiness.evidence import Phase, ScoreName
from polytraders.readiness.lifecycle import STAGES, Stage
from polytraders.store import EventStore
from polytraders.store.lease import utc_text
from tests.console.governed_store import EVALUATED_NS, OPERATOR, Governed
from tests.console.support import settings, sign_in
from tests.readiness.governance.history import BOT

OTHER = "risk.compliancegate"


@pytest.fixture
def viewer(governed_client: TestClient) -> TestClient:
    assert sign_in(governed_client, "val").status_code == 303
    return governed_client


@pytest.fixture
def opened(governed: Governed) -> Any:
    with EventStore.open(governed.url, create=False) as store:
        yield store


def test_the_promotion_path_shows_the_recorded_evaluation(
    viewer: TestClient, governed: Governed, opened: EventStore
) -> None:
    view = viewer.get("/api/promotion-path").json()
    # the API and the page read the same function
    assert view == promotion_path(opened, settings()).model_dump(mode="json")
    bots = {b["bot_id"]: b for b in view["bots"]}
    assert list(bots) == list(BOTS)
    mine = bots[BOT]
    results = {r.gate.gate_id: r for r in governed.evaluation.results}
    gates = {g["gate_id"]: g for s in mine["stages"] for g in s["gates"]}
    assert set(gates) == set(results)
    for gate_id, gate in gates.items():
        measured = results[gate_id].measurement
        assert (gate["phase"], gate["value"]) == (measured.phase.value, measured.value), gate_id
        assert gate["evaluation_id"] == governed.evaluation.evaluation_id
        assert (gate["recorded_ns"], gate["commit_sha"]) == (EVALUATED_NS, governed.commit)
        assert gate["evidence_digest"] == results[gate_id].evidence_digest
        assert [e["ref"] for e in gate["evidence"]] == [e.ref for e in measured.evidence]
    passed = sum(1 for r in results.values() if r.measurement.phase is Phase.SUCCESSFUL)
    assert (mine["passed"], mine["total"]) == (passed, 19)
    # the stage reached: each stage's critical gates and every earlier stage's Successful
    open_stages = [
        stage
        for stage in STAGES
        if any(r.blocks for r in governed.evaluation.results if r.gate.stage is stage)
    ]
    first_open = open_stages[0]
    assert mine["reached"] == (
        None if first_open is STAGES[0] else STAGES[first_open.number - 2].value
    )
    assert mine["state"] == governed.steps[-2].to_state.value  # refused at the last step
    to_go = sum(
        1
        for r in governed.evaluation.results
        if r.blocks and r.gate.stage is not None and r.gate.stage.number <= first_open.number
    )
    assert view["next_up"] == {
        "bot_id": BOT,
        "next_stage": first_open.value,
        "gates_to_go": to_go,
    }
    reached_number = 0 if mine["reached"] is None else Stage(mine["reached"]).number
    assert view["stage_counts"] == [
        {"stage": s.value, "bots": int(s.number <= reached_number)} for s in STAGES
    ]
    assert view["bots_evaluated"] == 1
    assert view["not_demo_wired"] == len(BOTS) - int(reached_number > 0)
    assert view["average"] == f"{passed}/19"
    # the signature gates: k of n from the release and the accepted signer list
    signatures = gates["multisig_approval"]["signatures"]
    assert signatures["signers"] == ["ana", "cleo"]
    assert (signatures["signed"], signatures["threshold"]) == (2, 2)
    assert signatures["to_state"] == "general_live"
    assert gates["release_manifest_signed"]["signatures"] == signatures
    assert gates["reviewer_signoff"]["signatures"] is None
    # a bot with nothing recorded
    other = bots[OTHER]
    assert not other["evaluated"] and other["reached"] is None
    assert all(g["phase"] is None for s in other["stages"] for g in s["gates"])
    assert other["hint"] == (
        f"no recorded evaluation: run polytraders gates check {OTHER} --to production-live"
    )

    page = viewer.get("/promotion-path")
    assert page.status_code == 200
    text = page.text
    for wording in (
        "Bot Promotion Path",
        "demo-wired ≠ production-live",
        f"Stage 2 — shadow-ready ({mine['stages'][1]['passed']}/4 gates)",
        "Stage 3 must complete first" if first_open.number < 3 else "Stage 4",
        "Recent promotion activity",
        "Why this matters",
        "2 of 2 signatures",
        f"{passed}/19 gates",
        escape(other["hint"]),
        f'<a href="#{BOT}">{BOT}</a>',  # the next-up candidate
    ):
        assert str(wording) in text, wording
    # every recorded figure names its source: the evaluation's time and commit
    assert text.count(utc_text(EVALUATED_NS)) >= 19
    assert text.count(governed.commit[:12]) >= 19
    assert text.count('class="badge recorded"') >= 19 + len(STAGES) + 2


def test_recent_activity_merges_promotions_and_the_gov_audit_log(
    viewer: TestClient, governed: Governed
) -> None:
    activity = viewer.get("/api/promotion-path").json()["activity"]
    refused = governed.steps[-1].row
    assert {
        "ts_ns": refused.ts_ns,
        "bot_id": BOT,
        "action": f"refused built → shadow: {refused.detail}",
        "actor": OPERATOR,
        "reason_code": "GOV_PROMOTION_REFUSED",
        "recorded_in": "promotions",
    } in activity
    by_code = {(a["reason_code"], a["recorded_in"]) for a in activity}
    assert ("GOV_PROMOTED", "promotions") in by_code
    assert ("GOV_PROMOTED", "audit log") not in by_code  # the row's audit twin, listed once
    assert ("GOV_GATES_CHECKED", "audit log") in by_code
    assert ("GOV_READINESS_RECORDED", "audit log") in by_code
    assert not any(a["reason_code"].startswith("GOV_GATE_") for a in activity)  # per gate
    assert [a["ts_ns"] for a in activity] == sorted((a["ts_ns"] for a in activity), reverse=True)
    text = viewer.get("/promotion-path").text
    assert "refused built → shadow" in text
    assert (
        '<a href="/reason-codes?q=GOV_PROMOTION_REFUSED"><code>GOV_PROMOTION_REFUSED</code>' in text
    )


def test_the_readiness_board_shows_the_recorded_scores(
    viewer: TestClient, governed: Governed, opened: EventStore
) -> None:
    view = viewer.get("/api/readiness").json()
    assert view == readiness_board(opened, settings()).model_dump(mode="json")
    rows = {r["bot_id"]: r for r in view["rows"]}
    assert list(rows) == list(BOTS)
    assert view["bots_recorded"] == 1
    recorded = recorded_boards(opened, window=1_000)[BOT]
    mine = rows[BOT]
    assert (mine["computed_ns"], mine["commit"], mine["actor"]) == (
        EVALUATED_NS,
        governed.commit,
        OPERATOR,
    )
    assert [(s["name"], s["passed"], s["out_of"]) for s in mine["scores"]] == [
        (name.value, recorded.scores[name].passed, recorded.scores[name].out_of)
        for name in ScoreName
    ]
    assert [s["out_of"] for s in mine["scores"]] == [27, 15, 8, 4]
    failing = [(s["name"], i) for s in mine["scores"] for i in s["not_passing"]]
    assert failing, "the synthetic history leaves Runtime items open"
    assert all(i["status"] in ("FAIL", "PENDING") for _, i in failing)
    assert mine["done"] is (not failing)
    assert rows[OTHER] == {
        "bot_id": OTHER,
        "bot_class": "risk",
        "recorded": False,
        "computed_ns": None,
        "commit": "",
        "actor": "",
        "done": False,
        "scores": [],
        "hint": f"no recorded board: run polytraders readiness {OTHER} --record",
    }
    text = viewer.get("/readiness").text
    for _, item in failing:
        assert str(escape(item["detail"])) in text
    assert f"computed {utc_text(EVALUATED_NS)} at commit <code>{governed.commit}</code>" in text
    assert escape(rows[OTHER]["hint"]) in text


def test_figures_outside_the_windows_are_not_shown_as_current(
    governed: Governed, opened: EventStore
) -> None:
    narrow = settings(gate_rows_per_bot=3, audit_window=1)
    mine = next(b for b in promotion_path(opened, narrow).bots if b.bot_id == BOT)
    shown = [g for s in mine.stages for g in s.gates if g.phase is not None]
    assert len(shown) <= 3
    assert all(g.recorded_ns == EVALUATED_NS for g in shown)
    assert sum(1 for s in mine.stages for g in s.gates if g.recorded_ns is None) >= 16
    board = readiness_board(opened, narrow)
    assert board.bots_recorded == 0  # the board lies before the newest audit entry


def test_viewers_see_the_pages_and_anonymous_visitors_are_sent_to_sign_in(
    governed_client: TestClient,
) -> None:
    for path in ("/promotion-path", "/readiness"):
        response = governed_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
        assert governed_client.get(f"/api{path}").status_code == 401
    sign_in(governed_client, "val")
    for path in ("/promotion-path", "/readiness", "/api/promotion-path", "/api/readiness"):
        assert governed_client.get(path).status_code == 200, path
    schema = governed_client.get("/api/openapi.json").json()
    assert {"/api/promotion-path", "/api/readiness"} <= set(schema["paths"])


def test_every_query_of_the_pages_follows_an_index_or_stops_at_a_limit(
    governed: Governed, opened: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued: list[sa.Select[Any]] = []
    select = opened.select

    def recording(query: sa.Select[Any]) -> list[sa.Row[Any]]:
        issued.append(query)
        return select(query)

    monkeypatch.setattr(opened, "select", recording)
    promotion_path(opened, settings())
    readiness_board(opened, settings())
    assert len(issued) >= 3 * len(BOTS)
    database = sqlite3.connect(governed.url)
    dialect = sa.create_engine("sqlite://").dialect
    try:
        for query in issued:
            sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            plan = [row[3] for row in database.execute(f"EXPLAIN QUERY PLAN {sql}")]
            full_scans = [step for step in plan if re.match(r"SCAN \w+$", step)]
            # a bare SCAN is allowed only where a LIMIT stops it along the primary key
            assert not full_scans or " LIMIT " in sql, (sql, plan)
    finally:
        database.close()
