"""Disclosure control: minimum group size, comments, complementary suppression, differencing guard."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# --------------------------------------------------------- survey cells (moved from scorecard)


def _likert_cells(answers_per_dept: dict[int, int], question_id: int = 1) -> pd.DataFrame:
    """All answers 4 ("agree") so that counts are easy to follow."""
    return pd.DataFrame(
        [
            {"wave_id": 1, "department_id": d, "question_id": question_id, "value": 4, "count": n}
            for d, n in answers_per_dept.items()
        ]
    )


def test_a_question_with_fewer_than_k_answers_is_hidden_with_a_complement():
    """Department 11 has 6 respondents (shown) but only 4 answered this item: hide it, and hide a
    sibling too so that the division total minus the shown sibling does not give back 4."""
    depts = pd.DataFrame({"department_id": [10, 11, 12], "division_id": [100, 100, 100]})
    sup = pd.DataFrame(
        {
            "wave_id": [1, 1, 1],
            "department_id": [10, 11, 12],
            "division_id": [100, 100, 100],
            "respondents": [10, 6, 10],
            "suppressed": [False, False, False],
            "division_suppressed": [False, False, False],
        }
    )
    likert = _likert_cells({10: 10, 11: 4, 12: 10})
    shown = privacy.shown_likert(likert, sup, depts, {1: 5})
    dept_cells = shown[shown["unit_level"] == "department"]
    assert 11 not in set(dept_cells["unit_id"])
    assert len(dept_cells) == 1  # a complementary sibling is hidden too
    division = shown[shown["unit_level"] == "division"]["count"].sum()
    # Whatever is shown, division total minus shown departments is never 0 < n < 5.
    hidden = division - dept_cells["count"].sum()
    assert hidden == 0 or hidden >= 5


def test_organisation_total_needs_k_respondents_not_three():
    depts = pd.DataFrame({"department_id": [10], "division_id": [100]})
    sup = pd.DataFrame(
        {"wave_id": [1], "department_id": [10], "division_id": [100], "respondents": [4],
         "suppressed": [True], "division_suppressed": [True]}
    )  # fmt: skip
    shown = privacy.shown_likert(_likert_cells({10: 4}), sup, depts, {1: 5})
    assert shown.empty


def test_export_question_cells_hide_small_answer_counts_with_a_complement_per_division():
    n = pd.Series([10, 4, 7, 12])
    already = pd.Series([False, False, False, True])
    division = pd.Series([1, 1, 1, 2])
    hidden = privacy.question_cells_hidden(n, already, division, 5)
    # 4 < k is hidden; alone it could be recovered from the division total, so 7 goes too.
    assert hidden.tolist() == [False, True, True, True]
    assert privacy.complete_suppression(pd.Series([3, 9, 6]), pd.Series([True, False, False]), 5).tolist() == [
        True,
        False,
        True,
    ]


def test_division_filter_refuses_hidden_divisions_and_a_small_rest():
    divisions = pd.DataFrame(
        {"wave_id": [1, 1, 1], "division_id": [7, 8, 9], "respondents": [20, 3, 12], "suppressed": [False, True, False]}
    )
    privacy.check_division_filter(divisions, 7, 5)  # rest 15: fine
    with pytest.raises(privacy.DisclosureRefused, match="Sales"):
        privacy.check_division_filter(divisions, 8, 5, name="Sales")
    with pytest.raises(privacy.DisclosureRefused):
        privacy.check_division_filter(divisions[divisions["division_id"] != 8].assign(respondents=[20, 3]), 7, 5)


def test_survey_suppression_hides_a_division_and_all_its_departments():
    respondents = pd.DataFrame({"wave_id": [1, 1, 1], "department_id": [10, 11, 12], "respondents": [9, 2, 1]})
    depts = pd.DataFrame({"department_id": [10, 11, 12], "division_id": [100, 200, 200]})
    sup = privacy.survey_suppression(respondents, depts, {1: 5}).set_index("department_id")
    assert bool(sup.loc[11, "division_suppressed"]) and bool(sup.loc[12, "suppressed"])
    # Division 200 (3) is hidden; division 100 alone beside the total would give it back, so it goes too.
    assert bool(sup.loc[10, "suppressed"])


def _loop_reference(df: pd.DataFrame, group_cols: list[str], n_col: str, k: int, parent_col: str) -> list[bool]:
    """The sibling-by-sibling loop ``suppress_counts`` used before it was made column-wise."""
    k = privacy.effective_k(k)
    n = df[n_col].fillna(0).astype("int64").reset_index(drop=True)
    hidden = list(n < k)
    parents = df[parent_col].astype("object").where(df[parent_col].notna(), "__none__").reset_index(drop=True)
    for _, idx in parents.groupby(parents, sort=False).groups.items():
        idx = list(idx)
        hidden_n = sum(int(n[i]) for i in idx if hidden[i])
        if hidden_n == 0 or hidden_n >= k:
            continue
        cands = [i for i in idx if not hidden[i] and n[i] > 0]
        cands.sort(key=lambda i: (int(n[i]), *(df.iloc[i][c] for c in group_cols)))  # stable: row order last
        for i in cands:
            if hidden_n >= k:
                break
            hidden[i] = True
            hidden_n += int(n[i])
    return hidden


@given(
    st.lists(
        st.tuples(st.sampled_from([0, 1, 2, 4, 6, 9]), st.sampled_from(["P", "Q", None]), st.sampled_from(["x", "y"])),
        min_size=1,
        max_size=40,
    ),
    st.integers(3, 8),
)
def test_column_wise_complementary_suppression_hides_the_same_cells_as_the_loop(rows, k):
    # Names run against the row order, so a tie between equal counts is broken by name, not by row.
    df = pd.DataFrame(rows, columns=["n", "parent", "tag"]).assign(department=lambda d: [f"D{99 - i}" for i in d.index])
    df.index = df.index * 3 + 100  # a non-default index: the result follows positions, not labels
    out = privacy.suppress_counts(df, ["tag", "department"], "n", k, parent_col="parent")
    assert out["suppressed"].tolist() == _loop_reference(df, ["tag", "department"], "n", k, "parent")
    assert out.drop(columns="suppressed").equals(df)  # the input's columns and order are kept
