"""Binance's error answers: HTTP status and ``{"code": <negative int>, "msg": <text>}``.

Codes and messages as Binance's USDⓈ-M error-code reference lists them
(developers.binance.com/docs/derivatives/usds-margined-futures/error-code) and, for spot, its
spot error-code reference (developers.binance.com/docs/binance-spot-api-docs/errors: -2010
NEW_ORDER_REJECTED with the reason as its message, -1013 "Filter failure: <FILTER>"); the
algo-order codes (-20124, -20132) and -4120 as ccxt 4.5.90's ``binance.py`` error map quotes
Binance's messages.
"""

from __future__ import annotations


class BinanceError(Exception):
    """An error answer: ``status`` (HTTP), ``code`` and ``msg`` (the JSON body), ``headers``."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}

    def body(self) -> dict[str, int | str]:
        """The JSON body Binance sends."""
        return {"code": self.code, "msg": self.msg}


TOO_MANY_REQUESTS = -1003
ILLEGAL_CHARS = -1100
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
BAD_PARAMETER = -1102
INVALID_SIDE = -1117
INVALID_ORDER_TYPE = -1116
INVALID_TIME_IN_FORCE = -1115
BAD_PRECISION = -1111
INVALID_SYMBOL = -1121
FILTER_FAILURE = -1013
PARAM_NOT_REQUIRED = -1106
INVALID_RESPONSE_TYPE = -1136
WOULD_TRIGGER = -2021
USE_ALGO_ENDPOINT = -4120
UNKNOWN_ALGO = -20124
DUPLICATE_CLIENT_ALGO_ID = -20132
NEW_ORDER_REJECTED = -2010
UNKNOWN_ORDER = -2011
NO_SUCH_ORDER = -2013
INVALID_API_KEY = -2015
MARGIN_INSUFFICIENT = -2019
REDUCE_ONLY_REJECTED = -2022
QUANTITY_NOT_POSITIVE = -4003
PRICE_NOT_ON_TICK = -4014
INVALID_LEVERAGE = -4028
NOTIONAL_TOO_SMALL = -4164
FOK_REJECTED = -5021
POST_ONLY_REJECTED = -5022


def bad(code: int, msg: str) -> BinanceError:
    """A 400 answer (every request error but authentication and rate limits)."""
    return BinanceError(400, code, msg)


def illegal(name: str, legal_range: str) -> BinanceError:
    """-1100: a parameter outside its legal range (Binance names the range: ``Illegal
    characters found in parameter 'newClientOrderId'; legal range is
    '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.``)."""
    return bad(
        ILLEGAL_CHARS,
        f"Illegal characters found in parameter '{name}'; legal range is '{legal_range}'.",
    )


def missing(name: str) -> BinanceError:
    """-1102: a mandatory parameter is absent or malformed."""
    return bad(
        BAD_PARAMETER,
        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    )
