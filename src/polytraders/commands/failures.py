"""How commands refuse: one line on stderr naming the file or option and what is wrong, and a
non-zero exit; the full traceback only with ``polytraders --debug``.

Exit codes of the CLI (also in the README):

- 0: done (a run COMPLETED);
- 1: a run FAILED, or its store is unsound;
- 2: refused before anything ran (bad option, data, desk file, store, output folder);
- 3: a run ended with a bot in quarantine;
- 4: a run ended HALTED (the desk halted or the kill switch tripped);
- 130 / 143: a run was interrupted by SIGINT / SIGTERM (what was done so far is recorded).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_QUARANTINED = 3
EXIT_HALTED = 4

_debug = False


def set_debug(enabled: bool) -> None:
    """Print full tracebacks with refusals (``polytraders --debug``)."""
    global _debug  # noqa: PLW0603 - one process-wide CLI switch
    _debug = enabled


def debug_enabled() -> bool:
    """True under ``polytraders --debug``."""
    return _debug


def fail(message: str, code: int = EXIT_REFUSED, exc: BaseException | None = None) -> NoReturn:
    """Print ``error: message`` (one line) on stderr, the traceback of ``exc`` first under
    ``--debug``, and exit with ``code``.

    Raises:
        typer.Exit: always.
    """
    if _debug and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    one_line = " ".join(message.split())
    typer.echo(f"error: {one_line}", err=True)
    raise typer.Exit(code=code)


@contextmanager
def refusing(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the given exception kinds raised inside the block into :func:`fail` (exit 2)."""
    try:
        yield
    except kinds as exc:
        fail(str(exc), EXIT_REFUSED, exc)
