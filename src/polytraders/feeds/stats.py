"""Counters a feed keeps while it streams: events by type, bad input by reason code.

Every skipped or distrusted piece of input is counted under a registered ``SYS_…`` reason code
(``contracts/reasons.toml``, section "feeds") and the first few are kept as :class:`FeedIssue`
records for reports, so bad input is never skipped silently.
"""

from __future__ import annotations

from collections import Counter

import msgspec

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


class FeedStats:
    """Running counts of one source's latest pass (readable while or after iterating).

    Attributes:
        events: emitted events by type tag.
        bad_input: bad input by registered reason code (each was skipped or distrusted).
        counters: other named counts (``lines``, ``frames``, ``suppressed_while_stale``,
            ``binance_presync_dropped`` ...), documented in ``docs/feeds.md``.
        issues: the first :data:`MAX_KEPT_ISSUES` issue records.
    """

    __slots__ = ("bad_input", "by_class", "counters", "extra_events", "issues")

    def __init__(self) -> None:
        self.by_class: dict[type, int] = {}
        """Emitted events by class (the hot-path counter; :attr:`events` reads it by tag)."""
        self.extra_events: Counter[str] = Counter()
        self.bad_input: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self.issues: list[FeedIssue] = []

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

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view, keys sorted, for reports and ``data inspect --json``."""
        return {
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
