"""Exact conversion between Binance's decimal strings (ccxt's ``info``) and micro-units.

ccxt's unified numbers (``price``, ``amount``, ``filled``, ``fee.cost``, ``contracts``,
``entryPrice``, balances, ``fundingRate``) are floats; nothing here reads them. Every value
comes from the exchange's own decimal text in ``info`` (docs/simexchange.md lists the fields)
and is parsed exactly by :func:`polytraders.model.money.to_micros`:

* prices, quantities, filters and entry prices must have at most 6 decimals, else
  :class:`ConversionError` (fail closed: an instrument whose tick is finer than a micro-unit
  cannot be traded by a desk counting in micro-units);
* commissions (Binance writes 8 decimals) are rounded **up** to a micro-unit, free balances
  and funding payments (``income``, signed) **down**, toward −∞ (a cost is never understated,
  money never overstated); a spot buy's commission, which Binance charges in the base asset
  received, is booked as that many micro-units of the base (``Fill.fee_size``, rounded up:
  the desk's position never exceeds the exchange's balance, the part below a micro-unit
  stays at the exchange as dust) and valued in the quote at the trade's price
  (``commission × price``, exact, then rounded up: ``Fill.fee``, reported); a commission in
  any other asset, a base commission on a sell, or a funding payment in another asset than
  the quote (BNB discount), is refused; a spot holding (``free + locked`` less the exact
  dust those rounded-up base commissions left: :func:`commission_dust`,
  :func:`holding_micros`) is rounded down;
* funding rates (8 decimals) are kept exactly in parts per billion.

Orders go out as our own exact text: a price or size off the instrument's grid is refused
(:class:`OffGridError`, before anything is sent) and the text is checked against ccxt's
``price_to_precision``/``amount_to_precision`` (which would round an off-tick price
silently: ``"61800.35"`` → ``"61800.4"``), so ccxt never changes a number we send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

import msgspec

from polytraders.model.market import Instrument
from polytraders.model.money import Rounding, from_micros, to_micros
from polytraders.model.orders import Side

PPB = 1_000_000_000
"""Parts per billion in one (funding rates: ``"0.00010000"`` → 100_000 ppb)."""
_MS_NS = 1_000_000


class ConversionError(ValueError):
    """An exchange answer that cannot be converted exactly (the field is named)."""


class OffGridError(ValueError):
    """An order price or size that is not a multiple of the instrument's grid; ``field`` is
    ``"price"`` or ``"size"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CcxtMarket(msgspec.Struct, frozen=True, kw_only=True):
    """One traded instrument with what ccxt needs to address it.

    Fields: ``instrument`` (venue, symbol, tick and lot step and minimum quantity in
    micro-units); ``ccxt_symbol`` (unified, ``BTC/USDT:USDT``); ``quote`` (the asset fees and
    prices are in, ``USDT``); ``min_notional`` (micro-quote, 0 when the exchange sets none);
    ``base`` (the asset traded, ``BTC``: a spot buy's commission asset).
    """

    instrument: Instrument
    ccxt_symbol: str
    quote: str
    min_notional: int = 0
    base: str = ""

    @property
    def token_id(self) -> str:
        """``<venue>:<symbol>``, the desk's token id of the instrument."""
        return f"{self.instrument.venue}:{self.instrument.symbol}"


def exact(info: Mapping[str, Any], name: str) -> int:
    """Micro-units of the decimal text ``info[name]``, exactly.

    Raises:
        ConversionError: missing, not text, malformed or with non-zero digits beyond 6
            decimals.
    """
    return _parsed(info, name, None)


def fee_micros(info: Mapping[str, Any], name: str = "commission") -> int:
    """A commission in micro-units, rounded up (Binance keeps 8 decimals)."""
    return _parsed(info, name, Rounding.UP)


def base_fee_micros(info: Mapping[str, Any]) -> int:
    """A commission paid in the base asset valued in the quote: ``commission × price``
    (both Binance's decimal text, multiplied exactly) in micro-quote, rounded up.

    Raises:
        ConversionError: either field missing or malformed.
    """
    values = []
    for name in ("commission", "price"):
        text = info.get(name)
        if not isinstance(text, str) or len(text) > 40:
            raise ConversionError(f"{name}: expected decimal text, got {type(text).__name__}")
        try:
            values.append(Decimal(text))
        except InvalidOperation:
            raise ConversionError(f"{name}: malformed decimal {text!r}") from None
    with localcontext(prec=100):
        product = values[0] * values[1]
    if not product.is_finite():
        raise ConversionError(f"commission × price: {product} is not a number")
    return to_micros(format(product, "f"), Rounding.UP)


def balance_micros(info: Mapping[str, Any], name: str) -> int:
    """A balance (or a signed funding payment) in micro-units, rounded toward −∞ (Binance
    keeps 8 decimals)."""
    return _parsed(info, name, Rounding.DOWN)


def commission_dust(info: Mapping[str, Any]) -> Decimal:
    """What rounding a commission up to a micro-unit added (:func:`fee_micros`), exactly, in
    units of the commission's asset: ``fee_micros(info) / 10⁶ − commission``, in [0, 10⁻⁶)
    (0 for Binance's ``"0.00001000"``, ``0.00000066`` for ``"0.00001234"``).

    Raises:
        ConversionError: ``commission`` missing or malformed.
    """
    booked = Decimal(fee_micros(info)).scaleb(-6)
    with localcontext(prec=100):
        return booked - _decimal(info, "commission")


