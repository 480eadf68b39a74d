"""Every registered page over real recorded runs: its purpose shown, reason codes searched
and counted per source, runs listed and filtered, a run opened with its integrity and its
decisions paged and filtered; the JSON API returns the same and is in the OpenAPI schema."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from polytraders.console.pages import PAGES
from polytraders.console.queries import ConsoleData
from polytraders.console.sources import Source, run_source
from polytraders.contracts.reasons import load_registry
from polytraders.store import EventStore
from tests.console.support import Recorded, settings, sign_in


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    assert sign_in(client, "ada").status_code == 303
    return client


def _path(path: str, recorded: Recorded) -> str:
    return path.replace("{ref}", recorded.refs["backtest"])


def test_every_registered_page_shows_its_purpose(admin: TestClient, recorded: Recorded) -> None:
    assert len({p.page_id for p in PAGES}) == len(PAGES)
    for page in sorted(PAGES, key=lambda p: p.role is None):  # the sign-in page last
        if page.role is None:
            admin.cookies.clear()
        response = admin.get(_path(page.path, recorded))
        assert response.status_code == 200, page.page_id
        text = response.text
        assert "What this page is for" in text
        assert "When to use it" in text
        assert escape(page.purpose) in text, page.page_id
        assert escape(page.when_to_use) in text, page.page_id
        assert f"<h1>{escape(page.title)}</h1>" in text
    pages = {p["page_id"]: p for p in sign_in_api(admin)}
    assert set(pages) == {p.page_id for p in PAGES}


def sign_in_api(client: TestClient) -> list[dict[str, str]]:
    sign_in(client, "ada")
    listed: list[dict[str, str]] = client.get("/api/pages").json()
    return listed


def test_home_lists_the_pages_the_role_may_open(client: TestClient) -> None:
    sign_in(client, "val")
    home = client.get("/").text
    assert 'href="/reason-codes"' in home
    assert 'href="/runs"' in home
    assert 'href="/users"' not in home  # admin only
    client.cookies.clear()
    sign_in(client, "ada")
    assert 'href="/users"' in client.get("/").text


def test_pages_carry_no_external_reference(admin: TestClient, recorded: Recorded) -> None:
    css = admin.get("/static/console.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    for page in PAGES:
        text = admin.get(_path(page.path, recorded)).text
        assert "http://" not in text.replace("http://testserver", "")
        assert "https://" not in text
        # the only scripts are the console's own files (the desk-status page's poller)
        assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", text))
    headers = admin.get("/").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_sources_of_the_recorded_runs(store: EventStore, recorded: Recorded) -> None:
    by_ref = {str(r.ref): r for r in store.runs()}
    sources = {name: run_source(by_ref[ref]) for name, ref in recorded.refs.items()}
    assert sources == {
        "backtest": Source.BACKTEST,
        "synthetic": Source.SYNTHETIC,
        "paper": Source.PAPER,
        "live": Source.LIVE,
        "simulated": Source.SIMULATOR,  # a CLOB on loopback: never counted as live
    }
    # a --shadow session's candidate desk records as <run id>-candidate
    paper = by_ref[recorded.refs["paper"]]
    candidate = type(paper)(
        **{**{f: getattr(paper, f) for f in paper.__struct_fields__}, "run_id": "run-x-candidate"}
    )
    assert run_source(candidate) is Source.SHADOW


def test_runs_list_and_filters(admin: TestClient, recorded: Recorded) -> None:
    listed = admin.get("/api/runs").json()
    assert {r["ref"] for r in listed} == set(recorded.refs.values())
    assert [r["started_wall_ns"] for r in listed] == sorted(
        (r["started_wall_ns"] for r in listed), reverse=True
    )
    live = admin.get("/api/runs", params={"source": "live"}).json()
    assert [r["ref"] for r in live] == [recorded.refs["live"]]
    completed = admin.get("/api/runs", params={"status": "COMPLETED"}).json()
    assert len(completed) == len(listed)
    assert admin.get("/api/runs", params={"status": "FAILED"}).json() == []
    page = admin.get("/runs", params={"source": "backtest"}).text
    assert recorded.refs["backtest"] in page
    assert recorded.refs["paper"] not in page
    assert '<span class="badge backtest">backtest</span>' in page
    assert '<span class="badge simulator">simulator</span>' in admin.get("/runs").text
    assert admin.get("/api/runs", params={"source": "demo"}).status_code == 422
    # the pages' filter forms send "" for "any"
    assert admin.get("/runs", params={"status": "", "source": ""}).status_code == 200
    refused = admin.get("/runs", params={"source": "demo"})
    assert refused.status_code == 422
    assert "source must be one of synthetic, backtest, paper, shadow, live, simulator" in (
        refused.text
    )


def test_a_run_with_its_integrity_counts_and_envelope_pages(
    admin: TestClient, store: EventStore, recorded: Recorded
) -> None:
    ref = recorded.refs["backtest"]
    detail = admin.get(f"/api/runs/{ref}").json()
    assert detail["sound"] is True
    assert detail["integrity_problems"] == []
    assert detail["counts"]["envelopes"] == store.counts(ref).envelopes == 64_720
    assert detail["run"]["source"] == "backtest"
    # keyset pages cover every envelope once, in order
    first = admin.get(f"/api/runs/{ref}/envelopes", params={"limit": 500}).json()
    assert [e["sequence"] for e in first["items"]] == list(range(500))
    assert first["next_after"] == 499
    second = admin.get(
        f"/api/runs/{ref}/envelopes", params={"limit": 500, "after": first["next_after"]}
    ).json()
    assert second["items"][0]["sequence"] == 500
    expected = list(store.envelopes(ref))
    assert [e["envelope_id"] for e in second["items"]] == [
        e.envelope_id for e in expected[500:1000]
    ]
    assert admin.get(f"/api/runs/{ref}/envelopes", params={"limit": 501}).status_code == 422
    # filters: bot, decision, reason code (exact, "_" is not a wildcard)
    rejects = [e for e in expected if e.bot_id == "risk.stalebookguard" and e.decision == "REJECT"]
    got = admin.get(
        f"/api/runs/{ref}/envelopes",
        params={"bot": "risk.stalebookguard", "decision": "REJECT", "limit": 500},
    ).json()
    assert [e["sequence"] for e in got["items"]] == [e.sequence for e in rejects][:500]
    code = max(
        {c for e in expected for c in e.reason_codes},
        key=lambda c: sum(c in e.reason_codes for e in expected),
    )
    carrying = [e.sequence for e in expected if code in e.reason_codes]
    sequences: list[int] = []
    after = -1
    while True:
        page = admin.get(
            f"/api/runs/{ref}/envelopes", params={"code": code, "after": after, "limit": 500}
        ).json()
        sequences += [e["sequence"] for e in page["items"]]
        assert all(code in e["reason_codes"] for e in page["items"])
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert sequences == carrying
    wildcard = code.replace("_", "X", 1)
    assert admin.get(f"/api/runs/{ref}/envelopes", params={"code": wildcard}).json()["items"] == []
    # the page shows the same
    html_page = admin.get(f"/runs/{ref}", params={"code": code}).text
    assert "sound" in html_page
    assert "64,720 decisions" in html_page
    assert f"<td>{carrying[0]}</td>" in html_page
    assert "Next page" in html_page
    assert admin.get("/runs/run-0000000000000000@1").status_code == 404
    assert admin.get("/api/runs/run-0000000000000000@1").status_code == 404
    assert admin.get("/api/runs/not a ref@x").status_code == 404


def test_reason_codes_search_and_counts_per_source(
    admin: TestClient, store: EventStore, recorded: Recorded
) -> None:
    registry = load_registry()
    everything = admin.get("/api/reason-codes").json()
    assert [c["code"] for c in everything["codes"]] == list(registry)
    assert {r["run"] for r in everything["counted_runs"]} == set(recorded.refs.values())
    # counts agree with the envelopes of each run's counted window (the backtest's last
    # 20,000 of 64,720), per run and per source, never summed across sources
    first = {r["run"]: r["first_sequence"] for r in everything["counted_runs"]}
    assert first[recorded.refs["backtest"]] == 64_720 - 20_000
    windows = {
        run: [e for e in store.envelopes(run) if e.sequence >= start]
        for run, start in first.items()
    }
    for row in everything["codes"]:
        for per_run in row["runs"]:
            envelopes = windows[per_run["run"]]
            assert per_run["count"] == sum(row["code"] in e.reason_codes for e in envelopes)
        for source, count in row["counts"].items():
            assert count == sum(r["count"] for r in row["runs"] if r["source"] == source)
    counted = [row for row in everything["codes"] if row["counts"]]
    assert counted
    assert {s for row in counted for s in row["counts"]} == {
        "backtest",
        "synthetic",
        "paper",
        "live",
        "simulator",
    }
    # search: any case, in code, owner, summary and message
    stale = admin.get("/api/reason-codes", params={"q": "stale BOOK"}).json()["codes"]
    assert stale
    assert all(
        "stale book" in " ".join((c["code"], c["owner"], c["summary"], c["user_message"])).lower()
        for c in stale
    )
    assert admin.get("/reason-codes", params={"q": "", "severity": ""}).status_code == 200
    hard = admin.get("/api/reason-codes", params={"severity": "hard"}).json()["codes"]
    assert {c["severity"] for c in hard} == {"hard"}
    assert len(hard) == sum(1 for c in registry.values() if c.severity.value == "hard")
    assert (
        admin.get("/api/reason-codes", params={"q": "no such words anywhere"}).json()["codes"] == []
    )
    page = admin.get("/reason-codes", params={"q": "GOV_CONSOLE_USER_CHANGED"}).text
    assert "A user of the operator console was added, changed or removed." in page
    assert "1 code(s)." in page
    top = max(counted, key=lambda row: sum(row["counts"].values()))
    page = admin.get("/reason-codes", params={"q": top["code"]}).text
    assert f'href="/runs/{top["runs"][0]["run"].replace("@", "%40")}?code={top["code"]}"' in page


def test_reason_code_counts_cover_only_the_latest_decisions(
    store: EventStore, recorded: Recorded
) -> None:
    data = ConsoleData(store, settings(recent_runs=2, per_run_envelopes=100))
    view = data.reason_codes()
    assert len(view.counted_runs) == 2
    latest = [str(r.ref) for r in store.runs()[-2:]][::-1]
    assert [r.run for r in view.counted_runs] == latest
    for counted in view.counted_runs:
        total = store.counts(counted.run).envelopes
        assert counted.first_sequence == max(0, total - 100)
        assert counted.envelopes_counted == min(total, 100)


def test_the_api_is_described_by_openapi(admin: TestClient) -> None:
    schema = admin.get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/api/me",
        "/api/pages",
        "/api/reason-codes",
        "/api/runs",
        "/api/runs/{ref}",
        "/api/runs/{ref}/envelopes",
        "/api/users",
    } <= paths
    assert all(p.startswith("/api/") for p in paths)
    assert "ReasonCodesView" in schema["components"]["schemas"]
    assert admin.get("/docs").status_code == 404  # no CDN-backed docs page


def test_users_page_shows_no_hash(admin: TestClient) -> None:
    users = admin.get("/api/users").json()
    assert {u["name"] for u in users} >= {"val", "otto", "rita", "ada"}
    assert all(set(u) == {"name", "role", "changed_by", "changed_ns"} for u in users)
    assert "$argon2" not in admin.get("/users").text
