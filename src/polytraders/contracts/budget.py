"""A bot's declared runtime budget: the numbers its Runtime score and its promotion gates
measure recorded evidence against (seed 002, Runtime checklist items 2–4; seed 001, "P99
latency ≤ documented SLO", "Error rate < 0.1 % over 7 days").

Each library bot declares one as ``RUNTIME_BUDGET`` beside ``SEARCH_SPACE``; its spec's
section 18 ("Latency budget") states the same figures (checked by the Docs score).
"""

from __future__ import annotations

import msgspec


class RuntimeBudget(msgspec.Struct, frozen=True, kw_only=True):
    """What a bot promises at runtime, in integer units.

    Attributes:
        decision_p95_us: p95 of the bot's decision latency (µs, from envelopes' ``latency_ns``
            of live-clock runs) must stay at or under this (Runtime item 3).
        decision_p99_us: the documented latency SLO: p99 at or under this (gate Shadow →
            Limited live). At most the desk's per-decision budget (5 ms), beyond which the bot
            is quarantined anyway.
        error_rate_max_ppm: errors per million decisions allowed (Runtime item 2; seed 001's
            gate: < 0.1 % = 1,000 ppm over 7 days).
        reject_rate_min_bps, reject_rate_max_bps: the calibrated band of the bot's reject rate
            (bps of its decisions; for a strategy, of its intents refused downstream); outside
            it the bot is mis-calibrated (Runtime item 4).
        calibration: where the band and the latency figures come from (a run, a benchmark).
    """

    decision_p95_us: int
    decision_p99_us: int
    error_rate_max_ppm: int = 1_000
    reject_rate_min_bps: int = 0
    reject_rate_max_bps: int = 10_000
    calibration: str = ""

    def problems(self) -> list[str]:
        """What is inconsistent in the budget (empty when sound)."""
        out: list[str] = []
        if not 0 < self.decision_p95_us <= self.decision_p99_us <= 5_000:
            out.append("latency budget needs 0 < p95 ≤ p99 ≤ 5,000 µs (the desk's budget)")
        if not 0 < self.error_rate_max_ppm <= 1_000_000:
            out.append("error_rate_max_ppm must lie in (0, 1,000,000]")
        if not 0 <= self.reject_rate_min_bps <= self.reject_rate_max_bps <= 10_000:
            out.append("reject band needs 0 ≤ min ≤ max ≤ 10,000 bps")
        if not self.calibration:
            out.append("say where the figures were calibrated")
        return out
