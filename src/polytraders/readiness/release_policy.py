"""What a release allows the live node to run, and the node's start-up check of it.

Seed 001's states say how far a bot's decisions may reach: Shadow runs on real inputs,
recorded and never applied; Limited live and General live trade real money. The live node
enforces that per bot, from the bot's current release (its last accepted manifest, re-verified
at start-up: :func:`polytraders.readiness.release_check.current_release`) and its lifecycle
state (:func:`polytraders.readiness.promote.current_state`):

==================  =====================================  ==================================
node mode           bot SHADOW / ADVISORY                  bot ENFORCED
==================  =====================================  ==================================
``--paper``         no release needed                      no release needed
``--shadow``        no release needed                      no release needed
``--live``          a valid release to Shadow or later,    a valid release to Limited live or
                    and the bot promoted to Shadow         later, and the bot promoted there
==================  =====================================  ==================================

``--paper`` and ``--shadow`` send nothing to a venue (the paper venue fills against the live
book): that is where a Built bot gathers the evidence that takes it to Shadow, so they need no
release; their check is still recorded, so a session shows which of its bots could go live. A
STUB bot does not run and needs nothing. Backtests need nothing. "Limited" is the state's
name: this release attaches no extra limit of its own to it (the desk file's risk guards set
the limits).

A release is valid for the bot exactly as it will run: its signatures (threshold of distinct
approvers of the current signer list), expiry, evidence bundle, code digest and config digest
are checked again at start-up; any failure is a refusal naming the bot and the GOV_ code.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

import msgspec

from polytraders.contracts.modes import Mode
from polytraders.readiness.governance.errors import GovernanceError
from polytraders.readiness.lifecycle import State
from polytraders.readiness.promote import current_state
from polytraders.readiness.release_check import current_release
from polytraders.readiness.release_subjects import ReleaseSubjects
from polytraders.store import EventStore

RELEASES_CHECKED = "GOV_NODE_RELEASES_CHECKED"
"""The audit action of every start-up check (its detail lists each bot's verdict)."""


class NodeMode(StrEnum):
    """How the live node trades: ``paper`` and ``shadow`` send nothing to a venue."""

    PAPER = "paper"
    SHADOW = "shadow"
    LIVE = "live"


def required_state(node_mode: NodeMode, bot_mode: Mode) -> State | None:
    """The lifecycle state a bot must have reached (by release and by promotion) to run in
    ``bot_mode`` on a node in ``node_mode``; None when nothing is required (module table)."""
    if node_mode is not NodeMode.LIVE or not bot_mode.runs:
        return None
    return State.LIMITED_LIVE if bot_mode is Mode.ENFORCED else State.SHADOW


class BotReleaseCheck(msgspec.Struct, frozen=True, kw_only=True):
    """One bot's verdict at start-up.

    Attributes:
        bot_id, mode: the bot and the mode the desk runs it in.
        required: the state required ("" when none).
        allowed: True when the node may run the bot in that mode.
        code: the GOV_ code of the verdict (``GOV_RELEASE_SIGNED`` when a valid release
            allows it; the refusal's code otherwise; "" when nothing is required and no
            release was found).
        detail: one line: the release used, or what is missing or invalid.
    """

    bot_id: str
    mode: str
    required: str
    allowed: bool
    code: str
    detail: str


def check_bot(
    subjects: ReleaseSubjects,
    *,
    node_mode: NodeMode,
    store: EventStore,
    gov_dir: Path,
    now_ns: int,
) -> BotReleaseCheck:
    """Judge one bot of the desk (module docstring). Never raises for a missing or invalid
    proof: that is a refusal in the result.

    Raises:
        StoreError: the store could not be read.
    """
    required = required_state(node_mode, subjects.mode)
    base = {"bot_id": subjects.bot_id, "mode": subjects.mode.value}
    need = "" if required is None else required.value
    try:
        release, verified = current_release(store, subjects, gov_dir=gov_dir, now_ns=now_ns)
    except GovernanceError as exc:
        if required is None:
            return BotReleaseCheck(**base, required="", allowed=True, code="", detail=str(exc))
        return BotReleaseCheck(
            **base,
            required=need,
            allowed=False,
            code=exc.code,
            detail=f"{subjects.mode.value} on a live node needs a valid release to "
            f"{required.label} or later: {exc.message}",
        )
    released = verified.manifest.to_state
    used = f"release {release.sequence} to {released.label} (config {subjects.config_version})"
    if required is None:
        return BotReleaseCheck(
            **base, required="", allowed=True, code="GOV_RELEASE_SIGNED", detail=used
        )
    if released.position < required.position:
        return BotReleaseCheck(
            **base,
            required=need,
            allowed=False,
            code="GOV_RELEASE_STAGE_TOO_LOW",
            detail=f"{subjects.mode.value} on a live node needs a release to {required.label} "
            f"or later; the current one is {used}",
        )
    state = current_state(store, subjects.bot_id)
    if state is State.DEPRECATED or state.position < required.position:
        return BotReleaseCheck(
            **base,
            required=need,
            allowed=False,
            code="GOV_RELEASE_NOT_PROMOTED",
            detail=f"{used} is valid but the bot is in {state.label}: promote it to "
            f"{required.label} first (polytraders promote)",
        )
    return BotReleaseCheck(
        **base, required=need, allowed=True, code="GOV_RELEASE_SIGNED", detail=used
    )


def check_node(
    subjects: Sequence[ReleaseSubjects],
    *,
    node_mode: NodeMode,
    store: EventStore,
    gov_dir: Path,
    now_ns: int,
    actor: str,
) -> list[BotReleaseCheck]:
    """Judge every bot of a desk and record the verdicts in one ``GOV_NODE_RELEASES_CHECKED``
    audit entry (whatever they are). The node starts only when every result is ``allowed``.

    Raises:
        StoreError: the store could not be read or the audit entry written.
    """
    checks = [
        check_bot(s, node_mode=node_mode, store=store, gov_dir=gov_dir, now_ns=now_ns)
        for s in subjects
    ]
    store.audit(
        actor=actor,
        action=RELEASES_CHECKED,
        ts_ns=now_ns,
        detail={
            "node_mode": node_mode.value,
            "allowed": all(c.allowed for c in checks),
            "bots": [msgspec.structs.asdict(c) for c in checks],
        },
    )
    return checks
