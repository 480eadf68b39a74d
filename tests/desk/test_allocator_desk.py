"""The MetaAllocator inside the desk: ALLOCATE envelopes, budgets enforced through the real
risk chain on the shipped Polymarket sample, operator commands, determinism, and no change to
desks without ``[desk.allocator]``."""

from __future__ import annotations

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.contracts.allocation import Allocation
from polytraders.contracts.envelope import Decision
from polytraders.desk.allocator import AllocatorConfig
from polytraders.desk.desk import Desk, DeskConfig
from polytraders.model.events import OperatorCommand
from polytraders.venues.paper import PaperVenue
from tests.desk.sample_desk import sample_head

STRATEGY = "strat.maker_tight"


def _run(allocator: AllocatorConfig | None, commands: tuple[str, ...] = ()) -> Desk:
    desk_file = DeskFile()
    markets, events = sample_head()
    strategies, risk, execution = desk_file.build_slots()
    desk = Desk(
        run_id="run-alloc",
        venue=PaperVenue(desk_file.venue, markets, "run-alloc"),
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=markets,
        config=DeskConfig(allocator=allocator),
        account=desk_file.account.identity(),
    )
    middle = events[len(events) // 2].ts_event_ns
    extra = [OperatorCommand(ts_event_ns=middle, command=c, operator="alice") for c in commands]
    stream = sorted([*events, *extra], key=lambda e: e.ts_event_ns)
    desk.run(stream)
    return desk


def _tiny() -> AllocatorConfig:
    return AllocatorConfig(budgets_pct={STRATEGY: 1}, reserve_pct=99, check_interval_s=60)


def test_budgets_are_enforced_through_the_desk_and_recorded() -> None:
    commands = ("allocator-freeze", "allocator-freeze", "allocator-unfreeze", "allocator-reset")
    desk = _run(_tiny(), commands)
    allocations = [e for e in desk.envelopes if e.decision is Decision.ALLOCATE]
    outputs = [e.output for e in allocations]
    assert all(isinstance(o, Allocation) for o in outputs)
    assert [e.reason_codes[0] for e in allocations] == [
        "SYS_ALLOCATOR_ALLOCATED",
        "SYS_ALLOCATOR_FROZEN",
        "SYS_ALLOCATOR_UNFROZEN",
        "SYS_ALLOCATOR_RESET",
    ]
    first = outputs[0]
    assert isinstance(first, Allocation)
    assert first.weights_ppm == {STRATEGY: 10_000} and first.reserve_ppm == 990_000
    assert [a.applied for a in desk.operator_actions] == [True, False, True, True]
    codes = desk.result().reason_codes
    assert (
        codes.get("SYS_ALLOCATOR_BUDGET_RESHAPED", 0)
        + codes.get("SYS_ALLOCATOR_BUDGET_EXCEEDED", 0)
        > 0
    )
    allocator = desk.allocator
    assert allocator is not None
    assert allocator.capital_in_use(STRATEGY, desk.state) <= allocator.budget(STRATEGY)


def test_a_run_with_an_allocator_is_deterministic_and_none_changes_nothing() -> None:
    one, two = _run(_tiny()), _run(_tiny())
    assert one.result().result_sha256() == two.result().result_sha256()
    plain = _run(None)
    assert not any(e.decision is Decision.ALLOCATE for e in plain.envelopes)
    assert DeskConfig().config_version == DeskConfig(allocator=None).config_version
    assert "allocator" not in DeskConfig().model_dump(mode="json")


def test_an_enforced_strategy_without_a_budget_is_a_build_error() -> None:
    config = AllocatorConfig(budgets_pct={"strat.other": 50}, reserve_pct=50)
    with pytest.raises(ValueError, match="without a budget"):
        _run(config)
