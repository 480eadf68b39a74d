"""``fills.csv``: every fill of a run, one row each, in the order the desk booked them.

Columns (units in the names; money and quantities as exact decimal strings, never floats). The
money columns are suffixed by the run's quote currency in lower case
(:func:`~polytraders.model.quote.run_currency`): ``price_pusd``, ``notional_pusd``,
``fee_pusd`` for Polymarket; ``price_usdt``, ``notional_usdt``, ``fee_usdt`` for a USDT
instrument (:func:`columns`). The table shows a Polymarket run's:

=================  ==========================================================================
``fill_id``        the fill's id (unique in the run)
``intent_id``      the strategy intent the order came from (``correlation_id`` of its envelopes)
``client_order_id``  the desk's deterministic order id (the store's orders and the envelopes'
                   route plans carry the same one)
``venue_order_id`` the venue's id of the order
``bot_id``         the strategy bot that proposed the intent
``ts_event_ns``    venue time of the execution, ns since the Unix epoch
``time_utc``       the same instant as ISO 8601 UTC with nine fraction digits (exactly equal)
``market_id``      condition id of the market
``market_slug``    the market's slug ("" when the data has none)
``token_id``       the outcome token traded
``outcome``        the token's outcome label (e.g. ``Up``)
``side``           OUR side: ``BUY`` or ``SELL``
``liquidity``      ``MAKER`` (our order rested and was hit) or ``TAKER`` (it crossed on arrival)
``price_pusd``     execution price, pUSD per share
``size_shares``    shares executed
``notional_pusd``  price × size, pUSD
``fee_pusd``       fee, pUSD (makers pay none on Polymarket); paid in the quote unless
                   ``fee_size_shares`` is not 0, when it is that commission's value, reported
``fee_size_shares`` the part of ``size_shares`` the venue kept as commission in the traded
                   asset (a Binance spot BUY; 0 on Polymarket): the position grew by
                   ``size_shares − fee_size_shares`` and cash paid ``notional_pusd`` only
=================  ==========================================================================

A fill on a crypto instrument: ``market_id`` its token id, ``market_slug`` its symbol,
``outcome`` empty; price, notional and fee in the quote currency, named by the columns (e.g.
``price_usdt``); ``size_shares`` and ``fee_size_shares`` in units of the base asset (the
``_shares`` names are Polymarket's).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from polytraders.backtest.result import utc_iso
from polytraders.model.fills import Fill
from polytraders.model.market import Instrument, Market
from polytraders.model.money import from_micros
from polytraders.model.orders import VenueOrder
from polytraders.model.quote import PUSD, run_currency


def columns(currency: str) -> tuple[str, ...]:
    """The header of ``fills.csv`` of a run in ``currency`` (e.g. ``"USDT"``), in order: the
    money columns suffixed by ``currency`` in lower case (module docstring)."""
    unit = currency.lower()
    return (
        "fill_id", "intent_id", "client_order_id", "venue_order_id", "bot_id", "ts_event_ns",
        "time_utc", "market_id", "market_slug", "token_id", "outcome", "side", "liquidity",
        f"price_{unit}", "size_shares", f"notional_{unit}", f"fee_{unit}", "fee_size_shares",
    )  # fmt: skip


COLUMNS = columns(PUSD)
"""The header of a Polymarket run's ``fills.csv`` (see :func:`columns`)."""


def write_fills_csv(
    path: Path,
    fills: Sequence[Fill],
    orders: Mapping[str, VenueOrder],
    markets: Sequence[Market],
    instruments: Sequence[Instrument] = (),
) -> None:
    """Write ``fills`` to ``path`` as CSV with the header of the run's currency
    (:func:`columns` of :func:`~polytraders.model.quote.run_currency` of ``markets`` and
    ``instruments``).

    Args:
        path: the file to create (replaced if it exists).
        fills: the run's fills, written in this order.
        orders: client order id → the desk's order (``DeskState.orders``): gives each fill's
            intent id and bot.
        markets: the run's markets: give each fill's market slug and outcome label.
        instruments: the run's crypto instruments (module docstring).

    Raises:
        ValueError: a fill whose client order id is not in ``orders`` or whose token is in
            none of ``markets`` or ``instruments``; instruments of unknown quote currency or
            more than one currency (:class:`~polytraders.model.quote.QuoteCurrencyError`).
            Nothing is written.
    """
    header = columns(run_currency(markets, instruments))
    tokens = {t.token_id: (m.market_id, m.slug, t.outcome) for m in markets for t in m.tokens}
    tokens.update((i.token_id, (i.token_id, i.symbol, "")) for i in instruments)
    for fill in fills:  # every fill checked before anything is written
        if fill.client_order_id not in orders:
            raise ValueError(
                f"fills.csv: fill {fill.fill_id} is for order {fill.client_order_id}, "
                "which the desk never sent"
            )
        if fill.token_id not in tokens:
            raise ValueError(f"fills.csv: fill {fill.fill_id} is for unknown token {fill.token_id}")
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for fill in fills:  # a row at a time: the rows are never all held
            order = orders[fill.client_order_id]
            market_id, slug, outcome = tokens[fill.token_id]
            writer.writerow((
                fill.fill_id, order.intent_id, fill.client_order_id, fill.venue_order_id,
                order.bot_id, fill.ts_event_ns, utc_iso(fill.ts_event_ns),
                fill.market_id or market_id, slug, fill.token_id, outcome,
                fill.side.value, fill.liquidity.value, from_micros(fill.price),
                from_micros(fill.size), from_micros(fill.notional), from_micros(fill.fee),
                from_micros(fill.fee_size),
            ))  # fmt: skip
