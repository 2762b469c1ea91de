"""Scoring settings: validated (privacy floors for k and comments), stored, audited, and read by the scorecard
and by new waves."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.core.scoring import ScoringError, ScoringSettings
from kpialign.models import AuditEvent
from kpialign.scorecard import build as scorecard
from kpialign.services import settings as scoring_settings
from kpialign.services import surveys
from tests.unit.survey_helpers import question_ids, seed_org


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"default_k": 2}, "never lower"),
        ({"comment_min": 9}, "never lower"),
        ({"amber": 80.0, "green": 70.0}, "amber <= green"),
        ({"weight_performance": 0.0, "weight_understanding": 0.0, "weight_coverage": 0.0}, "weights"),
        ({"cap": 0.9}, "cap"),
        ({"trend_periods": 2}, "Trend"),
    ],
)
def test_invalid_settings_are_refused_with_a_reason(change, message) -> None:
    with pytest.raises(ScoringError, match=message):
        replace(ScoringSettings(), **change).validate()


def test_the_privacy_floors_themselves_are_accepted() -> None:
    assert replace(ScoringSettings(), default_k=3, comment_min=10).validate().default_k == 3


def test_saved_settings_are_audited_and_used_by_the_scorecard_and_new_waves(demo_copy_url) -> None:
    engine = db.make_engine(demo_copy_url)
    try:
        with db.read_session(engine) as s:
            before = scorecard.build_scorecard(s)
        assert (before.departments["status"] == "green").sum() < len(before.departments)
        with db.write_session(engine) as s:
            new = replace(scoring_settings.load_settings(session=s), green=1.0, amber=0.0, default_k=7, comment_min=12)
            scoring_settings.save_settings(session=s, settings=new, actor="admin@example.org")
        with db.read_session(engine) as s:
            after = scorecard.build_scorecard(s)
            events = s.exec(select(AuditEvent).where(AuditEvent.action == "settings.update")).all()
            assert surveys.wave_defaults(session=s) == surveys.WaveDefaults(min_group=7, comment_min=12)
        scored = after.departments["alignment"].notna()
        assert (after.departments.loc[scored, "status"] == "green").all()  # every page reads the stored thresholds
        assert [e.actor for e in events] == ["admin@example.org"]
        assert '"green": 1.0' in events[0].detail and '"default_k": 7' in events[0].detail
    finally:
        engine.dispose()


def test_a_new_wave_starts_with_the_default_k_and_comment_threshold(engine) -> None:
    depts = seed_org(engine)
    with db.write_session(engine) as s:
        scoring_settings.save_settings(
            session=s, settings=replace(ScoringSettings(), default_k=8, comment_min=15), actor="a"
        )
    with db.write_session(engine) as s:
        wid = surveys.create_wave(
            session=s, name="W", opens_on=date(2026, 3, 1), closes_on=date(2026, 3, 20),
            question_ids=question_ids(engine), department_ids=list(depts.values()), actor="hr",
        )  # fmt: skip
    with db.read_session(engine) as s:
        wave = surveys.get_wave(session=s, wave_id=wid)
    assert (wave.min_group, wave.comment_min) == (8, 15)
