"""Build the fixture packs of ``strat.maker_tight`` and ``exec.smartrouter`` from real data.

Run: ``.venv/bin/python -m tests.bots.strategy.build_fixtures`` (rewrites
``tests/fixtures/bots/{strat.maker_tight,exec.smartrouter}/*.json``).

Every book in a fixture is a recorded snapshot of ``data/samples/polymarket/resolvedkit_btc15m``
(the latest snapshot of each token at or before the chosen instant), and the market metadata is
the recorded market row. Token ids follow the loaders' convention ``<market id>:UP`` /
``<market id>:DOWN``. The tick is 0.001: the recorded books hold levels such as 0.941 and 0.059,
which only a 0.001 tick allows. The expected decision and reason codes of each case are written
here by hand (``EXPECT``); the expected output is the bot's output, recorded once and checked
against the hand-written expectation before it is saved, then reviewed in the pack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.money import micros_from_recorded
from polytraders.model.orders import OrderIntent, Side, TimeInForce
from polytraders.readiness.packs import (
    FIXTURES_DIR,
    build_state,
    event_from,
    intent_from,
    source_repository,
)

SAMPLE = (
    Path(__file__).resolve().parents[3] / "data" / "samples" / "polymarket" / "resolvedkit_btc15m"
)
TICK = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

CALM_MARKET = "0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028"
LATE_MARKET = "0xdb317dd2bf1c1552d222ef0bbfed67bd866323ab02db0e0aff21bb20e233212a"


def load_market(market_id: str) -> Market:
    """The recorded market row as a :class:`Market` (ACTIVE, tick 0.001, minimum 5 shares)."""
    rows = pq.read_table(SAMPLE / "markets.parquet").to_pylist()
    row = next(r for r in rows if r["market_id"] == market_id)
    up, down = f"{market_id}:UP", f"{market_id}:DOWN"
    return Market(
        market_id=market_id,
        slug=row["slug"],
        question=row["question"],
        category=row["category"],
        start_ns=row["start_ts"] * NS_PER_MS,
        end_ns=row["end_ts"] * NS_PER_MS,
        tokens=(
            OutcomeToken(
                token_id=up,
                market_id=market_id,
                outcome="Up",
                complement_token_id=down,
                tick_size=TICK,
            ),
            OutcomeToken(
                token_id=down,
                market_id=market_id,
                outcome="Down",
                complement_token_id=up,
                tick_size=TICK,
            ),
        ),
    )


def books_at(market_id: str, ts_ms: int) -> dict[str, dict[str, Any]]:
    """Latest recorded snapshot of each token of the market at or before ``ts_ms``."""
    table = pq.read_table(SAMPLE / "books.parquet").to_pylist()
    latest: dict[str, dict[str, Any]] = {}
    for row in table:
        if row["market_id"] != market_id or row["ts"] > ts_ms:
            continue
        token = f"{market_id}:{row['side']}"
        latest[token] = {
            "ts_ns": row["ts"] * NS_PER_MS,
            "bids": [
                [micros_from_recorded(p), micros_from_recorded(s)]
                for p, s in zip(row["bid_px"], row["bid_sz"], strict=True)
            ],
            "asks": [
                [micros_from_recorded(p), micros_from_recorded(s)]
                for p, s in zip(row["ask_px"], row["ask_sz"], strict=True)
            ],
        }
    return dict(sorted(latest.items()))


def state(market: Market, ts_ms: int, **extra: Any) -> dict[str, Any]:
    """A desk state: the market, its books at ``ts_ms``, the clock at the last book's time."""
    books = books_at(market.market_id, ts_ms)
    now_ns = max(b["ts_ns"] for b in books.values())
    return {"now_ns": now_ns, "markets": [msgspec.to_builtins(market)], "books": books, **extra}


