"""Our strategy, Our results, Team conversation and the manager's scope on the scorecard pages (AppTest).

A manager of the Commercial division must never see another division's survey or scorecard
figures by any page, URL, filter or export.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from kpialign import db, exports
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.models import AuditEvent, Department
from kpialign.scorecard import scope
from kpialign.services import accounts
from tests.app.conftest import TIMEOUT, account_id, new_app
from tests.conftest import sqlite_copy

ROOT = Path(__file__).resolve().parents[2]
COMMERCIAL = {"Sales", "Marketing", "Customer Success"}
ELSEWHERE = {"Production", "Logistics", "Finance", "People & Culture", "Legal", "Operations", "Corporate"}


@pytest.fixture
def demo_copy_sqlite(demo_sqlite_url: str, tmp_path: Path) -> str:
    return sqlite_copy(demo_sqlite_url, tmp_path / "demo-copy.db")


def _dept(url: str, name: str) -> int:
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        value = int(s.exec(select(Department.id).where(Department.name == name)).one())
    eng.dispose()
    return value


def _page(url: str, who: str, page: str, monkeypatch, **params: str):
    at = new_app(url, DEMO_ACCOUNTS.get(who, who), monkeypatch)
    at.run()
    for k, v in params.items():
        at.query_params[k] = v
    return at.switch_page(page).run(timeout=TIMEOUT)


def _texts(at) -> str:
    parts = [e.value for e in (*at.text, *at.markdown, *at.caption, *at.header, *at.subheader, *at.title)]
    parts += [str(e.value) for e in (*at.info, *at.warning, *at.error)]
    # captions carry escaped user text (kpialign.ui.widgets.plain): compare what a reader sees
    return "\n".join(str(p) for p in parts).replace("\\", "").replace("\u200b", "")


def test_an_employee_starts_on_our_strategy_and_a_leader_on_home(app_as):
    assert [t.value for t in app_as("employee").title] == ["Our strategy"]
    assert [t.value for t in app_as("manager").title] == ["Our strategy"]
    assert [t.value for t in app_as("leader").title] == ["Organisation at a glance"]


def test_strategy_page_shows_the_departments_kpis_and_the_objectives_they_serve(app_as):
    at = app_as("employee")
    assert not at.exception
    text = _texts(at)
    assert "Sales: our KPIs" in text
    assert "Serves: OBJ1 Grow recurring revenue (strongly)" in text
    assert "Owner: Pablo Production" in text  # objectives with their owners
    assert "What changed since the last period" in text


def test_strategy_page_without_a_home_department_shows_the_organisation_and_a_note(app_as):
    at = app_as("admin")  # the demo admin has no home department
    at.switch_page("pages/strategy.py").run()
    assert not at.exception
    assert any("Ask an admin to set your department" in i.value for i in at.info)
    assert "OBJ1 · Grow recurring revenue" in _texts(at)


def test_our_results_shows_the_organisation_and_the_home_department(app_as, demo_sqlite_url):
    from kpialign.services import actions

    eng = db.make_engine(demo_sqlite_url)
    with db.read_session(eng) as s:
        committed = actions.actions_for_department(session=s, department_id=_dept(demo_sqlite_url, "Sales"))
    eng.dispose()
    at = app_as("employee")
    at.switch_page("pages/our_results.py").run()
    assert not at.exception
    assert [h.value for h in at.header][:2] == ["The whole organisation", "Sales"]
    assert len(at.metric) == 2 and all(m.value.endswith("%") for m in at.metric)
    assert "Change since the previous wave" in _texts(at)
    assert "What we are doing about it" in [h.value for h in at.header]
    if committed.empty:
        assert any("has not recorded any actions yet" in i.value for i in at.info)
    else:  # the demo's review follow-ups for Sales
        assert list(at.dataframe[-1].value["title"]) == list(committed["title"])


def test_a_small_department_names_the_nearest_unit_and_shows_no_number_of_its_own(demo_copy_sqlite, monkeypatch):
    eng = db.make_engine(demo_copy_sqlite)
    with db.write_session(eng) as s:
        accounts.create_user(
            session=s, email="lee@demo.kpialign.test", roles=["employee"], password=None, department="Legal"
        )
    eng.dispose()
    at = _page(demo_copy_sqlite, "lee@demo.kpialign.test", "pages/our_results.py", monkeypatch)
    assert not at.exception
    assert any("Results for Legal cannot be shown" in w.value for w in at.warning)
    assert "The nearest unit whose results can be shown is Corporate:" in _texts(at)
    assert [m.help.split(":")[0] for m in at.metric] == ["the whole organisation", "Corporate"]


# ------------------------------------------------------------------------ manager scope


def test_a_division_manager_picks_only_their_departments(demo_sqlite_url, monkeypatch):
    at = _page(demo_sqlite_url, "manager", "pages/department.py", monkeypatch)
    assert not at.exception
    options = {o.split(" (")[0] for o in at.selectbox(key="department.choice").options}
    assert options == COMMERCIAL


def test_overview_and_survey_results_show_a_manager_only_their_division(demo_sqlite_url, monkeypatch):
    at = _page(demo_sqlite_url, "manager", "pages/overview.py", monkeypatch)
    assert not at.exception
    shown = set()
    for df in at.dataframe:
        frame = df.value.data if hasattr(df.value, "data") else df.value
        for col in ("department", "Department"):
            if col in getattr(frame, "columns", []):
                shown |= set(frame[col].astype(str))
    assert shown and shown <= COMMERCIAL
    at = _page(demo_sqlite_url, "manager", "pages/survey_results.py", monkeypatch)
    assert not at.exception
    assert at.selectbox(key="survey_results.division").options == ["All divisions", "Commercial"]
    assert not any(name in _texts(at) for name in ELSEWHERE)


@pytest.mark.parametrize(("page", "param"), [("pages/department.py", "id"), ("pages/team_conversation.py", "unit")])
def test_a_url_pointing_outside_the_scope_is_refused_and_audited(demo_copy_sqlite, monkeypatch, page, param):
    production = _dept(demo_copy_sqlite, "Production")
    at = _page(demo_copy_sqlite, "manager", page, monkeypatch, **{param: str(production)})
    assert not at.exception
    assert [e.value for e in at.error] == [scope.OUT_OF_SCOPE]
    assert not at.metric and not at.dataframe and "Production" not in _texts(at)
    eng = db.make_engine(demo_copy_sqlite)
    with db.read_session(eng) as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.action == "refused_out_of_scope")).all()
    eng.dispose()
    assert [(r.actor, r.entity_id) for r in rows] == [(DEMO_ACCOUNTS["manager"], str(production))]


def test_a_url_inside_the_scope_opens_the_unit(demo_sqlite_url, monkeypatch):
    at = _page(
        demo_sqlite_url, "manager", "pages/department.py", monkeypatch, id=str(_dept(demo_sqlite_url, "Marketing"))
    )
    assert not at.exception and not at.error
    assert at.selectbox(key="department.choice").value.startswith("Marketing")
    assert "Line-of-sight dimensions" in [s.value for s in at.subheader]


def test_team_conversation_guides_a_manager_through_their_units_results(demo_sqlite_url, monkeypatch):
    at = _page(demo_sqlite_url, "department_manager", "pages/team_conversation.py", monkeypatch)
    assert not at.exception
    assert at.selectbox(key="team_conversation.unit").options == ["Production"]
    headers = [h.value for h in at.header]
    assert headers == ["1. How Production sees it", "2. What people wrote", "3. Commit to actions"]
    assert at.metric and at.metric[0].value.endswith("%")


def test_a_manager_can_export_nothing(demo_sqlite_url):
    eng = db.make_engine(demo_sqlite_url)
    with db.read_session(eng) as s:
        for kind in exports.KINDS:
            with pytest.raises(exports.ExportError, match="not allowed"):
                exports.prepare_export(s, kind=kind, roles={"manager", "employee"}, wave="2026 Q3")
    eng.dispose()
    assert exports.allowed_kinds({"manager"}) == []
    assert account_id(demo_sqlite_url, DEMO_ACCOUNTS["manager"])


def test_admin_makes_an_employee_manager_of_a_unit_on_the_users_page(demo_copy_sqlite, monkeypatch):
    target = account_id(demo_copy_sqlite, DEMO_ACCOUNTS["employee"])
    logistics = _dept(demo_copy_sqlite, "Logistics")
    at = _page(demo_copy_sqlite, "admin", "pages/admin_users.py", monkeypatch)
    at.selectbox(key="admin_users.account").set_value(target).run()
    at.multiselect(key=f"admin_users.roles.{target}").set_value(["employee", "manager"])
    [save] = [b for b in at.button if b.label == "Save roles"]
    save.click().run()
    assert any("at least one unit" in e.value for e in at.error)  # refused: nothing written
    at.multiselect(key=f"admin_users.roles.{target}").set_value(["employee", "manager"])
    at.multiselect(key=f"admin_users.units.{target}").set_value([logistics])
    [save] = [b for b in at.button if b.label == "Save roles"]
    save.click().run()
    assert not at.exception and [s.value for s in at.success] == ["Roles saved."]
    eng = db.make_engine(demo_copy_sqlite)
    with db.read_session(eng) as s:
        assert accounts.user_context_by_id(session=s, account_id=target).managed_departments == {logistics}
    eng.dispose()
