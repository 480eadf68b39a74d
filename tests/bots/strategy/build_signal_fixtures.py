"""Build the fixture packs of ``strat.ema_cross`` and ``strat.mean_reversion`` from real data.

Run: ``.venv/bin/python -m tests.bots.strategy.build_signal_fixtures`` (rewrites
``tests/fixtures/bots/{strat.ema_cross,strat.mean_reversion}/*.json``).

The books and markets are the recorded ones :mod:`tests.bots.strategy.build_fixtures` cuts
for ``strat.maker_tight`` (``data/samples/polymarket/resolvedkit_btc15m``). A fixture case is
one event seen by a fresh bot, so no case can show a crossover or a band touch (they need bar
history: the desk tests and the backtest show those); the cases exercise what one event
decides: the take-profit and stop-loss rules on a held position, the end window and a
one-sided book. The expected decision and codes are written here by hand (``EXPECT``) and
checked against the bot's output before the file is saved.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from polytraders.bots.registry import BOTS
from polytraders.readiness.packs import FIXTURES_DIR, build_state, event_from, source_repository
from tests.bots.strategy.build_fixtures import (
    CALM_MARKET,
    LATE_MARKET,
    NS_PER_MS,
    load_market,
    snapshot_event,
    state,
)

PREFIX = {"strat.ema_cross": "STRAT_EMA", "strat.mean_reversion": "STRAT_MR"}
EXPECT: dict[str, tuple[str, list[str]]] = {
    "normal": ("PROPOSE", ["TAKE_PROFIT", "EXIT"]),
    "warning": ("PROPOSE", ["STOP_LOSS", "EXIT"]),
    "hard": ("PROPOSE", ["END_WINDOW", "EXIT"]),
    "failure": ("IDLE", ["ONE_SIDED_BOOK"]),
}
CONFIG: dict[str, dict[str, Any]] = {"normal": {"take_profit_bps": 1_000}}


def cases() -> dict[str, dict[str, Any]]:
    calm = load_market(CALM_MARKET)
    late = load_market(LATE_MARKET)
    up = calm.tokens[0].token_id
    calm_ms = calm.start_ns // NS_PER_MS + 300_000  # five minutes in: UP bid 0.080, ask 0.090
    normal = state(calm, calm_ms, positions={up: [20_000_000, 1_400_000]})  # bought at 0.070
    warning = state(calm, calm_ms, positions={up: [20_000_000, 2_400_000]})  # bought at 0.120
    late_up = late.tokens[0].token_id
    hard = state(
        late, late.end_ns // NS_PER_MS - 50_000, positions={late_up: [20_000_000, 18_800_000]}
    )
    failure = state(calm, calm.end_ns // NS_PER_MS - 150_000)  # the UP book has no bids
    return {
        "normal": {
            "description": (
                "Holding 20 UP bought at 0.070 (cost 1.4 pUSD) five minutes into a BTC "
                "15-minute market, mid 0.085, take_profit_bps = 1000: the profit is taken with "
                "a post-only reduce-only sell of the 20 shares at the best ask."
            ),
            "state": normal,
            "input": snapshot_event(normal, up),
        },
        "warning": {
            "description": (
                "The same books holding 20 UP bought at 0.120: the mid 0.085 is 29 % below the "
                "entry, past stop_loss_bps = 2000: the stop-loss warning and a post-only "
                "reduce-only sell of the 20 shares at the best ask."
            ),
            "state": warning,
            "input": snapshot_event(warning, up),
        },
        "hard": {
            "description": (
                "50 s before the market's end (stop_before_end_s = 60) holding 20 UP: no entry, "
                "the position is closed with a post-only reduce-only sell at the best ask."
            ),
            "state": hard,
            "input": snapshot_event(hard, late_up),
        },
        "failure": {
            "description": (
                "Recorded books 150 s before the end where the UP book has no bids: no mid, "
                "stand down with nothing proposed."
            ),
            "state": failure,
            "input": snapshot_event(failure, up),
        },
    }


def build() -> None:
    """Write every case file after checking the bot's output against ``EXPECT``."""
    for bot_id, prefix in PREFIX.items():
        folder = source_repository() / FIXTURES_DIR / bot_id
        folder.mkdir(parents=True, exist_ok=True)
        for case, body in cases().items():
            view = build_state(body["state"])
            event = event_from(body["input"])
            view.apply_event(event)
            cls = BOTS[bot_id]
            config = CONFIG.get(case, {})
            output = cls(cls.Config(**config)).decide(event, view)
            decision, names = EXPECT[case]
            codes = [f"{prefix}_{n}" for n in names]
            got = ("PROPOSE" if output.intents else "IDLE", list(output.reason_codes))
            if got != (decision, codes):
                raise SystemExit(f"{bot_id}/{case}: expected {(decision, codes)}, got {got}")
            document = {
                "bot_id": bot_id,
                "case": case,
                "description": body["description"],
                "source": (
                    "data/samples/polymarket/resolvedkit_btc15m (Resolved Markets, CC BY 4.0)"
                ),
                "config": config,
                "state": body["state"],
                "input": body["input"],
                "expected": {
                    "decision": decision,
                    "reason_codes": codes,
                    "output": msgspec.to_builtins(output),
                },
            }
            (folder / f"{case}.json").write_text(json.dumps(document, indent=1) + "\n")
            print(f"wrote {bot_id}/{case}.json: {decision} {codes}")


if __name__ == "__main__":
    build()
