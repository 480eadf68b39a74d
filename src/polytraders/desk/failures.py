"""What the desk records about a bot that raised: :func:`exception_failure`.

The location is the innermost traceback frame inside the bot's own code — the file defining
the bot's class or a class it inherits from (the contracts' ``BotBase`` excluded) — so an error
deep in a helper library still points at the line of the strategy that called it. When no frame
lies in those files, the innermost frame below the desk's call is used. Paths are written
relative to the module's import root (``touch_quoter.py`` for a strategy loaded from a file,
``polytraders/bots/strategy/maker_tight/bot.py`` for a package module), so a recorded run reads
the same on every machine.
"""

from __future__ import annotations

import builtins
import inspect
import sys
import traceback
from pathlib import Path

from polytraders.contracts.envelope import BotFailure

SYS_BOT_EXCEPTION = "SYS_BOT_EXCEPTION"

_MESSAGE_CHARS = 500
"""Longest message kept (the rest is cut, marked with "...")."""


def _own_files(bot_cls: type) -> dict[str, Path]:
    """Source file → import root of every class in the bot's MRO outside the contracts."""
    files: dict[str, Path] = {}
    for cls in bot_cls.__mro__:
        module = sys.modules.get(cls.__module__)
        if module is None or cls.__module__.startswith(
            ("builtins", "typing", "polytraders.contracts")
        ):
            continue
        try:
            source = inspect.getsourcefile(cls)
        except (TypeError, OSError):  # a class without a source file (built in, generated)
            continue
        if source is None:
            continue
        path = Path(source)
        depth = cls.__module__.count(".") + (1 if path.name == "__init__.py" else 0)
        files.setdefault(source, path.parents[depth] if depth < len(path.parents) else path.parent)
    return files


def _location(exc: BaseException, bot_cls: type) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # the first frame is the desk's call
    if not frames:
        return ""
    files = _own_files(bot_cls)
    own = [frame for frame in frames if frame.filename in files]
    frame = own[-1] if own else frames[-1]
    path = Path(frame.filename)
    root = files.get(frame.filename)
    shown = path.relative_to(root).as_posix() if root is not None else path.name
    return f"{shown}:{frame.lineno}"


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    name: str = cls.__qualname__
    if getattr(builtins, cls.__name__, None) is cls:
        return name
    return f"{cls.__module__}.{name}"


def exception_failure(exc: BaseException, bot: object) -> BotFailure:
    """The :class:`BotFailure` of ``bot`` having raised ``exc`` inside a desk call:
    ``SYS_BOT_EXCEPTION``, the exception's type and one-line message (at most 500
    characters), and the ``file:line`` of the bot's own code (rules in the module
    docstring)."""
    message = " ".join(str(exc).split()) or _type_name(exc)
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 3] + "..."
    return BotFailure(
        code=SYS_BOT_EXCEPTION,
        message=message,
        error_type=_type_name(exc),
        location=_location(exc, type(bot)),
    )
