"""Feed settings of a run: :class:`FeedConfig` (the bad-input threshold).

Styled after :class:`polytraders.contracts.config.BotConfig`: pydantic v2, frozen, unknown keys
refused, a unit in every numeric field's name, hard limits on every number, defaults inside
them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FeedConfig(BaseModel):
    """How much bad input a run tolerates before it is refused
    (:meth:`polytraders.feeds.FeedStats.check`).

    Rule: a source's bad input (every problem counted under a ``SYS_…`` reason code, see
    ``docs/feeds.md``) is over the limit when ``bad × 100 > max_bad_input_pct ×
    max(records_read, min_records_count)``. Over many records this is the plain percentage;
    below ``min_records_count`` the allowance is fixed at ``max_bad_input_pct ×
    min_records_count / 100`` problems (10 with the defaults), so one bad line among the first
    three neither stops a run nor is ignored: it is counted and reported, and a run whose
    every line is bad still stops as soon as that allowance is used up.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )

    max_bad_input_pct: float = Field(default=1.0, ge=0.0, le=100.0)
    """Largest tolerated share of bad input among the records read (%; 0 refuses any bad
    input). Records are the source's lines (line files), rows (Parquet) or frames
    (synthetic)."""

    min_records_count: int = Field(default=1_000, ge=1, le=1_000_000_000)
    """The share is taken over at least this many records (the floor that keeps a few bad
    lines at the start of a stream, or in a small file, from being judged as a large share)."""
