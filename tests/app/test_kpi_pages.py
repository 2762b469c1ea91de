"""AppTest: the KPI pages (strategy setup, alignment map, KPI data, import, audit log) on the small demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kpialign import audit, db
from kpialign.services import measurements
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy

ROOT = Path(__file__).resolve().parents[2]
MY_PAGES = [
    "pages/strategy_setup.py",
    "pages/alignment_map.py",
    "pages/kpi_data.py",
    "pages/kpi_import.py",
    "pages/audit_log.py",
]


@pytest.fixture
def writable_url(demo_sqlite_url, tmp_path):
    return sqlite_copy(demo_sqlite_url, tmp_path / "kpi-pages.db")


def _texts(at) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.text]
    parts += [e.value for e in at.error] + [e.value for e in at.success] + [e.value for e in at.info]
    parts += [e.value for e in at.warning]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("path", MY_PAGES)
def test_admin_opens_every_kpi_page(app_as, path):
    at = app_as("admin")
    at.switch_page(path).run()
    assert not at.exception
    assert at.title and at.title[0].value in {
        "Strategy setup",
        "Alignment map",
        "KPI data",
        "Import KPI data",
        "Audit log",
    }
    assert "You do not have access" not in _texts(at)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("kpi_owner", "pages/strategy_setup.py"),
        ("kpi_owner", "pages/audit_log.py"),
        ("leader", "pages/kpi_data.py"),
        ("leader", "pages/kpi_import.py"),
        ("employee", "pages/alignment_map.py"),
    ],
)
def test_pages_refuse_other_roles(app_as, demo_sqlite_url, monkeypatch, role, path):
    at = app_as(role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(path)  # not in this user's navigation...
    # ...and the page itself refuses when opened directly (defence in depth)
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_sqlite_url)
    page = AppTest.from_file(str(ROOT / path), default_timeout=60)
    page.session_state["auth.account_id"] = at.session_state["auth.account_id"]
    page.session_state["auth.signed_in_at"] = at.session_state["auth.signed_in_at"]
    page.run()
    assert not page.exception
    assert [e.value for e in page.error] == ["You do not have access to this page."]
    assert not page.dataframe and not page.get("vega_lite_chart")


def test_alignment_map_shows_chart_and_findings(app_as):
    at = app_as("leader")
    at.switch_page("pages/alignment_map.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Objectives without a KPI"] == "1"
    assert metrics["Expected but not covered"] == "4"
    assert at.get("vega_lite_chart"), "the objectives x departments chart is missing"
    labels = [t.label for t in at.tabs]
    assert "Coverage gaps (1)" in labels and "Conflicts (1)" in labels


def test_kpi_owner_sees_only_own_department(app_as):
    at = app_as("kpi_owner")
    at.switch_page("pages/kpi_data.py").run()
    assert not at.exception
    dept = at.selectbox(key="kpi_data.department")
    assert dept.options == ["Commercial / Customer Success"]  # no other department can even be chosen
    grid = at.data_editor[0].value
    assert set(grid["kpi"]) == {
        "Customer retention rate",
        "Delivery complaints",  # the demo's KPI-link content (kpialign/demo/links.py)
        "First response time",
        "Onboarding completed within 30 days",
        "Ticket backlog",
    }


def test_kpi_owner_import_of_another_department_is_refused(writable_url, monkeypatch):
    at = new_app(writable_url, "kpi.owner@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/kpi_import.py").run()
    assert not at.exception
    csv = "kpi,department,period,actual\nNew bookings,Sales,2026-11,900\nFirst response time,Customer Success,2026-11,3.5\n"
    at.file_uploader(key="kpi_import.file").set_value(("mine.csv", csv.encode(), "text/csv")).run()
    assert not at.exception
    assert any("1 problem" in e.value for e in at.error)
    issues = at.dataframe[0].value
    assert issues.to_dict("records") == [
        {
            "row": 2,
            "column": "department",
            "value": "Sales",
            "reason": "You may not import data for department 'Sales'.",
        }
    ]
    assert not [b for b in at.button if b.key == "kpi_import.go"]
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        assert measurements.values_frame(session=s, periods=["2026-11"]).empty
    eng.dispose()


def test_kpi_owner_imports_own_department(writable_url, monkeypatch):
    at = new_app(writable_url, "kpi.owner@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/kpi_import.py").run()
    csv = "kpi;department;period;actual;target\nFirst response time;Customer Success;2026-11;3,5;3\n"
    at.file_uploader(key="kpi_import.file").set_value(("nov.csv", csv.encode("utf-8-sig"), "text/csv")).run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["actual"].tolist() == [3.5]
    at.button(key="kpi_import.go").click().run()
    assert not at.exception
    assert any("1 inserted" in s.value for s in at.success)
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        vf = measurements.values_frame(session=s, periods=["2026-11"])
        events = audit.list_events(s, action="import")
    eng.dispose()
    assert vf[["actual", "target", "target_source"]].values.tolist() == [[3.5, 3.0, "period"]]
    assert events.iloc[0]["actor"] == "kpi.owner@demo.kpialign.test"


def test_strategy_setup_adds_objective_with_validation(writable_url, monkeypatch):
    at = new_app(writable_url, "admin@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/strategy_setup.py").run()
    assert not at.exception

    def field(label):
        return next(t for t in at.text_input if t.label == label)

    def add():
        next(b for b in at.button if b.label == "Add objective").click().run()

    field("Code").set_value("O 9")
    field("Title").set_value("Sustainable growth")
    add()
    assert any("no spaces" in e.value for e in at.error)
    field("Code").set_value("O9")
    field("Title").set_value("Sustainable growth")
    add()
    assert not at.exception
    assert any("Objective O9 added" in s.value for s in at.success)
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        ev = audit.list_events(s, entity="objective", action="create")
    eng.dispose()
    assert ev.iloc[0]["actor"] == "admin@demo.kpialign.test" and "Sustainable growth" in ev.iloc[0]["detail"]


def test_strategy_setup_template_prefills_kpi_form(app_as):
    at = app_as("admin")
    at.switch_page("pages/strategy_setup.py").run()
    at.selectbox(key="strategy_setup.template").set_value("on_time_delivery").run()
    assert not at.exception
    names = [t.value for t in at.text_input if t.label == "Name"]
    assert "On-time delivery" in names
    assert "%" in [t.value for t in at.text_input if t.label == "Unit"]


def test_audit_log_lists_and_downloads(app_as):
    at = app_as("admin")
    at.switch_page("pages/audit_log.py").run()
    assert not at.exception
    assert at.dataframe[0].value.shape[0] > 0
    assert at.get("download_button")


def test_strategy_setup_creates_kpi_from_template(writable_url, monkeypatch):
    at = new_app(writable_url, "admin@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/strategy_setup.py").run()
    at.selectbox(key="strategy_setup.template").set_value("first_contact_resolution").run()
    form = "strategy_setup.kpi_new.first_contact_resolution"
    dept = next(s for s in at.selectbox if s.label == "Department" and s.form_id == form)
    dept.set_value(4)  # Customer Success in the small demo
    next(b for b in at.button if b.label == "Add KPI").click().run()
    # no target yet: the form explains, nothing is written
    assert any("needs a target" in e.value for e in at.error)
    next(n for n in at.number_input if n.label == "Target (higher/lower)").set_value(80.0)
    next(b for b in at.button if b.label == "Add KPI").click().run()
    assert not at.exception
    assert any("KPI added" in s.value for s in at.success)
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        from kpialign.services import strategy

        kpis = strategy.kpis_frame(session=s)
    eng.dispose()
    row = kpis[kpis["name"] == "First-contact resolution rate"].iloc[0]
    assert (row["unit"], row["polarity"], row["target"]) == ("%", "higher", 80.0)


def test_strategy_setup_retires_kpi_with_history_after_confirmation(writable_url, monkeypatch):
    at = new_app(writable_url, "admin@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/strategy_setup.py").run()
    pick = at.selectbox(key="strategy_setup.kpi_pick")
    kid = 10  # First response time (Customer Success): has recorded values
    pick.set_value(kid).run()
    at.button(key="strategy_setup.kpi_remove").click().run()
    assert not at.exception
    assert any("will be retired" in w.value for w in at.warning)
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        from kpialign.models import Kpi

        assert s.get(Kpi, kid).active  # nothing happens before the confirmation
    at.button(key="strategy_setup.kpi_confirm").click().run()
    assert not at.exception
    assert any("KPI retired" in s.value for s in at.success)
    with db.read_session(eng) as s:
        assert s.get(Kpi, kid).active is False
        assert audit.list_events(s, entity="kpi", action="update").iloc[0]["actor"] == "admin@demo.kpialign.test"
    eng.dispose()


def test_kpi_owner_removes_a_mistaken_actual(writable_url, monkeypatch):
    at = new_app(writable_url, "kpi.owner@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/kpi_data.py").run()
    period = at.selectbox(key="kpi_data.period").value
    dept = 4  # Customer Success
    at.selectbox(key=f"kpi_data.delete.{dept}.{period}").set_value(10).run()  # First response time
    assert at.button(key="kpi_data.delete_go").disabled  # not before the explicit confirmation
    at.checkbox(key=f"kpi_data.delete_sure.{dept}.{period}").check().run()
    at.button(key="kpi_data.delete_go").click().run()
    assert not at.exception
    assert any("Removed the actual of First response time" in s.value for s in at.success)
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        assert measurements.values_frame(session=s, kpi_ids=[10], periods=[period]).empty
        assert (
            audit.list_events(s, entity="kpi_value", action="delete").iloc[0]["actor"] == "kpi.owner@demo.kpialign.test"
        )
    eng.dispose()
