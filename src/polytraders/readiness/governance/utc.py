"""RFC 3339 UTC times of governance documents: exactly ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds,
``Z``), so a time has one spelling and a signed payload one byte form."""

from __future__ import annotations

import re
from datetime import UTC, datetime

NS_PER_S = 1_000_000_000
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def utc_text(ts_ns: int) -> str:
    """``ts_ns`` (ns since the epoch, truncated to the second) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).strftime(_FORMAT)


def parse_utc(text: object) -> int:
    """A ``YYYY-MM-DDTHH:MM:SSZ`` time as ns since the epoch.

    Raises:
        ValueError: not a string of exactly that form, or not a valid date and time.
    """
    if not isinstance(text, str) or _PATTERN.fullmatch(text) is None:
        raise ValueError(f"not an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ: {text!r}")
    moment = datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
    return int(moment.timestamp()) * NS_PER_S
