"""SQLModel tables (names fixed by DESIGN.md so tools and checks can rely on them).

Privacy by construction: the response side (``response``, ``answer``, ``comment``) has no
column that could identify a person or a time of day; ``invitation`` stores only an HMAC of
the token and no time of use, and nothing links an invitation to the response it produced.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# Named constraints, so that Alembic's batch mode (SQLite) can alter them later.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (SQLModel stores datetimes as UTC)."""
    return datetime.now(UTC)


def new_uuid() -> str:
    return uuid.uuid4().hex


class Role(StrEnum):
    EMPLOYEE = "employee"
    KPI_OWNER = "kpi_owner"
    LEADER = "leader"
    HR = "hr"
    ADMIN = "admin"


class Polarity(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"
    RANGE = "range"


class Frequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class WaveStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class QuestionKind(StrEnum):
    LIKERT5 = "likert5"
    OBJECTIVE_PICK = "objective_pick"
    TEXT = "text"


# ------------------------------------------------------------------ organisation & strategy


class Department(SQLModel, table=True):
    """A node of the organisation tree: division > department > team."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    headcount: int = Field(default=0, ge=0)
    active: bool = Field(default=True)


class Objective(SQLModel, table=True):
    """A strategic objective; a child objective cascades its parent."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    parent_id: int | None = Field(default=None, foreign_key="objective.id", index=True)
    weight: float = Field(default=1.0, ge=0)
    active: bool = Field(default=True)


class DepartmentObjective(SQLModel, table=True):
    """Which objectives a department is expected to serve (the denominator of coverage C)."""

    __tablename__ = "department_objective"
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    objective_id: int = Field(foreign_key="objective.id", primary_key=True, index=True)


class Kpi(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("department_id", "name", name="uq_kpi_department_name"),
        CheckConstraint("polarity IN ('higher','lower','range')", name="polarity"),
        CheckConstraint("frequency IN ('monthly','quarterly')", name="frequency"),
    )
    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    unit: str = Field(default="", max_length=40)
    polarity: str = Field(default=Polarity.HIGHER.value, max_length=10)
    baseline: float | None = None
    target: float | None = None
    range_low: float | None = None
    range_high: float | None = None
    frequency: str = Field(default=Frequency.MONTHLY.value, max_length=10)
    weight: float = Field(default=1.0, ge=0)
    owner_id: int | None = Field(default=None, foreign_key="account.id")
    active: bool = Field(default=True)


class KpiObjective(SQLModel, table=True):
    """The alignment map: a KPI serves (contribution > 0) or pulls against (< 0) an objective."""

    __tablename__ = "kpi_objective"
    __table_args__ = (CheckConstraint("contribution >= -1 AND contribution <= 1", name="contribution"),)
    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True)
    objective_id: int = Field(foreign_key="objective.id", primary_key=True, index=True)
    contribution: float = 1.0


class KpiTarget(SQLModel, table=True):
    """A period-specific target that overrides the KPI's default target."""

    __tablename__ = "kpi_target"
    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True)
    period: str = Field(primary_key=True, max_length=7)
    target: float


class KpiValue(SQLModel, table=True):
    """The actual of a KPI in a period (``YYYY-MM`` or ``YYYY-Qn``)."""

    __tablename__ = "kpi_value"
    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True)
    period: str = Field(primary_key=True, max_length=7, index=True)
    actual: float
    source: str = Field(default="manual", max_length=20)
    entered_by: str = Field(default="", max_length=320)
    entered_at: datetime = Field(default_factory=utcnow)


# ------------------------------------------------------------------------------- surveys


class SurveyWave(SQLModel, table=True):
    __tablename__ = "survey_wave"
    __table_args__ = (
        CheckConstraint("status IN ('draft','open','closed')", name="status"),
        CheckConstraint("min_group >= 3", name="min_group"),
    )
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    opens_on: date
    closes_on: date
    status: str = Field(default=WaveStatus.DRAFT.value, max_length=10)
    min_group: int = Field(default=5)
    comment_min: int = Field(default=10)


class WaveDepartment(SQLModel, table=True):
    """The departments a wave surveys."""

    __tablename__ = "wave_department"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)


