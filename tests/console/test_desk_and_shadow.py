"""The Desk status and Shadow mode pages over a real store: a paper desk running in this
process shown as it recorded itself; its kill switch tripped and reset by an operator through
the page (the operator checkpoint row and the audit entry name the user; the running desk
applies them), refused to a viewer and without the CSRF token; a shadow comparison's
agreement and divergences shown with both envelopes, and a verdict recorded by a reviewer,
refused to an operator (reviewer ranks above operator in ``ConsoleRole``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient

from polytraders.commands.live import latest_orders
from polytraders.console.app import create_app
from polytraders.console.auth import PasswordCheck
from polytraders.desk.checkpoints import (
    OPERATOR_KINDS,
    RESET_ACTION,
    TRIP_ACTION,
    load_checkpoint,
)
from polytraders.model.agreement import percent_text
from polytraders.store import EventStore
from polytraders.store.console_users import ConsoleRole
from polytraders.store.shadow_comparisons import ACTION_REVIEWED, comparisons, divergence_verdicts
from tests.backtest.shadow_data import STALE
from tests.console.desk_fixtures import (
    PAPER_RUN,
    RunningDesk,
    add_users,
    record_shadow_comparison,
    start_paper_desk,
)
from tests.console.support import CHEAP_HASHER, ORIGIN, Clock, csrf_of, settings, sign_in


@pytest.fixture(scope="module")
def desk_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EventStore, str]]:
    """One store for the module: the users and a shadow comparison."""
    url = str(tmp_path_factory.mktemp("console-desk") / "desk.sqlite")
    with EventStore.open(url) as store:
        add_users(store)
        comparison_id = record_shadow_comparison(store)
        yield store, comparison_id


@pytest.fixture(scope="module")
def running(desk_store: tuple[EventStore, str]) -> RunningDesk:
    """The paper desk, RUNNING, a third of its feed processed."""
    store, _ = desk_store
    desk = start_paper_desk(store)
    desk.feed(len(desk.events) // 3)
    store.flush()
    return desk


@pytest.fixture
def console(desk_store: tuple[EventStore, str]) -> Iterator[TestClient]:
    store, _ = desk_store
    app = create_app(
        store, settings(), clock_ns=Clock(), password_check=PasswordCheck(CHEAP_HASHER)
    )
    with TestClient(app, base_url=ORIGIN) as client:
        yield client


def _as(client: TestClient, name: str) -> str:
    client.cookies.clear()
    assert sign_in(client, name).status_code == 303
    return csrf_of(client)


def _post(client: TestClient, path: str, data: dict[str, str]) -> int:
    response = client.post(path, data=data, headers={"Origin": ORIGIN}, follow_redirects=False)
    return response.status_code


def test_a_running_paper_desk_is_shown_as_it_recorded_itself(
    console: TestClient, running: RunningDesk, desk_store: tuple[EventStore, str]
) -> None:
    store, _ = desk_store
    _as(console, "val")
    api = console.get("/api/desk-status").json()
    selected = api["selected"]
    # the newest running desk is shown by default
    assert selected["run"]["ref"] == f"{PAPER_RUN}@1"
    assert (selected["source"], selected["running"]) == ("paper", True)
    assert [d["run"]["ref"] for d in api["desks"]] == [f"{PAPER_RUN}@1"]
    reported = selected["reported"]
    assert reported["trading_state"] == "ACTIVE"
    assert reported["kill_switch"]["tripped"] is False
    restored = load_checkpoint(store, PAPER_RUN)
    assert restored is not None
    assert reported["peak_equity"] == restored.controls.peak_equity > 0
    # open orders: the latest recorded state of each order, still open
    open_now = [o for o in latest_orders(store.orders(PAPER_RUN)) if o.status.is_open]
    assert [o["client_order_id"] for o in selected["open_orders"]] == [
        o.client_order_id for o in open_now
    ]
    # feed: the latest decision of the run
    assert selected["feed"]["sequence"] == store.next_sequence(PAPER_RUN) - 1
    assert selected["pnl"]["fills"] == len(store.fills(PAPER_RUN))
    assert selected["venue"] == {"kind": "paper", "clob_host": "", "last_reconciliation": None}
    bots = {b["bot_id"]: b for b in selected["bots"]}
    assert bots["risk.stalebookguard"]["configured_mode"] == "SHADOW"
    assert bots["risk.killswitch"]["decisions"] > 0
    assert not any(b["quarantined"] for b in selected["bots"])
    assert selected["lease"]["owner_pid"] > 0
    # the page shows the same, each figure with its badge; the live part alone too
    page = console.get("/desk-status")
    assert page.status_code == 200
    assert 'id="trading-state">ACTIVE<' in page.text
    assert '<script src="/static/desk-status.js" defer></script>' in page.text
    assert page.text.count('<span class="badge paper">paper</span>') >= 8
    assert "Tripping or resetting the kill switch needs the operator role." in page.text
    live = console.get(f"/desk-status/live?run={PAPER_RUN}@1")
    assert live.status_code == 200 and 'id="trading-state">ACTIVE<' in live.text
    assert "<html" not in live.text
    script = console.get("/static/desk-status.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert console.get("/api/desk-status?run=nope@1").status_code == 404


def test_an_operator_trips_and_resets_the_running_desk_through_the_page(
    console: TestClient, running: RunningDesk, desk_store: tuple[EventStore, str]
) -> None:
    store, _ = desk_store
    ref = f"{PAPER_RUN}@1"
    # a viewer is refused; an operator without the CSRF token too
    viewer_token = _as(console, "val")
    trip = {"run": ref, "reason": "drill: venue outage"}
    viewer_trip = {**trip, "csrf_token": viewer_token}
    assert _post(console, "/desk-status/kill-switch/trip", viewer_trip) == 403
    token = _as(console, "otto")
    assert _post(console, "/desk-status/kill-switch/trip", trip) == 403
    assert store.checkpoints(PAPER_RUN, kinds=OPERATOR_KINDS) == []
    # the operator trips it: a kill_switch.trip row and its audit entry, both naming otto
    assert _post(console, "/desk-status/kill-switch/trip", {**trip, "csrf_token": token}) == 303
    (row,) = store.checkpoints(PAPER_RUN, kinds=OPERATOR_KINDS)
    assert (row.kind, row.actor) == ("kill_switch.trip", "otto")
    assert json.loads(row.body_json) == {"operator": "otto", "reason": "drill: venue outage"}
    audit = [e for e in store.audit_log(PAPER_RUN) if e.action == TRIP_ACTION]
    assert [(e.actor, json.loads(e.detail)) for e in audit] == [
        ("otto", {"reason": "drill: venue outage"})
    ]
    page = console.get("/desk-status").text
    assert "kill_switch.trip by otto" in page  # pending until the desk polls
    # twice is refused: already tripped (the page reads what the CLI reads)
    assert _post(console, "/desk-status/kill-switch/trip", {**trip, "csrf_token": token}) == 409
    # the running desk applies it at its next poll and reports HALTED, tripped
    running.feed(len(running.events) // 3)
    store.flush()
    reported = console.get("/api/desk-status").json()["selected"]["reported"]
    assert reported["trading_state"] == "HALTED"
    assert reported["kill_switch"]["tripped"] is True
    assert reported["kill_switch"]["source"] == "operator:otto"
    assert console.get("/api/desk-status").json()["selected"]["pending"] == []
    assert "TRIPPED" in console.get("/desk-status/live").text
    # reset: refused without the token, recorded with it; the desk trades again
    reset = {"run": ref, "reason": "drill over", "trading_state": "ACTIVE"}
    assert _post(console, "/desk-status/kill-switch/reset", reset) == 403
    assert _post(console, "/desk-status/kill-switch/reset", {**reset, "csrf_token": token}) == 303
    rows = store.checkpoints(PAPER_RUN, kinds=OPERATOR_KINDS)
    assert [(r.kind, r.actor) for r in rows] == [
        ("kill_switch.trip", "otto"),
        ("kill_switch.reset", "otto"),
    ]
    (entry,) = [e for e in store.audit_log(PAPER_RUN) if e.action == RESET_ACTION]
    assert entry.actor == "otto"
    assert json.loads(entry.detail)["trip_source"] == "operator:otto"
    running.feed(len(running.events))
    store.flush()
    reported = console.get("/api/desk-status").json()["selected"]["reported"]
    assert (reported["trading_state"], reported["kill_switch"]["tripped"]) == ("ACTIVE", False)
    # nothing left to reset
    assert _post(console, "/desk-status/kill-switch/reset", {**reset, "csrf_token": token}) == 409


def test_shadow_agreement_and_divergences_with_both_envelopes(
    console: TestClient, desk_store: tuple[EventStore, str]
) -> None:
    store, comparison_id = desk_store
    _as(console, "val")
    rows = comparisons(store, comparison_id=comparison_id)
    stale = next(r for r in rows if r.bot_id == STALE)
    view = console.get("/api/shadow").json()
    assert view["comparison_id"] == comparison_id and view["source"] == "backtest"
    listed = {r["bot_id"]: r for r in view["rows"]}
    assert set(listed) == {r.bot_id for r in rows}
    shown = listed[STALE]
    assert (shown["compared"], shown["agree_verdict"], shown["kappa"]) == (
        stale.compared,
        stale.agree_verdict,
        stale.kappa,
    )
    assert shown["agreement_pct"] == percent_text(stale.confusion.agreement())
    assert shown["matrix"] == [list(line) for line in stale.confusion.matrix]
    assert shown["unsafe_divergences"] == stale.unsafe_divergences > 0
    assert view["total"] == sum(len(r.divergences) for r in rows)
    first = view["divergences"][0]
    expected = stale.divergences[0]
    assert first["candidate"]["envelope"] == expected.candidate_line
    assert first["baseline"]["envelope"] == expected.baseline_line
    page = console.get(f"/shadow?comparison={comparison_id}&bot={STALE}")
    assert page.status_code == 200
    text = unescape(page.text)
    assert expected.candidate_line in text and expected.baseline_line in text
    assert f"{stale.agree_verdict:,} = {shown['agreement_pct']}" in text
    assert "Recording a verdict needs the reviewer role." in text
    assert 'action="/shadow/review"' not in text
    paged = console.get(f"/api/shadow?comparison={comparison_id}&offset=1&limit=2").json()
    assert [d["candidate"]["envelope_id"] for d in paged["divergences"]] == [
        d["candidate"]["envelope_id"] for d in view["divergences"][1:3]
    ]
    assert console.get("/api/shadow?comparison=sc-nope").status_code == 404


def test_a_reviewer_records_a_verdict_an_operator_may_not(
    console: TestClient, desk_store: tuple[EventStore, str]
) -> None:
    store, comparison_id = desk_store
    assert ConsoleRole.REVIEWER.allows(ConsoleRole.OPERATOR)
    assert not ConsoleRole.OPERATOR.allows(ConsoleRole.REVIEWER)
    divergence = next(
        d for r in comparisons(store, comparison_id=comparison_id) for d in r.divergences
    )
    form = {
        "comparison_id": comparison_id,
        "envelope_id": divergence.envelope_id,
        "verdict": "correct",
        "note": "looser guard is acceptable here",
    }
    operator_token = _as(console, "otto")
    assert _post(console, "/shadow/review", {**form, "csrf_token": operator_token}) == 403
    token = _as(console, "rita")
    assert _post(console, "/shadow/review", form) == 403  # no CSRF token
    assert divergence_verdicts(store, [comparison_id]) == {}
    page = console.get(f"/shadow?comparison={comparison_id}").text
    assert 'action="/shadow/review"' in page
    response = console.post(
        "/shadow/review",
        data={**form, "csrf_token": token},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/shadow?comparison={comparison_id}")
    verdicts = divergence_verdicts(store, [comparison_id])
    (judged,) = verdicts[(comparison_id, *divergence.key)].values()
    assert (judged.reviewer, judged.verdict.value, judged.note) == (
        "rita",
        "correct",
        "looser guard is acceptable here",
    )
    (entry,) = [e for e in store.audit_log() if e.action == ACTION_REVIEWED]
    assert entry.actor == "rita"
    assert json.loads(entry.detail)["envelope_id"] == divergence.envelope_id
    shown = console.get("/api/shadow").json()
    first = next(
        d for d in shown["divergences"] if d["candidate"]["envelope_id"] == divergence.envelope_id
    )
    assert first["verdicts"][0]["reviewer"] == "rita"
    assert sum(r["reviewed"] for r in shown["rows"]) == 1
    # a verdict that is not correct/incorrect, or an unknown divergence: refused, one line
    bad = {**form, "verdict": "maybe", "csrf_token": token}
    assert _post(console, "/shadow/review", bad) == 422
    unknown = {**form, "envelope_id": "e-nope", "csrf_token": token}
    assert _post(console, "/shadow/review", unknown) == 422
