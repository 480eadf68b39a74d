"""The ``--desk`` option of every command that runs or judges a desk."""

from __future__ import annotations

from pathlib import Path

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.commands.failures import EXIT_REFUSED, fail


def load_desk(path: Path | None) -> DeskFile:
    """The desk file at ``path`` (None: the default desk); a bad file exits 2 with one line."""
    if path is None:
        return DeskFile()
    try:
        return DeskFile.load(path)
    except DeskFileError as exc:
        fail(exc.one_line(), EXIT_REFUSED, exc)
