"""What a market-data location holds: the report behind ``polytraders data inspect``.

:func:`inspect_source` replays a source once into books and reports its markets and tokens,
instruments, event counts by type, bad input by reason code, time span, the largest gap between
consecutive events of one token (and of the whole stream), crossed book states, and the
format's checks: the YES/NO complement at every paired update (Polymarket,
:class:`ComplementCheck`) and update-id continuity plus bookTicker agreement (Binance,
:class:`TickerCheck`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from polytraders.feeds.books import BookSet
from polytraders.feeds.checks import ComplementCheck, TickerCheck
from polytraders.feeds.parquet import ParquetSource
from polytraders.feeds.source import Source
from polytraders.model.events import BestBidAsk, BookDelta, BookSnapshot

_NS_PER_S = 1_000_000_000


def iso_ns(ts_ns: int) -> str:
    """ISO-8601 UTC text of a ns timestamp (millisecond precision)."""
    return datetime.fromtimestamp(ts_ns / _NS_PER_S, tz=UTC).isoformat(timespec="milliseconds")


def inspect_source(source: Source) -> dict[str, object]:
    """Replay ``source`` once and summarise it (JSON-ready, deterministic key order).

    ``snapshots`` counts full book states in the input: Parquet rows, otherwise
    ``BookSnapshot`` events.
    """
    books = BookSet()
    complement = ComplementCheck(source.markets) if source.markets else None
    ticker = TickerCheck() if source.instruments else None
    first_ns = last_ns = None
    largest_gap = (0, 0, "")
    last_by_token: dict[str, int] = {}
    token_gap = (0, 0, "")
    crossed_states = 0
    crossed_tokens: set[str] = set()
    for event in source.events():
        ts = event.ts_recv_ns
        if first_ns is None:
            first_ns = ts
        elif last_ns is not None and ts - last_ns > largest_gap[0]:
            largest_gap = (ts - last_ns, last_ns, "")
        last_ns = ts
        book = books.apply(event)
        if book is None:
            if ticker is not None and isinstance(event, BestBidAsk):
                ticker.on_ticker(event)
            continue
        assert isinstance(event, BookSnapshot | BookDelta)
        token = event.token_id
        previous = last_by_token.get(token)
        if previous is not None and ts - previous > token_gap[0]:
            token_gap = (ts - previous, previous, token)
        last_by_token[token] = ts
        if book.is_crossed():
            crossed_states += 1
            crossed_tokens.add(token)
        if complement is not None:
            complement.update(token, event.ts_event_ns, books.books)
        if ticker is not None and event.sequence:
            ticker.on_book(event, book)
    stats = source.stats
    snapshots = (
        stats.counters["rows"]
        if isinstance(source, ParquetSource)
        else stats.events.get("book_snapshot", 0)
    )
    report: dict[str, object] = {
        "source": source.name,
        "kind": source.kind,
        "synthetic": source.synthetic,
        "markets": len(source.markets),
        "tokens": sum(len(m.tokens) for m in source.markets),
        "instruments": [f"{i.venue}:{i.symbol}" for i in source.instruments],
        "snapshots": snapshots,
        "events": dict(sorted(stats.events.items())),
        "bad_input": dict(sorted(stats.bad_input.items())),
        "counters": dict(sorted(stats.counters.items())),
        "time_span": {
            "first": iso_ns(first_ns) if first_ns is not None else None,
            "last": iso_ns(last_ns) if last_ns is not None else None,
            "duration_s": ((last_ns - first_ns) / _NS_PER_S) if first_ns and last_ns else 0.0,
        },
        "largest_gap": {
            "stream_s": largest_gap[0] / _NS_PER_S,
            "stream_after": iso_ns(largest_gap[1]) if largest_gap[0] else None,
            "token_s": token_gap[0] / _NS_PER_S,
            "token": token_gap[2],
            "token_after": iso_ns(token_gap[1]) if token_gap[0] else None,
        },
        "crossed_book_states": crossed_states,
        "crossed_tokens": len(crossed_tokens),
        "stale_tokens_at_end": sorted(books.stale),
        "market_list": [
            {
                "market_id": m.market_id,
                "slug": m.slug,
                "category": m.category,
                "start": iso_ns(m.start_ns) if m.start_ns else None,
                "end": iso_ns(m.end_ns) if m.end_ns else None,
                "tokens": [f"{t.token_id} ({t.outcome})" for t in m.tokens],
                "winner": next((t for t, p in m.payouts.items() if p), None),
            }
            for m in source.markets
        ],
        "issues": [
            {"reason_code": i.reason_code, "token_id": i.token_id, "detail": i.detail}
            for i in stats.issues[:10]
        ],
    }
    checks: dict[str, object] = {}
    if complement is not None:
        checks["complement"] = complement.as_dict()
    if ticker is not None:
        ticker.finish()
        deltas = stats.events.get("book_delta", 0)
        gaps = stats.bad_input.get("SYS_FEED_GAP", 0)
        checks["update_id_continuity"] = {"ok": gaps == 0, "deltas": deltas, "gaps": gaps}
        checks["book_ticker"] = ticker.as_dict()
    report["checks"] = checks
    return report
