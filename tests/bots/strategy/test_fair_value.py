"""Fair value from the two complementary books: hand-computed cases and the YES/NO identity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polytraders.bots.strategy.maker_tight.fair_value import (
    BookProblem,
    MergedTop,
    complement_fair_value,
    fair_value,
    merged_top,
)
from polytraders.model.book import OrderBook
from polytraders.model.money import ONE


def book(token: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    b = OrderBook(token)
    b.apply_snapshot(bids, asks, 1)
    return b


def test_recorded_mirrored_books_merge_to_the_same_top() -> None:
    # recorded snapshot (market 0xfb85…, +300 s): UP 0.08/0.09, DOWN 0.91/0.92, mirrored sizes
    up = book("UP", [(80_000, 94_690_000)], [(90_000, 94_170_000)])
    down = book("DOWN", [(910_000, 94_170_000)], [(920_000, 94_690_000)])
    top = merged_top(up, down)
    assert top == MergedTop(80_000, 94_690_000, 90_000, 94_170_000)
    # microprice = (0.08 × 94.17 + 0.09 × 94.69) / 188.86 = 0.0850137…
    assert fair_value(top, "microprice") == 85_013
    assert fair_value(top, "mid") == 85_000


def test_complement_improves_the_primary_top() -> None:
    up = book("UP", [(400_000, 5_000_000)], [(600_000, 5_000_000)])
    down = book("DOWN", [(450_000, 7_000_000)], [(580_000, 3_000_000)])  # → UP bid 0.42, ask 0.55
    top = merged_top(up, down)
    assert top == MergedTop(420_000, 3_000_000, 550_000, 7_000_000)


def test_one_book_alone_is_enough_when_two_sided() -> None:
    up = book("UP", [(400_000, 1)], [(600_000, 1)])
    assert merged_top(up, None) == MergedTop(400_000, 1, 600_000, 1)
    assert merged_top(None, book("DOWN", [(400_000, 1)], [(600_000, 1)])) == MergedTop(
        400_000, 1, 600_000, 1
    )


def test_problems() -> None:
    assert merged_top(None, None) is BookProblem.NO_BOOK
    assert merged_top(book("UP", [], []), book("DOWN", [], [])) is BookProblem.NO_BOOK
    # recorded end-of-market books: UP only asks at 0.001, DOWN only bids at 0.999
    up = book("UP", [], [(1_000, 36_680_000)])
    down = book("DOWN", [(999_000, 36_680_000)], [])
    assert merged_top(up, down) is BookProblem.ONE_SIDED
    # the two books disagree: UP bid 0.50 above the complement-implied ask 1 − 0.55 = 0.45
    crossed = merged_top(
        book("UP", [(500_000, 1)], [(510_000, 1)]), book("DOWN", [(550_000, 1)], [])
    )
    assert crossed is BookProblem.CROSSED


@given(
    bid=st.integers(1, 998),
    width=st.integers(1, 50),
    bid_size=st.integers(1, 10**9),
    ask_size=st.integers(1, 10**9),
)
def test_fair_value_is_inside_the_spread_and_complement_consistent(
    bid: int, width: int, bid_size: int, ask_size: int
) -> None:
    bid_px = bid * 1_000
    ask_px = min(bid_px + width * 1_000, 999_000)
    if ask_px <= bid_px:
        return
    up = book("UP", [(bid_px, bid_size)], [(ask_px, ask_size)])
    down = book("DOWN", [(ONE - ask_px, ask_size)], [(ONE - bid_px, bid_size)])
    top_up = merged_top(up, down)
    top_down = merged_top(down, up)
    assert isinstance(top_up, MergedTop) and isinstance(top_down, MergedTop)
    for method in ("mid", "microprice"):
        fair = fair_value(top_up, method)  # type: ignore[arg-type]
        assert bid_px <= fair <= ask_px
        # the DOWN token seen as primary: same top mirrored, fair within a micro of 1 − fair
        fair_down = fair_value(top_down, method)  # type: ignore[arg-type]
        assert abs(fair_down - complement_fair_value(fair)) <= 1
