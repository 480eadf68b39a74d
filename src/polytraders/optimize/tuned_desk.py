"""The desk a trial runs: the base desk file with the tuned bot's config replaced, everything
else unchanged; and that desk as ``best.toml``.

A desk is carried between processes as :class:`DeskSpec` (its JSON-ready mapping and the
folder its relative ``source`` paths resolve against) and rebuilt with
:meth:`DeskFile.from_mapping`, so user bots load in every worker process.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import msgspec
import tomli_w

from polytraders.backtest.desk_file import DeskFile
from polytraders.contracts.config import BotConfig
from polytraders.contracts.modes import Mode

SECTIONS = ("strategies", "risk", "execution")


class TunedBotError(ValueError):
    """The bot to tune is not in the desk, or not ENFORCED there (one line)."""


class DeskSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A desk file as data: ``mapping`` (:meth:`DeskFile.model_dump` in JSON mode, nulls left
    out) and ``base_dir``, the folder relative user-bot sources resolve against."""

    mapping: dict[str, Any]
    base_dir: str

    @classmethod
    def of(cls, desk: DeskFile, base_dir: Path) -> DeskSpec:
        """The spec of ``desk`` whose relative sources resolve against ``base_dir``."""
        return cls(
            mapping=desk.model_dump(mode="json", exclude_none=True),
            base_dir=str(base_dir.resolve()),
        )

    def load(self) -> DeskFile:
        """The desk file.

        Raises:
            DeskFileError: the mapping is not a valid desk.
        """
        return DeskFile.from_mapping(self.mapping, "desk", base_dir=Path(self.base_dir))


def locate(desk: DeskFile, bot_id: str) -> tuple[str, int, Any]:
    """(section, index, bot class) of ``bot_id``'s entry in ``desk``.

    Raises:
        TunedBotError: the bot is not in the desk, or its mode there is not ENFORCED (a
            shadow, advisory or stub bot cannot change the desk's results).
    """
    for section in SECTIONS:
        for index, entry in enumerate(getattr(desk, section)):
            cls = desk.bot_class(entry)
            if cls.bot_id != bot_id:
                continue
            if entry.mode is not Mode.ENFORCED:
                raise TunedBotError(
                    f"{bot_id} runs {entry.mode} in the desk: its config cannot change the "
                    "desk's results; make it ENFORCED to tune it"
                )
            return section, index, cls
    raise TunedBotError(f"{bot_id} is not in the desk; add it to the desk file to tune it")


def base_config(desk: DeskFile, bot_id: str) -> BotConfig:
    """``bot_id``'s config in ``desk`` (its entry's values over the bot's defaults)."""
    section, index, cls = locate(desk, bot_id)
    config: BotConfig = cls.Config(**getattr(desk, section)[index].config)
    return config


def with_config(spec: DeskSpec, bot_id: str, config: BotConfig) -> DeskSpec:
    """``spec`` with ``bot_id``'s entry configured with every field of ``config``."""
    section, index, _ = locate(spec.load(), bot_id)
    mapping = copy.deepcopy(spec.mapping)
    mapping[section][index]["config"] = config.model_dump(mode="json")
    return DeskSpec(mapping=mapping, base_dir=spec.base_dir)


def best_toml(spec: DeskSpec, header: list[str]) -> str:
    """``spec`` as a desk file (TOML) that ``polytraders backtest --desk`` reads from any
    folder: settings left at their defaults are left out, except the tuned bot's entry,
    which the caller has filled in completely; relative ``source`` paths are made absolute.
    ``header`` lines become comments at the top."""
    desk = spec.load()
    data = desk.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    for section in SECTIONS:
        if section not in data:
            continue
        data[section] = copy.deepcopy(spec.mapping[section])
        for entry in data[section]:
            source = entry.get("source")
            if source is not None:
                entry["source"] = _absolute_source(source, Path(spec.base_dir))
    comments = "".join(f"# {line}\n" for line in header)
    return comments + tomli_w.dumps(data)


def _absolute_source(source: str, base_dir: Path) -> str:
    target, sep, name = source.rpartition(":")
    if sep and target.endswith(".py") and not Path(target).expanduser().is_absolute():
        return f"{(base_dir / target).resolve()}:{name}"
    return source
