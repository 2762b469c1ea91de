"""Disclosure control: minimum group size, comments, complementary suppression, differencing guard."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from kpialign.core import privacy


def _cells(ns: dict[str, int], parent="Division") -> pd.DataFrame:
    return pd.DataFrame({"department": list(ns), "n": list(ns.values()), "parent": parent})


def test_k_is_never_below_3_and_defaults_to_5():
    assert privacy.effective_k(None) == 5
    assert privacy.effective_k(1) == 3
    assert privacy.effective_k(8) == 8


def test_primary_suppression_hides_groups_below_k():
    out = privacy.suppress_counts(_cells({"A": 4, "B": 5, "C": 0}), ["department"], "n", 5)
    assert out["suppressed"].tolist() == [True, False, True]
    assert out["n"].tolist() == [4, 5, 0], "input values are kept; the flag says what to hide"


def test_primary_suppression_uses_at_least_3_even_if_asked_for_less():
    out = privacy.suppress_counts(_cells({"A": 2, "B": 3}), ["department"], "n", 1)
    assert out["suppressed"].tolist() == [True, False]


def test_complementary_suppression_hides_the_smallest_sibling_too():
    df = _cells({"A": 40, "B": 12, "C": 7, "D": 2})
    out = privacy.suppress_counts(df, ["department"], "n", 5, parent_col="parent")
    assert out.set_index("department")["suppressed"].to_dict() == {"A": False, "B": False, "C": True, "D": True}


def test_complementary_suppression_adds_siblings_until_hidden_reach_k():
    df = _cells({"A": 1, "B": 1, "C": 1, "D": 1, "E": 30})
    out = privacy.suppress_counts(df, ["department"], "n", 5, parent_col="parent")
    # four hidden cells hold 4 < 5, so the last sibling must be hidden too.
    assert out["suppressed"].all()


def test_siblings_are_grouped_by_parent():
    df = pd.concat([_cells({"A": 2, "B": 9, "C": 20}, "X"), _cells({"D": 9, "E": 20}, "Y")], ignore_index=True)
    out = privacy.suppress_counts(df, ["department"], "n", 5, parent_col="parent").set_index("department")
    assert out["suppressed"].to_dict() == {"A": True, "B": True, "C": False, "D": False, "E": False}


def test_only_empty_hidden_cells_need_no_complement():
    out = privacy.suppress_counts(_cells({"A": 0, "B": 9, "C": 20}), ["department"], "n", 5, parent_col="parent")
    assert out["suppressed"].tolist() == [True, False, False]


def _recoverable(df: pd.DataFrame, k: int) -> list[str]:
    """An attacker who sees the parent total and the shown cells: which hidden cells can be pinned
    down to a value in 1..k-1? (Enumerate every split of the hidden sum consistent with what is shown.)"""
    total = int(df["n"].sum())
    shown = df[~df["suppressed"]]
    hidden = df[df["suppressed"]]
    remainder = total - int(shown["n"].sum())
    found = []
    if len(hidden) == 0:
        return found
    possible: dict[str, set[int]] = {d: set() for d in hidden["department"]}
    for combo in itertools.product(range(remainder + 1), repeat=len(hidden)):
        if sum(combo) == remainder:
            for d, v in zip(hidden["department"], combo, strict=True):
                possible[d].add(v)
    for d, values in possible.items():
        if len(values) == 1 and 0 < next(iter(values)) < k:
            found.append(d)
    return found


def test_a_suppressed_cell_cannot_be_recovered_by_subtraction():
    df = _cells({"Sales": 23, "Finance": 11, "Legal": 3, "Ops": 8})
    naive = privacy.suppress_counts(df, ["department"], "n", 5)  # primary only: the attack works
    assert _recoverable(naive, 5) == ["Legal"]
    protected = privacy.suppress_counts(df, ["department"], "n", 5, parent_col="parent")
    assert protected.set_index("department")["suppressed"].to_dict() == {
        "Sales": False, "Finance": False, "Legal": True, "Ops": True,
    }  # fmt: skip
    assert _recoverable(protected, 5) == []
    assert protected.loc[protected["suppressed"], "n"].sum() >= 5


@pytest.mark.parametrize("seed", range(25))
def test_no_random_table_leaks_a_small_cell(seed):
    import random

    rng = random.Random(seed)
    ns = {f"D{i}": rng.choice([0, 1, 2, 3, 4, 6, 9, 15]) for i in range(rng.randint(2, 5))}
    k = rng.choice([3, 5])
    out = privacy.suppress_counts(_cells(ns), ["department"], "n", k, parent_col="parent")
    assert not out.loc[~out["suppressed"], "n"].lt(k).any()
    assert _recoverable(out, k) == []


def test_mask_suppressed_blanks_values():
    df = privacy.suppress_counts(_cells({"A": 2, "B": 9}).assign(score=[0.5, 0.7]), ["department"], "n", 5)
    out = privacy.mask_suppressed(df, ["n", "score"])
    assert out["n"].isna().tolist() == [True, False]
    assert out["score"].isna().tolist() == [True, False]
    assert df["n"].tolist() == [2, 9]


def test_missing_columns_and_negative_counts_are_errors():
    with pytest.raises(KeyError):
        privacy.suppress_counts(_cells({"A": 2}), ["department"], "count", 5)
    with pytest.raises(ValueError):
        privacy.suppress_counts(_cells({"A": -1}), ["department"], "n", 5)


def test_comments_need_10_never_less():
    assert not privacy.comments_visible(9)
    assert privacy.comments_visible(10)
    assert privacy.comments_visible(10, threshold=3)
    assert not privacy.comments_visible(9, threshold=3)
    assert not privacy.comments_visible(11, threshold=12)


def test_differencing_guard_refuses_small_complements():
    assert privacy.filter_allowed(20, 20, 5)  # the whole group: complement 0
    assert privacy.filter_allowed(15, 20, 5)  # complement 5
    assert not privacy.filter_allowed(17, 20, 5)  # complement 3: parent - filter = 3 people
    assert not privacy.filter_allowed(4, 20, 5)  # the filtered group itself is too small
    with pytest.raises(privacy.DisclosureRefused, match="leaves out fewer than 5"):
        privacy.check_filter(18, 20, 5, label="tenure over 2 years")
    with pytest.raises(privacy.DisclosureRefused, match="Fewer than 5"):
        privacy.check_filter(2, 20, 5)
    with pytest.raises(ValueError):
        privacy.filter_allowed(21, 20, 5)
