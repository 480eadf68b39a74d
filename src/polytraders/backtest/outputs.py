"""A run's output folder (``--out``): a complete, fresh set of files per run.

The files of a run are written into a staging folder beside ``--out`` and renamed into place
when complete, so ``--out`` never mixes two runs' files (an earlier ``envelopes.jsonl`` is
replaced, never appended to) and a run that dies midway leaves the previous outputs untouched.
An existing ``--out`` is replaced only when it is empty or holds nothing but a run's outputs
(a shadow session's ``candidate/`` folder of outputs included); anything else there is refused
rather than deleted.

:func:`write_run_files` writes ``result.json``, ``fills.csv`` and ``report.html`` from an
:class:`OutputSet`, for a backtest and a live session alike; ``envelopes.jsonl`` is the
caller's (a backtest records it straight into the staging folder, a live session copies the
part of its running timeline a snapshot covers with :func:`copy_timeline`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytraders.backtest.fills_csv import write_fills_csv
from polytraders.backtest.report import TopOfBook, write_report
from polytraders.backtest.result import BacktestResult
from polytraders.model.fills import Fill
from polytraders.model.market import Instrument, Market
from polytraders.model.orders import VenueOrder

OUTPUT_FILES = frozenset({"result.json", "envelopes.jsonl", "fills.csv", "report.html"})
"""The files a run writes into ``--out``."""

CANDIDATE_FOLDER = "candidate"
"""The folder inside ``--out`` that receives a shadow session's candidate desk's outputs."""


class OutputDirError(ValueError):
    """``--out`` cannot receive a run's outputs (one line naming the folder and why)."""


def check_output_target(target: Path) -> None:
    """Refuse a ``target`` that cannot receive a run's outputs.

    Raises:
        OutputDirError: ``target`` is a file, or holds anything but :data:`OUTPUT_FILES` and
            a :data:`CANDIDATE_FOLDER` folder holding only those.
    """
    if target.exists() and not target.is_dir():
        raise OutputDirError(f"--out {target}: is a file, not a folder")
    if not target.is_dir():
        return
    foreign = sorted(p.name for p in target.iterdir() if not _is_output(p))
    if foreign:
        raise OutputDirError(
            f"--out {target}: holds files that are not a run's outputs "
            f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}); "
            "choose an empty or new folder"
        )


def _is_output(path: Path) -> bool:
    if path.name == CANDIDATE_FOLDER and path.is_dir():
        return all(p.name in OUTPUT_FILES and p.is_file() for p in path.iterdir())
    return path.name in OUTPUT_FILES and path.is_file()


class OutputDir:
    """Stages a run's outputs and moves them into ``target`` at :meth:`commit`.

    Raises:
        OutputDirError: ``target`` is refused by :func:`check_output_target`, or its parent
            folder cannot be created or written.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        check_output_target(target)
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


@dataclass(frozen=True, slots=True)
class OutputSet:
    """What a run's ``result.json``, ``fills.csv`` and ``report.html`` are written from.

    Fields:
        result: the run's figures.
        equity_curve: (ts_ns, equity micro-pUSD) points, time-ordered.
        fills: every fill of the run, in booking order.
        orders: client order id → the desk's order (gives each fill its intent and bot).
        markets: the run's markets (slugs, outcome labels, payouts of resolved ones).
        top_of_book: token id → its top-of-book changes, time-ordered.
        config: the desk config that ran (the desk file's canonical JSON, or a live node's
            config, which holds it under ``desk``).
        chosen_token: the token the report's fills selector shows first (None: most fills).
        instruments: the run's crypto instruments (labelled by symbol).
    """

    result: BacktestResult
    equity_curve: Sequence[tuple[int, int]]
    fills: Sequence[Fill]
    orders: Mapping[str, VenueOrder]
    markets: Sequence[Market]
    top_of_book: Mapping[str, Sequence[TopOfBook]]
    config: Mapping[str, Any]
    chosen_token: str | None = None
    instruments: Sequence[Instrument] = ()


def write_run_files(folder: Path, outputs: OutputSet) -> None:
    """Write ``result.json``, ``fills.csv`` and ``report.html`` of ``outputs`` into ``folder``.

    Raises:
        OSError: a file cannot be written.
        ValueError: a fill of an order or token the outputs do not know (fills.csv).
    """
    (folder / "result.json").write_text(
        json.dumps(outputs.result.as_json(), indent=2) + "\n", encoding="utf-8"
    )
    write_fills_csv(
        folder / "fills.csv", outputs.fills, outputs.orders, outputs.markets, outputs.instruments
    )
    write_report(
        folder / "report.html",
        result=outputs.result,
        equity_curve=outputs.equity_curve,
        fills=outputs.fills,
        token_labels={
            **{
                t.token_id: f"{m.slug or m.market_id[:10]} {t.outcome}"
                for m in outputs.markets
                for t in m.tokens
            },
            **{i.token_id: i.symbol for i in outputs.instruments},
        },
        top_of_book=outputs.top_of_book,
        chosen_token=outputs.chosen_token,
        config=outputs.config,
    )


def copy_timeline(source: Path, target: Path, size_bytes: int) -> str:
    """Copy the first ``size_bytes`` of the envelope timeline ``source`` (a file another
    thread may still be appending to) to ``target``; return their SHA-256 (hex).

    Raises:
        OSError: ``source`` cannot be read, holds fewer bytes, or ``target`` cannot be written.
    """
    digest = hashlib.sha256()
    left = size_bytes
    with source.open("rb") as reader, target.open("wb") as writer:
        while left:
            chunk = reader.read(min(left, 1 << 20))
            if not chunk:
                raise OSError(f"{source}: ended {left} bytes before the {size_bytes} expected")
            digest.update(chunk)
            writer.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()
