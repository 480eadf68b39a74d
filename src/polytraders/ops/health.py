"""The metrics server of a running desk: ``/metrics`` (Prometheus text format), ``/healthz``
and ``/readyz`` on one loopback port (issue 19 item 6).

- ``/healthz``: 200 ``{"status": "alive"}`` while the process serves (liveness: nothing is
  checked but that the server thread answers).
- ``/readyz``: every registered check run now; 200 when all pass, else 503. The body is JSON:
  ``{"ready": bool, "failed": [names], "checks": {name: {"ok": bool, "detail": str}}}``. With no
  check registered yet (the desk is still starting) it is 503 with ``failed == ["started"]``:
  readiness fails closed. A check that raises fails, its exception as the detail.
- anything else: ``/metrics`` (prometheus-client's WSGI app, which also serves ``/``).

Checks are callables returning :class:`Check`; the live session registers ``feed``, ``venue``
and ``store`` (:mod:`polytraders.commands.live`). They run on the server's threads, so they
must only read values the desk loop writes (ints, flags), never call into the desk.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import msgspec
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Check(msgspec.Struct, frozen=True):
    """One readiness check's verdict: ``ok`` and a one-line ``detail``."""

    ok: bool
    detail: str


class HealthChecks:
    """The named readiness checks of a desk (thread-safe registration)."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], Check]] = {}
        self._lock = threading.Lock()

    def register(self, name: str, check: Callable[[], Check]) -> None:
        """Add (or replace) the check ``name``."""
        with self._lock:
            self._checks[name] = check

    def run(self) -> dict[str, Check]:
        """Every check's verdict now, by name (``started`` failing when none is registered)."""
        with self._lock:
            checks = dict(self._checks)
        if not checks:
            return {"started": Check(ok=False, detail="the desk has not registered its checks")}
        verdicts: dict[str, Check] = {}
        for name, check in sorted(checks.items()):
            try:
                verdicts[name] = check()
            except Exception as exc:  # a broken check is a failed check, never a pass
                verdicts[name] = Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
        return verdicts


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body, sort_keys=True).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def health_app(registry: CollectorRegistry, checks: HealthChecks) -> WsgiApp:
    """The WSGI app serving ``/healthz``, ``/readyz`` and the registry's metrics."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "alive"})
        if path == "/readyz":
            verdicts = checks.run()
            failed = [name for name, v in verdicts.items() if not v.ok]
            body = {
                "ready": not failed,
                "failed": failed,
                "checks": {n: {"ok": v.ok, "detail": v.detail} for n, v in verdicts.items()},
            }
            status = "503 Service Unavailable" if failed else "200 OK"
            return _json(start_response, status, body)
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (a scrape every few seconds)."""


class MetricsServer:
    """``app`` served on ``addr:port`` from a daemon thread.

    Raises:
        OSError: the port cannot be bound.
    """

    def __init__(self, app: WsgiApp, port: int, addr: str = "127.0.0.1") -> None:
        self._server = make_server(
            addr, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.port: int = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-server", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
