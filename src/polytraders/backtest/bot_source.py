"""Where a desk's bot classes come from, and the digest of their code.

A desk-file entry names a library bot by ``id`` or a user's bot by ``source``:
``path/to/file.py:Class`` (a path relative to the desk file's folder, or absolute) or
``package.module:Class`` (importable from ``sys.path``). :func:`load_bot_class` loads it and
checks the bot contract (:func:`polytraders.contracts.bot.bot_problems`).

:func:`code_sha256` is the SHA-256 of a bot's source files; the run id covers it, so a change to
a bot's code is a different run.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from polytraders.contracts.bot import bot_problems
from polytraders.contracts.modes import BotClass
from polytraders.contracts.reasons import load_registry

_LIBRARY_PREFIX = "polytraders.bots."


class BotSourceError(ValueError):
    """A bot source that cannot be loaded or breaks the bot contract (one line per problem)."""


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise BotSourceError(f"{path}: no such file")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"polytraders_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BotSourceError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_target(spec: str, *, base_dir: Path | None = None, kind: str = "Class") -> Any:
    """The module-level object named by ``spec`` (``FILE.py:Name`` or ``module:Name``); a
    relative ``FILE.py`` is resolved against ``base_dir`` (default: the working folder). A file
    is loaded once per process and path. ``kind`` names the object in messages.

    Raises:
        BotSourceError: malformed spec, file or module missing, import error (type and
            message), or no such name in the module.
    """
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise BotSourceError(f"{spec!r}: use FILE.py:{kind} or module:{kind}")
    try:
        if target.endswith(".py"):
            path = Path(target).expanduser()
            if not path.is_absolute():
                path = (base_dir or Path.cwd()) / path
            module = _import_file(path.resolve())
        else:
            module = importlib.import_module(target)
    except BotSourceError:
        raise
    except Exception as exc:  # the user's module raised while importing: name it, keep the type
        raise BotSourceError(f"{spec}: {type(exc).__name__}: {exc}") from exc
    found = getattr(module, name, None)
    if found is None:
        raise BotSourceError(f"{spec}: no {kind.lower()} {name!r} in {target}")
    return found


def load_bot_class(
    spec: str, *, base_dir: Path | None = None, bot_class: BotClass | None = None
) -> Any:
    """Load the bot class named by ``spec`` (``FILE.py:Class`` or ``module:Class``).

    Args:
        spec: the source; a relative ``FILE.py`` is resolved against ``base_dir`` (default:
            the working folder).
        base_dir: folder of the desk file that names the source.
        bot_class: the class the bot must have (e.g. ``BotClass.STRATEGY``); None: any.

    Returns:
        The class (loaded once per process and path).

    Raises:
        BotSourceError: malformed spec, file or module missing, import error (type and message),
            no such class, wrong bot class, or contract problems (all listed).
    """
    cls = import_target(spec, base_dir=base_dir)
    if not isinstance(cls, type):
        target, _, name = spec.rpartition(":")
        raise BotSourceError(f"{spec}: no class {name!r} in {target}")
    declared = getattr(cls, "bot_class", None)
    if not isinstance(declared, BotClass):
        raise BotSourceError(f"{spec}: not a bot (no bot_class)")
    if bot_class is not None and declared is not bot_class:
        raise BotSourceError(f"{spec}: is a {declared} bot, not a {bot_class} bot")
    problems = bot_problems(cls, load_registry())
    if problems:
        raise BotSourceError(f"{spec} breaks the bot contract: " + "; ".join(problems))
    return cls


def _source_files(cls: Any) -> tuple[Path, list[Path]]:
    """(root folder, files) whose bytes make a bot's code: a library bot's module, or its whole
    package when the bot is a package (``polytraders.bots.<class>.<name>``); a user bot's
    module file."""
    module_name: str = cls.__module__
    module = sys.modules[module_name]
    if module_name.startswith(_LIBRARY_PREFIX):
        top_name = ".".join(module_name.split(".")[:4])
        top = sys.modules.get(top_name) or importlib.import_module(top_name)
        top_file = Path(str(top.__file__))
        if top_file.name == "__init__.py":
            return top_file.parent, sorted(top_file.parent.rglob("*.py"))
        return top_file.parent, [top_file]
    file = getattr(module, "__file__", None)
    if file is None:
        raise BotSourceError(f"{module_name}: a bot's code must come from a file")
    return Path(file).parent, [Path(file)]


def code_sha256(cls: Any) -> str:
    """SHA-256 (hex) of a bot class's source files (see :func:`_source_files`): each file's
    path relative to its root, then its bytes, in path order. Independent of where the files
    lie, so a clone elsewhere gives the same digest.

    Raises:
        BotSourceError: the class does not come from a file.
    """
    root, files = _source_files(cls)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
