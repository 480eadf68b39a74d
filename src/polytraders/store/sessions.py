"""Which recorded runs ran on a live clock (a paper, shadow or live session on live market
data) rather than a simulated one (a backtest or replay).

The store has no column for it; the commands that start runs tell them apart by what they
record as the run's ``data_source`` (``docs/runs.md`` "Live sessions"):

- ``polytraders live`` / ``polytraders run --venue polymarket --paper|--shadow|--live``
  (:mod:`polytraders.commands.live`) records the **market channel's websocket URL**
  (``wss://ws-subscriptions-clob.polymarket.com/ws/market`` by default, ``ws://127.0.0.1:…``
  against the local CLOB v2 simulator) for every desk of the session, the shadow candidate
  ``<run id>-candidate`` included;
- a backtest (:func:`polytraders.backtest.engine.run_desk`) records the data location it
  replays (a path, or a ``synthetic:`` spec), never a websocket URL, and starts at
  ``started_ns = 0``.

So a run is a live-clock run exactly when its ``data_source`` starts with ``ws://`` or
``wss://``. Under a live clock an envelope's ``ts_decided_ns`` is wall time (UTC ns) and its
``latency_ns`` the measured thread CPU time of the bot's call; under a simulated clock both
are modelled (``polytraders.contracts.envelope``), which is why runtime evidence reads
live-clock runs only.
"""

from __future__ import annotations

import sqlalchemy as sa

from polytraders.store import schema

LIVE_SOURCE_PREFIXES = ("ws://", "wss://")
"""``data_source`` prefixes of a live-clock run (the market channel's URL schemes)."""


def is_live_clock_source(data_source: str) -> bool:
    """True when a run recorded with ``data_source`` ran on a live clock."""
    return data_source.startswith(LIVE_SOURCE_PREFIXES)


def live_clock_clause() -> sa.ColumnElement[bool]:
    """SQL condition on ``runs`` selecting the live-clock runs (same rule as
    :func:`is_live_clock_source`: a case-sensitive prefix comparison through ``substr``,
    exact on SQLite and PostgreSQL alike, where ``LIKE`` would ignore case on SQLite)."""
    source = schema.runs.c.data_source
    return sa.or_(
        *(sa.func.substr(source, 1, len(prefix)) == prefix for prefix in LIVE_SOURCE_PREFIXES)
    )


def envelopes_of_runs(*, live_only: bool) -> tuple[sa.Join, sa.ColumnElement[bool]]:
    """``envelopes`` joined to ``runs`` on (run id, attempt), restricted to live-clock runs
    when ``live_only``: a FROM clause plus its WHERE condition, as ``(from_, condition)``."""
    e, r = schema.envelopes.c, schema.runs.c
    joined = schema.envelopes.join(
        schema.runs, sa.and_(e.run_id == r.run_id, e.attempt == r.attempt)
    )
    condition: sa.ColumnElement[bool] = live_clock_clause() if live_only else sa.true()
    return joined, condition
