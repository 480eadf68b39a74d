"""Market lifecycle events derived from metadata: ``MarketStatus`` CLOSED at a market's end.

Recorded book data has no explicit "market closed" message, but the market's end time is known
metadata; :class:`MarketCloser` emits ``MarketStatus(state=CLOSED, accepting_orders=False)`` at
``end_ns`` (as both event and receive time), before the first event received at or after it.
"""

from __future__ import annotations

from polytraders.model.events import AnyEvent, MarketStatus
from polytraders.model.market import Market, MarketState


class MarketCloser:
    """Emits CLOSED for each market with a known ``end_ns`` once the stream reaches it.

    Args:
        markets: the stream's markets (those with ``end_ns`` 0 are never closed by it).
        synthetic: ``synthetic`` flag of the emitted events.
    """

    __slots__ = ("_due", "_synthetic")

    def __init__(self, markets: list[Market], *, synthetic: bool = False) -> None:
        self._due = sorted(((m.end_ns, m.market_id) for m in markets if m.end_ns > 0), reverse=True)
        self._synthetic = synthetic

    @property
    def next_ns(self) -> int | None:
        """End time of the next market to close, or None when all are closed."""
        return self._due[-1][0] if self._due else None

    def until(self, ts_recv_ns: int, out: list[AnyEvent]) -> None:
        """Append CLOSED for every market whose end is ≤ ``ts_recv_ns``, in end-time order."""
        due = self._due
        while due and due[-1][0] <= ts_recv_ns:
            end_ns, market_id = due.pop()
            out.append(
                MarketStatus(
                    ts_event_ns=end_ns,
                    ts_recv_ns=end_ns,
                    synthetic=self._synthetic,
                    market_id=market_id,
                    state=MarketState.CLOSED,
                    accepting_orders=False,
                )
            )
