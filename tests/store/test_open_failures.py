"""Opening the store fails clearly: one line naming the store (password masked) and the
problem, as a StoreError subclass; and the folder of a new SQLite file is created, so the
default ``runs/desk.sqlite`` works on a fresh clone."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.store import (
    DEFAULT_CONNECT_TIMEOUT_S,
    EventStore,
    StoreError,
    StoreOpenError,
    StoreUrlError,
)
from tests.store import factories as f

SECRET = "s3cret-pw"
_OPEN_AS_USER = """
import sys
from polytraders.store import EventStore, StoreOpenError
try:
    EventStore.open(sys.argv[1])
except StoreOpenError as exc:
    print(exc)
    sys.exit(3)
"""


def _one_line(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message
    return message


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged user can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="polytraders-store-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder)


def _open_error_unprivileged(path: Path) -> str:
    """The one-line StoreOpenError of opening ``path``, as a user without root's power to
    ignore file permissions (root runs it as ``nobody`` through setpriv)."""
    if os.geteuid() != 0:
        with pytest.raises(StoreOpenError) as caught:
            EventStore.open(path)
        return _one_line(caught.value)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop privileges to test permissions")
    as_nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    done = subprocess.run(
        [*as_nobody, sys.executable, "-c", _OPEN_AS_USER, str(path)],
        check=False,
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    return lines[0]


def test_the_folder_of_a_new_sqlite_file_is_created(tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "clone" / "runs" / "desk.sqlite"
    with EventStore.open(target) as store:
        f.start(store, ids.run_id("fresh", 1))
    assert target.is_file()
    with EventStore.open(target, create=False) as store:
        assert len(store.runs()) == 1


def test_a_folder_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where a folder should be")
    with pytest.raises(StoreOpenError) as caught:
        EventStore.open(tmp_path / "taken" / "runs" / "desk.sqlite")
    assert _one_line(caught.value).startswith(f"cannot create the folder '{tmp_path / 'taken'}")


def test_a_directory_is_not_a_store_file(tmp_path: Path) -> None:
    with pytest.raises(StoreOpenError) as caught:
        EventStore.open(tmp_path)
    assert _one_line(caught.value) == (
        f"cannot open the SQLite event store '{tmp_path}': it is a directory, not a file"
    )


def test_a_new_file_in_a_read_only_folder_is_refused(shared_dir: Path) -> None:
    folder = shared_dir / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    message = _open_error_unprivileged(folder / "desk.sqlite")
    assert message == (
        f"cannot open the SQLite event store '{folder / 'desk.sqlite'}': its folder "
        f"'{folder}' is read-only (the store writes its file and WAL journal there)"
    )
    assert not (folder / "desk.sqlite").exists()


def test_a_read_only_store_file_is_refused(shared_dir: Path) -> None:
    path = shared_dir / "desk.sqlite"
    with EventStore.open(path) as store:
        f.start(store, ids.run_id("read-only-file", 1))
    for item in shared_dir.iterdir():
        item.chmod(0o444)
    message = _open_error_unprivileged(path)
    assert message == f"cannot open the SQLite event store '{path}': the file is read-only"


def test_without_create_a_missing_store_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "desk.sqlite"
    with pytest.raises(StoreOpenError) as caught:
        EventStore.open(path, create=False)
    assert _one_line(caught.value) == f"no event store at '{path}': the file does not exist"
    assert not path.parent.exists()
    path.parent.mkdir()
    path.write_bytes(b"")  # an empty file is not a store either
    with pytest.raises(StoreOpenError, match="holds no polytraders tables"):
        EventStore.open(path, create=False)


@pytest.mark.services
def test_without_create_an_empty_postgresql_schema_is_refused(pg_schema_url: str) -> None:
    with pytest.raises(StoreOpenError, match="holds no polytraders tables"):
        EventStore.open(pg_schema_url, create=False)
    engine = sa.create_engine(pg_schema_url)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []
    engine.dispose()


def test_an_unreachable_database_is_one_line_naming_the_masked_url() -> None:
    url = f"postgresql+psycopg://trader:{SECRET}@127.0.0.1:1/evidence"
    with pytest.raises(StoreOpenError) as caught:
        EventStore.open(url)
    message = _one_line(caught.value)
    assert message.startswith(
        "cannot open the event store at postgresql+psycopg://trader:***@127.0.0.1:1/evidence: "
    )
    assert SECRET not in message


def test_a_database_that_never_answers_times_out_after_5_s() -> None:
    """A listener that accepts the TCP connection but never speaks: the store gives up after
    its connect time-out (5 s by default) instead of hanging."""
    assert DEFAULT_CONNECT_TIMEOUT_S == 5
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StoreOpenError) as caught:
            EventStore.open(f"postgresql+psycopg://u:{SECRET}@127.0.0.1:{port}/db")
        elapsed_s = time.monotonic() - started
    message = _one_line(caught.value)
    assert f"postgresql+psycopg://u:***@127.0.0.1:{port}/db" in message
    assert "no answer within the 5 s connect time-out" in message
    assert 4 <= elapsed_s < 15


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://h/x", "unsupported event-store URL scheme 'ftp'"),
        (f"postgresql://u:{SECRET}@h:port/db", "malformed event-store URL"),
    ],
)
def test_a_bad_url_is_a_store_error_in_one_line(url: str, problem: str) -> None:
    with pytest.raises(StoreUrlError) as caught:
        EventStore.open(url)
    assert isinstance(caught.value, StoreError)
    message = _one_line(caught.value)
    assert problem in message and SECRET not in message
