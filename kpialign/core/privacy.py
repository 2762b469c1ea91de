"""Disclosure control for survey results: pure functions over pandas DataFrames.

kpialign is *confidential, not anonymous*: responses carry no identity, and these rules make
sure that nothing shown or exported lets anyone work out what a small group, or one person,
answered. Every page, chart and export that shows survey-derived figures goes through them.

Rules (DESIGN.md, "Privacy"):

1. **Minimum group size k** (:func:`effective_k`): no figure computed from fewer than ``k``
   responses is shown. ``k`` defaults to 5, is set per wave (``survey_wave.min_group``) and is
   never below :data:`MIN_K` = 3.
2. **Comments** need at least :data:`COMMENT_MIN` = 10 (:func:`comments_visible`).
3. **Complementary suppression** (:func:`suppress_counts` with ``parent_col``): when a parent
   total is shown beside its children, hiding one small child is not enough — total minus
   the shown children gives it back. Further siblings are hidden, smallest first, until the
   hidden respondents of each sibling group add up to at least ``k``.
4. **Differencing guard** (:func:`check_filter` / :func:`filter_allowed`): a filter (e.g.
   "tenure > 2 years" inside a department) is refused when its complement inside the parent
   has ``0 < n < k`` respondents, because parent minus filter would describe that small group.

Typical use in a scorecard or export::

    sizes = surveys.response_counts(session, wave_ids=[w])          # wave_id, department_id, n
    sizes = sizes.merge(departments[["department_id", "parent_id"]])
    sizes = privacy.suppress_counts(sizes, ["wave_id", "department_id"], "n", k, parent_col="parent_id")
    visible = sizes.loc[~sizes["suppressed"], ["wave_id", "department_id"]]
    # compute and show scores only for ``visible``; blank the rest with mask_suppressed()

Limits: suppression is computed per sibling group of one table. If the same cells appear in
several tables with different totals (several hierarchy levels, or cross-tabs), apply it at
each level with the parent's suppression in mind, or show only one level of totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import pandas as pd

from kpialign.core.errors import Refused

MIN_K = 3
DEFAULT_K = 5
COMMENT_MIN = 10


class DisclosureRefused(Refused):
    """A requested view would disclose a group smaller than the threshold; the message says why."""


def effective_k(k: int | None) -> int:
    """The threshold actually applied: ``k`` (default 5), never below :data:`MIN_K`."""
    return max(MIN_K, int(k) if k is not None else DEFAULT_K)


def comments_visible(n_comments: int, threshold: int = COMMENT_MIN) -> bool:
    """True when a group's free-text comments may be shown (at least ``threshold``, never below 10)."""
    return int(n_comments) >= max(COMMENT_MIN, int(threshold))


def suppress_counts(
    df: pd.DataFrame,
    group_cols: Sequence[str],
    n_col: str,
    k: int,
    parent_col: str | None = None,
) -> pd.DataFrame:
    """Mark cells that must not be shown; returns a copy with a boolean ``suppressed`` column.

    Args:
        df: one row per cell (e.g. one department in one wave), ``n_col`` its number of
            respondents (or invitees, for participation).
        group_cols: the columns that identify a cell; used only to break ties deterministically.
        n_col: the count column.
        k: the minimum group size (:func:`effective_k` is applied: never below 3).
        parent_col: if a total per parent is shown beside the cells, the column naming each
            cell's parent (rows with equal ``parent_col`` are siblings; ``None``/NaN values form
            one group). ``None`` means no totals are shown: primary suppression only.

    Primary suppression hides every cell with ``n < k`` (a cell with 0 has nothing to show).
    With ``parent_col``, within each sibling group where anything is hidden, further cells are
    hidden (smallest positive ``n`` first, ties by ``group_cols``) until the hidden cells hold
    at least ``k`` respondents in total; if even all siblings hold fewer than ``k``, all are
    hidden (and the parent total itself has ``n < k``, so the caller must hide it too).
    Hidden cells then always hold either 0 or at least ``k`` respondents together, so
    total - shown reveals no group smaller than ``k``.

    The input is not modified; row order is kept.
    """
    k = effective_k(k)
    missing = [c for c in [*group_cols, n_col, *([parent_col] if parent_col else [])] if c not in df.columns]
    if missing:
        raise KeyError(f"suppress_counts: columns not in the DataFrame: {missing}")
    out = df.copy()
    n = pd.to_numeric(out[n_col], errors="raise").fillna(0).astype("int64")
    if (n < 0).any():
        raise ValueError("suppress_counts: counts cannot be negative")
    suppressed = (n < k).to_numpy()
    if parent_col is not None and len(out):
        suppressed = _complementary(out, n.to_numpy(), suppressed, group_cols, parent_col, k)
    out["suppressed"] = suppressed.astype(bool)
    return out


