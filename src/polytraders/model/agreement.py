"""Agreement of two deciders on the same items: a confusion table of risk verdicts, the raw
agreement, Cohen's kappa (exact), and the one-sided lower bound of the agreement.

Used by the shadow comparison (a baseline and a candidate desk decide on the same intents,
``polytraders.backtest.shadow_compare``) and the shadow-agreement gate (seed 001: "≥ 99 %
identical decision"; ``../shared/research/governance.md`` §3: publish the confusion table and
Cohen's κ, since raw agreement flatters when most decisions are APPROVE). Pure: no I/O.

**Labels.** :data:`VERDICTS` (APPROVE, REJECT, RESHAPE, HALT) and :data:`ABSENT` (the side has
no decision on an item the other side decided). Rows are the baseline's label, columns the
candidate's. ABSENT × ABSENT is always 0. An item with ABSENT on either side is *one-sided*: it
is never a trial of agreement (neither agreement nor disagreement) and is reported apart.

**Definitions** over the 4 × 4 verdict block only (``n`` items decided on both sides, ``n_ij``
the count of baseline ``i`` × candidate ``j``, ``r_i``/``c_j`` the row/column sums):

- agreement ``p_o = Σ n_ii / n``;
- chance agreement ``p_e = Σ r_i · c_i / n²``;
- Cohen's ``κ = (p_o − p_e) / (1 − p_e)`` (Cohen 1960; scikit-learn's ``cohen_kappa_score``
  with unit weights), as an exact fraction. ``p_e = 1`` happens only when every item is in one
  and the same cell of the diagonal (all decisions identical, one category): κ is then defined
  as 1 (perfect agreement; scikit-learn returns NaN there). With ``n = 0`` κ is undefined
  (None).
- the one-sided 95 % Clopper–Pearson lower bound of ``p_o``
  (:func:`polytraders.model.binomial.clopper_pearson_lower`; 990 of 1,000 → 0.9832).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import msgspec

from polytraders.model.binomial import clopper_pearson_lower

VERDICTS: tuple[str, ...] = ("APPROVE", "REJECT", "RESHAPE", "HALT")
"""The risk verdicts, in the table's order."""

ABSENT = "ABSENT"
"""The label of a side that has no decision on the item."""

LABELS: tuple[str, ...] = (*VERDICTS, ABSENT)
"""Row and column labels of a :class:`Confusion` table."""

_INDEX = {label: i for i, label in enumerate(LABELS)}
_V = len(VERDICTS)


class Confusion(msgspec.Struct, frozen=True, kw_only=True):
    """A baseline × candidate table of counts over :data:`LABELS` (5 × 5).

    ``matrix[i][j]`` counts items the baseline labelled ``LABELS[i]`` and the candidate
    ``LABELS[j]``. Build with :meth:`empty` and :meth:`add`, or :meth:`of` from a mapping.
    """

    matrix: tuple[tuple[int, ...], ...]

    @classmethod
    def empty(cls) -> Confusion:
        """The all-zero table."""
        return cls(matrix=tuple((0,) * len(LABELS) for _ in LABELS))

    @classmethod
    def of(cls, counts: dict[str, dict[str, int]]) -> Confusion:
        """A table from ``{baseline label: {candidate label: count}}`` (missing cells 0).

        Raises:
            ValueError: an unknown label, a negative count, or a count in ABSENT × ABSENT.
        """
        rows = [[0] * len(LABELS) for _ in LABELS]
        for base, row in counts.items():
            for cand, count in row.items():
                if base not in _INDEX or cand not in _INDEX:
                    raise ValueError(f"unknown label in {base!r} × {cand!r}; labels {LABELS}")
                if count < 0 or (base == ABSENT and cand == ABSENT and count):
                    raise ValueError(f"invalid count {count} in {base} × {cand}")
                rows[_INDEX[base]][_INDEX[cand]] = count
        return cls(matrix=tuple(tuple(r) for r in rows))

    def count(self, baseline: str, candidate: str) -> int:
        """The count of one cell (labels from :data:`LABELS`)."""
        return self.matrix[_INDEX[baseline]][_INDEX[candidate]]

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{baseline label: {candidate label: count}}`` with every cell."""
        return {
            base: {cand: self.matrix[i][j] for j, cand in enumerate(LABELS)}
            for i, base in enumerate(LABELS)
        }

    def plus(self, other: Confusion) -> Confusion:
        """Cell-wise sum (pooling two comparisons of the same bot)."""
        return Confusion(
            matrix=tuple(
                tuple(a + b for a, b in zip(ra, rb, strict=True))
                for ra, rb in zip(self.matrix, other.matrix, strict=True)
            )
        )

    @property
    def compared(self) -> int:
        """Items decided on both sides (the 4 × 4 verdict block)."""
        return sum(sum(row[:_V]) for row in self.matrix[:_V])

    @property
    def agreed(self) -> int:
        """Items with the same verdict on both sides (the block's diagonal)."""
        return sum(self.matrix[i][i] for i in range(_V))

    @property
    def baseline_only(self) -> int:
        """Items only the baseline decided (candidate ABSENT)."""
        return sum(row[_V] for row in self.matrix[:_V])

    @property
    def candidate_only(self) -> int:
        """Items only the candidate decided (baseline ABSENT)."""
        return sum(self.matrix[_V][:_V])

    def kappa(self) -> Fraction | None:
        """Cohen's κ over the verdict block, exact (module docstring); None when nothing was
        compared."""
        n = self.compared
        if n == 0:
            return None
        rows = [sum(self.matrix[i][:_V]) for i in range(_V)]
        cols = [sum(self.matrix[i][j] for i in range(_V)) for j in range(_V)]
        p_o = Fraction(self.agreed, n)
        p_e = Fraction(sum(r * c for r, c in zip(rows, cols, strict=True)), n * n)
        if p_e == 1:
            return Fraction(1)
        return (p_o - p_e) / (1 - p_e)

    def agreement(self) -> Fraction | None:
        """``p_o`` exactly; None when nothing was compared."""
        return Fraction(self.agreed, self.compared) if self.compared else None

    def lower_bound(self, confidence: float = 0.95) -> float | None:
        """One-sided Clopper–Pearson lower bound of ``p_o``; None when nothing was compared."""
        if not self.compared:
            return None
        return clopper_pearson_lower(self.agreed, self.compared, confidence)


def decimal_text(value: Fraction | None, places: int = 6) -> str:
    """``value`` as a decimal string rounded half-even to ``places`` fraction digits
    (``Fraction(1)`` → ``"1.000000"``, ``Fraction(-1, 3)`` → ``"-0.333333"``); ``""`` for None.

    Raises:
        ValueError: ``places`` outside 0–28.
    """
    if not 0 <= places <= 28:
        raise ValueError("places must lie in 0..28")
    if value is None:
        return ""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def percent_text(value: Fraction | float | None, places: int = 2) -> str:
    """A proportion as a percentage with ``places`` decimals (``Fraction(997, 1000)`` →
    ``"99.70 %"``); ``"n/a"`` for None."""
    if value is None:
        return "n/a"
    exact = value if isinstance(value, Fraction) else Fraction(value)
    return f"{decimal_text(exact * 100, places)} %"
