"""Automatic demotion (seed 001) on a simulated clock, from store evidence only.

The error-rate evidence is real: sessions of the real desk recorded as live-clock runs
(:mod:`tests.store.desk_sessions`), one 5-minute session per hour, its stale-book guard
ENFORCED and either within its decision budget (no error) or over it (quarantined: ERROR, then
fail-closed QUARANTINE envelopes). The bot is put in General live through the store's real
``append_promotion``. Alerts arrive as Alertmanager webhook payloads, findings through the
security-findings API, reconciliations through the store's ``append_reconciliation`` of a
live-venue run. Each test asserts both sides of the 24-hour line.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.node.config import LiveNodeConfig
from polytraders.readiness.demotion import (
    GOV_DEMOTED,
    HOUR_NS,
    WINDOW_NS,
    Condition,
    check,
    check_all,
    demoted_row,
    evaluate,
    rate_above_limit,
)
from polytraders.readiness.evidence import evidence_digest
from polytraders.readiness.lifecycle import State, path_between
from polytraders.readiness.promote import current_state
from polytraders.readiness.store_evidence import envelope_window
from polytraders.store import EventStore, RunRef
from polytraders.store.alerts import ingest_webhook
from polytraders.store.promotions import PromotionOutcome, append_promotion, promotions
from polytraders.store.security_findings import UNSCORED, record_finding, resolve_finding
from tests.store import desk_sessions as ds
from tests.store.conftest import pg_schema_url, store, store_url
from tests.store.factories import WallClock, reconciliation
from tests.store.test_alerts import _alert, _payload

__all__ = ["pg_schema_url", "store", "store_url"]

GUARD = "risk.stalebookguard"
OTHER = "risk.killswitch"
S = 1_000_000_000
DAY0 = ds.DAY0_NS
NOW = DAY0 + 25 * HOUR_NS
"""The monitor's clock: the window is [DAY0 + 1 h, DAY0 + 25 h), sessions run in hours 1..24."""

ENFORCED_DESK = {"seed": 5, "risk": [{"id": entry["id"]} for entry in ds.SHADOW_DESK["risk"]]}
"""The sessions' desk with every guard ENFORCED (a General-live guard is enforced)."""


def _session(store: EventStore, hour: int, *, errors: bool) -> RunRef:
    """A 5-minute live-clock session of the real desk starting 1 minute into ``hour`` (hours
    after DAY0); with ``errors`` the guard overruns its 5 ms budget (6 ms modelled) and is
    quarantined, so its decisions are ERROR and QUARANTINE envelopes."""
    start = DAY0 + hour * HOUR_NS + 60 * S
    desk = ds.desk(ENFORCED_DESK, modelled_latency_us=6_000 if errors else 0)
    return ds.record_session(
        store, desk, f"synthetic:normal?seed=3&duration_s=300&start_ns={start}"
    )


def _to_general_live(store: EventStore, bot: str = GUARD, ts_ns: int = DAY0) -> None:
    """Record the bot's promotions from Idea only to General live (real rows)."""
    for n, (src, dst) in enumerate(path_between(State.IDEA_ONLY, State.GENERAL_LIVE)):
        append_promotion(
            store,
            bot_id=bot,
            from_state=src.value,
            to_state=dst.value,
            outcome=PromotionOutcome.PROMOTED,
            reason_code="GOV_PROMOTED",
            evaluation_id=f"test-eval-{n}",
            evidence_digest="0" * 64,
            actor="lead",
            detail="",
            ts_ns=ts_ns + n,
        )


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns // S, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _holding(store: EventStore, now_ns: int, bot: str = GUARD) -> dict[Condition, int]:
    return {c.condition: c.held_ns for c in evaluate(store, bot, now_ns)}


def test_the_error_rate_threshold_is_strictly_above_one_percent() -> None:
    assert not rate_above_limit(1, 100)
    assert rate_above_limit(2, 100)
    assert rate_above_limit(101, 10_000)
    assert not rate_above_limit(0, 0)  # no decision: no rate, never "above"


