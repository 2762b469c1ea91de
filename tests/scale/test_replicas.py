"""Two replicas (two ``streamlit run`` processes) on one PostgreSQL database see each other's writes.

Each replica caches the Home page's query per process, keyed by the data version stored in the
database. Both render Home (their caches fill), a write lands in the shared database, and the
next rerun of each replica shows it: no replica serves its cached copy of the old data.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from kpialign import db
from kpialign.core.periods import parse_period
from kpialign.models import Department, Kpi, KpiValue, Setting
from kpialign.services import summary
from tests.conftest import require_postgres


def _metric(page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label)
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def _expect_metric(page, label: str, value: str) -> None:
    from playwright.sync_api import expect

    # While a rerun replaces the page, the previous run's element can briefly sit beside the new
    # one: wait for a metric with this label showing this value (only a run that read it can).
    label_el = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    value_el = page.get_by_test_id("stMetricValue").get_by_text(value, exact=True)
    metric = page.get_by_test_id("stMetric").filter(has=label_el).filter(has=value_el)
    expect(metric.first).to_be_visible(timeout=15_000)


@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_write_is_seen_by_the_other_replica_on_its_next_rerun(
    backend: str, demo_copy_url: str, browser, tmp_path: Path
) -> None:
    from tests.browser.conftest import screenshot, start_portal, stop_portal
    from tests.scale.conftest import NO_WATCHER, rerun, sign_in

    require_postgres()
    env = {"KPIALIGN_REPLICAS": "2", **NO_WATCHER}
    started: dict[str, tuple[str, object]] = {}

    def start(name: str) -> None:
        started[name] = start_portal(demo_copy_url, tmp_path, env_extra=env)

    threads = [threading.Thread(target=start, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert set(started) == {"a", "b"}, "a replica did not start; see the streamlit logs in tmp_path"
    (base_a, proc_a), (base_b, proc_b) = started["a"], started["b"]
    assert base_a != base_b

    engine = db.make_engine(demo_copy_url)
    with db.read_session(engine) as session:
        glance = summary.organisation_glance(session=session)
        kpi_id = session.execute(select(Kpi.id).where(Kpi.active, Kpi.frequency == "monthly")).scalars().first()
    assert glance.latest_period is not None and kpi_id is not None
    next_period = str(parse_period(glance.latest_period).shift(1))

    pages = {}
    try:
        for name, base in (("a", base_a), ("b", base_b)):
            ctx = browser.new_context(viewport={"width": 1300, "height": 900})
            pages[name] = ctx.new_page()
            pages[name].set_default_timeout(20_000)
            sign_in(pages[name], base, "leader")
            _expect_metric(pages[name], "Departments", f"{glance.departments:,}")
            _expect_metric(pages[name], "Latest KPI month", glance.latest_period)

        # The write, as replica A's pages make it: one write_session (which bumps the data version).
        before = db.data_version(engine)
        with db.write_session(engine) as session:
            session.add(Department(name="Written through replica A", headcount=12))
            session.add(KpiValue(kpi_id=kpi_id, period=next_period, actual=1.0, entered_by="replica-test"))
            session.merge(Setting(key="replica_test.flag", value='"on"'))
        assert db.data_version(engine) > before

        for name in ("b", "a"):  # the other replica first: it never saw the write happen
            rerun(pages[name])
            _expect_metric(pages[name], "Departments", f"{glance.departments + 1:,}")
            _expect_metric(pages[name], "Latest KPI month", next_period)
        screenshot(pages["b"], "replica-b-after-write")
        with db.read_session(engine) as session:
            assert session.get(Setting, "replica_test.flag").value == '"on"'
    finally:
        for pg in pages.values():
            pg.context.close()
        stop_portal(proc_a)
        stop_portal(proc_b)
        engine.dispose()
