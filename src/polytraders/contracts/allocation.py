"""``Allocation``: the output of the desk's MetaAllocator envelopes (issue 21 item 6).

One allocation is the capital split the desk enforces from then on
(:mod:`polytraders.desk.allocator`): a weight per strategy and the reserve, in parts per
million of ``equity_micros`` (weights + reserve = 1 000 000 exactly), with the drawdown tier it
was made in and the strategies' scores it used. Integers only, so envelopes stay float-free.
"""

from __future__ import annotations

import msgspec


class Allocation(msgspec.Struct, frozen=True, kw_only=True, tag="allocation"):
    """One capital split of the desk.

    Fields:
        weights_ppm: strategy bot id → its weight (ppm of ``equity_micros``), sorted by id.
        reserve_ppm: the weight nobody may use (ppm); ``sum(weights_ppm) + reserve_ppm``
            is 1 000 000.
        equity_micros: desk equity (cash + positions at mid, micro-units) when this split was
            made; a strategy's budget is ``weight_ppm × equity_micros / 10⁶`` until the next.
        drawdown_ppm: ``(peak − equity) / peak`` of the desk then (ppm, floor; 0 at no peak).
        tier: drawdown tiers entered so far (0: none; ``k``: the k-th configured tier).
        scores_ppm: strategy → recent risk-adjusted score × 10⁶ (rounded half to even) used to
            split the pool (empty for allocations that use no score).
        frozen: the allocator does not reallocate on drawdown while frozen.
        reason: the registered code of this change (``SYS_ALLOCATOR_*``).
    """

    weights_ppm: dict[str, int]
    reserve_ppm: int
    equity_micros: int
    drawdown_ppm: int
    tier: int
    scores_ppm: dict[str, int]
    frozen: bool
    reason: str
