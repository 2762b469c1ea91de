"""Shared pieces of the line-of-sight pages (Our strategy, Our results, Team conversation, survey thanks).

Read models come from :mod:`kpialign.scorecard.sharing`, cached on the data version. User text
(objective titles and descriptions, names, KPI names) is shown with ``st.text``, dataframes or
:func:`~kpialign.ui.widgets.plain`, never as Markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.scorecard import scope, sharing
from kpialign.scorecard.model import Scorecard
from kpialign.services import accounts, question_bank, strategy
from kpialign.services.accounts import UserContext
from kpialign.ui import data, vega
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _strategy(version: int, url: str, department_id: int | None) -> sharing.StrategyView:
    sc = ui.get()
    with data.reading() as session:
        return sharing.strategy_view(session, sc, department_id=department_id)


def strategy_view(department_id: int | None) -> sharing.StrategyView:
    return _strategy(data.version(), str(data.engine().url), department_id)


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def _names(version: int, url: str) -> dict[int, str]:
    with data.reading() as session:
        frame = strategy.departments_frame(session=session)
    return dict(zip(frame["id"].astype(int), frame["name"], strict=True)) if not frame.empty else {}


def department_names() -> dict[int, str]:
    return _names(data.version(), str(data.engine().url))


def latest_closed() -> Scorecard:
    """The scorecard of the latest closed wave (results are shared as soon as a wave closes, even
    when it closed after the latest KPI month, which the scorecard's default wave follows)."""
    base = ui.get()
    closed = [w for w in base.waves if w.status == "closed"]
    if not closed or (base.wave is not None and base.wave.wave_id == closed[-1].wave_id):
        return base
    return ui.get(None, closed[-1].name)


def shared_results(sc: Scorecard, department_id: int | None) -> sharing.SharedResults:
    return sharing.shared_results(sc, department_id=department_id, names=department_names())


def refuse_out_of_scope(user: UserContext, department_id: int, where: str) -> None:
    """Stop the page with a plain refusal (audited) if ``department_id`` is outside ``user``'s scope."""
    if scope.may_see(user, department_id):
        return
    with data.writing(bump=False) as session:
        message = scope.refusal(session, user=user, department_id=department_id, where=where)
    if message:
        st.error(message, icon=":material/lock:")
        st.stop()


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _subtree(version: int, url: str, unit: int) -> frozenset[int]:
    with data.reading() as session:
        return accounts.subtree(session=session, roots={unit})


def subtree_of(unit: int) -> frozenset[int]:
    """``unit`` and every unit below it."""
    return _subtree(data.version(), str(data.engine().url), int(unit))


def managed_units(user: UserContext) -> list[int]:
    """The units named in a manager's role (not expanded), for pickers."""
    if user.account_id is None:
        return []
    with data.reading() as session:
        return accounts.manager_units_of(session=session, account_id=user.account_id)


# ------------------------------------------------------------------------------ render


def objectives(tree: pd.DataFrame, *, show_status: bool = True) -> None:
    """The objective tree as cards, two a row: each top-level objective with the objectives that
    cascade it inside its card (code and title, description, owner, status, who serves it)."""
    if tree.empty:
        st.info("No strategic objectives have been set up yet. An admin adds them on the Strategy setup page.")
        return
    groups: list[list] = []
    for r in tree.itertuples(index=False):
        if int(r.depth) == 0 or not groups:
            groups.append([r])
        else:
            groups[-1].append(r)
    cols = st.columns(2)
    for i, group in enumerate(groups):
        with cols[i % 2], st.container(border=True):
            for r in group:
                arrow = "↳ " * int(r.depth)
                st.markdown(f"{arrow}**{plain(r.code)} · {plain(r.title)}**")
                if r.description:
                    st.text(r.description)
                bits = [f"Owner: {r.owner}"]
                if show_status and r.status:
                    bits.append(f"This period: {r.status}")
                if r.departments:
                    bits.append(f"Served by: {r.departments}")
                st.caption(plain(" · ".join(bits)))


_STATUS_ICON = {
    "on target": ":material/check_circle:",
    "close to target": ":material/trending_flat:",
    "behind target": ":material/warning:",
    "well behind target": ":material/error:",
}


def kpi_cards(view: sharing.StrategyView) -> None:
    """A department's KPIs as cards: status and trend in words, the figures, what changed, and the
    objectives each serves (text, so that screen readers and phones show it as well as a table)."""
    if view.kpis.empty:
        st.info(view.note or "There are no KPIs to show.")
        return
    serves = view.serves.groupby("kpi_id") if not view.serves.empty else None
    multi = view.kpis["department"].nunique() > 1
    cols = st.columns(2)
    for i, k in enumerate(view.kpis.itertuples(index=False)):
        with cols[i % 2], st.container(border=True):
            title = f"{k.department}: {k.kpi}" if multi else k.kpi
            st.markdown(f"**{plain(title)}**")
            icon = _STATUS_ICON.get(k.status, ":material/help:")
            st.badge(k.words, icon=icon, color={"on target": "green", "close to target": "blue",
                     "behind target": "orange", "well behind target": "red"}.get(k.status, "gray"))  # fmt: skip
            unit = f" {k.unit}" if k.unit else ""
            figures = f"Actual {sharing.fmt_number(k.actual)}{unit}, target {sharing.fmt_number(k.target)}{unit}"
            st.text(f"{figures}. Since last period: {k.change}.")
            if serves is not None and k.kpi_id in serves.groups:
                links = serves.get_group(k.kpi_id)
                st.text(
                    "Serves: " + "; ".join(f"{o} ({h})" for o, h in zip(links["objective"], links["how"], strict=True))
                )
            else:
                st.text("Serves: not linked to an objective yet.")


def unit_result(res: sharing.UnitResult, *, k: int, spec: vega.Spec | None = None) -> None:
    """One unit's shared results: % favourable, the change in words, dimension bars (``spec``: the
    bars drawn before, from a cached section)."""
    c1, c2 = st.columns([1, 3])
    c1.metric("% favourable", ui.pct(res.fav), help=f"{res.unit}: from about {res.n} people; groups under {k} hidden")
    c2.text(f"Change since the previous wave: {res.change}")
    if res.dimensions.empty:
        return
    vega.show(spec if spec is not None else vega.spec(charts.dimension_bars(res.dimensions, unit=res.unit)))
    if "tag" in res.dimensions:
        tagged = res.dimensions[res.dimensions["tag"].fillna("") != ""]
        for t in tagged.itertuples(index=False):
            sure = "clearly" if bool(t.significant) else "not clearly (it may be chance)"
            way = "above" if t.diff > 0 else "below"
            points = round(abs(t.diff) * 100)
            st.text(
                f"{'Relative strength' if t.tag == 'strength' else 'Opportunity'}: {t.label} — "
                f"{points} point{'s' if points != 1 else ''} {way} the rest of the organisation, {sure}."
            )
    if res.level == "organisation":
        st.caption("Bars: % favourable per line-of-sight dimension, with its 95 % interval.")
    else:
        st.caption(
            "Bars: % favourable per dimension with its 95 % interval; orange ticks: the whole organisation. "
            "Strengths and opportunities compare with everyone else, after a Benjamini-Hochberg correction."
        )


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def _objective_titles(version: int, url: str) -> pd.DataFrame:
    with data.reading() as session:
        frame = strategy.objectives_frame(session=session, include_retired=False)
    return frame[["code", "title", "description", "depth"]] if not frame.empty else frame


def thank_you_objectives() -> None:
    """For a link respondent (no account) after submitting: the organisation's objectives."""
    frame = _objective_titles(data.version(), str(data.engine().url))
    if frame.empty:
        return
    st.subheader("What we are working towards")
    st.caption("The organisation's strategic objectives — the goals your answers help us align on.")
    st.dataframe(
        frame.assign(title=["  " * int(d) + t for d, t in zip(frame["depth"], frame["title"], strict=True)])[
            ["code", "title", "description"]
        ],
        hide_index=True,
        width="stretch",
        column_config={"code": "Code", "title": "Objective", "description": "What it means"},
    )


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _alphas(version: int, url: str, period: str | None, wave: str | None, department_id: int | None) -> pd.DataFrame:
    sc = ui.get(period, wave)
    if sc.wave is None:
        return pd.DataFrame()
    with data.reading() as session:
        res = sharing.dimension_reliability(session, sc, wave=sc.wave, department_id=department_id)
    rows = [{"dimension": r.dimension, "items": r.items, "n": r.n, "alpha": r.alpha, "low": r.low, "high": r.high}
            for r in res]  # fmt: skip
    return pd.DataFrame(rows, columns=["dimension", "items", "n", "alpha", "low", "high"])


def alpha_table(department_id: int | None, *, period: str | None, wave: str | None) -> None:
    """Cronbach's alpha per dimension (two or more items) of one department, where it may be shown."""
    alphas = _alphas(data.version(), str(data.engine().url), period, wave, department_id)
    if alphas.empty:
        return
    alphas = alphas.assign(
        label=alphas["dimension"].map(question_bank.DIMENSIONS).fillna(alphas["dimension"]),
        interval=[f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(alphas["low"], alphas["high"], strict=True)],
    )
    st.dataframe(
        alphas[["label", "items", "n", "alpha", "interval"]],
        hide_index=True,
        width="stretch",
        column_config={
            "label": "Dimension",
            "items": "Items",
            "n": "Complete responses",
            "alpha": st.column_config.NumberColumn("Cronbach's alpha", format="%.2f"),
            "interval": "Feldt 95 % interval",
        },
    )
    st.caption("Reliability of each dimension with two or more items: above 0.7 its items measure one thing.")
