"""AppTest: Strategy setup's removal dialogs (one table of removals in kpialign.ui.strategy_forms)."""

from __future__ import annotations

from kpialign import db
from kpialign.models import Department, KpiObjective
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy

CUSTOMER_SUCCESS = 4  # small demo: has KPIs and survey answers, so it is retired, never deleted


def test_a_department_with_history_is_retired_and_a_link_removed_only_after_each_confirmation(
    demo_sqlite_url, tmp_path, monkeypatch
):
    url = sqlite_copy(demo_sqlite_url, tmp_path / "setup.db")
    at = new_app(url, "admin@demo.kpialign.test", monkeypatch).run()
    at.switch_page("pages/strategy_setup.py").run()
    at.selectbox(key="strategy_setup.dept_pick").set_value(CUSTOMER_SUCCESS).run()
    at.button(key="strategy_setup.dept_remove").click().run()
    assert not at.exception
    assert any("will be retired" in w.value for w in at.warning)
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        assert s.get(Department, CUSTOMER_SUCCESS).active  # nothing happens before the confirmation
    at.button(key="strategy_setup.dept_confirm").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Department retired\\."]  # plain(): shown literally

    at.selectbox(key="strategy_setup.link_pick").set_value((1, 1)).run()
    at.button(key="strategy_setup.link_remove").click().run()
    assert any("no longer count" in i.value for i in at.info)
    at.button(key="strategy_setup.link_confirm").click().run()
    assert not at.exception and [s.value for s in at.success] == ["Link removed\\."]
    with db.read_session(eng) as s:
        assert s.get(Department, CUSTOMER_SUCCESS).active is False
        assert s.get(KpiObjective, (1, 1)) is None
    eng.dispose()
