"""Book-trust bookkeeping shared by every Polymarket-style source.

:class:`BookGuard` sits between a parser and the consumer. It admits book events only when
they can be applied to a trustworthy book, and turns bad input into counted issues plus
:class:`~polytraders.model.events.FeedStatus` transitions:

- a delta for a token with no snapshot yet is skipped (``SYS_DELTA_BEFORE_SNAPSHOT``) and the
  token is marked stale;
- an event whose venue time is outside the :class:`~polytraders.feeds.config.EventTimeWindow`
  (before its floor, or too far ahead of its receive time) is skipped
  (``SYS_EVENT_TIME_OUT_OF_RANGE``) without moving the token's clock; a book event's token is
  marked stale;
- a book event whose ``ts_event_ns`` is older than the token's last applied one is skipped
  (``SYS_NON_MONOTONIC_TIME``) and the token marked stale;
- any other issue that may have hidden a book change (malformed frame, bad price, negative
  size) marks its token stale, or every trusted token when it cannot be attributed;
- while a token is stale its deltas are suppressed (counter ``suppressed_while_stale``), so a
  book is never left silently wrong; the next snapshot is admitted and followed by
  ``FeedStatus(stale=False, reason_code="SYS_FEED_RESYNCED")``.

The guard holds O(tokens) state and no books.
"""

from __future__ import annotations

from polytraders.feeds.config import EventTimeWindow
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus

RESYNCED = "SYS_FEED_RESYNCED"
DELTA_BEFORE_SNAPSHOT = "SYS_DELTA_BEFORE_SNAPSHOT"
NON_MONOTONIC_TIME = "SYS_NON_MONOTONIC_TIME"
EVENT_TIME_OUT_OF_RANGE = "SYS_EVENT_TIME_OUT_OF_RANGE"


class BookGuard:
    """Per-token trust state of one stream. See the module docstring for the rules.

    Args:
        stats: where issues and counters are recorded.
        synthetic: value of ``synthetic`` on the FeedStatus events it emits.
        window: the venue times accepted (default :class:`EventTimeWindow`'s defaults).
    """

    __slots__ = ("_bounds", "_last_ts", "_stale", "_stats", "_synthetic", "_window")

    def __init__(
        self,
        stats: FeedStats,
        *,
        synthetic: bool = False,
        window: EventTimeWindow | None = None,
    ) -> None:
        self._stats = stats
        self._synthetic = synthetic
        self._window = window or EventTimeWindow()
        self._bounds = self._window.bounds()
        self._last_ts: dict[str, int] = {}  # token -> ts_event_ns of its last admitted book event
        self._stale: set[str] = set()

    def is_stale(self, token_id: str) -> bool:
        """True while the token's book is untrustworthy (waiting for a snapshot)."""
        return token_id in self._stale

    def has_snapshot(self, token_id: str) -> bool:
        """True once a snapshot of the token has been admitted."""
        return token_id in self._last_ts

    def issue(self, issue: FeedIssue, out: list[AnyEvent], *, distrust: bool = True) -> None:
        """Record an issue; with ``distrust`` mark its token (or every trusted token) stale,
        appending the resulting ``FeedStatus`` events to ``out``."""
        self._stats.record(issue)
        if not distrust:
            return
        if issue.token_id:
            if issue.token_id in self._last_ts:
                self._mark_stale(issue.token_id, issue.reason_code, issue.ts_recv_ns, out)
            return
        for token_id in self._last_ts:
            self._mark_stale(token_id, issue.reason_code, issue.ts_recv_ns, out)

    def distrust(
        self, token_id: str, reason_code: str, ts_recv_ns: int, out: list[AnyEvent]
    ) -> None:
        """Mark one token stale (if it has a book) without recording a new issue."""
        if token_id in self._last_ts:
            self._mark_stale(token_id, reason_code, ts_recv_ns, out)

    def admit(self, event: AnyEvent, out: list[AnyEvent]) -> None:
        """Append ``event`` to ``out`` if it may be applied, plus any FeedStatus it causes."""
        if not self._bounds.accepts(event.ts_event_ns, event.ts_recv_ns):
            problem = self._window.problem(event.ts_event_ns, event.ts_recv_ns)
            is_book = isinstance(event, BookDelta | BookSnapshot)
            self.issue(
                FeedIssue(
                    reason_code=EVENT_TIME_OUT_OF_RANGE,
                    ts_recv_ns=event.ts_recv_ns,
                    token_id=getattr(event, "token_id", ""),
                    detail=f"{type(event).__name__}: {problem}",
                ),
                out,
                distrust=is_book,
            )
            return
        if isinstance(event, BookDelta):
            token_id = event.token_id
            last = self._last_ts.get(token_id)
            if last is None:
                self._stats.record(
                    FeedIssue(
                        reason_code=DELTA_BEFORE_SNAPSHOT,
                        ts_recv_ns=event.ts_recv_ns,
                        token_id=token_id,
                        detail="book delta before any snapshot of the token",
                    )
                )
                return
            if token_id in self._stale:
                self._stats.counters["suppressed_while_stale"] += 1
                return
            if event.ts_event_ns < last:
                self.issue(
                    FeedIssue(
                        reason_code=NON_MONOTONIC_TIME,
                        ts_recv_ns=event.ts_recv_ns,
                        token_id=token_id,
                        detail=f"book delta at {event.ts_event_ns} ns after {last} ns",
                    ),
                    out,
                )
                return
            self._last_ts[token_id] = event.ts_event_ns
            out.append(event)
            return
        if isinstance(event, BookSnapshot):
            token_id = event.token_id
            last = self._last_ts.get(token_id)
            if last is not None and event.ts_event_ns < last:
                self.issue(
                    FeedIssue(
                        reason_code=NON_MONOTONIC_TIME,
                        ts_recv_ns=event.ts_recv_ns,
                        token_id=token_id,
                        detail=f"book snapshot at {event.ts_event_ns} ns after {last} ns",
                    ),
                    out,
                )
                return
            self._last_ts[token_id] = event.ts_event_ns
            out.append(event)
            if token_id in self._stale:
                self._stale.discard(token_id)
                out.append(
                    FeedStatus(
                        ts_event_ns=event.ts_event_ns,
                        ts_recv_ns=event.ts_recv_ns,
                        synthetic=self._synthetic,
                        token_id=token_id,
                        stale=False,
                        reason_code=RESYNCED,
                    )
                )
            return
        out.append(event)

    def _mark_stale(
        self, token_id: str, reason_code: str, ts_recv_ns: int, out: list[AnyEvent]
    ) -> None:
        if token_id in self._stale:
            return
        self._stale.add(token_id)
        out.append(
            FeedStatus(
                ts_event_ns=ts_recv_ns,
                ts_recv_ns=ts_recv_ns,
                synthetic=self._synthetic,
                token_id=token_id,
                stale=True,
                reason_code=reason_code,
            )
        )
