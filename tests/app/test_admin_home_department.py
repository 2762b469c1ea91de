"""Admin > Users and roles sets and changes a user's home department (audited); the page shows it."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from kpialign import db
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.models import Account, AuditEvent, Department
from tests.app.conftest import account_id, new_app
from tests.conftest import sqlite_copy


def test_an_admin_gives_an_account_without_one_a_home_department(demo_sqlite_url, tmp_path: Path, monkeypatch):
    url = sqlite_copy(demo_sqlite_url, tmp_path / "admin.db")
    target = account_id(url, DEMO_ACCOUNTS["leader"])  # the demo leader has no home department
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        finance = int(s.exec(select(Department.id).where(Department.name == "Finance")).one())
        assert s.get(Account, target).department_id is None
    at = new_app(url, DEMO_ACCOUNTS["admin"], monkeypatch).run()
    at.switch_page("pages/admin_users.py").run()
    at.selectbox(key="admin_users.account").set_value(target).run()
    home = at.selectbox(key=f"admin_users.home.{target}")
    assert home.value is None
    home.set_value(finance)
    [save] = [b for b in at.button if b.label == "Save home department"]
    save.click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Home department saved."]
    with db.read_session(eng) as s:
        assert s.get(Account, target).department_id == finance
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "set_department")).all()
    eng.dispose()
    assert [e.actor for e in events] == [DEMO_ACCOUNTS["admin"]]
    row = at.dataframe[0].value.set_index("email").loc[DEMO_ACCOUNTS["leader"]]
    assert row["department"] == "Finance"
    assert at.selectbox(key=f"admin_users.home.{target}").value == finance  # the form shows the saved value
