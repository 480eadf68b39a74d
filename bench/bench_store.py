"""Event-store benchmark: envelope writes per second, batched, on SQLite and PostgreSQL.

The timeline is the desk's realistic mix per intent: one strategy PROPOSE envelope carrying the
intent, seven risk-bot APPROVE envelopes (a RiskDecision each), one execution ROUTE envelope
carrying a VenueOrder; Polymarket-length token and condition ids. Envelopes are built before
timing; the timed part is ``record`` of every envelope plus the final ``flush`` (JSON encoding,
validation, row building and the batched inserts, one transaction per batch). Best of several
repetitions, each into a fresh run.

SQLite: a file in a temporary directory, WAL journal, ``synchronous=NORMAL`` (the store's
default). PostgreSQL: the machine's server (``POLYTRADERS_TEST_POSTGRES_URL`` or
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) in a throw-away schema; when it is not
reachable the figure is replaced by a note saying so. Goal (issue 4): ≥ 50,000 envelopes/s
batched. ``*_per_cpu_s`` figures divide by CPU time instead of wall time — this process's
(``sqlite_*``, ``postgresql_batched_client_*``) or this process's plus the PostgreSQL backend's
(``postgresql_batched_envelopes_per_cpu_s``, read from ``/proc`` for a local server): on a busy
machine they show what a write costs without the wait for a share of the CPU.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.contracts.decisions import APPROVE, Proposal, RoutePlan
from polytraders.contracts.envelope import (
    Decision,
    EnvelopeOutput,
    ReportEnvelope,
    encode_envelope,
)
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.orders import OrderIntent, Side, VenueOrder
from polytraders.store import EventStore

DESCRIPTION = "event store: batched envelope writes/s on SQLite and PostgreSQL"

POSTGRES_URL = os.environ.get(
    "POLYTRADERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RISK_BOTS = 7
BATCH_SIZE = 5_000
_TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
_MARKET = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"


def timeline(run: str, intents: int) -> list[ReportEnvelope]:
    """``intents`` × (1 proposal + 7 risk approvals + 1 route) envelopes of run ``run``."""
    envelopes: list[ReportEnvelope] = []
    for i in range(intents):
        ts_ns = 1_763_700_000_000_000_000 + i * 1_000_000
        intent = OrderIntent(
            intent_id=ids.intent_id(run, i),
            bot_id="strat.maker_tight",
            token_id=_TOKEN,
            market_id=_MARKET,
            side=Side.BUY if i % 2 else Side.SELL,
            price=450_000 + (i % 50) * 1_000,
            size=10_000_000,
            ts_created_ns=ts_ns,
        )
        order = VenueOrder(
            client_order_id=ids.client_order_id(intent.intent_id, 0),
            intent_id=intent.intent_id,
            bot_id=intent.bot_id,
            token_id=_TOKEN,
            market_id=_MARKET,
            side=intent.side,
            price=intent.price,
            size=intent.size,
            exchange="ctf",
            ts_created_ns=ts_ns,
        )
        steps: list[tuple[str, BotClass, Decision, str, EnvelopeOutput]] = [
            (
                "strat.maker_tight",
                BotClass.STRATEGY,
                Decision.PROPOSE,
                "",
                Proposal(intents=(intent,), reason_codes=("STRAT_QUOTE",)),
            ),
            *(
                (f"risk.bot{k}", BotClass.RISK, Decision.APPROVE, intent.intent_id, APPROVE)
                for k in range(RISK_BOTS)
            ),
            (
                "exec.router",
                BotClass.EXECUTION,
                Decision.ROUTE,
                intent.intent_id,
                RoutePlan(orders=(order,)),
            ),
        ]
        for bot_id, bot_class, decision, correlation, output in steps:
            sequence = len(envelopes)
            envelopes.append(
                ReportEnvelope(
                    envelope_id=ids.envelope_id(run, sequence),
                    run_id=run,
                    sequence=sequence,
                    ts_event_ns=ts_ns,
                    ts_decided_ns=ts_ns + 5_000,
                    bot_id=bot_id,
                    bot_class=bot_class,
                    bot_version="1.0.0",
                    config_version="cfg-3f2a9c1d",
                    mode=Mode.ENFORCED,
                    decision=decision,
                    correlation_id=correlation,
                    causation_id=f"book:{_TOKEN[:12]}:{i}",
                    input_digest="0123456789abcdef",
                    output=output,
                    latency_ns=4_000,
                )
            )
    return envelopes


def _backend_cpu_s(store: EventStore) -> tuple[int, float] | None:
    """(pid, CPU seconds) of the PostgreSQL backend serving the store's pooled connection, or
    None when it cannot be read (remote server, no /proc access)."""
    with store._engine.connect() as connection:
        pid = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _write_rate(
    store: EventStore, intents: int, repeats: int, *, server: bool = False
) -> tuple[float, float, float | None, int]:
    """Over ``repeats`` fresh runs, the best of: envelopes per wall-clock second; envelopes
    per second of this process's CPU time (load-independent client-side cost); with
    ``server``, envelopes per second of client plus PostgreSQL-backend CPU time (None when
    the backend's CPU time cannot be read). Also the envelopes written per run."""
    best = 0.0
    best_cpu = 0.0
    best_total: float | None = None
    count = 0
    for repeat in range(repeats):
        run = ids.run_id("bench_store", uuid.uuid4().hex, repeat)
        envelopes = timeline(run, intents)
        count = len(envelopes)
        store.start_run(
            run_id=run,
            started_ns=0,
            seed=repeat,
            desk_config={"bench": "store"},
            desk_config_version="bench",
            data_source="bench_store synthetic timeline",
            synthetic=True,
        )
        backend_before = _backend_cpu_s(store) if server else None
        started = time.perf_counter()
        started_cpu = time.process_time()
        for envelope in envelopes:
            store.record(envelope)
        store.flush()
        elapsed = time.perf_counter() - started
        elapsed_cpu = time.process_time() - started_cpu
        best = max(best, count / elapsed)
        best_cpu = max(best_cpu, count / max(elapsed_cpu, 1e-9))
        backend_after = _backend_cpu_s(store) if server else None
        if backend_before and backend_after and backend_before[0] == backend_after[0]:
            total_cpu = elapsed_cpu + backend_after[1] - backend_before[1]
            best_total = max(best_total or 0.0, count / max(total_cpu, 1e-9))
        problems = store.check_integrity(run)
        if problems:
            raise RuntimeError(f"benchmark run failed its integrity check: {problems[:3]}")
    return best, best_cpu, best_total, count


def _postgres_reachable(url: str) -> bool:
    parsed = sa.make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1.0):
            return True
    except OSError:
        return False


