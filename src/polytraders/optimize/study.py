"""The study: its identity, its trial slots and the reproducible trial loop. It lives in
Optuna's RDB storage (:mod:`polytraders.optimize.storage`: a SQLite file or PostgreSQL, with
heartbeats).

Identity. A study records its :class:`StudySettings` when it is created; a process that opens
an existing study with other settings is refused (``StudyError``, naming the first difference).

Trial slots. The process that creates a study also creates its ``trials`` trials, numbered
0…N−1, in Optuna's WAITING state (``enqueue_trial`` with no fixed parameter). A worker claims a
slot by moving it from WAITING to RUNNING, which the storage does atomically (a row lock on
PostgreSQL), so several processes on one study split the N trials between them: none runs twice,
none is added.

The loop (:func:`run_trials`), reproducible whatever the number of jobs. Trial ``k`` belongs
to batch ``k // batch``; a process:

1. claims the WAITING slots of the lowest batch that has any (never beyond that batch);
2. for each claimed trial ``k``, in number order, suggests its parameters with a fresh sampler
   seeded by ``(seed, k)`` (:mod:`polytraders.optimize.samplers`); the finished trials it
   sees are exactly those of the earlier batches, since a batch is recorded completely before
   the next is claimed;
3. runs the batch's backtests on its workers (any order, any number of processes);
4. records the outcomes in trial-number order, then claims again.

So in one process the parameters of trial ``k`` depend only on the seed, ``k``, the batch size
and the results of the earlier batches, and the results depend only on the parameters: the
same seed, data, desk, batch size and trial count give the same trials, scores and best trial
for any ``--jobs``. Several processes sharing a study each claim whole batches, so which
trials are finished when a batch is suggested depends on their timing: their studies are not
reproducible in that sense.

Interruption (SIGINT/SIGTERM) or an error puts the trials a process claimed and had not
finished back into WAITING, keeping the parameters already suggested (Optuna reuses a trial's
stored parameters): running the same command again resumes the study where it stopped, with
the same results as an uninterrupted run. A trial whose worker died without a word is FAILED
once its heartbeat is stale (:data:`polytraders.optimize.storage.GRACE_S`).

SQLite storage is for one process at a time (it has no row locks); share a study between
processes through PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import msgspec
import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from polytraders.backtest.stop import StopRequest
from polytraders.contracts.canonical import config_version
from polytraders.contracts.search_space import SearchSpace
from polytraders.optimize.samplers import make_sampler, sampler_seed
from polytraders.optimize.space import snapped, suggest
from polytraders.optimize.storage import Heartbeat, StudyError, fail_stale
from polytraders.optimize.trial import Figures, TrialOutcome, TrialTask
from polytraders.optimize.workers import StudyInterruptedError, Workers

SETUP_WAIT_S = 30.0
"""How long a process opening a study another process is still creating waits for it."""
_POLL_S = 1.0
SETTINGS_ATTR = "polytraders_settings"
"""Study user attribute holding the :class:`StudySettings` (JSON)."""
_NO_HEARTBEAT = "no heartbeat for too long: its worker stopped"
READY_ATTR = "polytraders_slots"
"""Study user attribute set once the trial slots exist (their number)."""


class StudySettings(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What makes a study what it is; recorded at creation, compared on every open.

    Fields: the tuned bot, its search space (canonical JSON), the score, the sampler, the seed,
    the number of trials, the batch size, the base desk's config version, the digest of the
    whole data and of its in-sample part, the in-sample percent and the minimum of fills of a
    trial (left out of the record and the name when 0, so studies made before it keep theirs).
    """

    bot_id: str
    search_space: str
    score: str
    sampler: str
    seed: int
    trials: int
    batch: int
    desk_version: str
    data_digest: str
    in_sample_digest: str
    in_sample_pct: int
    min_fills: int = 0

    def default_name(self) -> str:
        """``<bot_id>-<16 hex digits of the settings' config version>``."""
        return f"{self.bot_id}-{config_version(msgspec.to_builtins(self))}"


_DIFFERENCES = {
    "search_space": "another search space",
    "bot_id": "another bot",
    "score": "another score",
    "sampler": "another sampler",
    "seed": "another seed",
    "trials": "another number of trials",
    "batch": "another batch size",
    "desk_version": "another desk",
    "data_digest": "other data",
    "in_sample_digest": "another in-sample part",
    "in_sample_pct": "another in-sample percent",
    "min_fills": "another minimum of fills",
}


