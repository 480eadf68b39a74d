"""Memory of a long live session: the default desk (``strat.maker_tight``, the risk chain,
``exec.smartrouter``) with the live node's default settings (trade polling every second
included), built by ``build_live_session`` as ``polytraders live`` builds it, trading against
the local CLOB v2 simulator for ``DURATION_S`` of wall time (``--quick``:
``QUICK_DURATION_S``), recorded in an event store on a temporary SQLite file, with this
process's resident memory sampled every ``SAMPLE_S``.

Where things run: the desk — its decision loop, the venue worker, the market and user
websocket feeds, the store writer — runs in this process, and ``rss_*`` figures are this
process's (``VmRSS`` of ``/proc/self/status``). The simulator runs in a child process
(:class:`bench.live_sim.SimProcess`), so none of its memory is counted there; its own
resident memory is sampled beside (``sim_rss_mib``). ``sqlite_mib`` is the memory SQLite
holds in this process (``sqlite3_memory_used``: mostly the store's page cache, which the
store caps at 64 MiB per connection), so ``rss_less_sqlite_growth_mib_per_hour`` is the
growth of everything else.

The replay: the simulator serves one recorded market (:data:`MARKET_ID`, the sample's
market whose price stays longest between 0.15 and 0.85, so the desk quotes most of the
time) and replays it fast — each round it applies two recorded snapshots, then the session
steps every millisecond for 20 ms (:func:`bench.live_sim.step_round`): at most 100
snapshots a second, about 60 on the shared 2-core machine, where one pass of the market's
2,186 snapshots took 30 to 40 s (about 50 times faster than it was recorded).
The simulator's ``loop`` setting replays the recording forward, then backward, then forward
again without end (:class:`polytraders.simclob.engine.SimExchange`): consecutive books are
always recorded neighbours, so prices never jump, books keep changing, and the desk keeps
placing, filling (the simulator fills resting orders a new book crosses) and cancelling
orders all along; the samples' ``orders``, ``fills`` and ``cancels`` show it. The books are
stamped with the wall clock (``restamp``), as a live feed is.

The simulator's account holds :data:`COLLATERAL_MICROS` (10,000 pUSD, not the default
1,000), so that the risk limits scaled on equity (the kill switch's 5 % daily loss, the
drawdown guard's 10 %) stay out of reach of the losses the same moves, replayed again and
again, add up to: a desk halted by them would no longer trade and say nothing about memory.

Figures: ``rss_first_mib`` the first sample after the warm-up (the first ``WARMUP_PCT`` % of
the run: imports, start-up, allocator arenas), ``rss_last_mib``, ``rss_peak_mib`` (the
largest sample), ``rss_growth_mib_per_hour`` (the least-squares slope of RSS over time of
the samples after the warm-up), the same for RSS less SQLite's memory, ``events_per_s``
(market events the session processed per second of the run), ``orders`` (submitted),
``fills``, ``cancels`` (sent), ``envelopes`` (recorded), ``store_mib`` (the SQLite file and
its WAL at the end), what the desk still tracks at the end (``orders_tracked_end``,
``orders_retired_end``, ``fills_listed_end``, ``fill_ids_booked_end``, ``equity_points_end``:
the live session's bounded past, ``SessionMemory.live``), the simulator's first and last RSS,
the replay's laps, the desk's
trading state and quarantined bots at the end (a bot quarantined mid-run, e.g. for a time
budget overrun, stops its part of the trading), the full garbage collections of this
process during the run and the longest one (a full collection runs on whichever thread
triggers it — the decision loop's included — and is charged to a bot's CPU budget when it
runs inside a bot), and the machine's 1-minute load average at the start and the end (the
machine is shared; the load changes the events processed, not the memory per event).

**Verdict** (``flat``): RSS is flat when, over the second half of the run and not before a
minute past the session's memory horizon (:func:`verdict_from_s`; ``memory_horizon_s``, 360 s
with the node's defaults: a closed order stays in memory the venue's 300 s retention plus 60 s,
so until then the bounded past still fills up by design — in a 600 s run judged from 300 s
that filling showed as growth, while objects and Python's heap were level after 360 s in a
diagnostic run; hence the 900 s run, judged from 450 s), past the warm-up and past the time
SQLite's page cache reaches its cap, the least-squares slope of RSS is below
:data:`FLAT_SLOPE_MIB_PER_HOUR` (``rss_slope_second_half_mib_per_hour``) **and** the mean RSS
of its last minute exceeds the mean of its first minute by less than :data:`FLAT_GROWTH_MIB`
(``rss_growth_second_half_mib``; means over a minute: single samples swung by up to 15 MiB
with the trade polling before httpx's response cycles were broken, docs/performance.md). Why
these bounds: the desk still
keeps a few exact, unavoidable records that grow with the session — every booked fill's id,
every retired order's id as ranges, each retired order's creation time (8 bytes) and a thinned
equity curve — about 1 MiB an hour at this replay's rate, and the allocator and the trade
polling make RSS swing by several MiB; 10 MiB/h is 240 MiB a day, an order of magnitude below
the growth measured before the desk's past was bounded (128 MiB/h past SQLite's cap) and
small against the desk's footprint; a fit over 5 minutes of 5-second samples still swings
by a few MiB/h, so a stricter bound would judge the noise. It is a verdict on this run: a
15-minute run cannot show what grows slower than the noise. The verdict says nothing when the
desk stopped trading during the run (a quarantined strategy, a desk no longer ACTIVE at the
end): ``verdict_valid`` is False then.

The series is printed on stderr as it is sampled (one line per sample), so ``--json`` output
stays one JSON object.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.memory import rss_mib

if TYPE_CHECKING:
    from polytraders.desk.desk import Desk

DESCRIPTION = "Live node vs the simulator, 15 min of looped fast replay: RSS every 5 s"
OWN_PROCESS = True
"""Run in a fresh interpreter beside other benchmarks (``bench/__main__.py``): its figures are
this process's resident memory."""

