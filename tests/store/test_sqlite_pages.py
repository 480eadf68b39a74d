"""SQLite page size: new store files get 16 KiB pages (cheaper batched inserts of ~1.3 KB
envelope rows); a file created with another page size opens and appends as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from polytraders.store import EventStore
from tests.store.factories import start, timeline


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("PRAGMA page_size").fetchone()[0])


def test_new_files_get_16k_pages_and_old_files_keep_theirs(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.sqlite"
    with EventStore.open(fresh) as store:
        start(store, "run-p")
        for item in timeline("run-p", 3):
            store.record(item)
    assert _page_size(fresh) == 16_384

    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as connection:  # an existing file with 4 KiB pages
        connection.execute("PRAGMA page_size=4096")
        connection.execute("CREATE TABLE unrelated (x INTEGER)")
    with EventStore.open(old) as store:
        start(store, "run-o")
        recorded = timeline("run-o", 3)
        for item in recorded:
            store.record(item)
        assert store.envelopes("run-o") == recorded
    assert _page_size(old) == 4096
