"""Regenerate the risk bots' fixture packs from the real Polymarket sample.

Run: ``.venv/bin/python -m tests.bots.risk.make_fixtures`` (rewrites
``tests/fixtures/bots/risk.*/{normal,warning,hard,failure}.json``).

Market data is real: markets and L2 books of ``data/samples/polymarket/resolvedkit_btc15m``
("Bitcoin Up or Down" 15-minute markets of 2026-09-28, CC BY 4.0), the book of each token being
the last recorded snapshot at or before the case's clock. Token ids follow the loaders'
convention ``<market_id>:UP`` / ``<market_id>:DOWN``. What a case sets by hand (clock, account,
equity figures, positions, flags, the intent) is stated in its ``source.edits``. Expected
outcomes are written here by hand from the bot's rules (with the arithmetic in comments); they
are never produced by running the bot.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from polytraders.bots.risk.compliancegate import DESK_BUILDER_CODE
from polytraders.model.money import micros_from_recorded

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "data" / "samples" / "polymarket" / "resolvedkit_btc15m"
SAMPLE_REL = "data/samples/polymarket/resolvedkit_btc15m"
OUT = REPO / "tests" / "fixtures" / "bots"

MS = 1_000_000
S = 1_000_000_000
PUSD = 1_000_000

# The first market of the sample: "Bitcoin Up or Down - September 28, 5:00AM-5:15AM ET".
M1 = "0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028"
# "5:45AM-6:00AM ET": it has a real 78 s recording gap and an 8-tick spread.
M3 = "0xdb317dd2bf1c1552d222ef0bbfed67bd866323ab02db0e0aff21bb20e233212a"

EOA = "0x1111111111111111111111111111111111111111"
"""A placeholder EOA address for the desk's signer and funder (public addresses only)."""

STRATEGY = "strat.maker_tight"

Levels = list[list[int]]


@cache
def _markets() -> dict[str, dict[str, Any]]:
    return {r["market_id"]: r for r in pq.read_table(SAMPLE / "markets.parquet").to_pylist()}


@cache
def _books() -> dict[tuple[str, str], list[tuple[int, Levels, Levels]]]:
    rows = pq.read_table(SAMPLE / "books.parquet").to_pylist()
    out: dict[tuple[str, str], list[tuple[int, Levels, Levels]]] = {}
    for r in rows:
        bids = [
            [micros_from_recorded(p), micros_from_recorded(s)]
            for p, s in zip(r["bid_px"], r["bid_sz"], strict=True)
        ]
        asks = [
            [micros_from_recorded(p), micros_from_recorded(s)]
            for p, s in zip(r["ask_px"], r["ask_sz"], strict=True)
        ]
        out.setdefault((r["market_id"], r["side"]), []).append((r["ts"], bids, asks))
    return out


def token(market_id: str, side: str) -> str:
    """Token id convention of the loaders."""
    return f"{market_id}:{side}"


def book_at(market_id: str, side: str, ts_ms: int) -> tuple[int, Levels, Levels]:
    """The last recorded snapshot of a token at or before ``ts_ms``: (ts_ms, bids, asks)."""
    best = None
    for row in _books()[(market_id, side)]:
        if row[0] <= ts_ms:
            best = row
        else:
            break
    if best is None:
        raise ValueError(f"no book for {market_id}:{side} at {ts_ms}")
    return best


def market_json(market_id: str, *, state: str = "ACTIVE", neg_risk_event_id: str = "") -> dict:
    """The sample's market as :class:`Market` JSON (tick 0.01, minimum size 5 shares; no
    payouts: at decision time the outcome is unknown)."""
    row = _markets()[market_id]
    up, down = token(market_id, "UP"), token(market_id, "DOWN")
    tokens = [
        {
            "token_id": up,
            "market_id": market_id,
            "outcome": row["outcome_up"],
            "complement_token_id": down,
            "tick_size": 10_000,
            "min_order_size": 5_000_000,
            "neg_risk": bool(neg_risk_event_id),
        },
        {
            "token_id": down,
            "market_id": market_id,
            "outcome": row["outcome_down"],
            "complement_token_id": up,
            "tick_size": 10_000,
            "min_order_size": 5_000_000,
            "neg_risk": bool(neg_risk_event_id),
        },
    ]
    return {
        "market_id": market_id,
        "slug": row["slug"],
        "question": row["question"],
        "category": row["category"],
        "start_ns": row["start_ts"] * MS,
        "end_ns": row["end_ts"] * MS,
        "state": state,
        "tokens": tokens,
        "neg_risk_event_id": neg_risk_event_id,
    }


