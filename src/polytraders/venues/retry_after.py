"""HTTP ``Retry-After`` (RFC 9110 §10.2.3) as the venues read it: delta-seconds only."""

from __future__ import annotations


def parse_retry_after_ms(value: str | None, default_ms: int = 1_000) -> int:
    """``Retry-After`` (delta-seconds, possibly fractional) in ms; ``default_ms`` when absent or
    not a number (HTTP dates are not used by the venues we trade: the Polymarket CLOB and
    Binance send seconds)."""
    if not value:
        return default_ms
    try:
        whole, _, frac = value.strip().partition(".")
        millis = int(whole) * 1000 + (int((frac + "000")[:3]) if frac else 0)
    except ValueError:
        return default_ms
    return max(millis, 0)
