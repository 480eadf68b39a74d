"""Market data feeds: recorded, synthetic and live sources yielding time-ordered events.

Public API (documented in ``docs/feeds.md``; other layers depend on it, keep it stable):

- :func:`open_source` — open a Parquet directory, a Polymarket market-channel line file, a
  Binance diff-depth recording or a ``synthetic:<scenario>?seed=…`` spec as a :class:`Source`.
- :class:`Source` — ``markets``, ``instruments``, ``synthetic``, ``events()``, ``stats``.
- :func:`merge` — time-ordered k-way merge of sources.
- :mod:`polytraders.feeds.polymarket_wire` — ``parse_market_frame`` / ``encode_market_frame``.
- :class:`BookSet` — apply events to order books; :class:`FeedStats` / :class:`FeedIssue`.
- :func:`parquet_token_id` — the derived token ids of the Parquet layout.
"""

from polytraders.feeds.books import BookSet
from polytraders.feeds.open import open_source
from polytraders.feeds.parquet import parquet_token_id
from polytraders.feeds.source import Source, merge
from polytraders.feeds.stats import FeedIssue, FeedStats

__all__ = [
    "BookSet",
    "FeedIssue",
    "FeedStats",
    "Source",
    "merge",
    "open_source",
    "parquet_token_id",
]
