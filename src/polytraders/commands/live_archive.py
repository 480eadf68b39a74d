"""A live desk's archive: what its ``--out`` files list, kept on disk as it happens, so the
desk itself can keep a bounded past (``SessionMemory.live``: orders retire with their
fills, the equity curve is thinned) and the files still list everything.

:class:`DeskArchive` is the desk's :class:`~polytraders.desk.orders.OrderArchive` and its
ledger's ``equity_sink``. Three append-only files in the session's working folder:

- ``<name>.fills.jsonl``: every fill booked (a :class:`Fill`) and every reversal (the fill's
  id), msgspec JSON, one a line, in the order they happened: replayed, they give exactly the
  fills an unbounded desk lists (``OrderManager.fills``: booking order, reverted ones out);
- ``<name>.orders.jsonl``: every order retired with fills, as it retired (what ``fills.csv``
  reads from a fill's order: its intent and bot);
- ``<name>.equity.bin``: every point of the unthinned equity curve, (ts_ns, equity micro)
  as two little-endian int64.

:meth:`DeskArchive.mark` flushes them and says how far they go; the ``read`` methods read up
to such a mark (from another thread too, while the desk appends).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from polytraders.model.fills import Fill
from polytraders.model.orders import VenueOrder

if TYPE_CHECKING:
    from polytraders.desk.desk import Desk


class _Reverted(msgspec.Struct, frozen=True, tag="reverted"):
    """A booked fill taken back."""

    fill_id: str


_ENCODER = msgspec.json.Encoder()
_FILL_DECODER = msgspec.json.Decoder(Fill | _Reverted)
_ORDER_DECODER = msgspec.json.Decoder(VenueOrder)
_POINT = struct.Struct("<qq")


class ArchiveMark(msgspec.Struct, frozen=True):
    """How many bytes of each archive file a capture covers."""

    fills_bytes: int
    orders_bytes: int
    equity_bytes: int


class DeskArchive:
    """The archive of one desk (see the module docstring).

    Args:
        folder: the session's working folder.
        name: the files' prefix (one per desk).

    Raises:
        OSError: the files cannot be created.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.fills_path = folder / f"{name}.fills.jsonl"
        self.orders_path = folder / f"{name}.orders.jsonl"
        self.equity_path = folder / f"{name}.equity.bin"
        self._fills = self.fills_path.open("wb")
        self._orders = self.orders_path.open("wb")
        self._equity = self.equity_path.open("wb")

    def attach(self, desk: Desk) -> None:
        """Archive ``desk`` from now on: its fills and equity points so far, then each as it
        comes (call before the desk's first event, while its curve is not yet thinned)."""
        for fill in desk.orders.fills:
            self.fill_booked(fill)
        for point in desk.state.ledger.equity_curve:
            self.equity_point(point.ts_ns, point.equity)
        desk.orders.archive = self
        desk.state.ledger.equity_sink = self.equity_point

    def fill_booked(self, fill: Fill) -> None:
        """Append a booked fill."""
        self._fills.write(_ENCODER.encode(fill) + b"\n")

    def fill_reverted(self, fill: Fill) -> None:
        """Append a reversal."""
        self._fills.write(_ENCODER.encode(_Reverted(fill.fill_id)) + b"\n")

    def order_retired(self, order: VenueOrder) -> None:
        """Append an order retired with fills."""
        self._orders.write(_ENCODER.encode(order) + b"\n")

    def equity_point(self, ts_ns: int, equity: int) -> None:
        """Append a point of the unthinned equity curve."""
        self._equity.write(_POINT.pack(ts_ns, equity))

    def mark(self) -> ArchiveMark:
        """Flush the files; how far they go now."""
        for stream in (self._fills, self._orders, self._equity):
            stream.flush()
        return ArchiveMark(self._fills.tell(), self._orders.tell(), self._equity.tell())

    def close(self) -> None:
        """Close the files (they stay on disk)."""
        for stream in (self._fills, self._orders, self._equity):
            stream.close()

    def read_fills(self, mark: ArchiveMark) -> list[Fill]:
        """Every fill booked and not reverted up to ``mark``, in booking order."""
        fills: list[Fill] = []
        for line in _read(self.fills_path, mark.fills_bytes).splitlines():
            record = _FILL_DECODER.decode(line)
            if isinstance(record, Fill):
                fills.append(record)
            else:
                fills = [f for f in fills if f.fill_id != record.fill_id]
        return fills

    def read_orders(self, mark: ArchiveMark) -> dict[str, VenueOrder]:
        """Client order id → every order retired with fills up to ``mark``."""
        orders = (
            _ORDER_DECODER.decode(line)
            for line in _read(self.orders_path, mark.orders_bytes).splitlines()
        )
        return {order.client_order_id: order for order in orders}

    def read_equity_curve(self, mark: ArchiveMark) -> list[tuple[int, int]]:
        """The unthinned equity curve up to ``mark``: (ts_ns, equity micro) points."""
        return list(_POINT.iter_unpack(_read(self.equity_path, mark.equity_bytes)))


def _read(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of ``path``."""
    with path.open("rb") as stream:
        data = stream.read(size)
    if len(data) != size:
        raise OSError(f"{path}: {len(data)} bytes, {size} expected")
    return data
