"""Canonical JSON and the one ``config_version`` of every configuration (DESIGN.md
"Contracts": ``config_version`` is a hash of the canonical JSON).

Every config in the project (bot configs, the paper venue, the desk loop, desk files, the
Polymarket venue, reconciliation, the live node) computes its version here and nowhere else, so
equal values always share a version and the same rule holds for all of them.

Canonical JSON, exactly: :func:`json.dumps` of a JSON-compatible value (what
``model_dump(mode="json")`` returns) with

- object keys sorted by code point (``sort_keys=True``);
- compact separators ``,`` and ``:`` and no whitespace anywhere;
- ASCII output: every non-ASCII character as a ``\\uXXXX`` escape (surrogate pairs beyond the
  BMP), ``"``, ``\\`` and control characters escaped as :func:`json.dumps` does;
- integers in full decimal precision (no 2**53 limit: seeds and micro-unit amounts stay exact);
- floats as Python's shortest round-trip ``repr`` (``0.8``, ``5.0``, ``1e-07``); NaN and
  infinities are refused;
- ``true``, ``false``, ``null``; tuples as arrays.

This is deliberately *not* RFC 8785 (JCS), although it agrees with it on key order for ASCII
keys, on whitespace and on refusing NaN: JCS writes numbers as ECMAScript does (``5.0`` →
``5``, ``1e-07`` → ``1e-7``, integers rounded to doubles) and non-ASCII characters as raw
UTF-8, and adopting it would change every version already recorded in envelopes, results and
stores. Configs use integers for every amount and time, so the float rule only touches
analytics parameters.
"""

from __future__ import annotations

import hashlib
import json

VERSION_HEX_DIGITS = 16
"""Length of a config version: the first 16 hex digits (64 bits) of the SHA-256."""


def canonical_json(data: object) -> str:
    """``data`` (a JSON-compatible value) as canonical JSON text (see the module docstring).

    Raises:
        ValueError: a NaN or infinite float.
        TypeError: a value JSON cannot represent (e.g. a set or an object).
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_sha256(data: object) -> str:
    """The SHA-256 (64 lowercase hex digits) of the UTF-8 of :func:`canonical_json` of
    ``data``: the one digest of structured values (config versions, readiness evidence,
    governance record ids).

    Raises:
        ValueError, TypeError: as :func:`canonical_json`.
    """
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def config_version(data: object) -> str:
    """The version of a config's values: the first 16 hex digits of
    :func:`canonical_sha256` of ``data``.

    Raises:
        ValueError, TypeError: as :func:`canonical_json`.
    """
    return canonical_sha256(data)[:VERSION_HEX_DIGITS]
