"""AppTest: Reviews, Actions, check-ins on KPI data, alerts on Home and the Department page's
check-ins and pack, on the small demo (a manager of Customer Success is added to a copy)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.models import Account
from kpialign.services import accounts, actions, checkins
from tests.app.conftest import new_app
from tests.conftest import add_unit_manager, sqlite_copy

MANAGER = "cs.manager@example.org"  # a manager of Customer Success only (the demo manager leads another unit)


@pytest.fixture
def copy_url(demo_sqlite_url, tmp_path):
    """A writable copy of the demo with a manager of Customer Success (the demo has none yet)."""
    url = sqlite_copy(demo_sqlite_url, tmp_path / "reviews.db")
    add_unit_manager(url, email=MANAGER, department="Customer Success")
    return url


def _texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "text", "error", "success", "info", "warning")
             for e in getattr(at, kind)]  # fmt: skip
    return "\n".join(str(p) for p in parts).replace("\\", "")  # here: plain() escapes punctuation


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_a_leader_prepares_a_review_from_the_data(app_as):
    at = app_as("leader")
    at.switch_page("pages/reviews.py").run()
    assert not at.exception
    text = _texts(at)
    assert "Red and amber KPIs" in text and "Survey changes since the previous wave" in text
    assert at.selectbox(key="reviews.period").value == "2026-Q3"
    assert any(len(df.value) for df in at.dataframe)


def test_a_manager_sees_only_their_unit_records_the_review_and_adds_an_action(copy_url, monkeypatch):
    at = new_app(copy_url, MANAGER, monkeypatch).run()
    at.switch_page("pages/reviews.py").run()
    assert not at.exception
    assert at.selectbox(key="reviews.department").options == ["Commercial / Customer Success"]
    at.text_area(key="reviews.summary").input("Response times are the problem")
    _button(at, "Save the review").click().run()
    assert not at.exception and "The review was saved." in _texts(at)
    at.text_input(key="reviews.action_title").input("Triage rota for incoming tickets")
    _button(at, "Add the action").click().run()
    assert not at.exception
    eng = db.make_engine(copy_url)
    with db.read_session(eng) as s:
        user = accounts.user_context(session=s, account=s.exec(select(Account).where(Account.email == MANAGER)).one())
        mine = actions.list_actions(session=s, user=user)
    eng.dispose()
    assert "Triage rota for incoming tickets" in set(mine["title"])
    assert set(mine["department"]) == {"Customer Success"}


def test_an_employee_sees_my_actions_only(app_as):
    at = app_as("employee")
    at.switch_page("pages/actions.py").run()
    assert not at.exception
    assert at.segmented_control(key="actions.view").options == ["My actions"]
    assert "Red KPIs without an action" not in _texts(at)


def test_a_leader_sees_the_organisations_actions_and_red_kpis_without_one(app_as):
    at = app_as("leader")
    at.switch_page("pages/actions.py").run()
    assert not at.exception
    assert at.segmented_control(key="actions.view").value == "Organisation"
    assert "1 overdue" in _texts(at)
    assert "Red KPIs without an action" in [h.value for h in at.subheader]


def test_the_owner_saves_a_check_in_on_the_kpi_data_page_and_an_empty_off_track_one_is_refused(copy_url, monkeypatch):
    at = new_app(copy_url, "kpi.owner@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/kpi_data.py").run()
    assert not at.exception
    at.radio(key="checkins.status").set_value("off_track")
    _button(at, "Save check-in").click().run()
    assert "needs an analysis" in _texts(at)
    at.radio(key="checkins.status").set_value("off_track")
    at.text_area(key="checkins.analysis").input("=1+1 two agents on leave")
    _button(at, "Save check-in").click().run()
    assert not at.exception and "Check-in saved" in _texts(at)
    eng = db.make_engine(copy_url)
    with db.read_session(eng) as s:
        frame = checkins.checkins_frame(session=s, periods=["2026-10"])
    eng.dispose()
    assert "=1+1 two agents on leave" in set(frame["analysis"])


def test_home_shows_the_alerts_with_counts_and_links(app_as):
    at = app_as("leader")
    at.switch_page("pages/home.py").run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["Overdue actions"] == "1"
    assert int(labels["Red KPIs without an action"]) >= 1


def test_an_employee_without_actions_gets_no_alerts_on_home(app_as):
    at = app_as("employee")
    at.switch_page("pages/home.py").run()
    assert not at.exception
    assert "Needs attention" not in [h.value for h in at.subheader]


def test_the_department_page_shows_check_ins_under_the_charts_and_offers_the_pack(app_as):
    at = app_as("leader")
    at.query_params["id"] = "2"  # Sales
    at.switch_page("pages/department.py").run()
    assert not at.exception
    assert "Review pack" in [h.value for h in at.subheader]
    kpis = at.dataframe[1].value  # after the scores' trends: the KPI table
    checkins = next(d.value for d in at.dataframe if list(d.value.columns[:3]) == ["KPI", "status", "period"])
    assert checkins["KPI"].tolist() == kpis["KPI"].tolist()  # one row per KPI, in the table's order
    statuses = {s if s.startswith("No ") else s.split(" ", 1)[1] for s in checkins["status"]}
    assert statuses <= {"On track", "At risk", "Off track", "No check-in yet"}
    assert statuses - {"No check-in yet"}, "the demo has check-ins for Sales"
