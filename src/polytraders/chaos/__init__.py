"""The chaos suite: five standard failure-injection scenarios run against the CLOB v2 simulator
with the desk under test, each judged by written pass criteria and recorded in the event store
(seed 001, Shadow → Limited live: "Failure-injection recipes pass — all 5 standard scenarios
pass"; ``docs/chaos.md``).

- :mod:`~polytraders.chaos.feed_stale_gap` — the market-data feed goes stale, then gaps;
- :mod:`~polytraders.chaos.engine_restart` — a 425 engine restart, then a post-only window;
- :mod:`~polytraders.chaos.heartbeat_lapse` — the order heartbeat lapses, the venue cancels all;
- :mod:`~polytraders.chaos.ws_drop` — the websockets drop with orders open, a fill meanwhile;
- :mod:`~polytraders.chaos.crash_restart` — the desk is killed mid-order and restarted.

:func:`run_scenario` / :func:`run_suite` run them and record each verdict
(:mod:`polytraders.store.chaos_runs`); ``polytraders chaos run`` is the command.
"""

from polytraders.chaos.suite import (
    SCENARIO_NAMES,
    SCENARIOS,
    Scenario,
    code_commit,
    new_suite_id,
    run_scenario,
    run_suite,
)

__all__ = [
    "SCENARIOS",
    "SCENARIO_NAMES",
    "Scenario",
    "code_commit",
    "new_suite_id",
    "run_scenario",
    "run_suite",
]