def _complementary(
    df: pd.DataFrame, n: np.ndarray, primary: np.ndarray, group_cols: Sequence[str], parent_col: str, k: int
) -> np.ndarray:
    """Complementary suppression of :func:`suppress_counts`, all sibling groups at once.

    In a group whose hidden cells hold between 1 and k - 1 people, the shown cells with people
    are taken smallest first (ties by ``group_cols``, then row order) while the hidden total is
    still below k; a cell is taken when the hidden total before it is below k. Column-wise
    (a cumulative sum per group) rather than a loop per group: the same cells.
    """
    group = pd.factorize(df[parent_col].astype("object").where(df[parent_col].notna(), "__none__"))[0]
    hidden_n = np.bincount(group, weights=np.where(primary, n, 0)).astype("int64")
    needs = (hidden_n > 0) & (hidden_n < k)  # (a group with hidden cells of 0 people reveals no one)
    cand = ~primary & (n > 0) & needs[group]
    if not cand.any():
        return primary
    rows = np.flatnonzero(cand)
    order = (
        df.iloc[rows][list(group_cols)]
        .assign(_group=group[rows], _n=n[rows], _row=rows)
        .sort_values(["_group", "_n", *group_cols, "_row"], kind="mergesort")
    )
    g = order["_group"].to_numpy()
    taken_before = order.groupby("_group", sort=False)["_n"].cumsum().to_numpy() - order["_n"].to_numpy()
    take = hidden_n[g] + taken_before < k
    out = primary.copy()
    out[order["_row"].to_numpy()[take]] = True
    return out


def mask_suppressed(df: pd.DataFrame, value_cols: Sequence[str], flag_col: str = "suppressed") -> pd.DataFrame:
    """A copy with ``value_cols`` blanked (``<NA>``) where ``flag_col`` is true, for display/export."""
    out = df.copy()
    mask = out[flag_col].astype(bool)
    for c in value_cols:
        if pd.api.types.is_integer_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype("Int64") if pd.api.types.is_integer_dtype(out[c]) else out[c].astype("boolean")
        elif pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].astype("Float64")
        else:
            out[c] = out[c].astype("object")
        out.loc[mask, c] = pd.NA
    return out


def filter_allowed(selected_n: int, parent_n: int, k: int) -> bool:
    """Differencing guard: may a filtered subgroup of ``selected_n`` out of ``parent_n`` be shown?

    False when the subgroup itself is smaller than ``k`` (primary rule) or when its
    complement inside the parent, ``parent_n - selected_n``, has ``0 < n < k`` respondents
    (parent minus filter would describe that small group).
    """
    k = effective_k(k)
    if selected_n < 0 or parent_n < selected_n:
        raise ValueError("filter_allowed: need 0 <= selected_n <= parent_n")
    complement = parent_n - selected_n
    return selected_n >= k and not (0 < complement < k)


def check_filter(selected_n: int, parent_n: int, k: int, *, label: str = "this filter") -> None:
    """Raise :class:`DisclosureRefused` unless :func:`filter_allowed`; the message is safe to show."""
    k = effective_k(k)
    if selected_n < k:
        raise DisclosureRefused(f"Fewer than {k} people answered for {label}, so no results can be shown.")
    if not filter_allowed(selected_n, parent_n, k):
        raise DisclosureRefused(
            f"{label.capitalize()} leaves out fewer than {k} people of the whole group; showing it would let "
            "someone work out what that small group answered, so it is not allowed."
        )


# ------------------------------------------------------------------ survey cells of a wave
#
# The survey pages show departments beside their division's total and the organisation's
# total, so every rule below works on two levels: departments within their division, then
# divisions within the wave. ``k_of`` maps a wave id to its threshold (effective_k of the
# wave's min_group); a wave missing from it uses DEFAULT_K.


def survey_suppression(respondents: pd.DataFrame, depts: pd.DataFrame, k_of: Mapping[int, int]) -> pd.DataFrame:
    """Which department and division cells of each wave may be shown.

    ``respondents``: wave_id, department_id, respondents; ``depts``: department_id, division_id.
    Suppression is complementary within each division, then among divisions; a hidden division
    hides all of its departments. Returns wave_id, department_id, respondents, division_id,
    suppressed, division_suppressed.
    """
    if respondents.empty:
        return respondents.assign(division_id=pd.Series(dtype="int64"), suppressed=True, division_suppressed=True)
    cells = respondents.merge(depts[["department_id", "division_id"]], on="department_id")
    parts = []
    # One call per distinct k (usually one): sibling groups are (wave, division), then (wave).
    for k, grp in cells.groupby(cells["wave_id"].map(k_of).fillna(DEFAULT_K).astype(int)):
        grp = grp.assign(sib=grp["wave_id"].astype(str) + ":" + grp["division_id"].astype(str))
        grp = suppress_counts(grp, ["wave_id", "department_id"], "respondents", int(k), parent_col="sib")
        div = cast(pd.DataFrame, grp.groupby(["wave_id", "division_id"], as_index=False)["respondents"].sum())
        div = suppress_counts(div, ["wave_id", "division_id"], "respondents", int(k), parent_col="wave_id")
        hidden = div.loc[div["suppressed"], ["wave_id", "division_id"]].assign(division_suppressed=True)
        grp = grp.drop(columns="sib").merge(hidden, on=["wave_id", "division_id"], how="left")
        grp["division_suppressed"] = grp["division_suppressed"].fillna(False).astype(bool)
        grp["suppressed"] = grp["suppressed"] | grp["division_suppressed"]
        parts.append(grp)
    return pd.concat(parts, ignore_index=True)


