"""Opening a SQLite store file: what must hold before SQLite is asked to, so that each
problem is refused with one clear line instead of SQLite's "unable to open database file".

A store file is opened for writing, with a WAL journal whose ``-wal`` and ``-shm`` files live
beside it; so the file (when it exists) must be a writable regular file and its folder a
writable directory. With ``create`` the folder (and its parents) is created when missing,
so ``runs/desk.sqlite`` works on a fresh clone.
"""

from __future__ import annotations

import os
from pathlib import Path

from polytraders.store.errors import StoreOpenError


def prepare_sqlite_file(path: Path, *, create: bool) -> None:
    """Check (and with ``create``, make) what opening the SQLite store at ``path`` needs.

    Raises:
        StoreOpenError: ``path`` is a directory or not a regular file; the file or its
            folder is read-only; a folder on the way is a file or cannot be created; or,
            without ``create``, the file does not exist. The message names the path.
    """
    where = f"the SQLite event store {str(path)!r}"
    if path.is_dir():
        raise StoreOpenError(f"cannot open {where}: it is a directory, not a file")
    if path.exists():
        if not path.is_file():
            raise StoreOpenError(f"cannot open {where}: it is not a regular file")
        if not os.access(path, os.R_OK | os.W_OK):
            raise StoreOpenError(f"cannot open {where}: the file is read-only")
    elif not create:
        raise StoreOpenError(f"no event store at {str(path)!r}: the file does not exist")
    folder = path.parent
    if not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreOpenError(
                f"cannot create the folder {str(folder)!r} for {where}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from exc
    if not folder.is_dir():
        raise StoreOpenError(f"cannot open {where}: {str(folder)!r} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreOpenError(
            f"cannot open {where}: its folder {str(folder)!r} is read-only (the store writes "
            "its file and WAL journal there)"
        )
