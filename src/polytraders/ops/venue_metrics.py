"""Prometheus metrics of a live session's venue side, served beside :class:`DeskMetrics`.

:class:`VenueMetrics` registers in the registry of the session's
:class:`~polytraders.ops.metrics.DeskMetrics` (one ``/metrics`` endpoint) and is fed by hooks:

- ``polytraders_venue_request_latency_seconds{endpoint,status}`` (histogram): every CLOB REST
  request, from :attr:`ClobHttpClient.request_observer
  <polytraders.venues.polymarket.client.ClobHttpClient.request_observer>`
  (:meth:`VenueMetrics.observe_request`). ``endpoint`` is the method and the URL path with
  id-like segments replaced by ``{id}`` (:func:`endpoint_label`, e.g. ``GET /markets/{id}``),
  so the label set stays small; ``status`` is the HTTP status, ``0`` when no answer came.
- ``polytraders_venue_heartbeat_age_seconds`` (gauge): wall-clock seconds since the last
  heartbeat the venue accepted, computed when scraped (:meth:`VenueMetrics.heartbeat_accepted`
  records the time); NaN before the first (the paper venue has no heartbeat).
- ``polytraders_venue_ws_reconnects_total{channel}`` (counter): websocket reconnects (every
  successful connect after a connection's first), ``channel`` the URL's last path segment
  (``market``, ``user``), from ``KeepaliveConfig.on_reconnect``
  (:meth:`VenueMetrics.reconnected`).
- ``polytraders_venue_reconciliation_order_drift_micros`` and
  ``polytraders_venue_reconciliation_position_drift_micros`` (gauges, micro-shares),
  ``polytraders_venue_reconciliation_drift_level`` (state set none/ok/warning/critical; NaN
  gauges and ``none`` until the first reconciliation) and
  ``polytraders_venue_reconciliations_total{level}``: the latest reconciliation's drift
  (``polytraders.venues.reconciliation``), from :meth:`VenueMetrics.reconciled`, which every
  reconciliation calls (start-up and periodic, through the live session).

The hooks run on the threads that do the work (the HTTP client's caller, the feeds'
threads); prometheus-client metrics are thread-safe.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

from polytraders.venues.reconciliation import DriftLevel

_REQUEST_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_ID_SEGMENT = re.compile(r"^(0x[0-9a-fA-F]+|[0-9]+|[0-9a-fA-F-]{20,})$")


def endpoint_label(method: str, url: str) -> str:
    """``"METHOD /path"`` of a request with every id-like path segment (0x-hex, all digits, or
    20+ hex characters and dashes) replaced by ``{id}``: ``("GET",
    "http://h/markets/0xab12")`` → ``"GET /markets/{id}"``."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    path = "/".join("{id}" if _ID_SEGMENT.match(s) else s for s in segments)
    return f"{method.upper()} /{path}"


def channel_label(url: str) -> str:
    """The websocket channel of ``url``: its last path segment (``.../ws/market`` →
    ``market``), or the host when the path is empty."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return segments[-1] if segments else parts.netloc


class VenueMetrics:
    """The venue metrics of one live session (see the module docstring), in ``registry``.

    Args:
        registry: the registry to register in (the session's ``DeskMetrics.registry``).
        wall_clock_ns: the clock heartbeat ages are measured on (ns since the epoch).
    """

    def __init__(
        self, registry: CollectorRegistry, wall_clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self._clock = wall_clock_ns
        self._heartbeat_ns = 0
        self.request_latency = Histogram(
            "polytraders_venue_request_latency_seconds",
            "Venue REST request latency (s) by endpoint and HTTP status (0: no answer)",
            ["endpoint", "status"],
            buckets=_REQUEST_BUCKETS_S,
            registry=registry,
        )
        self.heartbeat_age = Gauge(
            "polytraders_venue_heartbeat_age_seconds",
            "Seconds since the venue last accepted a heartbeat (NaN before the first)",
            registry=registry,
        )
        self.heartbeat_age.set_function(self._heartbeat_age_s)
        self.reconnects = Counter(
            "polytraders_venue_ws_reconnects",
            "Websocket reconnects by channel",
            ["channel"],
            registry=registry,
        )
        self.order_drift = Gauge(
            "polytraders_venue_reconciliation_order_drift_micros",
            "Order drift found by the latest reconciliation (micro-shares)",
            registry=registry,
        )
        self.position_drift = Gauge(
            "polytraders_venue_reconciliation_position_drift_micros",
            "Largest position drift found by the latest reconciliation (micro-shares)",
            registry=registry,
        )
        self.drift_level = Enum(
            "polytraders_venue_reconciliation_drift_level",
            "Drift level of the latest reconciliation",
            states=["none", *(level.value for level in DriftLevel)],
            registry=registry,
        )
        # before the first reconciliation (and always on paper) nothing was measured: the
        # gauges read NaN and the level "none", never a reassuring 0 / ok
        self.order_drift.set(float("nan"))
        self.position_drift.set(float("nan"))
        self.reconciliations = Counter(
            "polytraders_venue_reconciliations",
            "Reconciliations by drift level",
            ["level"],
            registry=registry,
        )

    def observe_request(self, method: str, url: str, status: int, elapsed_s: float) -> None:
        """One REST request took ``elapsed_s`` and answered ``status`` (0: no answer)."""
        self.request_latency.labels(endpoint_label(method, url), str(status)).observe(elapsed_s)

    def heartbeat_accepted(self, ts_ns: int) -> None:
        """The venue accepted a heartbeat at ``ts_ns`` (wall clock; earlier times are kept
        out: the age never grows back)."""
        self._heartbeat_ns = max(self._heartbeat_ns, ts_ns)

    def _heartbeat_age_s(self) -> float:
        if not self._heartbeat_ns:
            return float("nan")
        return max(self._clock() - self._heartbeat_ns, 0) / 1e9

    def reconnected(self, url: str) -> None:
        """A websocket to ``url`` connected again after a loss."""
        self.reconnects.labels(channel_label(url)).inc()

    def reconciled(
        self, *, order_drift_micros: int, position_drift_micros: int, level: DriftLevel
    ) -> None:
        """A reconciliation ended with these drifts (micro-shares) and ``level``."""
        self.order_drift.set(order_drift_micros)
        self.position_drift.set(position_drift_micros)
        self.drift_level.state(level.value)
        self.reconciliations.labels(level.value).inc()
