"""The scorecard on the small demo organisation (both backends): what it shows, what it hides."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from kpialign import cli, db
from kpialign.core import privacy, scoring
from kpialign.demo.seed import DEMO_END_PERIOD
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import counts, model, views
from kpialign.scorecard import queries as scorecard_data
from kpialign.services import surveys

SMALL = "Legal"  # the demo's 3-person department


@pytest.fixture(scope="module")  # here: the shared demo is read-only, and the tests only read the scorecard
def sc(demo_url):
    eng = db.make_engine(demo_url)
    scorecard_data.clear_cache()
    with db.read_session(eng) as session:
        result = scorecard.build_scorecard(session)
    yield result
    eng.dispose()


def test_defaults_and_what_it_is_computed_from(sc):
    assert sc.period == DEMO_END_PERIOD
    assert sc.wave is not None and sc.wave.status == "closed"
    assert sc.previous_wave is not None and sc.previous_wave.closes_on < sc.wave.closes_on
    rows = sc.departments
    assert len(rows) == 8  # the leaves; divisions are roll-ups
    assert (rows["period"] == sc.period).all() and (rows["wave"] == sc.wave.name).all()
    assert (rows["n_kpis"] == rows["n_with_data"] + rows["n_missing"]).all()
    # Legal's contract turnaround has no value in the last month: missing, not imputed
    legal = rows.set_index("department").loc[SMALL]
    assert legal["n_missing"] >= 1
    # the organisation roll-up is headcount-weighted over the departments with a score
    ok = rows["alignment"].notna()
    expected = np.average(rows.loc[ok, "alignment"], weights=rows.loc[ok, "headcount"])
    assert sc.organisation["alignment"]["value"] == pytest.approx(expected)


def test_small_department_is_partial_without_any_survey_figure(sc):
    legal = sc.departments.set_index("department").loc[SMALL]
    assert legal["u_suppressed"] and legal["partial"] and legal["missing"] == "U"
    assert pd.isna(legal["understanding"]) and pd.isna(legal["respondents"]) and pd.isna(legal["pick_share"])
    assert legal["quadrant"] == "not enough data"
    legal_id = int(legal["department_id"])
    u = sc.understanding[sc.understanding["department_id"] == legal_id]
    assert u["suppressed"].all() and u["understanding"].isna().all() and u["respondents"].isna().all()
    assert sc.likert[(sc.likert["unit_level"] == "department") & (sc.likert["unit_id"] == legal_id)].empty
    assert legal_id not in set(sc.changes.get("department_id", []))
    view = views.department_view(sc, legal_id)
    assert view.likert.empty and view.changes.empty
    heat = views.survey_heatmap(sc, sc.wave.wave_id)
    assert heat.loc[heat["unit"] == SMALL, "hidden"].all()
    assert heat.loc[heat["unit"] == SMALL, "fav"].isna().all()


def test_small_department_cannot_be_recovered_by_subtraction(sc, demo_url):
    """Attack: division (and organisation) totals minus every shown department must never
    isolate a group of fewer than k respondents."""
    eng = db.make_engine(demo_url)
    with db.read_session(eng) as session:
        truth = surveys.response_counts(session=session)
    eng.dispose()
    lk = sc.likert
    for w in sc.waves:
        k = w.k
        true_n = truth[truth["wave_id"] == w.wave_id].set_index("department_id")["n"]
        shown_depts = set(lk[(lk["wave_id"] == w.wave_id) & (lk["unit_level"] == "department")]["unit_id"])
        shown_divs = set(lk[(lk["wave_id"] == w.wave_id) & (lk["unit_level"] == "division")]["unit_id"])
        for div in set(sc.division_of.values()):
            members = [d for d, v in sc.division_of.items() if v == div and d in true_n.index]
            hidden = [d for d in members if d not in shown_depts]
            if div in shown_divs and hidden:
                remainder = int(true_n[hidden].sum())
                assert remainder >= k, (w.name, div, hidden, remainder)
                # and the division total minus the shown departments equals the hidden ones' counts
                tot = lk[(lk["wave_id"] == w.wave_id) & (lk["unit_level"] == "division") & (lk["unit_id"] == div)]
                part = lk[
                    (lk["wave_id"] == w.wave_id) & (lk["unit_level"] == "department") & lk["unit_id"].isin(members)
                ]
                diff = tot["count"].sum() - part["count"].sum()
                assert diff > 0
        # organisation total minus every shown division / department
        org_shown = not lk[(lk["wave_id"] == w.wave_id) & (lk["unit_level"] == "organisation")].empty
        if org_shown:
            hidden_all = [d for d in true_n.index if d not in shown_depts and d in sc.division_of]
            hidden_n = int(true_n[hidden_all].sum())
            assert hidden_n == 0 or hidden_n >= k
        # the 3-person department itself is never shown
        legal_id = int(sc.departments.set_index("department").loc[SMALL, "department_id"])
        assert legal_id not in shown_depts


def test_differencing_guard_on_division_filter(sc):
    corporate = sc.division_of[int(sc.departments.set_index("department").loc[SMALL, "department_id"])]
    # Corporate is large enough and the rest of the organisation too: allowed
    scorecard.check_division_filter(sc, sc.wave.wave_id, corporate)
    # a fake organisation where the rest is tiny: refused
    fake = sc.division_respondents.copy()
    w = sc.wave.wave_id
    others = (fake["wave_id"] == w) & (fake["division_id"] != corporate)
    fake.loc[others, "respondents"] = 0
    first_other = fake.index[others][0]
    fake.loc[first_other, "respondents"] = 2
    sc2 = model.Scorecard(**{**sc.__dict__, "division_respondents": fake})
    with pytest.raises(privacy.DisclosureRefused):
        scorecard.check_division_filter(sc2, w, corporate)


def _stored(eng):
    with db.read_session(eng) as session:
        stored = session.execute(text("SELECT wave_id, sum(n) FROM wave_response_count GROUP BY wave_id")).all()
        answers = session.execute(
            text("SELECT wave_id, department_id, question_id, value, n FROM wave_answer_count")
        ).all()
    keys = ["wave_id", "department_id", "question_id", "value"]
    got = pd.DataFrame(answers, columns=[*keys, "n"]).astype("int64")
    return {int(w): int(n) for w, n in stored}, got.sort_values(keys).reset_index(drop=True)


def test_closed_wave_aggregates_are_stored_once_and_equal_live_counts(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    with db.read_session(eng) as session:
        waves = scorecard_data.waves(session)
        live = surveys.answer_counts(session=session)
    closed = waves[waves["status"] == "closed"].set_index("wave_id")["responses"]
    respondents, answers = _stored(eng)  # the demo stores them as closing its waves would
    assert respondents == {int(w): int(n) for w, n in closed.items()}
    want = live[live["wave_id"].isin(closed.index)][["wave_id", "department_id", "question_id", "value", "n"]]
    keys = ["wave_id", "department_id", "question_id", "value"]
    pd.testing.assert_frame_equal(answers, want.sort_values(keys).reset_index(drop=True), check_dtype=False)
    eng.dispose()


def test_a_read_never_writes_counts_and_the_repair_step_stores_them(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    scorecard_data.clear_cache()
    with db.read_session(eng) as session:
        before = scorecard.build_scorecard(session).departments
    respondents, answers = _stored(eng)
    with db.write_session(eng, bump=False) as session:  # an older database: nothing stored yet
        session.execute(text("DELETE FROM wave_answer_count"))
        session.execute(text("DELETE FROM wave_response_count"))
    scorecard_data.clear_cache()
    version = db.data_version(eng)
    with db.read_session(eng) as session:
        after = scorecard.build_scorecard(session).departments
    assert _stored(eng)[0] == {} and db.data_version(eng) == version  # counted live, nothing written
    pd.testing.assert_frame_equal(after, before)
    assert counts.repair_engine(eng) == sorted(respondents)
    again, again_answers = _stored(eng)
    assert again == respondents
    pd.testing.assert_frame_equal(again_answers, answers)
    assert counts.repair_engine(eng) == []
    eng.dispose()


def test_closing_a_wave_stores_its_counts_in_the_same_transaction(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    with db.read_session(eng) as session:
        waves = scorecard_data.waves(session)
    open_wave = waves[waves["status"] == "open"].iloc[0]
    with db.write_session(eng) as session:
        counts.close_wave(session=session, wave_id=int(open_wave["wave_id"]), actor="hr@x")
    respondents, _answers = _stored(eng)
    assert respondents[int(open_wave["wave_id"])] == int(open_wave["responses"])
    eng.dispose()


def test_a_closed_waves_reliability_is_stored_once_equal_to_its_answers_and_repaired_when_missing(demo_copy_url):
    """Cronbach's alpha of each closed wave is stored with its counts and equals alpha computed from
    the answers (the pingouin-checked ``stats.cronbach_alpha``); an older database without the rows
    computes it live on a read (writing nothing) and the repair step stores it."""
    eng = db.make_engine(demo_copy_url)

    def stored() -> dict[int, tuple]:
        with db.read_session(eng) as session:
            rows = session.execute(text("SELECT wave_id, items, n, alpha, low, high FROM wave_reliability")).all()
        return {int(r[0]): tuple(r[1:]) for r in rows}

    with db.read_session(eng) as session:
        waves = scorecard_data.waves(session)
        closed = [int(w) for w in waves.loc[waves["status"] == "closed", "wave_id"]]
        live = {w: scoring.reliability(counts.item_table(session, wave_id=w)) for w in closed}
    rows = stored()
    assert sorted(rows) == closed  # the demo stores them as closing its waves would; the open wave has none
    for w in closed:
        items, n, alpha, low, high = rows[w]
        assert (items, n) == (live[w]["items"], live[w]["n"]) and n > 0
        assert alpha == pytest.approx(live[w]["alpha"], rel=1e-12) and low < alpha < high
        assert (low, high) == pytest.approx((live[w]["low"], live[w]["high"]), rel=1e-12)
        with db.read_session(eng) as session:
            assert counts.reliability(session, wave_id=w)["alpha"] == alpha
    with db.write_session(eng, bump=False) as session:  # an older database: nothing stored yet
        session.execute(text("DELETE FROM wave_reliability"))
    version = db.data_version(eng)
    with db.read_session(eng) as session:
        assert counts.reliability(session, wave_id=closed[-1])["alpha"] == pytest.approx(live[closed[-1]]["alpha"])
    assert stored() == {} and db.data_version(eng) == version  # computed live, nothing written
    assert counts.repair_engine(eng) == closed
    assert stored() == rows
    assert counts.repair_engine(eng) == []
    eng.dispose()


def test_period_and_wave_filters_and_errors(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    with db.read_session(eng) as session:
        waves = scorecard_data.waves(session)
        first = waves.iloc[0]["name"]
        sc = scorecard.build_scorecard(session, period="2026-03", wave=first)
        assert sc.period == "2026-03" and sc.wave.name == first and sc.previous_wave is None
        assert sc.changes.empty
        with pytest.raises(scoring.ScorecardError):
            scorecard.build_scorecard(session, wave="no such wave")
        with pytest.raises(scoring.ScorecardError):
            scorecard.build_scorecard(session, period="March")
    eng.dispose()


def test_cli_scorecard_json_matches_department_scorecard(demo_copy_url, monkeypatch, capsys):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_copy_url)
    assert cli.main(["scorecard", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    eng = db.make_engine(demo_copy_url)
    with db.read_session(eng) as session:
        table = views.scorecard_table(scorecard.department_scorecard(session))
    eng.dispose()
    got = pd.DataFrame(payload["departments"])
    assert got["department"].tolist() == table["department"].tolist()
    for col in ("score", "P", "C", "U"):
        np.testing.assert_allclose(got[col].astype(float), table[col].astype(float), equal_nan=True)
    assert next(d for d in payload["departments"] if d["department"] == SMALL)["U"] is None
    assert cli.main(["scorecard", "--wave", "nope"]) == 1
    assert "no survey wave" in capsys.readouterr().err


def test_empty_database(engine):
    with db.read_session(engine) as session:
        sc = scorecard.build_scorecard(session)
    assert sc.empty and sc.period is None and sc.wave is None
    assert views.scorecard_table(sc.departments).empty