def snapshot_event(st: dict[str, Any], token_id: str) -> dict[str, Any]:
    """The BookSnapshot event that delivered ``token_id``'s book in ``st``."""
    book = st["books"][token_id]
    return {
        "type": "book_snapshot",
        "ts_event_ns": book["ts_ns"],
        "ts_recv_ns": book["ts_ns"],
        "token_id": token_id,
        "bids": book["bids"],
        "asks": book["asks"],
    }


def intent(**fields: Any) -> dict[str, Any]:
    """A tagged intent object as strat.maker_tight names them (first of its session), PLACE."""
    session = f"strat.maker_tight/s{fields['ts_created_ns']}"
    base = OrderIntent(intent_id=f"{session}/i0", bot_id="strat.maker_tight", **fields)
    return msgspec.to_builtins(base)  # type: ignore[no-any-return]


EXPECT: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("strat.maker_tight", "normal"): ("PROPOSE", ["STRAT_QUOTES_PLACED"]),
    ("strat.maker_tight", "warning"): ("PROPOSE", ["STRAT_INVENTORY_LIMIT", "STRAT_QUOTES_PLACED"]),
    ("strat.maker_tight", "hard"): ("PROPOSE", ["STRAT_END_WINDOW", "STRAT_UNWIND"]),
    ("strat.maker_tight", "failure"): ("IDLE", ["STRAT_ONE_SIDED_BOOK"]),
    ("exec.smartrouter", "normal"): ("ROUTE", ["EXEC_ROUTED"]),
    ("exec.smartrouter", "warning"): (
        "ROUTE",
        ["EXEC_ROUTED", "EXEC_SIZE_ROUNDED", "EXEC_PRICE_ROUNDED", "EXEC_COMPLEMENT_ROUTE"],
    ),
    ("exec.smartrouter", "hard"): ("REFUSE", ["EXEC_BELOW_MIN_SIZE"]),
    ("exec.smartrouter", "failure"): ("REFUSE", ["EXEC_UNKNOWN_TOKEN"]),
}


def strategy_cases() -> dict[str, dict[str, Any]]:
    calm = load_market(CALM_MARKET)
    late = load_market(LATE_MARKET)
    up, down = calm.tokens[0].token_id, calm.tokens[1].token_id
    calm_ms = calm.start_ns // NS_PER_MS + 300_000  # five minutes into the market
    normal = state(calm, calm_ms)
    warning = state(calm, calm_ms, positions={up: [100_000_000, 8_500_000]})
    late_ms = late.end_ns // NS_PER_MS - 50_000  # 50 s before the end, books still two-sided
    hard = state(late, late_ms, positions={late.tokens[0].token_id: [20_000_000, 18_800_000]})
    failure_ms = calm.end_ns // NS_PER_MS - 150_000  # the recorded UP book lost its bids here
    failure = state(calm, failure_ms)
    return {
        "normal": {
            "description": (
                "Calm two-sided books five minutes into a BTC 15-minute market, flat inventory: "
                "quote both sides, post-only GTD, one tick inside the merged spread."
            ),
            "state": normal,
            "input": snapshot_event(normal, up),
        },
        "warning": {
            "description": (
                "Same books with 100 shares of UP held, the maximum position: only the reducing "
                "(SELL) side is quoted, at full size, with the inventory warning."
            ),
            "state": warning,
            "input": snapshot_event(warning, up),
        },
        "hard": {
            "description": (
                "50 s before the market's end (stop_before_end_s = 60) holding 20 UP shares: no "
                "quotes; the passive unwind rule rests a post-only reduce-only sell of the held "
                "shares."
            ),
            "state": hard,
            "input": snapshot_event(hard, late.tokens[0].token_id),
        },
        "failure": {
            "description": (
                "Recorded books 150 s before the end where the UP book has no bids and the DOWN "
                "book no asks (the merged book is one-sided): stand down, never quote around a "
                "made-up price."
            ),
            "state": failure,
            "input": snapshot_event(failure, down),
        },
    }


