"""The console benchmark's code path on a tiny store (bench/bench_console.py), so it never
rots: its store fills, every registered page is requested and answers. Times are the
benchmark's to report, never asserted here."""

from __future__ import annotations

from pathlib import Path

from bench import bench_console

from polytraders.console.pages import PAGES
from polytraders.store import EventStore

TINY_FEED = "synthetic:normal?seed=3&duration_s=120"


def test_benchmark_fills_a_store_and_requests_every_page(tmp_path: Path) -> None:
    path = tmp_path / "console.sqlite"
    filled = bench_console.fill(path, data=TINY_FEED, target_envelopes=1_000)
    assert filled.envelopes >= 1_000
    with EventStore.open(str(path), create=False) as store:
        runs = store.runs()
        assert len(runs) == filled.runs
        assert all(store.check_integrity(r.ref) == [] for r in runs)
        paper = store.run(filled.paper)
        assert paper is not None and paper.data_source == bench_console.PAPER_SOURCE
        assert store.orders(filled.paper) and store.fills(filled.paper)
    results = bench_console.measure(str(path), filled, warmups=0, repeats=2)
    assert {name.split("?")[0] for name in results} >= {page.page_id for page in PAGES}
    assert all(0 < t["p50"] <= t["p95"] for t in results.values())
