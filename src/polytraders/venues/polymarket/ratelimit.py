"""Token-bucket rate limits per Polymarket endpoint, on the caller's clock (ns).

Default budgets are the published per-IP limits per 10 s window (``../shared/POLYMARKET.md``
"Rate limits"), scaled by ``fraction`` (default 0.8, a safety margin). A 429 answer with
``Retry-After`` blocks its endpoint until the given time regardless of tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WINDOW_NS = 10_000_000_000

PUBLISHED_PER_10S: dict[str, int] = {
    "POST /order": 3_500,
    "POST /orders": 1_000,
    "DELETE /order": 3_000,
    "DELETE /orders": 1_000,
    "DELETE /cancel-all": 250,
    "GET /book": 1_500,
    "GET /data/orders": 500,
    "GET /data/trades": 500,
    "POST /v1/heartbeats": 100,
    "GET /balance-allowance": 100,
}
"""Requests per 10 s by endpoint (POLYMARKET.md; heartbeat, orders/trades listing and
balance budgets are ours, unpublished)."""


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``capacity`` per ``window_ns``.

    Exact integer arithmetic: tokens are kept in units of 1/``window_ns``.
    """

    capacity: int
    window_ns: int = WINDOW_NS
    _level: int = field(default=-1)
    _last_ns: int = 0
    blocked_until_ns: int = 0

    def try_take(self, now_ns: int, count: int = 1) -> bool:
        """Take ``count`` tokens at ``now_ns``; False (nothing taken) when not enough or while
        blocked by a 429."""
        full = self.capacity * self.window_ns
        if self._level < 0:
            self._level, self._last_ns = full, now_ns
        if now_ns > self._last_ns:
            self._level = min(full, self._level + (now_ns - self._last_ns) * self.capacity)
            self._last_ns = now_ns
        if now_ns < self.blocked_until_ns:
            return False
        need = count * self.window_ns
        if self._level < need:
            return False
        self._level -= need
        return True

    def block_until(self, until_ns: int) -> None:
        """Refuse every take before ``until_ns`` (Retry-After)."""
        self.blocked_until_ns = max(self.blocked_until_ns, until_ns)


class RateLimiter:
    """One :class:`TokenBucket` per endpoint key (``"METHOD /path"``).

    Args:
        fraction: share of each published budget to use (0 < fraction ≤ 1).
        overrides: endpoint → requests per 10 s, replacing the defaults.
    """

    def __init__(self, fraction: float = 0.8, overrides: dict[str, int] | None = None) -> None:
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        budgets = {**PUBLISHED_PER_10S, **(overrides or {})}
        self.buckets = {
            key: TokenBucket(max(1, int(count * fraction))) for key, count in budgets.items()
        }

    def try_take(self, endpoint: str, now_ns: int, count: int = 1) -> bool:
        """Take tokens from ``endpoint``'s bucket (unknown endpoints are not limited)."""
        bucket = self.buckets.get(endpoint)
        return True if bucket is None else bucket.try_take(now_ns, count)

    def block(self, endpoint: str, until_ns: int) -> None:
        """Block ``endpoint`` until ``until_ns`` (a 429's Retry-After)."""
        bucket = self.buckets.setdefault(endpoint, TokenBucket(1_000_000))
        bucket.block_until(until_ns)
