"""Polymarket market-channel recordings: ``<receive ts ns> <raw frame>`` lines → events.

A recording is replayed with its metadata sidecar ``<file>.markets.json`` (a JSON list of
:class:`~polytraders.model.market.Market`, written by ``polytraders data convert`` and by
``polytraders record``) giving the markets, tokens, outcomes, complements, times and payouts.
A recording without one is refused: without end times and payouts a run would silently never
close or settle its markets. :func:`infer_markets` builds the markets a recording shows (each
``market`` id with the ``asset_id``\\ s seen for it in order; complements linked when there are
exactly two; outcome labels, times and payouts unknown) for a recorder to write as a sidecar.

Frames pass through :func:`~polytraders.feeds.polymarket_wire.parse_market_frame` and a
:class:`~polytraders.feeds.guard.BookGuard`; see ``docs/feeds.md`` for the bad-input rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

from polytraders.feeds.config import EventTimeWindow
from polytraders.feeds.errors import FeedError
from polytraders.feeds.guard import NON_MONOTONIC_TIME, BookGuard
from polytraders.feeds.lifecycle import MarketCloser
from polytraders.feeds.lines import count_lines, iter_raw_lines, split_line
from polytraders.feeds.polymarket_wire import (
    DECODE_ERRORS,
    MALFORMED,
    UNKNOWN_EVENT,
    parse_market_frame,
)
from polytraders.feeds.source import Source
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import AnyEvent, MarketStatus
from polytraders.model.market import Market, OutcomeToken

UNKNOWN_TOKEN = "SYS_UNKNOWN_TOKEN"
SIDECAR_SUFFIX = ".markets.json"
_MARKETS_DECODER = msgspec.json.Decoder(list[Market])


def sidecar_path(path: Path) -> Path:
    """Where the metadata sidecar of a recording lives: ``<file>.markets.json``."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_sidecar(path: Path, markets: list[Market]) -> Path:
    """Write the markets sidecar of recording ``path`` (deterministic JSON); returns its path."""
    target = sidecar_path(path)
    target.write_bytes(msgspec.json.format(msgspec.json.encode(markets), indent=1) + b"\n")
    return target


def read_sidecar(path: Path) -> list[Market] | None:
    """The markets of recording ``path`` from its sidecar, or None when there is none.

    Raises:
        FeedError: the sidecar exists but is not a JSON list of markets, or lists none.
    """
    target = sidecar_path(path)
    if not target.exists():
        return None
    try:
        markets = _MARKETS_DECODER.decode(target.read_bytes())
    except DECODE_ERRORS as exc:
        raise FeedError(target, f"not a JSON list of markets: {exc}") from exc
    if not markets:
        raise FeedError(target, "lists no markets")
    return markets


class WireReplay:
    """Turns (receive time, frame) pairs into admitted events for one stream.

    Shared by recorded line files and the synthetic feed. Checks, in order: receive time not
    going backwards (``SYS_NON_MONOTONIC_TIME``: the frame is skipped and the tokens it names —
    all trusted tokens if none can be read — are marked stale), the frame's own problems
    (:func:`parse_market_frame` issues; every kind except ``SYS_UNKNOWN_EVENT`` distrusts its
    token), events for tokens outside the known set (``SYS_UNKNOWN_TOKEN``, skipped), then the
    :class:`BookGuard` rules.

    Args:
        stats: where counts go.
        synthetic: flag for produced events.
        known_tokens: the stream's tokens, or None to accept any.
        window: the venue times accepted (see :class:`BookGuard`).
    """

    __slots__ = ("_known", "_last_recv_ns", "_stats", "_synthetic", "guard")

    def __init__(
        self,
        stats: FeedStats,
        *,
        synthetic: bool = False,
        known_tokens: set[str] | None = None,
        window: EventTimeWindow | None = None,
    ) -> None:
        self._stats = stats
        self._synthetic = synthetic
        self._known = known_tokens
        self._last_recv_ns = -1
        self.guard = BookGuard(stats, synthetic=synthetic, window=window)

    def feed(self, ts_recv_ns: int, frame: bytes, out: list[AnyEvent]) -> None:
        """Append the admitted events (and any FeedStatus) of one frame to ``out``."""
        self._stats.counters["frames"] += 1
        issues: list[FeedIssue] = []
        events = parse_market_frame(frame, ts_recv_ns, issues=issues, synthetic=self._synthetic)
        guard = self.guard
        if ts_recv_ns < self._last_recv_ns:
            tokens = sorted(
                {getattr(e, "token_id", "") for e in events} | {i.token_id for i in issues}
            )
            tokens = [t for t in tokens if t]
            guard.issue(
                FeedIssue(
                    reason_code=NON_MONOTONIC_TIME,
                    ts_recv_ns=ts_recv_ns,
                    token_id=tokens[0] if len(tokens) == 1 else "",
                    detail=f"frame received at {ts_recv_ns} ns after {self._last_recv_ns} ns",
                ),
                out,
                distrust=not tokens,
            )
            for token in tokens:
                guard.distrust(token, NON_MONOTONIC_TIME, self._last_recv_ns, out)
            return
        self._last_recv_ns = ts_recv_ns
        for issue in issues:
            guard.issue(issue, out, distrust=issue.reason_code != UNKNOWN_EVENT)
        known = self._known
        for event in events:
            token = getattr(event, "token_id", None)
            if token is None and isinstance(event, MarketStatus):
                token = event.winning_token_id
            if known is not None and token is not None and token not in known:
                guard.issue(
                    FeedIssue(
                        reason_code=UNKNOWN_TOKEN,
                        ts_recv_ns=ts_recv_ns,
                        token_id=token,
                        detail="token not in the recording's markets",
                    ),
                    out,
                    distrust=False,
                )
                continue
            guard.admit(event, out)

    def bad_line(self, line: bytes, detail: str, out: list[AnyEvent]) -> None:
        """A line without a readable receive time: malformed, every trusted token stale."""
        self.guard.issue(
            FeedIssue(
                reason_code=MALFORMED,
                ts_recv_ns=max(self._last_recv_ns, 0),
                detail=f"{detail}: {line[:80]!r}",
            ),
            out,
        )


