"""Perpetual-futures account figures, exact: positions and funding rates from Binance's
``positionRisk`` and ``premiumIndex`` answers (ccxt's ``info``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from polytraders.venues.ccxt.convert import exact, ms_to_ns, rate_ppb


class PerpPosition(msgspec.Struct, frozen=True, kw_only=True):
    """Our one-way position in one perpetual.

    Fields: ``token_id``; ``size`` (micro-units of the base asset, signed: negative is short;
    ``positionAmt``); ``entry_price`` (micro-quote per unit, ``entryPrice``; 0 when flat);
    ``mark_price`` (``markPrice``; 0 when flat); ``unrealized_pnl`` (micro-quote,
    ``unRealizedProfit``; 0 when flat).
    """

    token_id: str
    size: int = 0
    entry_price: int = 0
    mark_price: int = 0
    unrealized_pnl: int = 0


class FundingRate(msgspec.Struct, frozen=True, kw_only=True):
    """A perpetual's funding: ``rate_ppb`` (the last rate, parts per billion:
    ``"0.00010000"`` → 100_000; paid by longs when positive), ``mark_price`` (micro-quote),
    ``next_funding_ns`` and ``ts_event_ns`` (venue times)."""

    token_id: str
    rate_ppb: int
    mark_price: int
    next_funding_ns: int
    ts_event_ns: int


def position_of(info: Mapping[str, Any], token_id: str) -> PerpPosition:
    """A :class:`PerpPosition` from one ``positionRisk`` entry.

    Raises:
        ConversionError: a field missing or not exact in micro-units.
    """
    return PerpPosition(
        token_id=token_id,
        size=exact(info, "positionAmt"),
        entry_price=exact(info, "entryPrice"),
        mark_price=exact(info, "markPrice"),
        unrealized_pnl=exact(info, "unRealizedProfit"),
    )


def funding_of(info: Mapping[str, Any], token_id: str) -> FundingRate:
    """A :class:`FundingRate` from a ``premiumIndex`` answer.

    Raises:
        ConversionError: a field missing or not exact.
    """
    return FundingRate(
        token_id=token_id,
        rate_ppb=rate_ppb(info, "lastFundingRate"),
        mark_price=exact(info, "markPrice"),
        next_funding_ns=ms_to_ns(info, "nextFundingTime"),
        ts_event_ns=ms_to_ns(info, "time"),
    )