def division_respondents(sup: pd.DataFrame) -> pd.DataFrame:
    """Respondents per wave and division of a :func:`survey_suppression` result, with the division's flag."""
    if sup.empty:
        return pd.DataFrame(columns=["wave_id", "division_id", "respondents", "suppressed"])
    return sup.groupby(["wave_id", "division_id"], as_index=False).agg(
        respondents=("respondents", "sum"), suppressed=("division_suppressed", "max")
    )


def check_division_filter(divisions: pd.DataFrame, division_id: int, k: int, *, name: str = "this division") -> None:
    """Differencing guard for a division filter beside the organisation total.

    ``divisions``: one wave's :func:`division_respondents`. Raises :class:`DisclosureRefused`
    when the division itself is too small or hidden, or when the rest of the organisation
    outside it has 0 < n < k respondents.
    """
    sel = divisions[divisions["division_id"] == division_id]
    if sel.empty or bool(sel["suppressed"].iloc[0]):
        raise DisclosureRefused(f"No survey figures can be shown for {name} in this wave (too few responses).")
    check_filter(int(sel["respondents"].iloc[0]), int(divisions["respondents"].sum()), k, label=f"the filter {name}")


def question_suppression(likert: pd.DataFrame, depts: pd.DataFrame, k_of: Mapping[int, int]) -> pd.DataFrame:
    """Per-question disclosure control: people may skip an item ("prefer not to say"), so a
    department shown by its respondents can still have fewer than k answers to one question.

    The same two-level complementary suppression as :func:`survey_suppression`, with each
    question's answer count as n: departments within their division, then divisions within
    the wave. Returns wave_id, question_id, department_id, q_suppressed, q_division_suppressed.
    """
    cols = ["wave_id", "question_id", "department_id", "q_suppressed", "q_division_suppressed"]
    if likert.empty:
        return pd.DataFrame(columns=cols)
    ans = likert.groupby(["wave_id", "question_id", "department_id"], as_index=False)["count"].sum()
    ans = ans.merge(depts[["department_id", "division_id"]], on="department_id")
    parts = []
    for k, grp in ans.groupby(ans["wave_id"].map(k_of).fillna(DEFAULT_K).astype(int)):
        key = ["wave_id", "question_id"]
        wq = grp["wave_id"].astype(str) + ":" + grp["question_id"].astype(str)  # column-wise: fast
        grp = grp.assign(sib=wq + ":" + grp["division_id"].astype(str))
        grp = suppress_counts(grp, [*key, "department_id"], "count", int(k), parent_col="sib")
        div = cast(pd.DataFrame, grp.groupby([*key, "division_id"], as_index=False)["count"].sum())
        div = div.assign(par=div["wave_id"].astype(str) + ":" + div["question_id"].astype(str))
        div = suppress_counts(div, [*key, "division_id"], "count", int(k), parent_col="par")
        hidden = div.loc[div["suppressed"], [*key, "division_id"]].assign(q_division_suppressed=True)
        grp = grp.merge(hidden, on=[*key, "division_id"], how="left")
        grp["q_division_suppressed"] = grp["q_division_suppressed"].fillna(False).astype(bool)
        grp["q_suppressed"] = grp["suppressed"] | grp["q_division_suppressed"]
        parts.append(grp[cols])
    return pd.concat(parts, ignore_index=True)


