"""Accepted release manifests in the event store (table ``releases``): one row per bot and
sequence number, written only after the manifest verified (signatures of the signer list's
threshold, not expired, sequence above the last accepted one, evidence, code and config
recomputed and equal), together with its ``GOV_RELEASE_SIGNED`` audit entry in one
transaction. The unique (bot, sequence) key makes a sequence accepted at most once, so two
verifiers racing on the same manifest record it once.

The row keeps the signed envelope itself (``envelope_json``), so anyone holding the signers'
public keys can re-verify a release from the store alone.
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.event_store import EventStore
from polytraders.store.records import AuditEntry, json_text

RELEASE_SIGNED = "GOV_RELEASE_SIGNED"
"""The audit action (a registered GOV_ code) recorded with every accepted manifest."""


class ReleaseRow(msgspec.Struct, frozen=True, kw_only=True):
    """One accepted release manifest.

    Attributes:
        bot_id, sequence: the bot and the manifest's per-bot sequence number (≥ 1).
        manifest_sha256: SHA-256 of the manifest's signed payload (signatures excluded).
        bot_version, from_state, to_state: what the manifest releases, and to which state.
        code_sha256, config_sha256, config_version: the subjects the manifest binds.
        evidence_sha256: the evidence bundle's digest.
        expires_ns: when the manifest expires (ns since the epoch).
        signers: the names of the approvers whose signatures verified.
        evidence_runs: the run ids the manifest's evidence cites (kept by retention).
        envelope_json: the signed DSSE envelope as verified.
        actor, ts_ns: who verified it and when (wall clock).
    """

    bot_id: str
    sequence: int
    manifest_sha256: str
    bot_version: str
    from_state: str
    to_state: str
    code_sha256: str
    config_sha256: str
    config_version: str
    evidence_sha256: str
    expires_ns: int
    signers: tuple[str, ...]
    evidence_runs: tuple[str, ...]
    envelope_json: str
    actor: str
    ts_ns: int


def record_release(store: EventStore, release: ReleaseRow) -> None:
    """Record an accepted manifest and its ``GOV_RELEASE_SIGNED`` audit entry, in one
    transaction.

    Raises:
        StoreWriteError: the sequence was already accepted for the bot, or the write failed.
    """
    row = msgspec.structs.asdict(release)
    row["signers_json"] = json_text(list(row.pop("signers")))
    row["evidence_runs_json"] = json_text(list(row.pop("evidence_runs")))
    detail = {
        "bot_id": release.bot_id,
        "sequence": release.sequence,
        "manifest_sha256": release.manifest_sha256,
        "to_state": release.to_state,
        "config_version": release.config_version,
        "signers": list(release.signers),
    }
    store.append_rows(
        schema.releases,
        [row],
        what=f"release {release.sequence} of {release.bot_id}",
        audit=AuditEntry(
            ts_ns=release.ts_ns,
            actor=release.actor,
            action=RELEASE_SIGNED,
            detail=json_text(detail),
            run_id=None,
            attempt=None,
        ),
    )


def releases(store: EventStore, *, bot_id: str | None = None) -> list[ReleaseRow]:
    """Accepted manifests in sequence order per bot (all bots, or one).

    Raises:
        StoreError: the read failed.
    """
    c = schema.releases.c
    query = sa.select(schema.releases).order_by(c.bot_id, c.sequence)
    if bot_id is not None:
        query = query.where(c.bot_id == bot_id)
    out = []
    for row in store.select(query):
        data = row._asdict()
        data.pop("row_id")
        data["signers"] = tuple(msgspec.json.decode(data.pop("signers_json")))
        data["evidence_runs"] = tuple(msgspec.json.decode(data.pop("evidence_runs_json")))
        out.append(ReleaseRow(**data))
    return out


def last_release(store: EventStore, bot_id: str) -> ReleaseRow | None:
    """The bot's accepted manifest with the highest sequence, or None.

    Raises:
        StoreError: the read failed.
    """
    accepted = releases(store, bot_id=bot_id)
    return accepted[-1] if accepted else None


def referenced_run_ids(store: EventStore) -> set[str]:
    """Every run id the evidence of an accepted manifest cites: retention never prunes them.

    Raises:
        StoreError: the read failed.
    """
    query = sa.select(schema.releases.c.evidence_runs_json)
    return {run for row in store.select(query) for run in msgspec.json.decode(row[0])}
