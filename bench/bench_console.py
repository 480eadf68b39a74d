"""Console benchmark: p50/p95 time of every console page over a store of one million envelopes.

The store (a SQLite file in a temporary directory) holds real recorded evidence, replicated:

- a backtest of the shipped Polymarket sample (:data:`bench.data.POLYMARKET_SAMPLE`, the
  default desk, 64,720 envelopes with their orders and fills) through
  :func:`polytraders.backtest.engine.run_desk`;
- copies of that run until the store holds at least :data:`TARGET_ENVELOPES` envelopes: each a
  new run (``start_run``, the run id and envelope ids re-derived, every other field, order
  state and fill as recorded, through the store's batched writers, ``end_run`` with the counts
  produced); every other copy is recorded as a paper session (the market channel's URL as its
  data source) so the Desk status page has large desks to show;
- one shadow comparison of the default desk against the stale-book guard loosened to 30 s on
  the sample (:func:`polytraders.backtest.shadow_compare.compare_desks`, decisions only),
  recorded as ``polytraders shadow compare --record`` records it;
- an admin console user (a cheap argon2 cost: signing in is not what is measured).

Every registered page (:data:`polytraders.console.pages.PAGES`) and its main variants is then
requested in process through FastAPI's ``TestClient`` by the signed-in admin: the first request
of each is timed on its own (``cold``: e.g. a run's integrity check, computed once per process),
then :data:`WARMUPS` untimed and :data:`REPEATS` timed requests give p50 and p95 in ms. Goal
(issue 17): p95 < :data:`GOAL_P95_MS` ms per page; the figure says PASS or FAIL, nothing asserts.

Promotion path and readiness board read only the governance tables, which this store leaves
nearly empty: their cost is bounded by the console's settings (``gate_rows_per_bot``,
``audit_window``), not by the envelopes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import msgspec
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from bench.data import POLYMARKET_SAMPLE
from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.backtest.shadow_compare import compare_desks, record
from polytraders.console.app import create_app
from polytraders.console.auth import PasswordCheck, hash_password
from polytraders.console.pages import PAGES
from polytraders.console.session import LOGIN_COOKIE
from polytraders.console.settings import ConsoleSettings
from polytraders.contracts import ids
from polytraders.contracts.envelope import ReportEnvelope
from polytraders.store import EventStore, RunProduced, RunRecord
from polytraders.store.console_users import ConsoleRole, add_user

DESCRIPTION = "operator console: p50/p95 page time on a 1M-envelope store"

TARGET_ENVELOPES = 1_000_000
WARMUPS = 3
REPEATS = 30
GOAL_P95_MS = 200.0
PAPER_SOURCE = "ws://127.0.0.1:8765/ws/market"
"""The data source a paper session records (the market channel of a local simulator)."""

ADMIN = "bench"
PASSWORD = "bench console password"
ORIGIN = "http://testserver"
STALE_GUARD = "risk.stalebookguard"


class Filled(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`fill` recorded: the original run, a paper copy, the comparison and the
    envelope total."""

    backtest: str
    paper: str
    comparison_id: str
    envelopes: int
    runs: int
    fill_s: float


def _loosened_desk() -> DeskFile:
    """The default desk with the stale-book guard accepting books up to 30 s old."""
    data = DeskFile().model_dump(mode="json")
    data["risk"] = [
        {**entry, "config": {"max_book_age_ms": 30_000}} if entry["id"] == STALE_GUARD else entry
        for entry in data["risk"]
    ]
    return DeskFile.from_mapping(data)


def _copy(store: EventStore, source: RunRecord, envelopes: list[ReportEnvelope], k: int) -> str:
    """Record copy ``k`` of ``source`` (module docstring); its ``RUN_ID@N`` reference."""
    run_id = ids.run_id("bench_console", source.run_id[:24], k)
    paper = k % 2 == 1
    ref = store.start_run(
        run_id=run_id,
        started_ns=source.started_ns,
        seed=source.seed,
        desk_config=source.desk_config_json,
        desk_config_version=source.desk_config_version,
        data_source=PAPER_SOURCE if paper else source.data_source,
        synthetic=source.synthetic,
    ).ref
    for envelope in envelopes:
        store.record(
            msgspec.structs.replace(
                envelope, run_id=run_id, envelope_id=ids.envelope_id(run_id, envelope.sequence)
            )
        )
    orders = store.orders(source.ref)
    fills = store.fills(source.ref)
    for order in orders:
        store.append_order(ref, order)
    for fill_ in fills:
        store.append_fill(ref, fill_)
    store.end_run(
        ref,
        ended_ns=source.ended_ns or source.started_ns,
        produced=RunProduced(envelopes=len(envelopes), orders=len(orders), fills=len(fills)),
    )
    return str(ref)


def fill(path: Path, *, data: str | Path, target_envelopes: int) -> Filled:
    """Record the module docstring's store at ``path`` from ``data`` (the sample, or a small
    feed for a smoke run) with at least ``target_envelopes`` envelopes."""
    started = time.perf_counter()
    url = str(path)
    outcome = run_desk(data=data, desk_file=DeskFile(), store_url=url, fill_bounds=False)
    comparison = compare_desks(
        data=data, baseline=DeskFile(), candidate=_loosened_desk(), parity=False
    )
    with EventStore.open(url, batch_size=20_000) as store:
        source = store.run(f"{outcome.result.run_id}@1")
        assert source is not None
        envelopes = store.envelopes(source.ref)
        total, k, paper = len(envelopes), 0, ""
        while total < target_envelopes or not paper:
            k += 1
            ref = _copy(store, source, envelopes, k)
            paper = paper or (ref if k % 2 == 1 else "")
            total += len(envelopes)
        record(comparison, store, actor=ADMIN)
        add_user(
            store,
            name=ADMIN,
            role=ConsoleRole.ADMIN,
            password_hash=hash_password(PASSWORD, _hasher()),
            actor=ADMIN,
            ts_ns=time.time_ns(),
        )
        comparison_id = comparison.comparison_id
    return Filled(
        backtest=str(source.ref),
        paper=paper,
        comparison_id=comparison_id,
        envelopes=total,
        runs=k + 1,
        fill_s=round(time.perf_counter() - started, 1),
    )


