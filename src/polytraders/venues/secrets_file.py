"""Venue credentials files: ``NAME=value`` lines, private to their owner, never echoed.

A file holds ``NAME=value`` lines (``#`` comments and blank lines allowed; values may be
double-quoted) in UTF-8, at most 64 KiB, and must not be readable by group or others (chmod
600). A file that cannot be used is refused with one line naming the file (and line) and what
is wrong, never a byte of its content. Each venue's credentials module turns the names into
its own typed credentials (``venues/polymarket/credentials.py``, ``venues/ccxt/credentials.py``).
"""

from __future__ import annotations

import stat
from pathlib import Path

MAX_FILE_BYTES = 64 * 1024


class CredentialsError(ValueError):
    """Credentials are missing, malformed or stored unsafely (the message never holds a
    secret)."""


def read_name_values(path: Path) -> dict[str, str]:
    """The ``NAME=value`` pairs of the credentials file at ``path``.

    Raises:
        CredentialsError: unreadable, readable by group/others, over 64 KiB, not UTF-8, or a
            line without ``=`` (the message names the file and line, never their content).
    """
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialsError(f"credentials file {path} must be private (chmod 600)")
        if info.st_size > MAX_FILE_BYTES:
            raise CredentialsError(
                f"credentials file {path} is {info.st_size:,} bytes: not a credentials "
                f"file (at most {MAX_FILE_BYTES:,})"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {path}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at_line = data.count(b"\n", 0, exc.start) + 1
        raise CredentialsError(
            f"credentials file {path}:{at_line}: not UTF-8 text"
        ) from None  # the error would quote the offending secret bytes
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep:
            raise CredentialsError(f"{path}:{number}: expected NAME=value")
        values[name.strip()] = value.strip().strip('"')
    return values
