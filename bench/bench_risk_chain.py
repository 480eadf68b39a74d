"""Risk-chain latency per intent with seven trivial APPROVE bots, envelope creation included.

Each intent runs the real :class:`polytraders.desk.risk_chain.RiskChain`: the desk's structural
check, known-token check and trading-state gate, then seven ENFORCED risk bots that return the
shared ``APPROVE`` decision, each producing a ``ReportEnvelope`` (deterministic id, input digest
computed once per intent) recorded in an in-memory sink. Every intent is new (the desk
refuses a reused intent id), built outside the timed region; ``approved_pct`` confirms the
timed path is the full approval path. Latency is measured per
intent with ``perf_counter_ns`` on one core; p50/p99 are over all timed intents after a warm-up.
Goal (issue 4): p99 ≤ 20 µs.
"""

from __future__ import annotations

import gc
import itertools
import time
from typing import ClassVar

from polytraders.contracts.bot import BotBase
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import APPROVE, RiskDecision
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.desk.fixtures import binary_market
from polytraders.desk.recorder import EnvelopeRecorder
from polytraders.desk.risk_chain import RiskChain
from polytraders.desk.sinks import MemorySink
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.orders import OrderIntent, Side

DESCRIPTION = "risk chain: per-intent latency with 7 trivial APPROVE bots, envelopes included"


class _EmptyConfig(BotConfig):
    """No settings."""


class _Approve(BotBase[_EmptyConfig]):
    """A trivial risk bot: approves everything."""

    bot_id = "risk.bench_approve"
    bot_class: ClassVar[BotClass] = BotClass.RISK
    Config = _EmptyConfig
    SEARCH_SPACE = SearchSpace(_EmptyConfig)

    def __init__(self, bot_id: str) -> None:
        super().__init__()
        self.bot_id = bot_id  # type: ignore[misc]

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        return APPROVE


def _percentile(sorted_ns: list[int], q: float) -> float:
    index = min(len(sorted_ns) - 1, int(q * len(sorted_ns)))
    return sorted_ns[index] / 1_000


def run(quick: bool = False) -> dict[str, float | int | str]:
    state = DeskState.build(
        now_ns=1_700_000_000_000_000_000,
        markets=[binary_market("m1", "yes", "no")],
        books={"yes": ([(440_000, 100_000_000)], [(460_000, 100_000_000)])},
        cash=1_000_000_000,
    )
    counter = iter(range(10**9))

    def batch(count: int) -> list[OrderIntent]:
        """Fresh intents (the desk refuses a reused intent id), built outside timing."""
        return [
            OrderIntent(
                intent_id=f"strat.bench/{n}",
                bot_id="strat.bench",
                token_id="yes",
                market_id="m1",
                side=Side.BUY,
                price=450_000,
                size=5_000_000 + 10_000 * (n & 63),
            )
            for n in itertools.islice(counter, count)
        ]

    sink = MemorySink()
    chain = RiskChain(
        [BotSlot(_Approve(f"risk.bench_{i}")) for i in range(7)],
        EnvelopeRecorder("run-bench", sink),
    )
    evaluate = chain.evaluate
    warmup = 2_000 if quick else 10_000
    timed = 20_000 if quick else 200_000
    for intent in batch(warmup):
        evaluate(intent, state, causation_id="ev")
    samples: list[int] = []
    append = samples.append
    clock = time.perf_counter_ns
    busy_ns = 0
    chunk = 4_096
    gc.disable()
    try:
        for _ in range(0, timed, chunk):
            intents = batch(chunk)  # outside the timed region, as is clearing the sink
            sink.clear()
            chunk_start = clock()
            for intent in intents:
                started = clock()
                evaluate(intent, state, causation_id="ev")
                append(clock() - started)
            busy_ns += clock() - chunk_start
    finally:
        gc.enable()
    timed = len(samples)
    samples.sort()
    check = batch(64)
    approved = sum(chain.evaluate(i, state, causation_id="ev").approved for i in check)
    return {
        "bots": 7,
        "intents": timed,
        "envelopes_per_intent": 7,
        "p50_us": round(_percentile(samples, 0.50), 2),
        "p90_us": round(_percentile(samples, 0.90), 2),
        "p99_us": round(_percentile(samples, 0.99), 2),
        "max_us": round(samples[-1] / 1_000, 2),
        "intents_per_s": timed * 1_000_000_000 / busy_ns,
        "approved_pct": round(100 * approved / len(check), 1),
        "goal_p99_us": 20,
    }
