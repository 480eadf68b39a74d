"""Copies of the repository's evidence folders for readiness tests that edit them (the real
repository is never modified)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from polytraders.readiness.context import ReadinessContext
from tests.conftest import REPO
from tests.store.conftest import pg_schema_url, store_url

__all__ = ["pg_schema_url", "store_url"]  # the store tests' fixtures: SQLite and PostgreSQL

EVIDENCE = ("docs/bots", "tests", "runs/optimizer")
"""What the Docs and Backtest scores read: specs; fixtures, test modules and their helpers;
recorded timelines and reference runs."""


def copy_repo(target: Path) -> Path:
    """Copy :data:`EVIDENCE` (and ``pyproject.toml``) of the repository under ``target``."""
    for relative in EVIDENCE:
        shutil.copytree(
            REPO / relative, target / relative, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(REPO / "pyproject.toml", target / "pyproject.toml")
    return target


def context(repo: Path, cache: dict[tuple[object, ...], object] | None = None) -> ReadinessContext:
    """A readiness context on ``repo`` with no store (``cache`` shared when given)."""
    return ReadinessContext(
        repo=repo, store=None, now_ns=0, commit="", cache={} if cache is None else cache
    )


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A fresh copy of the repository's evidence folders."""
    return copy_repo(tmp_path / "repo")
