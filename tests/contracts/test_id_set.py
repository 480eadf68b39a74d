"""The compact id sets are exact sets: the same answers as a Python set for any ids, in any
order, and only a few ranges for ids numbered in sequence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polytraders.contracts.id_set import IdSet, OrderIdSet
from polytraders.contracts.ids import client_order_id, intent_id

# ids that stress the split: numbered ones under a few prefixes (with leading zeros, digits in
# the prefix, a bare number), and arbitrary text
numbered = st.builds(
    lambda prefix, number, zero: f"{prefix}{'0' if zero else ''}{number}",
    st.sampled_from(["strat.a/s17/i", "x", "", "run-9/e", "é/"]),
    st.integers(0, 60),
    st.booleans(),
)
any_id = st.one_of(numbered, st.text(max_size=8))
order_ids = st.one_of(
    st.builds(lambda i, leg: f"strat.a/s5/i{i}/o{leg}", st.integers(0, 40), st.integers(0, 2)),
    st.builds(lambda i, leg: f"b/i{i}/o{leg}", st.integers(0, 5), st.sampled_from(["0", "01"])),
    any_id,
)


@given(st.lists(any_id, max_size=80), st.lists(any_id, max_size=20))
def test_id_set_answers_as_a_set(added: list[str], probes: list[str]) -> None:
    ids = IdSet(added)
    expected = set(added)
    assert len(ids) == len(expected)
    assert sorted(ids) == sorted(expected)  # every id once, none invented
    for probe in [*added, *probes]:
        assert (probe in ids) == (probe in expected)


@given(st.lists(order_ids, max_size=80), st.lists(order_ids, max_size=20))
def test_order_id_set_answers_as_a_set(added: list[str], probes: list[str]) -> None:
    ids = OrderIdSet(added)
    expected = set(added)
    assert len(ids) == len(expected)
    assert sorted(ids) == sorted(expected)
    for probe in [*added, *probes]:
        assert (probe in ids) == (probe in expected)


@given(st.permutations(range(300)))
def test_numbers_in_any_order_merge_into_one_range(order: list[int]) -> None:
    ids = IdSet()
    for n in order:
        ids.add(intent_id("strat.a/s1", n))
    assert len(ids) == 300 and ids.ranges == 1
    assert intent_id("strat.a/s1", 300) not in ids and intent_id("strat.a/s1", 299) in ids


def test_a_run_of_order_ids_is_a_few_ranges() -> None:
    """A run's client order ids (one leg, intents numbered in sequence) with every third one
    still missing (open orders) cost one range per gap; filling the gaps leaves one."""
    ids = OrderIdSet()
    cids = [client_order_id(intent_id("strat.a/s1", n), 0) for n in range(3_000)]
    for n, cid in enumerate(cids):
        if n % 3:
            ids.add(cid)
    assert ids.ranges == 1_000
    for cid in cids[::3]:
        ids.add(cid)
    assert ids.ranges == 1 and len(ids) == 3_000
    assert all(cid in ids for cid in cids)
    assert client_order_id(intent_id("strat.a/s1", 5), 1) not in ids  # another leg
    assert "strat.a/s1/i5" not in ids  # an intent id is not an order id
