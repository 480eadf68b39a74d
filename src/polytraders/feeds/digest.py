"""The digest of a run's input data: what a run id is derived from, so that the same data
give the same ids wherever they lie."""

from __future__ import annotations

import hashlib
from pathlib import Path


def data_digest(data: str | Path) -> str:
    """SHA-256 (16 hex digits) of the input's bytes: every file of a directory in name order, a
    file's bytes, or a synthetic spec's text.

    Raises:
        OSError: a file cannot be read.
    """
    text = str(data)
    if text.startswith("synthetic:"):
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(data)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]
