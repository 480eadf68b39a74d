"""Request pacing for a ccxt exchange: ccxt's own throttler, slowed by a ratio, and the
back-off after a 429/418.

Decision (library first): ccxt already paces every REST call by the exchange's published
limits — ``exchange.rateLimit`` (ms per unit of cost; Binance: 50 ms, i.e. 1,200 units a
minute, half of USDⓈ-M's 2,400 request weight) times the endpoint's ``cost`` in its ``api``
tables (Binance's request weights, e.g. ``GET /fapi/v1/openOrders`` with a symbol 1), in a
leaky bucket (``ccxt.async_support.base.throttler``) on the client's event loop. A second
bucket of ours would only duplicate those tables, so :func:`apply_throttle` keeps ccxt's and
slows it to ``ratio`` of the published rate. ccxt does not honour ``Retry-After``:
:func:`retry_after_ns` reads it from the last answer's headers for the venue's back-off.
The throttler sleeps on the client's loop (wall clock), never on the desk's thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polytraders.venues.retry_after import parse_retry_after_ms

_MS_NS = 1_000_000


def apply_throttle(exchange: Any, ratio: float) -> float:
    """Turn ccxt's throttler on at ``ratio`` (0 < ratio ≤ 1) of the exchange's published rate;
    returns the resulting ms per unit of cost.

    Raises:
        ValueError: ``ratio`` outside (0, 1], or the exchange publishes no ``rateLimit``.
    """
    if not 0 < ratio <= 1:
        raise ValueError("ratio must be in (0, 1]")
    published = float(exchange.rateLimit or 0)
    if published <= 0:
        raise ValueError(f"{exchange.id} publishes no rateLimit")
    exchange.enableRateLimit = True
    exchange.rateLimit = published / ratio
    exchange.tokenBucket = None  # rebuilt from rateLimit by ccxt
    exchange.init_rest_rate_limiter()
    return float(exchange.rateLimit)


def retry_after_ns(headers: Mapping[str, Any] | None, default_ms: int) -> int:
    """The ``Retry-After`` of an answer's headers (delta-seconds) in ns, ``default_ms`` when
    absent or not a number."""
    value = None
    for name, text in (headers or {}).items():
        if str(name).lower() == "retry-after":
            value = str(text)
    return parse_retry_after_ms(value, default_ms) * _MS_NS
