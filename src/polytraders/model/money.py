"""Exact decimal ⇄ micro-unit conversion and tick arithmetic.

Every price, size and amount of money in Polytraders is a Python ``int`` in millionths
("micro-units"): Polymarket price ``"0.45"`` → ``450_000``, 10 shares → ``10_000_000``,
Binance price ``"61800.30"`` → ``61_800_300_000``. pUSD and the CTF outcome tokens both have 6
decimals, so these are the CLOB's own integer amounts (``../shared/POLYMARKET.md`` "Orders").

Parsing never goes through ``float``: a decimal string is split at the point and its digits are
read as integers. A string with non-zero digits beyond the sixth decimal cannot be represented
exactly and raises :class:`ValueError` (fail closed) unless the caller names a rounding.

Parsing is bounded: text longer than :data:`MAX_DECIMAL_CHARS` or with an exponent beyond
± :data:`MAX_EXPONENT` is refused before any arithmetic (``"1e-20000000"`` would otherwise
build a 20-million-digit integer: seconds of CPU for one hostile feed message). No venue
number comes near either bound.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Final

MICROS: Final = 1_000_000
"""Micro-units per whole unit (6 decimals)."""

ONE: Final = MICROS
"""1.0 in micro-units: the payout of a winning binary outcome share, in pUSD micro-units."""

_DECIMALS: Final = 6

MAX_DECIMAL_CHARS: Final = 64
"""Longest decimal text :func:`to_micros` evaluates (leading/trailing whitespace included)."""

MAX_EXPONENT: Final = 30
"""Largest exponent magnitude :func:`to_micros` evaluates (``"1e30"``, ``"1e-30"``)."""


class Rounding(Enum):
    """Rounding direction for values that do not land on a grid.

    ``DOWN`` and ``UP`` are toward −∞ and +∞. ``HALF_EVEN`` is banker's rounding, used only
    where a direction carries no risk meaning (reporting).
    """

    DOWN = "down"
    UP = "up"
    HALF_EVEN = "half_even"


def to_micros(text: str, rounding: Rounding | None = None) -> int:
    """Parse a decimal string into integer micro-units, exactly.

    Accepts an optional sign, digits, an optional point and fraction, and an optional exponent
    (``"1e-3"``, as some venues print: an optional sign and ASCII digits). Leading/trailing
    whitespace is ignored. Work is bounded: at most :data:`MAX_DECIMAL_CHARS` characters and an
    exponent within ± :data:`MAX_EXPONENT`, checked before any arithmetic.

    Args:
        text: decimal number as text, e.g. ``"0.45"``, ``"-12"``, ``"61800.30000000"``.
        rounding: how to treat digits beyond the sixth decimal. ``None`` (default) requires
            them to be zero.

    Returns:
        The value × 10⁶ as ``int``.

    Raises:
        ValueError: empty or malformed text, text over :data:`MAX_DECIMAL_CHARS` characters,
            an exponent beyond ± :data:`MAX_EXPONENT`, or inexact without a ``rounding``.
    """
    if len(text) > MAX_DECIMAL_CHARS:
        raise ValueError(f"decimal text of {len(text)} characters (at most {MAX_DECIMAL_CHARS})")
    s = text.strip()
    if not s:
        raise ValueError("empty decimal string")
    exponent = 0
    if "e" in s or "E" in s:
        mantissa, _, exp_text = s.lower().partition("e")
        magnitude = exp_text[1:] if exp_text[:1] in ("+", "-") else exp_text
        if not (magnitude.isascii() and magnitude.isdigit()):
            raise ValueError(f"malformed decimal {text!r}")
        exponent = int(exp_text)
        if abs(exponent) > MAX_EXPONENT:
            raise ValueError(f"exponent of {text!r} is beyond ±{MAX_EXPONENT}")
        s = mantissa
    negative = s.startswith("-")
    if negative or s.startswith("+"):
        s = s[1:]
    whole, _, frac = s.partition(".")
    if (not whole and not frac) or not (whole + frac).isdigit() or not (whole + frac).isascii():
        raise ValueError(f"malformed decimal {text!r}")
    digits = int(whole + frac) if (whole + frac) else 0
    scale = _DECIMALS - len(frac) + exponent
    if scale >= 0:
        value = digits * int(10**scale)
    else:
        divisor = int(10**-scale)
        value, remainder = divmod(digits, divisor)
        if remainder:
            if rounding is None:
                raise ValueError(f"{text!r} has more than {_DECIMALS} decimals")
            value = _round_quotient(value, remainder, divisor, rounding, negative)
    return -value if negative else value


def _round_quotient(
    quotient: int, remainder: int, divisor: int, rounding: Rounding, negative: bool
) -> int:
    """Round a non-negative magnitude quotient; ``negative`` says the final sign."""
    if rounding is Rounding.HALF_EVEN:
        twice = 2 * remainder
        if twice > divisor or (twice == divisor and quotient % 2 == 1):
            return quotient + 1
        return quotient
    # magnitude rounding: toward +inf for a positive value is away from zero.
    away_from_zero = (rounding is Rounding.UP) != negative
    return quotient + 1 if away_from_zero else quotient


def micros_from_recorded(value: float) -> int:
    """Exact micro-units of a decimal that a data source stored as a binary double.

    Some recorded sets (the Parquet book sample) store decimal prices and sizes as IEEE doubles,
    sometimes with arithmetic noise (``1.9300000000000002`` for 1.93). ``repr`` gives the
    shortest decimal string that round-trips to the double; it is parsed exactly and rounded
    half-even to a micro-unit. The result is accepted only if it is the recorded value up to
    float noise: the double nearest to the micro-unit result lies within 4 ULPs of ``value``.
    A genuine 7th decimal (``0.1234567``) is therefore refused, never silently rounded.

    Raises:
        ValueError: NaN/infinity, a value that is not a 6-decimal number up to float noise, or
            one whose ``repr`` is outside :func:`to_micros`'s bounds (beyond about ±1e30).
    """
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    result = to_micros(repr(value), Rounding.HALF_EVEN)
    if abs(float(from_micros(result)) - value) > 4 * math.ulp(value):
        raise ValueError(f"{value!r} is not a 6-decimal number")
    return result


def from_micros(value: int) -> str:
    """Format integer micro-units as the shortest exact decimal string.

    ``450_000`` → ``"0.45"``, ``10_000_000`` → ``"10"``, ``-1`` → ``"-0.000001"``.
    ``to_micros(from_micros(x)) == x`` for every int ``x`` whose text fits
    :data:`MAX_DECIMAL_CHARS` (``|x|`` below 10⁵⁷).
    """
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), MICROS)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def fixed_micros(value: int, decimals: int = 6) -> str:
    """Format micro-units with exactly ``decimals`` (0–6) fraction digits, exactly.

    Used for display and reports where columns must align (``"4.500000"``).

    Raises:
        ValueError: ``decimals`` outside 0–6 or ``value`` not representable at that precision.
    """
    if not 0 <= decimals <= _DECIMALS:
        raise ValueError("decimals must be between 0 and 6")
    step = 10 ** (_DECIMALS - decimals)
    if value % step:
        raise ValueError(f"{value} micro-units are not exact at {decimals} decimals")
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), MICROS)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac // step:0{decimals}d}"


def round_to_step(value: int, step: int, rounding: Rounding) -> int:
    """Round ``value`` to a multiple of ``step`` (both micro-units) in the given direction.

    Raises:
        ValueError: ``step`` not positive.
    """
    if step <= 0:
        raise ValueError("step must be positive")
    quotient, remainder = divmod(value, step)  # floor division: quotient toward -inf
    if not remainder:
        return value
    if rounding is Rounding.DOWN:
        return quotient * step
    if rounding is Rounding.UP:
        return (quotient + 1) * step
    twice = 2 * remainder
    if twice > step or (twice == step and quotient % 2 == 1):
        return (quotient + 1) * step
    return quotient * step


def notional_micros(price: int, size: int, rounding: Rounding = Rounding.DOWN) -> int:
    """Cash value of ``size`` units at ``price``, in micro-units of the quote currency.

    ``price × size / 10⁶``. On Polymarket both factors sit on grids (tick ≥ 0.0001, size step
    0.01) whose product is always a whole micro-pUSD, so the rounding only matters off-grid.
    """
    quotient, remainder = divmod(price * size, MICROS)
    if not remainder:
        return quotient
    if rounding is Rounding.DOWN:
        return quotient
    if rounding is Rounding.UP:
        return quotient + 1
    twice = 2 * remainder
    return quotient + 1 if twice > MICROS or (twice == MICROS and quotient % 2) else quotient


def complement_price(price: int) -> int:
    """Price of the complementary binary outcome: ``1 − p`` (micro-units).

    Buying YES at ``p`` is economically selling NO at ``1 − p`` (DESIGN.md "Model").
    """
    return ONE - price


def is_valid_binary_price(price: int, tick: int) -> bool:
    """Polymarket price rule: a multiple of the tick within ``[tick, 1 − tick]``.

    Source: ``../shared/POLYMARKET.md`` "Orders".
    """
    return tick > 0 and price % tick == 0 and tick <= price <= ONE - tick
