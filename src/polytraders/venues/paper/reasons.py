"""Reason codes the paper venue puts on ``OrderRejected`` and ``OrderCanceled`` events.

All are registered in ``polytraders/contracts/reasons.toml`` (section "desk: venue answers"),
named after the error kinds Polymarket's CLOB reports (``../shared/POLYMARKET.md`` "Orders":
market not ready, invalid expiration, post-only would cross, FOK not filled, not enough
balance / allowance, size below minimum), so the live venue can report the same codes.
"""

from __future__ import annotations

from typing import Final

UNKNOWN_TOKEN: Final = "SYS_UNKNOWN_TOKEN"
INVALID_ORDER: Final = "SYS_VENUE_INVALID_ORDER"
INVALID_TICK: Final = "SYS_VENUE_INVALID_TICK"
PRICE_OUT_OF_RANGE: Final = "SYS_VENUE_PRICE_OUT_OF_RANGE"
BELOW_MIN_SIZE: Final = "SYS_VENUE_BELOW_MIN_SIZE"
INVALID_EXPIRATION: Final = "SYS_VENUE_INVALID_EXPIRATION"
MARKET_NOT_ACCEPTING: Final = "SYS_VENUE_MARKET_NOT_ACCEPTING"
INSUFFICIENT_BALANCE: Final = "SYS_VENUE_INSUFFICIENT_BALANCE"
POST_ONLY_WOULD_CROSS: Final = "SYS_VENUE_POST_ONLY_WOULD_CROSS"
FOK_NOT_FILLED: Final = "SYS_VENUE_FOK_NOT_FILLED"
FAK_REMAINDER_CANCELED: Final = "SYS_VENUE_FAK_REMAINDER_CANCELED"
UNKNOWN_ORDER: Final = "SYS_VENUE_UNKNOWN_ORDER"
MARKET_CLOSED: Final = "SYS_VENUE_MARKET_CLOSED"
TICK_SIZE_CHANGED: Final = "SYS_VENUE_TICK_SIZE_CHANGED"

ALL_CODES: Final = (
    UNKNOWN_TOKEN,
    INVALID_ORDER,
    INVALID_TICK,
    PRICE_OUT_OF_RANGE,
    BELOW_MIN_SIZE,
    INVALID_EXPIRATION,
    MARKET_NOT_ACCEPTING,
    INSUFFICIENT_BALANCE,
    POST_ONLY_WOULD_CROSS,
    FOK_NOT_FILLED,
    FAK_REMAINDER_CANCELED,
    UNKNOWN_ORDER,
    MARKET_CLOSED,
    TICK_SIZE_CHANGED,
)
"""Every code this venue may emit (a test checks each is registered)."""
