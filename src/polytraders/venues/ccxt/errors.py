"""Map ccxt exceptions (and Binance's error codes inside them) to registered reason codes.

ccxt raises one exception class per kind of failure (``ccxt.base.errors``): the class says
whether the request surely did nothing (an exchange answer: ``ExchangeError`` and its
subclasses, and ``DDoSProtection``/``RateLimitExceeded`` for 418/429) or may have done
something (``NetworkError``: time-out, connection lost, 5xx). Binance's code, which ccxt
keeps in the message (``binanceusdm {"code":-5022,"msg":"..."}``), refines an order refusal:

=========  ================================  =====================================
Binance     meaning                           reason code
=========  ================================  =====================================
-5022       post-only would take              ``SYS_VENUE_POST_ONLY_WOULD_CROSS``
-2019       margin insufficient               ``SYS_VENUE_INSUFFICIENT_BALANCE``
-2010       (spot) insufficient balance       ``SYS_VENUE_INSUFFICIENT_BALANCE``
-2022       reduce-only rejected              ``SYS_VENUE_REDUCE_ONLY_REJECTED``
-4014/-1111 price/precision off the grid      ``SYS_VENUE_INVALID_TICK``
-4003/-1013/-4164  quantity/notional too small ``SYS_VENUE_BELOW_MIN_SIZE``
-5021       FOK could not fill                ``SYS_VENUE_FOK_NOT_FILLED``
-2021       stop would trigger at once        ``SYS_CCXT_STOP_WOULD_TRIGGER``
-2011/-2013 unknown order                     ``SYS_VENUE_UNKNOWN_ORDER``
-20124      algo order unknown or completed   ``SYS_VENUE_UNKNOWN_ORDER``
=========  ================================  =====================================

A spot LIMIT_MAKER that would take is answered -2010 "Order would immediately match and take."
(the code Binance spot also uses for an insufficient balance); ccxt maps that message to
``OrderImmediatelyFillable`` without the code in its text: → ``SYS_VENUE_POST_ONLY_WOULD_CROSS``.
Otherwise by class: ``InsufficientFunds`` → insufficient balance, ``InvalidOrder`` →
``SYS_VENUE_INVALID_ORDER``, ``AuthenticationError``/``PermissionDenied`` →
``SYS_CCXT_AUTH_FAILED``, ``DDoSProtection`` and ``RateLimitExceeded`` (siblings under
``NetworkError`` in ccxt 4.5.90, so tested before it) →
``SYS_CCXT_RATE_LIMITED``, ``NetworkError`` → ``SYS_CCXT_UNAVAILABLE`` (outcome unknown),
any other ``ExchangeError`` → ``SYS_CCXT_ORDER_REJECTED``. Messages are kept for the operator
with any ``signature=`` query value blanked (ccxt puts the signed URL in network errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import ccxt.async_support as ccxt


class ErrorKind(StrEnum):
    """What a ccxt failure means for the venue."""

    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    UNAVAILABLE = "unavailable"
    POST_ONLY_CROSS = "post_only_cross"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    REDUCE_ONLY = "reduce_only"
    INVALID_TICK = "invalid_tick"
    BELOW_MIN_SIZE = "below_min_size"
    FOK_NOT_FILLED = "fok_not_filled"
    STOP_WOULD_TRIGGER = "stop_would_trigger"
    ORDER_NOT_FOUND = "order_not_found"
    INVALID_ORDER = "invalid_order"
    REJECTED = "rejected"


REASON_CODES: dict[ErrorKind, str] = {
    ErrorKind.RATE_LIMITED: "SYS_CCXT_RATE_LIMITED",
    ErrorKind.AUTH: "SYS_CCXT_AUTH_FAILED",
    ErrorKind.UNAVAILABLE: "SYS_CCXT_UNAVAILABLE",
    ErrorKind.POST_ONLY_CROSS: "SYS_VENUE_POST_ONLY_WOULD_CROSS",
    ErrorKind.INSUFFICIENT_BALANCE: "SYS_VENUE_INSUFFICIENT_BALANCE",
    ErrorKind.REDUCE_ONLY: "SYS_VENUE_REDUCE_ONLY_REJECTED",
    ErrorKind.INVALID_TICK: "SYS_VENUE_INVALID_TICK",
    ErrorKind.BELOW_MIN_SIZE: "SYS_VENUE_BELOW_MIN_SIZE",
    ErrorKind.FOK_NOT_FILLED: "SYS_VENUE_FOK_NOT_FILLED",
    ErrorKind.STOP_WOULD_TRIGGER: "SYS_CCXT_STOP_WOULD_TRIGGER",
    ErrorKind.ORDER_NOT_FOUND: "SYS_VENUE_UNKNOWN_ORDER",
    ErrorKind.INVALID_ORDER: "SYS_VENUE_INVALID_ORDER",
    ErrorKind.REJECTED: "SYS_CCXT_ORDER_REJECTED",
}
"""Every kind's registered reason code: order refusals share the paper and Polymarket venues'
``SYS_VENUE_*`` codes (one code per refusal whatever the venue); conditions of the ccxt
connection have ``SYS_CCXT_*`` codes."""

BINANCE_CODES: dict[int, ErrorKind] = {
    -5022: ErrorKind.POST_ONLY_CROSS,
    -2019: ErrorKind.INSUFFICIENT_BALANCE,
    -2010: ErrorKind.INSUFFICIENT_BALANCE,
    -2022: ErrorKind.REDUCE_ONLY,
    -4014: ErrorKind.INVALID_TICK,
    -1111: ErrorKind.INVALID_TICK,
    -4003: ErrorKind.BELOW_MIN_SIZE,
    -1013: ErrorKind.BELOW_MIN_SIZE,
    -4164: ErrorKind.BELOW_MIN_SIZE,
    -5021: ErrorKind.FOK_NOT_FILLED,
    -2011: ErrorKind.ORDER_NOT_FOUND,
    -2013: ErrorKind.ORDER_NOT_FOUND,
    -2021: ErrorKind.STOP_WOULD_TRIGGER,
    -20124: ErrorKind.ORDER_NOT_FOUND,
}
"""Binance error codes (USDⓈ-M and spot REST references) with a more precise meaning than
ccxt's exception class."""