def open_study(storage: RDBStorage, name: str, settings: StudySettings) -> optuna.Study:
    """Create study ``name`` with its settings and ``settings.trials`` WAITING trial slots,
    or open it when it exists and has the same settings.

    Raises:
        StudyError: the study exists with other settings, is not an optimizer study, or is
            still being created by another process after :data:`SETUP_WAIT_S` s.
    """
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=name)
        _check_settings(study, name, settings)
        return study
    study.set_user_attr(SETTINGS_ATTR, msgspec.to_builtins(settings))
    for _ in range(settings.trials):
        study.enqueue_trial({})
    study.set_user_attr(READY_ATTR, settings.trials)
    return study


def _check_settings(study: optuna.Study, name: str, settings: StudySettings) -> None:
    deadline = time.monotonic() + SETUP_WAIT_S
    while READY_ATTR not in study.user_attrs:
        if SETTINGS_ATTR not in study.user_attrs and study.get_trials(deepcopy=False):
            raise StudyError(f"study {name} exists but was not created by polytraders optimize")
        if time.monotonic() > deadline:
            raise StudyError(
                f"study {name} exists but its trial slots were not created within "
                f"{SETUP_WAIT_S:.0f} s (was its creator stopped?); use another --study"
            )
        time.sleep(_POLL_S)
    recorded = study.user_attrs[SETTINGS_ATTR]
    ours = msgspec.to_builtins(settings)
    for field, meaning in _DIFFERENCES.items():
        if recorded.get(field) != ours.get(field):
            theirs = recorded.get(field)
            detail = "" if field == "search_space" else f" ({theirs!r}, here {ours.get(field)!r})"
            raise StudyError(
                f"study {name} was created with {meaning}{detail}; use another --study or "
                "the same settings"
            )


class TrialRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One trial as the study holds it: number, state (``COMPLETE``, ``FAIL``, ``RUNNING``,
    ``WAITING``), parameters, figures (COMPLETE trials), error (FAIL trials) and the worker
    (``host:pid``) that ran it."""

    number: int
    state: str
    params: dict[str, Any]
    figures: Figures | None
    error: str
    worker: str


def trial_records(study: optuna.Study, space: SearchSpace) -> list[TrialRecord]:
    """Every trial of ``study`` in number order, its parameters snapped as configs use them
    (:func:`~polytraders.optimize.space.snapped`); a FAIL trial without an error recorded was
    failed for its lost heartbeat."""
    records = []
    for trial in study.get_trials(deepcopy=False):
        figures = trial.user_attrs.get("figures")
        records.append(
            TrialRecord(
                number=trial.number,
                state=trial.state.name,
                params=snapped(space, dict(trial.params)),
                figures=msgspec.convert(figures, Figures) if figures is not None else None,
                error=str(trial.user_attrs.get("error", _NO_HEARTBEAT))
                if trial.state is TrialState.FAIL
                else "",
                worker=str(trial.user_attrs.get("worker", "")),
            )
        )
    return sorted(records, key=lambda r: r.number)


def best_record(records: list[TrialRecord]) -> TrialRecord | None:
    """The COMPLETE trial with the highest score, the lowest number among equal scores."""
    complete = [r for r in records if r.figures is not None and r.state == "COMPLETE"]
    if not complete:
        return None
    return max(complete, key=lambda r: (r.figures.score if r.figures else 0.0, -r.number))


class StudyProgress(Protocol):
    """Told the study's size and what is finished, after every trial recorded."""

    def start(self, total: int, finished: int) -> None:
        """The study has ``total`` trials, ``finished`` of them already finished."""

    def update(self, finished: int, best: float | None, note: str = "") -> None:
        """``finished`` trials finished; the best score so far (None: none completed)."""


