"""Shared inputs of the shadow-comparison tests: the shipped sample, a subset of its markets,
desk files with one guard's threshold changed, and comparisons computed once per test process
(each one runs two desks)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.shadow_compare import ShadowComparison, compare_desks

SAMPLE = (
    Path(__file__).resolve().parents[2] / "data" / "samples" / "polymarket" / "resolvedkit_btc15m"
)

STALE = "risk.stalebookguard"
STALE_DEFAULT_MS = 15_000
"""``risk.stalebookguard``'s default ``max_book_age_ms`` (the baseline's threshold)."""
STALE_LOOSE_MS = 30_000
"""The loosened candidate: books up to 30 s old pass (more permissive: unsafe divergences)."""
STALE_TIGHT_MS = 5_000
"""The tightened candidate: books older than 5 s are refused (stricter: safe divergences)."""


def desk_entry(bot_id: str, **fields: Any) -> DeskFile:
    """The default desk with ``fields`` (``mode``, ``config``, ``modelled_latency_us``…) set in
    risk bot ``bot_id``'s entry (other bots unchanged)."""
    data = DeskFile().model_dump(mode="json")
    data["risk"] = [
        {**entry, **fields} if entry["id"] == bot_id else entry for entry in data["risk"]
    ]
    return DeskFile.from_mapping(data)


def desk_with(bot_id: str, **config: Any) -> DeskFile:
    """The default desk with ``bot_id``'s config set to ``config`` (other bots unchanged)."""
    return desk_entry(bot_id, config=dict(config))


@cache
def _scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="shadow-data-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def subset(markets: int = 3) -> Path:
    """A Parquet set of the sample's first ``markets`` markets (by start time) and their book
    rows: the same real data, a fraction of the events."""
    folder = _scratch() / f"first{markets}"
    folder.mkdir()
    table = pq.read_table(SAMPLE / "markets.parquet").sort_by("start_ts").slice(0, markets)
    books = pq.read_table(SAMPLE / "books.parquet")
    books = books.filter(pc.is_in(books.column("market_id"), value_set=table.column("market_id")))
    pq.write_table(table, folder / "markets.parquet")
    pq.write_table(books, folder / "books.parquet")
    return folder


@cache
def aa_full() -> ShadowComparison:
    """The default desk against itself on the whole sample (with the execution parity)."""
    return compare_desks(data=SAMPLE, baseline=DeskFile(), candidate=DeskFile())


@cache
def loosened(data: str) -> ShadowComparison:
    """Default desk vs the stale-book guard at 30 s on ``data`` (with the execution parity)."""
    return compare_desks(
        data=data, baseline=DeskFile(), candidate=desk_with(STALE, max_book_age_ms=STALE_LOOSE_MS)
    )


@cache
def tightened(data: str) -> ShadowComparison:
    """Default desk vs the stale-book guard at 5 s on ``data`` (decisions only)."""
    return compare_desks(
        data=data,
        baseline=DeskFile(),
        candidate=desk_with(STALE, max_book_age_ms=STALE_TIGHT_MS),
        parity=False,
    )


@cache
def aa(data: str) -> ShadowComparison:
    """The default desk against itself on ``data`` (decisions only)."""
    return compare_desks(data=data, baseline=DeskFile(), candidate=DeskFile(), parity=False)
