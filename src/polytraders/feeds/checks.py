"""Consistency checks run while replaying a stream into books (used by ``data inspect`` and
the tests).

- :class:`ComplementCheck` (Polymarket): in a binary market buying YES at p is selling NO at
  1 − p, so when both tokens' books are updated at the same venue time ("a paired snapshot"),
  YES best bid + NO best ask and YES best ask + NO best bid must both equal 1.
- :class:`TickerCheck` (Binance): at every bookTicker whose update id is the final id ``u`` of
  an applied depth event, the reconstructed book's best bid/ask prices and sizes must equal the
  ticker's. A ticker id strictly inside a depth event's ``[U, u]`` range names a state the
  diff-depth stream never shows (Binance batches updates), so it is counted as
  ``inside_batch``, not compared.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict

from polytraders.model.book import OrderBook
from polytraders.model.events import BestBidAsk, BookDelta, BookSnapshot
from polytraders.model.market import Market
from polytraders.model.money import ONE


class ComplementCheck:
    """Checks the YES/NO mirror at every paired update (module docstring).

    Attributes:
        pairs: paired updates seen; ``checked``: pairs where both prices of an identity exist;
        ``failures``: identities that did not sum to 1; ``one_sided``: identities skipped
        because a side was empty; ``examples``: the first few failures.
    """

    def __init__(self, markets: list[Market]) -> None:
        self._complement: dict[str, str] = {}
        self._first: set[str] = set()
        for market in markets:
            for token in market.tokens:
                if token.complement_token_id:
                    self._complement[token.token_id] = token.complement_token_id
            if market.tokens:
                self._first.add(market.tokens[0].token_id)
        self._last_ts: dict[str, int] = {}
        self.pairs = 0
        self.checked = 0
        self.failures = 0
        self.one_sided = 0
        self.examples: list[str] = []

    def update(self, token_id: str, ts_event_ns: int, books: dict[str, OrderBook]) -> None:
        """Call after ``token_id``'s book was updated at ``ts_event_ns``."""
        other = self._complement.get(token_id)
        self._last_ts[token_id] = ts_event_ns
        if other is None or self._last_ts.get(other) != ts_event_ns:
            return
        self.pairs += 1
        yes, no = (token_id, other) if token_id in self._first else (other, token_id)
        yes_book, no_book = books[yes], books[no]
        for left, right, name in (
            (yes_book.best_bid(), no_book.best_ask(), "YES bid + NO ask"),
            (yes_book.best_ask(), no_book.best_bid(), "YES ask + NO bid"),
        ):
            if left is None or right is None:
                self.one_sided += 1
                continue
            self.checked += 1
            if left + right != ONE:
                self.failures += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{yes} at {ts_event_ns}: {name} = {left + right}")
        # a pair is consumed: the next update of either token starts a new pair
        del self._last_ts[other]
        del self._last_ts[token_id]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary; ``ok`` is True when no checked identity failed."""
        return {
            "ok": self.failures == 0,
            "paired_updates": self.pairs,
            "identities_checked": self.checked,
            "identities_failed": self.failures,
            "identities_one_sided": self.one_sided,
            "examples": self.examples,
        }


class TickerCheck:
    """Compares bookTicker messages with the book at the same update id (module docstring).

    Counts: ``matched`` / ``mismatched`` (comparable tickers), ``inside_batch`` (id strictly
    inside an applied depth event's range), ``not_observed`` (id in no applied event's range,
    e.g. during a gap), ``before_sync`` (id older than the first applied snapshot). Depth
    states are remembered for the last ``window`` applied events and tickers wait for their
    depth event for at most ``window`` tickers, so memory is bounded.
    """

    def __init__(self, window: int = 50_000) -> None:
        self._window = window
        self._us: list[int] = []  # final ids of applied events, increasing
        self._firsts: list[int] = []  # their first ids
        self._states: dict[int, tuple[int, int, int, int]] = {}
        self._pending: OrderedDict[int, BestBidAsk] = OrderedDict()
        self._first_u: int | None = None
        self._max_u = 0
        self.matched = 0
        self.mismatched = 0
        self.inside_batch = 0
        self.not_observed = 0
        self.before_sync = 0
        self.examples: list[str] = []

    def on_book(self, event: BookSnapshot | BookDelta, book: OrderBook) -> None:
        """Call after a snapshot/delta carrying update ids was applied to ``book``."""
        u = event.sequence
        state = (
            book.best_bid() or 0,
            book.best_bid_size(),
            book.best_ask() or 0,
            book.best_ask_size(),
        )
        first = event.first_sequence if isinstance(event, BookDelta) else u
        if self._first_u is None:
            self._first_u = u
        if self._us and u <= self._us[-1]:  # a re-bootstrap snapshot: restart the ranges
            self._us.clear()
            self._firsts.clear()
        self._us.append(u)
        self._firsts.append(first or u)
        self._states[u] = state
        self._max_u = max(self._max_u, u)
        if len(self._us) > 2 * self._window:
            for old in self._us[: self._window]:
                self._states.pop(old, None)
            del self._us[: self._window]
            del self._firsts[: self._window]
        ticker = self._pending.pop(u, None)
        if ticker is not None:
            self._compare(ticker, state)
        while self._pending:
            x = next(iter(self._pending))
            if x > self._max_u:
                break
            _, waiting = self._pending.popitem(last=False)
            self._classify_past(waiting)

    def on_ticker(self, ticker: BestBidAsk) -> None:
        """Call for each bookTicker, in stream order."""
        x = ticker.sequence
        if x > self._max_u:
            self._pending[x] = ticker
            if len(self._pending) > self._window:
                _, old = self._pending.popitem(last=False)
                self._classify_past(old)
        else:
            self._classify_past(ticker)

    def finish(self) -> None:
        """Classify tickers still waiting at the end of the stream (no later depth event)."""
        for ticker in self._pending.values():
            self._classify_past(ticker)
        self._pending.clear()

    def _classify_past(self, ticker: BestBidAsk) -> None:
        x = ticker.sequence
        state = self._states.get(x)
        if state is not None:
            self._compare(ticker, state)
            return
        if self._first_u is None or x < self._first_u:
            self.before_sync += 1
            return
        index = bisect_left(self._us, x)
        if index < len(self._us) and self._firsts[index] <= x:
            self.inside_batch += 1
        else:
            self.not_observed += 1

    def _compare(self, ticker: BestBidAsk, state: tuple[int, int, int, int]) -> None:
        seen = (ticker.bid_price, ticker.bid_size, ticker.ask_price, ticker.ask_size)
        if seen == state:
            self.matched += 1
        else:
            self.mismatched += 1
            if len(self.examples) < 10:
                self.examples.append(f"u={ticker.sequence}: ticker {seen} book {state}")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary; ``ok`` when no comparable ticker mismatched."""
        return {
            "ok": self.mismatched == 0,
            "tickers_matched": self.matched,
            "tickers_mismatched": self.mismatched,
            "tickers_inside_batch": self.inside_batch,
            "tickers_not_observed": self.not_observed,
            "tickers_before_sync": self.before_sync,
            "examples": self.examples,
        }