_WOULD_TAKE = "Order would immediately match and take."
_CODE = re.compile(r'"code"\s*:\s*(-?\d{1,6})')
_SIGNATURE = re.compile(r"(signature=)[0-9a-fA-F]+")


@dataclass(frozen=True, slots=True)
class CcxtError:
    """A classified ccxt failure: ``kind``, its registered ``reason_code``, the exchange's
    code (0 when none) and ``message`` (ccxt's text, signatures blanked; never credentials).
    ``outcome_unknown`` is True when the request may have taken effect (network failure)."""

    kind: ErrorKind
    reason_code: str
    binance_code: int
    message: str

    @property
    def outcome_unknown(self) -> bool:
        """True when the request may have reached the exchange and taken effect."""
        return self.kind is ErrorKind.UNAVAILABLE


def scrubbed(message: str) -> str:
    """``message`` with every ``signature=<hex>`` value replaced by ``***``."""
    return _SIGNATURE.sub(r"\1***", message)


def classify(exc: Exception) -> CcxtError:
    """Classify a ccxt exception (module docstring); anything that is not a ccxt error is
    not classified.

    Raises:
        TypeError: ``exc`` is not a ``ccxt.BaseError`` (a bug: it must propagate).
    """
    if not isinstance(exc, ccxt.BaseError):
        raise TypeError(f"not a ccxt error: {type(exc).__name__}") from exc
    message = scrubbed(str(exc))
    found = _CODE.search(message)
    code = int(found.group(1)) if found else 0
    kind: ErrorKind
    if isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        kind = ErrorKind.RATE_LIMITED
    elif isinstance(exc, ccxt.NetworkError):
        kind = ErrorKind.UNAVAILABLE
    elif isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied)):
        kind = ErrorKind.AUTH
    elif code in BINANCE_CODES:
        kind = BINANCE_CODES[code]
    elif isinstance(exc, ccxt.OrderImmediatelyFillable) and _WOULD_TAKE in message:
        kind = ErrorKind.POST_ONLY_CROSS
    elif isinstance(exc, ccxt.InsufficientFunds):
        kind = ErrorKind.INSUFFICIENT_BALANCE
    elif isinstance(exc, ccxt.OrderNotFound):
        kind = ErrorKind.ORDER_NOT_FOUND
    elif isinstance(exc, ccxt.InvalidOrder):
        kind = ErrorKind.INVALID_ORDER
    else:
        kind = ErrorKind.REJECTED
    return CcxtError(kind, REASON_CODES[kind], code, message)
