"""Polymarket credentials, read only from the environment or a file; never logged.

Environment variables: ``POLYMARKET_PRIVATE_KEY`` (0x-hex signer key), ``POLYMARKET_API_KEY``,
``POLYMARKET_API_SECRET``, ``POLYMARKET_API_PASSPHRASE``, optional ``POLYMARKET_FUNDER`` and
``POLYMARKET_SIGNATURE_TYPE`` (0 EOA default), ``POLYMARKET_BUILDER_CODE`` (bytes32 0x-hex).
A file holds the same names as ``NAME=value`` lines, read by
:func:`polytraders.venues.secrets_file.read_name_values` (UTF-8, at most 64 KiB, chmod 600; a
file that cannot be used is refused with one line naming the file and line, never its content).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from polytraders.venues.secrets_file import CredentialsError, read_name_values

_REQUIRED = (
    "POLYMARKET_PRIVATE_KEY",
    "POLYMARKET_API_KEY",
    "POLYMARKET_API_SECRET",
    "POLYMARKET_API_PASSPHRASE",
)
_BYTES32 = re.compile(r"0x[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Credentials:
    """Signer key, L2 API credentials and attribution. ``repr`` shows no secret."""

    private_key: str = field(repr=False)
    api_key: str
    api_secret: str = field(repr=False)
    api_passphrase: str = field(repr=False)
    funder: str = ""
    signature_type: int = 0
    builder_code: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Credentials:
        """Build from ``POLYMARKET_*`` names.

        Raises:
            CredentialsError: a required name is missing or the key, type or builder code is
                malformed.
        """
        missing = [name for name in _REQUIRED if not values.get(name)]
        if missing:
            raise CredentialsError(f"missing credentials: {', '.join(missing)}")
        key = values["POLYMARKET_PRIVATE_KEY"].strip()
        body = key.removeprefix("0x")
        if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
            raise CredentialsError("POLYMARKET_PRIVATE_KEY must be 32 bytes of hex")
        try:
            signature_type = int(values.get("POLYMARKET_SIGNATURE_TYPE", "0") or "0")
        except ValueError as exc:
            raise CredentialsError("POLYMARKET_SIGNATURE_TYPE must be 0, 1 or 2") from exc
        builder_code = values.get("POLYMARKET_BUILDER_CODE", "").strip()
        if builder_code and not _BYTES32.fullmatch(builder_code):
            raise CredentialsError("POLYMARKET_BUILDER_CODE must be 0x and 64 hex digits")
        return cls(
            private_key="0x" + body,
            api_key=values["POLYMARKET_API_KEY"].strip(),
            api_secret=values["POLYMARKET_API_SECRET"].strip(),
            api_passphrase=values["POLYMARKET_API_PASSPHRASE"].strip(),
            funder=values.get("POLYMARKET_FUNDER", "").strip(),
            signature_type=signature_type,
            builder_code=builder_code,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read from the process environment (or ``environ``)."""
        return cls.from_mapping(os.environ if environ is None else environ)

    @classmethod
    def from_file(cls, path: Path) -> Credentials:
        """Read ``NAME=value`` lines from ``path``.

        Raises:
            CredentialsError: unreadable, readable by group/others, over 64 KiB, not UTF-8, a
                line without ``=``, or incomplete or malformed values (the message names the
                file and line, never their content).
        """
        return cls.from_mapping(read_name_values(path))


__all__ = ["Credentials", "CredentialsError"]
