"""Confusion table, exact Cohen's kappa and the agreement's lower bound
(polytraders.model.agreement)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from polytraders.model.agreement import (
    ABSENT,
    LABELS,
    Confusion,
    decimal_text,
    percent_text,
)


def test_kappa_of_the_textbook_two_rater_table() -> None:
    # Cohen's kappa article (Wikipedia): 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → κ = 0.4
    table = Confusion.of(
        {"APPROVE": {"APPROVE": 20, "REJECT": 5}, "REJECT": {"APPROVE": 10, "REJECT": 15}}
    )
    assert table.compared == 50
    assert table.agreed == 35
    assert table.kappa() == Fraction(2, 5)
    assert decimal_text(table.kappa()) == "0.400000"
    assert table.agreement() == Fraction(7, 10)


def test_kappa_matches_the_float_formula_on_a_shadow_table() -> None:
    # the stale-book guard loosened from 15 s to 30 s on the shipped sample
    table = Confusion.of({"APPROVE": {"APPROVE": 3838}, "REJECT": {"APPROVE": 165, "REJECT": 96}})
    n = 3838 + 165 + 96
    p_o = (3838 + 96) / n
    p_e = ((3838 / n) * ((3838 + 165) / n)) + (((165 + 96) / n) * (96 / n))
    kappa = table.kappa()
    assert kappa is not None
    assert float(kappa) == pytest.approx((p_o - p_e) / (1 - p_e), abs=1e-12)
    assert decimal_text(kappa) == "0.521426"


def test_perfect_agreement_in_one_category_has_kappa_one() -> None:
    # p_e = 1: every decision APPROVE on both sides (scikit-learn returns NaN here)
    table = Confusion.of({"APPROVE": {"APPROVE": 4108}})
    assert table.kappa() == 1
    assert decimal_text(table.kappa()) == "1.000000"


def test_a_constant_baseline_gives_kappa_zero_whatever_the_raw_agreement() -> None:
    table = Confusion.of({"APPROVE": {"APPROVE": 385, "HALT": 493, "REJECT": 57}})
    assert table.kappa() == 0
    assert table.agreement() == Fraction(385, 935)


def test_one_sided_items_are_neither_agreement_nor_disagreement() -> None:
    table = Confusion.of(
        {"APPROVE": {"APPROVE": 90, ABSENT: 7}, "REJECT": {"REJECT": 10}, ABSENT: {"APPROVE": 5}}
    )
    assert table.compared == 100
    assert table.agreed == 100
    assert table.baseline_only == 7
    assert table.candidate_only == 5
    assert table.agreement() == 1


def test_nothing_compared_has_no_figures() -> None:
    table = Confusion.of({ABSENT: {"APPROVE": 3}})
    assert table.compared == 0
    assert table.kappa() is None
    assert table.agreement() is None
    assert table.lower_bound() is None
    assert decimal_text(table.kappa()) == ""
    assert percent_text(table.agreement()) == "n/a"


def test_lower_bound_of_990_in_1000_is_98_3_percent() -> None:
    # ../shared/research/governance.md §3: 10 disagreements in 1,000 → lower bound 98.3 %
    table = Confusion.of({"APPROVE": {"APPROVE": 900, "REJECT": 10}, "REJECT": {"REJECT": 90}})
    lower = table.lower_bound()
    assert lower is not None
    assert lower == pytest.approx(0.983097, abs=1e-6)  # P(X ≥ 990; 1000, p) = 0.05 there
    assert percent_text(lower, 1) == "98.3 %"


def test_pooling_adds_cell_by_cell_and_dict_round_trips() -> None:
    first = Confusion.of({"APPROVE": {"APPROVE": 3, "REJECT": 1}})
    second = Confusion.of({"REJECT": {"REJECT": 2}, ABSENT: {"HALT": 1}})
    pooled = first.plus(second)
    assert pooled.count("APPROVE", "REJECT") == 1
    assert pooled.count("REJECT", "REJECT") == 2
    assert pooled.count(ABSENT, "HALT") == 1
    assert Confusion.of(pooled.as_dict()) == pooled
    assert list(pooled.as_dict()) == list(LABELS)


@pytest.mark.parametrize(
    "counts",
    [{"MAYBE": {"APPROVE": 1}}, {"APPROVE": {"APPROVE": -1}}, {ABSENT: {ABSENT: 1}}],
)
def test_invalid_tables_are_refused(counts: dict[str, dict[str, int]]) -> None:
    with pytest.raises(ValueError):
        Confusion.of(counts)
