"""The seed corpus (``tests/fuzz/corpus/<target>/<case>``): issue 12's crashing inputs, one
file each, replayed by ``test_corpus.py`` and fed to atheris as its starting corpus."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def corpus_cases(target: str) -> dict[str, bytes]:
    """case name → bytes of one target's seeds, in name order."""
    return {path.name: path.read_bytes() for path in sorted((CORPUS / target).iterdir())}


def load_corpus(target: str) -> list[bytes]:
    """The bytes of one target's seeds, in name order."""
    return list(corpus_cases(target).values())
