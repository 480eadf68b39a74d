"""The Runtime score (seed 002, "Runtime checklist (8)"): what shadow, paper and live runs
recorded in the event store, the incident log, the promotion history and the repository's
monitoring files show about one bot.

Evidence is read from **live-clock runs** only (:mod:`polytraders.store.sessions`: a paper,
shadow or live session records the market channel's websocket URL as its data source; a
backtest never does): under a simulated clock decision latency is modelled and decision times
are the data's, so backtests say nothing about runtime behaviour. Only envelopes of the bot's
current ``version`` count (evidence about another version of the code does not speak for this
one). "Now" is ``ctx.now_ns``; the rolling window of items 2–4 is the 7 days before it
(seed 001: "Error rate < 0.1 % over 7 days"), by envelopes' ``ts_decided_ns`` (wall time
under a live clock).

1. **Shadow telemetry clean for at least 7 days**: the bot decided in SHADOW mode in
   live-clock runs on ≥ 7 distinct UTC days (before now); none of those run attempts ended
   FAILED or was abandoned, and none holds an ERROR or QUARANTINE envelope of the bot. FAIL on
   a failed/abandoned run or an error envelope; PENDING with fewer days (or none).
2. **Rolling error rate under budget**: (ERROR + QUARANTINE envelopes) / all envelopes of the
   bot in the window ≤ ``RUNTIME_BUDGET.error_rate_max_ppm`` (exact integer comparison).
3. **p95 latency inside the declared budget**: the nearest-rank p95 (the ⌈0.95·n⌉-th
   smallest) of ``latency_ns`` over the bot's envelopes in the window, QUARANTINE envelopes
   left out (the bot was not called), ≤ ``decision_p95_us`` × 1,000.
4. **Reject rate within the calibrated band** ``[reject_rate_min_bps, reject_rate_max_bps]``
   (exact integer comparison), over the window:
   - risk bot: REJECT + HALT among its intent decisions (APPROVE, REJECT, RESHAPE, HALT with a
     correlation id; monitor steps and failures left out). A RESHAPE lets the intent through
     and is not a reject;
   - execution bot: REFUSE among ROUTE + REFUSE;
   - strategy: of the PLACE and REPLACE intents in its ENFORCED proposals (cancels are never
     refused: the desk approves them without the risk bots), those refused downstream in the
     same run attempt, joined by correlation id = intent id: a REJECT, HALT or QUARANTINE
     envelope of an applied (ENFORCED or QUARANTINE) risk-class decision (the desk's own gate
     included), an ENFORCED REFUSE (the execution bot or the desk's order manager), or a venue
     order of the intent in state REJECTED (``orders.intent_id``). SHADOW and ADVISORY
     decisions refuse nothing and are not counted. Each intent counts once.
   Items 2–4 are PENDING when the window holds no such decision.
5. **Runbook battle-tested**: a closed incident attributed to the bot (real or drill) whose
   closing says the runbook was exercised (:mod:`polytraders.store.incidents`); PENDING
   otherwise.
6. **Dashboard live** and 7. **Alerts wired to the severity tiers**: the repository's
   ``ops/grafana/`` dashboards and ``ops/prometheus/`` alerting rules cover the bot
   (:mod:`polytraders.readiness.ops_files`). These read files, not the store, so they are
   judged even without a store; a missing folder FAILs.
8. **Promoted through every gate**: the ``promotions`` table, in row order: ``promoted`` rows
   reach ``general_live`` after ``limited_live`` after ``shadow`` (seed 001's lifecycle;
   seed 002 names the modes stub → shadow → advisory → enforced). PENDING while the history has
   not reached general live; FAIL when it reached a state without passing the one before.

Without a store (``ctx.store`` None) every store-backed item (1–5, 8) is PENDING "no event
store". Every store-backed item carries a STORE evidence: what was asked and the SHA-256 of
the canonical JSON of what came back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import sqlalchemy as sa

from polytraders.bots.registry import bot_class
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.orders import IntentAction, OrderStatus
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import (
    ChecklistItem,
    Evidence,
    EvidenceKind,
    ItemStatus,
    Score,
    ScoreName,
    result_evidence,
)
from polytraders.readiness.lifecycle import State
from polytraders.readiness.ops_files import Coverage, alert_rule_coverage, dashboard_coverage
from polytraders.store import ABANDONED, EventStore, RunStatus, schema
from polytraders.store.incidents import list_incidents
from polytraders.store.promotions import PromotionOutcome, promotions
from polytraders.store.sessions import envelopes_of_runs, live_clock_clause

NS_PER_DAY = 86_400 * 1_000_000_000
WINDOW_NS = 7 * NS_PER_DAY
"""The rolling window of items 2–4 (seed 001: "over 7 days")."""
SHADOW_DAYS = 7
"""Seed 002 item 1: "clean for at least 7 days"."""

TITLES = (
    "Shadow telemetry clean for at least 7 days",
    "Rolling error rate under budget",
    "p95 latency inside the declared latency budget",
    "Reject rate within the calibrated band",
    "Runbook battle-tested against a real (or replayed) incident",
    "Dashboard live in the team Grafana",
    "Alerts wired to the correct severity tier",
    "Promoted through every gate",
)
"""Seed 002's Runtime checklist, items 1–8."""

