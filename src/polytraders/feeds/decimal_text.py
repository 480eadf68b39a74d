"""Fast exact parsing of venue decimal strings into micro-units.

Feeds parse millions of price and size strings; :func:`polytraders.model.money.to_micros` is
exact but general. :func:`micros` takes a fast path for plain ``digits[.digits]`` text (the
form every venue here sends) and falls back to ``to_micros`` for anything else (sign, exponent,
more than six decimals), so results are identical to ``to_micros`` and malformed text still
raises :class:`ValueError`; text ``to_micros`` could not evaluate in bounded time (over 64
characters, an exponent beyond ±30) is refused with :class:`ValueError` before it gets there.
Results of short strings are memoised in a bounded cache (prices repeat heavily), which is
deterministic because the function is pure.
"""

from __future__ import annotations

from polytraders.model.money import from_micros, to_micros

_CACHE: dict[str, int] = {}
_CACHE_MAX = 200_000
_SCALE = (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)


def micros(text: str) -> int:
    """Exact micro-units of a decimal string (same result and errors as ``to_micros``).

    Raises:
        ValueError: malformed text, non-zero digits beyond the sixth decimal, or text
            ``to_micros`` could not evaluate in bounded time (over 64 characters, or an
            exponent beyond ±30).
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
        whole
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
    _check_bounded(text)
    return to_micros(text)


_MAX_SLOW_TEXT = 64
_MAX_EXPONENT = 30


def _check_bounded(text: str) -> None:
    """Refuse text whose exact value would cost unbounded time or memory in ``to_micros``
    (``"1e999999999"`` is a billion-digit integer): more than 64 characters or an exponent
    beyond ±30 (no venue number comes near either).

    Raises:
        ValueError: such text.
    """
    if len(text) > _MAX_SLOW_TEXT:
        raise ValueError(f"number text of {len(text)} characters")
    _, marker, exponent = text.lower().partition("e")
    if marker:
        digits = exponent.strip().lstrip("+-")
        if digits.isascii() and digits.isdigit() and int(digits) > _MAX_EXPONENT:
            raise ValueError(f"exponent of {text!r} is out of range")


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
