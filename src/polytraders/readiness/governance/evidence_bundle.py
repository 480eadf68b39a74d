"""An evidence bundle: a directory of files, identified by the SHA-256 of its canonical index.

Index: the list of ``{"path": posix path relative to the root, "length": bytes, "sha256": hex}``
of every regular file under the root, sorted by path, serialised with RFC 8785; the bundle
SHA-256 is the SHA-256 of those bytes. A symlink to a regular file inside the root is indexed
by its target's content under its own path; any other symlink (leaving the root, to a
directory, dangling) and any other special file is refused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from polytraders.readiness.governance.envelopes import canonical_bytes

_CHUNK = 1 << 20


class BundleError(ValueError):
    """A bundle directory cannot be indexed or written (one line naming the path)."""


@dataclass(frozen=True)
class BundleEntry:
    """One file of a bundle: relative posix path, size in bytes, SHA-256 hex."""

    path: str
    length: int
    sha256: str


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes.

    Raises:
        OSError: it cannot be read.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def relative_path(text: str) -> PurePosixPath:
    """``text`` as a relative posix path inside a bundle (no empty, ``.`` or ``..`` part, not
    absolute, no backslash).

    Raises:
        BundleError: any other path.
    """
    path = PurePosixPath(text)
    if (
        not text
        or "\\" in text
        or path.is_absolute()
        or any(part in {"", ".", ".."} for part in text.split("/"))
    ):
        raise BundleError(f"{text!r} is not a relative path inside the bundle")
    return path


def bundle_index(root: Path) -> tuple[BundleEntry, ...]:
    """The sorted index of every regular file under ``root``.

    Raises:
        BundleError: ``root`` is not a directory, or holds a refused symlink or special file.
    """
    if not root.is_dir():
        raise BundleError(f"evidence directory {root} does not exist or is not a directory")
    real_root = root.resolve()
    entries: list[BundleEntry] = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        for name in dirnames:
            if (here / name).is_symlink():
                raise BundleError(f"{here / name} is a symlinked directory")
        for name in filenames:
            path = here / name
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root) or not target.is_file():
                    raise BundleError(f"{path} is a symlink leaving {root} or not to a file")
            elif not path.is_file():
                raise BundleError(f"{path} is not a regular file")
            relative = path.relative_to(root).as_posix()
            entries.append(BundleEntry(relative, path.stat().st_size, file_sha256(path)))
    return tuple(sorted(entries, key=lambda entry: entry.path))


def index_bytes(entries: tuple[BundleEntry, ...]) -> bytes:
    """The RFC 8785 bytes of an index."""
    return canonical_bytes(
        [{"path": e.path, "length": e.length, "sha256": e.sha256} for e in entries]
    )


def bundle_sha256(root: Path) -> str:
    """SHA-256 (hex) of :func:`index_bytes` of :func:`bundle_index` of ``root``.

    Raises:
        BundleError: as :func:`bundle_index`.
    """
    return hashlib.sha256(index_bytes(bundle_index(root))).hexdigest()


def write_bundle(root: Path, files: Mapping[str, Path]) -> str:
    """Create directory ``root`` (it must not exist) holding a copy of each source file under
    its bundle path (``files``: relative posix path → source file); returns the bundle SHA-256.

    Raises:
        BundleError: ``root`` exists, a bundle path is invalid, or a source is not a file.
        OSError: a copy fails.
    """
    if root.exists():
        raise BundleError(f"{root} already exists; a bundle is written into a new directory")
    paths = {name: relative_path(name) for name in files}
    for name, source in files.items():
        if not source.is_file():
            raise BundleError(f"{source} (for {name}) is not a file")
    root.mkdir(parents=True)
    for name, source in files.items():
        target = root.joinpath(*paths[name].parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return bundle_sha256(root)
