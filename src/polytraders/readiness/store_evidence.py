"""Store queries the gates share (the envelopes a bot produced, across every recorded run)."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from polytraders.store import EventStore, schema


def emitted_codes(store: EventStore, bot_id: str) -> set[str]:
    """Every reason code in an envelope of ``bot_id``, in any run of the store.

    Raises:
        StoreError: the read failed.
    """
    e = schema.envelopes.c
    query = sa.select(e.reason_codes_json).where(e.bot_id == bot_id).distinct()
    codes: set[str] = set()
    for row in store.select(query):
        codes.update(msgspec.json.decode(row.reason_codes_json, type=list[str]))
    return codes