LIFECYCLE_PATH = (State.SHADOW.value, State.LIMITED_LIVE.value, State.GENERAL_LIVE.value)
"""The promotions a bot's history must hold, in order (``promotions.to_state``)."""
PROMOTED = PromotionOutcome.PROMOTED.value

_FAILURES = (Decision.ERROR.value, Decision.QUARANTINE.value)
_RISK_DECISIONS = tuple(
    d.value for d in (Decision.APPROVE, Decision.REJECT, Decision.RESHAPE, Decision.HALT)
)
_RISK_REJECTS = (Decision.REJECT.value, Decision.HALT.value)
_APPLIED = (Mode.ENFORCED.value, Mode.QUARANTINE.value)
_LIVE = "live-clock runs (runs.data_source ws:// or wss://)"
_PROPOSALS = msgspec.json.Decoder(Proposal)


def runtime_score(bot_id: str, ctx: ReadinessContext) -> Score:
    """The Runtime score of library bot ``bot_id`` (the eight items of the module docstring).

    Raises:
        KeyError: ``bot_id`` is not a library bot.
        StoreError: a store read failed.
    """
    cls = bot_class(bot_id)
    budget: RuntimeBudget = cls.RUNTIME_BUDGET
    dashboards = _coverage_item(6, dashboard_coverage(ctx.repo, bot_id))
    alerts = _coverage_item(7, alert_rule_coverage(ctx.repo, bot_id))
    store = ctx.store
    if store is None:
        pending = {n: _item(n, ItemStatus.PENDING, "no event store") for n in (1, 2, 3, 4, 5, 8)}
        items = [pending[1], pending[2], pending[3], pending[4], pending[5], dashboards, alerts]
        return Score(bot_id=bot_id, name=ScoreName.RUNTIME, items=(*items, pending[8]))
    reader = _Reader(store, bot_id, cls.version, ctx.now_ns)
    items = [
        _shadow_item(reader),
        _error_item(reader, budget),
        _latency_item(reader, budget),
        _reject_item(reader, budget, BotClass(cls.bot_class)),
        _runbook_item(store, bot_id),
        dashboards,
        alerts,
        _promotion_item(store, bot_id),
    ]
    return Score(bot_id=bot_id, name=ScoreName.RUNTIME, items=tuple(items))


def _item(
    number: int, status: ItemStatus, detail: str, evidence: Iterable[Evidence] = ()
) -> ChecklistItem:
    return ChecklistItem(
        number=number,
        title=TITLES[number - 1],
        status=status,
        detail=detail,
        evidence=tuple(evidence),
    )


def _coverage_item(number: int, coverage: Coverage) -> ChecklistItem:
    return _item(number, coverage.status, coverage.detail, coverage.evidence)


class _Reader:
    """The store queries of one bot's runtime evidence."""

    def __init__(self, store: EventStore, bot_id: str, version: str, now_ns: int) -> None:
        self.store = store
        self.bot_id = bot_id
        self.version = version
        self.now_ns = now_ns
        self.start_ns = now_ns - WINDOW_NS
        self.scope = f"bot_id={bot_id!r}, bot_version={version!r}, {_LIVE}"
        self.window = f"ts_decided_ns in [{self.start_ns}, {now_ns})"

    def envelopes(self, *columns: Any, window: bool = True) -> sa.Select[Any]:
        """SELECT ``columns`` from the bot's live-clock envelopes (in the window)."""
        e = schema.envelopes.c
        joined, live = envelopes_of_runs(live_only=True)
        query = (
            sa.select(*columns)
            .select_from(joined)
            .where(e.bot_id == self.bot_id, e.bot_version == self.version, live)
        )
        if window:
            query = query.where(e.ts_decided_ns >= self.start_ns, e.ts_decided_ns < self.now_ns)
        else:
            query = query.where(e.ts_decided_ns < self.now_ns)
        return query

    def by_decision(self) -> dict[str, int]:
        """Envelope counts by decision in the window."""
        e = schema.envelopes.c
        query = self.envelopes(e.decision, sa.func.count().label("n")).group_by(e.decision)
        return {r.decision: int(r.n) for r in self.store.select(query)}