DURATION_S = 900.0
QUICK_DURATION_S = 60.0
SAMPLE_S = 5.0
WARMUP_PCT = 10
MARKET_ID = "0x13a5f2247eebb4de57dc46ea6e35089c1bfa321cb23024988b41721e0f5de607"
COLLATERAL_MICROS = 10_000_000_000
SNAPSHOTS_PER_ROUND = 2
FLAT_SLOPE_MIB_PER_HOUR = 10.0
FLAT_GROWTH_MIB = 5.0
FLAT_BASE_S = 60.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of the session: seconds since the replay started, this process's and the
    simulator's RSS (MiB), and the session's counts so far."""

    t_s: float
    rss_mib: float
    sqlite_mib: float
    sim_rss_mib: float
    events: int
    orders: int
    fills: int
    cancels: int
    envelopes: int
    lap: int

    def line(self) -> str:
        """The sample as one printed line."""
        return (
            f"t_s={self.t_s:7.1f}  rss_mib={self.rss_mib:7.1f}  sqlite_mib={self.sqlite_mib:5.1f}"
            f"  sim_rss_mib={self.sim_rss_mib:6.1f}"
            f"  events={self.events:8,}  orders={self.orders:6,}  fills={self.fills:5,}"
            f"  cancels={self.cancels:6,}  envelopes={self.envelopes:8,}  lap={self.lap}"
        )


def sqlite_memory_reader() -> Callable[[], float]:
    """A reader of the memory SQLite holds in this process (MiB; ``sqlite3_memory_used`` of
    the library the standard ``sqlite3`` module uses: the store's page cache, statements and
    buffers).

    Raises:
        OSError / AttributeError: the library or the function cannot be loaded here.
    """
    import _sqlite3

    used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    used.restype = ctypes.c_int64
    return lambda: int(used()) / 2**20


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(t_s, value)`` points, per hour.

    Raises:
        ValueError: fewer than two distinct times.
    """
    if len({t for t, _ in points}) < 2:
        raise ValueError("a slope needs samples at two distinct times at least")
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3_600


def summarize(samples: Sequence[Sample], warmup_s: float) -> dict[str, Any]:
    """The summary figures of a session's samples (module docstring); the growth is the
    slope over the samples at or after ``warmup_s``.

    Raises:
        ValueError: fewer than two samples after the warm-up.
    """
    kept = [s for s in samples if s.t_s >= warmup_s]
    if len(kept) < 2:
        raise ValueError(f"{len(kept)} sample(s) after the {warmup_s} s warm-up; 2 needed")
    first, last = kept[0], kept[-1]
    return {
        "samples": len(samples),
        "rss_first_mib": round(first.rss_mib, 1),
        "rss_last_mib": round(last.rss_mib, 1),
        "rss_peak_mib": round(max(s.rss_mib for s in samples), 1),
        "rss_growth_mib_per_hour": round(slope_per_hour([(s.t_s, s.rss_mib) for s in kept]), 1),
        "sqlite_first_mib": round(first.sqlite_mib, 1),
        "sqlite_last_mib": round(last.sqlite_mib, 1),
        "rss_less_sqlite_growth_mib_per_hour": round(
            slope_per_hour([(s.t_s, s.rss_mib - s.sqlite_mib) for s in kept]), 1
        ),
        "events_per_s": round(last.events / last.t_s, 1) if last.t_s else 0.0,
        "orders": last.orders,
        "fills": last.fills,
        "cancels": last.cancels,
        "envelopes": last.envelopes,
        "sim_rss_first_mib": round(first.sim_rss_mib, 1),
        "sim_rss_last_mib": round(last.sim_rss_mib, 1),
        "laps": last.lap,
    }


