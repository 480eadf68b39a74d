"""Latency models of the paper venue (rule 1 of :mod:`polytraders.venues.paper`).

Three latencies, all integer ns, after hftbacktest's ``LatencyModel`` (``models/latency.rs``:
an entry and a response latency per order):

- **entry**: ``submit`` at ``t`` → the order reaches the matching engine at ``t + entry``;
- **cancel**: ``cancel`` at ``t`` → the cancel takes effect at ``t + cancel`` (never before
  the order arrived);
- **response**: a venue answer made at ``t`` (ack, fill, cancel, rejection, expiry) reaches the
  desk at ``t + response``.

:class:`ConstantLatency` takes them from :class:`~polytraders.venues.paper.PaperVenueConfig`;
:class:`RecordedLatency` takes them per order from a recorded session (``OrderLatency`` per
client order id, e.g. built by ``polytraders fills calibrate`` from the store's order rows) and
falls back to constants for the other orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from polytraders.model.orders import VenueOrder
from polytraders.venues.paper.config import PaperVenueConfig


class LatencyModel(Protocol):
    """Entry, cancel and response latency of one order (ns, each ≥ 0)."""

    def entry_ns(self, order: VenueOrder) -> int:
        """Submit → the order reaches the venue."""

    def cancel_ns(self, client_order_id: str) -> int:
        """Cancel request → the cancel takes effect."""

    def response_ns(self, client_order_id: str) -> int:
        """A venue answer about the order → the desk sees it."""


class ConstantLatency:
    """The same latencies for every order: ``order_latency_ms`` (entry), ``cancel_latency_ms``
    and ``response_latency_ms`` of the venue config."""

    __slots__ = ("_cancel", "_entry", "_response")

    def __init__(self, config: PaperVenueConfig) -> None:
        self._entry = config.order_latency_ns
        self._cancel = config.cancel_latency_ns
        self._response = config.response_latency_ns

    def entry_ns(self, order: VenueOrder) -> int:
        return self._entry

    def cancel_ns(self, client_order_id: str) -> int:
        return self._cancel

    def response_ns(self, client_order_id: str) -> int:
        return self._response


class OrderLatency(NamedTuple):
    """Latencies of one recorded order (ns); None = not recorded (the fallback applies)."""

    entry_ns: int | None = None
    cancel_ns: int | None = None
    response_ns: int | None = None


class RecordedLatency:
    """Per-order latencies from recorded timestamps, constants for orders not recorded.

    Args:
        recorded: client order id → its :class:`OrderLatency` (every given value ≥ 0).
        fallback: latencies of orders (or kinds) not recorded.

    Raises:
        ValueError: a negative recorded latency.
    """

    __slots__ = ("_fallback", "_recorded")

    def __init__(self, recorded: Mapping[str, OrderLatency], fallback: LatencyModel) -> None:
        for cid, latency in recorded.items():
            if any(value is not None and value < 0 for value in latency):
                raise ValueError(f"order {cid}: negative recorded latency {latency}")
        self._recorded = dict(recorded)
        self._fallback = fallback

    def entry_ns(self, order: VenueOrder) -> int:
        value = self._recorded.get(order.client_order_id, OrderLatency()).entry_ns
        return self._fallback.entry_ns(order) if value is None else value

    def cancel_ns(self, client_order_id: str) -> int:
        value = self._recorded.get(client_order_id, OrderLatency()).cancel_ns
        return self._fallback.cancel_ns(client_order_id) if value is None else value

    def response_ns(self, client_order_id: str) -> int:
        value = self._recorded.get(client_order_id, OrderLatency()).response_ns
        return self._fallback.response_ns(client_order_id) if value is None else value