def _hasher() -> PasswordHasher:
    """argon2id at a low cost (the cost lives in each hash)."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def requests(filled: Filled, store: EventStore) -> dict[str, str]:
    """Name → path of every page and its main variants (every registered page at least once).

    Raises:
        RuntimeError: a registered page has no request here (the list is out of date).
    """
    envelopes = store.envelopes(filled.backtest)
    last = envelopes[-1]
    coded = next(e for e in reversed(envelopes) if e.reason_codes)
    later = envelopes[len(envelopes) * 3 // 4].sequence
    run = filled.backtest
    paths = {
        "login": "/login",  # requested without a session (signed in, it redirects)
        "home": "/",
        "reason-codes": "/reason-codes",
        "reason-codes?q": f"/reason-codes?q={coded.reason_codes[0].lower()[:6]}",
        "runs": "/runs",
        "runs?source=paper": "/runs?source=paper",
        "run": f"/runs/{run}",
        "run?bot&decision": f"/runs/{run}?bot={last.bot_id}&decision={last.decision.value}",
        "run?code": f"/runs/{run}?code={coded.reason_codes[0]}",
        "run?after (later page)": f"/runs/{run}?after={later}&limit=200",
        "users": "/users",
        "promotion-path": "/promotion-path",
        "readiness": "/readiness",
        "shadow": "/shadow",
        "shadow?comparison&offset": f"/shadow?comparison={filled.comparison_id}&offset=50",
        "desk-status": "/desk-status",
        "desk-status?run": f"/desk-status?run={filled.paper}",
        "desk-status/live": f"/desk-status/live?run={filled.paper}",
    }
    missing = {p.page_id for p in PAGES} - {name.split("?")[0] for name in paths}
    if missing:
        raise RuntimeError(f"bench_console requests no path of page(s) {sorted(missing)}")
    return paths


def _sign_in(client: TestClient) -> None:
    form = client.get("/login")
    marker = 'name="login_token" value="'
    start = form.text.index(marker) + len(marker)
    token = form.text[start : form.text.index('"', start)]
    if LOGIN_COOKIE not in client.cookies:
        raise RuntimeError("the sign-in form set no cookie")
    response = client.post(
        "/login",
        data={"name": ADMIN, "password": PASSWORD, "login_token": token, "next": "/"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in refused: {response.status_code}")


def _timed(client: TestClient, path: str) -> float:
    """One GET of ``path`` in ms (a redirect is not followed).

    Raises:
        RuntimeError: the page answered neither 200 nor 303.
    """
    started = time.perf_counter()
    response = client.get(path, follow_redirects=False)
    elapsed_ms = (time.perf_counter() - started) * 1_000
    if response.status_code not in (200, 303):
        raise RuntimeError(f"{path}: HTTP {response.status_code}")
    return elapsed_ms


def measure(
    url: str, filled: Filled, *, warmups: int = WARMUPS, repeats: int = REPEATS
) -> dict[str, dict[str, float]]:
    """Per request name: ``cold`` (the first request), ``p50`` and ``p95`` in ms."""
    settings = ConsoleSettings(
        secret=b"b" * 32, secret_source="env", secure_cookies=False, allowed_hosts=("testserver",)
    )
    results: dict[str, dict[str, float]] = {}
    with EventStore.open(url, create=False) as store:
        app = create_app(store, settings, password_check=PasswordCheck(_hasher()))
        with (
            TestClient(app, base_url=ORIGIN) as client,
            TestClient(app, base_url=ORIGIN) as anonymous,
        ):
            _sign_in(client)
            for name, path in requests(filled, store).items():
                who = anonymous if name == "login" else client
                cold = _timed(who, path)
                for _ in range(warmups):
                    _timed(who, path)
                times = sorted(_timed(who, path) for _ in range(repeats))
                results[name] = {
                    "cold": cold,
                    "p50": statistics.median(times),
                    "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
                }
    return results


def run(quick: bool = False) -> dict[str, float | int | str]:
    repeats = 10 if quick else REPEATS
    figures: dict[str, float | int | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "console.sqlite"
        filled = fill(path, data=POLYMARKET_SAMPLE, target_envelopes=TARGET_ENVELOPES)
        figures["store_envelopes"] = filled.envelopes
        figures["store_runs"] = filled.runs
        figures["store_fill_s"] = filled.fill_s
        figures["store_mib"] = round(path.stat().st_size / 2**20, 1)
        figures["goal_p95_ms"] = GOAL_P95_MS
        for name, t in measure(str(path), filled, repeats=repeats).items():
            verdict = "PASS" if t["p95"] < GOAL_P95_MS else "FAIL"
            figures[name] = (
                f"p50 {t['p50']:7.1f} ms  p95 {t['p95']:7.1f} ms  {verdict}"
                f"  (cold {t['cold']:.0f} ms)"
            )
    return figures
