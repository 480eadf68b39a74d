"""TWAP slicing: a parent size cut into children on the lot grid, released evenly over a
duration (pure integer arithmetic, micro-shares and ns)."""

from __future__ import annotations

from polytraders.contracts.decisions import ChildSlice


def twap_slices(
    size: int, *, start_ns: int, duration_ns: int, slices: int, min_size: int, step: int
) -> tuple[ChildSlice, ...]:
    """``size`` cut into at most ``slices`` children released over ``duration_ns`` from
    ``start_ns``.

    The children add up to ``size`` exactly; each is a whole number of ``step`` lots and at
    least ``min_size`` (the count drops until every child reaches it: a slice too small is
    merged into its neighbours, never sent under the minimum); sizes differ by at most one lot,
    the larger ones first. Child ``k`` of ``n`` is released at
    ``start_ns + k * duration_ns // n``: the first at ``start_ns``, strictly increasing, all
    before ``start_ns + duration_ns``. Empty when ``size`` is below ``min_size``.

    Raises:
        ValueError: ``size`` not a positive multiple of ``step``, a non-positive ``step`` or
            ``slices``, a negative ``min_size``, or ``duration_ns`` below the child count (the
            release times could not be strictly increasing).
    """
    if step <= 0 or slices <= 0 or min_size < 0:
        raise ValueError("step and slices must be positive and min_size not negative")
    if size <= 0 or size % step:
        raise ValueError(f"size {size} is not a positive multiple of the lot {step}")
    lots = size // step
    min_lots = max(1, -(-min_size // step))
    count = min(slices, lots // min_lots)
    if count == 0:
        return ()
    if duration_ns < count:
        raise ValueError(f"duration {duration_ns} ns cannot hold {count} release times")
    base, extra = divmod(lots, count)
    return tuple(
        ChildSlice(
            release_ns=start_ns + k * duration_ns // count,
            size=(base + (1 if k < extra else 0)) * step,
        )
        for k in range(count)
    )
