"""Venue fees: Polymarket taker fees and crypto commissions in basis points.

Polymarket. Source: ``../shared/POLYMARKET.md`` "Fees" — taker fee per matched level
``shares × rate × p × (1 − p)`` (exponent 1), rounded to 5 decimals of pUSD; makers pay none.
Rates by market category (published 2026-09-28) are configuration: :data:`DEFAULT_FEE_RATES_PPM`
is the default table, in parts per million (0.07 → 70_000).

Crypto (Binance and alike): a commission of ``price × size × rate_bps / 10⁴`` in the quote
currency, for makers and takers at their own rates (:func:`bps_fee_micros`). Binance USDⓈ-M
VIP 0: maker 0.0200 % (2 bps), taker 0.0500 % (5 bps), https://www.binance.com/en/fee/futureFee
(:data:`BINANCE_USDM_MAKER_FEE_BPS`, :data:`BINANCE_USDM_TAKER_FEE_BPS`). Binance spot
charges a BUY's commission in the base asset received (:func:`spot_buy_commission`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from polytraders.model.money import MICROS, ONE

FEE_QUANTUM: Final = 10
"""Fees are rounded to 5 decimals of pUSD: multiples of 10 micro-pUSD."""

DEFAULT_FEE_RATES_PPM: Final = MappingProxyType(
    {
        "crypto": 70_000,
        "sports": 50_000,
        "finance": 40_000,
        "equities": 40_000,
        "politics": 40_000,
        "economics": 50_000,
        "culture": 50_000,
        "weather": 50_000,
        "social": 50_000,
        "mentions": 40_000,
        "tech": 40_000,
        "geopolitics": 0,
        "other": 50_000,
    }
)
"""Taker fee rate per category, parts per million (``../shared/POLYMARKET.md`` "Fees")."""


def taker_fee_micros(size: int, price: int, rate_ppm: int) -> int:
    """Taker fee for one matched level, in micro-pUSD, rounded half-up to 5 decimals.

    ``size × rate × p × (1 − p)`` with ``size`` in micro-shares, ``price`` in micro-pUSD and
    ``rate_ppm`` in parts per million. Exact integer arithmetic; the half-up rounding to the
    nearest 0.00001 pUSD follows the venue's 5-decimal rounding.

    Raises:
        ValueError: negative size or rate, or price outside [0, 1].
    """
    if size < 0 or rate_ppm < 0 or not 0 <= price <= ONE:
        raise ValueError("fee inputs out of range")
    # size[1e-6] * rate[1e-6] * p[1e-6] * (1-p)[1e-6] → fee in 1e-24; want units of 1e-5.
    numerator = size * rate_ppm * price * (ONE - price)
    denominator = MICROS**3 * FEE_QUANTUM  # 1e-24 → 1e-6 is /1e18; → quanta of 10 micro.
    quanta, remainder = divmod(numerator, denominator)
    if 2 * remainder >= denominator:
        quanta += 1
    return quanta * FEE_QUANTUM


BPS: Final = 10_000
"""Basis points in 1."""

BINANCE_USDM_MAKER_FEE_BPS: Final = 2
"""Binance USDⓈ-M VIP 0 maker commission, 0.0200 % (https://www.binance.com/en/fee/futureFee)."""
BINANCE_USDM_TAKER_FEE_BPS: Final = 5
"""Binance USDⓈ-M VIP 0 taker commission, 0.0500 % (https://www.binance.com/en/fee/futureFee)."""
BINANCE_SPOT_MAKER_FEE_BPS: Final = 10
"""Binance spot regular user (VIP 0) maker commission, 0.1000 %
(https://www.binance.com/en/fee/trading; without the BNB discount)."""
BINANCE_SPOT_TAKER_FEE_BPS: Final = 10
"""Binance spot regular user (VIP 0) taker commission, 0.1000 %
(https://www.binance.com/en/fee/trading; without the BNB discount)."""


def bps_fee_micros(price: int, size: int, rate_bps: int) -> int:
    """Commission of one fill in micro-units of the quote currency: ``price × size × rate_bps
    / 10⁴`` with ``price`` in micro-quote per unit, ``size`` in micro-units of the base asset,
    floored to a micro-unit (Binance keeps 8 decimals of USDT; the floor drops at most one
    micro-USDT, always in the account's favour). Exact integer arithmetic.

    Raises:
        ValueError: negative price, size or rate.
    """
    if price < 0 or size < 0 or rate_bps < 0:
        raise ValueError("fee inputs out of range")
    return price * size * rate_bps // (BPS * MICROS)


E8_PER_MICRO: Final = 100
"""Units of 10⁻⁸ (Binance spot's balance precision) in one micro-unit."""


def spot_buy_commission(price: int, size: int, rate_bps: int) -> tuple[int, int]:
    """A Binance spot BUY's commission, charged in the base asset received: ``(fee,
    fee_size)`` as the ccxt venue books the exchange's trade (:class:`~polytraders.model.fills.
    Fill` fields).

    The exchange's commission is ``size × rate_bps / 10⁴`` of the base floored to 10⁻⁸ (the 8
    decimals Binance spot keeps; the spot simulator does the same); ``fee_size`` is it rounded
    up to a micro-unit of the base and ``fee`` its value at ``price`` rounded up to a
    micro-unit of the quote (the roundings of
    :func:`polytraders.venues.ccxt.convert.fee_micros` and ``base_fee_micros``). ``price`` in
    micro-quote per unit, ``size`` in micro-units of the base. Exact integer arithmetic.

    Raises:
        ValueError: negative price, size or rate.
    """
    if price < 0 or size < 0 or rate_bps < 0:
        raise ValueError("fee inputs out of range")
    commission_e8 = size * E8_PER_MICRO * rate_bps // BPS
    fee_size = -(-commission_e8 // E8_PER_MICRO)
    fee = -(-commission_e8 * price // (MICROS * E8_PER_MICRO))
    return fee, fee_size
