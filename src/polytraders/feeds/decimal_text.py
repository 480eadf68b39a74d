"""Fast exact parsing of venue decimal strings into micro-units.

Feeds parse millions of price and size strings; :func:`polytraders.model.money.to_micros` is
exact but general. :func:`micros` takes a fast path for plain ``digits[.digits]`` text (the
form every venue here sends) and falls back to ``to_micros`` for anything else (sign, exponent,
more than six decimals), so results and errors are identical to ``to_micros``'s, including its
bounds (text over 64 characters or an exponent beyond ±30 is refused before any arithmetic).
Results of short strings are memoised in a bounded cache (prices repeat heavily), which is
deterministic because the function is pure.
"""

from __future__ import annotations

from polytraders.model.money import MAX_DECIMAL_CHARS, from_micros, to_micros

_CACHE: dict[str, int] = {}
_CACHE_MAX = 200_000
_SCALE = (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)


def micros(text: str) -> int:
    """Exact micro-units of a decimal string (same result and errors as ``to_micros``).

    Raises:
        ValueError: malformed text, non-zero digits beyond the sixth decimal, or text beyond
            ``to_micros``'s bounds (over 64 characters, or an exponent beyond ±30).
    """
    value = _CACHE.get(text)
    if value is not None:
        return value
    value = _parse(text)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[text] = value
    return value


def _parse(text: str) -> int:
    whole, dot, frac = text.partition(".")
    if (
        len(text) <= MAX_DECIMAL_CHARS
        and whole
        and whole.isascii()
        and whole.isdigit()
        and (not dot or (frac.isascii() and frac.isdigit()))
    ):
        n = len(frac)
        if n <= 6:
            return int(whole) * 1_000_000 + (int(frac) * _SCALE[n] if n else 0)
        head, tail = frac[:6], frac[6:]
        if not tail.strip("0"):
            return int(whole) * 1_000_000 + int(head)
    return to_micros(text)


_TEXT_CACHE: dict[int, str] = {}


def text(value: int) -> str:
    """Shortest exact decimal text of micro-units (:func:`~polytraders.model.money.from_micros`),
    memoised (bounded) because encoders format the same prices over and over."""
    result = _TEXT_CACHE.get(value)
    if result is None:
        result = from_micros(value)
        if len(_TEXT_CACHE) >= _CACHE_MAX:
            _TEXT_CACHE.clear()
        _TEXT_CACHE[value] = result
    return result
