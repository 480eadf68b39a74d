"""Replays the seed corpus (issue 12's crashing inputs, ``tests/fuzz/corpus``) through each
target: documented errors only, each input within 10 ms."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.bounds import bounded
from tests.fuzz.seeds import CORPUS, corpus_cases
from tests.fuzz.targets import TARGETS

CASES = [
    pytest.param(target, data, id=f"{target}/{name}")
    for target in sorted(path.name for path in CORPUS.iterdir())
    for name, data in corpus_cases(target).items()
]


def test_every_corpus_folder_has_a_target() -> None:
    assert {path.name for path in CORPUS.iterdir()} <= set(TARGETS)


@pytest.mark.parametrize(("target", "data"), CASES)
def test_corpus_input_is_refused_or_counted_in_bounded_time(
    target: str, data: bytes, tmp_path: Path
) -> None:
    fuzz = TARGETS[target]
    bounded(lambda: fuzz.run(data, tmp_path), fuzz.allowed)
