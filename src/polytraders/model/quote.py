"""The quote currency a run's money is in: the one place that names it.

Every money figure of a run (``result.json``'s ``*_usd`` keys, ``fills.csv``, the report, the
CLI tables) is micro-units of one quote currency:

- Polymarket markets: ``pUSD`` (:data:`PUSD`).
- A crypto :class:`~polytraders.model.market.Instrument`: the quote asset its venue prices
  it in, read off the end of its symbol by :data:`QUOTE_ASSETS` (``binance-usdm:BTCUSDT`` →
  ``USDT``, as ccxt's ``settle``/``quote`` of the same market says). A venue or a symbol
  ending in none of its venue's quote assets is refused (:class:`QuoteCurrencyError`), never
  guessed.

A run whose markets and instruments are in more than one currency has no single label for
its sums: :func:`run_currency` refuses it. The currency is derived, never stored in the
encoded structs (``Instrument`` is inside envelopes and their digests).
"""

from __future__ import annotations

from collections.abc import Sequence

from polytraders.model.market import BINANCE_SPOT, BINANCE_USDM, Instrument, Market

PUSD = "pUSD"
"""Polymarket's quote currency (collateral and payouts)."""

QUOTE_ASSETS: dict[str, tuple[str, ...]] = {
    BINANCE_USDM: ("USDT", "USDC"),
    BINANCE_SPOT: ("FDUSD", "USDT", "USDC", "BTC", "ETH", "BNB"),
}
"""Venue → the quote assets its symbols may end in (Binance symbols are base + quote with no
separator: ``BTCUSDT``, ``ETHBTC``). USDⓈ-M perpetuals settle in USDT or USDC; the spot list
holds Binance's main quote assets. The longest matching suffix wins."""


class QuoteCurrencyError(ValueError):
    """An instrument whose quote currency is not known, or a run mixing currencies."""


def instrument_quote(instrument: Instrument) -> str:
    """The quote asset ``instrument`` is priced in (e.g. ``"USDT"``), by :data:`QUOTE_ASSETS`.

    Raises:
        QuoteCurrencyError: the venue has no known quote assets, or the symbol ends in none of
            them (or is nothing but one).
    """
    assets = QUOTE_ASSETS.get(instrument.venue)
    if assets is None:
        raise QuoteCurrencyError(
            f"{instrument.token_id}: no known quote currency for venue {instrument.venue!r} "
            f"(known venues: {', '.join(sorted(QUOTE_ASSETS))})"
        )
    matches = [
        asset
        for asset in assets
        if instrument.symbol.endswith(asset) and len(instrument.symbol) > len(asset)
    ]
    if not matches:
        raise QuoteCurrencyError(
            f"{instrument.token_id}: symbol ends in no known quote asset of {instrument.venue} "
            f"({', '.join(assets)})"
        )
    return max(matches, key=len)


def run_currency(markets: Sequence[Market], instruments: Sequence[Instrument]) -> str:
    """The one quote currency of a run over ``markets`` and ``instruments``: ``pUSD`` when it
    has Polymarket markets (or nothing at all), else the instruments' common quote asset.

    Raises:
        QuoteCurrencyError: an instrument of unknown quote (:func:`instrument_quote`), or
            more than one currency (Polymarket markets beside instruments, or instruments of
            different quote assets): one line naming them.
    """
    by_currency: dict[str, list[str]] = {}
    if markets:
        by_currency[PUSD] = [f"{len(markets)} Polymarket market(s)"]
    for instrument in instruments:
        by_currency.setdefault(instrument_quote(instrument), []).append(instrument.token_id)
    if len(by_currency) > 1:
        named = "; ".join(
            f"{currency}: {', '.join(names)}" for currency, names in sorted(by_currency.items())
        )
        raise QuoteCurrencyError(
            f"the run mixes quote currencies ({named}); its money figures would sum them "
            "under one label: run each currency separately"
        )
    return next(iter(by_currency), PUSD)
