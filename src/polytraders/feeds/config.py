"""Feed settings: :class:`FeedConfig` (the bad-input threshold of a run) and
:class:`EventTimeWindow` (which venue times a feed accepts).

Styled after :class:`polytraders.contracts.config.BotConfig`: pydantic v2, frozen, unknown keys
refused, a unit in every numeric field's name, hard limits on every number, defaults inside
them.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

MAX_TS_NS: Final = 2**63 - 1
"""Latest representable time: int64 ns since the epoch (2262-04-11)."""


class FeedConfig(BaseModel):
    """How much bad input a run tolerates before it is refused
    (:meth:`polytraders.feeds.FeedStats.check`).

    Rule: a source's bad input (every problem counted under a ``SYS_…`` reason code, see
    ``docs/feeds.md``) is over the limit when ``bad × 100 > max_bad_input_pct ×
    max(records_read, min_records_count)``. Over many records this is the plain percentage;
    below ``min_records_count`` the allowance is fixed at ``max_bad_input_pct ×
    min_records_count / 100`` problems (10 with the defaults), so one bad line among the first
    three neither stops a run nor is ignored: it is counted and reported, and a run whose
    every line is bad still stops as soon as that allowance is used up.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )

    max_bad_input_pct: float = Field(default=1.0, ge=0.0, le=100.0)
    """Largest tolerated share of bad input among the records read (%; 0 refuses any bad
    input). Records are the source's lines (line files), rows (Parquet) or frames
    (synthetic)."""

    min_records_count: int = Field(default=1_000, ge=1, le=1_000_000_000)
    """The share is taken over at least this many records (the floor that keeps a few bad
    lines at the start of a stream, or in a small file, from being judged as a large share)."""


class EventTimeWindow(BaseModel):
    """Venue times (``ts_event_ns``) a feed accepts, relative to each message's receive time.

    A message whose venue time is before ``min_event_ts_ns``, or more than
    ``max_event_ahead_ms`` after its own receive time, is refused: counted as
    ``SYS_EVENT_TIME_OUT_OF_RANGE`` and skipped (a book message also makes its token stale until
    its next snapshot). It never moves a token's clock, so one hostile timestamp
    (``"timestamp": "10000000000000"``, year 2286) cannot make every later update look out of
    order. Venue times behind the receive time are accepted: a recording replayed or a
    simulator serving recorded books lags the receiving clock by months. Where a source has
    no receive time of its own (Parquet rows: one ``ts`` per row) only the floor applies.

    Used by :class:`~polytraders.feeds.guard.BookGuard` (every Polymarket-style source and the
    live market channel), the Binance and Parquet sources and
    :func:`~polytraders.feeds.open_source`.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )

    min_event_ts_ns: int = Field(default=1_577_836_800_000_000_000, ge=0, le=MAX_TS_NS)
    """Earliest accepted venue time (ns since the epoch; default 2020-01-01T00:00:00Z, before
    any Polymarket CLOB or recorded data here). Refuses negative and near-zero timestamps."""

    max_event_ahead_ms: int = Field(default=3_600_000, ge=0, le=86_400_000)
    """How far a venue time may lead its message's receive time (ms; default 1 h, far beyond
    any clock skew seen: the Binance recorder ran 1.3 s behind Binance). At most 1 day."""

    def bounds(self) -> TimeBounds:
        """The window as plain ints, for checking every event of a stream fast."""
        return TimeBounds(self.min_event_ts_ns, self.max_event_ahead_ms * 1_000_000)

    def problem(self, ts_event_ns: int, ts_recv_ns: int) -> str:
        """Why ``ts_event_ns`` (received at ``ts_recv_ns``) is refused; "" when accepted."""
        if ts_event_ns < self.min_event_ts_ns:
            return f"venue time {ts_event_ns} ns is before {self.min_event_ts_ns} ns"
        if ts_event_ns - ts_recv_ns > self.max_event_ahead_ms * 1_000_000:
            return (
                f"venue time {ts_event_ns} ns is more than {self.max_event_ahead_ms} ms after "
                f"its receive time {ts_recv_ns} ns"
            )
        if ts_event_ns > MAX_TS_NS:
            return f"venue time {ts_event_ns} ns is beyond int64 ns (2262)"
        return ""


class TimeBounds:
    """:class:`EventTimeWindow` as plain ints (hot path): :meth:`accepts` is True exactly when
    :meth:`EventTimeWindow.problem` is "" (property-tested)."""

    __slots__ = ("ahead_ns", "floor_ns")

    def __init__(self, floor_ns: int, ahead_ns: int) -> None:
        self.floor_ns = floor_ns
        self.ahead_ns = ahead_ns

    def accepts(self, ts_event_ns: int, ts_recv_ns: int) -> bool:
        """True when venue time ``ts_event_ns`` received at ``ts_recv_ns`` is in the window."""
        return (
            self.floor_ns <= ts_event_ns <= MAX_TS_NS and ts_event_ns - ts_recv_ns <= self.ahead_ns
        )