def flatness(samples: Sequence[Sample], from_s: float) -> dict[str, Any]:
    """The flatness verdict over the samples at or after ``from_s`` (module docstring):
    the slope of RSS there (MiB/h), the mean RSS of its first and of its last
    :data:`FLAT_BASE_S`, the growth between them (MiB), and ``flat``.

    Raises:
        ValueError: fewer than two samples after ``from_s``.
    """
    kept = [s for s in samples if s.t_s >= from_s]
    if len(kept) < 2:
        raise ValueError(f"{len(kept)} sample(s) after {from_s} s; 2 needed")
    first = [s.rss_mib for s in kept if s.t_s < kept[0].t_s + FLAT_BASE_S]
    last = [s.rss_mib for s in kept if s.t_s > kept[-1].t_s - FLAT_BASE_S]
    start_mib, end_mib = sum(first) / len(first), sum(last) / len(last)
    slope = slope_per_hour([(s.t_s, s.rss_mib) for s in kept])
    growth = end_mib - start_mib
    return {
        "rss_second_half_from_s": round(kept[0].t_s, 1),
        "rss_second_half_first_minute_mib": round(start_mib, 1),
        "rss_second_half_last_minute_mib": round(end_mib, 1),
        "rss_growth_second_half_mib": round(growth, 1),
        "rss_slope_second_half_mib_per_hour": round(slope, 1),
        "flat": slope < FLAT_SLOPE_MIB_PER_HOUR and growth < FLAT_GROWTH_MIB,
        "flat_criterion": f"slope < {FLAT_SLOPE_MIB_PER_HOUR} MiB/h and growth "
        f"< {FLAT_GROWTH_MIB} MiB over the second half",
    }


def tracked(desk: Desk) -> dict[str, int]:
    """What the desk still holds of its past: orders in ``state.orders`` and retired, fills
    listed in ``orders.fills`` and fill ids booked, points of the equity curve."""
    return {
        "orders_tracked_end": len(desk.state.orders),
        "orders_retired_end": len(desk.state.retired_order_ids),
        "fills_listed_end": len(desk.orders.fills),
        "fill_ids_booked_end": len(desk.orders.booked_fill_ids),
        "equity_points_end": len(desk.state.ledger.equity_curve),
    }


@dataclass(frozen=True)
class SessionRun:
    """What :func:`run_session` observed: the samples, what the desk still tracks at the end
    (:func:`tracked`), the desk's trading state at the end,
    the bots it quarantined (``bot_id code at t_s``), the store's size (MiB), and this
    process's full (generation 2) garbage collections while the session ran: how many and
    the longest pause (ms), and the session's memory horizon (s): how long its closed orders
    stay in memory (:meth:`polytraders.desk.desk.SessionMemory.live`), after which its bounded
    past stops growing, and the session's heap trims (:mod:`polytraders.ops.heap_trim`): how
    many and the longest (ms)."""

    samples: list[Sample]
    tracked: dict[str, int]
    trading_state: str
    quarantined: list[str]
    store_mib: float
    full_gcs: int
    full_gc_pause_ms_max: float
    horizon_s: float
    heap_trims: int
    heap_trim_ms_max: float


