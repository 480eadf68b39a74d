"""Counters a feed keeps while it streams: events by type, bad input by reason code.

Every skipped or distrusted piece of input is counted under a registered ``SYS_…`` reason code
(``contracts/reasons.toml``, section "feeds") and the first few are kept as :class:`FeedIssue`
records for reports, so bad input is never skipped silently. :meth:`FeedStats.check` judges the
count against a :class:`~polytraders.feeds.config.FeedConfig` threshold.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from polytraders.feeds.config import FeedConfig
from polytraders.feeds.errors import FeedError
from polytraders.model.events import AnyEvent

MAX_KEPT_ISSUES = 50
"""How many issue records a :class:`FeedStats` keeps verbatim (all are counted)."""


class FeedIssue(msgspec.Struct, frozen=True, kw_only=True):
    """One piece of bad input.

    Fields:
        reason_code: registered ``SYS_…`` code (e.g. ``SYS_MALFORMED_MESSAGE``).
        ts_recv_ns: receive time of the line/frame/row it came from (ns since epoch).
        token_id: the token whose book it concerns, "" when it cannot be attributed.
        detail: a short human-readable explanation (the offending value, the parse error).
    """

    reason_code: str
    ts_recv_ns: int
    token_id: str = ""
    detail: str = ""


def event_type(event: AnyEvent) -> str:
    """The tag of an event (``"book_delta"``, ``"trade"``, ...)."""
    return _TAGS.get(type(event)) or str(type(event).__struct_config__.tag)


_TAGS: dict[type, str] = {}


TOP_REASONS = 3
"""How many reason codes a :class:`FeedHealth` (and the threshold error) names."""


class FeedHealth(msgspec.Struct, frozen=True, kw_only=True):
    """How much of a source's input so far was bad (:meth:`FeedStats.health`).

    Fields:
        source: the source's name (its path or spec).
        records_read: lines (line files), rows (Parquet) or frames (synthetic) read so far.
        bad_records: bad-input count over every reason code (each skipped or distrusted piece
            of input; one record can count more than once, e.g. a frame with two bad parts).
        bad_pct: ``100 × bad_records / records_read`` (0.0 before any record; 100.0 when bad
            input was counted before any record).
        top_reasons: the most frequent reason codes with their counts, most frequent first
            (ties by code), at most :data:`TOP_REASONS`.
    """

    source: str
    records_read: int
    bad_records: int
    bad_pct: float
    top_reasons: tuple[tuple[str, int], ...] = ()


class FeedStats:
    """Running counts of one source's latest pass (readable while or after iterating).

    Args:
        source: name of the source the counts belong to (named in :meth:`check` errors).
        record_counter: the counter holding the records the source reads (``"lines"``,
            ``"rows"``, ``"frames"``); "" when the counts are a sum of other stats.

    Attributes:
        events: emitted events by type tag.
        bad_input: bad input by registered reason code (each was skipped or distrusted).
        counters: other named counts (``lines``, ``frames``, ``suppressed_while_stale``,
            ``binance_presync_dropped`` ...), documented in ``docs/feeds.md``.
        issues: the first :data:`MAX_KEPT_ISSUES` issue records.
    """

    __slots__ = (
        "_added_records",
        "bad_input",
        "by_class",
        "counters",
        "extra_events",
        "issues",
        "record_counter",
        "source",
    )

    def __init__(self, source: str = "", record_counter: str = "") -> None:
        self.source = source
        self.record_counter = record_counter
        self.by_class: dict[type, int] = {}
        """Emitted events by class (the hot-path counter; :attr:`events` reads it by tag)."""
        self.extra_events: Counter[str] = Counter()
        self.bad_input: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self.issues: list[FeedIssue] = []
        self._added_records = 0

    @property
    def events(self) -> Counter[str]:
        """Emitted events by type tag (``"book_delta"`` ...)."""
        result = Counter(self.extra_events)
        for cls, count in self.by_class.items():
            result[_TAGS.get(cls) or str(getattr(cls, "__struct_config__").tag)] += count  # noqa: B009
        return result

    def reset(self) -> None:
        """Zero every count (a source calls this at the start of each pass)."""
        self.by_class.clear()
        self.extra_events.clear()
        self.bad_input.clear()
        self.counters.clear()
        self.issues.clear()
        self._added_records = 0

    def count_event(self, event: AnyEvent) -> None:
        """Count one emitted event by its type."""
        by_class = self.by_class
        cls = type(event)
        by_class[cls] = by_class.get(cls, 0) + 1

    def record(self, issue: FeedIssue) -> None:
        """Count one issue under its reason code and keep it if fewer than the cap are kept."""
        self.bad_input[issue.reason_code] += 1
        if len(self.issues) < MAX_KEPT_ISSUES:
            self.issues.append(issue)

    def add(self, other: FeedStats) -> None:
        """Add another source's counts into this one (used by merged sources)."""
        self._added_records += other.records_read
        self.extra_events.update(other.events)
        self.bad_input.update(other.bad_input)
        self.counters.update(other.counters)
        room = MAX_KEPT_ISSUES - len(self.issues)
        if room > 0:
            self.issues.extend(other.issues[:room])

    @property
    def bad_input_total(self) -> int:
        """Total bad-input count over every reason code."""
        return sum(self.bad_input.values())

    @property
    def records_read(self) -> int:
        """Records read so far: the ``record_counter`` count plus the records of added stats."""
        own = self.counters[self.record_counter] if self.record_counter else 0
        return own + self._added_records

    def health(self) -> FeedHealth:
        """Records read, bad records, bad share and top reason codes so far (O(reason codes))."""
        records = self.records_read
        bad = self.bad_input_total
        pct = 100.0 * bad / records if records else (100.0 if bad else 0.0)
        top = sorted(self.bad_input.items(), key=lambda item: (-item[1], item[0]))
        return FeedHealth(
            source=self.source,
            records_read=records,
            bad_records=bad,
            bad_pct=pct,
            top_reasons=tuple(top[:TOP_REASONS]),
        )

    def check(self, config: FeedConfig) -> FeedHealth:
        """:meth:`health`, refused when bad input is over the threshold of ``config``.

        Over the threshold means ``bad_records × 100 > max_bad_input_pct × max(records_read,
        min_records_count)`` (the rule of :class:`~polytraders.feeds.config.FeedConfig`),
        judged on the counts so far. Cheap (O(reason codes)) and side-effect free: call it every
        N events while streaming, to stop early on bad input, and once after the pass. A
        mid-pass call judges the share so far, so a burst of bad input early in a pass can be
        refused even though the whole pass would end under the limit; for the same input and
        the same call points the outcome is the same.

        Raises:
            FeedError: over the threshold; one line naming the source, the bad count, the
                records read, the share, the limit and the top reason codes.
        """
        health = self.health()
        judged = max(health.records_read, config.min_records_count)
        if health.bad_records * 100 > config.max_bad_input_pct * judged:
            reasons = ", ".join(f"{code} {count:,}" for code, count in health.top_reasons)
            raise FeedError(
                self.source or "feed",
                f"{health.bad_records:,} bad input records in {health.records_read:,} read "
                f"({health.bad_pct:.2f} %; the limit is {config.max_bad_input_pct:g} % of at "
                f"least {config.min_records_count:,} records): {reasons}",
            )
        return health

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view, keys sorted, for reports and ``data inspect --json``."""
        return {
            "records_read": self.records_read,
            "events": dict(sorted(self.events.items())),
            "bad_input": dict(sorted(self.bad_input.items())),
            "counters": dict(sorted(self.counters.items())),
            "issues": [msgspec.to_builtins(i) for i in self.issues],
        }

    def __repr__(self) -> str:
        return f"FeedStats(events={dict(self.events)}, bad_input={dict(self.bad_input)})"


def _init_tags() -> None:
    from polytraders.model import events as ev

    for cls in (
        ev.BookSnapshot,
        ev.BookDelta,
        ev.Trade,
        ev.BestBidAsk,
        ev.TickSizeChange,
        ev.MarketStatus,
        ev.FeedStatus,
    ):
        _TAGS[cls] = str(cls.__struct_config__.tag)


_init_tags()