class Question(SQLModel, table=True):
    __table_args__ = (CheckConstraint("kind IN ('likert5','objective_pick','text')", name="kind"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    dimension: str = Field(default="", max_length=60)
    kind: str = Field(default=QuestionKind.LIKERT5.value, max_length=20)
    reverse: bool = Field(default=False)
    active: bool = Field(default=True)
    # For objective_pick: JSON list of decoy statements shown beside the real objectives.
    options: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WaveQuestion(SQLModel, table=True):
    __tablename__ = "wave_question"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    question_id: int = Field(foreign_key="question.id", primary_key=True)
    position: int = 0


class Invitation(SQLModel, table=True):
    """A personal survey link. Only an HMAC of the token is stored, and no time of use."""

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="survey_wave.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    token_hmac: str = Field(max_length=64, unique=True)
    used: bool = Field(default=False)


class WaveParticipant(SQLModel, table=True):
    """That a signed-in account has answered a wave (prevents a second response).

    It is deliberately not linked to the response it produced.
    """

    __tablename__ = "wave_participant"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    account_id: int = Field(foreign_key="account.id", primary_key=True)


class Response(SQLModel, table=True):
    """One submitted survey. Random id, department, and the day only."""

    id: str = Field(default_factory=new_uuid, primary_key=True, max_length=32)
    wave_id: int = Field(foreign_key="survey_wave.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    submitted_on: date


class Answer(SQLModel, table=True):
    """One answer: 1..5 for likert items; for objective_pick the number of correct picks."""

    response_id: str = Field(foreign_key="response.id", primary_key=True, max_length=32)
    question_id: int = Field(foreign_key="question.id", primary_key=True, index=True)
    value: int


class Comment(SQLModel, table=True):
    id: str = Field(default_factory=new_uuid, primary_key=True, max_length=32)
    response_id: str = Field(foreign_key="response.id", index=True, max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))


# ---------------------------------------------------------------------- accounts & audit


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    password_hash: str | None = Field(default=None, max_length=200)
    oidc_subject: str | None = Field(default=None, max_length=200)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class AccountRole(SQLModel, table=True):
    """A role held by an account; ``department_id`` scopes a KPI owner to a department."""

    __tablename__ = "account_role"
    __table_args__ = (
        UniqueConstraint("account_id", "role", "department_id", name="uq_account_role"),
        CheckConstraint("role IN ('employee','kpi_owner','leader','hr','admin')", name="role"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: str = Field(max_length=20)
    department_id: int | None = Field(default=None, foreign_key="department.id")


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, by the e-mail typed (whether or not such an account exists)."""

    __tablename__ = "login_failure"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    at: datetime = Field(default_factory=utcnow, index=True)


class WebSession(SQLModel, table=True):
    """A browser's local-account sign-in, so that a reload or a new tab stays signed in.

    The browser keeps a random token in a cookie; only its HMAC (:func:`kpialign.surveys.hash_token`
    under :func:`kpialign.config.secret_key`) is stored here, so a database dump cannot sign anyone in.
    """

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hmac: str = Field(max_length=64, unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    revoked_at: datetime | None = Field(default=None)


class AuditEvent(SQLModel, table=True):
    """Append-only log of changes: who, when, what, before and after (JSON in ``detail``)."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=320)
    action: str = Field(max_length=60, index=True)
    entity: str = Field(max_length=60, index=True)
    entity_id: str = Field(default="", max_length=100)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class Setting(SQLModel, table=True):
    """Thresholds and weights (JSON values), changed on the admin page and audited."""

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))


class DataVersion(SQLModel, table=True):
    """A single row whose version every write transaction increments (cache keys use it)."""

    __tablename__ = "data_version"
    id: int = Field(default=1, primary_key=True)
    version: int = 0


class WaveResponseCount(SQLModel, table=True):
    """Responses per closed wave and department, computed once (a closed wave never changes)."""

    __tablename__ = "wave_response_count"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    n: int


class WaveAnswerCount(SQLModel, table=True):
    """Answers per closed wave x department x question x value, computed once (scorecard cache).

    Aggregates only: no response id, so nothing here can be traced to one response.
    """

    __tablename__ = "wave_answer_count"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    question_id: int = Field(foreign_key="question.id", primary_key=True)
    value: int = Field(primary_key=True)
    n: int


# Tables on the response side: no identity, no time finer than the day (tests check this).
RESPONSE_SIDE_TABLES = ("response", "answer", "comment")
