"""Deterministic identifiers (DESIGN.md "Numbers, time, identity").

Every id is derived from the run id and a sequence number — a client order id from its intent's
id and the order's position in the route plan — so a replay with the same inputs, config and
seed reproduces every record byte for byte, and a restart never invents a different id for the
same thing.
"""

from __future__ import annotations

import hashlib


def run_id(*parts: str | int) -> str:
    """A run id: ``run-`` + 16 hex digits of SHA-256 over the given parts (e.g. desk config
    version, data digest, seed), joined with ``|``."""
    text = "|".join(str(p) for p in parts)
    return "run-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def envelope_id(run: str, sequence: int) -> str:
    """Id of the ``sequence``-th envelope of a run."""
    return f"{run}/e{sequence}"


def intent_id(run: str, sequence: int) -> str:
    """Id of the ``sequence``-th intent proposed in a run."""
    return f"{run}/i{sequence}"


def client_order_id(intent: str, leg: int) -> str:
    """Id of the venue order at position ``leg`` (0, 1, …) of the route plan for intent id
    ``intent``: ``<intent>/o<leg>``.

    The execution bot assigns it and it is the order's only id: the order manager, the venue,
    the store, fills and strategies all use it (the desk refuses a plan whose ids differ,
    :func:`polytraders.contracts.authority.route_plan_problems`). It is unique in a run because
    intent ids are (the desk refuses a reused intent id, and its order manager never sends an id
    it sent before, also across a restart), and idempotent: routing the same intent again gives
    the same ids, which are then not sent twice."""
    return f"{intent}/o{leg}"


def fill_id(run: str, sequence: int) -> str:
    """Id of the ``sequence``-th fill of a run."""
    return f"{run}/f{sequence}"
