"""Map Polymarket CLOB v2 error answers to registered reason codes and venue conditions.

Sources: ``../shared/POLYMARKET.md`` "Dead-man switch and venue states" and "Orders" (known
errors): 425 during a matching-engine restart; 503 with code ``post_only_mode`` for about two
minutes afterwards; 503 whose message contains "cancel-only"; 429 with ``Retry-After``; order
rejections "post-only would cross", "size below minimum", "not enough balance / allowance",
"FOK not filled", "invalid expiration", "market not ready". Matching of messages is on
lower-cased substrings, since the venue's wording is not versioned.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from polytraders.venues.retry_after import parse_retry_after_ms


class ErrorKind(StrEnum):
    """What a venue error means for the desk."""

    ENGINE_RESTART = "engine_restart"
    POST_ONLY_MODE = "post_only_mode"
    CANCEL_ONLY = "cancel_only"
    CLOSED_ONLY = "closed_only"
    RATE_LIMITED = "rate_limited"
    SIZE_BELOW_MIN = "size_below_min"
    BALANCE_ALLOWANCE = "balance_allowance"
    POST_ONLY_CROSS = "post_only_cross"
    INVALID_ORDER = "invalid_order"
    INVALID_TICK = "invalid_tick"
    PRICE_OUT_OF_RANGE = "price_out_of_range"
    INVALID_EXPIRATION = "invalid_expiration"
    MARKET_NOT_ACCEPTING = "market_not_accepting"
    FOK_NOT_FILLED = "fok_not_filled"
    HEARTBEAT_MISMATCH = "heartbeat_mismatch"
    AUTH = "auth"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"


REASON_CODES: dict[ErrorKind, str] = {
    ErrorKind.ENGINE_RESTART: "SYS_POLY_ENGINE_RESTART",
    ErrorKind.POST_ONLY_MODE: "SYS_POLY_POST_ONLY_MODE",
    ErrorKind.CANCEL_ONLY: "SYS_POLY_CANCEL_ONLY",
    ErrorKind.CLOSED_ONLY: "SYS_POLY_CLOSED_ONLY",
    ErrorKind.RATE_LIMITED: "SYS_POLY_VENUE_RATE_LIMITED",
    ErrorKind.SIZE_BELOW_MIN: "SYS_VENUE_BELOW_MIN_SIZE",
    ErrorKind.BALANCE_ALLOWANCE: "SYS_VENUE_INSUFFICIENT_BALANCE",
    ErrorKind.POST_ONLY_CROSS: "SYS_VENUE_POST_ONLY_WOULD_CROSS",
    ErrorKind.INVALID_ORDER: "SYS_VENUE_INVALID_ORDER",
    ErrorKind.INVALID_TICK: "SYS_VENUE_INVALID_TICK",
    ErrorKind.PRICE_OUT_OF_RANGE: "SYS_VENUE_PRICE_OUT_OF_RANGE",
    ErrorKind.INVALID_EXPIRATION: "SYS_VENUE_INVALID_EXPIRATION",
    ErrorKind.MARKET_NOT_ACCEPTING: "SYS_VENUE_MARKET_NOT_ACCEPTING",
    ErrorKind.FOK_NOT_FILLED: "SYS_VENUE_FOK_NOT_FILLED",
    ErrorKind.HEARTBEAT_MISMATCH: "SYS_POLY_HEARTBEAT_LAPSED",
    ErrorKind.AUTH: "SYS_POLY_AUTH_FAILED",
    ErrorKind.UNAVAILABLE: "SYS_POLY_UNAVAILABLE",
    ErrorKind.REJECTED: "SYS_POLY_ORDER_REJECTED",
}
"""Every kind's registered reason code. Order rejections shared with the paper venue use its
``SYS_VENUE_*`` codes (one code per refusal whatever the venue); Polymarket venue states use
the ``SYS_POLY_*`` codes of the polymarket section. (``SYS_POLY_SIZE_BELOW_MIN``,
``_BALANCE_ALLOWANCE``, ``_POST_ONLY_CROSS``, ``_INVALID_ORDER`` and ``_FOK_NOT_FILLED`` were
registered before the ``SYS_VENUE_*`` codes landed and are superseded by them.)"""

_MESSAGE_KINDS: tuple[tuple[str, ErrorKind], ...] = (
    ("cancel-only", ErrorKind.CANCEL_ONLY),
    ("cancel only", ErrorKind.CANCEL_ONLY),
    ("post_only_mode", ErrorKind.POST_ONLY_MODE),
    ("post-only mode", ErrorKind.POST_ONLY_MODE),
    ("closed-only", ErrorKind.CLOSED_ONLY),
    ("closed only", ErrorKind.CLOSED_ONLY),
    ("would cross", ErrorKind.POST_ONLY_CROSS),
    ("crosses the book", ErrorKind.POST_ONLY_CROSS),
    ("crosses book", ErrorKind.POST_ONLY_CROSS),
    ("lower than the minimum", ErrorKind.SIZE_BELOW_MIN),
    ("below minimum", ErrorKind.SIZE_BELOW_MIN),
    ("size below", ErrorKind.SIZE_BELOW_MIN),
    ("not enough balance", ErrorKind.BALANCE_ALLOWANCE),
    ("allowance", ErrorKind.BALANCE_ALLOWANCE),
    ("insufficient", ErrorKind.BALANCE_ALLOWANCE),
    ("fok", ErrorKind.FOK_NOT_FILLED),
    ("fully filled", ErrorKind.FOK_NOT_FILLED),
    ("invalid expiration", ErrorKind.INVALID_EXPIRATION),
    ("tick size", ErrorKind.INVALID_TICK),
    ("out of range", ErrorKind.PRICE_OUT_OF_RANGE),
    ("invalid price", ErrorKind.INVALID_ORDER),
    ("not ready", ErrorKind.MARKET_NOT_ACCEPTING),
    ("not accepting", ErrorKind.MARKET_NOT_ACCEPTING),
    ("invalid signature", ErrorKind.AUTH),
)


@dataclass(frozen=True, slots=True)
class VenueError:
    """A classified venue error.

    Fields: ``kind``; ``reason_code`` (registered); ``status`` (HTTP status, 0 for a network
    failure or an in-body rejection); ``message`` (the venue's text, never credentials);
    ``retry_after_ms`` (from ``Retry-After`` on 429, else 0).
    """

    kind: ErrorKind
    reason_code: str
    status: int
    message: str
    retry_after_ms: int = 0

    @property
    def halts_new_orders(self) -> bool:
        """True when the venue state (not just this order) blocks new orders."""
        return self.kind in (
            ErrorKind.ENGINE_RESTART,
            ErrorKind.CANCEL_ONLY,
            ErrorKind.UNAVAILABLE,
            ErrorKind.AUTH,
        )


def kind_from_message(message: str) -> ErrorKind:
    """Kind of an order rejection from the venue's ``errorMsg`` (REJECTED when unknown)."""
    text = message.lower()
    for needle, kind in _MESSAGE_KINDS:
        if needle in text:
            return kind
    return ErrorKind.REJECTED


def classify(status: int, message: str, retry_after: str | None = None) -> VenueError:
    """Classify an HTTP error answer (``status`` ≥ 400, or 0 for no answer at all).

    425 → ENGINE_RESTART; 429 → RATE_LIMITED with ``Retry-After``; 503 → POST_ONLY_MODE or
    CANCEL_ONLY by message (else UNAVAILABLE); 401/403 → AUTH; other 5xx and 0 → UNAVAILABLE;
    400-class → by message (:func:`kind_from_message`).
    """
    text = message.lower()
    if status == 425:
        kind = ErrorKind.ENGINE_RESTART
    elif status == 429:
        kind = ErrorKind.RATE_LIMITED
    elif status == 503:
        if "cancel-only" in text or "cancel only" in text:
            kind = ErrorKind.CANCEL_ONLY
        elif "post_only" in text or "post-only" in text:
            kind = ErrorKind.POST_ONLY_MODE
        else:
            kind = ErrorKind.UNAVAILABLE
    elif status in (401, 403):
        kind = ErrorKind.AUTH
    elif status == 0 or status >= 500:
        kind = ErrorKind.UNAVAILABLE
    else:
        kind = kind_from_message(message)
    retry_ms = parse_retry_after_ms(retry_after) if kind is ErrorKind.RATE_LIMITED else 0
    return VenueError(kind, REASON_CODES[kind], status, message, retry_ms)


def backoff_ms(attempt: int, *, first_ms: int = 1_500, cap_ms: int = 30_000) -> int:
    """Back-off after the ``attempt``-th consecutive 425 (1-based): 1.5 s, then doubling, at
    most 30 s (POLYMARKET.md: "back off 1–2 s, then exponentially, ≤ 30 s")."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    return min(first_ms << (attempt - 1), cap_ms)


__all__ = [
    "REASON_CODES",
    "ErrorKind",
    "VenueError",
    "backoff_ms",
    "classify",
    "kind_from_message",
]
