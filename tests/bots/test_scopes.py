"""Every library bot declares what its decisions depend on, and the declarations agree with
what the bot may do to the desk."""

from __future__ import annotations

from polytraders.bots.registry import BOTS
from polytraders.bots.scopes import DECLARATIONS, Scope, declaration


def test_every_library_bot_is_declared() -> None:
    assert set(DECLARATIONS) == set(BOTS)
    assert all(declaration(cls) is DECLARATIONS[bot_id] for bot_id, cls in BOTS.items())


def test_a_bot_of_market_scope_neither_changes_the_desk_nor_watches_it() -> None:
    for bot_id, declared in DECLARATIONS.items():
        cls = BOTS[bot_id]
        if declared.scope is Scope.MARKET:
            # REDUCE, HALT and KILL_SWITCH act on the whole desk; a monitor step reads it
            assert not cls.capabilities, bot_id
            assert not callable(getattr(cls, "monitor", None)), bot_id


def test_a_class_that_is_not_the_library_bot_of_its_id_is_undeclared() -> None:
    class Lookalike(BOTS["strat.maker_tight"]):  # type: ignore[misc]
        pass

    assert declaration(Lookalike) is None
    assert declaration(object) is None
