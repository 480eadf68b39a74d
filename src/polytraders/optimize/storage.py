"""Optuna's RDB storage for studies: a SQLite file or PostgreSQL, with heartbeats.

URLs are read as the event store reads them (:func:`polytraders.store.url.resolve`: a path,
``sqlite:///…`` or ``postgresql+psycopg://…``), passwords masked in every message. Heartbeats
are on: :class:`Heartbeat` records one every :data:`HEARTBEAT_S` s for each trial this process
runs, and :func:`fail_stale` fails a RUNNING trial without one for :data:`GRACE_S` s (its worker
died). Optuna marks heartbeats experimental; its warning is not passed on.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import RDBStorage

from polytraders.store.errors import StoreUrlError
from polytraders.store.url import Backend, masked, resolve

HEARTBEAT_S = 10
"""Seconds between heartbeats of a running trial."""
GRACE_S = 120
"""A RUNNING trial without a heartbeat for this long is failed (its worker died)."""


class StudyError(ValueError):
    """The study cannot be opened or used (one line; passwords masked)."""


@contextmanager
def _experimental_allowed() -> Iterator[None]:
    """Heartbeats are an experimental Optuna feature; its warning says nothing to our users."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def open_storage(url: str | Path) -> RDBStorage:
    """Optuna RDB storage at ``url`` (a SQLite path/URL or a PostgreSQL URL), heartbeats on.
    On PostgreSQL, processes setting up the same database take turns (an advisory lock), so
    workers started together do not race to create Optuna's tables.

    Raises:
        StudyError: malformed or unsupported URL, or the database cannot be reached or set up
            (one line, password masked).
    """
    try:
        backend, parsed = resolve(url)
    except StoreUrlError as exc:
        raise StudyError(f"--storage: {exc}") from exc
    if backend is Backend.SQLITE and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    text = parsed.render_as_string(hide_password=False)
    try:
        with _setup_lock(text, backend), _experimental_allowed():
            return RDBStorage(url=text, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
    except Exception as exc:  # sqlalchemy/driver/optuna errors: all mean "cannot use it"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StudyError(
            f"--storage {masked(parsed)}: cannot open the study storage: {reason}"
        ) from exc


_SETUP_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"polytraders optimize: optuna storage setup").digest()[:8], "big", signed=True
)


@contextmanager
def _setup_lock(url: str, backend: Backend) -> Iterator[None]:
    """On PostgreSQL, hold a session advisory lock (:data:`_SETUP_LOCK_KEY`) within the block;
    elsewhere nothing."""
    if backend is not Backend.POSTGRESQL:
        yield
        return
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(
                sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _SETUP_LOCK_KEY}
            )
            try:
                yield
            finally:
                connection.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _SETUP_LOCK_KEY}
                )
    finally:
        engine.dispose()


class Heartbeat:
    """Records a heartbeat for every trial this process runs, every :data:`HEARTBEAT_S` s, in a
    daemon thread (the storage's sessions are per thread)."""

    def __init__(self, storage: RDBStorage) -> None:
        self._storage = storage
        self._trial_ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="optuna-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, trial_id: int) -> None:
        self._storage.record_heartbeat(trial_id)
        with self._lock:
            self._trial_ids.add(trial_id)

    def remove(self, trial_id: int) -> None:
        with self._lock:
            self._trial_ids.discard(trial_id)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                trial_ids = sorted(self._trial_ids)
            for trial_id in trial_ids:
                self._storage.record_heartbeat(trial_id)


def fail_stale(study: optuna.Study) -> None:
    """FAIL the study's RUNNING trials without a heartbeat for :data:`GRACE_S` s."""
    with _experimental_allowed():
        optuna.storages.fail_stale_trials(study)