def router_cases() -> dict[str, dict[str, Any]]:
    calm = load_market(CALM_MARKET)
    up = calm.tokens[0].token_id
    calm_ms = calm.start_ns // NS_PER_MS + 300_000
    st = state(calm, calm_ms)
    now = st["now_ns"]
    bid = st["books"][up]["bids"][0][0]
    ask = st["books"][up]["asks"][0][0]
    gtd = {
        "time_in_force": TimeInForce.GTD,
        "expire_at_ns": now + 120 * NS_PER_S,
        "post_only": True,
    }
    return {
        "normal": {
            "description": (
                "A post-only GTD BUY of 10 UP one tick below the recorded best ask: one post-only"
                " maker order on the standard CTF exchange with the builderCode and the 60 s GTD "
                "margin."
            ),
            "state": st,
            "input": intent(
                token_id=up,
                market_id=calm.market_id,
                side=Side.BUY,
                price=ask - TICK,
                size=10_000_000,
                ts_created_ns=now,
                **gtd,
            ),
        },
        "warning": {
            "description": (
                "A post-only SELL of 10.005 UP (not held) at an off-tick price 0.0004 above the "
                "best ask: size rounds down to 10 shares and the sell becomes a BUY of DOWN at 1 "
                "- p rounded down to the tick."
            ),
            "state": st,
            "input": intent(
                token_id=up,
                market_id=calm.market_id,
                side=Side.SELL,
                price=ask + 400,
                size=10_005_000,
                ts_created_ns=now,
                **gtd,
            ),
        },
        "hard": {
            "description": (
                "A BUY of 2 shares, below the token's 5-share minimum order size: refused, "
                "nothing is sent."
            ),
            "state": st,
            "input": intent(
                token_id=up,
                market_id=calm.market_id,
                side=Side.BUY,
                price=bid,
                size=2_000_000,
                ts_created_ns=now,
                **gtd,
            ),
        },
        "failure": {
            "description": (
                "An intent naming a token the desk has no metadata for (corrupt id): refused, "
                "nothing is sent."
            ),
            "state": st,
            "input": intent(
                token_id=calm.market_id + ":SIDEWAYS",
                market_id=calm.market_id,
                side=Side.BUY,
                price=bid,
                size=10_000_000,
                ts_created_ns=now,
                **gtd,
            ),
        },
    }


def _decision(bot_id: str, output: Any) -> str:
    if bot_id.startswith("strat."):
        return "PROPOSE" if output.intents else "IDLE"
    return "ROUTE" if output.orders or output.cancel_client_order_ids else "REFUSE"


def build() -> None:
    """Write every case file after checking the bot's output against ``EXPECT``."""
    packs = {"strat.maker_tight": strategy_cases(), "exec.smartrouter": router_cases()}
    for bot_id, cases in packs.items():
        folder = source_repository() / FIXTURES_DIR / bot_id
        folder.mkdir(parents=True, exist_ok=True)
        for case, body in cases.items():
            view = build_state(body["state"])
            if bot_id.startswith("strat."):
                output: Any = MakerTight().decide(event_from(body["input"]), view)
            else:
                output = SmartRouter().decide(intent_from(body["input"]), view)
            decision, codes = EXPECT[(bot_id, case)]
            got = (_decision(bot_id, output), list(output.reason_codes))
            if got != (decision, codes):
                raise SystemExit(f"{bot_id}/{case}: expected {(decision, codes)}, got {got}")
            document = {
                "bot_id": bot_id,
                "case": case,
                "description": body["description"],
                "source": (
                    "data/samples/polymarket/resolvedkit_btc15m (Resolved Markets, CC BY 4.0)"
                ),
                "config": {},
                "state": body["state"],
                "input": body["input"],
                "expected": {
                    "decision": decision,
                    "reason_codes": codes,
                    "output": msgspec.to_builtins(output),
                },
            }
            (folder / f"{case}.json").write_text(json.dumps(document, indent=1) + "\n")
            print(f"wrote {folder.name}/{case}.json: {decision} {codes}")


if __name__ == "__main__":
    build()
