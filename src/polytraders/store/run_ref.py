"""Run references: which recorded run (and which attempt of it) a reader or command means.

The desk's run id (:func:`polytraders.contracts.ids.run_id`) never carries an attempt: it is
the same in every envelope, order id and fill id however often the run is repeated. The store
numbers the attempts of a run id 1, 2, 3 ... as they start, and a reference names one:

- ``RUN_ID``: the latest attempt of that run;
- ``RUN_ID@N``: attempt ``N`` (a whole number ≥ 1, no leading zero).

>>> parse_run_ref("run-0123456789abcdef@2")
RunRef(run_id='run-0123456789abcdef', attempt=2)
>>> str(parse_run_ref("run-0123456789abcdef"))
'run-0123456789abcdef'
"""

from __future__ import annotations

import re

import msgspec

from polytraders.store.errors import RunRefError

MAX_RUN_ID_CHARS = 200
"""Longest run id the store keeps (the width of its run-id columns)."""

MAX_ATTEMPT = 2**31 - 1
"""Highest attempt number (a 32-bit column)."""

_REF = re.compile(r"([^@\s]+)(?:@([1-9][0-9]*))?")


class RunRef(msgspec.Struct, frozen=True):
    """A run id and, optionally, one attempt of it (None: the latest attempt)."""

    run_id: str
    attempt: int | None = None

    def __str__(self) -> str:
        return self.run_id if self.attempt is None else f"{self.run_id}@{self.attempt}"


def check_run_id(run_id: str) -> str:
    """``run_id`` if the store can keep it: non-empty, at most :data:`MAX_RUN_ID_CHARS`
    characters, no ``@`` (it separates the attempt) and no whitespace.

    Raises:
        RunRefError: otherwise (the message names the id and the rule it breaks).
    """
    if not isinstance(run_id, str) or not run_id:
        raise RunRefError(f"a run id must be a non-empty string, got {run_id!r}")
    if len(run_id) > MAX_RUN_ID_CHARS:
        raise RunRefError(f"run id {run_id[:40]!r}... is longer than {MAX_RUN_ID_CHARS} characters")
    if "@" in run_id or any(char.isspace() for char in run_id):
        raise RunRefError(
            f"run id {run_id!r} may not contain '@' (it separates the attempt) or whitespace"
        )
    return run_id


def parse_run_ref(text: str | RunRef) -> RunRef:
    """Parse ``RUN_ID`` or ``RUN_ID@N`` (a :class:`RunRef` is returned as it is).

    Raises:
        RunRefError: empty text, a malformed attempt (``@0``, ``@x``, ``@``, ``@01``), more
            than one ``@``, whitespace, or an over-long id; the message quotes the text and
            says what is accepted.
    """
    if isinstance(text, RunRef):
        if text.attempt is not None and not 1 <= text.attempt <= MAX_ATTEMPT:
            raise RunRefError(f"run reference {str(text)!r}: attempt must be 1 or more")
        check_run_id(text.run_id)
        return text
    if not isinstance(text, str):
        raise RunRefError(f"a run reference must be text, got {type(text).__name__}")
    match = _REF.fullmatch(text)
    if match is None:
        raise RunRefError(
            f"bad run reference {text!r}: give RUN_ID (latest attempt) or RUN_ID@N "
            "(attempt N = 1, 2, ...)"
        )
    run_id, attempt = match.group(1), match.group(2)
    check_run_id(run_id)
    if attempt is None:
        return RunRef(run_id)
    number = int(attempt)
    if number > MAX_ATTEMPT:
        raise RunRefError(f"bad run reference {text!r}: attempt {number} is too large")
    return RunRef(run_id, number)
