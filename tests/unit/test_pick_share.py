"""The objective-pick share is shown beside U per department, with U's suppression plus k answers to the item."""

from __future__ import annotations

import io

import pandas as pd

from kpialign import db, exports
from kpialign.models import Kpi, KpiValue
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import views
from kpialign.services import surveys
from tests.unit.survey_helpers import invite, make_wave, seed_org, submit


def _options(engine, wid: int) -> tuple[str, ...]:
    with db.read_session(engine) as s:
        form = surveys.survey_form(session=s, wave_id=wid, department_id=1)
    return next(i.options for i in form.items if i.kind == "objective_pick")


def test_the_pick_share_needs_k_people_who_answered_the_pick_item(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts)
    real = ["Grow recurring revenue", "Delight customers", "Run lean operations"]
    assert set(real) <= set(_options(engine, wid))
    for i, token in enumerate(invite(engine, wid, "Sales", 8)):  # 8 respond, 6 answer the pick item
        submit(engine, token, picks=real if i < 6 else None)
    for i, token in enumerate(invite(engine, wid, "Finance", 7)):  # 7 respond, only 3 answer it
        submit(engine, token, picks=real[:2] if i < 3 else None)
    for token in invite(engine, wid, "Tiny", 6):
        submit(engine, token, picks=real)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor="hr")
        for dept_id in depts.values():  # some KPI data: the scorecard needs a period to score
            kpi = Kpi(department_id=dept_id, name="Output", baseline=0, target=100)
            s.add(kpi)
            s.flush()
            s.add_all(KpiValue(kpi_id=kpi.id, period=f"2026-0{m}", actual=50 + 5 * m) for m in range(1, 4))
    with db.read_session(engine) as s:
        sc = scorecard.build_scorecard(s)
    d = sc.departments.set_index("department")
    assert d.loc["Sales", "pick_share"] == 1.0  # all 6 who answered picked all real objectives and no decoy
    assert pd.notna(d.loc["Finance", "understanding"])  # U shown (7 responses)...
    assert pd.isna(d.loc["Finance", "pick_share"])  # ...but only 3 answered the pick item
    table = views.scorecard_table(sc.departments).set_index("department")
    assert table.loc["Sales", "picks"] == 100.0 and pd.isna(table.loc["Finance", "picks"])


def test_the_demo_shows_the_pick_share_where_u_is_shown_and_in_the_scorecard_export(demo_engine) -> None:
    with db.read_session(demo_engine) as s:
        sc = scorecard.build_scorecard(s)
    d = sc.departments.set_index("department")
    shown = d["understanding"].notna()
    assert d.loc[shown, "pick_share"].between(0, 1).all() and shown.sum() >= 5
    assert d.loc[~shown, "pick_share"].isna().all() and not shown["Legal"]
    export = exports.build_export(demo_engine, kind="scorecard", actor="t", roles=exports.CLI_ROLES)
    csv = pd.read_csv(io.BytesIO(export.data)).set_index("department")
    assert csv["pick_share"].notna().sum() == shown.sum()
    assert pd.isna(csv.loc["Legal", "pick_share"])
