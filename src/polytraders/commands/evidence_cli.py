"""What the governance-evidence commands (``incident``, ``review``, ``alerts``) share: the
store and output options, opening an existing store, one-line errors with their exit codes.

Exit codes: 0 done; 1 refused because of a record's state (closing a closed incident); 2 a bad
option, input or store (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer

from polytraders.bots.registry import BOTS
from polytraders.commands.runs import DEFAULT_STORE
from polytraders.store import EventStore, StoreError
from polytraders.store.errors import EvidenceStateError
from polytraders.store.incidents import DESK

StoreOption = Annotated[
    str,
    typer.Option(
        "--store", help="Event store (an existing one): SQLite path/URL or postgresql+psycopg://…"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

__all__ = ["DEFAULT_STORE", "JsonOption", "StoreOption", "fail", "known_bot", "opened"]


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def known_bot(bot_id: str, what: str) -> str:
    """``bot_id`` when it is a library bot or ``desk``; else one line and exit 2."""
    if bot_id != DESK and bot_id not in BOTS:
        fail(f"{what}: unknown bot {bot_id!r}; one of {', '.join(sorted(BOTS))} or {DESK!r}")
    return bot_id


@contextmanager
def opened(store: str) -> Iterator[EventStore]:
    """The existing store at ``store`` (never created: a mistyped path must not start a new,
    empty incident log). A refusal because of a record's state is exit 1; any other store
    failure or refused input is exit 2; each one line."""
    try:
        with EventStore.open(store, create=False) as handle:
            yield handle
    except EvidenceStateError as exc:
        fail(str(exc), 1)
    except StoreError as exc:
        fail(str(exc))


def print_json(document: Any) -> None:
    """``document`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
