"""Headcount over time: the headcount in force in a period, and participation that uses it."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kpialign import db
from kpialign.demo.seed import OPEN_WAVE_NAME
from kpialign.models import Department, DepartmentHeadcount
from kpialign.services import headcount, surveys


def _naive(history: list[tuple[int, int, int]], current: dict[int, int], dept: int, month: int) -> int:
    """Reference: scan every record of the unit, keep the latest at or before the month."""
    best = None
    for d, m, h in history:
        if d == dept and m <= month and (best is None or m >= best[0]):
            best = (m, h)
    return current[dept] if best is None else best[1]


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(
        st.tuples(st.integers(1, 3), st.integers(24300, 24330), st.integers(0, 500)),
        max_size=20,
        unique_by=lambda r: (r[0], r[1]),
    ),
    months=st.lists(st.integers(24290, 24340), min_size=1, max_size=8),
)
def test_the_headcount_of_a_month_is_the_latest_record_at_or_before_it_else_the_current_one(records, months):
    current = {1: 10, 2: 20, 3: 30}
    hist = pd.DataFrame(records, columns=["department_id", "month", "headcount"])
    out = headcount.headcount_by_month(history=hist, current=pd.Series(current), months=months)
    assert len(out) == 3 * len(set(months))
    for d, m, h in out.itertuples(index=False):
        assert h == _naive(records, current, d, m)


def test_headcount_in_a_period_reads_the_records_with_fallback(engine):
    with db.write_session(engine) as s:
        a, b = Department(name="A", headcount=12), Department(name="B", headcount=7)
        s.add_all([a, b])
        s.flush()
        s.add_all(
            [
                DepartmentHeadcount(department_id=a.id, period="2026-01", headcount=9),
                DepartmentHeadcount(department_id=a.id, period="2026-06", headcount=11),
            ]
        )
        ids = (a.id, b.id)
    with db.read_session(engine) as s:
        assert headcount.headcount_in(session=s, period="2025-12") == {
            ids[0]: 12,
            ids[1]: 7,
        }  # before any record: current
        assert headcount.headcount_in(session=s, period="2026-03") == {ids[0]: 9, ids[1]: 7}
        assert headcount.headcount_in(session=s, period="2026-Q3") == {ids[0]: 11, ids[1]: 7}
        assert headcount.recorded_in(session=s, period="2026-03", department_ids=ids) == {ids[0]: 9}


def test_participation_of_a_sign_in_department_uses_the_headcount_of_the_waves_month(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    try:
        with db.read_session(eng) as s:
            wave = surveys.get_wave(session=s, name=OPEN_WAVE_NAME)
            sales = s.execute(select(Department.id).where(Department.name == "Sales")).scalar_one()
            before = surveys.participation(session=s, wave_id=wave.id).set_index("department")
        month = f"{wave.opens_on.year:04d}-{wave.opens_on.month:02d}"
        with db.write_session(eng) as s:
            s.add(DepartmentHeadcount(department_id=sales, period=month, headcount=50))
            s.add(DepartmentHeadcount(department_id=sales, period="2099-01", headcount=999))  # a later period: ignored
        with db.read_session(eng) as s:
            after = surveys.participation(session=s, wave_id=wave.id).set_index("department")
        # before: only the signed-in accounts count as invited (too few to show); after: the recorded headcount
        assert not before.loc["Sales", "shown"]
        assert after.loc["Sales", "invited"] == 50 and after.loc["Sales", "shown"]
        others = [d for d in after.index if d not in ("Sales", "All departments")]
        assert after.loc[others, "invited"].tolist() == before.loc[others, "invited"].tolist()
    finally:
        eng.dispose()


def test_headcount_weighted_roll_ups_use_the_headcount_of_each_month(demo_copy_url):
    from kpialign.scorecard import build as scorecard

    eng = db.make_engine(demo_copy_url)
    try:
        with db.read_session(eng) as s:
            sales = s.execute(select(Department.id).where(Department.name == "Sales")).scalar_one()
            before = scorecard.build_scorecard(s, period="2026-06")
        with db.write_session(eng) as s:
            s.add(DepartmentHeadcount(department_id=sales, period="2026-04", headcount=480))
        with db.read_session(eng) as s:
            after = scorecard.build_scorecard(s, period="2026-06")
        current = before.departments.set_index("department_id")["headcount"]
        assert after.departments.set_index("department_id").loc[sales, "headcount"] == 480
        assert after.organisation["headcount"] == before.organisation["headcount"] - current[sales] + 480

        def weighted(sc, period, sales_weight):
            month = sc.org_series.set_index("period").loc[period, "month"]
            p = sc.panel[(sc.panel["month"] == month) & sc.panel["performance"].notna()]
            w = p["department_id"].map(current).astype(float)
            w[p["department_id"] == sales] = sales_weight
            ok = w > 0
            return float((p["performance"][ok] * w[ok]).sum() / w[ok].sum())

        series = after.org_series.set_index("period")["performance"]
        assert series["2026-03"] == pytest.approx(weighted(after, "2026-03", current[sales]))  # before the record
        assert series["2026-05"] == pytest.approx(weighted(after, "2026-05", 480))  # in force from April on
        assert series["2026-03"] == pytest.approx(before.org_series.set_index("period").loc["2026-03", "performance"])
        assert series["2026-05"] != pytest.approx(before.org_series.set_index("period").loc["2026-05", "performance"])
        org_p = after.organisation["performance"]["value"]
        now = after.departments.dropna(subset=["performance"])
        expected = (now["performance"] * now["headcount"]).sum() / now.loc[now["headcount"] > 0, "headcount"].sum()
        assert org_p == pytest.approx(expected)
    finally:
        eng.dispose()