def test_24_hours_of_errors_demote_a_general_live_bot_and_23_do_not(store: EventStore) -> None:
    _to_general_live(store)
    for hour in range(1, 25):
        _session(store, hour, errors=True)
    # one hour earlier the window [DAY0, DAY0 + 24 h) holds 23 hours of errors and an empty one
    early = check(store, GUARD, NOW - HOUR_NS)
    rate = next(c for c in early.conditions if c.condition is Condition.ERROR_RATE)
    assert (rate.holds, rate.held_ns) == (False, 23 * HOUR_NS)
    assert "23 of 24 above, 1 without a decision" in rate.detail
    assert early.demotion is None and current_state(store, GUARD) is State.GENERAL_LIVE

    result = check(store, GUARD, NOW)
    assert result.holding == (Condition.ERROR_RATE,)
    assert result.demotion is not None
    row = result.demotion
    assert (row.from_state, row.to_state, row.outcome, row.reason_code) == (
        "general_live",
        "limited_live",
        PromotionOutcome.DEMOTED,
        GOV_DEMOTED,
    )
    assert row.evidence_digest == evidence_digest(c.evidence for c in result.conditions)
    assert row.ts_ns == NOW and row.actor == "governance.demotion"
    assert current_state(store, GUARD) is State.LIMITED_LIVE
    assert demoted_row(store, GUARD) == row
    # the evidence is the envelopes themselves: 24 buckets, each all errors
    [audit] = [e for e in store.audit_log() if e.action == GOV_DEMOTED]
    detail = json.loads(audit.detail)
    assert (detail["holding"], detail["evidence_digest"]) == (["error_rate"], row.evidence_digest)
    # idempotent: the same episode is never demoted twice, whoever checks again
    again = check(store, GUARD, NOW + 10 * 60 * S)
    assert (again.state, again.demotion, again.conditions) == (State.LIMITED_LIVE, None, ())
    assert check_all(store, NOW + HOUR_NS) == []
    demoted = [r for r in promotions(store, bot_id=GUARD) if r.outcome is PromotionOutcome.DEMOTED]
    assert demoted == [row]


def test_one_hour_under_one_percent_resets_the_count(tmp_path: Path) -> None:
    with EventStore.open(tmp_path / "s.sqlite") as store:
        _to_general_live(store)
        for hour in range(1, 25):
            _session(store, hour, errors=hour != 13)  # hour 13: a clean session, 0 errors
        conditions = {c.condition: c for c in evaluate(store, GUARD, NOW)}
        rate = conditions[Condition.ERROR_RATE]
        assert (rate.holds, rate.held_ns) == (False, 11 * HOUR_NS)  # hours 14..24 after the dip
        assert "23 of 24 above, 0 without a decision" in rate.detail
        assert check(store, GUARD, NOW).demotion is None
        # thirteen more hours of errors complete a new run of 24 (hours 14..37)
        for hour in range(25, 38):
            _session(store, hour, errors=True)
        assert check(store, GUARD, NOW + 12 * HOUR_NS).demotion is None
        later = check(store, GUARD, NOW + 13 * HOUR_NS)
        assert later.holding == (Condition.ERROR_RATE,) and later.demotion is not None


def test_backtests_and_other_bots_errors_do_not_count(tmp_path: Path, store_url: str) -> None:
    from polytraders.backtest.engine import run_desk

    with EventStore.open(store_url) as store:
        _to_general_live(store)
    for hour in range(1, 25):  # the same erring desk, on a simulated clock: not live evidence
        start = DAY0 + hour * HOUR_NS + 60 * S
        run_desk(
            data=f"synthetic:normal?seed=3&duration_s=300&start_ns={start}",
            desk_file=ds.desk(ENFORCED_DESK, modelled_latency_us=6_000),
            store_url=store_url,
            fill_bounds=False,
        )
    with EventStore.open(store_url, create=False) as store:
        recorded = envelope_window(store, GUARD, store.runs(), since_ns=0, until_ns=2**62)
        assert recorded.errors == recorded.decisions > 24  # all errors, but on a simulated clock
        assert _holding(store, NOW)[Condition.ERROR_RATE] == 0
        assert _holding(store, NOW, OTHER)[Condition.ERROR_RATE] == 0
        assert check(store, GUARD, NOW).demotion is None


