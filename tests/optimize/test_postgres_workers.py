"""Two ``polytraders optimize`` processes on one PostgreSQL study (the machine's real
PostgreSQL, a fresh schema dropped afterwards): they split the trials, and every trial runs
exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

from tests.optimize.conftest import SYNTHETIC, summary
from tests.waiting import wait_until

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
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]

    def start(out: Path, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as sink:  # a file, not a pipe: a full pipe would block a worker
            return subprocess.Popen(
                [*command, "--out", str(out)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )

    # Sharing made deterministic, whatever the machine's load: worker A starts alone and is
    # paused (SIGSTOP) as soon as it has claimed a trial; B starts while A holds it, and A is
    # resumed once B has claimed one. Each then finishes what it claimed (A is paused for far
    # less than the heartbeat grace period) and both claim from what is left.
    first = start(outs[0], logs[0])
    workers = [first]
    try:
        wait_until(lambda: _claimed(pg_schema_url, study, first.pid) >= 1, 300, "A's claim")
        first.send_signal(signal.SIGSTOP)
        second = start(outs[1], logs[1])
        workers.append(second)
        try:
            wait_until(
                lambda: (
                    _claimed(pg_schema_url, study, second.pid) >= 1 or second.poll() is not None
                ),
                300,
                "B's claim",
            )
        finally:
            first.send_signal(signal.SIGCONT)
        for worker in workers:
            worker.wait(timeout=600)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    outputs = [log.read_text(errors="replace") for log in logs]
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


def _claimed(url: str, study: str, pid: int) -> int:
    """How many trials of ``study`` the worker process ``pid`` has claimed (its ``worker``
    attribute is ``host:pid``); 0 before the study exists."""
    try:
        trials = optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    except KeyError:  # not created yet
        return 0
    return sum(1 for t in trials if str(t.user_attrs.get("worker", "")).endswith(f":{pid}"))
