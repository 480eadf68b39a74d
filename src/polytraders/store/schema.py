"""The event-store schema (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Every row of a run belongs to one **attempt** of it: the desk's run id is the same however
often the same run (data, desk, seed) is repeated, so the store keys runs by
``(run_id, attempt)`` and every run-scoped table carries both columns (attempt 1, 2, ... in the
order the attempts started; an attempt number is never reused, not even after a prune).

Tables (every one append-only: the database itself refuses UPDATE and, on PostgreSQL,
TRUNCATE, and refuses DELETE except of the rows of an attempt recorded in ``run_prunes``,
through triggers installed with the tables):

- ``store_meta``: key/value rows; ``schema_version`` = :data:`SCHEMA_VERSION`.
- ``runs``: one row per attempt when it starts: PK (run id, attempt), ``started_ns`` (caller's
  clock) and ``started_wall_ns`` (store's wall clock), seed, desk config JSON and its version,
  data-source description, synthetic flag, status at start (``RUNNING``).
- ``run_leases``: the lease of a running attempt: one row per heartbeat (owner host, pid and
  process start; wall-clock time; lease length in s). The first is written with the start; a
  resumed attempt gets rows of its new owner. Append-only rows rather than an updated
  column: nothing in the store is ever updated, and the rows show every owner a run had.
- ``run_ends``: one row per ended attempt (``ended_ns``, ``ended_wall_ns``, final status and
  its ``detail``, and what the attempt says it produced: ``produced_envelopes``,
  ``produced_orders`` (order-state rows), ``produced_fills``, which the integrity check
  compares with the rows recorded). A run's end is a second fact appended, not an update of
  the first, so ``runs`` stays append-only; readers join them.
- ``envelopes``: every :class:`~polytraders.contracts.envelope.ReportEnvelope` field as a
  column, the output as JSON (``output_json``, with its tag in ``output_type``) and the exact
  JSON line (``line``, without the newline) from which the timeline is re-exported byte for
  byte. Primary key (run id, attempt, sequence); envelope ids unique per attempt.
- ``orders``: one row per lifecycle state of a :class:`~polytraders.model.orders.VenueOrder`
  (its columns plus the exact JSON), in append order (``row_id``).
- ``fills``: one row per :class:`~polytraders.model.fills.Fill`; (run id, attempt, fill id)
  unique, so the same fill can never be booked twice in an attempt; ``fee_size`` (schema 8)
  the commission kept in the traded asset.
- ``positions``: position snapshots (signed size, cost basis, realized PnL, fees).
- ``checkpoints``: the desk's checkpoint rows (:mod:`polytraders.store.checkpoints`): PK (run
  id, attempt, sequence), ``ts_ns`` (desk clock), ``wall_ns`` (store's wall clock), ``kind``
  (``desk``: the desk's controls and what changed; ``kill_switch.trip`` /
  ``kill_switch.reset``: an operator's command), ``actor`` and the body as JSON. Appended when
  the checkpointed state changes (the desk) or an operator acts; a restart folds them.
- ``reconciliations``: one row per reconciliation of the attempt with its venue (at start-up
  and periodically while a live desk runs), in append order (``row_id``): ``ts_ns`` (desk
  clock), ``wall_ns`` (store's wall clock), ``kind`` (``startup`` / ``periodic``), the drift
  ``level`` (``ok`` / ``warning`` / ``critical``), ``order_drift_micros`` and
  ``position_drift_micros``, the registered codes (``reason_codes_json``, a JSON list) and
  what differed (``differences_json``, JSON the store does not interpret: the live desk writes
  :class:`polytraders.venues.drift.Differences`). Written at once, each in its own
  transaction.
- ``audit_log``: who did what when (actor, action, detail, ``ts_ns``), optionally in an
  attempt of a run, chained by SHA-256 (:mod:`polytraders.store.audit_chain`). Never
  deletable.
- ``run_prunes``: one row per pruned attempt (when, who, why): the tombstone that lets the
  database delete that attempt's rows, and keeps its attempt number taken.

Governance evidence (readiness and promotion gates: :mod:`polytraders.store.ci_runs`,
``incidents``, ``reviews``, ``alerts``, ``promotions``); not
run-scoped, never deletable; a fact that changes (an incident closed, an alert resolved) is a
second row:

- ``ci_runs``: one row per recorded CI run: commit, branch, outcome, test counts, duration,
  the JUnit report's SHA-256 and every test id's outcome (``results_json``).
- ``incidents``: ``opened`` and ``closed`` rows of an incident (id, bot, severity P0–P2,
  title, whether it was a drill, error origin ``bot``/``venue``/``desk``, runbook exercised).
- ``review_samples``: the decisions drawn for a review (sample id, bot, the envelope's run,
  attempt, id, decision, codes and exact JSON line, the draw's seed).
- ``review_verdicts``: a reviewer's verdict on one sampled decision (correct / incorrect), or
  on one divergence of a shadow comparison (``sample_id`` the comparison's id).
- ``alert_firings``: alert notifications received (Alertmanager webhook): name, severity,
  bot, firing/resolved, start and end.
- ``gate_evaluations``: one row per gate per evaluation: phase, measured value, threshold,
  window, evidence and its digest.
- ``promotions``: every promotion attempt's outcome (promoted, refused, demoted) with the
  evaluation and evidence digest it rests on.
- ``shadow_comparisons``: one row per bot per side-by-side comparison of a baseline and a
  candidate desk on the same events: decisions compared, agreement on the verdict and on
  verdict plus codes, unsafe divergences (candidate more permissive), Cohen's kappa (decimal
  text), the confusion table and the divergences as JSON.
- ``security_findings``: ``open`` and ``resolved`` rows of a dependency vulnerability or other
  security finding, with its CVSS score in tenths (75 = 7.5).
- ``chaos_runs``: one row per chaos-suite scenario run (:mod:`polytraders.store.chaos_runs`):
  the suite it belongs to, the scenario, the desk under test (config version and its bots with
  their modes and config versions, JSON), the verdict, every written check with its measured
  value (JSON), the desk's own run records (``RUN_ID@N`` references, JSON), the commit, the
  wall-clock start and end and who ran it.
- ``releases``, ``signoffs``, ``rollback_drills`` (schema 7): accepted release manifests (one
  per bot and sequence, with the signed envelope), verified sign-offs and gate waivers, and
  rollback drills (:mod:`polytraders.store.releases`).
- ``console_users`` (schema 7): one row per change of an operator-console user (``added``,
  ``password_changed``, ``removed``) with its role and argon2 password hash, who changed it
  and when; the current users are each name's latest row
  (:mod:`polytraders.store.console_users`).

Orders, fills, positions, checkpoints, reconciliations, leases and run ends reference ``runs``
by foreign key;
envelopes do not (see the comment at the table), the store checks their run before buffering
them.

Money and sizes are int micro-units, times int ns since the epoch (64-bit signed columns).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

SCHEMA_VERSION = 8
"""Version of this schema; a database holding another version is refused (no silent
migration), except versions 5, 6 and 7, which are upgraded in place when opened
(:data:`UPGRADABLE_FROM`). Version 1 keyed runs by
run id alone (a repeated run got a ``-r<n>`` id); version 2 had neither a ``checkpoints`` table
nor produced counts in ``run_ends``; version 3 had one of the two; version 4 had no
``reconciliations`` table; version 5 had none of the governance tables (``ci_runs``,
``incidents``, ``review_samples``, ``review_verdicts``, ``alert_firings``,
``gate_evaluations``, ``promotions``, ``shadow_comparisons``, ``security_findings``,
``chaos_runs``); version 6 had no hash chain in ``audit_log`` and none of the release
tables (``releases``, ``signoffs``, ``rollback_drills``) nor ``console_users``; version 7
had no ``fills.fee_size``."""

UPGRADABLE_FROM = (5, 6, 7)
"""The older versions this release upgrades in place: the upgrade adds tables, adds the
audit log's two hash columns and chains the entries already there (in append order), and
adds ``fills.fee_size`` (0 for every fill already there: before schema 8 no fill carried a
commission in the traded asset)."""

APPEND_ONLY_MESSAGE = "polytraders event store is append-only"

# BIGINT PRIMARY KEY is not SQLite's auto-incrementing row id alias; INTEGER is (also 64-bit).
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

_RUN_ID = sa.String(200)
_ATTEMPT = sa.Integer


def _run_key(*, primary_key: bool = False) -> list[sa.Column[Any]]:
    """The (run_id, attempt) columns of a run-scoped table."""
    return [
        sa.Column("run_id", _RUN_ID, primary_key=primary_key, nullable=False),
        sa.Column(
            "attempt", _ATTEMPT, primary_key=primary_key, nullable=False, autoincrement=False
        ),
    ]


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id", "attempt"], ["runs.run_id", "runs.attempt"], name=f"fk_{table}_run"
    )


runs = sa.Table(
    "runs",
    metadata,
    *_run_key(primary_key=True),
    sa.Column("started_ns", sa.BigInteger, nullable=False),
    sa.Column("started_wall_ns", sa.BigInteger, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("desk_config_json", sa.Text, nullable=False),
    sa.Column("desk_config_version", sa.String(200), nullable=False),
    sa.Column("data_source", sa.Text, nullable=False),
    sa.Column("synthetic", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
)

run_leases = sa.Table(
    "run_leases",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    *_run_key(),
    sa.Column("renewed_wall_ns", sa.BigInteger, nullable=False),
    sa.Column("lease_s", sa.Integer, nullable=False),
    sa.Column("owner_host", sa.Text, nullable=False),
    sa.Column("owner_pid", sa.BigInteger, nullable=False),
    sa.Column("owner_process_start", sa.Text, nullable=False),
    _run_fk("run_leases"),
    sa.Index("ix_run_leases_run", "run_id", "attempt", "row_id"),
)

run_ends = sa.Table(
    "run_ends",
    metadata,
    *_run_key(primary_key=True),
    sa.Column("ended_ns", sa.BigInteger, nullable=False),
    sa.Column("ended_wall_ns", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("produced_envelopes", sa.BigInteger, nullable=False),
    sa.Column("produced_orders", sa.BigInteger, nullable=False),
    sa.Column("produced_fills", sa.BigInteger, nullable=False),
    _run_fk("run_ends"),
)

# No foreign key from envelopes to runs: the per-row referential check was a third of
# PostgreSQL's insert cost for this, the hottest table (bench/bench_store.py). The store refuses
# envelopes of attempts it has not started (or resumed) before buffering them, and
# check_integrity reports a run that is not recorded.
envelopes = sa.Table(
    "envelopes",
    metadata,
    *_run_key(primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("envelope_id", sa.Text, nullable=False),
    sa.Column("ts_event_ns", sa.BigInteger, nullable=False),
    sa.Column("ts_decided_ns", sa.BigInteger, nullable=False),
    sa.Column("bot_id", sa.Text, nullable=False),
    sa.Column("bot_class", sa.String(32), nullable=False),
    sa.Column("bot_version", sa.Text, nullable=False),
    sa.Column("config_version", sa.Text, nullable=False),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("reason_codes_json", sa.Text, nullable=False),
    sa.Column("correlation_id", sa.Text, nullable=False),
    sa.Column("causation_id", sa.Text, nullable=False),
    sa.Column("input_digest", sa.Text, nullable=False),
    sa.Column("output_type", sa.String(32), nullable=False),
    sa.Column("output_json", sa.Text, nullable=False),
    sa.Column("latency_ns", sa.BigInteger, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.UniqueConstraint("run_id", "attempt", "envelope_id", name="uq_envelopes_run_id"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    *_run_key(),
    sa.Column("client_order_id", sa.Text, nullable=False),
    sa.Column("intent_id", sa.Text, nullable=False),
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("bot_id", sa.Text, nullable=False),
    sa.Column("token_id", sa.Text, nullable=False),
    sa.Column("market_id", sa.Text, nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("price", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("notional", sa.BigInteger, nullable=False),
    sa.Column("time_in_force", sa.String(8), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("filled_size", sa.BigInteger, nullable=False),
    sa.Column("ts_created_ns", sa.BigInteger, nullable=False),
    sa.Column("ts_updated_ns", sa.BigInteger, nullable=False),
    sa.Column("order_json", sa.Text, nullable=False),
    _run_fk("orders"),
    sa.Index("ix_orders_run_client", "run_id", "attempt", "client_order_id"),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    *_run_key(),
    sa.Column("fill_id", sa.Text, nullable=False),
    sa.Column("client_order_id", sa.Text, nullable=False),
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("token_id", sa.Text, nullable=False),
    sa.Column("market_id", sa.Text, nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("price", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("liquidity", sa.String(8), nullable=False),
    sa.Column("ts_event_ns", sa.BigInteger, nullable=False),
    sa.Column("ts_recv_ns", sa.BigInteger, nullable=False),
    # schema 8; last, where ALTER TABLE ADD COLUMN puts it in an upgraded store
    sa.Column("fee_size", sa.BigInteger, nullable=False, server_default="0"),
    _run_fk("fills"),
    sa.UniqueConstraint("run_id", "attempt", "fill_id", name="uq_fills_run_fill"),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    *_run_key(),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("token_id", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("cost_basis", sa.BigInteger, nullable=False),
    sa.Column("realized_pnl", sa.BigInteger, nullable=False),
    sa.Column("fees", sa.BigInteger, nullable=False),
    sa.Column("fill_count", sa.BigInteger, nullable=False),
    _run_fk("positions"),
    sa.Index("ix_positions_run", "run_id", "attempt", "row_id"),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    *_run_key(primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("wall_ns", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("body_json", sa.Text, nullable=False),
    _run_fk("checkpoints"),
)

reconciliations = sa.Table(
    "reconciliations",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    *_run_key(),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("wall_ns", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("order_drift_micros", sa.BigInteger, nullable=False),
    sa.Column("position_drift_micros", sa.BigInteger, nullable=False),
    sa.Column("reason_codes_json", sa.Text, nullable=False),
    sa.Column("differences_json", sa.Text, nullable=False),
    _run_fk("reconciliations"),
    sa.Index("ix_reconciliations_run", "run_id", "attempt", "row_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("run_id", _RUN_ID, nullable=True),
    sa.Column("attempt", _ATTEMPT, nullable=True),
    # the hash chain (polytraders.store.audit_chain): nullable only because a column added to
    # an existing table cannot be NOT NULL there; every writer sets both
    sa.Column("prev_sha256", sa.String(64), nullable=True),
    sa.Column("entry_sha256", sa.String(64), nullable=True),
)

AUDIT_CHAIN_INDEX = sa.Index("uq_audit_log_prev_sha256", audit_log.c.prev_sha256, unique=True)
"""One successor per entry: two writers chaining onto the same head cannot both commit (the
second retries onto the new head), so the log stays one chain."""

run_prunes = sa.Table(
    "run_prunes",
    metadata,
    *_run_key(primary_key=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

ci_runs = sa.Table(
    "ci_runs",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("commit_sha", sa.String(40), nullable=False),
    sa.Column("branch", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("tests_passed", sa.Integer, nullable=False),
    sa.Column("tests_failed", sa.Integer, nullable=False),
    sa.Column("tests_errors", sa.Integer, nullable=False),
    sa.Column("tests_skipped", sa.Integer, nullable=False),
    sa.Column("duration_ms", sa.BigInteger, nullable=False),
    sa.Column("wall_ns", sa.BigInteger, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("junit_sha256", sa.String(64), nullable=False),
    sa.Column("results_json", sa.Text, nullable=False),
    sa.Index("ix_ci_runs_commit", "commit_sha", "row_id"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(4), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("drill", sa.Boolean, nullable=False),
    sa.Column("error_origin", sa.String(16), nullable=False),
    sa.Column("runbook_exercised", sa.Boolean, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.UniqueConstraint("incident_id", "event", name="uq_incidents_event"),
    sa.Index("ix_incidents_bot", "bot_id", "ts_ns"),
)

review_samples = sa.Table(
    "review_samples",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("sample_id", sa.String(64), nullable=False),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("run_id", _RUN_ID, nullable=False),
    sa.Column("attempt", _ATTEMPT, nullable=False),
    sa.Column("envelope_id", sa.String(300), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reason_codes_json", sa.Text, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.UniqueConstraint("sample_id", "run_id", "attempt", "envelope_id", name="uq_review_pick"),
    sa.Index("ix_review_samples_bot", "bot_id", "sample_id"),
)

review_verdicts = sa.Table(
    "review_verdicts",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("sample_id", sa.String(64), nullable=False),
    sa.Column("run_id", _RUN_ID, nullable=False),
    sa.Column("attempt", _ATTEMPT, nullable=False),
    sa.Column("envelope_id", sa.String(300), nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_review_verdicts_sample", "sample_id", "row_id"),
)

alert_firings = sa.Table(
    "alert_firings",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("alertname", sa.Text, nullable=False),
    sa.Column("severity", sa.String(4), nullable=False),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("starts_ns", sa.BigInteger, nullable=False),
    sa.Column("ends_ns", sa.BigInteger, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("labels_json", sa.Text, nullable=False),
    sa.Column("received_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_alert_firings_bot", "bot_id", "starts_ns"),
)

gate_evaluations = sa.Table(
    "gate_evaluations",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("evaluation_id", sa.String(64), nullable=False),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("from_state", sa.String(32), nullable=False),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("gate_id", sa.String(64), nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("critical", sa.Boolean, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("threshold", sa.Text, nullable=False),
    sa.Column("window", sa.Text, nullable=False),
    sa.Column("evidence_json", sa.Text, nullable=False),
    sa.Column("evidence_digest", sa.String(64), nullable=False),
    sa.Column("commit_sha", sa.String(40), nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("evaluation_id", "gate_id", name="uq_gate_evaluation"),
    sa.Index("ix_gate_evaluations_bot", "bot_id", "ts_ns"),
)

promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("from_state", sa.String(32), nullable=False),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason_code", sa.String(64), nullable=False),
    sa.Column("evaluation_id", sa.String(64), nullable=False),
    sa.Column("evidence_digest", sa.String(64), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_promotions_bot", "bot_id", "row_id"),
)

shadow_comparisons = sa.Table(
    "shadow_comparisons",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("comparison_id", sa.String(64), nullable=False),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("baseline_config_version", sa.Text, nullable=False),
    sa.Column("candidate_config_version", sa.Text, nullable=False),
    sa.Column("data_source", sa.Text, nullable=False),
    sa.Column("window_start_ns", sa.BigInteger, nullable=False),
    sa.Column("window_end_ns", sa.BigInteger, nullable=False),
    sa.Column("compared", sa.Integer, nullable=False),
    sa.Column("agree_verdict", sa.Integer, nullable=False),
    sa.Column("agree_strict", sa.Integer, nullable=False),
    sa.Column("unsafe_divergences", sa.Integer, nullable=False),
    sa.Column("kappa", sa.Text, nullable=False),
    sa.Column("confusion_json", sa.Text, nullable=False),
    sa.Column("divergences_json", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("comparison_id", "bot_id", name="uq_shadow_comparison_bot"),
    sa.Index("ix_shadow_comparisons_bot", "bot_id", "ts_ns"),
)

security_findings = sa.Table(
    "security_findings",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("finding_id", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("package", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("vulnerability_id", sa.Text, nullable=False),
    sa.Column("cvss_score_tenths", sa.Integer, nullable=False),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_security_findings_bot", "bot_id", "ts_ns"),
)

chaos_runs = sa.Table(
    "chaos_runs",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("suite_id", sa.String(64), nullable=False),
    sa.Column("scenario", sa.String(64), nullable=False),
    sa.Column("desk_config_version", sa.Text, nullable=False),
    sa.Column("bots_json", sa.Text, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("checks_json", sa.Text, nullable=False),
    sa.Column("run_refs_json", sa.Text, nullable=False),
    sa.Column("commit_sha", sa.String(40), nullable=False),
    sa.Column("started_wall_ns", sa.BigInteger, nullable=False),
    sa.Column("ended_wall_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.UniqueConstraint("suite_id", "scenario", name="uq_chaos_runs_scenario"),
    sa.Index("ix_chaos_runs_scenario", "scenario", "row_id"),
)

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("bot_version", sa.Text, nullable=False),
    sa.Column("from_state", sa.String(32), nullable=False),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("config_sha256", sa.String(64), nullable=False),
    sa.Column("config_version", sa.String(16), nullable=False),
    sa.Column("evidence_sha256", sa.String(64), nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
    sa.Column("signers_json", sa.Text, nullable=False),
    sa.Column("evidence_runs_json", sa.Text, nullable=False),
    sa.Column("envelope_json", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("bot_id", "sequence", name="uq_releases_bot_sequence"),
)

signoffs = sa.Table(
    "signoffs",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("statement_sha256", sa.String(64), nullable=False),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("gate_id", sa.String(64), nullable=False),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("config_sha256", sa.String(64), nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
    sa.Column("signers_json", sa.Text, nullable=False),
    sa.Column("envelope_json", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("statement_sha256", name="uq_signoffs_statement"),
    sa.Index("ix_signoffs_bot", "bot_id", "kind", "row_id"),
)

rollback_drills = sa.Table(
    "rollback_drills",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("bot_id", sa.String(200), nullable=False),
    sa.Column("from_sequence", sa.Integer, nullable=False),
    sa.Column("to_sequence", sa.Integer, nullable=False),
    sa.Column("run_id", _RUN_ID, nullable=False),
    sa.Column("attempt", _ATTEMPT, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("checks_json", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_rollback_drills_bot", "bot_id", "row_id"),
)

console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("row_id", _ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_console_users_name", "name", "row_id"),
)

RELEASE_TABLES = (releases, signoffs, rollback_drills)
"""The signed-release tables, added by schema version 7: accepted release manifests (one row
per bot and sequence), verified sign-offs and gate waivers, and rollback drills."""

GOVERNANCE_TABLES = (
    ci_runs,
    incidents,
    review_samples,
    review_verdicts,
    alert_firings,
    gate_evaluations,
    promotions,
    shadow_comparisons,
    security_findings,
    chaos_runs,
    *RELEASE_TABLES,
    console_users,
)
"""The governance evidence tables (added by schema version 6; :data:`SCHEMA_7_TABLES` by
version 7)."""

SCHEMA_7_TABLES = (*RELEASE_TABLES, console_users)
"""The tables schema version 7 added (a version-6 store upgraded in place gets them)."""

RUN_SCOPED_TABLES = (
    envelopes,
    orders,
    fills,
    positions,
    checkpoints,
    reconciliations,
    run_leases,
    run_ends,
    runs,
)
"""Tables whose rows belong to one run attempt, children before ``runs`` (the order a prune
deletes them in). Their DELETE trigger lets through only rows of a pruned attempt."""

APPEND_ONLY_TABLES = (
    store_meta,
    runs,
    run_leases,
    run_ends,
    envelopes,
    orders,
    fills,
    positions,
    checkpoints,
    reconciliations,
    audit_log,
    run_prunes,
    *GOVERNANCE_TABLES,
)
"""Every table; each refuses UPDATE (and TRUNCATE on PostgreSQL) at the database level, and
DELETE unless the row belongs to an attempt recorded in ``run_prunes``."""

_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION polytraders_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    # "%%": the driver formats the statement (psycopg placeholders); PostgreSQL sees "%".
    f"RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: %% on %% refused', TG_OP, TG_TABLE_NAME; "
    "END $$"
)
_PG_PRUNE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION polytraders_prune_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "IF EXISTS (SELECT 1 FROM run_prunes p "
    "WHERE p.run_id = OLD.run_id AND p.attempt = OLD.attempt) THEN RETURN OLD; END IF; "
    f"RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: %% on %% refused', TG_OP, TG_TABLE_NAME; "
    "END $$"
)


def append_only_ddl(table_name: str, dialect_name: str) -> list[str]:
    """The statements that make ``table_name`` refuse UPDATE (and TRUNCATE on PostgreSQL)
    and DELETE, except, for a run-scoped table, DELETE of rows of an attempt recorded in
    ``run_prunes``, in the given dialect. Run once, right after the table is created."""
    scoped = table_name in {table.name for table in RUN_SCOPED_TABLES}
    if dialect_name == "postgresql":
        if not scoped:
            return [
                f"CREATE TRIGGER {table_name}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                f"ON {table_name} FOR EACH STATEMENT EXECUTE FUNCTION polytraders_append_only()"
            ]
        return [
            f"CREATE TRIGGER {table_name}_append_only BEFORE UPDATE OR TRUNCATE "
            f"ON {table_name} FOR EACH STATEMENT EXECUTE FUNCTION polytraders_append_only()",
            f"CREATE TRIGGER {table_name}_prune_only BEFORE DELETE "
            f"ON {table_name} FOR EACH ROW EXECUTE FUNCTION polytraders_prune_only()",
        ]
    if dialect_name == "sqlite":
        statements = []
        for operation in ("UPDATE", "DELETE"):
            allow = (
                " WHEN NOT EXISTS (SELECT 1 FROM run_prunes p "
                "WHERE p.run_id = OLD.run_id AND p.attempt = OLD.attempt)"
                if scoped and operation == "DELETE"
                else ""
            )
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table_name}_no_{operation.lower()} "
                f"BEFORE {operation} ON {table_name}{allow} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {operation} on {table_name} "
                "refused'); END"
            )
        return statements
    raise ValueError(f"no append-only triggers for dialect {dialect_name!r}")


@event.listens_for(metadata, "before_create")
def _create_trigger_function(
    target: sa.MetaData, connection: sa.Connection, tables: Any = (), **_: Any
) -> None:
    """Install the PostgreSQL trigger function when tables are about to be created (only
    then: opening an existing store needs no DDL privilege)."""
    if connection.dialect.name == "postgresql" and tables:
        connection.exec_driver_sql(_PG_FUNCTION)
        connection.exec_driver_sql(_PG_PRUNE_FUNCTION)


def _make_append_only(target: sa.Table, connection: sa.Connection, **_: Any) -> None:
    for statement in append_only_ddl(target.name, connection.dialect.name):
        connection.exec_driver_sql(statement)


for _table in APPEND_ONLY_TABLES:
    event.listen(_table, "after_create", _make_append_only)