def _shadow_item(reader: _Reader) -> ChecklistItem:
    e = schema.envelopes.c
    day = (e.ts_decided_ns // NS_PER_DAY).label("day")
    query = (
        reader.envelopes(e.run_id, e.attempt, day, window=False)
        .where(e.mode == Mode.SHADOW.value)
        .distinct()
    )
    rows = sorted({(r.run_id, int(r.attempt), int(r.day)) for r in reader.store.select(query)})
    attempts = sorted({(run_id, attempt) for run_id, attempt, _ in rows})
    days = sorted({d for _, _, d in rows})
    failures: list[list[Any]] = []
    if attempts:
        fail_query = (
            reader.envelopes(
                e.run_id, e.attempt, e.decision, sa.func.count().label("n"), window=False
            )
            .where(e.decision.in_(_FAILURES), sa.tuple_(e.run_id, e.attempt).in_(attempts))
            .group_by(e.run_id, e.attempt, e.decision)
        )
        failures = sorted(
            [r.run_id, int(r.attempt), r.decision, int(r.n)]
            for r in reader.store.select(fail_query)
        )
    states = []
    for run_id, attempt in attempts:
        record = reader.store.run(f"{run_id}@{attempt}")
        states.append([run_id, attempt, record.state if record is not None else "missing"])
    bad_runs = [s for s in states if s[2] in (RunStatus.FAILED.value, ABANDONED)]
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"envelopes⋈runs: {reader.scope}, mode=SHADOW, ts_decided_ns < {reader.now_ns}; "
        "UTC days, run states, ERROR/QUARANTINE counts",
        {"days": days, "runs": states, "failures": failures},
        f"{len(days)} UTC day(s) in {len(attempts)} run attempt(s)",
    )
    if bad_runs or failures:
        what = [f"{r}@{a} {s}" for r, a, s in bad_runs]
        what += [f"{n} {d} envelope(s) in {r}@{a}" for r, a, d, n in failures]
        return _item(
            1, ItemStatus.FAIL, "shadow telemetry not clean: " + "; ".join(what[:5]), [evidence]
        )
    if not days:
        return _item(
            1,
            ItemStatus.PENDING,
            f"no live-clock run with {reader.bot_id} in SHADOW mode",
            [evidence],
        )
    if len(days) < SHADOW_DAYS:
        return _item(
            1,
            ItemStatus.PENDING,
            f"clean shadow telemetry on {len(days)} UTC day(s) of the {SHADOW_DAYS} needed",
            [evidence],
        )
    return _item(
        1,
        ItemStatus.PASS,
        f"clean shadow telemetry on {len(days)} UTC days in {len(attempts)} run attempt(s)",
        [evidence],
    )


def _error_item(reader: _Reader, budget: RuntimeBudget) -> ChecklistItem:
    counts = reader.by_decision()
    total = sum(counts.values())
    errors = sum(counts.get(d, 0) for d in _FAILURES)
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"envelopes⋈runs: {reader.scope}, {reader.window}; count by decision",
        dict(sorted(counts.items())),
        f"{errors} error(s) in {total} decision(s)",
    )
    if total == 0:
        return _item(2, ItemStatus.PENDING, "no live-clock decision in the last 7 days", [evidence])
    ppm = errors * 1_000_000 / total
    detail = (
        f"{errors} ERROR/QUARANTINE of {total} decisions over 7 days = {ppm:,.0f} ppm; "
        f"budget {budget.error_rate_max_ppm:,} ppm"
    )
    within = errors * 1_000_000 <= budget.error_rate_max_ppm * total
    return _item(2, ItemStatus.PASS if within else ItemStatus.FAIL, detail, [evidence])