def test_a_p0_alert_firing_24_hours_demotes(store: EventStore) -> None:
    _to_general_live(store)
    _to_general_live(store, OTHER)
    started = NOW - WINDOW_NS
    firing = _alert("firing", _rfc3339(started), bot_id=GUARD, fp="p0-guard")
    desk_wide = _alert("firing", _rfc3339(started - HOUR_NS), fp="p0-desk")
    desk_wide["labels"].pop("bot_id")  # no bot label: the desk's, not a bot's
    ingest_webhook(store, _payload(firing, desk_wide), ts_ns=started)
    held = _holding(store, NOW - S)
    assert held[Condition.P0_ALERT] == WINDOW_NS - S  # 1 s short of 24 h
    assert check(store, GUARD, NOW - S).demotion is None
    results = {r.bot_id: r for r in check_all(store, NOW)}
    assert results[GUARD].holding == (Condition.P0_ALERT,)
    assert results[GUARD].demotion is not None
    assert results[OTHER].holding == () and results[OTHER].demotion is None  # desk-wide alert
    checked = [e for e in store.audit_log() if e.action == "GOV_DEMOTION_CHECKED"]
    assert json.loads(checked[-1].detail)["demoted"] == [GUARD]


def test_a_p0_alert_resolved_inside_the_window_does_not_demote(store: EventStore) -> None:
    _to_general_live(store)
    started = NOW - 30 * HOUR_NS
    ingest_webhook(store, _payload(_alert("firing", _rfc3339(started), bot_id=GUARD)))
    resolved = _alert("resolved", _rfc3339(started), _rfc3339(NOW - 2 * HOUR_NS), bot_id=GUARD)
    ingest_webhook(store, _payload(resolved))
    assert _holding(store, NOW)[Condition.P0_ALERT] == 0
    assert check(store, GUARD, NOW).demotion is None


@pytest.mark.parametrize(
    ("score", "bot", "demotes"),
    [
        (75, GUARD, True),
        (69, GUARD, False),
        (70, GUARD, False),  # "above 7.0": 7.0 itself is not
        (UNSCORED, GUARD, True),  # no score given: counted as above 7.0 (fail closed)
        (75, "desk", True),  # a desk-wide finding applies to every bot
        (98, OTHER, False),  # another bot's finding
    ],
)
def test_a_finding_above_cvss_7_open_24_hours_demotes(
    tmp_path: Path, score: int, bot: str, demotes: bool
) -> None:
    with EventStore.open(tmp_path / "s.sqlite") as store:
        _to_general_live(store)
        record_finding(
            store,
            bot_id=bot,
            vulnerability_id="GHSA-test-0001",
            cvss_score_tenths=score,
            operator="ana",
            known_bots={GUARD, OTHER},
            package="urllib3",
            version="1.26.4",
            ts_ns=NOW - WINDOW_NS,
        )
        assert check(store, GUARD, NOW - 1).demotion is None  # 1 ns short of 24 h
        result = check(store, GUARD, NOW)
        assert (result.demotion is not None) is demotes
        assert (Condition.SECURITY_FINDING in result.holding) is demotes


