"""One default run in a fresh process, for ``bench_scale``: ``python -m bench.scale_run DATA
WORK`` runs :func:`polytraders.backtest.engine.run_desk` as ``polytraders run`` does (the
default desk, both fill bounds, the store on ``WORK/desk.sqlite``, the outputs in
``WORK/out``) and prints one JSON line: status, events, envelopes, orders, fills, PnL, the
timeline's SHA-256, ``wall_s`` and ``cpu_s`` of the call and this process's ``peak_rss_mib``
(``VmHWM``: :mod:`bench.memory`).

It imports only what the command imports before the run (``polytraders`` first, so its
memory settings apply as they do for ``polytraders run``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.memory import peak_rss_mib
from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk


def main(data: Path, work: Path) -> dict[str, object]:
    """Run the default desk over ``data`` with the store and outputs under ``work``."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    outcome = run_desk(
        data=data,
        desk_file=DeskFile(),
        out_dir=work / "out",
        store_url=f"sqlite:///{work / 'desk.sqlite'}",
    )
    wall_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    result = outcome.result
    return {
        "status": outcome.status.value,
        "events": result.events,
        "envelopes": result.envelopes,
        "orders": result.orders,
        "fills": result.money.fills,
        "pnl_usd": str(result.as_json()["pnl_usd"]),
        "envelopes_sha256": result.envelopes_sha256,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "peak_rss_mib": peak_rss_mib(),
    }


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.scale_run DATA WORK")
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
