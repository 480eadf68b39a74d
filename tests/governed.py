"""A governed desk for the tests of the live node: three throwaway signers, a signer list
accepted into the store, and for every bot of a desk a signed release manifest (sequence 1)
accepted through the real verification path, with the bot's lifecycle state recorded.

The node refuses ``--live`` for any ENFORCED bot without a valid release
(:mod:`polytraders.readiness.release_policy`); the node's own tests use this to start. The
gates behind a release are not evaluated here (the manifests carry no gate results, and the
promotions are recorded as this fixture's): how a release is earned is
``tests/readiness/governance/test_promotion_path.py``'s end-to-end test.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from polytraders.backtest.desk_file import DeskFile
from polytraders.readiness.governance.envelopes import add_signature, write_envelope
from polytraders.readiness.governance.evidence_bundle import write_bundle
from polytraders.readiness.governance.keys import SignerKey, generate_key, load_key_file
from polytraders.readiness.governance.manifest import build_manifest
from polytraders.readiness.governance.signers import (
    APPROVER,
    REVIEWER,
    RISK_OFFICER,
    SignerEntry,
    SignerList,
    signer_list_envelope,
    signers_path,
)
from polytraders.readiness.lifecycle import STATES, State
from polytraders.readiness.release_check import evidence_dir, manifest_path
from polytraders.readiness.release_subjects import ReleaseSubjects, desk_subjects
from polytraders.readiness.releases import (
    PLAYBOOK_FILE,
    ROLLBACK_PLAN_FILE,
    RUNS_FILE,
    accept_manifest,
    accept_signers,
)
from polytraders.store import EventStore
from polytraders.store.promotions import PromotionOutcome, append_promotion
from polytraders.store.releases import last_release

DAY_NS = 86_400 * 1_000_000_000
ACTOR = "test-fixture"

SIGNER_ROLES = {
    "ana": (APPROVER, REVIEWER),
    "ben": (APPROVER, RISK_OFFICER),
    "cleo": (APPROVER,),
}
"""Three throwaway signers: every one an approver (threshold 2 of 3), one reviewer, one risk
officer."""


def signer_keys() -> dict[str, SignerKey]:
    """Fresh in-memory keys for :data:`SIGNER_ROLES` (never written anywhere)."""
    return {name: generate_key() for name in SIGNER_ROLES}


def write_signers(gov_dir: Path, keys: dict[str, SignerKey], now_ns: int) -> None:
    """Signer list version 1 of ``keys`` under ``gov_dir``, signed by two approvers."""
    signers = SignerList.create(
        version=1,
        expires_ns=now_ns + 365 * DAY_NS,
        threshold=2,
        signers=[
            SignerEntry.from_public_doc(keys[name].public_doc(name), roles)
            for name, roles in SIGNER_ROLES.items()
        ],
    )
    envelope = signer_list_envelope(signers)
    add_signature(envelope, keys["ana"])
    add_signature(envelope, keys["ben"])
    path = signers_path(gov_dir, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_envelope(path, envelope, create=True)


def release(
    store: EventStore,
    gov_dir: Path,
    keys: dict[str, SignerKey],
    subjects: ReleaseSubjects,
    *,
    desk: DeskFile,
    to_state: State,
    now_ns: int,
    playbook: str = "# Incident playbook\n\nTrip the kill switch.\n",
) -> int:
    """Write, sign (ana and cleo) and accept the bot's next release manifest to
    ``to_state`` (with ``playbook`` as its incident playbook); return its sequence."""
    last = last_release(store, subjects.bot_id)
    sequence = 1 if last is None else last.sequence + 1
    notes = gov_dir / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "playbook.md").write_text(playbook)
    (notes / "rollback.md").write_text("# Rollback plan\n\nReturn to the previous release.\n")
    (notes / "runs.json").write_text("[]\n")
    bundle = evidence_dir(gov_dir, subjects.bot_id, sequence)
    write_bundle(
        bundle,
        {
            PLAYBOOK_FILE: notes / "playbook.md",
            ROLLBACK_PLAN_FILE: notes / "rollback.md",
            RUNS_FILE: notes / "runs.json",
        },
    )
    envelope = build_manifest(
        bot_id=subjects.bot_id,
        bot_version=subjects.bot_version,
        code_sha256=subjects.code_sha256,
        config_sha256=subjects.config_sha256,
        evidence_dir=bundle,
        from_state=STATES[to_state.position - 1],
        to_state=to_state,
        gates=[],
        sequence=sequence,
        prev_manifest_sha256=None if last is None else last.manifest_sha256,
        created_ns=now_ns,
        expires_ns=now_ns + 30 * DAY_NS,
        incident_playbook=PLAYBOOK_FILE,
        rollback_plan=ROLLBACK_PLAN_FILE,
    )
    add_signature(envelope, keys["ana"])
    add_signature(envelope, keys["cleo"])
    path = manifest_path(gov_dir, subjects.bot_id, sequence)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_envelope(path, envelope, create=True)
    accept_manifest(path, store=store, gov_dir=gov_dir, desk=desk, now_ns=now_ns, actor=ACTOR)
    return sequence


def govern(
    store_url: str,
    gov_dir: Path,
    desk: DeskFile | None = None,
    *,
    to_state: State = State.LIMITED_LIVE,
) -> dict[str, SignerKey]:
    """Release every bot of ``desk`` (default: the default desk) to ``to_state`` and record
    it promoted there; return the signers' keys (to sign more in a test)."""
    desk = desk if desk is not None else DeskFile()
    now_ns = time.time_ns()
    keys = signer_keys()
    write_signers(gov_dir, keys, now_ns)
    with EventStore.open(store_url) as store:
        accept_signers(store, gov_dir, now_ns=now_ns, actor=ACTOR)
        for subjects in desk_subjects(desk).values():
            release(store, gov_dir, keys, subjects, desk=desk, to_state=to_state, now_ns=now_ns)
            for before, after in itertools.pairwise(STATES[: to_state.position + 1]):
                append_promotion(
                    store,
                    bot_id=subjects.bot_id,
                    from_state=before.value,
                    to_state=after.value,
                    outcome=PromotionOutcome.PROMOTED,
                    reason_code="GOV_PROMOTED",
                    evaluation_id="fixture",
                    evidence_digest="0" * 64,
                    actor=ACTOR,
                    detail="recorded by tests/governed.py for a node test",
                    ts_ns=now_ns,
                )
    return keys


