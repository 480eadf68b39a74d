"""Perpetual-futures account figures, exact: positions, funding rates and funding payments
from Binance's ``positionRisk``, ``premiumIndex`` and ``income`` answers (ccxt's ``info``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from polytraders.model.events import FundingPayment
from polytraders.venues.ccxt.convert import (
    CcxtMarket,
    ConversionError,
    balance_micros,
    exact,
    ms_to_ns,
    rate_ppb,
)


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


def funding_payment_of(
    info: Mapping[str, Any], market: CcxtMarket, ts_recv_ns: int
) -> FundingPayment:
    """A :class:`~polytraders.model.events.FundingPayment` from one ``GET /fapi/v1/income``
    row of ``market`` (ccxt's ``fetch_funding_history``): id ``<token id>/f<tranId>``,
    ``amount`` the signed ``income`` rounded toward −∞ (Binance writes 8 decimals), at
    ``time``. The row names no position, mark or rate: those stay 0.

    Raises:
        ConversionError: not a ``FUNDING_FEE`` row of the market's symbol in its quote asset,
            or a field missing or malformed.
    """
    kind, symbol, asset = info.get("incomeType"), info.get("symbol"), info.get("asset")
    if (kind, symbol, asset) != ("FUNDING_FEE", market.instrument.symbol, market.quote):
        raise ConversionError(
            f"income: expected FUNDING_FEE of {market.instrument.symbol} in {market.quote}, "
            f"got {kind!r} of {symbol!r} in {asset!r}"
        )
    tran_id = info.get("tranId")
    if isinstance(tran_id, int) and not isinstance(tran_id, bool):
        tran_id = str(tran_id)
    if not (isinstance(tran_id, str) and tran_id.isascii() and tran_id.isdigit()):
        raise ConversionError(f"tranId: expected an integer id, got {tran_id!r}")
    return FundingPayment(
        ts_event_ns=ms_to_ns(info, "time"),
        ts_recv_ns=ts_recv_ns,
        funding_id=f"{market.token_id}/f{tran_id}",
        token_id=market.token_id,
        amount=balance_micros(info, "income"),
    )
