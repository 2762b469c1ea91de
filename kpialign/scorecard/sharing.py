"""Line of sight for everyone: the strategy as an employee sees it, results shared back, a team's view.

Read models over a built :class:`~kpialign.scorecard.model.Scorecard` (plus a few small
queries for names and descriptions). Every survey figure here comes from the scorecard's
``likert`` frame, which holds only the cells :mod:`kpialign.core.privacy` lets anyone show, so
a unit below the thresholds has no figure to give: it is named, with the nearest unit that
can be shown (its division, else the organisation).

Words, not codes: a KPI's status and trend become "on target, improving"; a change between
waves becomes "up 6 points since 2026 Q2 — a clear change" or "about the same".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import literal
from sqlmodel import Session, select

from kpialign.core import dimensions
from kpialign.core.periods import month_label
from kpialign.models import Account, Department, Objective
from kpialign.scorecard import counts
from kpialign.scorecard.model import Scorecard, WaveRef
from kpialign.services import accounts
from kpialign.services.question_bank import DIMENSIONS

# ------------------------------------------------------------------------------ words


def status_words(attainment: float, green: float, amber: float) -> str:
    """A KPI's attainment (0..cap) in words; the thresholds are the scoring settings' (0..100)."""
    if attainment is None or pd.isna(attainment):
        return "no value this period"
    score = float(attainment) * 100
    if attainment >= 1:
        return "on target"
    if score >= green:
        return "close to target"
    if score >= amber:
        return "behind target"
    return "well behind target"


def trend_words(direction: object, significant: object) -> str:
    """A trend test in plain words: improving / worsening only when significant after BH."""
    if direction == "too few periods" or direction is None or (isinstance(direction, float) and math.isnan(direction)):
        return "too new to show a trend"
    if bool(significant) and direction in ("improving", "worsening"):
        return str(direction)
    return "no clear trend"


def contribution_words(contribution: float) -> str:
    """How much a KPI serves an objective (contribution -1..1) in words."""
    c = float(contribution)
    if c < 0:
        return "works against it"
    if c >= 0.7:
        return "strongly"
    if c >= 0.4:
        return "moderately"
    return "a little"


def change_words(now: float, before: float, p: float, *, alpha: float, before_name: str) -> str:
    """A change of % favourable between waves, e.g. "up 6 points since 2026 Q2 — a clear change"."""
    if pd.isna(before) or pd.isna(now):
        return f"no comparable result from {before_name}"
    points = round((now - before) * 100)
    if points == 0:
        return f"the same as in {before_name}"
    way = "up" if points > 0 else "down"
    size = f"{abs(points)} point{'s' if abs(points) != 1 else ''}"
    if not pd.isna(p) and p < alpha:
        return f"{way} {size} since {before_name} — a clear change"
    return f"{way} {size} since {before_name} — not a clear change (a difference this size can be chance)"


# --------------------------------------------------------------------------- strategy


@dataclass
class StrategyView:
    """What the "Our strategy" page shows for one person."""

    period: str | None
    previous_period: str | None
    objectives: pd.DataFrame  # objective_id, code, title, description, depth, owner, status, departments
    department_id: int | None
    department: str | None
    kpis: pd.DataFrame  # kpi_id, department, kpi, unit, actual, target, status, trend, words, change, serves
    serves: pd.DataFrame  # kpi_id, kpi, objective (code + title), contribution, how
    changes: list[str] = field(default_factory=list)
    note: str | None = None


def objective_tree(session: Session, sc: Scorecard) -> pd.DataFrame:
    """Active objectives in tree order with description, owner, this period's status in words
    and the departments serving them (names)."""
    rows = session.execute(
        select(
            Objective.id, Objective.code, Objective.title, Objective.description, Objective.parent_id, Account.name,
            Account.email,
        )
        .outerjoin(Account, Account.id == Objective.owner_id)  # type: ignore[arg-type]
        .where(Objective.active == literal(True))
        .order_by(Objective.code)
    ).all()  # fmt: skip
    cols = ["objective_id", "code", "title", "description", "parent_id", "owner_name", "owner_email"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df.assign(depth=0, owner="", status="", departments="")
    df["owner"] = [
        (n or e) if (n or e) else "no owner named" for n, e in zip(df["owner_name"], df["owner_email"], strict=True)
    ]
    parent = dict(zip(df["objective_id"], df["parent_id"], strict=True))
    depth = {}
    for i in df["objective_id"]:
        d, cur = 0, i
        while parent.get(cur) is not None and not pd.isna(parent.get(cur)) and d < 20:
            cur, d = int(parent[cur]), d + 1
        depth[i] = d
    df["depth"] = df["objective_id"].map(depth)
    # tree order: each child right after its parent
    children: dict[object, list[int]] = {}
    for i, p in zip(df["objective_id"], df["parent_id"], strict=True):
        children.setdefault(None if pd.isna(p) else int(p), []).append(int(i))
    order: list[int] = []

    def walk(node: object) -> None:
        for c in children.get(node, []):
            order.append(c)
            walk(c)

    walk(None)
    df = df.set_index("objective_id").loc[[i for i in order if i in set(df["objective_id"])]].reset_index()
    obj = sc.objectives.set_index("objective_id") if not sc.objectives.empty else pd.DataFrame()
    s = sc.settings
    names = _department_names(session)
    status, serving = [], []
    for i in df["objective_id"]:
        if i in obj.index:
            r = obj.loc[i]
            if bool(r.get("gap", False)):
                status.append("no KPI serves it yet")
            else:
                status.append(status_words(r.get("score", np.nan), s.green, s.amber))
            serving.append(", ".join(sorted(names.get(d, "?") for d in (r.get("departments") or []))))
        else:
            status.append("")
            serving.append("")
    df["status"] = status
    df["departments"] = serving
    return df[["objective_id", "code", "title", "description", "depth", "owner", "status", "departments"]]


def _department_names(session: Session) -> dict[int, str]:
    return {int(i): str(n) for i, n in session.execute(select(Department.id, Department.name)).all()}


def _previous_values(sc: Scorecard) -> pd.DataFrame:
    """Per KPI: the value before the one in force this period (the last period's comparison)."""
    att = sc.attainment
    if att.empty or sc.month is None:
        return pd.DataFrame(columns=["kpi_id", "prev_period", "prev_actual", "prev_attainment"])
    now = sc.kpis[["kpi_id", "period_used"]].dropna()
    a = att[att["month"] <= sc.month].merge(now, on="kpi_id")
    a = a[a["period"] != a["period_used"]].sort_values(["kpi_id", "month"])
    last = a.groupby("kpi_id").tail(1)
    return last.rename(columns={"period": "prev_period", "actual": "prev_actual", "attainment": "prev_attainment"})[
        ["kpi_id", "prev_period", "prev_actual", "prev_attainment"]
    ]


def fmt_number(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def kpi_words(sc: Scorecard, department_ids: list[int] | set[int] | frozenset[int]) -> tuple[pd.DataFrame, list[str]]:
    """The KPIs of these departments in words, and what changed since the last period."""
    s = sc.settings
    names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
    k = sc.kpis[sc.kpis["department_id"].isin(list(department_ids))].copy()
    cols = ["kpi_id", "department", "kpi", "unit", "actual", "target", "status", "trend", "words", "change"]
    if k.empty:
        return pd.DataFrame(columns=cols), []
    for c in ("attainment", "actual", "target_used", "direction", "significant", "period_used"):
        if c not in k.columns:
            k[c] = np.nan
    k = k.merge(_previous_values(sc), on="kpi_id", how="left")
    k["department"] = k["department_id"].map(names).fillna("")
    k["kpi"] = k["name"]
    k["status"] = [status_words(a, s.green, s.amber) for a in k["attainment"]]
    k["prev_status"] = [status_words(a, s.green, s.amber) for a in k["prev_attainment"]]
    k["trend"] = [trend_words(d, x) for d, x in zip(k["direction"], k["significant"], strict=True)]
    k["words"] = [
        st if tr in ("too new to show a trend",) else f"{st}, {tr}"
        for st, tr in zip(k["status"], k["trend"], strict=True)
    ]
    k["target"] = k["target_used"].where(k["target_used"].notna(), k.get("target"))
    changes, lines = [], []
    rank = {"well behind target": 0, "behind target": 1, "close to target": 2, "on target": 3}
    for r in k.itertuples(index=False):
        if pd.isna(r.actual):
            changes.append("no value this period")
            continue
        if pd.isna(r.prev_actual):
            changes.append("first value")
            continue
        text = f"{fmt_number(r.prev_actual)} → {fmt_number(r.actual)} (since {r.prev_period})"
        if r.prev_status != r.status and r.prev_status in rank and r.status in rank:
            better = rank[r.status] > rank[r.prev_status]
            text += f"; now {r.status}, was {r.prev_status}"
            lines.append(f"{r.kpi} {'improved' if better else 'slipped'} to {r.status} (was {r.prev_status}).")
        changes.append(text)
    k["change"] = changes
    return k[cols].reset_index(drop=True), lines


def served_objectives(sc: Scorecard, kpi_ids: list[int]) -> pd.DataFrame:
    """Which objectives each KPI serves, directly, and how much."""
    cols = ["kpi_id", "objective", "contribution", "how"]
    lk = sc.links
    if lk.empty or not kpi_ids:
        return pd.DataFrame(columns=cols)
    lk = lk[lk["kpi_id"].isin(kpi_ids)]
    if "direct" in lk.columns:
        lk = lk[lk["direct"].astype(bool)]
    obj = sc.objectives.set_index("objective_id")
    out = lk.assign(
        objective=lk["objective_id"].map(
            lambda i: f"{obj.loc[i, 'code']} {obj.loc[i, 'title']}" if i in obj.index else "?"
        ),
        how=lk["contribution"].map(contribution_words),
    )
    return out.sort_values(["kpi_id", "contribution"], ascending=[True, False])[cols].reset_index(drop=True)


def strategy_view(session: Session, sc: Scorecard, *, department_id: int | None) -> StrategyView:
    """The strategy page for a person whose home unit is ``department_id`` (None: no home unit).

    A home unit without KPIs of its own (a division) shows the KPIs of the units below it.
    """
    tree = objective_tree(session, sc)
    prev = month_label(sc.month - 1) if sc.month is not None else None
    if department_id is None:
        return StrategyView(
            sc.period,
            prev,
            tree,
            None,
            None,
            pd.DataFrame(),
            pd.DataFrame(),
            note="Your account has no home department yet, so this page shows the organisation's strategy. "
            "Ask an admin to set your department to see its KPIs here.",
        )
    dept = session.get(Department, department_id)
    units = accounts.subtree(session=session, roots={department_id})
    own = set(sc.kpis.loc[sc.kpis["department_id"] == department_id, "kpi_id"])
    ids = {department_id} if own else set(units)
    kpis, lines = kpi_words(sc, ids)
    serves = served_objectives(sc, kpis["kpi_id"].astype(int).tolist()) if not kpis.empty else pd.DataFrame()
    if not serves.empty:
        serves = serves.merge(kpis[["kpi_id", "kpi"]], on="kpi_id")
    return StrategyView(
        sc.period,
        prev,
        tree,
        department_id,
        dept.name if dept else None,
        kpis,
        serves,
        changes=lines,
        note=None
        if not kpis.empty
        else "Your department has no KPIs yet; the objectives above are what it works towards.",
    )


# ------------------------------------------------------------------------ shared results


@dataclass
class UnitResult:
    """Survey results of one unit in one wave, as far as the thresholds allow."""

    unit_id: int  # 0: the organisation
    unit: str
    level: str  # department | division | organisation
    fav: float
    n: int
    change: str
    dimensions: pd.DataFrame  # dimension, label, fav, low, high, n, items (+ org_fav, diff, q, tag)


@dataclass
class SharedResults:
    wave: WaveRef | None
    previous: WaveRef | None
    organisation: UnitResult | None
    own: UnitResult | None  # the home unit, or the nearest unit that passes the thresholds
    asked_unit: str | None  # the home unit's name
    substituted: bool  # own is not the home unit itself
    reason: str | None  # why the home unit cannot be shown


def _cells(sc: Scorecard, wave_id: int, level: str, unit_id: int) -> pd.DataFrame:
    lk = sc.likert
    if lk.empty:
        return lk
    return lk[(lk["wave_id"] == wave_id) & (lk["unit_level"] == level) & (lk["unit_id"] == unit_id)]


def _overall(cells: pd.DataFrame) -> tuple[float, int]:
    if cells.empty:
        return math.nan, 0
    total = int(cells["count"].sum())
    fav = int(cells.loc[cells["value"] >= dimensions.FAVOURABLE_FROM, "count"].sum())
    n = int(cells.groupby("question_id")["count"].sum().max())
    return (fav / total if total else math.nan), n


def unit_result(sc: Scorecard, wave: WaveRef, level: str, unit_id: int, label: str) -> UnitResult | None:
    """A unit's shown results in ``wave`` (None when none of its cells may be shown)."""
    cells = _cells(sc, wave.wave_id, level, unit_id)
    if cells.empty:
        return None
    fav, n = _overall(cells)
    change = "this is the first wave"
    if sc.previous_wave is not None and sc.previous_wave.closes_on < wave.closes_on:
        before = _cells(sc, sc.previous_wave.wave_id, level, unit_id)
        fb, nb = _overall(before)
        p = dimensions.two_proportion_p(fav, n, fb, nb)
        change = change_words(fav, fb, p, alpha=sc.settings.alpha, before_name=sc.previous_wave.name)
    dims = dimensions.dimension_scores(cells, sc.questions)
    if level != "organisation":
        org = dimensions.dimension_scores(_cells(sc, wave.wave_id, "organisation", 0), sc.questions)
        so = dimensions.strengths_and_opportunities(dims, org, alpha=sc.settings.alpha)
        dims = dims.merge(so[["dimension", "org_fav", "diff", "q", "significant", "label"]], on="dimension", how="left")
        dims = dims.rename(columns={"label": "tag"})
    dims = dims.assign(label=dims["dimension"].map(DIMENSIONS).fillna(dims["dimension"]))
    return UnitResult(unit_id, label, level, fav, n, change, dims)


def shared_results(sc: Scorecard, *, department_id: int | None, names: dict[int, str]) -> SharedResults:
    """Results shared back after a wave closes: the organisation's, and the home unit's or the
    nearest unit that passes the thresholds (its division, else only the organisation).

    ``sc`` must be built for a closed wave (the default wave is the latest closed one); an open
    wave's results are never shared.
    """
    wave = sc.wave if sc.wave is not None and sc.wave.status == "closed" else None
    if wave is None:
        return SharedResults(None, None, None, None, None, False, None)
    org = unit_result(sc, wave, "organisation", 0, "the whole organisation")
    if department_id is None:
        return SharedResults(wave, sc.previous_wave, org, None, None, False, None)
    asked = names.get(department_id, "your department")
    k = wave.k
    division_ids = set(sc.division_of.values())
    if department_id in division_ids and department_id not in set(sc.departments["department_id"]):
        level = "division"
    else:
        level = "department"
    own = unit_result(sc, wave, level, department_id, asked)
    if own is not None:
        return SharedResults(wave, sc.previous_wave, org, own, asked, False, None)
    reason = (
        f"Results for {asked} cannot be shown: fewer than {k} people answered there, or showing them would let "
        "someone work out what a small group answered."
    )
    division = sc.division_of.get(department_id)
    if division is not None and division != department_id:
        near = unit_result(sc, wave, "division", division, names.get(division, "your division"))
        if near is not None:
            return SharedResults(wave, sc.previous_wave, org, near, asked, True, reason)
    return SharedResults(wave, sc.previous_wave, org, None, asked, True, reason)


def dimension_reliability(
    session: Session, sc: Scorecard, *, wave: WaveRef, department_id: int | None = None
) -> list[dimensions.DimensionAlpha]:
    """Cronbach's alpha per dimension (two or more items) for the organisation or one department.

    Only for a closed wave and a department whose results may be shown (the scorecard's
    suppression); otherwise an empty list.
    """
    if wave.status != "closed":
        return []
    if department_id is not None:
        u = sc.understanding
        row = u[(u["wave_id"] == wave.wave_id) & (u["department_id"] == department_id)]
        if row.empty or bool(row["suppressed"].iloc[0]):
            return []
    items = counts.item_table(
        session, wave_id=wave.wave_id, department_ids=None if department_id is None else [department_id]
    )
    if items.empty:
        return []
    q = sc.questions
    return dimensions.dimension_alphas(items, dict(zip(q["code"], q["dimension"].fillna(""), strict=True)))
