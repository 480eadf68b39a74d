"""Market data feeds: recorded, synthetic and live sources yielding time-ordered events.

Public API (documented in ``docs/feeds.md``; other layers depend on it, keep it stable):

- :func:`open_source` — open a Parquet directory, a Polymarket market-channel line file, a
  Binance diff-depth recording or a ``synthetic:<scenario>?seed=…`` spec as a :class:`Source`.
- :class:`Source` — ``markets``, ``instruments``, ``synthetic``, ``events()``, ``stats``.
- :func:`merge` — time-ordered k-way merge of sources.
- :mod:`polytraders.feeds.polymarket_wire` — ``parse_market_frame`` / ``encode_market_frame``.
- :class:`BookSet` — apply events to order books; :class:`FeedStats` / :class:`FeedIssue`.
- :class:`FeedError` — every refusal of input (one line naming the location and the problem).
- :class:`FeedConfig` / :class:`FeedHealth` — the bad-input threshold and
  :meth:`FeedStats.check`'s report.
- :func:`parquet_token_id` — the derived token ids of the Parquet layout.
"""

from polytraders.feeds.books import BookSet
from polytraders.feeds.config import FeedConfig
from polytraders.feeds.errors import FeedError
from polytraders.feeds.open import open_source
from polytraders.feeds.parquet import parquet_token_id
from polytraders.feeds.source import Source, merge
from polytraders.feeds.stats import FeedHealth, FeedIssue, FeedStats

__all__ = [
    "BookSet",
    "FeedConfig",
    "FeedError",
    "FeedHealth",
    "FeedIssue",
    "FeedStats",
    "Source",
    "merge",
    "open_source",
    "parquet_token_id",
]
