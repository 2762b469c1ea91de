"""A demo that never expires: ``seed-demo --today`` lays the calendar out around that day."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import text

from kpialign import db
from kpialign.demo import seed as demo
from kpialign.services import surveys
from tests.unit.test_demo import _contents

LATER = date(2027, 3, 5)  # another quarter, another year: the reference demo's open wave closed long ago


def _frame(engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(text(sql), conn)


def _employee_waves(engine, today: date) -> list[str]:
    with db.read_session(engine) as s:
        account_id = int(
            s.execute(
                text("SELECT id FROM account WHERE email = :e"), {"e": demo.DEMO_ACCOUNTS["employee"]}
            ).scalar_one()
        )
        return surveys.waves_for_account(session=s, account_id=account_id, today=today).name.tolist()


def test_the_calendar_is_laid_out_around_today(engine) -> None:
    demo.seed_demo(engine, scale="small", seed=7, today=LATER)
    waves = _frame(engine, "SELECT name, opens_on, closes_on, status FROM survey_wave ORDER BY id")
    is_open = waves.status == "open"
    assert waves[is_open].name.tolist() == ["2027 Q1"]
    window = waves[is_open].iloc[0]
    assert pd.Timestamp(window.opens_on).date() < LATER < pd.Timestamp(window.closes_on).date()
    assert (pd.to_datetime(waves[~is_open].closes_on).dt.date < LATER).all()
    assert waves.name.tolist() == ["2026 Q1", "2026 Q2", "2026 Q3", "2026 Q4", "2027 Q1"]
    months = _frame(engine, "SELECT max(period) AS p FROM kpi_value WHERE period NOT LIKE '%Q%'")
    assert months.p[0] == "2027-02"  # the last complete month before today
    latest = _frame(engine, "SELECT max(submitted_on) AS d FROM response")
    assert pd.Timestamp(latest.d[0]).date() <= LATER
    assert _employee_waves(engine, LATER) == ["2027 Q1"]  # the demo employee can try the survey


def test_the_same_seed_and_today_give_identical_contents(db_factory) -> None:
    contents = []
    for label in ("a", "b"):
        url = db_factory.new_url(f"cal{label}")
        eng = db.make_engine(url)
        try:
            demo.seed_demo(eng, scale="small", seed=11, today=LATER)
            contents.append(_contents(eng))
        finally:
            eng.dispose()
            db_factory.drop(url)
    assert contents[0] == contents[1]
    assert len(contents[0]["kpi_value"]) > 500


def test_the_reference_day_keeps_the_reference_calendar() -> None:
    cal = demo.calendar_for(None)
    assert (cal.end_period, cal.open_wave_name, cal.seeded_at) == (
        demo.DEMO_END_PERIOD,
        demo.OPEN_WAVE_NAME,
        demo.SEEDED_AT,
    )
    later = demo.calendar_for(LATER)
    assert later.period("2025-Q2") == "2025-Q3" and later.period("2025-08") == "2025-12"
    assert later.open_window() == (date(2027, 2, 15), date(2027, 4, 2))


@pytest.mark.parametrize("today", [None, "2027-03-05"])
def test_cli_seed_demo_opens_a_wave_on_the_day_it_is_told(engine, monkeypatch, capsys, today) -> None:
    from kpialign.cli import main

    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert main(["seed-demo", *(["--today", today] if today else [])]) == 0
    day = date.fromisoformat(today) if today else date.today()
    assert day.isoformat() in capsys.readouterr().out
    assert len(_employee_waves(engine, day)) == 1


def test_cli_seed_demo_refuses_a_malformed_day(engine, monkeypatch, capsys) -> None:
    from kpialign.cli import main

    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with pytest.raises(SystemExit) as exc:
        main(["seed-demo", "--today", "2027-13-01"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err
