"""API-key credentials of a ccxt exchange, read only from the environment or a file; never
logged.

Names: ``<PREFIX>_API_KEY`` and ``<PREFIX>_API_SECRET`` (prefix from
:attr:`~.config.CcxtVenueConfig.credentials_prefix`, ``BINANCE`` by default). A file holds
them as ``NAME=value`` lines (:func:`polytraders.venues.secrets_file.read_name_values`: chmod
600, UTF-8, at most 64 KiB, never echoed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from polytraders.venues.secrets_file import CredentialsError, read_name_values


@dataclass(frozen=True)
class ApiKeyCredentials:
    """An exchange API key and its HMAC secret. ``repr`` shows neither."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], prefix: str) -> ApiKeyCredentials:
        """Build from ``<prefix>_API_KEY`` / ``<prefix>_API_SECRET``.

        Raises:
            CredentialsError: a name is missing or empty, or a value holds whitespace or
                control characters inside (the message names the variable, never its value).
        """
        names = (f"{prefix}_API_KEY", f"{prefix}_API_SECRET")
        missing = [name for name in names if not values.get(name, "").strip()]
        if missing:
            raise CredentialsError(f"missing credentials: {', '.join(missing)}")
        key, secret = (values[name].strip() for name in names)
        for name, value in zip(names, (key, secret), strict=True):
            if not value.isprintable() or any(c.isspace() for c in value):
                raise CredentialsError(f"{name} must be one printable word")
        return cls(api_key=key, api_secret=secret)

    @classmethod
    def from_env(cls, prefix: str, environ: Mapping[str, str] | None = None) -> ApiKeyCredentials:
        """Read from the process environment (or ``environ``)."""
        return cls.from_mapping(os.environ if environ is None else environ, prefix)

    @classmethod
    def from_file(cls, path: Path, prefix: str) -> ApiKeyCredentials:
        """Read ``NAME=value`` lines from ``path`` (refusals as
        :func:`~polytraders.venues.secrets_file.read_name_values`'s)."""
        return cls.from_mapping(read_name_values(path), prefix)


__all__ = ["ApiKeyCredentials", "CredentialsError"]
