"""Binance's SIGNED endpoint security: ``X-MBX-APIKEY`` header, ``timestamp`` within
``recvWindow`` and an HMAC-SHA256 ``signature`` (lowercase hex) of the request's total
parameters, the query string concatenated with the form body, without the ``signature``
parameter itself (Binance API docs, "SIGNED (TRADE, USER_DATA) Endpoint security").

Checked in that order; a failure raises :class:`~polytraders.simexchange.errors.BinanceError`
with the venue's code: -2015 (401) unknown API key, -1022 (400) missing or wrong signature,
-1021 (400) timestamp outside the window (``recvWindow`` default 5000 ms, at most 60000; a
timestamp more than 1000 ms ahead of the server is refused too), -1102 a missing timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from polytraders.simexchange import errors

DEFAULT_RECV_WINDOW_MS = 5_000
MAX_RECV_WINDOW_MS = 60_000
FUTURE_TOLERANCE_MS = 1_000


@dataclass(frozen=True, slots=True)
class ApiKey:
    """The one account's API key and HMAC secret (simulator-only values)."""

    key: str
    secret: str


def sign(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` under ``secret`` (what a client sends)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _without_signature(text: str) -> tuple[str, str]:
    """(``text`` with its ``signature=…`` parameter removed, the signature or "")."""
    kept: list[str] = []
    found = ""
    for part in text.split("&") if text else []:
        if part.startswith("signature="):
            found = part.removeprefix("signature=")
        else:
            kept.append(part)
    return "&".join(kept), found


def verify(
    api_key: ApiKey, header_key: str | None, query: str, body: str, now_ms: int
) -> dict[str, str]:
    """Check a SIGNED request; returns its parameters (query and body, decoded).

    Raises:
        BinanceError: -2015, -1022, -1102 or -1021 (module docstring).
    """
    if not header_key or not hmac.compare_digest(header_key, api_key.key):
        raise errors.BinanceError(
            401, errors.INVALID_API_KEY, "Invalid API-key, IP, or permissions for action."
        )
    query_part, query_signature = _without_signature(query)
    body_part, body_signature = _without_signature(body)
    given = query_signature or body_signature
    expected = sign(api_key.secret, query_part + body_part)
    if not given or not hmac.compare_digest(given.lower(), expected):
        raise errors.bad(errors.INVALID_SIGNATURE, "Signature for this request is not valid.")
    params = dict(parse_qsl(query_part, keep_blank_values=True))
    params.update(parse_qsl(body_part, keep_blank_values=True))
    try:
        timestamp_ms = int(params["timestamp"])
        window_ms = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    except (KeyError, ValueError):
        raise errors.missing("timestamp") from None
    if not 0 < window_ms <= MAX_RECV_WINDOW_MS:
        raise errors.bad(errors.BAD_PARAMETER, "recvWindow must be less than 60000")
    if timestamp_ms > now_ms + FUTURE_TOLERANCE_MS or now_ms - timestamp_ms > window_ms:
        raise errors.bad(
            errors.INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow."
        )
    return params
