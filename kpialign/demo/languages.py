"""Demo content for issue 16: the shipped question translations (German, French, Spanish).

The demo writes its questions in bulk, so the translations that :func:`surveys.sync_question_bank`
would bring along are added here; their timestamps are the demo's fixed one (deterministic).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from kpialign.models import QuestionText
from kpialign.services import translations


def seed_languages(session: Session, *, at: datetime) -> int:
    """Add the built-in translations of the demo's bank questions; returns how many."""
    added = translations.sync_builtin(session=session, actor="seed-demo")
    session.execute(update(QuestionText).values(updated_at=at))
    return added