def start_ms(market_id: str) -> int:
    return int(_markets()[market_id]["start_ts"])


def end_ms(market_id: str) -> int:
    return int(_markets()[market_id]["end_ts"])


def base_state(market_id: str, now_ms: int, **overrides: Any) -> tuple[dict, dict]:
    """A healthy desk at ``now_ms`` holding the market's two real books, 1,000 pUSD of cash,
    a fresh feed and heartbeat, an EOA account. Returns (state, source)."""
    books = {}
    stamps = {}
    for side in ("UP", "DOWN"):
        ts, bids, asks = book_at(market_id, side, now_ms)
        books[token(market_id, side)] = {"bids": bids, "asks": asks, "last_update_ns": ts * MS}
        stamps[side] = ts
    state: dict[str, Any] = {
        "now_ns": now_ms * MS,
        "markets": [market_json(market_id)],
        "books": books,
        "cash": 1_000 * PUSD,
        "account": {"signer": EOA, "funder": EOA, "signature_type": 0, "builder_code": ""},
        "peak_equity": 1_000 * PUSD,
        "day_start_equity": 1_000 * PUSD,
        "last_feed_event_ns": max(stamps.values()) * MS,
        "last_venue_heartbeat_ns": now_ms * MS - 2 * S,
        "consecutive_errors": 0,
    }
    state.update(overrides)
    source = {
        "dataset": SAMPLE_REL,
        "market_id": market_id,
        "question": _markets()[market_id]["question"],
        "book_snapshots_ms": stamps,
        "edits": [],
    }
    return state, source


def intent(
    bot_case: str, token_id: str, side: str, price: int, size: int, now_ms: int, **kw: Any
) -> dict:
    """A post-only GTC maker intent of ``strat.maker_tight`` carrying the desk's builderCode."""
    market_id = token_id.split(":", maxsplit=1)[0]
    data: dict[str, Any] = {
        "intent_id": f"fixture/{bot_case}",
        "bot_id": STRATEGY,
        "action": "PLACE",
        "token_id": token_id,
        "market_id": market_id,
        "side": side,
        "price": price,
        "size": size,
        "time_in_force": "GTC",
        "post_only": True,
        "builder_code": DESK_BUILDER_CODE,
        "ts_created_ns": now_ms * MS,
    }
    data.update(kw)
    return data


def expected(
    verdict: str,
    codes: list[str],
    decided_by: str,
    decision: str,
    *,
    trading_state: str = "ACTIVE",
    kill_switch: bool = False,
    reshaped: dict[str, int] | None = None,
) -> dict:
    out: dict[str, Any] = {
        "verdict": verdict,
        "reason_codes": codes,
        "decided_by": decided_by,
        "decision": decision,
        "trading_state": trading_state,
        "kill_switch_tripped": kill_switch,
    }
    if reshaped:
        out["reshaped"] = reshaped
    return out


def write(
    bot_id: str,
    case: str,
    description: str,
    state: dict,
    source: dict,
    intent_: dict,
    expect: dict,
    config: dict | None = None,
    harness: dict | None = None,
) -> None:
    path = OUT / bot_id / f"{case}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "bot_id": bot_id,
        "case": case,
        "description": description,
        "source": source,
        "config": config or {},
        "harness": harness or {},
        "state": state,
        "intent": intent_,
        "expected": expect,
    }
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- the cases
NOW = start_ms(M1) + 300_000  # 5 minutes into the 5:00-5:15 market
UP1, DOWN1 = token(M1, "UP"), token(M1, "DOWN")


