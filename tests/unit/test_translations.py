"""Question translations: built-in ones, stale when the source changes, fallback, languages (both backends)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.core import i18n
from kpialign.models import Question, QuestionText
from kpialign.services import bank_translations, surveys, translations
from kpialign.services.bank_translations import BANK_TRANSLATIONS
from kpialign.services.question_bank import QUESTION_BANK
from tests.unit.survey_helpers import make_wave, seed_org


def test_every_shipped_question_and_page_text_exists_in_every_language():
    assert set(BANK_TRANSLATIONS) == {q.code for q in QUESTION_BANK}
    assert all(set(t) == set(i18n.LANGUAGES) - {"en"} for t in BANK_TRANSLATIONS.values())
    assert i18n.missing_texts() == []


@pytest.mark.parametrize(
    ("query", "account", "browser", "wave", "expected"),
    [
        ("de", "fr", "es-ES", "en", "de"),
        ("xx", "fr", "es-ES", "en", "fr"),  # an unknown ?lang= falls through silently
        (None, None, "es-MX", "fr", "es"),
        (None, None, "pt-BR", "fr", "fr"),
        ("", None, None, None, "en"),
        ("DE-ch", None, None, None, "de"),
    ],
)
def test_language_comes_from_link_then_account_then_browser_then_wave(query, account, browser, wave, expected):
    assert i18n.resolve_language(query=query, account=account, browser=browser, wave_default=wave) == expected


def test_long_dates_read_naturally_in_each_language():
    d = date(2026, 3, 1)
    assert [i18n.long_date(d, lang) for lang in ("en", "de", "fr", "es")] == [
        "1 March 2026",
        "1. März 2026",
        "1er mars 2026",
        "1 de marzo de 2026",
    ]


def test_editing_a_question_makes_its_translations_stale_until_saved_again(engine):
    seed_org(engine)
    with db.write_session(engine) as s:
        qid = surveys.add_question(session=s, code="KU9", text="I know our KPIs.", actor="hr")
        translations.save_translation(
            session=s, question_id=qid, language="de", text="Ich kenne unsere KPIs.", actor="hr"
        )
    with db.write_session(engine) as s:
        surveys.edit_question(session=s, question_id=qid, text="I know our department's KPIs.", actor="hr")
        surveys.edit_question(session=s, question_id=qid, dimension="kpi_understanding", actor="hr")  # text unchanged
    with db.read_session(engine) as s:
        assert s.get(Question, qid).text_version == 2
        frame = translations.translations_frame(session=s, language="de").set_index("code")
        assert frame.loc["KU9", "status"] == "stale" and frame.loc["KU1", "status"] == "current"
        assert (
            translations.translations_frame(session=s, language="fr").set_index("code").loc["KU9", "status"]
            == "missing"
        )
        item = surveys.SurveyItem(qid, "KU9", "I know our department's KPIs.", "likert5", "")
        ku1 = s.exec(select(Question).where(Question.code == "KU1")).one()
        form = surveys.SurveyForm(
            wave=None,  # type: ignore[arg-type]
            department_id=1,
            department="Sales",
            items=(item, surveys.SurveyItem(int(ku1.id), "KU1", ku1.text, "likert5", "")),
        )
        texts = [i.text for i in translations.localise_form(session=s, form=form, language="de").items]
    assert texts[0] == "I know our department's KPIs."  # stale: the source text
    assert texts[1] == BANK_TRANSLATIONS["KU1"]["de"]
    with db.write_session(engine) as s:
        translations.save_translation(
            session=s, question_id=qid, language="de", text="Ich kenne die KPIs meiner Abteilung.", actor="hr"
        )
    with db.read_session(engine) as s:
        assert (
            translations.localise_form(session=s, form=form, language="de").items[0].text
            == "Ich kenne die KPIs meiner Abteilung."
        )


def test_builtin_translations_are_added_only_for_unchanged_bank_questions(engine):
    seed_org(engine)
    with db.write_session(engine) as s:
        for row in s.exec(select(QuestionText)).all():
            s.delete(row)
        ls1 = s.exec(select(Question).where(Question.code == "LS1")).one()
        ls1.text = "Reworded by HR."
        s.add(ls1)
    with db.write_session(engine) as s:
        added = translations.sync_builtin(session=s, actor="hr")
        assert added == 3 * (len(QUESTION_BANK) - 1)
        assert translations.sync_builtin(session=s, actor="hr") == 0


def test_results_pool_languages_because_answers_are_stored_by_question(engine):
    wid = make_wave(engine, seed_org(engine))
    with db.read_session(engine) as s:
        cols = set(QuestionText.__table__.columns.keys()) & {"response_id"}
        form = surveys.survey_form(session=s, wave_id=wid, department_id=1)
        de = translations.localise_form(session=s, form=form, language="de")
    assert not cols
    assert [i.question_id for i in de.items] == [i.question_id for i in form.items]


def test_shipped_decoys_are_translated_for_display_and_objective_titles_are_not():
    from kpialign.services.question_bank import DECOY_OBJECTIVES

    assert set(DECOY_OBJECTIVES) <= set(bank_translations.DECOY_TRANSLATIONS)
    assert translations.option_label(option="Move all staff to a four-day week", language="fr").startswith(
        "Passer tout le personnel"
    )
    assert translations.option_label(option="Grow recurring revenue", language="de") == "Grow recurring revenue"
    assert (
        translations.option_label(option="Move all staff to a four-day week", language="en")
        == "Move all staff to a four-day week"
    )