def shown_likert(likert: pd.DataFrame, sup: pd.DataFrame, depts: pd.DataFrame, k_of: Mapping[int, int]) -> pd.DataFrame:
    """Likert counts of the cells that may be shown: departments, divisions, organisation.

    A cell is shown only when both the respondent-level suppression (``sup``, from
    :func:`survey_suppression`) and the per-question suppression allow it, so no cell rests on
    fewer than k answers and no hidden cell can be recovered by subtraction from a shown total.
    The organisation total needs at least k respondents in the wave and k answers to the question.
    """
    cols = ["wave_id", "unit_id", "unit_level", "question_id", "value", "count"]
    if likert.empty:
        return pd.DataFrame(columns=cols)
    lk = likert.merge(
        sup[["wave_id", "department_id", "division_id", "suppressed", "division_suppressed"]],
        on=["wave_id", "department_id"],
        how="inner",
    )
    lk = lk.merge(question_suppression(likert, depts, k_of), on=["wave_id", "question_id", "department_id"], how="left")
    lk[["q_suppressed", "q_division_suppressed"]] = (
        lk[["q_suppressed", "q_division_suppressed"]].fillna(True).astype(bool)
    )
    dept = lk[~lk["suppressed"] & ~lk["q_suppressed"]].rename(columns={"department_id": "unit_id"})
    dept = dept.assign(unit_level="department")
    div = cast(
        pd.DataFrame,
        lk[~lk["division_suppressed"] & ~lk["q_division_suppressed"]]
        .groupby(["wave_id", "division_id", "question_id", "value"], as_index=False)["count"]
        .sum(),
    )
    div = div.rename(columns={"division_id": "unit_id"}).assign(unit_level="division")
    org = (
        lk.groupby(["wave_id", "question_id", "value"], as_index=False)["count"]
        .sum()
        .assign(unit_id=0, unit_level="organisation")
    )
    tot = sup.groupby("wave_id")["respondents"].sum()
    answers = org.groupby(["wave_id", "question_id"])["count"].transform("sum")
    k_org = org["wave_id"].map(k_of).fillna(5)
    org = org[(org["wave_id"].map(tot).fillna(0) >= k_org) & (answers >= k_org)]
    return pd.concat([dept[cols], div[cols], org[cols]], ignore_index=True)


# ------------------------------------------------------------------------ export cells


def complete_suppression(n: pd.Series, hidden: pd.Series, k: int) -> pd.Series:
    """Complementary suppression on top of an existing mask (siblings under one shown total).

    Hide further cells, smallest positive ``n`` first, until the hidden cells hold 0 or at
    least ``k`` (the same rule as :func:`suppress_counts`, which cannot start from cells
    hidden for another reason).
    """
    k = effective_k(k)
    hidden = hidden.astype(bool).copy()
    total = int(n[hidden].sum())
    if total == 0 or total >= k:
        return hidden
    for idx in n[~hidden & (n > 0)].sort_values(kind="mergesort").index:
        hidden.loc[idx] = True
        total += int(n.loc[idx])
        if total >= k:
            break
    return hidden


def question_cells_hidden(n: pd.Series, hidden: pd.Series, division: pd.Series, k: int) -> pd.Series:
    """Per-question cells of one question in an export: a cell already hidden (its department
    is) or with fewer than k answers is hidden, with complementary suppression within each
    division (whose per-question total the pages show). ``division`` is aligned with ``n``."""
    k = effective_k(k)
    out = hidden.astype(bool) | (n < k)
    for d in set(division.tolist()):
        idx = n.index[(division == d).to_numpy()]
        out.loc[idx] = complete_suppression(n.loc[idx], out.loc[idx], k)
    return out


def participation_visible(invited: int, k: int | None) -> bool:
    """True when a group's participation (or anything that adds up to it, such as how many links
    are still unused) may be shown: at least ``k`` were invited."""
    return int(invited) >= effective_k(k)


# ----------------------------------------------------------------- open waves and comments

RELEASED_STATUS = "closed"


def results_released(wave_status: str) -> bool:
    """True when a wave's survey results (scores, answers, comments) may be shown or exported.

    Only a closed wave's: results that change with each submission let a watcher difference one
    person's answers (look, wait for one colleague to submit, look again). Participation has its
    own rule and may be shown while a wave is open.
    """
    return wave_status == RELEASED_STATUS


def comment_groups_shown(sizes: pd.DataFrame, threshold: int, *, id_col: str = "department_id") -> set[int]:
    """The groups (one department's own respondents each) whose comments may be read.

    ``sizes`` has ``id_col`` and ``n`` (comments per group). A group is shown with at least the
    comment threshold (never below :data:`COMMENT_MIN`), and only if complementary suppression
    over the groups side by side leaves it visible. Groups are never rolled up: a division's
    comments minus a visible department's would give away a hidden department's texts.
    """
    if sizes.empty:
        return set()
    threshold = max(COMMENT_MIN, int(threshold))
    df = sizes[[id_col, "n"]].copy()
    df["parent"] = 0
    df = suppress_counts(df, [id_col], "n", threshold, parent_col="parent")
    keep = ~df["suppressed"] & df["n"].map(lambda n: comments_visible(n, threshold))
    return {int(i) for i in df.loc[keep, id_col]}


def item_shown(n_answered: int, k: int | None) -> bool:
    """A figure of one item (e.g. the objective-pick share) needs at least k people who answered
    that item, on top of its group being shown: skipping an item must not shrink the group below k."""
    return int(n_answered) >= effective_k(k)
