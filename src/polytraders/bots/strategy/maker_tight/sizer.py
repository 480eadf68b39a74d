"""Order sizer: quote sizes with inventory skew under a hard maximum position.

``net`` is the market's net inventory in micro-shares of the primary token: primary shares held
minus complement shares held (a complement share is a short primary share: buying NO at ``1 − p``
is selling YES at ``p``). With ``r = |net| / max_position`` (clamped to 1):

- the side that would grow ``|net|`` is scaled down to ``order_size × (1 − size_skew_pct % × r)``;
  the side that shrinks it keeps ``order_size``;
- the bid never exceeds ``max_position − net`` and the ask never exceeds ``max_position + net``,
  so a fill of either quote can never carry ``|net|`` past ``max_position``;
- sizes round down to the venue's size step; a size under the token's minimum order size is 0
  (that side is not quoted). At the limit only the reducing side is quoted.

All arithmetic is on integers (micro-shares).
"""

from __future__ import annotations

from typing import NamedTuple


class QuoteSizes(NamedTuple):
    """Bid and ask sizes (micro-shares); 0 means the side is not quoted."""

    bid: int
    ask: int


class OrderSizer:
    """Sizes quotes. See the module docstring.

    Args:
        order_size_micros: base quote size (micro-shares, > 0).
        max_position_micros: maximum |net inventory| (micro-shares, > 0).
        size_skew_pct: how much the growing side shrinks at full inventory (0–100 %).
        size_step_micros: venue size precision (micro-shares, > 0; 10_000 = 0.01 share).

    Raises:
        ValueError: an argument out of range.
    """

    __slots__ = ("_max", "_size", "_skew", "_step")

    def __init__(
        self,
        order_size_micros: int,
        max_position_micros: int,
        size_skew_pct: int,
        size_step_micros: int,
    ) -> None:
        if order_size_micros <= 0 or max_position_micros <= 0 or size_step_micros <= 0:
            raise ValueError("sizes and steps must be positive")
        if not 0 <= size_skew_pct <= 100:
            raise ValueError("size_skew_pct must be within 0-100")
        self._size = order_size_micros
        self._max = max_position_micros
        self._skew = size_skew_pct
        self._step = size_step_micros

    @property
    def max_position_micros(self) -> int:
        """The hard cap on |net inventory| (micro-shares)."""
        return self._max

    def sizes(self, net: int, min_order_size: int) -> QuoteSizes:
        """Bid and ask sizes for net inventory ``net`` (micro-shares, signed)."""
        used = min(abs(net), self._max)
        shrunk = self._size - self._size * self._skew * used // (100 * self._max)
        bid = shrunk if net > 0 else self._size
        ask = shrunk if net < 0 else self._size
        bid = min(bid, self._max - net)
        ask = min(ask, self._max + net)
        return QuoteSizes(self._finish(bid, min_order_size), self._finish(ask, min_order_size))

    def _finish(self, size: int, min_order_size: int) -> int:
        if size <= 0:
            return 0
        size -= size % self._step
        return size if size >= max(min_order_size, self._step) else 0
