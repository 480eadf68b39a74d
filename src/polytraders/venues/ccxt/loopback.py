"""Pointing a ccxt ``binanceusdm`` or ``binance`` (spot) client at the simulator (duck-typed:
ccxt is not imported).

Four things differ from the production set-up, and :func:`point_at_simulator` does them all:

* every address of ``exchange.urls['api']`` moves to the loopback base URL (scheme and host
  replaced, path kept), so no request of the client can leave the machine: an endpoint the
  simulator does not serve answers 404;
* ``options['fetchCurrencies']`` and ``options['fetchMargins']`` are turned off: with
  credentials ccxt would otherwise call the spot wallet's ``/sapi/v1/capital/config/getall``
  and (``binance``) the margin pairs' ``/sapi/v1/margin/allPairs`` and
  ``/sapi/v1/margin/isolated/allPairs`` during ``load_markets``, which the simulator does not
  serve;
* one simulator serves one market, so ``load_markets`` asks for that market type only
  (``options['fetchMarkets']['types']``: ``binanceusdm`` already asks for ``linear`` only;
  ``binance`` would also ask ``/fapi`` and ``/dapi``, so it is set to ``spot``);
* ccxt 4.5.90 picks its market type's error map (``exceptions['linear']`` for USDⓈ-M: -2019
  → InsufficientFunds, -2011 → OperationRejected, …; ``exceptions['spot']`` for spot) by URL
  prefix (``https://fapi.binance.com/``, ``https://api.binance.com/``,
  ``binance.get_exceptions_by_url``); at a loopback URL it would fall back to the generic map,
  so the market type's maps are merged over the generic ones.
"""

from __future__ import annotations

from typing import Any

MARKET_TYPES = {"binanceusdm": "linear", "binance": "spot"}
"""ccxt exchange id → the market type (ccxt's name) the simulator serves it."""


def loopback_urls(api_urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``api_urls`` with every ``scheme://host`` replaced by ``base_url`` (nested groups too):
    ``https://fapi.binance.com/fapi/v1`` → ``http://127.0.0.1:<port>/fapi/v1``."""
    moved: dict[str, Any] = {}
    for name, address in api_urls.items():
        if isinstance(address, dict):
            moved[name] = loopback_urls(address, base_url)
        elif isinstance(address, str) and "://" in address:
            path = address.split("://", 1)[1].partition("/")[2]
            moved[name] = f"{base_url}/{path}" if path else base_url
        else:
            moved[name] = address
    return moved


def point_at_simulator(exchange: Any, base_url: str) -> Any:
    """Set up a ccxt ``binanceusdm`` or ``binance`` instance for the simulator at
    ``base_url`` (module docstring); returns it.

    Raises:
        KeyError: another exchange.
    """
    market_type = MARKET_TYPES[exchange.id]
    exchange.urls["api"] = loopback_urls(exchange.urls["api"], base_url)
    exchange.options["fetchCurrencies"] = False
    exchange.options["fetchMargins"] = False
    exchange.options["fetchMarkets"] = {**exchange.options["fetchMarkets"], "types": [market_type]}
    maps = exchange.exceptions.get(market_type, {})
    for kind in ("exact", "broad"):
        exchange.exceptions[kind] = {**exchange.exceptions[kind], **maps.get(kind, {})}
    return exchange
