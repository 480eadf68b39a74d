"""The real ccxt ``binanceusdm`` async client pointed at a running exchange simulator (no
network), for tests of the simulator and of what ccxt makes of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt.async_support as ccxt

from polytraders.simexchange.server import SimExchangeServer
from polytraders.venues.ccxt.loopback import point_at_simulator


def usdm_client(sim: SimExchangeServer, secret: str | None = None) -> Any:
    """A ccxt binanceusdm client whose every address is the simulator (``secret``: another
    API secret than the simulator's, to be refused)."""
    exchange = ccxt.binanceusdm({"apiKey": sim.api_key.key, "secret": secret or sim.api_key.secret})
    return point_at_simulator(exchange, sim.url)


def run_usdm(
    sim: SimExchangeServer, body: Callable[[Any], Awaitable[Any]], secret: str = ""
) -> Any:
    """``body(client)`` after ``load_markets``, in a fresh event loop; the client is closed."""

    async def main() -> Any:
        exchange = usdm_client(sim, secret or None)
        try:
            await exchange.load_markets()
            return await body(exchange)
        finally:
            await exchange.close()

    return asyncio.run(main())
