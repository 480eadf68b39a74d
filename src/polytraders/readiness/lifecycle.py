"""A bot's lifecycle: seed 001's readiness states and seed 000's four promotion stages, two
views of the same gate evaluations.

Seed 001: "Idea only → Spec started → Parameters defined → Thresholds defined → Tests defined →
Ready to build → Built → Shadow → Limited live → General live → Deprecated." A bot advances one
state at a time, only when every critical gate of that transition is Successful; Deprecated
can be entered from any state (retiring a bot never needs evidence that it works). A bot with
no recorded promotion is in Idea only.

Seed 000 (the operator's promotion-path page): demo-wired → shadow-ready → runtime-live →
production-live, 15 gates in four stages; a stage is reached when its gates and those of every
earlier stage are Successful. The stages are derived, never recorded.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Seed 001's readiness states, in order."""

    IDEA_ONLY = "idea_only"
    SPEC_STARTED = "spec_started"
    PARAMETERS_DEFINED = "parameters_defined"
    THRESHOLDS_DEFINED = "thresholds_defined"
    TESTS_DEFINED = "tests_defined"
    READY_TO_BUILD = "ready_to_build"
    BUILT = "built"
    SHADOW = "shadow"
    LIMITED_LIVE = "limited_live"
    GENERAL_LIVE = "general_live"
    DEPRECATED = "deprecated"

    @property
    def label(self) -> str:
        """The seed's wording ("Limited live")."""
        return self.value.replace("_", " ").capitalize()

    @property
    def position(self) -> int:
        """Position in :data:`STATES` (0 = Idea only)."""
        return STATES.index(self)


STATES: tuple[State, ...] = tuple(State)
"""Every state in seed 001's order."""


class Stage(StrEnum):
    """Seed 000's four promotion stages, in order."""

    DEMO_WIRED = "demo-wired"
    SHADOW_READY = "shadow-ready"
    RUNTIME_LIVE = "runtime-live"
    PRODUCTION_LIVE = "production-live"

    @property
    def number(self) -> int:
        """1..4, as the operator's page numbers them."""
        return STAGES.index(self) + 1


STAGES: tuple[Stage, ...] = tuple(Stage)
"""Seed 000's stages in order."""


class TargetError(ValueError):
    """A ``--to`` that names neither a state nor a stage."""


def parse_target(text: str) -> State | Stage:
    """A lifecycle state (``shadow``, ``limited-live``, ``Limited live``) or a stage
    (``shadow-ready``) from its name; case, spaces, ``-`` and ``_`` are interchangeable for
    states.

    Raises:
        TargetError: neither (the message lists both vocabularies).
    """
    raw = text.strip().lower()
    for stage in STAGES:
        if raw == stage.value:
            return stage
    key = raw.replace("-", "_").replace(" ", "_")
    for state in STATES:
        if key == state.value:
            return state
    raise TargetError(
        f"unknown target {text!r}: a state ({', '.join(s.value for s in STATES)}) "
        f"or a stage ({', '.join(s.value for s in STAGES)})"
    )


def previous_state(state: State) -> State | None:
    """The state a bot must be in to enter ``state`` (None for Idea only; Deprecated has no
    single predecessor and returns None too)."""
    if state in (State.IDEA_ONLY, State.DEPRECATED):
        return None
    return STATES[state.position - 1]


def path_between(current: State, target: State) -> list[tuple[State, State]]:
    """The transitions from ``current`` to ``target``, one state at a time
    (``[(built, shadow), (shadow, limited_live)]``); ``[(current, deprecated)]`` for
    Deprecated; empty when already there.

    Raises:
        TargetError: ``target`` lies behind ``current`` (a promotion never goes back: that is
            a demotion), or ``current`` is Deprecated.
    """
    if target is current:
        return []
    if current is State.DEPRECATED:
        raise TargetError("a deprecated bot is never promoted again")
    if target is State.DEPRECATED:
        return [(current, target)]
    if target.position < current.position:
        raise TargetError(
            f"{target.label} lies behind {current.label}: a promotion never goes back "
            "(that is a demotion)"
        )
    return [(STATES[i], STATES[i + 1]) for i in range(current.position, target.position)]
