"""Where a run's figures come from: the source badge every figure of the console carries.

Derived from the run's record only (``docs/console.md`` "Sources"):

- ``synthetic``: the run's data were generated (the record's ``synthetic`` flag), whatever
  the clock;
- ``backtest``: a simulated clock over recorded data (the data source is not a websocket URL;
  :func:`polytraders.readiness.store_evidence.run_kind`);
- ``live``: a live-venue session (the recorded config is the live node's) whose orders went
  to a CLOB elsewhere than on loopback: Polymarket;
- ``simulator``: a live-venue session against a CLOB on loopback (``venue.clob_url`` of the
  recorded node config): the local CLOB v2 simulator, never real money, so never counted
  with ``live``;
- ``shadow``: the candidate desk of a ``--shadow`` session (run id ``<run id>-candidate``);
- ``paper``: any other live-clock session (``--paper``, and the current desk of ``--shadow``,
  which trades on a paper venue).

Figures of different sources are never added together.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

import msgspec

from polytraders.commands.live import CANDIDATE_SUFFIX
from polytraders.console.settings import is_loopback
from polytraders.readiness.store_evidence import RunKind, run_kind
from polytraders.store import RunRecord
from polytraders.store.sessions import is_live_clock_source


class Source(StrEnum):
    """The source badge of a figure."""

    SYNTHETIC = "synthetic"
    BACKTEST = "backtest"
    PAPER = "paper"
    SHADOW = "shadow"
    LIVE = "live"
    SIMULATOR = "simulator"


def run_source(record: RunRecord) -> Source:
    """The source of every figure recorded in ``record``'s attempt (module docstring)."""
    if record.synthetic:
        return Source.SYNTHETIC
    kind = run_kind(record)
    if kind is RunKind.BACKTEST:
        return Source.BACKTEST
    if kind is RunKind.LIVE_VENUE:
        return Source.SIMULATOR if _loopback_venue(record) else Source.LIVE
    return Source.SHADOW if record.run_id.endswith(CANDIDATE_SUFFIX) else Source.PAPER


def _loopback_venue(record: RunRecord) -> bool:
    """True when the recorded node config's ``venue.clob_url`` is on loopback."""
    config = msgspec.json.decode(record.desk_config_json)
    venue = config.get("venue") if isinstance(config, dict) else None
    url = venue.get("clob_url") if isinstance(venue, dict) else None
    return isinstance(url, str) and is_loopback(urlsplit(url).hostname or "")


def comparison_source(data_source: str) -> Source:
    """The source of a shadow comparison's figures: ``shadow`` for the hourly windows of a
    live ``--shadow`` session (its data source is the market channel's URL), else
    ``backtest`` (``polytraders shadow compare`` over recorded data)."""
    return Source.SHADOW if is_live_clock_source(data_source) else Source.BACKTEST
