"""AppTest: the strategy map, conflicts, KPI links, committee and committees-setup pages on the small demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpialign import db
from kpialign.services import committees
from kpialign.services.accounts import user_context_by_id
from tests.app.conftest import account_id
from tests.conftest import sqlite_copy


@pytest.fixture
def demo_copy(demo_sqlite_url: str, tmp_path: Path) -> str:
    return sqlite_copy(demo_sqlite_url, tmp_path / "links-copy.db")


def _graphviz(at) -> str:
    charts = at.get("graphviz_chart")
    assert charts, "no graphviz chart"
    return charts[0].proto.spec


def test_the_strategy_map_draws_kpis_links_and_the_evidence_table(app_as):
    at = app_as("leader")
    at.switch_page("pages/strategy_map.py").run()
    assert not at.exception
    spec = _graphviz(at)
    assert "Converted marketing leads" in spec and "lag 2: supported" in spec and "opposite sign" in spec
    table = at.dataframe[0].value
    assert len(table) == 12 and set(table["evidence"]) == {
        "supported",
        "opposite sign",
        "no evidence",
        "not enough data",
    }
    assert any("loop" in i.value for i in at.info)  # the demo's cycle is pointed out


def test_the_map_filters_by_department(app_as):
    at = app_as("kpi_owner")
    at.switch_page("pages/strategy_map.py").run()
    full = _graphviz(at).count("k_")
    legal = [o for o in at.multiselect(key="strategy_map.departments").options if o.endswith("Legal")]
    at.multiselect(key="strategy_map.departments").select(legal[0]).run()
    assert not at.exception
    narrow = _graphviz(at)
    assert "Contract turnaround time" in narrow and "New bookings" not in narrow
    assert narrow.count("k_") < full
    at.multiselect(key="strategy_map.objectives").set_value([]).run()
    assert "Choose at least one objective." in [i.value for i in at.info]


def test_conflicts_page_lists_three_kinds_and_records_a_decision(demo_copy, app_as):
    at = app_as("leader", url=demo_copy)
    at.switch_page("pages/conflicts.py").run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["1", "1", "1"]
    opposite = at.dataframe[1].value
    assert opposite["driver"].tolist() == ["Freight cost per order"]
    at.text_input[0].input("Ship express to key accounts")
    at.text_area[0].input("Logistics keeps consolidation except for key accounts.")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and [s.value for s in at.success][-1].startswith("Recorded")
    decisions = at.dataframe[-1].value
    assert decisions["title"].tolist() == ["Ship express to key accounts"]
    assert decisions["department"].tolist() == ["Logistics"]


def _ids(url: str, sql: str) -> list[int]:
    from sqlalchemy import text

    eng = db.make_engine(url)
    try:
        with eng.connect() as conn:
            return [int(r[0]) for r in conn.execute(text(sql))]
    finally:
        eng.dispose()


def test_an_owner_draws_a_link_into_their_kpi_and_a_duplicate_is_refused(demo_copy, app_as):
    at = app_as("kpi_owner", url=demo_copy)
    at.switch_page("pages/kpi_links.py").run()
    assert not at.exception
    assert all(label.startswith("Customer Success — ") for label in at.selectbox[1].options)
    assert any(label.startswith("Logistics — ") for label in at.selectbox[0].options)
    (picking,) = _ids(demo_copy, "SELECT id FROM kpi WHERE name = 'Picking accuracy'")
    (complaints,) = _ids(demo_copy, "SELECT id FROM kpi WHERE name = 'Delivery complaints'")
    for _ in range(2):
        at.selectbox[0].set_value(picking)
        at.selectbox[1].set_value(complaints)
        at.text_area[0].input("Wrong items cause complaints")
        at.button[0].click().run()
        assert not at.exception
    assert [s.value for s in at.success] == []  # the second try is refused
    assert any("already drawn" in e.value for e in at.error)
    assert _ids(demo_copy, f"SELECT id FROM kpi_link WHERE driver_kpi_id = {picking} AND outcome_kpi_id = {complaints}")


def test_an_employee_on_a_committee_sees_it_and_hr_sees_none(app_as, demo_sqlite_url):
    at = app_as("employee")
    at.switch_page("pages/committee.py").run()
    assert not at.exception
    assert (
        at.selectbox(key="committee.pick").format_func(at.selectbox(key="committee.pick").value) == "Customer journey"
    )
    tables = [d.value for d in at.dataframe]
    assert any("Converted marketing leads" in set(t.get("name", [])) for t in tables)
    survey = next(t for t in tables if "favourable_pct" in t)
    assert set(survey["item"]) == {"CT1", "CT2"} and survey["answers"].min() >= 5
    hr = app_as("hr")
    hr.switch_page("pages/committee.py").run()
    assert not hr.exception and "not on any cross-functional committee" in hr.info[0].value
    assert not hr.dataframe


def test_an_admin_creates_a_committee_on_the_setup_page(demo_copy, app_as):
    at = app_as("admin", url=demo_copy)
    at.switch_page("pages/committees_setup.py").run()
    assert not at.exception and len(at.dataframe[0].value) == 1
    objectives = _ids(demo_copy, "SELECT id FROM objective WHERE code = 'OBJ3'")
    departments = _ids(demo_copy, "SELECT id FROM department WHERE name IN ('Production', 'Logistics')")
    at.text_input[0].input("Operations council")
    at.multiselect[0].set_value(objectives)
    at.multiselect[1].set_value(departments)
    at.button[0].click().run()
    assert not at.exception and [s.value for s in at.success] == ["Saved."]
    eng = db.make_engine(demo_copy)
    try:
        with db.read_session(eng) as s:
            admin = user_context_by_id(session=s, account_id=account_id(demo_copy, "admin@demo.kpialign.test"))
            frame = committees.committees_frame(session=s, user=admin)
            assert sorted(frame["name"]) == ["Customer journey", "Operations council"]
            assert frame.set_index("name").loc["Operations council", "departments"] == 2
    finally:
        eng.dispose()


def test_a_manager_records_decisions_only_for_conflicts_of_their_unit(demo_copy, app_as):
    from kpialign.models import AccountRole
    from kpialign.services import accounts

    (logistics,) = _ids(demo_copy, "SELECT id FROM department WHERE name = 'Logistics'")
    eng = db.make_engine(demo_copy)
    try:
        with db.write_session(eng) as s:
            m = accounts.create_user(session=s, email="mia.manager@example.org", roles=["employee"], password=None)
            # here: a role row directly, as tests/unit/review_fixtures.py does (manager scope is granted elsewhere)
            s.add(AccountRole(account_id=m.id, role="manager", department_id=logistics))
    finally:
        eng.dispose()
    at = app_as("mia.manager@example.org", url=demo_copy)
    at.switch_page("pages/strategy_map.py").run()
    assert not at.exception and at.get("graphviz_chart")
    at.switch_page("pages/conflicts.py").run()
    assert not at.exception
    conflicts = at.selectbox(key="conflicts.pick").options
    assert conflicts and all(
        "Logistics" in c for c in conflicts
    )  # diverging OBJ4 (People & Culture, Production) is not theirs
    assert at.selectbox(key="conflicts.department").options == ["Logistics"]
