"""Question translations, the wave's default language, and each account's preferred language.

A translation (``question_text``) records the ``text_version`` of the source question it was
made from. When HR edits the source text (:func:`kpialign.services.surveys.edit_question` bumps
``question.text_version``), the translation is *stale*: respondents see the source text instead
until someone saves the translation again (which marks it reviewed). Answers are stored by
question, never by language, so results pool every language.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from sqlmodel import Session, col, select

from kpialign import audit
from kpialign.core import i18n
from kpialign.models import Account, Question, QuestionText, SurveyWave, pk, utcnow
from kpialign.services.bank_translations import BANK_TRANSLATIONS, DECOY_TRANSLATIONS
from kpialign.services.question_bank import QUESTION_BANK
from kpialign.services.surveys import SurveyError, SurveyForm

MAX_TEXT_CHARS = 1000


def _language(code: object) -> str:
    lang = i18n.normalise(code)
    if lang is None:
        raise SurveyError(f"Unknown language {code!r}: choose one of {', '.join(i18n.LANGUAGES)}.")
    return lang


def sync_builtin(*, session: Session, actor: str = "system") -> int:
    """Add the shipped translations of bank questions that still have the shipped English text.

    A question HR reworded keeps no built-in translation (it would not match); existing rows are
    never overwritten. Returns how many rows were added (audited when any).
    """
    shipped = {q.code: q.text for q in QUESTION_BANK}
    questions = session.exec(select(Question).where(col(Question.code).in_(list(BANK_TRANSLATIONS)))).all()
    have = {(r.question_id, r.language) for r in session.exec(select(QuestionText)).all()}
    added = 0
    for q in questions:
        if q.text != shipped.get(q.code):
            continue
        for lang, text in BANK_TRANSLATIONS[q.code].items():
            if (q.id, lang) not in have:
                session.add(
                    QuestionText(
                        question_id=pk(q), language=lang, text=text, source_version=q.text_version, updated_by=actor
                    )
                )
                added += 1
    if added:
        session.flush()
        audit.record(session, actor=actor, action="sync", entity="question_text", after={"added": added})
    return added


def translations_frame(*, session: Session, language: str) -> pd.DataFrame:
    """Every active question with its translation into ``language``.

    Columns: ``question_id, code, source, text, status`` where status is ``current``, ``stale``
    (the source changed since; respondents see the source text) or ``missing``.
    """
    lang = _language(language)
    questions = session.exec(select(Question).where(col(Question.active) == True).order_by(col(Question.id))).all()  # noqa: E712
    rows = {r.question_id: r for r in session.exec(select(QuestionText).where(QuestionText.language == lang)).all()}
    out = []
    for q in questions:
        t = rows.get(pk(q))
        status = "missing" if t is None else ("stale" if t.source_version < q.text_version else "current")
        out.append(
            {"question_id": q.id, "code": q.code, "source": q.text, "text": t.text if t else "", "status": status}
        )
    return pd.DataFrame(out, columns=["question_id", "code", "source", "text", "status"])


def save_translation(*, session: Session, question_id: int, language: str, text: str, actor: str) -> None:
    """Save (and so mark reviewed against the current source text) a question's translation."""
    lang = _language(language)
    if lang == i18n.DEFAULT_LANGUAGE:
        raise SurveyError("English is the source language: edit the question itself instead.")
    q = session.get(Question, question_id)
    if q is None:
        raise SurveyError(f"There is no question with id {question_id}.")
    text = text.strip()
    if not text or len(text) > MAX_TEXT_CHARS:
        raise SurveyError(f"A translation needs a text of 1 to {MAX_TEXT_CHARS} characters.")
    row = session.get(QuestionText, (question_id, lang))
    before = None if row is None else {"text": row.text, "source_version": row.source_version}
    if row is None:
        row = QuestionText(question_id=question_id, language=lang, text=text)
    row.text, row.source_version, row.updated_by, row.updated_at = text, q.text_version, actor, utcnow()
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update" if before else "create",
        entity="question_text",
        entity_id=f"{question_id}:{lang}",
        before=before,
        after={"text": text, "source_version": q.text_version},
    )


def localise_form(*, session: Session, form: SurveyForm, language: str) -> SurveyForm:
    """``form`` with its question texts in ``language`` where a current translation exists.

    Stale or missing translations fall back to the source text, item by item.
    """
    lang = i18n.normalise(language) or i18n.DEFAULT_LANGUAGE
    if lang == i18n.DEFAULT_LANGUAGE or not form.items:
        return form
    ids = [i.question_id for i in form.items]
    current = dict(
        session.exec(
            select(col(QuestionText.question_id), col(QuestionText.text))
            .join(Question, col(Question.id) == col(QuestionText.question_id))
            .where(
                col(QuestionText.language) == lang,
                col(QuestionText.question_id).in_(ids),
                col(QuestionText.source_version) >= col(Question.text_version),
            )
        ).all()
    )
    items = tuple(dataclasses.replace(i, text=current.get(i.question_id, i.text)) for i in form.items)
    return dataclasses.replace(form, items=items)


def option_label(*, option: str, language: str) -> str:
    """How an objective-pick option reads in ``language`` (the shipped decoys are translated; the
    organisation's own objective titles are shown as written). Display only: the English option is
    what is submitted and scored."""
    return DECOY_TRANSLATIONS.get(option, {}).get(i18n.normalise(language) or "", option)


def wave_language(*, session: Session, wave_id: int) -> str:
    wave = session.get(SurveyWave, wave_id)
    return i18n.normalise(wave.language if wave else None) or i18n.DEFAULT_LANGUAGE


def set_wave_language(*, session: Session, wave_id: int, language: str, actor: str) -> None:
    """The language a wave's survey and e-mails fall back to (any status: it changes no result)."""
    lang = _language(language)
    wave = session.get(SurveyWave, wave_id)
    if wave is None:
        raise SurveyError(f"There is no survey wave with id {wave_id}.")
    if wave.language == lang:
        return
    before = wave.language
    wave.language = lang
    session.add(wave)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="survey_wave",
        entity_id=wave_id,
        before={"language": before},
        after={"language": lang},
    )


def account_language(*, session: Session, account_id: int) -> str | None:
    account = session.get(Account, account_id)
    return i18n.normalise(account.language) if account else None


def set_account_language(*, session: Session, account_id: int, language: str | None, actor: str) -> None:
    """A user's preferred survey language (``None``: follow the browser)."""
    lang = None if language is None else _language(language)
    account = session.get(Account, account_id)
    if account is None:
        raise SurveyError("There is no such account.")
    if account.language == lang:
        return
    before = account.language
    account.language = lang
    session.add(account)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="account",
        entity_id=account_id,
        before={"language": before},
        after={"language": lang},
    )
