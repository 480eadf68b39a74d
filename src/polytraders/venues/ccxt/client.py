"""A ccxt async exchange on its own event loop, with a synchronous facade.

The desk's venue protocol is synchronous (:class:`~polytraders.venues.base.Venue`) and a
network venue runs off the decision loop on one worker thread
(:class:`~polytraders.node.venue_worker.VenueWorker`), one request at a time. ccxt's
maintained client is async (``ccxt.async_support``, aiohttp), so :class:`CcxtClient` runs one
exchange instance on a private asyncio loop in a dedicated daemon thread and
:meth:`CcxtClient.call` submits one coroutine to it and waits, at most ``timeout_s``. The loop
is the only place the exchange (its aiohttp session and throttler) is used.

A call that runs out of time is cancelled on the loop and raised as ``ccxt.RequestTimeout``
(a ``NetworkError``: the request's outcome is unknown to the caller).

ccxt logs every request and answer at DEBUG with its headers (the API key header among them):
the exchange gets its own logger, :data:`WIRE_LOGGER`, which never emits below WARNING.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import ccxt.async_support as ccxt

from polytraders.venues.ccxt.config import CcxtVenueConfig
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.ccxt.loopback import point_at_simulator
from polytraders.venues.ccxt.ratelimit import apply_throttle

T = TypeVar("T")

WIRE_LOGGER = logging.getLogger("polytraders.venues.ccxt.wire")
"""ccxt's request/response logger: WARNING and above only (DEBUG lines carry the API key)."""
WIRE_LOGGER.setLevel(logging.WARNING)


def build_exchange(config: CcxtVenueConfig, credentials: ApiKeyCredentials) -> Any:
    """The configured ``ccxt.async_support`` exchange with credentials, ccxt's throttler at
    ``rate_limit_ratio`` and, when ``api_url`` is set, every address moved to that loopback
    simulator (``point_at_simulator``)."""
    exchange = getattr(ccxt, config.exchange_id)(
        {
            "apiKey": credentials.api_key,
            "secret": credentials.api_secret,
            "timeout": round(config.request_timeout_s * 1000),
            "logger": WIRE_LOGGER,
        }
    )
    apply_throttle(exchange, config.rate_limit_ratio)
    if config.api_url:
        point_at_simulator(exchange, config.api_url)
    return exchange


class CcxtClient:
    """One ccxt exchange on a private event loop thread (module docstring).

    Args:
        exchange: a ``ccxt.async_support`` exchange not used anywhere else.
        timeout_s: longest wait of one :meth:`call`.
    """

    def __init__(self, exchange: Any, timeout_s: float) -> None:
        self.exchange = exchange
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"ccxt-{exchange.id}", daemon=True
        )
        self._thread.start()

    def call(self, request: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``request(exchange)`` on the client's loop and return its result.

        Raises:
            ccxt.RequestTimeout: no result within ``timeout_s`` (the call is cancelled).
            ccxt.BaseError: whatever ccxt raised.
            RuntimeError: the client is closed.
        """
        if self._loop.is_closed():
            raise RuntimeError("ccxt client is closed")

        async def run() -> T:
            return await request(self.exchange)

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        try:
            return future.result(self.timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ccxt.RequestTimeout(
                f"{self.exchange.id} call timed out after {self.timeout_s} s"
            ) from None

    def close(self) -> None:
        """Close the exchange's HTTP session, stop the loop and join its thread (idempotent)."""
        if self._loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.exchange.close(), self._loop).result(
                self.timeout_s
            )
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self.timeout_s)
            self._loop.close()
