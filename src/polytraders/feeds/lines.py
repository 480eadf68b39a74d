"""Reading and writing line recordings: ``<receive ts ns> <raw frame>`` per line.

The framing of the Binance sample files (``../shared/data/README.md``) and of the Polymarket
market-channel recordings. Files may be plain text or gzip (detected by the gzip magic bytes,
not the name). Reading is streamed in blocks: memory stays bounded whatever the file size.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from polytraders.feeds.config import MAX_TS_NS
from polytraders.feeds.errors import FeedError

GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1 << 20


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes."""
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_binary(path: Path) -> IO[bytes]:
    """Open a plain or gzip file for binary reading (gzip detected by content)."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def iter_raw_lines(path: Path) -> Iterator[bytes]:
    """Every non-empty line of the file without its line ending, in file order.

    Raises:
        FeedError: a gzip file whose stream is corrupt or truncated (the lines before the
            damage have been yielded).
        OSError: the file cannot be read.
    """
    with open_binary(path) as handle:
        rest = b""
        while True:
            try:
                block = handle.read(_BLOCK)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise FeedError(path, f"corrupt or truncated gzip stream: {exc}") from exc
            if not block:
                break
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.endswith(b"\r"):
                    line = line[:-1]  # noqa: PLW2901
                if line and not line.isspace():
                    yield line
        rest = rest.removesuffix(b"\r")
        if rest and not rest.isspace():
            yield rest


def count_lines(path: Path) -> int:
    """How many lines :func:`iter_raw_lines` yields (reads the whole file once).

    Raises:
        FeedError / OSError: as :func:`iter_raw_lines`.
    """
    return sum(1 for _ in iter_raw_lines(path))


def head_lines(path: Path, count: int, max_bytes: int = 1 << 22) -> list[bytes]:
    """The first ``count`` non-empty lines of a plain or gzip file (without line endings),
    reading at most ``max_bytes`` decompressed bytes: fewer lines when the file ends or the
    budget runs out first (a line cut by the budget is returned cut).

    Raises:
        FeedError: a gzip file whose stream is corrupt or truncated within that budget.
        OSError: the file cannot be read.
    """
    with open_binary(path) as handle:
        try:
            head = handle.read(max_bytes)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise FeedError(path, f"corrupt or truncated gzip stream: {exc}") from exc
    lines = [line.rstrip() for line in head.split(b"\n")]
    return [line for line in lines if line and not line.isspace()][:count]


def receive_time(stamp: bytes) -> int:
    """The receive time (ns) a line starts with: ASCII digits, at most int64 ns (checked on
    the length first, so a 5,000-digit stamp costs nothing).

    Raises:
        ValueError: not digits, or beyond int64 ns.
    """
    if not (stamp.isdigit() and len(stamp) <= _MAX_STAMP_DIGITS):
        raise ValueError(f"receive time {stamp[:40]!r} is not an integer ns")
    value = int(stamp)
    if value > MAX_TS_NS:
        raise ValueError(f"receive time {value} ns is beyond int64 ns (2262)")
    return value


_MAX_STAMP_DIGITS = len(str(MAX_TS_NS))


def split_line(line: bytes) -> tuple[int, bytes]:
    """``(ts_recv_ns, frame)`` of one line.

    Raises:
        ValueError: no space, or the prefix is not a non-negative integer within int64 ns.
    """
    stamp, sep, frame = line.partition(b" ")
    if not sep or not stamp.isdigit():
        raise ValueError(f"line does not start with '<receive ts ns> ': {line[:60]!r}")
    return receive_time(stamp), frame


def format_line(ts_recv_ns: int, frame: bytes) -> bytes:
    """One line (with ``\\n``) of the format; the frame must not contain a newline.

    Raises:
        ValueError: negative time or a newline in the frame.
    """
    if ts_recv_ns < 0 or b"\n" in frame:
        raise ValueError("a line needs a non-negative time and a frame without newlines")
    return b"%d %s\n" % (ts_recv_ns, frame)


@contextmanager
def open_writer(path: Path) -> Iterator[IO[bytes]]:
    """Context manager writing lines to ``path``; gzip when the name ends in ``.gz`` (header
    mtime 0 and no file name, so the output bytes are deterministic)."""
    with path.open("wb") as raw:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
            ) as zipped:
                yield zipped  # type: ignore[misc]
        else:
            yield raw