def _bid(market_id: str, side: str, ts_ms: int) -> int:
    return book_at(market_id, side, ts_ms)[1][0][0]


def killswitch() -> None:
    bot = "risk.killswitch"
    price = _bid(M1, "UP", NOW)
    order = intent(f"{bot}/x", UP1, "BUY", price, 10_000_000, NOW)

    state, source = base_state(M1, NOW)
    write(bot, "normal", "Healthy desk, fresh feed and heartbeat, no loss today: approved.",
          state, source, order, expected("APPROVE", [], "", "APPROVE"))  # fmt: skip

    # day start 1,000 pUSD, equity 965 pUSD: loss 3.5 % ≥ 60 % of the 5 % halt level (3 %).
    state, source = base_state(M1, NOW, cash=965 * PUSD)
    source["edits"] = ["cash 965 pUSD against a day-start equity of 1,000 pUSD (3.5 % loss)"]
    write(bot, "warning", "Today's loss is 3.5 %: past the 3 % warning level, below the 5 % halt.",
          state, source, order, expected("APPROVE", ["RISK_KILLSWITCH_DAILY_LOSS_WARN"], "",
                                         "APPROVE"))  # fmt: skip

    # loss 6 % ≥ 5 %: HALT; the desk trips the kill switch.
    state, source = base_state(M1, NOW, cash=940 * PUSD)
    source["edits"] = ["cash 940 pUSD against a day-start equity of 1,000 pUSD (6 % loss)"]
    write(bot, "hard", "Today's loss is 6 %, beyond the 5 % halt level: HALT, kill switch trips.",
          state, source, order,
          expected("HALT", ["RISK_KILLSWITCH_DAILY_LOSS"], bot, "HALT", trading_state="HALTED",
                   kill_switch=True))  # fmt: skip

    state, source = base_state(M1, NOW, day_start_equity=0)
    source["edits"] = ["day-start equity 0 (corrupt accounting input)"]
    write(bot, "failure", "Start-of-day equity is 0, so the daily loss cannot be measured: REJECT.",
          state, source, order,
          expected("REJECT", ["RISK_KILLSWITCH_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


def compliancegate() -> None:
    bot = "risk.compliancegate"
    price = _bid(M1, "DOWN", NOW)
    order = intent(f"{bot}/x", DOWN1, "BUY", price, 10_000_000, NOW)
    state, source = base_state(M1, NOW)
    write(bot, "normal", "EOA signing for itself, desk builderCode attached, crypto allowed.",
          state, source, order, expected("APPROVE", [], "", "APPROVE"))  # fmt: skip

    state, source = base_state(M1, NOW)
    write(bot, "warning", "The crypto category is on the compliance watch list: approved, flagged.",
          state, source, order, expected("APPROVE", ["RISK_COMPLIANCE_WATCHLIST"], "", "APPROVE"),
          config={"watchlist": ["crypto"]})  # fmt: skip

    state, source = base_state(M1, NOW)
    source["edits"] = ["intent without a builderCode"]
    write(bot, "hard", "The intent carries no builderCode: REJECT.", state, source,
          {**order, "builder_code": ""},
          expected("REJECT", ["RISK_COMPLIANCE_BUILDER_CODE"], bot, "REJECT"))  # fmt: skip

    state, source = base_state(M1, NOW)
    state["account"] = {**state["account"], "signer": "0xnot-an-address"}
    source["edits"] = ["account signer is not a 0x address (corrupt input)"]
    write(bot, "failure", "The desk's signer address is malformed: REJECT, never approve.",
          state, source, order,
          expected("REJECT", ["RISK_COMPLIANCE_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


def markethaltguard() -> None:
    bot = "risk.markethaltguard"
    state, source = base_state(M1, NOW)
    order = intent(f"{bot}/x", UP1, "BUY", _bid(M1, "UP", NOW), 10_000_000, NOW)
    write(bot, "normal", "Active market, 10 minutes before its end, venue normal: approved.",
          state, source, order, expected("APPROVE", [], "", "APPROVE"))  # fmt: skip

    # 150 s before the end: inside 60 + 120 s, outside the 60 s buffer.
    warn_ms = end_ms(M1) - 150_000
    state, source = base_state(M1, warn_ms)
    # (by then UP trades near 0.001 with no bids; DOWN is bid at 0.999)
    order = intent(f"{bot}/x", DOWN1, "BUY", _bid(M1, "DOWN", warn_ms), 10_000_000, warn_ms)
    write(bot, "warning", "150 s before the market's end: approved with the near-end warning.",
          state, source, order,
          expected("APPROVE", ["RISK_MARKETHALT_NEAR_END_WARN"], "", "APPROVE"))  # fmt: skip

    # 30 s before the end: inside the 60 s buffer -> new exposure refused.
    hard_ms = end_ms(M1) - 30_000
    state, source = base_state(M1, hard_ms)
    order = intent(f"{bot}/x", DOWN1, "BUY", _bid(M1, "DOWN", hard_ms), 10_000_000, hard_ms)
    write(bot, "hard", "30 s before the market's end: new exposure is refused.",
          state, source, order,
          expected("REJECT", ["RISK_MARKETHALT_NEAR_END"], bot, "REJECT"))  # fmt: skip

    state, source = base_state(M1, NOW)
    order = intent(f"{bot}/x", UP1, "BUY", _bid(M1, "UP", NOW), 10_000_000, NOW, market_id=M3)
    source["edits"] = ["the intent names another market than its token's (corrupt input)"]
    write(bot, "failure", "The intent's market does not match its token's market: REJECT.",
          state, source, order,
          expected("REJECT", ["RISK_MARKETHALT_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


# the real 78 s recording gap of M3: last snapshot before it, and the first after.
GAP_LAST_MS = 1790587921001
GAP_NEXT_MS = 1790587999000
QUIET_LAST_MS = 1790586801876


def stalebookguard() -> None:
    bot = "risk.stalebookguard"
    state, source = base_state(M1, NOW)
    order = intent(f"{bot}/x", UP1, "BUY", _bid(M1, "UP", NOW), 10_000_000, NOW)
    write(bot, "normal", "Both books updated within the last second: approved.",
          state, source, order, expected("APPROVE", [], "", "APPROVE"))  # fmt: skip

    # a real 8.9 s quiet period of M1 (no snapshot of either token from QUIET_LAST_MS until
    # 1790586810789): clock 8 s into it, book age 8 s > 5 s warning, < 15 s limit.
    now = QUIET_LAST_MS + 8_000
    state, source = base_state(M1, now)
    source["edits"] = ["clock 8 s into a real 8.9 s quiet period of the recording"]
    order = intent(f"{bot}/x", DOWN1, "BUY", _bid(M1, "DOWN", now), 10_000_000, now)
    write(bot, "warning", "The books are 8 s old (a real quiet period): approved with the age "
          "warning.", state, source, order,
          expected("APPROVE", ["RISK_STALEBOOK_AGE_WARN"], "", "APPROVE"))  # fmt: skip

    # inside the real 78 s recording gap of M3, 30 s after its last snapshot: age 30 s > 15 s.
    now = GAP_LAST_MS + 30_000
    assert now < GAP_NEXT_MS
    state, source = base_state(M3, now)
    source["edits"] = ["clock 30 s into a real 78 s gap of the recording"]
    up3 = token(M3, "UP")
    order = intent(f"{bot}/x", up3, "BUY", _bid(M3, "UP", now), 10_000_000, now)
    write(bot, "hard", "The last book is 30 s old (a real feed gap): REJECT.",
          state, source, order,
          expected("REJECT", ["RISK_STALEBOOK_TOO_OLD"], bot, "REJECT"))  # fmt: skip

    state, source = base_state(M1, NOW)
    del state["books"][DOWN1]
    source["edits"] = ["the complement (DOWN) book is missing"]
    order = intent(f"{bot}/x", UP1, "BUY", _bid(M1, "UP", NOW), 10_000_000, NOW)
    write(bot, "failure", "The complement token's book is missing: REJECT, never approve.",
          state, source, order,
          expected("REJECT", ["RISK_STALEBOOK_NO_BOOK"], bot, "REJECT"))  # fmt: skip


# Real books of M3 with an 8-tick spread (bid 0.24 / ask 0.32 on DOWN) and a real crossed book.
WIDE_MS = 1790589215990
CROSSED_MARKET = M1


def _first_crossed() -> tuple[str, str, int]:
    for (market_id, side), rows in sorted(_books().items()):
        for ts, bids, asks in rows:
            if bids and asks and bids[0][0] >= asks[0][0]:
                return market_id, side, ts
    raise ValueError("no crossed book in the sample")


def marketqualityguard() -> None:
    bot = "risk.marketqualityguard"
    state, source = base_state(M1, NOW)
    order = intent(f"{bot}/x", UP1, "BUY", _bid(M1, "UP", NOW), 10_000_000, NOW)
    write(bot, "normal", "A one-tick spread with hundreds of shares near the top: approved.",
          state, source, order, expected("APPROVE", [], "", "APPROVE"))  # fmt: skip

    state, source = base_state(M3, WIDE_MS)
    down3 = token(M3, "DOWN")
    order = intent(f"{bot}/x", down3, "BUY", _bid(M3, "DOWN", WIDE_MS), 10_000_000, WIDE_MS)
    write(bot, "warning", "A real 8-tick spread: above the 4-tick warning, below the 10-tick cap.",
          state, source, order,
          expected("APPROVE", ["RISK_QUALITY_WARN"], "", "APPROVE"))  # fmt: skip

    market_id, side, ts = _first_crossed()
    state, source = base_state(market_id, ts)
    crossed_token = token(market_id, side)
    order = intent(f"{bot}/x", crossed_token, "BUY", 10_000, 10_000_000, ts)
    write(bot, "hard", "A real crossed book (best bid ≥ best ask) in the recording: REJECT.",
          state, source, order,
          expected("REJECT", ["RISK_QUALITY_CROSSED_BOOK"], bot, "REJECT"))  # fmt: skip

    state, source = base_state(M1, NOW)
    del state["books"][UP1]
    source["edits"] = ["the traded token's book is missing"]
    order = intent(f"{bot}/x", UP1, "BUY", _bid(M1, "UP", NOW), 10_000_000, NOW)
    write(bot, "failure", "No book for the traded token: REJECT, never approve.",
          state, source, order,
          expected("REJECT", ["RISK_QUALITY_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


def exposureguard() -> None:
    bot = "risk.exposureguard"
    price = _bid(M1, "UP", NOW)  # the real best bid of UP at NOW (0.08)
    state, source = base_state(M1, NOW)
    order = intent(f"{bot}/x", UP1, "BUY", price, 10_000_000, NOW)
    write(bot, "normal", "Flat book; buying 10 UP at 0.08 risks 0.80 pUSD, far below the 500 "
          "pUSD cap.",
          state, source, order, expected("APPROVE", [], "", "APPROVE"))  # fmt: skip

    # hold 850 UP bought at 0.48 (cost 408 pUSD): worst case (DOWN wins) loses 408 pUSD.
    # +10 UP at `price` adds 10 × price: ≥ 400 = 80 % of 500 -> warning.
    state, source = base_state(M1, NOW, positions={UP1: [850_000_000, 408_000_000]})
    source["edits"] = ["position 850 UP at 0.48 (cost 408 pUSD)"]
    write(bot, "warning", "Holding 850 UP (408 pUSD at risk): the new order ends above 80 % of "
          "the 500 pUSD market cap.", state, source, order,
          expected("APPROVE", ["RISK_EXPOSURE_WARN"], "", "APPROVE"))  # fmt: skip

    # hold 1,000 UP at 0.48 (480 pUSD at risk); BUY 500 UP at 0.08 (40 pUSD): room 20 pUSD ->
    # ⌊20 / 0.08⌋ = 250 shares on the 0.01 grid.
    room = 500 * PUSD - 480 * PUSD
    fitted = room * PUSD // price
    fitted -= fitted % 10_000
    state, source = base_state(M1, NOW, positions={UP1: [1_000_000_000, 480_000_000]})
    source["edits"] = ["position 1,000 UP at 0.48 (cost 480 pUSD)"]
    assert price == 80_000 and fitted == 250_000_000
    big = intent(f"{bot}/x", UP1, "BUY", price, 500_000_000, NOW)
    write(bot, "hard", "Holding 1,000 UP (480 pUSD at risk): buying 500 more at 0.08 would pass "
          "the 500 pUSD cap, so the order is cut to the 250 shares that fit.", state, source, big,
          expected("APPROVE", ["RISK_EXPOSURE_RESHAPED"], "", "RESHAPE",
                   reshaped={"size": fitted}))  # fmt: skip

    state, source = base_state(M1, NOW, positions={token(M3, "UP"): [50_000_000, 20_000_000]})
    source["edits"] = ["a position in a token of a market the desk has no metadata for"]
    write(bot, "failure", "A position in an unknown market makes the total exposure unknowable: "
          "REJECT.", state, source, order,
          expected("REJECT", ["RISK_EXPOSURE_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


def drawdownguard() -> None:
    bot = "risk.drawdownguard"
    price = _bid(M1, "UP", NOW)
    order = intent(f"{bot}/x", UP1, "BUY", price, 10_000_000, NOW)
    state, source = base_state(M1, NOW)
    write(bot, "normal", "Equity at its peak: approved.",
          state, source, order, expected("APPROVE", [], "", "APPROVE"))  # fmt: skip

    # peak 1,000 pUSD, equity 940 pUSD: drawdown 6 % ≥ 50 % of the 10 % halt level.
    # The intent sells 20 of the 100 UP held: position-reducing -> approved, desk REDUCING.
    state, source = base_state(M1, NOW, cash=940 * PUSD, positions={UP1: [100_000_000, 45_000_000]})
    bids = state["books"][UP1]["bids"]
    asks = state["books"][UP1]["asks"]
    up_mid = (bids[0][0] + asks[0][0]) // 2
    state["cash"] = 940 * PUSD - up_mid * 100  # equity = cash + 100 × mid = 940 pUSD
    source["edits"] = ["100 UP held; cash set so equity is 940 pUSD against a 1,000 pUSD peak"]
    sell = intent(f"{bot}/x", UP1, "SELL", asks[0][0], 20_000_000, NOW)
    write(bot, "warning", "Drawdown 6 % (reducing level 5 %): a sale of held shares passes and the "
          "desk enters REDUCING.", state, source, sell,
          expected("APPROVE", ["RISK_DRAWDOWN_WARN"], "", "APPROVE",
                   trading_state="REDUCING"))  # fmt: skip

    state, source = base_state(M1, NOW, cash=880 * PUSD)
    source["edits"] = ["cash 880 pUSD against a 1,000 pUSD peak (12 % drawdown)"]
    write(bot, "hard", "Drawdown 12 % beyond the 10 % halt level: HALT.",
          state, source, order,
          expected("HALT", ["RISK_DRAWDOWN_HALT"], bot, "HALT",
                   trading_state="HALTED"))  # fmt: skip

    state, source = base_state(M1, NOW, peak_equity=0)
    source["edits"] = ["peak equity 0 (corrupt accounting input)"]
    write(bot, "failure", "Peak equity is 0, so the drawdown cannot be measured: REJECT.",
          state, source, order,
          expected("REJECT", ["RISK_DRAWDOWN_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


def main() -> None:
    for make in (
        killswitch,
        compliancegate,
        markethaltguard,
        stalebookguard,
        marketqualityguard,
        exposureguard,
        drawdownguard,
    ):
        make()


if __name__ == "__main__":
    main()
