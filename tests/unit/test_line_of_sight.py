"""Our strategy, results shared back and the manager's scope, on the small demo (both backends).

Privacy by attack: a manager's view is a subset of the leaders' cells, so no subtraction between a
manager's units and their parent, or between two managers' views, reaches a group below k.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pandas as pd
import pytest
from sqlmodel import select

from kpialign import db
from kpialign.demo import seed as demo
from kpialign.models import Account, AuditEvent, Department
from kpialign.scorecard import build, counts, scope, sharing
from kpialign.services import accounts


@pytest.fixture(scope="module")
def demo_data(demo_url):
    eng = db.make_engine(demo_url)
    with db.read_session(eng) as s:
        sc = build.build_scorecard(s)
        names = {int(d.id): d.name for d in s.exec(select(Department))}
        users = {
            role: accounts.user_context(session=s, account=s.exec(select(Account).where(Account.email == email)).one())
            for role, email in demo.DEMO_ACCOUNTS.items()
        }
        views = {"sales": sharing.strategy_view(s, sc, department_id=_id(names, "Sales"))}
        views["none"] = sharing.strategy_view(s, sc, department_id=None)
        views["commercial"] = sharing.strategy_view(s, sc, department_id=_id(names, "Commercial"))
    eng.dispose()
    return sc, names, users, views


def _id(names: dict[int, str], name: str) -> int:
    return next(i for i, n in names.items() if n == name)


def _manager(names, *units: str) -> accounts.UserContext:
    ids = {_id(names, u) for u in units}
    # here: the demo tree is two levels deep, so a division's subtree is itself plus its departments
    return accounts.UserContext(
        account_id=None,
        email="m@example.com",
        name="",
        roles=frozenset({"manager"}),
        managed_departments=frozenset(ids),
    )


# ------------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("attainment", "words"),
    [(1.0, "on target"), (0.8, "close to target"), (0.65, "behind target"), (0.3, "well behind target"),
     (float("nan"), "no value this period")],
)  # fmt: skip
def test_status_words_follow_the_scoring_thresholds(attainment, words):
    assert sharing.status_words(attainment, 75, 60) == words


def test_a_trend_is_named_only_when_significant():
    assert sharing.trend_words("improving", True) == "improving"
    assert sharing.trend_words("improving", False) == "no clear trend"
    assert sharing.trend_words("too few periods", False) == "too new to show a trend"


def test_change_words_say_whether_a_change_is_clear():
    assert (
        sharing.change_words(0.6, 0.5, 0.01, alpha=0.05, before_name="Q2") == "up 10 points since Q2 — a clear change"
    )
    assert "not a clear change" in sharing.change_words(0.45, 0.5, 0.4, alpha=0.05, before_name="Q2")
    assert sharing.change_words(0.5, 0.5, 1.0, alpha=0.05, before_name="Q2") == "the same as in Q2"


# ---------------------------------------------------------------------------- strategy


def test_strategy_view_shows_the_objective_tree_with_owners(demo_data):
    _sc, _names, _users, views = demo_data
    tree = views["sales"].objectives
    assert tree["code"].tolist() == ["OBJ1", "OBJ2", "OBJ3", "OBJ3.1", "OBJ4", "OBJ5"]  # child right after parent
    row = tree.set_index("code").loc["OBJ3.1"]
    assert row["depth"] == 1 and row["owner"] == "Pablo Production" and "Production" in row["departments"]
    assert tree.set_index("code").loc["OBJ5", "status"] == "no KPI serves it yet"


def test_strategy_view_lists_the_departments_kpis_and_the_objectives_they_serve(demo_data):
    sc, _names, _users, views = demo_data
    v = views["sales"]
    assert v.department == "Sales"
    assert {"New bookings", "Win rate", "Average discount", "Sales cycle length"} <= set(v.kpis["kpi"])
    served = v.serves.set_index("kpi")
    assert served.loc["New bookings", "objective"] == "OBJ1 Grow recurring revenue"
    assert served.loc["New bookings", "how"] == "strongly" and served.loc["Win rate", "how"] == "moderately"
    words = v.kpis.set_index("kpi")["words"]
    assert words["Sales cycle length"] == "on target, improving"  # quarterly, met its target, clear trend
    assert words["Win rate"].endswith("no clear trend")
    assert v.previous_period == "2026-09" and v.period == sc.period


def test_a_division_home_shows_the_kpis_of_its_departments_and_no_home_shows_a_note(demo_data):
    _sc, _names, _users, views = demo_data
    assert set(views["commercial"].kpis["department"]) == {"Sales", "Marketing", "Customer Success"}
    assert views["none"].kpis.empty and "ask an admin" in views["none"].note.lower()
    assert len(views["none"].objectives) == 6


# ----------------------------------------------------------------------- shared results


def test_results_are_shared_for_the_home_department_with_the_change_in_words(demo_data):
    sc, names, _users, _views = demo_data
    res = sharing.shared_results(sc, department_id=_id(names, "Sales"), names=names)
    assert res.wave is not None and res.wave.status == "closed"
    assert res.own.unit == "Sales" and not res.substituted and res.reason is None
    assert res.own.n >= res.wave.k and res.own.change.startswith(("up", "down", "the same"))
    assert set(res.own.dimensions["dimension"]) == {
        "awareness", "line_of_sight", "kpi_understanding", "cross_team", "leadership",
    }  # fmt: skip
    assert res.organisation.level == "organisation" and 0 < res.organisation.fav < 1


def test_a_unit_below_the_threshold_names_the_nearest_unit_and_gives_no_number(demo_data):
    sc, names, _users, _views = demo_data
    res = sharing.shared_results(sc, department_id=_id(names, "Legal"), names=names)
    assert res.substituted and res.own.unit == "Corporate" and res.own.level == "division"
    assert "Legal" in res.reason and not any(ch.isdigit() for ch in res.reason.replace(str(res.wave.k), ""))


def test_an_open_wave_is_never_shared(demo_data):
    sc, names, _users, _views = demo_data
    open_wave = next(w for w in sc.waves if w.status == "open")
    res = sharing.shared_results(replace(sc, wave=open_wave), department_id=_id(names, "Sales"), names=names)
    assert res.wave is None and res.own is None and res.organisation is None


# ---------------------------------------------------------------------------- scope


def test_a_division_manager_sees_only_their_division(demo_data):
    sc, names, users, _views = demo_data
    mine = scope.scoped(sc, users["manager"])
    assert set(mine.departments["department"]) == {"Sales", "Marketing", "Customer Success"}
    assert set(mine.kpis["department_id"].map(names)) == {"Sales", "Marketing", "Customer Success"}
    other = mine.likert[mine.likert["unit_level"] != "organisation"]
    assert set(other["unit_id"].map(names)) <= {"Sales", "Marketing", "Customer Success", "Commercial"}
    assert set(mine.changes["department_id"].map(names)) <= {"Sales", "Marketing", "Customer Success"}
    assert scope.scoped(sc, users["leader"]) is sc
    assert scope.visible_units(users["employee"]) == frozenset()


def test_out_of_scope_requests_are_refused_and_audited(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    with db.read_session(eng) as s:
        email = demo.DEMO_ACCOUNTS["manager"]
        manager = accounts.user_context(session=s, account=s.exec(select(Account).where(Account.email == email)).one())
        production = s.exec(select(Department.id).where(Department.name == "Production")).one()
        sales = s.exec(select(Department.id).where(Department.name == "Sales")).one()
    with db.write_session(eng, bump=False) as s:
        assert scope.refusal(s, user=manager, department_id=sales, where="department") is None
        assert scope.refusal(s, user=manager, department_id=production, where="department") == scope.OUT_OF_SCOPE
    with db.read_session(eng) as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.action == "refused_out_of_scope")).all()
    assert [(r.actor, r.entity_id) for r in rows] == [(email, str(production))]
    assert "department" in rows[0].detail and "Production" not in rows[0].detail
    eng.dispose()


def _cells(sc) -> pd.DataFrame:
    lk = sc.likert
    return lk.groupby(["wave_id", "unit_level", "unit_id", "question_id"], as_index=False)["count"].sum()


MANAGER_SCOPES = [("Commercial",), ("Production",), ("Corporate",), ("Finance", "Legal"), ("People & Culture",)]


@pytest.mark.parametrize("units", MANAGER_SCOPES, ids=lambda u: "+".join(u))
def test_every_figure_in_a_managers_view_is_a_leaders_figure(demo_data, units):
    sc, names, _users, _views = demo_data
    mine = _cells(scope.scoped(sc, _manager(names, *units)))
    leader = _cells(sc)
    joined = mine.merge(leader, on=["wave_id", "unit_level", "unit_id", "question_id"], how="left", suffixes=("", "_l"))
    assert joined["count_l"].notna().all() and (joined["count"] == joined["count_l"]).all()
    assert (
        not scope.scoped(sc, _manager(names, *units)).understanding.query("suppressed")["understanding"].notna().any()
    )


@pytest.mark.parametrize("units", MANAGER_SCOPES, ids=lambda u: "+".join(u))
def test_subtracting_a_managers_units_from_their_parent_reveals_no_small_group(demo_data, units):
    sc, names, _users, _views = demo_data
    mine = scope.scoped(sc, _manager(names, *units))
    for w in sc.waves:
        if w.status != "closed":
            continue
        u = sc.understanding[sc.understanding["wave_id"] == w.wave_id]
        resp = dict(zip(u["department_id"], u["respondents"].fillna(0), strict=True))
        for division in {sc.division_of[d] for d in mine.division_of}:
            # what this manager can see of the division: its total (if shown) and their shown units
            div_cells = mine.likert[(mine.likert["wave_id"] == w.wave_id) & (mine.likert["unit_level"] == "division")]
            children = [d for d, v in sc.division_of.items() if v == division]
            raw = sc.division_respondents
            div_n = int(raw[(raw["wave_id"] == w.wave_id) & (raw["division_id"] == division)]["respondents"].sum())
            shown = mine.understanding[
                (mine.understanding["wave_id"] == w.wave_id)
                & mine.understanding["department_id"].isin(children)
                & ~mine.understanding["suppressed"]
            ]
            if division in set(div_cells["unit_id"]):
                rest = div_n - int(shown["respondents"].sum())
                assert rest == 0 or rest >= w.k, f"{units}: {w.name} division minus shown units leaves {rest}"
            assert all(resp.get(d, 0) >= w.k for d in shown["department_id"])


def test_two_managers_views_together_show_nothing_the_leaders_view_protects(demo_data):
    sc, names, _users, _views = demo_data
    leader = _cells(sc)
    for a, b in itertools.combinations(MANAGER_SCOPES, 2):
        union = pd.concat(
            [_cells(scope.scoped(sc, _manager(names, *a))), _cells(scope.scoped(sc, _manager(names, *b)))]
        )
        union = union.drop_duplicates()
        assert len(union.merge(leader, on=list(union.columns))) == len(union), (a, b)


def test_alpha_per_dimension_is_given_for_a_shown_department_and_withheld_for_a_hidden_one(demo_url, demo_data):
    import pingouin

    sc, names, _users, _views = demo_data
    eng = db.make_engine(demo_url)
    with db.read_session(eng) as s:
        sales = sharing.dimension_reliability(s, sc, wave=sc.wave, department_id=_id(names, "Sales"))
        legal = sharing.dimension_reliability(s, sc, wave=sc.wave, department_id=_id(names, "Legal"))
        items = counts.item_table(s, wave_id=sc.wave.wave_id, department_ids=[_id(names, "Sales")])
    eng.dispose()
    assert legal == []
    by_dim = {a.dimension: a for a in sales}
    assert set(by_dim) == {"awareness", "line_of_sight", "kpi_understanding", "cross_team", "leadership"}
    assert by_dim["line_of_sight"].items == 3
    ref, _ = pingouin.cronbach_alpha(items[["LS1", "LS2", "LS3"]].dropna())
    assert by_dim["line_of_sight"].alpha == pytest.approx(ref)