def test_a_finding_resolved_or_rescored_within_the_window_does_not_demote(
    tmp_path: Path,
) -> None:
    with EventStore.open(tmp_path / "s.sqlite") as store:
        _to_general_live(store)
        kwargs = {"operator": "ana", "known_bots": {GUARD}, "package": "urllib3"}
        fixed = record_finding(
            store,
            bot_id=GUARD,
            vulnerability_id="CVE-1",
            cvss_score_tenths=90,
            ts_ns=NOW - 2 * WINDOW_NS,
            **kwargs,  # type: ignore[arg-type]
        )
        resolve_finding(
            store, fixed.finding_id, operator="bo", resolution="upgraded", ts_ns=NOW - HOUR_NS
        )
        record_finding(
            store,
            bot_id=GUARD,
            vulnerability_id="CVE-2",
            cvss_score_tenths=UNSCORED,
            ts_ns=NOW - 2 * WINDOW_NS,
            **kwargs,  # type: ignore[arg-type]
        )
        record_finding(  # assessed during the window: 5.0
            store,
            bot_id=GUARD,
            vulnerability_id="CVE-2",
            cvss_score_tenths=50,
            ts_ns=NOW - 3 * HOUR_NS,
            **kwargs,  # type: ignore[arg-type]
        )
        assert _holding(store, NOW)[Condition.SECURITY_FINDING] == 0
        assert check(store, GUARD, NOW).demotion is None


def test_critical_reconciliation_drift_standing_24_hours_demotes(tmp_path: Path) -> None:
    clock = WallClock(DAY0)
    node = LiveNodeConfig(desk=DeskFile.from_mapping(ENFORCED_DESK)).canonical()
    levels = {1: "ok", 2: "critical", 12: "critical", 26: "critical"}

    def reconciliations(ref: RunRef) -> None:
        for hour, level in levels.items():
            clock.now_ns = DAY0 + hour * HOUR_NS
            reconciliation(store, str(ref), ts_ns=clock.now_ns, level=level)

    with EventStore.open(tmp_path / "s.sqlite", wall_clock_ns=clock) as store:
        _to_general_live(store)
        ds.record_session(
            store,
            ds.desk(ENFORCED_DESK),
            f"synthetic:normal?seed=3&duration_s=300&start_ns={DAY0 + 60 * S}",
            config=node,
            before_end=reconciliations,
        )
        # critical since hour 2: at hour 26 it has stood for 24 h; one second earlier not yet
        assert _holding(store, DAY0 + 26 * HOUR_NS - S)[Condition.RECONCILIATION_DRIFT] == (
            24 * HOUR_NS - S
        )
        assert check(store, GUARD, DAY0 + 26 * HOUR_NS - S).demotion is None
        result = check(store, GUARD, DAY0 + 26 * HOUR_NS)
        assert result.holding == (Condition.RECONCILIATION_DRIFT,)
        assert result.demotion is not None


def test_drift_followed_by_an_ok_reconciliation_does_not_demote(tmp_path: Path) -> None:
    clock = WallClock(DAY0)
    node = LiveNodeConfig(desk=DeskFile.from_mapping(ENFORCED_DESK)).canonical()

    def reconciliations(ref: RunRef) -> None:
        for hour, level in ((1, "critical"), (20, "ok"), (21, "critical")):
            clock.now_ns = DAY0 + hour * HOUR_NS
            reconciliation(store, str(ref), ts_ns=clock.now_ns, level=level)

    with EventStore.open(tmp_path / "s.sqlite", wall_clock_ns=clock) as store:
        _to_general_live(store)
        ds.record_session(
            store,
            ds.desk(ENFORCED_DESK),
            f"synthetic:normal?seed=3&duration_s=300&start_ns={DAY0 + 60 * S}",
            config=node,
            before_end=reconciliations,
        )
        now = DAY0 + 30 * HOUR_NS
        assert _holding(store, now)[Condition.RECONCILIATION_DRIFT] == 9 * HOUR_NS
        assert check(store, GUARD, now).demotion is None


def test_a_bot_not_in_general_live_is_never_demoted(store: EventStore) -> None:
    record_finding(
        store,
        bot_id="desk",
        vulnerability_id="CVE-9",
        cvss_score_tenths=100,
        operator="ana",
        known_bots=set(),
        ts_ns=NOW - 2 * WINDOW_NS,
    )
    result = check(store, GUARD, NOW)  # never promoted: Idea only
    assert (result.state, result.conditions, result.demotion) == (State.IDEA_ONLY, (), None)
    assert [c.condition for c in evaluate(store, GUARD, NOW) if c.holds] == [
        Condition.SECURITY_FINDING
    ]
    assert promotions(store, bot_id=GUARD) == []


