"""Pointing a ccxt ``binanceusdm`` client at the simulator (duck-typed: ccxt is not imported).

Three things differ from the production set-up, and :func:`point_at_simulator` does all three:

* every address of ``exchange.urls['api']`` moves to the loopback base URL (scheme and host
  replaced, path kept), so no request of the client can leave the machine: an endpoint the
  simulator does not serve answers 404;
* ``options['fetchCurrencies']`` is turned off: with credentials ccxt would otherwise call the
  spot wallet's ``/sapi/v1/capital/config/getall`` during ``load_markets``, which the
  simulator does not serve;
* ccxt 4.5.90 picks its USDⓈ-M error map (``exceptions['linear']``: -2019 → InsufficientFunds,
  -2011 → OperationRejected, …) by URL prefix (``https://fapi.binance.com/``,
  ``binance.get_exceptions_by_url``); at a loopback URL it would fall back to the generic map
  (-2019 → ExchangeError), so the linear maps are merged over the generic ones.
"""

from __future__ import annotations

from typing import Any


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
    """Set up a ccxt ``binanceusdm`` instance for the simulator at ``base_url`` (module
    docstring); returns it."""
    exchange.urls["api"] = loopback_urls(exchange.urls["api"], base_url)
    exchange.options["fetchCurrencies"] = False
    linear = exchange.exceptions.get("linear", {})
    for kind in ("exact", "broad"):
        exchange.exceptions[kind] = {**exchange.exceptions[kind], **linear.get(kind, {})}
    return exchange
