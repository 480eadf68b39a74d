"""What every readiness check reads: the repository, the event store, the clock, the commit.

Readiness judges a bot from its repository (spec, fixtures, recorded timelines, reference
runs, the code) and from the event store (runs, envelopes, CI results, incidents, reviews,
alert firings, promotions). Both are named here once, so every score and gate reads the same.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytraders.backtest.desk_file import DeskFile
from polytraders.store import EventStore


class RepositoryNotFoundError(Exception):
    """No Polytraders repository (``pyproject.toml`` and ``docs/bots/``) at or above a path."""


def find_repository(start: Path) -> Path:
    """The Polytraders repository holding ``start``: the nearest directory at or above it with
    ``pyproject.toml`` and ``docs/bots/``.

    Raises:
        RepositoryNotFoundError: none (readiness needs a source checkout, not an installed
            wheel: specs, fixtures and reference runs live in the repository).
    """
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "docs" / "bots").is_dir():
            return candidate
    raise RepositoryNotFoundError(
        f"no Polytraders repository at or above {start} (readiness reads docs/bots/, "
        "tests/fixtures/bots/ and runs/optimizer/ of a source checkout)"
    )


def git_commit(repo: Path) -> str:
    """The 40-hex commit checked out in ``repo``, or ``""`` when it is not a git checkout or
    git is missing. A tree with uncommitted changes still reports HEAD (see :func:`git_dirty`)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else ""


@dataclass
class ReadinessContext:
    """The inputs of one readiness evaluation.

    Attributes:
        repo: the repository root (:func:`find_repository`).
        store: the event store to read evidence from, or None (every store-backed item is
            then PENDING and every store-backed gate INCONCLUSIVE: no data is never a pass).
        now_ns: the evaluation's clock (ns since the epoch, UTC); windows end here.
        commit: the commit under evaluation (40 hex, or "" outside git).
        cache: per-evaluation memo shared by the checks (e.g. one fixture-pack run per bot
            serves several items); keys are module-private tuples.
        desk: the desk file whose bots' code and config signed statements must be bound to
            (None: the signature gates are Inconclusive).
        gov_dir: the governance directory (signer list, manifests, evidence bundles; None:
            the signature gates are Inconclusive).
    """

    repo: Path
    store: EventStore | None
    now_ns: int
    commit: str
    cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    desk: DeskFile | None = None
    gov_dir: Path | None = None
