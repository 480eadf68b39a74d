"""Two ``polytraders optimize`` processes on one PostgreSQL study (the machine's real
PostgreSQL, a fresh schema dropped afterwards): they split the trials, and every trial runs
exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

from tests.optimize.conftest import SYNTHETIC, summary

TRIALS = 8


@pytest.mark.services
def test_two_workers_share_one_study(pg_schema_url: str, tmp_path: Path) -> None:
    study = f"workers-{uuid.uuid4().hex[:12]}"
    command = [
        sys.executable,
        "-m",
        "polytraders",
        "optimize",
        "--bot",
        "strat.maker_tight",
        "--data",
        SYNTHETIC,
        "--trials",
        str(TRIALS),
        "--batch",
        "1",
        "--storage",
        pg_schema_url,
        "--study",
        study,
    ]
    outs = [tmp_path / "worker-a", tmp_path / "worker-b"]
    workers = [
        subprocess.Popen(
            [*command, "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        for out in outs
    ]
    outputs = [worker.communicate(timeout=600)[0].decode() for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output
    ran = [
        json.loads((out / "summary.json").read_text())["environment"]["trials_run_here"]
        for out in outs
    ]
    assert sum(ran) == TRIALS  # nothing run twice, nothing lost
    assert min(ran) >= 1  # the work was shared
    trials = optuna.load_study(study_name=study, storage=pg_schema_url).get_trials()
    assert sorted(t.number for t in trials) == list(range(TRIALS))
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    assert summary(outs[0]) == summary(outs[1])  # both report the whole study
