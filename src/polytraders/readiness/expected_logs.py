"""Drop the desk's warnings that readiness provokes on purpose (a deliberately overreaching
copy of a bot being quarantined, the sentinel order of a kill-switch case being cancelled), so
an operator reading ``polytraders readiness`` sees only what is unexpected. Every other record
passes through untouched."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class _Drop(logging.Filter):
    def __init__(self, expected: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__()
        self._expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._expected(record)


@contextmanager
def expected_warnings(
    logger_name: str, expected: Callable[[logging.LogRecord], bool]
) -> Iterator[None]:
    """While inside, records of ``logger_name`` for which ``expected(record)`` holds are
    dropped; the filter is removed on leaving (also on an exception)."""
    logger = logging.getLogger(logger_name)
    drop = _Drop(expected)
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def mentions(*needles: str) -> Callable[[logging.LogRecord], bool]:
    """A predicate: the record's formatted message contains every one of ``needles``."""

    def predicate(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return all(needle in message for needle in needles)

    return predicate