def worker_id() -> str:
    """This process as ``host:pid`` (recorded on every trial it runs)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim(storage: RDBStorage, study_id: int, batch: int) -> list[tuple[int, int]]:
    """Move the WAITING trials of the lowest batch that has any to RUNNING; returns their
    (number, trial id) in number order. A trial another process claimed first is skipped."""
    waiting = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,))
    if not waiting:
        return []
    end = (min(t.number for t in waiting) // batch + 1) * batch
    claimed: list[tuple[int, int]] = []
    for frozen in sorted(waiting, key=lambda t: t.number):
        if frozen.number >= end:
            break
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
        if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
            claimed.append((frozen.number, trial_id))
    return claimed


def _finished(study: optuna.Study) -> tuple[int, float | None]:
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
    values = [t.value for t in trials if t.state is TrialState.COMPLETE and t.value is not None]
    return len(trials), (max(values) if values else None)


def run_trials(
    *,
    study: optuna.Study,
    storage: RDBStorage,
    space: SearchSpace,
    settings: StudySettings,
    make_task: Callable[[int, dict[str, Any]], TrialTask],
    workers: Workers,
    stop: StopRequest | None = None,
    progress: StudyProgress | None = None,
) -> int:
    """Run the study's WAITING trials in batches (module docstring), then wait until trials
    other processes are running have finished (or gone stale); returns how many trials this
    process ran.

    Raises:
        StudyInterruptedError: ``stop`` was requested (SIGINT/SIGTERM); the trials this process
            had claimed and not finished are WAITING again (the same command resumes the
            study).
        RunRefusedError: the data cannot be used (from the first backtest).
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    me = worker_id()
    if progress is not None:
        progress.start(settings.trials, _finished(study)[0])
    ran = 0
    with Heartbeat(storage) as heartbeat:
        while claimed := _claim(storage, study_id, settings.batch):
            running: dict[int, _Running] = {}
            finished: set[int] = set()
            try:
                if stop is not None and stop.requested:
                    raise StudyInterruptedError(stop.signal_name)
                tasks = []
                for number, trial_id in claimed:
                    heartbeat.add(trial_id)
                    seed = sampler_seed(settings.seed, number)
                    sampler = study.sampler = make_sampler(settings.sampler, seed)
                    trial = optuna.trial.Trial(study, trial_id)
                    running[number] = _Running(trial, sampler, trial_id)
                    trial.set_user_attr("worker", me)
                    trial.set_user_attr("sampler_seed", seed)
                    tasks.append(make_task(number, suggest(trial, space)))
                _run_batch(
                    study,
                    running=running,
                    finished=finished,
                    tasks=tasks,
                    workers=workers,
                    heartbeat=heartbeat,
                    stop=stop,
                    progress=progress,
                )
            except BaseException as exc:
                for number, trial_id in claimed:
                    if number not in finished:
                        _requeue(storage, trial_id)
                if isinstance(exc, KeyboardInterrupt):
                    raise StudyInterruptedError("SIGINT") from exc
                raise
            ran += len(finished)
        _wait_for_others(study, storage, study_id, stop, progress)
    return ran


class _Running(NamedTuple):
    """A claimed trial of this process: its Optuna trial, the sampler that suggested it, and
    its storage id."""

    trial: optuna.trial.Trial
    sampler: optuna.samplers.BaseSampler
    trial_id: int


def _run_batch(
    study: optuna.Study,
    *,
    running: dict[int, _Running],
    finished: set[int],
    tasks: list[TrialTask],
    workers: Workers,
    heartbeat: Heartbeat,
    stop: StopRequest | None,
    progress: StudyProgress | None,
) -> None:
    """Run a batch; record outcomes in trial-number order as they become available (each
    recorded trial moves from ``running`` to ``finished``).

    Raises:
        StudyInterruptedError: ``stop`` was requested or a trial's run was interrupted (the
            unrecorded trials of the batch are not recorded).
    """
    order = sorted(running)
    done: dict[int, TrialOutcome] = {}
    for outcome in workers.run(tasks, stop):
        done[outcome.number] = outcome
        while order and order[0] in done:
            number = order.pop(0)
            trial, sampler, trial_id = running.pop(number)
            result = done.pop(number)
            study.sampler = sampler
            if result.figures is not None:
                trial.set_user_attr("figures", msgspec.to_builtins(result.figures))
                study.tell(trial, result.figures.score)
            else:
                _fail(study, trial, result.error)
            heartbeat.remove(trial_id)
            finished.add(number)
            if progress is not None:
                progress.update(*_finished(study))


def _fail(study: optuna.Study, trial: optuna.trial.Trial, error: str) -> None:
    trial.set_user_attr("error", error)
    study.tell(trial, state=TrialState.FAIL)


def _requeue(storage: RDBStorage, trial_id: int) -> None:
    """Put a claimed trial this process cannot finish back into WAITING (its suggested
    parameters stay; one finished meanwhile is left as it is)."""
    try:
        storage.set_trial_state_values(trial_id, state=TrialState.WAITING)
    except optuna.exceptions.UpdateFinishedTrialError:
        return


def _wait_for_others(
    study: optuna.Study,
    storage: RDBStorage,
    study_id: int,
    stop: StopRequest | None,
    progress: StudyProgress | None,
) -> None:
    """Wait until no trial of the study is RUNNING; stale ones (their worker died) are failed
    after :data:`GRACE_S` s without a heartbeat."""
    while True:
        fail_stale(study)
        running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        if not running:
            return
        if stop is not None and stop.requested:
            raise StudyInterruptedError(stop.signal_name)
        if progress is not None:
            finished, best = _finished(study)
            progress.update(finished, best, f"waiting for {len(running)} trial(s) of other workers")
        time.sleep(_POLL_S)