# ---------------------------------------------------------------- no way to turn it off


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("demotion = false\n", "demotion"),
        ("[demotion]\nenabled = false\n", "demotion"),
        ("auto_demotion = false\n", "auto_demotion"),
        ("[desk]\ndemotion_enabled = false\n", "desk.demotion_enabled"),
        (
            '[[risk]]\nid = "risk.killswitch"\n[risk.config]\nDemote = false\n',
            "risk.0.config.Demote",
        ),
    ],
)
def test_a_desk_or_node_file_that_tries_to_disable_demotion_is_refused(
    tmp_path: Path, text: str, key: str
) -> None:
    from polytraders.backtest.desk_file import DeskFileError
    from polytraders.node.config import NodeConfigError

    desk_file = tmp_path / "desk.toml"
    desk_file.write_text(text)
    with pytest.raises(DeskFileError) as refused:
        DeskFile.load(desk_file)
    message = refused.value.one_line()
    assert "\n" not in message
    assert message == (
        f"{desk_file}: invalid desk file: {key}: automatic demotion cannot be configured or "
        "turned off (seed 001: demotion is automatic and on-call cannot disable it)"
    )
    node_file = tmp_path / "node.toml"
    node_file.write_text(text.replace("[desk]", "[worker]"))  # also at the node's top level
    with pytest.raises(NodeConfigError, match="automatic demotion cannot be configured"):
        LiveNodeConfig.load(node_file)
    nested = tmp_path / "nested.toml"
    nested.write_text(f'desk = "{desk_file.name}"\n')  # the node's desk file refuses it too
    with pytest.raises(NodeConfigError, match=f"{key}: automatic demotion cannot be configured"):
        LiveNodeConfig.load(nested)


def test_the_cli_refuses_such_a_desk_file_with_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from polytraders.cli import app

    desk_file = tmp_path / "desk.toml"
    desk_file.write_text("[demotion]\nenabled = false\n")
    # refused before anything is contacted (no market is looked up)
    result = CliRunner().invoke(
        app, ["live", "--paper", "--markets", "0xabc", "--desk", str(desk_file)]
    )
    assert result.exit_code == 2
    [line] = [x for x in result.output.splitlines() if x.strip()]
    assert (
        line.startswith("error: ") and "demotion: automatic demotion cannot be configured" in line
    )


# ---------------------------------------------------------------- a running session


def _paper_session(store: EventStore, clock_ns: int) -> tuple[object, object]:
    """A paper desk (the default desk file's bots) in a live session on a simulated clock,
    recorded in ``store``; returns (session, clock)."""
    from polytraders.commands.live import LiveRecording, LiveSession
    from polytraders.desk.clock import SimClock
    from polytraders.desk.desk import Desk
    from polytraders.venues.paper import PaperVenue, PaperVenueConfig
    from tests.commands.test_live_reconciliation import _NoFeed
    from tests.venues.paper.support import RUN, binary_market

    market = binary_market()
    venue = PaperVenue(PaperVenueConfig(), [market], RUN)
    strategies, risk, execution = DeskFile().build_slots()
    clock = SimClock(clock_ns)
    started = store.start_run(
        run_id=RUN,
        started_ns=clock_ns,
        seed=0,
        desk_config={},
        desk_config_version="cfg",
        data_source=ds.WS_URL,
        synthetic=False,
    )
    recording = LiveRecording(store=store, run=started.ref, config={}, config_version="cfg", seed=0)
    desk = Desk(
        run_id=RUN,
        venue=venue,
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=[market],
        clock=clock,
        sink=recording.sink,
    )
    return LiveSession(desk, venue, _NoFeed(), recording=recording), clock  # type: ignore[arg-type]


