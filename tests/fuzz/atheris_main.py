"""Coverage-guided fuzzing of one target with atheris (libFuzzer), seeded with its corpus.

    python -m tests.fuzz.atheris_main TARGET [libFuzzer options]
    python -m tests.fuzz.atheris_main polymarket_wire -runs=100000 -max_total_time=600

TARGET is a name of :data:`tests.fuzz.targets.TARGETS`. The ``polytraders`` package is
instrumented; each input must raise nothing but the target's documented errors and finish in
100 ms (coverage instrumentation makes the code several times slower: the 10 ms bound is
asserted by the hypothesis tests on uninstrumented code). The seeds are copied into a scratch
folder (``$POLYTRADERS_FUZZ_SCRATCH`` or a new temporary one, printed and kept: libFuzzer adds
the inputs it finds there, a corpus worth keeping between runs); a crash is written by
libFuzzer as ``crash-<sha1>`` in the working folder (add it to ``tests/fuzz/corpus/TARGET/``
once fixed)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["polytraders"]):
    from tests.fuzz.bounds import bounded
    from tests.fuzz.seeds import CORPUS
    from tests.fuzz.targets import TARGETS

INSTRUMENTED_LIMIT_S = 0.100


def main() -> None:
    """Fuzz the target named by the first argument; the others go to libFuzzer."""
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        raise SystemExit(f"usage: python -m tests.fuzz.atheris_main {{{','.join(TARGETS)}}} …")
    target = TARGETS[sys.argv[1]]
    given = os.environ.get("POLYTRADERS_FUZZ_SCRATCH")
    scratch = Path(given) if given else Path(tempfile.mkdtemp(prefix=f"atheris-{target.name}-"))
    print(f"atheris scratch folder (corpus, work files): {scratch}", file=sys.stderr)
    workdir = scratch / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = scratch / "corpus"
    seeds = CORPUS / target.name
    if seeds.is_dir():
        shutil.copytree(seeds, corpus, dirs_exist_ok=True)
    else:
        corpus.mkdir(exist_ok=True)

    def one_input(data: bytes) -> None:
        bounded(lambda: target.run(data, workdir), target.allowed, INSTRUMENTED_LIMIT_S)

    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], one_input)
    atheris.Fuzz()  # never returns: libFuzzer exits the process


if __name__ == "__main__":
    main()
