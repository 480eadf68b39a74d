"""The default desk (the seven risk guards, exec.smartrouter, the paper venue, the default
account) around a test strategy, over the head of the real shipped sample."""

from __future__ import annotations

import itertools
from functools import cache

from polytraders.backtest.desk_file import DeskFile
from polytraders.desk.desk import Desk, DeskConfig
from polytraders.desk.slots import BotSlot
from polytraders.feeds import open_source
from polytraders.model.events import AnyEvent
from polytraders.model.market import Market
from polytraders.venues.paper import PaperVenue
from tests.conftest import POLYMARKET_SAMPLE

HEAD_EVENTS = 400
"""Events of the sample's head used (its first market's first minutes, both tokens)."""


@cache
def sample_head() -> tuple[tuple[Market, ...], tuple[AnyEvent, ...]]:
    """The sample's markets and its first ``HEAD_EVENTS`` events (immutable, shared)."""
    source = open_source(POLYMARKET_SAMPLE)
    return tuple(source.markets), tuple(itertools.islice(source.events(), HEAD_EVENTS))


def default_desk(
    strategy: object,
    *,
    config: DeskConfig | None = None,
    venue_class: type[PaperVenue] = PaperVenue,
) -> Desk:
    """The default desk of ``DeskFile()`` with ``strategy`` as its only (ENFORCED) strategy, on
    a ``venue_class`` (the paper venue or a subclass of it) with the desk file's settings."""
    desk_file = DeskFile()
    markets, _ = sample_head()
    _, risk, execution = desk_file.build_slots()
    return Desk(
        run_id="run-sample",
        venue=venue_class(desk_file.venue, markets, "run-sample"),
        strategies=[BotSlot(strategy)],
        risk=risk,
        execution=execution,
        markets=markets,
        config=config,
        account=desk_file.account.identity(),
    )