def test_a_running_session_drops_the_bot_it_demotes(tmp_path: Path) -> None:
    from polytraders.contracts.modes import Mode
    from polytraders.model.events import BotModeChanged, OperatorCommand, TradingState

    strategy = "strat.maker_tight"
    with EventStore.open(tmp_path / "s.sqlite") as store:
        _to_general_live(store, strategy, ts_ns=DAY0 - 2 * WINDOW_NS)
        p0 = _alert("firing", _rfc3339(NOW - 23 * HOUR_NS), bot_id=strategy, fp="p0-strat")
        ingest_webhook(store, _payload(p0), ts_ns=NOW - 23 * HOUR_NS)
        session, clock = _paper_session(store, NOW)
        desk = session.desk  # type: ignore[attr-defined]
        slot = desk.strategies.slots[0]
        session.step()  # type: ignore[attr-defined]
        assert slot.mode is Mode.ENFORCED  # 23 h of P0: not yet
        clock.advance_to(NOW + HOUR_NS - 1)  # type: ignore[attr-defined]
        session.step()  # type: ignore[attr-defined]
        assert slot.mode is Mode.ENFORCED and current_state(store, strategy) is State.GENERAL_LIVE
        clock.advance_to(NOW + HOUR_NS + 5 * 60 * S)  # type: ignore[attr-defined]
        session.step()  # type: ignore[attr-defined]  # not due: 10 minutes since the last check
        assert slot.mode is Mode.ENFORCED
        clock.advance_to(NOW + HOUR_NS + 10 * 60 * S)  # type: ignore[attr-defined]
        session.step()  # type: ignore[attr-defined]
        assert current_state(store, strategy) is State.LIMITED_LIVE
        assert slot.mode is Mode.SHADOW
        assert desk.state.trading_state is TradingState.ACTIVE
        [event] = [e for e in desk.result().desk_events if isinstance(e, BotModeChanged)]
        assert (event.bot_id, event.reason_code, event.ts_event_ns) == (
            strategy,
            "GOV_DEMOTION_APPLIED",
            NOW + HOUR_NS + 10 * 60 * S,
        )
        [applied] = [e for e in store.audit_log() if e.action == "GOV_DEMOTION_APPLIED"]
        assert applied.run_id == desk.run_id
        assert json.loads(applied.detail)["new_mode"] == "SHADOW"
        refused = desk.operator(
            OperatorCommand(
                ts_event_ns=NOW,
                command="set_mode",
                operator="on-call",
                args={"bot_id": strategy, "mode": "ENFORCED"},
            )
        )
        assert not refused.applied and "was demoted" in refused.detail
        session.close(cancel_open_orders=False)  # type: ignore[attr-defined]


def test_a_session_starting_with_a_demoted_guard_drops_it_before_deciding(tmp_path: Path) -> None:
    from polytraders.contracts.modes import Mode
    from polytraders.model.events import TradingState

    guard = "risk.exposureguard"
    with EventStore.open(tmp_path / "s.sqlite") as store:
        _to_general_live(store, guard)
        record_finding(
            store,
            bot_id="desk",
            vulnerability_id="PYSEC-2021-108",
            cvss_score_tenths=UNSCORED,
            operator="ci",
            known_bots=set(),
            ts_ns=NOW - WINDOW_NS,
        )
        [result] = check_all(store, NOW)  # e.g. a cron job's `polytraders demotion check`
        assert result.holding == (Condition.SECURITY_FINDING,) and result.demotion is not None
        session, _clock = _paper_session(store, NOW + HOUR_NS)
        desk = session.desk  # type: ignore[attr-defined]
        [slot] = [s for s in desk.risk.slots if s.bot_id == guard]
        assert slot.mode is Mode.ENFORCED
        session.step()  # type: ignore[attr-defined]
        assert slot.mode is Mode.SHADOW
        assert desk.state.trading_state is TradingState.REDUCING  # the guard's loss fails closed
        others = [s.mode for s in desk.risk.slots if s.bot_id != guard]
        assert set(others) == {Mode.ENFORCED}  # never promoted: untouched
        session.close(cancel_open_orders=False)  # type: ignore[attr-defined]