def nearest_rank(values: list[int], quantile_pct: int) -> int:
    """The nearest-rank ``quantile_pct`` percentile of ``values`` (the ⌈q·n/100⌉-th smallest),
    exact on integers.

    Raises:
        ValueError: no values, or ``quantile_pct`` outside 1..100.
    """
    if not values or not 1 <= quantile_pct <= 100:
        raise ValueError("need values and a percentile in 1..100")
    ordered = sorted(values)
    rank = -(-quantile_pct * len(ordered) // 100)  # ceiling, in integers
    return ordered[rank - 1]


def _latency_item(reader: _Reader, budget: RuntimeBudget) -> ChecklistItem:
    e = schema.envelopes.c
    query = reader.envelopes(e.latency_ns).where(e.decision != Decision.QUARANTINE.value)
    latencies = [int(r.latency_ns) for r in reader.store.select(query)]
    if not latencies:
        evidence = result_evidence(
            EvidenceKind.STORE,
            f"envelopes⋈runs: {reader.scope}, {reader.window}, decision≠QUARANTINE; latency_ns",
            {"n": 0},
            "no decision",
        )
        return _item(3, ItemStatus.PENDING, "no live-clock decision in the last 7 days", [evidence])
    p95 = nearest_rank(latencies, 95)
    p99 = nearest_rank(latencies, 99)
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"envelopes⋈runs: {reader.scope}, {reader.window}, decision≠QUARANTINE; latency_ns",
        {"n": len(latencies), "p95_ns": p95, "p99_ns": p99, "max_ns": max(latencies)},
        f"p95 {p95:,} ns over {len(latencies)} decisions",
    )
    limit_ns = budget.decision_p95_us * 1_000
    detail = (
        f"p95 {p95 / 1_000:,.1f} µs (p99 {p99 / 1_000:,.1f} µs) over {len(latencies)} decisions; "
        f"budget p95 ≤ {budget.decision_p95_us:,} µs"
    )
    return _item(3, ItemStatus.PASS if p95 <= limit_ns else ItemStatus.FAIL, detail, [evidence])


def _reject_item(reader: _Reader, budget: RuntimeBudget, cls: BotClass) -> ChecklistItem:
    if cls is BotClass.STRATEGY:
        rejects, total, result, ref = _strategy_rejects(reader)
    else:
        e = schema.envelopes.c
        decisions: tuple[str, ...]
        refused: tuple[str, ...]
        if cls is BotClass.RISK:
            decisions, refused = _RISK_DECISIONS, _RISK_REJECTS
            query = reader.envelopes(e.decision, sa.func.count().label("n")).where(
                e.decision.in_(decisions), e.correlation_id != ""
            )
        else:
            decisions, refused = (
                (Decision.ROUTE.value, Decision.REFUSE.value),
                (Decision.REFUSE.value,),
            )
            query = reader.envelopes(e.decision, sa.func.count().label("n")).where(
                e.decision.in_(decisions)
            )
        counts = {r.decision: int(r.n) for r in reader.store.select(query.group_by(e.decision))}
        total = sum(counts.values())
        rejects = sum(counts.get(d, 0) for d in refused)
        result = dict(sorted(counts.items()))
        ref = (
            f"envelopes⋈runs: {reader.scope}, {reader.window}, decision in "
            f"{'/'.join(decisions)}; count by decision (rejects: {'/'.join(refused)})"
        )
    evidence = result_evidence(EvidenceKind.STORE, ref, result, f"{rejects} of {total}")
    if total == 0:
        return _item(4, ItemStatus.PENDING, "no live-clock decision in the last 7 days", [evidence])
    band = f"[{budget.reject_rate_min_bps:,}, {budget.reject_rate_max_bps:,}] bps"
    detail = f"{rejects} rejected of {total} = {rejects * 10_000 / total:,.0f} bps; band {band}"
    inside = (
        budget.reject_rate_min_bps * total <= rejects * 10_000 <= budget.reject_rate_max_bps * total
    )
    return _item(4, ItemStatus.PASS if inside else ItemStatus.FAIL, detail, [evidence])