class PolymarketLineSource(Source):
    """A Polymarket market-channel recording (plain or gzip line file).

    Events: as :func:`parse_market_frame` gives them, admitted by :class:`WireReplay`, plus
    ``MarketStatus`` CLOSED at each market's ``end_ns`` when the metadata has one. When the
    sidecar marks a market synthetic (a converted synthetic feed) the source and every event
    are flagged synthetic. Stats
    counters: ``lines``, ``frames``, ``suppressed_while_stale``.

    Args:
        path: the recording.
        markets: its markets; None reads them from the sidecar.
        window: the venue times accepted (see :class:`BookGuard`).

    Raises (constructor):
        FileNotFoundError: no such file.
        FeedError: no sidecar (and no ``markets``), or an invalid one.
    """

    kind = "polymarket-lines"
    record_counter = "lines"

    def __init__(
        self,
        path: str | Path,
        *,
        markets: list[Market] | None = None,
        window: EventTimeWindow | None = None,
    ) -> None:
        self.path = Path(path)
        self.window = window
        if not self.path.is_file():
            raise FileNotFoundError(self.path)
        if markets is None:
            markets = read_sidecar(self.path)
        if markets is None:
            raise FeedError(
                self.path,
                f"no markets sidecar {sidecar_path(self.path).name} (market ids, tokens, end "
                "times, payouts): `polytraders record` and `polytraders data convert` write it",
            )
        synthetic = any(m.synthetic for m in markets)
        super().__init__(str(self.path), markets=markets, synthetic=synthetic)

    def expected_records(self) -> int:
        """The file's lines (counted by reading it once)."""
        return count_lines(self.path)

    def _events(self) -> Iterator[AnyEvent]:
        replay = WireReplay(
            self.stats,
            synthetic=self.synthetic,
            known_tokens=set(self.token_ids()),
            window=self.window,
        )
        closer = MarketCloser(self.markets, synthetic=self.synthetic)
        counters = self.stats.counters
        out: list[AnyEvent] = []
        for line in iter_raw_lines(self.path):
            counters["lines"] += 1
            try:
                ts_recv_ns, frame = split_line(line)
            except ValueError as exc:
                replay.bad_line(line, str(exc), out)
            else:
                if closer.next_ns is not None and ts_recv_ns >= closer.next_ns:
                    closer.until(ts_recv_ns, out)
                replay.feed(ts_recv_ns, frame, out)
            if out:
                yield from out
                out.clear()


_UNREADABLE: tuple[type[Exception], ...] = (ValueError, *DECODE_ERRORS)
_INFER_DECODER = msgspec.json.Decoder(list[msgspec.Raw] | msgspec.Raw)
_LOOSE = msgspec.json.Decoder(dict[str, object])


def infer_markets(path: Path) -> list[Market]:
    """The markets a recording shows: one pass collecting ``market`` → asset ids.

    Tokens keep first-seen order; complements are linked when a market has exactly two.
    Lines or frames that cannot be read are ignored here (the replay counts them).
    """
    seen: dict[str, list[str]] = {}
    for line in iter_raw_lines(path):
        try:
            _, frame = split_line(line)
            decoded = _INFER_DECODER.decode(frame)
        except _UNREADABLE:
            continue
        for element in decoded if isinstance(decoded, list) else [decoded]:
            try:
                item = _LOOSE.decode(element)
            except DECODE_ERRORS:
                continue
            _collect(item, seen)
    markets = []
    for market_id, tokens in seen.items():
        pair = len(tokens) == 2
        markets.append(
            Market(
                market_id=market_id,
                tokens=tuple(
                    OutcomeToken(
                        token_id=t,
                        market_id=market_id,
                        outcome="",
                        complement_token_id=tokens[1 - i] if pair else "",
                    )
                    for i, t in enumerate(tokens)
                ),
            )
        )
    return markets


def _collect(item: dict[str, object], seen: dict[str, list[str]]) -> None:
    market = item.get("market")
    if not isinstance(market, str) or not market:
        return
    tokens = seen.setdefault(market, [])
    candidates: list[object] = [item.get("asset_id")]
    changes = item.get("price_changes")
    if isinstance(changes, list):
        candidates += [c.get("asset_id") for c in changes if isinstance(c, dict)]
    ids = item.get("assets_ids")
    if isinstance(ids, list):
        candidates += ids
    for token in candidates:
        if isinstance(token, str) and token and token not in tokens:
            tokens.append(token)
