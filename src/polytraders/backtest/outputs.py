"""A run's output folder (``--out``): a complete, fresh set of files per run.

The files of a run are written into a staging folder beside ``--out`` and renamed into place
when complete, so ``--out`` never mixes two runs' files (an earlier ``envelopes.jsonl`` is
replaced, never appended to) and a run that dies midway leaves the previous outputs untouched.
An existing ``--out`` is replaced only when it is empty or holds nothing but a run's outputs;
anything else there is refused rather than deleted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

OUTPUT_FILES = frozenset({"result.json", "envelopes.jsonl", "fills.csv", "report.html"})
"""The files a run writes into ``--out``."""


class OutputDirError(ValueError):
    """``--out`` cannot receive a run's outputs (one line naming the folder and why)."""


class OutputDir:
    """Stages a run's outputs and moves them into ``target`` at :meth:`commit`.

    Raises:
        OutputDirError: ``target`` is a file, holds files that are not a run's outputs, or its
            parent folder cannot be created or written.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        if target.exists() and not target.is_dir():
            raise OutputDirError(f"--out {target}: is a file, not a folder")
        if target.is_dir():
            foreign = sorted(p.name for p in target.iterdir() if p.name not in OUTPUT_FILES)
            if foreign:
                raise OutputDirError(
                    f"--out {target}: holds files that are not a run's outputs "
                    f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}); "
                    "choose an empty or new folder"
                )
        parent = target.absolute().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputDirError(f"--out {target}: cannot create {parent}: {exc.strerror}") from exc
        self.staging = parent / f".{target.name}.staging-{os.getpid()}"
        if self.staging.exists():  # left by an earlier process with the same pid
            shutil.rmtree(self.staging)
        try:
            self.staging.mkdir()
        except OSError as exc:
            raise OutputDirError(
                f"--out {target}: cannot write in {parent}: {exc.strerror}"
            ) from exc

    def commit(self) -> None:
        """Replace ``target`` with the staged files (the previous outputs are removed)."""
        previous = self.staging.with_name(f".{self.target.name}.previous-{os.getpid()}")
        if self.target.exists():
            self.target.rename(previous)
        self.staging.rename(self.target)
        if previous.exists():
            shutil.rmtree(previous)

    def discard(self) -> None:
        """Remove the staged files (``target`` is left as it was)."""
        if self.staging.exists():
            shutil.rmtree(self.staging)
