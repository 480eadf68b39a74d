"""Accepted release manifests: recorded with their GOV_RELEASE_SIGNED audit entry in one
transaction, a sequence accepted once per bot, read back in sequence order, and the runs
their evidence cites listed for retention."""

from __future__ import annotations

import pytest

from polytraders.store import EventStore, StoreWriteError
from polytraders.store.audit_chain import verify_chain
from polytraders.store.releases import (
    RELEASE_SIGNED,
    ReleaseRow,
    last_release,
    record_release,
    referenced_run_ids,
    releases,
)


def _release(bot_id: str, sequence: int, runs: tuple[str, ...] = ()) -> ReleaseRow:
    return ReleaseRow(
        bot_id=bot_id,
        sequence=sequence,
        manifest_sha256=f"{sequence:064x}",
        bot_version="1.0.0",
        from_state="built",
        to_state="shadow",
        code_sha256="c" * 64,
        config_sha256="d" * 64,
        config_version="0123456789abcdef",
        evidence_sha256="e" * 64,
        expires_ns=2_000_000_000_000_000_000,
        signers=("alice", "bob"),
        evidence_runs=runs,
        envelope_json="{}",
        actor="alice",
        ts_ns=1_800_000_000_000_000_000 + sequence,
    )


def test_releases_are_recorded_once_per_sequence_with_their_audit_entry(store_url: str) -> None:
    with EventStore.open(store_url) as store:
        assert last_release(store, "risk.killswitch") is None
        record_release(store, _release("risk.killswitch", 1, ("run-a",)))
        record_release(store, _release("risk.killswitch", 2, ("run-b", "run-a")))
        record_release(store, _release("risk.stalebookguard", 1, ("run-c",)))
        with pytest.raises(StoreWriteError):
            record_release(store, _release("risk.killswitch", 2))
        assert [r.sequence for r in releases(store, bot_id="risk.killswitch")] == [1, 2]
        latest = last_release(store, "risk.killswitch")
        assert latest is not None and latest.evidence_runs == ("run-b", "run-a")
        assert latest.signers == ("alice", "bob")
        assert referenced_run_ids(store) == {"run-a", "run-b", "run-c"}
        entries = store.audit_chain()
        assert [e.action for e in entries] == [RELEASE_SIGNED] * 3  # the refused one left none
        assert verify_chain(entries).intact