def holding_micros(info: Mapping[str, Any], dust: Decimal) -> int:
    """A spot asset's holding as the desk counts it: ``free + locked − dust`` (a balance
    row of ``/api/v3/account``, exact decimal text; ``dust`` from :func:`commission_dust`)
    in micro-units, rounded toward −∞.

    Raises:
        ConversionError: ``free`` or ``locked`` missing or malformed.
    """
    with localcontext(prec=100):
        total = _decimal(info, "free") + _decimal(info, "locked") - dust
    return to_micros(format(total, "f"), Rounding.DOWN)


def _decimal(info: Mapping[str, Any], name: str) -> Decimal:
    """The decimal text ``info[name]`` as an exact, finite :class:`~decimal.Decimal`."""
    text = info.get(name)
    if not isinstance(text, str) or len(text) > 40:
        raise ConversionError(f"{name}: expected decimal text, got {type(text).__name__}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConversionError(f"{name}: malformed decimal {text!r}") from None
    if not value.is_finite():
        raise ConversionError(f"{name}: {text!r} is not a number")
    return value


def rate_ppb(info: Mapping[str, Any], name: str) -> int:
    """A rate (``"0.00010000"``) in parts per billion, exactly.

    Raises:
        ConversionError: missing, malformed or finer than 1e-9.
    """
    text = info.get(name)
    if not isinstance(text, str) or len(text) > 40:
        raise ConversionError(f"{name}: expected decimal text, got {type(text).__name__}")
    try:
        scaled = Decimal(text) * PPB
    except InvalidOperation:
        raise ConversionError(f"{name}: malformed decimal {text!r}") from None
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ConversionError(f"{name}: {text!r} is finer than one part per billion")
    return int(scaled)


def ms_to_ns(info: Mapping[str, Any], name: str) -> int:
    """A venue time in ms (JSON integer or digit text) as ns.

    Raises:
        ConversionError: missing or not an integer.
    """
    value = info.get(name)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConversionError(f"{name}: expected a time in ms, got {value!r}")
    return value * _MS_NS


def side_of(info: Mapping[str, Any]) -> Side:
    """Our side from ``side`` (``BUY``/``SELL``) or, for spot trades, ``isBuyer``.

    Raises:
        ConversionError: neither present.
    """
    side = info.get("side")
    if side in ("BUY", "SELL"):
        return Side(side)
    if isinstance(info.get("isBuyer"), bool):
        return Side.BUY if info["isBuyer"] else Side.SELL
    raise ConversionError(f"side: expected BUY or SELL, got {side!r}")


def _parsed(info: Mapping[str, Any], name: str, rounding: Rounding | None) -> int:
    text = info.get(name)
    if not isinstance(text, str):
        raise ConversionError(f"{name}: expected decimal text, got {type(text).__name__}")
    try:
        return to_micros(text, rounding)
    except ValueError as exc:
        raise ConversionError(f"{name}: {exc}") from None


def market_of(market: Mapping[str, Any], venue: str) -> CcxtMarket:
    """A :class:`CcxtMarket` from a ccxt market (``exchange.market(symbol)``), its grid read
    from Binance's filters (``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize``/``minQty``,
    ``MIN_NOTIONAL.notional`` on futures, ``NOTIONAL.minNotional`` on spot).

    Raises:
        ConversionError: a filter is missing, not exact in micro-units, or not positive.
    """
    info = market.get("info") or {}
    filters = {f.get("filterType"): f for f in info.get("filters", []) if isinstance(f, dict)}
    try:
        price_filter, lot = filters["PRICE_FILTER"], filters["LOT_SIZE"]
    except KeyError as exc:
        raise ConversionError(f"{market.get('id')}: no {exc.args[0]} filter") from None
    tick, step = exact(price_filter, "tickSize"), exact(lot, "stepSize")
    if tick <= 0 or step <= 0:
        raise ConversionError(f"{market.get('id')}: tick and step must be positive")
    notional = 0
    if "MIN_NOTIONAL" in filters and "notional" in filters["MIN_NOTIONAL"]:
        notional = exact(filters["MIN_NOTIONAL"], "notional")
    elif "NOTIONAL" in filters:
        notional = exact(filters["NOTIONAL"], "minNotional")
    return CcxtMarket(
        instrument=Instrument(
            venue=venue,
            symbol=str(market["id"]),
            price_increment=tick,
            size_increment=step,
            min_size=exact(lot, "minQty"),
        ),
        ccxt_symbol=str(market["symbol"]),
        quote=str(market.get("settle") or market["quote"]),
        min_notional=notional,
        base=str(market.get("base") or ""),
    )


def grid_text(value: int, step: int, field: str) -> str:
    """``value`` micro-units as exact decimal text, when a positive multiple of ``step``.

    Raises:
        OffGridError: not positive or off the grid.
    """
    if value <= 0 or value % step:
        raise OffGridError(
            field,
            f"{field} {from_micros(value)} is not a positive multiple of {from_micros(step)}",
        )
    return from_micros(value)


def checked_by_ccxt(
    text: str, to_precision: Callable[[str, str], str], symbol: str, field: str
) -> str:
    """``text`` after ccxt's ``price_to_precision``/``amount_to_precision``, which must keep
    its value (it does for on-grid text; it rounds or truncates anything else).

    Raises:
        OffGridError: ccxt changed the value.
    """
    formatted = to_precision(symbol, text)
    if to_micros(formatted) != to_micros(text):
        raise OffGridError(field, f"ccxt formats {field} {text} as {formatted}: not on its grid")
    return formatted