class FullGcTimer:
    """Counts this process's generation-2 garbage collections and times the longest, while
    installed (a ``gc.callbacks`` entry; a context manager)."""

    def __init__(self) -> None:
        self.count = 0
        self.pause_ms_max = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.pause_ms_max = max(self.pause_ms_max, (time.perf_counter() - self._started) * 1e3)

    def __enter__(self) -> FullGcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def run_session(
    duration_s: float,
    store_path: Path,
    *,
    sample_s: float = SAMPLE_S,
    report: Callable[[Sample], None] = lambda sample: None,
) -> SessionRun:
    """Run the default desk against a looping simulator in a child process for
    ``duration_s`` of wall time, recording into SQLite at ``store_path``; sample every
    ``sample_s`` (the first right after start-up, the last at the end), each handed to
    ``report`` as it is taken.

    Raises:
        RuntimeError: the simulator or the session did not start.
    """
    from bench.live_sim import SimProcess, start_session, step_round
    from polytraders.commands.live import DESK_BUILDER
    from polytraders.simclob.server import SimSettings, account_for_key, throwaway_key

    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER, collateral=COLLATERAL_MICROS)
    settings = SimSettings(
        limit_markets=1, market_ids=(MARKET_ID,), restamp=True, loop=True, confirm_ms=100
    )
    samples: list[Sample] = []
    sqlite_mib = sqlite_memory_reader()
    with SimProcess(settings, account) as sim:
        session = start_session(
            sim.control,
            key,
            account,
            sim.served.market_ids,
            run_id="bench-live-rss",
            store_url=f"sqlite:///{store_path}",
        )
        desk = session.desk
        horizon_s = desk.orders.retention.closed_order_ns / 1e9
        first_sequence = desk.recorder.sequence
        lap = 0

        def sample(t_s: float) -> None:
            stats = desk.orders.stats
            taken = Sample(
                t_s=round(t_s, 1),
                rss_mib=rss_mib(),
                sqlite_mib=sqlite_mib(),
                sim_rss_mib=rss_mib(sim.served.pid),
                events=session.events_in,
                orders=stats.submitted,
                fills=stats.fills,
                cancels=stats.cancels_sent,
                envelopes=desk.recorder.sequence - first_sequence,
                lap=lap,
            )
            samples.append(taken)
            report(taken)

        try:
            with FullGcTimer() as gcs:
                begun, begun_ns = time.monotonic(), time.time_ns()
                sample(0.0)
                next_sample_s = sample_s
                while (elapsed_s := time.monotonic() - begun) < duration_s:
                    if elapsed_s >= next_sample_s:
                        sample(elapsed_s)
                        next_sample_s += sample_s
                    lap = int(sim.control.step(SNAPSHOTS_PER_ROUND)["lap"])
                    for _ in step_round(session):
                        pass
                sample(time.monotonic() - begun)
            trading_state = desk.state.trading_state.value
            kept = tracked(desk)
            quarantined = [
                f"{q.bot_id} {q.failure.code} at {(q.ts_ns - begun_ns) / 1e9:.0f} s"
                for q in desk.quarantines
            ]
        finally:
            session.close()
    store_bytes = sum(
        p.stat().st_size for p in store_path.parent.glob(store_path.name + "*") if p.is_file()
    )
    return SessionRun(
        samples,
        kept,
        trading_state,
        quarantined,
        round(store_bytes / 2**20, 1),
        gcs.count,
        round(gcs.pause_ms_max, 1),
        horizon_s,
        session.heap_trimmer.trims,
        round(session.heap_trimmer.trim_ms_max, 1),
    )


def verdict_from_s(duration_s: float, horizon_s: float) -> float:
    """Where the flatness verdict starts (s into the run): the second half, and not before a
    minute past the memory horizon, while the session's bounded past still fills up (closed
    orders stay ``horizon_s``); a run too short for that (``--quick``) is judged on its second
    half."""
    later = max(duration_s / 2, horizon_s + FLAT_BASE_S)
    return later if later < duration_s - FLAT_BASE_S else duration_s / 2


def run(quick: bool = False) -> dict[str, Any]:
    """One session (module docstring); prints the series on stderr, returns the summary."""
    duration_s = QUICK_DURATION_S if quick else DURATION_S
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-live-rss-") as tmp:
        observed = run_session(
            duration_s,
            Path(tmp) / "desk.sqlite",
            report=lambda s: print(s.line(), file=sys.stderr, flush=True),
        )
    return {
        "duration_s": duration_s,
        "sample_s": SAMPLE_S,
        "warmup_s": duration_s * WARMUP_PCT / 100,
        **summarize(observed.samples, duration_s * WARMUP_PCT / 100),
        "memory_horizon_s": observed.horizon_s,
        **flatness(observed.samples, verdict_from_s(duration_s, observed.horizon_s)),
        "verdict_valid": not observed.quarantined and observed.trading_state == "ACTIVE",
        "store_mib": observed.store_mib,
        **observed.tracked,
        "trading_state_end": observed.trading_state,
        "quarantined": "; ".join(observed.quarantined) or "none",
        "heap_trims": observed.heap_trims,
        "heap_trim_ms_max": observed.heap_trim_ms_max,
        "full_gcs": observed.full_gcs,
        "full_gc_pause_ms_max": observed.full_gc_pause_ms_max,
        "loadavg_1m_start": round(load_start, 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
    }