def _strategy_rejects(reader: _Reader) -> tuple[int, int, dict[str, Any], str]:
    """(refused intents, intents, evidence result, evidence ref) of a strategy's window."""
    e = schema.envelopes.c
    proposals = reader.envelopes(e.run_id, e.attempt, e.output_json).where(
        e.decision == Decision.PROPOSE.value, e.mode == Mode.ENFORCED.value
    )
    intents: set[tuple[str, int, str]] = set()
    for row in reader.store.select(proposals):
        for intent in _PROPOSALS.decode(row.output_json).intents:
            if intent.action is not IntentAction.CANCEL:
                intents.add((row.run_id, int(row.attempt), intent.intent_id))
    attempts = sorted({(run_id, attempt) for run_id, attempt, _ in intents})
    refused_by: dict[tuple[str, int, str], str] = {}
    if attempts:
        joined, live = envelopes_of_runs(live_only=True)
        downstream = (
            sa.select(e.run_id, e.attempt, e.correlation_id, e.bot_id)
            .select_from(joined)
            .where(
                live,
                sa.tuple_(e.run_id, e.attempt).in_(attempts),
                e.correlation_id != "",
                sa.or_(
                    sa.and_(
                        e.bot_class == BotClass.RISK.value,
                        e.mode.in_(_APPLIED),
                        e.decision.in_((*_RISK_REJECTS, Decision.QUARANTINE.value)),
                    ),
                    sa.and_(e.decision == Decision.REFUSE.value, e.mode == Mode.ENFORCED.value),
                ),
            )
        )
        for r in reader.store.select(downstream):
            refused_by.setdefault((r.run_id, int(r.attempt), r.correlation_id), r.bot_id)
        o, runs = schema.orders.c, schema.runs.c
        venue = (
            sa.select(o.run_id, o.attempt, o.intent_id)
            .select_from(
                schema.orders.join(
                    schema.runs, sa.and_(o.run_id == runs.run_id, o.attempt == runs.attempt)
                )
            )
            .where(
                live_clock_clause(),
                sa.tuple_(o.run_id, o.attempt).in_(attempts),
                o.status == OrderStatus.REJECTED.value,
            )
            .distinct()
        )
        for r in reader.store.select(venue):
            refused_by.setdefault((r.run_id, int(r.attempt), r.intent_id), "venue")
    refused = {key: who for key, who in refused_by.items() if key in intents}
    by_whom: dict[str, int] = {}
    for who in refused.values():
        by_whom[who] = by_whom.get(who, 0) + 1
    result = {"intents": len(intents), "refused": len(refused), "by": dict(sorted(by_whom.items()))}
    ref = (
        f"envelopes⋈runs: {reader.scope}, {reader.window}, ENFORCED PROPOSE (PLACE/REPLACE "
        "intents); refusals by correlation id: applied risk REJECT/HALT/QUARANTINE, ENFORCED "
        "REFUSE; orders in state REJECTED by intent_id"
    )
    return len(refused), len(intents), result, ref


def _runbook_item(store: EventStore, bot_id: str) -> ChecklistItem:
    incidents = list_incidents(store, bot_id=bot_id)
    exercised = [i for i in incidents if i.closed_ns is not None and i.runbook_exercised]
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"incidents: bot_id={bot_id!r}, opened and closed rows folded",
        [
            [i.incident_id, i.severity.value, i.state, i.drill, i.runbook_exercised]
            for i in incidents
        ],
        f"{len(incidents)} incident(s), {len(exercised)} with the runbook exercised",
    )
    if exercised:
        first = exercised[0]
        kind = "drill" if first.drill else "incident"
        return _item(
            5,
            ItemStatus.PASS,
            f"runbook exercised in {len(exercised)} closed incident(s), e.g. {kind} "
            f"{first.incident_id} ({first.severity.value}) closed by {first.closed_by}",
            [evidence],
        )
    return _item(
        5,
        ItemStatus.PENDING,
        f"no closed incident of {bot_id} with the runbook exercised "
        f"({len(incidents)} incident(s) on record)",
        [evidence],
    )


def _promotion_item(store: EventStore, bot_id: str) -> ChecklistItem:
    history = [
        [r.from_state, r.to_state, r.outcome.value, r.ts_ns]
        for r in promotions(store, bot_id=bot_id)
    ]
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"promotions: bot_id={bot_id!r}, in row order",
        history,
        f"{len(history)} promotion record(s)",
    )
    reached = 0
    for _from, to_state, outcome, _ts in history:
        if outcome != PROMOTED or to_state not in LIFECYCLE_PATH:
            continue
        step = LIFECYCLE_PATH.index(to_state)
        if step > reached:
            return _item(
                8,
                ItemStatus.FAIL,
                f"promoted to {to_state} without passing {LIFECYCLE_PATH[step - 1]}",
                [evidence],
            )
        reached = max(reached, step + 1)
    if reached == len(LIFECYCLE_PATH):
        return _item(
            8, ItemStatus.PASS, "promoted through shadow, limited live and general live", [evidence]
        )
    where = LIFECYCLE_PATH[reached - 1] if reached else "never promoted"
    return _item(
        8,
        ItemStatus.PENDING,
        f"not yet promoted to general live (furthest: {where})",
        [evidence],
    )
