"""Prometheus metrics for bots and the desk (DESIGN.md "ops/"; the definition of done's Impl
item 14: ``decisions_total``, ``decision_latency_ms``, ``heartbeat_age_ms``, ``errors_total``,
``config_version``, ``mode``).

:class:`DeskMetrics` is an envelope sink: the desk hands it every ``ReportEnvelope`` it records
(``record``), so per-bot metrics come from the same evidence as the store, never from a second
bookkeeping path. Desk-wide gauges (events, orders, fills, PnL, equity, trading state, feed lag)
are set by the runner through :meth:`DeskMetrics.update_desk` (or from running totals,
:meth:`DeskMetrics.update_desk_totals`), the desk's controls, feed age and store failures through
:meth:`DeskMetrics.update_controls`, execution quality through :meth:`DeskMetrics.observe_fill`.
A live session serves the venue's metrics beside these, in the same registry
(:mod:`polytraders.ops.venue_metrics`), and ``/healthz`` / ``/readyz`` on the same port
(:mod:`polytraders.ops.health`). Each instance owns its own ``CollectorRegistry`` so runs and
tests never share counters.

**Budgets.** Given the bots' :class:`~polytraders.contracts.budget.RuntimeBudget` by bot id, the
decision-latency histogram has a bucket edge exactly at every declared p95 and p99
(:func:`latency_buckets_ms`), so ``histogram_quantile`` over it says exactly whether a quantile
is inside the SLO, and the budgets are exported (``polytraders_bot_latency_slo_ms``,
``polytraders_bot_error_budget_ratio``) for the alerting rules of ``ops/prometheus/``.

Metric names follow Prometheus conventions with the unit as suffix; money gauges are in pUSD
(float, display only: the exact figures live in the store and the result file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    generate_latest,
)

from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import Mode
from polytraders.model.events import TradingState
from polytraders.model.money import MICROS
from polytraders.ops.health import HealthChecks, MetricsServer, health_app

BASE_LATENCY_BUCKETS_MS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
"""Decision-latency bucket edges (ms) before the budgets' SLO edges are added."""
_BPS_BUCKETS = (-100, -50, -25, -10, -5, -2, 0, 2, 5, 10, 25, 50, 100)
_ERROR_DECISIONS = frozenset({Decision.ERROR, Decision.QUARANTINE})
_QUARANTINED = "SYS_BOT_QUARANTINED"


def latency_buckets_ms(budgets: Iterable[RuntimeBudget]) -> tuple[float, ...]:
    """:data:`BASE_LATENCY_BUCKETS_MS` with an edge at every budget's ``decision_p95_us`` and
    ``decision_p99_us`` (µs → ms, exact for whole µs), sorted, without duplicates."""
    edges = {float(edge) for edge in BASE_LATENCY_BUCKETS_MS}
    for budget in budgets:
        edges.update({budget.decision_p95_us / 1_000, budget.decision_p99_us / 1_000})
    return tuple(sorted(edges))


