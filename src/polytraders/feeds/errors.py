"""The one error a feed raises for input it refuses: :class:`FeedError`."""

from __future__ import annotations

from pathlib import Path


class FeedError(ValueError):
    """Market-data input refused: a one-line message ``"<location>: <what is wrong>"``.

    Raised by :func:`polytraders.feeds.open_source` when a location cannot be replayed (missing,
    empty, of no known format, without events, without its metadata, a Parquet column missing
    or of the wrong type), by a source while streaming when its file turns out unreadable
    (a corrupt gzip or Parquet page), and by :meth:`polytraders.feeds.FeedStats.check` when bad
    input exceeds the :class:`~polytraders.feeds.FeedConfig` threshold.

    Attributes:
        location: the file, directory or synthetic spec concerned (as given).
        problem: what is wrong, without the location.
    """

    def __init__(self, location: str | Path, problem: str) -> None:
        self.location = str(location)
        self.problem = " ".join(problem.split())  # one line, whatever the cause's text
        super().__init__(f"{self.location}: {self.problem}")
