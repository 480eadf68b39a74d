"""Assumed funding in a backtest: ``FundingRate`` events from the desk file's
``[venue] funding_rates_ppb`` (:class:`~polytraders.venues.paper.config.PaperVenueConfig`).

The Binance recordings carry no funding rate, so a backtest of a perpetual gets its rate from
the desk file (an assumption, labelled so in ``result.json``). :func:`with_assumed_funding`
interleaves, into the data's events, one ``FundingRate`` per perpetual with an assumed rate:
at the first event's time, and at each Binance USDⓈ-M funding time (00:00, 08:00 and 16:00 UTC,
every 8 hours: https://www.binance.com/en/support/faq/introduction-to-binance-futures-funding-rates-360033525031)
up to the last event, before the data's events of that instant. Each names the next funding
time, at which the paper venue settles the position (rule 12.6 of
:mod:`polytraders.venues.paper`); the desk's risk chain reads the rate
(``DeskView.funding_rate_ppb``). The events are marked ``synthetic``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from polytraders.model.events import AnyEvent, FundingRate
from polytraders.model.perp import FUNDING_PERIOD_MS, next_funding_ms

_NS_PER_MS = 1_000_000
FUNDING_PERIOD_NS = FUNDING_PERIOD_MS * _NS_PER_MS
"""Binance USDⓈ-M funding interval in ns (8 hours)."""


def with_assumed_funding(
    events: Iterable[AnyEvent], rates_ppb: Mapping[str, int]
) -> Iterator[AnyEvent]:
    """``events`` (in time order) with the assumed ``FundingRate`` events interleaved (module
    docstring); ``rates_ppb``: perpetual token id → rate (ppb a period, positive: longs pay),
    emitted in token id order at each instant. Empty: ``events`` unchanged."""
    if not rates_ppb:
        yield from events
        return
    rates = sorted(rates_ppb.items())
    next_ns: int | None = None
    for event in events:
        ts = event.ts_event_ns
        if next_ns is None:
            next_ns = next_funding_ms(ts // _NS_PER_MS) * _NS_PER_MS
            yield from _announce(rates, ts, next_ns)
        while ts >= next_ns:
            yield from _announce(rates, next_ns, next_ns + FUNDING_PERIOD_NS)
            next_ns += FUNDING_PERIOD_NS
        yield event


def _announce(rates: list[tuple[str, int]], now_ns: int, next_ns: int) -> Iterator[FundingRate]:
    for token_id, rate in rates:
        yield FundingRate(
            ts_event_ns=now_ns,
            ts_recv_ns=now_ns,
            synthetic=True,
            token_id=token_id,
            rate_ppb=rate,
            next_funding_ns=next_ns,
        )
