"""The fill model's bounds in the same pass: shadow paper venues beside the run's venue.

:class:`BoundVenues` is the :class:`~polytraders.venues.base.Venue` the desk trades on: every
call goes to the run's own :class:`~polytraders.venues.paper.PaperVenue` (whose answers the
desk sees) and, the same call at the same time, to one shadow venue per bound queue model
(``pessimistic``, ``l2_inference``) whose answers only collect their fills. A shadow has the
run's config but the bound's queue model and answers at once (its response latency is 0: no
desk reads it, and delivery does not change matching), and its own ids
(``{run_id}/{queue_model}``); it keeps no fill reports (nobody reconciles it: its fills are
collected here). It is open loop: the desk decides on the run's own fills, and a
shadow fills, rejects (for its own balances) or cancels the same orders under its rules.

Cost: each shadow replays every market event through its own book copy; on the shipped
Polymarket sample the two shadows take a pass without outputs from 10.5 s to 12.7 s
(``docs/paper_venue.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

from polytraders.model.events import AnyEvent
from polytraders.model.fills import Fill
from polytraders.model.market import Instrument, Market
from polytraders.model.orders import VenueOrder
from polytraders.venues.base import VenueEvent
from polytraders.venues.paper.config import QueueModel
from polytraders.venues.paper.venue import PaperVenue

BOUND_MODELS: dict[str, QueueModel] = {"PESSIMISTIC": "pessimistic", "OPTIMISTIC": "l2_inference"}
"""Bound → the queue model that gives it."""


class BoundVenues:
    """The run's paper venue plus a shadow venue for each bound its queue model is not.

    Args:
        main: the run's venue (the desk sees its answers).
        markets: the markets the venue trades.
        instruments: the crypto instruments it trades (rule 12).

    ``shadows`` maps a bound (``PESSIMISTIC``/``OPTIMISTIC``) to its shadow venue; a bound whose
    queue model is the main venue's own has no shadow (the run's figures are that bound).
    """

    name = "paper"

    def __init__(
        self, main: PaperVenue, markets: Sequence[Market], instruments: Sequence[Instrument] = ()
    ) -> None:
        self.main = main
        self.shadows: dict[str, PaperVenue] = {}
        self._fills: dict[str, list[Fill]] = {}
        config = main.config
        for which, model in BOUND_MODELS.items():
            if model == config.queue_model:
                continue
            shadow_config = config.with_queue_model(model, response_latency_ms=0)
            self.shadows[which] = PaperVenue(
                shadow_config,
                markets,
                f"{main.run_id}/{model}",
                fill_reports=False,
                instruments=instruments,
            )
            self._fills[which] = []

    def fills(self, which: str) -> list[Fill]:
        """Every fill the shadow of bound ``which`` made so far.

        Raises:
            KeyError: no shadow for that bound.
        """
        self._collect()
        return list(self._fills[which])

    def _collect(self) -> None:
        for which, shadow in self.shadows.items():
            self._fills[which].extend(e for e in shadow.poll() if isinstance(e, Fill))

    # ================================================================== Venue protocol
    def submit(self, order: VenueOrder, now_ns: int) -> None:
        self.main.submit(order, now_ns)
        for shadow in self.shadows.values():
            shadow.submit(order, now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.main.cancel(client_order_id, now_ns)
        for shadow in self.shadows.values():
            shadow.cancel(client_order_id, now_ns)

    def cancel_all(self, now_ns: int) -> None:
        self.main.cancel_all(now_ns)
        for shadow in self.shadows.values():
            shadow.cancel_all(now_ns)

    def on_market_event(self, event: AnyEvent) -> None:
        """The run's venue first (its ``ValueError`` stops the event there), then the
        shadows."""
        self.main.on_market_event(event)
        for shadow in self.shadows.values():
            shadow.on_market_event(event)

    def advance(self, now_ns: int) -> None:
        self.main.advance(now_ns)
        for shadow in self.shadows.values():
            shadow.advance(now_ns)

    def poll(self) -> list[VenueEvent]:
        """The run's venue's answers; the shadows' fills are kept for :meth:`fills`."""
        self._collect()
        return self.main.poll()

    def open_orders(self) -> Sequence[VenueOrder]:
        return self.main.open_orders()

    def balances(self) -> dict[str, int]:
        return self.main.balances()

    def heartbeat(self, now_ns: int) -> bool:
        return self.main.heartbeat(now_ns)
