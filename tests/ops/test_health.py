"""``/healthz`` and ``/readyz`` on a desk's metrics server: real HTTP requests against a
running server whose checks the test controls, and the live session's three checks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from polytraders.commands.live import FEED_MAX_AGE_S, HEARTBEAT_MAX_AGE_S, register_readiness
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.ops.health import Check, MetricsServer
from polytraders.ops.metrics import DeskMetrics
from polytraders.store import EventStore, schema
from polytraders.store.errors import StoreWriteError

NOW_NS = 1_800_000_000 * 1_000_000_000


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served() -> Iterator[tuple[DeskMetrics, MetricsServer]]:
    metrics = DeskMetrics()
    server = metrics.serve(0)
    try:
        yield metrics, server
    finally:
        server.close()


def test_liveness_readiness_and_metrics_on_one_port(
    served: tuple[DeskMetrics, MetricsServer],
) -> None:
    metrics, server = served
    status, body = _get(server.port, "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "alive"})
    # before the desk registers its checks it is not ready (fail closed)
    status, body = _get(server.port, "/readyz")
    assert status == 503
    assert json.loads(body)["failed"] == ["started"]
    store_ok = {"value": True}
    metrics.health.register("feed", lambda: Check(ok=True, detail="fresh"))
    metrics.health.register(
        "store", lambda: Check(ok=store_ok["value"], detail="ok" if store_ok["value"] else "down")
    )
    status, body = _get(server.port, "/readyz")
    assert status == 200
    assert json.loads(body) == {
        "ready": True,
        "failed": [],
        "checks": {
            "feed": {"ok": True, "detail": "fresh"},
            "store": {"ok": True, "detail": "ok"},
        },
    }
    store_ok["value"] = False
    status, body = _get(server.port, "/readyz")
    assert status == 503
    answer = json.loads(body)
    assert (answer["ready"], answer["failed"]) == (False, ["store"])
    assert answer["checks"]["store"] == {"ok": False, "detail": "down"}

    def broken() -> Check:
        raise RuntimeError("cannot tell")

    store_ok["value"] = True
    metrics.health.register("venue", broken)
    status, body = _get(server.port, "/readyz")
    assert status == 503
    assert json.loads(body)["checks"]["venue"] == {
        "ok": False,
        "detail": "RuntimeError: cannot tell",
    }
    status, body = _get(server.port, "/metrics")
    assert status == 200
    assert b"polytraders_store_write_failures_total" in body


def _session(store: EventStore | None, *, worker: Any = None) -> Any:
    """The parts of a LiveSession the readiness checks read."""
    return SimpleNamespace(
        desk=SimpleNamespace(
            state=SimpleNamespace(last_feed_event_ns=0, last_venue_heartbeat_ns=0)
        ),
        market_feed=SimpleNamespace(error=None),
        worker=worker,
        recording=SimpleNamespace(store=store),
    )


def test_the_live_sessions_checks_over_http(
    served: tuple[DeskMetrics, MetricsServer], tmp_path: Path
) -> None:
    metrics, server = served
    store = EventStore.open(tmp_path / "events.sqlite")
    worker = SimpleNamespace(failure="")
    session = _session(store, worker=worker)
    clock = {"now": NOW_NS}
    register_readiness(metrics.health, session, wall_clock_ns=lambda: clock["now"])

    def readyz() -> tuple[int, dict[str, Any]]:
        status, body = _get(server.port, "/readyz")
        return status, json.loads(body)

    status, body = readyz()
    assert status == 503
    assert body["failed"] == ["feed", "venue"]
    assert body["checks"]["feed"]["detail"] == "no market event received yet"
    assert body["checks"]["store"]["ok"] is True

    state = session.desk.state
    state.last_feed_event_ns = NOW_NS - FEED_MAX_AGE_S * 1_000_000_000
    state.last_venue_heartbeat_ns = NOW_NS - 2_000_000_000
    status, body = readyz()
    assert (status, body["failed"]) == (200, [])
    assert body["checks"]["venue"]["detail"] == (
        f"last heartbeat accepted 2.0 s ago (limit {HEARTBEAT_MAX_AGE_S} s)"
    )

    clock["now"] += 1_000_000  # the feed's last event is now just over the limit
    status, body = readyz()
    assert (status, body["failed"]) == (503, ["feed"])

    state.last_feed_event_ns = clock["now"]
    with pytest.raises(StoreWriteError):  # a real failed write: a duplicate primary key
        store.append_rows(schema.store_meta, [{"key": "schema_version", "value": "0"}], what="dup")
    assert store.write_failures == 1
    worker.failure = "SYS_VENUE_WORKER_FAILED: boom"
    status, body = readyz()
    assert (status, body["failed"]) == (503, ["store", "venue"])
    assert body["checks"]["store"]["detail"] == "the last write failed (1 failure(s))"
    assert body["checks"]["venue"]["detail"] == "venue worker failed: SYS_VENUE_WORKER_FAILED: boom"
    # the next flush that commits makes the store writable again
    run = store.start_run(
        run_id="run-health",
        started_ns=NOW_NS,
        seed=0,
        desk_config={},
        desk_config_version="c0",
        data_source="test",
        synthetic=True,
    )
    store.record(
        ReportEnvelope(
            envelope_id=f"{run.run_id}/e0",
            run_id=run.run_id,
            sequence=0,
            ts_event_ns=NOW_NS,
            ts_decided_ns=NOW_NS,
            bot_id="risk.killswitch",
            bot_class=BotClass.RISK,
            bot_version="0.1.0",
            config_version="c0",
            mode=Mode.ENFORCED,
            decision=Decision.APPROVE,
            latency_ns=1_000,
        )
    )
    store.flush()
    worker.failure = ""
    status, body = readyz()
    assert (status, body["failed"]) == (200, [])
    assert body["checks"]["store"]["detail"] == "writable (1 failure(s))"
    store.close()


def test_a_paper_session_without_a_store_needs_only_a_fresh_feed(
    served: tuple[DeskMetrics, MetricsServer],
) -> None:
    metrics, server = served
    session = _session(None)
    session.desk.state.last_feed_event_ns = NOW_NS
    register_readiness(metrics.health, session, wall_clock_ns=lambda: NOW_NS)
    status, body = _get(server.port, "/readyz")
    checks = json.loads(body)["checks"]
    assert status == 200
    assert checks["venue"]["detail"] == "paper venue (in process)"
    assert checks["store"]["detail"] == "not recording to a store"
    session.market_feed.error = ConnectionError("closed")
    status, body = _get(server.port, "/readyz")
    assert (status, json.loads(body)["failed"]) == (503, ["feed"])
