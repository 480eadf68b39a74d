"""Run references: ``RUN_ID`` (latest attempt) or ``RUN_ID@N``, one parser for every reader
and command; anything else is refused with a message quoting it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.contracts import ids
from polytraders.store import RunRef, RunRefError, parse_run_ref
from polytraders.store.run_ref import MAX_ATTEMPT, MAX_RUN_ID_CHARS

RUN_IDS = st.text(
    st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp", "Cc"], exclude_characters="@"),
    min_size=1,
    max_size=40,
).filter(lambda text: not any(char.isspace() for char in text))


def test_a_plain_id_means_the_latest_attempt_and_at_n_means_attempt_n() -> None:
    run = ids.run_id("ref", 1)
    assert parse_run_ref(run) == RunRef(run, None)
    assert parse_run_ref(f"{run}@1") == RunRef(run, 1)
    assert parse_run_ref(f"{run}@12") == RunRef(run, 12)
    assert parse_run_ref(RunRef(run, 3)) == RunRef(run, 3)
    assert str(RunRef(run, 12)) == f"{run}@12"
    assert str(RunRef(run)) == run


@pytest.mark.parametrize(
    "text",
    ["", "@1", "run@", "run@0", "run@01", "run@-1", "run@x", "run@1@2", "run 1", " run", "r@1.5"],
)
def test_malformed_references_are_refused_quoting_the_text(text: str) -> None:
    with pytest.raises(RunRefError) as caught:
        parse_run_ref(text)
    message = str(caught.value)
    assert "\n" not in message
    assert repr(text) in message or "run id" in message


def test_limits_of_ids_and_attempts() -> None:
    with pytest.raises(RunRefError, match="longer than 200"):
        parse_run_ref("r" * (MAX_RUN_ID_CHARS + 1))
    assert parse_run_ref("r" * MAX_RUN_ID_CHARS).run_id == "r" * MAX_RUN_ID_CHARS
    assert parse_run_ref(f"r@{MAX_ATTEMPT}").attempt == MAX_ATTEMPT
    with pytest.raises(RunRefError, match="too large"):
        parse_run_ref(f"r@{MAX_ATTEMPT + 1}")
    with pytest.raises(RunRefError, match="attempt must be 1 or more"):
        parse_run_ref(RunRef("r", 0))


@given(run_id=RUN_IDS, attempt=st.none() | st.integers(min_value=1, max_value=MAX_ATTEMPT))
def test_every_reference_round_trips_through_its_text(run_id: str, attempt: int | None) -> None:
    ref = RunRef(run_id, attempt)
    assert parse_run_ref(str(ref)) == ref
