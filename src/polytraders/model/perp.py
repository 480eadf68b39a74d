"""Perpetual-futures margin and funding rules (Binance USDⓈ-M, one-way, cross margin). Pure.

Units (DESIGN.md "Numbers, time, identity"): prices micro-USDT per unit of the base asset, sizes
micro-units of the base asset (signed, short < 0, as :class:`~polytraders.model.position.Position`),
money micro-USDT, maintenance margin rates in ppm (``maintMarginRatio`` 0.004 → 4_000), funding
rates in ppb (``lastFundingRate`` "0.00010000" → 100_000: Binance prints 8 decimals), leverage
and margin ratio as exact comparisons or in ppm (20× → 20_000_000 ppm; 100 % → 1_000_000 ppm).

Formulas (Binance support FAQ and API reference):

* notional = |size| × mark; unrealized PnL = size × mark − cost basis
  (:meth:`Position.unrealized_pnl`); initial margin = notional / leverage.
* maintenance margin = notional × maintMarginRatio − maintAmount (``cum``) of the bracket whose
  ``(notionalFloor, notionalCap]`` holds the notional ("Leverage and Margin of USDⓈ-M Futures";
  "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts", section Maintenance Margin;
  brackets as ``GET /fapi/v1/leverageBracket`` serves them).
* margin balance = wallet balance + unrealized PnL; margin ratio = maintenance margin / margin
  balance; the account is liquidated when it reaches 100 % (Binance FAQ "What Is Margin Ratio").
* funding paid to the account at a funding time = −size × mark × funding rate: longs pay when
  the rate is positive, shorts receive ("Introduction to Binance Futures Funding Rates": funding
  amount = nominal value of positions × funding rate, nominal value = mark price × size).
* liquidation price, one symbol in a cross account, one-way mode:
  ``LP = (WB + cum − side × |size| × EP) / (|size| × MMR − side × |size|)`` ("How to Calculate
  Liquidation Price of USDⓈ-M Futures Contracts", with TMM = UPNL = 0 for no other symbol;
  ``side × |size| × EP`` is the signed cost basis).

Rounding, always against the account (what a guard must assume): notional and unrealized PnL
floor (as :func:`~polytraders.model.money.notional_micros`), initial and maintenance margin
round up, funding floors toward −∞ (the payer pays the rounded-up amount, the receiver gets the
rounded-down one), a long's liquidation price rounds up and a short's down.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import Side
from polytraders.model.position import Position

PPM: Final = 1_000_000
"""Parts per million in one (maintenance margin rates, margin ratio, leverage)."""
PPB: Final = 1_000_000_000
"""Parts per billion in one (funding rates)."""
FUNDING_PERIOD_MS: Final = 8 * 3_600_000
"""Binance USDⓈ-M funding interval: funding times are 00:00, 08:00 and 16:00 UTC."""


@dataclass(frozen=True, slots=True)
class MarginBracket:
    """One notional bracket of ``GET /fapi/v1/leverageBracket``.

    Fields: ``floor_micros``/``cap_micros`` (``notionalFloor``/``notionalCap``, micro-USDT; the
    bracket holds notionals in ``(floor, cap]``, the first bracket also 0);
    ``maint_ratio_ppm`` (``maintMarginRatio``); ``maint_amount_micros`` (``cum``);
    ``max_leverage`` (``initialLeverage``).
    """

    floor_micros: int
    cap_micros: int
    maint_ratio_ppm: int
    maint_amount_micros: int
    max_leverage: int


def _bracket(floor: int, cap: int, ratio_ppm: int, amount: int, leverage: int) -> MarginBracket:
    return MarginBracket(floor * MICROS, cap * MICROS, ratio_ppm, amount * MICROS, leverage)


BTCUSDT_BRACKETS: Final = (
    _bracket(0, 50_000, 4_000, 0, 125),
    _bracket(50_000, 250_000, 5_000, 50, 100),
    _bracket(250_000, 1_000_000, 10_000, 1_300, 50),
    _bracket(1_000_000, 10_000_000, 25_000, 16_300, 20),
    _bracket(10_000_000, 20_000_000, 50_000, 266_300, 10),
    _bracket(20_000_000, 50_000_000, 100_000, 1_266_300, 5),
    _bracket(50_000_000, 100_000_000, 125_000, 2_516_300, 4),
    _bracket(100_000_000, 200_000_000, 150_000, 5_016_300, 3),
    _bracket(200_000_000, 300_000_000, 250_000, 25_016_300, 2),
    _bracket(300_000_000, 500_000_000, 500_000, 100_016_300, 1),
)
"""BTCUSDT's table as Binance published it in 2021 (the liquidation-price FAQ's examples: a
264,000 USDT position is at 1 %, a 500,000 USDT one has a 1,300 USDT maintenance amount);
today's table differs: serve the venue's own ``leverageBracket`` answer when it matters."""


MARGIN_BRACKETS: Final[Mapping[str, tuple[MarginBracket, ...]]] = MappingProxyType(
    {"binance-usdm:BTCUSDT": BTCUSDT_BRACKETS}
)
"""The bracket table of each perpetual the desk knows one for, by instrument token id
(``"<venue>:<symbol>"``); a perpetual missing here has no known maintenance margin."""


def bracket_problems(brackets: Sequence[MarginBracket]) -> list[str]:
    """Structural problems of a bracket table (empty when valid): brackets start at 0, are
    contiguous, rates rise, and each ``cum`` is Binance's
    ``cum(n) = cum(n−1) + floor(n) × (rate(n) − rate(n−1))`` so the maintenance margin is
    continuous at every boundary (exact in micro-USDT)."""
    if not brackets:
        return ["no brackets"]
    problems: list[str] = []
    first = brackets[0]
    if first.floor_micros != 0 or first.maint_amount_micros != 0:
        problems.append("the first bracket starts at notional 0 with maintenance amount 0")
    for low, high in itertools.pairwise(brackets):
        if high.floor_micros != low.cap_micros:
            problems.append(f"gap or overlap at notional {high.floor_micros}")
        if high.maint_ratio_ppm <= low.maint_ratio_ppm:
            problems.append(f"rate does not rise at notional {high.floor_micros}")
        step = high.floor_micros * (high.maint_ratio_ppm - low.maint_ratio_ppm)
        if high.maint_amount_micros * PPM != low.maint_amount_micros * PPM + step:
            problems.append(f"maintenance amount not continuous at {high.floor_micros}")
    return problems


def bracket_for(brackets: Sequence[MarginBracket], notional_micros_: int) -> MarginBracket:
    """The bracket holding ``notional_micros_`` (``(floor, cap]``; 0 is in the first).

    Raises:
        ValueError: a negative notional or one above the last cap (Binance refuses such a
            position).
    """
    if notional_micros_ < 0:
        raise ValueError("notional must be non-negative")
    for bracket in brackets:
        if notional_micros_ <= bracket.cap_micros:
            return bracket
    raise ValueError(f"notional {notional_micros_} is above the last bracket's cap")


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def notional(position: Position, mark_price: int) -> int:
    """|size| × mark (micro-USDT, floored); 0 when flat."""
    return notional_micros(mark_price, abs(position.size))


def initial_margin(notional_micros_: int, leverage: int) -> int:
    """notional / leverage (micro-USDT, rounded up).

    Raises:
        ValueError: leverage below 1.
    """
    if leverage < 1:
        raise ValueError("leverage must be at least 1")
    return _ceil_div(notional_micros_, leverage)


def maintenance_margin(notional_micros_: int, brackets: Sequence[MarginBracket]) -> int:
    """notional × maintMarginRatio − cum of the notional's bracket (micro-USDT, rounded up).

    Raises:
        ValueError: as :func:`bracket_for`.
    """
    bracket = bracket_for(brackets, notional_micros_)
    return _ceil_div(notional_micros_ * bracket.maint_ratio_ppm, PPM) - bracket.maint_amount_micros


def margin_ratio_ppm(maintenance_micros: int, margin_balance_micros: int) -> int | None:
    """maintenance margin / margin balance in ppm (rounded up; 1_000_000 = 100 %, liquidation).

    Returns None when the margin balance is ≤ 0 (insolvent: beyond every threshold); use
    :func:`margin_ratio_at_least` to compare with a threshold exactly.
    """
    if margin_balance_micros <= 0:
        return None
    return _ceil_div(maintenance_micros * PPM, margin_balance_micros)


def margin_ratio_at_least(
    maintenance_micros: int, margin_balance_micros: int, threshold_ppm: int
) -> bool:
    """Exactly: maintenance / margin balance ≥ ``threshold_ppm`` / 10⁶ (always true when the
    margin balance is ≤ 0 and a maintenance margin is due, or ≤ 0 with none due)."""
    if margin_balance_micros <= 0:
        return True
    return maintenance_micros * PPM >= threshold_ppm * margin_balance_micros


def effective_leverage_ppm(notional_micros_: int, margin_balance_micros: int) -> int | None:
    """notional / margin balance in ppm (rounded up; 20× = 20_000_000); None when the margin
    balance is ≤ 0 (unbounded leverage)."""
    if margin_balance_micros <= 0:
        return None
    return _ceil_div(notional_micros_ * PPM, margin_balance_micros)


def funding_payment(position: Position, mark_price: int, rate_ppb: int) -> int:
    """Funding paid to the account at a funding time (micro-USDT; negative: the account pays).

    ``−size × mark × rate``, floored toward −∞. Positive rate: longs pay, shorts receive;
    negative rate: the reverse; flat: 0.
    """
    return funding_of_size(position.size, mark_price, rate_ppb)


def funding_of_size(size: int, mark_price: int, rate_ppb: int) -> int:
    """:func:`funding_payment` of a signed ``size`` (micro-units of the base asset)."""
    return -(size * mark_price * rate_ppb) // (MICROS * PPB) if size else 0


def next_funding_ms(now_ms: int) -> int:
    """The first funding time strictly after ``now_ms`` (ms since the epoch, UTC)."""
    return (now_ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS


def liquidation_price(
    position: Position, wallet_micros: int, brackets: Sequence[MarginBracket]
) -> int | None:
    """The mark at which the margin ratio of a one-symbol cross account reaches 100 %
    (micro-USDT per unit; a long's rounded up, a short's down); None when flat or when no
    positive price liquidates (Binance shows "--").

    Each bracket's formula is tried in turn and the first price whose notional lies in that
    bracket is the answer (the FAQ's rule for a price in another level than the position's).
    """
    size = abs(position.size)
    if not size:
        return None
    side = 1 if position.size > 0 else -1
    for bracket in brackets:
        # LP × |size|/10⁶ × (rate/10⁶ − side) = WB + cum − cost basis, all in micro-USDT.
        numerator = (
            (wallet_micros + bracket.maint_amount_micros - position.cost_basis) * PPM * MICROS
        )
        denominator = size * (bracket.maint_ratio_ppm - side * PPM)
        price = _ceil_div(numerator, denominator) if side > 0 else numerator // denominator
        if price <= 0:
            continue
        at_price = notional_micros(price, size)
        if bracket.floor_micros <= at_price <= bracket.cap_micros:
            return price
    return None


class PerpAccount:
    """A USDT-margined cross account holding one perpetual (one-way mode): the wallet balance
    and a :class:`Position` whose realized PnL, fees and funding flow into the wallet, so
    ``wallet == initial + realized PnL − fees + funding`` exactly.

    Attributes: ``position``; ``wallet_micros``; ``funding_micros`` (funding received, net);
    ``leverage`` (the symbol's initial leverage, 1–125); ``brackets``.
    """

    __slots__ = ("brackets", "funding_micros", "leverage", "position", "wallet_micros")

    def __init__(
        self,
        symbol: str,
        wallet_micros: int,
        leverage: int,
        brackets: Sequence[MarginBracket] = BTCUSDT_BRACKETS,
    ) -> None:
        self.position = Position(symbol)
        self.wallet_micros = wallet_micros
        self.funding_micros = 0
        self.leverage = leverage
        self.brackets = tuple(brackets)

    def trade(self, side: Side, price: int, size: int, fee: int) -> int:
        """Apply a fill; the wallet moves by realized PnL − fee. Returns the realized PnL."""
        realized = self.position.apply_trade(side, price, size, fee)
        self.wallet_micros += realized - fee
        return realized

    def settle_funding(self, mark_price: int, rate_ppb: int) -> int:
        """Charge or credit funding at a funding time (:func:`funding_payment`); returns it."""
        payment = funding_payment(self.position, mark_price, rate_ppb)
        self.wallet_micros += payment
        self.funding_micros += payment
        return payment

    def unrealized_pnl(self, mark_price: int) -> int:
        """Position PnL at ``mark_price`` (micro-USDT, floored)."""
        return self.position.unrealized_pnl(mark_price)

    def margin_balance(self, mark_price: int) -> int:
        """Wallet balance + unrealized PnL (micro-USDT)."""
        return self.wallet_micros + self.unrealized_pnl(mark_price)

    def maintenance_margin(self, mark_price: int) -> int:
        """Maintenance margin of the position at ``mark_price`` (micro-USDT, rounded up)."""
        return maintenance_margin(notional(self.position, mark_price), self.brackets)

    def initial_margin(self, mark_price: int) -> int:
        """Initial margin of the position at ``mark_price`` (micro-USDT, rounded up)."""
        return initial_margin(notional(self.position, mark_price), self.leverage)

    def liquidation_price(self) -> int | None:
        """:func:`liquidation_price` of this account."""
        return liquidation_price(self.position, self.wallet_micros, self.brackets)