def release_desk(
    store_url: str,
    gov_dir: Path,
    keys: dict[str, SignerKey],
    *,
    desk: DeskFile | None = None,
    skip: frozenset[str] = frozenset(),
    to_state: State = State.LIMITED_LIVE,
) -> list[str]:
    """Release the bots of ``desk`` (default: the default desk) but ``skip`` to ``to_state``
    with an already accepted signer list, signing with ``keys`` (two approvers, ``ana`` and
    ``cleo``), and record them promoted there; return the bot ids released."""
    desk = desk if desk is not None else DeskFile()
    now_ns = time.time_ns()
    done = []
    with EventStore.open(store_url) as store:
        for subjects in desk_subjects(desk).values():
            if subjects.bot_id in skip:
                continue
            release(store, gov_dir, keys, subjects, desk=desk, to_state=to_state, now_ns=now_ns)
            append_promotion(
                store,
                bot_id=subjects.bot_id,
                from_state=State.IDEA_ONLY.value,
                to_state=to_state.value,
                outcome=PromotionOutcome.PROMOTED,
                reason_code="GOV_PROMOTED",
                evaluation_id="fixture",
                evidence_digest="0" * 64,
                actor=ACTOR,
                detail="recorded by tests/governed.py: the desk's other bots",
                ts_ns=now_ns,
            )
            done.append(subjects.bot_id)
    return done


def main() -> None:
    """``python -m tests.governed --store URL --gov-dir DIR --approver KEY --approver KEY
    [--skip BOT ...]``: release the default desk's other bots (the worked example of
    docs/governance.md, which takes one bot through the path by hand)."""
    parser = argparse.ArgumentParser(prog="python -m tests.governed", description=main.__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--gov-dir", required=True, type=Path)
    parser.add_argument("--approver", action="append", required=True, type=Path)
    parser.add_argument("--skip", action="append", default=[])
    args = parser.parse_args()
    if len(args.approver) != 2:
        parser.error("give two approvers' key files")
    keys = dict(zip(("ana", "cleo"), (load_key_file(p) for p in args.approver), strict=True))
    for bot_id in release_desk(args.store, args.gov_dir, keys, skip=frozenset(args.skip)):
        print(f"released {bot_id} to Limited live (test fixture, actor {ACTOR})")


if __name__ == "__main__":
    main()