class DeskMetrics:
    """Per-bot and per-desk metrics in a private registry.

    Per bot (label ``bot_id``): ``polytraders_bot_decisions_total{decision}``,
    ``polytraders_bot_decision_latency_ms`` (histogram, from ``envelope.latency_ns``),
    ``polytraders_bot_heartbeat_age_ms`` (desk clock − last decision),
    ``polytraders_bot_errors_total`` (0 from the bot's first decision: an absent series
    would read as "no data", not "no errors"),
    ``polytraders_bot_config_version{config_version}`` (1 for the current version) and
    ``polytraders_bot_mode`` (state set over :class:`Mode`: the envelope's mode, and QUARANTINE
    from the ERROR envelope that quarantined the bot, so a quarantined strategy — which records
    nothing further — shows QUARANTINE at once).

    Per desk: ``polytraders_desk_events_total``, ``polytraders_desk_orders_total``,
    ``polytraders_desk_fills_total{liquidity}``, ``polytraders_desk_pnl_pusd``,
    ``polytraders_desk_equity_pusd``, ``polytraders_desk_trading_state``,
    ``polytraders_desk_feed_lag_ms``; from :meth:`update_controls`:
    ``polytraders_desk_kill_switch_tripped`` (0/1), ``polytraders_desk_trading_reason{reason_code,
    source}`` (1 for the reason of the current trading state, 0 for earlier ones),
    ``polytraders_desk_feed_age_ms`` (desk clock − receive time of the last market event) and
    ``polytraders_store_write_failures_total`` (the event store's failed writes); from
    :meth:`observe_fill`: ``polytraders_desk_fill_slippage_bps{liquidity}`` and
    ``polytraders_desk_adverse_selection_bps{liquidity}`` (histograms).

    Per budgeted bot (``budgets``): ``polytraders_bot_latency_slo_ms{bot_id,quantile}``
    (``quantile`` ``0.95`` / ``0.99``) and ``polytraders_bot_error_budget_ratio{bot_id}``
    (``error_rate_max_ppm`` / 10⁶).

    Args:
        budgets: runtime budgets by bot id (the latency edges and the exported budgets).
    """

    def __init__(self, budgets: Mapping[str, RuntimeBudget] | None = None) -> None:
        budgets = dict(budgets or {})
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter(
            "polytraders_bot_decisions", "Bot decisions", ["bot_id", "decision"], registry=r
        )
        self.latency = Histogram(
            "polytraders_bot_decision_latency_ms",
            "Bot decision latency (ms)",
            ["bot_id"],
            buckets=latency_buckets_ms(budgets.values()),
            registry=r,
        )
        self.latency_slo = Gauge(
            "polytraders_bot_latency_slo_ms",
            "Declared decision-latency budget (ms) at a quantile (RUNTIME_BUDGET)",
            ["bot_id", "quantile"],
            registry=r,
        )
        self.error_budget = Gauge(
            "polytraders_bot_error_budget_ratio",
            "Declared error budget: errors per decision allowed (RUNTIME_BUDGET)",
            ["bot_id"],
            registry=r,
        )
        for bot_id, budget in sorted(budgets.items()):
            self.latency_slo.labels(bot_id, "0.95").set(budget.decision_p95_us / 1_000)
            self.latency_slo.labels(bot_id, "0.99").set(budget.decision_p99_us / 1_000)
            self.error_budget.labels(bot_id).set(budget.error_rate_max_ppm / 1_000_000)
        self.heartbeat_age = Gauge(
            "polytraders_bot_heartbeat_age_ms",
            "Desk-clock time since the bot's last decision (ms)",
            ["bot_id"],
            registry=r,
        )
        self.errors = Counter(
            "polytraders_bot_errors", "Bot errors and quarantines", ["bot_id"], registry=r
        )
        self.config_version = Gauge(
            "polytraders_bot_config_version",
            "1 for the bot's current config version",
            ["bot_id", "config_version"],
            registry=r,
        )
        self.mode = Enum(
            "polytraders_bot_mode",
            "Bot mode",
            ["bot_id"],
            states=[m.value for m in Mode],
            registry=r,
        )
        self.events = Counter("polytraders_desk_events", "Events processed", registry=r)
        self.orders = Counter("polytraders_desk_orders", "Venue orders submitted", registry=r)
        self.fills = Counter("polytraders_desk_fills", "Fills", ["liquidity"], registry=r)
        self.pnl = Gauge("polytraders_desk_pnl_pusd", "Desk PnL (pUSD)", registry=r)
        self.equity = Gauge("polytraders_desk_equity_pusd", "Desk equity (pUSD)", registry=r)
        self.trading_state = Enum(
            "polytraders_desk_trading_state",
            "Desk trading state",
            states=[s.value for s in TradingState],
            registry=r,
        )
        self.feed_lag = Gauge(
            "polytraders_desk_feed_lag_ms",
            "Receive time minus event time of the last market event (ms)",
            registry=r,
        )
        self.kill_switch = Gauge(
            "polytraders_desk_kill_switch_tripped", "1 while the kill switch is tripped", registry=r
        )
        self.trading_reason = Gauge(
            "polytraders_desk_trading_reason",
            "1 for the reason code and source of the current trading state",
            ["reason_code", "source"],
            registry=r,
        )
        self.feed_age = Gauge(
            "polytraders_desk_feed_age_ms",
            "Desk clock minus receive time of the last market event (ms; NaN before the first)",
            registry=r,
        )
        self.feed_age.set(float("nan"))
        self.store_write_failures = Counter(
            "polytraders_store_write_failures",
            "Event-store writes that failed (rolled back)",
            registry=r,
        )
        self.store_write_failures.inc(0)
        self.slippage = Histogram(
            "polytraders_desk_fill_slippage_bps",
            "Fill price against the mid when the fill was seen, bps (> 0: paid more than mid)",
            ["liquidity"],
            buckets=_BPS_BUCKETS,
            registry=r,
        )
        self.adverse = Histogram(
            "polytraders_desk_adverse_selection_bps",
            "Mid move against a fill over the markout horizon, bps of the fill price",
            ["liquidity"],
            buckets=_BPS_BUCKETS,
            registry=r,
        )
        self.health = HealthChecks()
        """The readiness checks ``/readyz`` runs (the live session registers them)."""
        self._reason_seen: tuple[str, str] | None = None
        self._store_failures = 0
        self._totals = (0, 0, 0, 0)  # events, orders, maker fills, taker fills counted
        self._last_decision_ns: dict[str, int] = {}
        self._config_seen: dict[str, str] = {}
        self._mode_seen: dict[str, Mode] = {}

    # ------------------------------------------------------------- envelope sink
    def record(self, envelope: ReportEnvelope) -> None:
        """Count one envelope into the per-bot metrics."""
        bot = envelope.bot_id
        self.decisions.labels(bot, envelope.decision.value).inc()
        self.latency.labels(bot).observe(envelope.latency_ns / 1e6)
        errors = self.errors.labels(bot)  # exported at 0 from the bot's first decision on
        if envelope.decision in _ERROR_DECISIONS:
            errors.inc()
        self._last_decision_ns[bot] = envelope.ts_decided_ns
        if self._config_seen.get(bot) != envelope.config_version:
            previous = self._config_seen.get(bot)
            if previous is not None:
                self.config_version.labels(bot, previous).set(0)
            self.config_version.labels(bot, envelope.config_version).set(1)
            self._config_seen[bot] = envelope.config_version
        mode = envelope.mode
        if envelope.decision is Decision.ERROR and _QUARANTINED in envelope.reason_codes:
            mode = Mode.QUARANTINE
        if self._mode_seen.get(bot) is not mode:
            self.mode.labels(bot).state(mode.value)
            self._mode_seen[bot] = mode

    def flush(self) -> None:
        """Nothing is buffered (sink protocol)."""

    # ------------------------------------------------------------- desk gauges
    def update_desk(
        self,
        *,
        now_ns: int,
        events: int = 0,
        orders: int = 0,
        maker_fills: int = 0,
        taker_fills: int = 0,
        pnl_micros: int | None = None,
        equity_micros: int | None = None,
        trading_state: TradingState | None = None,
        feed_lag_ns: int | None = None,
    ) -> None:
        """Add counts since the last call and set the desk gauges; refresh bot heartbeat ages.

        Money arguments are exact micro-pUSD; the gauges show pUSD.
        """
        if events:
            self.events.inc(events)
        if orders:
            self.orders.inc(orders)
        if maker_fills:
            self.fills.labels("MAKER").inc(maker_fills)
        if taker_fills:
            self.fills.labels("TAKER").inc(taker_fills)
        if pnl_micros is not None:
            self.pnl.set(pnl_micros / MICROS)
        if equity_micros is not None:
            self.equity.set(equity_micros / MICROS)
        if trading_state is not None:
            self.trading_state.state(trading_state.value)
        if feed_lag_ns is not None:
            self.feed_lag.set(feed_lag_ns / 1e6)
        for bot, last_ns in self._last_decision_ns.items():
            self.heartbeat_age.labels(bot).set(max(now_ns - last_ns, 0) / 1e6)

    def update_desk_totals(
        self,
        *,
        now_ns: int,
        events: int,
        orders: int,
        maker_fills: int,
        taker_fills: int,
        pnl_micros: int,
        equity_micros: int,
        trading_state: TradingState,
        feed_lag_ns: int | None = None,
    ) -> None:
        """:meth:`update_desk` from the run's totals so far (events, orders submitted, maker and
        taker fills): each counter advances by what its total grew beyond the highest total
        counted before (a total that went down, e.g. a fill taken back, adds nothing until it
        exceeds that again)."""
        totals = (events, orders, maker_fills, taker_fills)
        added = [max(now - then, 0) for now, then in zip(totals, self._totals, strict=True)]
        self._totals = (
            self._totals[0] + added[0],
            self._totals[1] + added[1],
            self._totals[2] + added[2],
            self._totals[3] + added[3],
        )
        self.update_desk(
            now_ns=now_ns,
            events=added[0],
            orders=added[1],
            maker_fills=added[2],
            taker_fills=added[3],
            pnl_micros=pnl_micros,
            equity_micros=equity_micros,
            trading_state=trading_state,
            feed_lag_ns=feed_lag_ns,
        )

    def update_controls(
        self,
        *,
        now_ns: int,
        kill_switch_tripped: bool,
        reason_code: str,
        source: str,
        last_feed_event_ns: int,
        store_write_failures: int,
    ) -> None:
        """Set the kill-switch and trading-reason gauges, the feed age (none while
        ``last_feed_event_ns`` is 0) and advance the store-failure counter to the store's
        running total ``store_write_failures``."""
        self.kill_switch.set(1 if kill_switch_tripped else 0)
        reason = (reason_code, source)
        if reason != self._reason_seen:
            if self._reason_seen is not None:
                self.trading_reason.labels(*self._reason_seen).set(0)
            self.trading_reason.labels(*reason).set(1)
            self._reason_seen = reason
        if last_feed_event_ns:
            self.feed_age.set(max(now_ns - last_feed_event_ns, 0) / 1e6)
        if store_write_failures > self._store_failures:
            self.store_write_failures.inc(store_write_failures - self._store_failures)
            self._store_failures = store_write_failures

    def observe_fill(
        self, *, liquidity: str, slippage_bps: float | None, adverse_bps: float | None
    ) -> None:
        """One fill's slippage against the mid and (once its horizon has passed) the mid's
        move against it, in bps (None: not measured, e.g. a one-sided book)."""
        if slippage_bps is not None:
            self.slippage.labels(liquidity).observe(slippage_bps)
        if adverse_bps is not None:
            self.adverse.labels(liquidity).observe(adverse_bps)

    # ------------------------------------------------------------- exposition
    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve ``/metrics``, ``/healthz`` and ``/readyz`` (the checks of :attr:`health`) on
        ``addr:port`` from a daemon thread (loopback by default; port 0 picks a free one).

        Raises:
            OSError: the port cannot be bound.
        """
        return MetricsServer(health_app(self.registry, self.health), port, addr)