def run(quick: bool = False) -> dict[str, float | int | str]:
    intents = 1_000 if quick else 5_000
    repeats = 2 if quick else 3
    figures: dict[str, float | int | str] = {}
    sample = timeline("run-sample", 1)
    figures["envelope_json_bytes_mean"] = round(
        sum(len(encode_envelope(e)) for e in sample) / len(sample), 1
    )
    figures["batch_size"] = BATCH_SIZE

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        with EventStore.open(path, batch_size=BATCH_SIZE) as store:
            rate, cpu_rate, _, count = _write_rate(store, intents, repeats)
        figures["envelopes_per_run"] = count
        figures["sqlite_batched_envelopes_per_s"] = rate
        figures["sqlite_batched_envelopes_per_cpu_s"] = cpu_rate
        with EventStore.open(Path(tmp) / "unbatched.sqlite", batch_size=1) as store:
            rate, _, _, _ = _write_rate(store, 100, 1)
        figures["sqlite_unbatched_envelopes_per_s"] = rate

    if not _postgres_reachable(POSTGRES_URL):
        figures["postgresql_batched_envelopes_per_s"] = (
            f"PostgreSQL unreachable at {sa.make_url(POSTGRES_URL).render_as_string()}"
        )
        return figures
    schema_name = f"bench_store_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema_name}")
        url = sa.make_url(POSTGRES_URL).update_query_dict(
            {"options": f"-csearch_path={schema_name}"}
        )
        with EventStore.open(
            url.render_as_string(hide_password=False), batch_size=BATCH_SIZE
        ) as store:
            rate, cpu_rate, total_rate, _ = _write_rate(store, intents, repeats, server=True)
        figures["postgresql_batched_envelopes_per_s"] = rate
        figures["postgresql_batched_client_envelopes_per_cpu_s"] = cpu_rate
        figures["postgresql_batched_envelopes_per_cpu_s"] = (
            total_rate if total_rate is not None else "server CPU time not readable"
        )
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
        admin.dispose()
    return figures
