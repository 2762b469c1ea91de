"""Who may see which unit's figures: a manager's scorecard is the leaders' scorecard cut to their units.

A manager (``UserContext.managed_departments``: each unit they lead and everything below it)
sees the scorecard, survey results, comments and trends of those units only. The cut is made
here, in the scorecard layer, so every page and export that goes through :func:`scoped` or
:func:`check_unit` gets the same scope, whatever the navigation offers.

Privacy: a manager's view is a *subset of the cells of the leaders' view* — the same
suppression (k, complementary suppression within each division and among divisions,
per-question suppression) is computed once over the whole organisation and then cut. A manager
therefore never sees a figure a leader could not see, and no new total is formed over their
units, so subtracting a manager's units from their parent (or one manager's view from
another's) gives nothing the leaders' view does not already protect. The organisation-wide
totals (everyone sees them when results are shared back) stay in the view.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from sqlmodel import Session

from kpialign import audit
from kpialign.core.scoring import CorrelationResult
from kpialign.models import Role
from kpialign.scorecard.model import Scorecard
from kpialign.services.accounts import UserContext

OUT_OF_SCOPE = "That unit is outside the units you manage, so nothing about it can be shown here."
ALL_UNITS_ROLES = frozenset({Role.LEADER.value, Role.ADMIN.value, Role.HR.value})


def visible_units(user: UserContext) -> frozenset[int] | None:
    """The department ids whose figures ``user`` may see on the scorecard pages; None means all.

    Leaders, admins and HR see the whole organisation; a manager sees their units (with
    everything below them); anyone else sees no unit's scorecard figures.
    """
    if user.has(*ALL_UNITS_ROLES):
        return None
    if user.has(Role.MANAGER.value):
        return frozenset(user.managed_departments)
    return frozenset()


def may_see(user: UserContext, department_id: int) -> bool:
    units = visible_units(user)
    return units is None or int(department_id) in units


def refusal(session: Session, *, user: UserContext, department_id: int, where: str) -> str | None:
    """None when ``department_id`` is inside ``user``'s scope; otherwise the refusal to show.

    An out-of-scope request is audited in the caller's write transaction (who asked for which
    unit id, and where); the caller commits, then shows the message and nothing of the unit.
    It returns instead of raising so that the audit row is not rolled back with the transaction.
    """
    if may_see(user, department_id):
        return None
    audit.record(
        session,
        actor=user.email,
        action="refused_out_of_scope",
        entity="department",
        entity_id=int(department_id),
        after={"where": where},
    )
    return OUT_OF_SCOPE


def _keep(frame: pd.DataFrame, column: str, ids: frozenset[int]) -> pd.DataFrame:
    if frame is None or frame.empty or column not in frame.columns:
        return frame
    return frame[frame[column].isin(ids)].reset_index(drop=True)


def scoped(sc: Scorecard, user: UserContext) -> Scorecard:
    """The scorecard cut to ``user``'s units (unchanged for leaders, admins and HR).

    Departments, their KPIs, attainment, panel, survey cells, changes and division cells are
    limited to the units in scope; organisation-wide totals stay. The cross-department
    correlation (computed from every department) is blanked for a scoped view.
    """
    return cut_to(sc, visible_units(user))


def cut_to(sc: Scorecard, units: frozenset[int] | None) -> Scorecard:
    """The scorecard cut to ``units`` (:func:`visible_units`; None: the whole scorecard).

    What a user sees depends only on their visible units, so a cache of a scoped view keys on
    these units, never on who asked: two users with the same units share it, two with
    different units never do.
    """
    if units is None:
        return sc
    kpis = _keep(sc.kpis, "department_id", units)
    kpi_ids = frozenset(int(k) for k in kpis["kpi_id"]) if not kpis.empty else frozenset()
    lk = sc.likert
    if not lk.empty:
        lk = lk[(lk["unit_level"] == "organisation") | lk["unit_id"].isin(units)].reset_index(drop=True)
    ch = sc.changes
    if ch is not None and not ch.empty:
        ch = ch[ch["department_id"].isin(units)].reset_index(drop=True)
    return replace(
        sc,
        departments=_keep(sc.departments, "department_id", units),
        panel=_keep(sc.panel, "department_id", units),
        understanding=_keep(sc.understanding, "department_id", units),
        likert=lk,
        kpis=kpis,
        attainment=_keep(sc.attainment, "kpi_id", kpi_ids),
        changes=ch,
        links=_keep(sc.links, "kpi_id", kpi_ids),
        expected=_keep(sc.expected, "department_id", units),
        division_of={d: v for d, v in sc.division_of.items() if d in units},
        # division_respondents stays whole: the differencing guard needs the real parent totals
        correlation=CorrelationResult(
            float("nan"),
            float("nan"),
            float("nan"),
            float("nan"),
            0,
            float("nan"),
            "The correlation across departments is shown to leaders only.",
        ),
    )
