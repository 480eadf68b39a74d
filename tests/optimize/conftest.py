"""Shared helpers of the optimizer tests: small synthetic data, the CLI runner, user bots and
scores written into a test's folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from polytraders.cli import app
from tests.conftest import REPO
from tests.store.conftest import pg_schema_url

__all__ = ["pg_schema_url"]

SYNTHETIC = "synthetic:normal?seed=7&markets=4&duration_s=300"
"""Four labelled-synthetic markets of 5 minutes: three in sample, one out (about 0.5 s a run)."""
TOUCH_QUOTER = REPO / "examples" / "strategies" / "touch_quoter.py"

runner = CliRunner()


def invoke(*args: str) -> Result:
    """``polytraders ARGS`` in this process."""
    return runner.invoke(app, list(args))


def refused(result: Result, *needles: str) -> str:
    """The one ``error:`` line of a refused command (exit 2), checked for ``needles``."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def summary(out: Path) -> dict[str, Any]:
    """``summary.json`` of an optimizer output folder without its ``environment``."""
    document: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    document.pop("environment")
    return document


def touch_quoter_variant(folder: Path, old: str, new: str, name: str = "quoter.py") -> Path:
    """A copy of the example strategy with ``old`` replaced by ``new`` (which must occur)."""
    text = TOUCH_QUOTER.read_text(encoding="utf-8")
    assert old in text
    path = folder / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
