"""Deterministic identifiers (DESIGN.md "Numbers, time, identity").

Every id is derived from the run id and a sequence number, so a replay with the same inputs,
config and seed reproduces every record byte for byte, and a restart never invents a different
id for the same thing.
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


def client_order_id(run: str, sequence: int) -> str:
    """Id of the ``sequence``-th venue order of a run (idempotent across restarts)."""
    return f"{run}/o{sequence}"


def fill_id(run: str, sequence: int) -> str:
    """Id of the ``sequence``-th fill of a run."""
    return f"{run}/f{sequence}"
