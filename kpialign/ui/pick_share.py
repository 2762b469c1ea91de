"""The objective-pick share beside U: who picked the organisation's real objectives from a list with decoys.

Knowledge rather than self-report ("How scores work", section 2). Shown per department with the
same suppression as U, plus at least k people who answered the pick item itself.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign.scorecard.model import Scorecard


def pick_table(sc: Scorecard, units: list[int] | None = None) -> pd.DataFrame:
    """Department, share who picked the objectives (%), its 95 % interval, or hidden."""
    d = sc.departments
    if units is not None:
        d = d[d["department_id"].isin(units)]
    u = sc.understanding
    if sc.wave is not None and not u.empty:
        u = u[u["wave_id"] == sc.wave.wave_id][["department_id", "pick_low", "pick_high"]]
        d = d.merge(u, on="department_id", how="left")
    else:
        d = d.assign(pick_low=float("nan"), pick_high=float("nan"))
    shown = d["pick_share"].notna()
    return pd.DataFrame(
        {
            "department": d["department"],
            "picked %": (d["pick_share"] * 100).round(1),
            "95 % interval": [
                f"{lo * 100:.0f}–{hi * 100:.0f} %" if ok else "hidden"
                for lo, hi, ok in zip(d["pick_low"], d["pick_high"], shown, strict=True)
            ],
            "U %": (d["understanding"] * 100).round(1),
        }
    ).sort_values(["picked %", "department"], ascending=[False, True], na_position="last")


def pick_share_panel(table: pd.DataFrame) -> None:
    """The Survey results section: per department (:func:`pick_table`), the objective-pick share beside U."""
    st.subheader("Who knows the objectives")
    if table["picked %"].isna().all():
        st.info("No objective-pick share can be shown for this wave (no pick item, or every group too small).")
        return
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "picked %": st.column_config.ProgressColumn(
                "Picked the objectives", min_value=0, max_value=100, format="%.1f %%"
            ),
            "U %": st.column_config.NumberColumn("U % (self-report)", format="%.1f"),
        },
    )
    st.caption(
        "Share of respondents who picked the organisation's real objectives from a list with decoys — what people "
        "know, beside what they say (U). Hidden like U, and also where fewer than k people answered the pick item."
    )
