"""SQLModel tables (names fixed by DESIGN.md so tools and checks can rely on them).

Privacy by construction: the response side (``response``, ``answer``, ``comment``) has no
column that could identify a person or a time of day; ``invitation`` stores only an HMAC of
the token and no time of use, and nothing links an invitation to the response it produced.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum

from pydantic import ValidationInfo, field_validator, model_validator
from sqlalchemy import CheckConstraint, Column, Index, Table, Text, UniqueConstraint
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


def pk(row: SQLModel) -> int:
    """The ``id`` of a row that has been flushed or loaded.

    Table models declare ``id: int | None`` (it is ``None`` until the first flush); this gives
    the ``int`` that the database assigned, and fails loudly on a row nobody has flushed yet.
    """
    value = getattr(row, "id", None)
    if value is None:
        raise TypeError(f"{type(row).__name__} has no id yet: add it to the session and flush first")
    return int(value)


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` behind a table model, for bulk inserts and updates."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table models; its stubs omit it
    return table


class Role(StrEnum):
    EMPLOYEE = "employee"
    KPI_OWNER = "kpi_owner"
    LEADER = "leader"
    HR = "hr"
    ADMIN = "admin"
    MANAGER = "manager"


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


class CheckinStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    HELD = "held"
    SIGNED_OFF = "signed_off"


class ActionStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class DepartmentEventKind(StrEnum):
    CREATE = "create"
    RENAME = "rename"
    MOVE = "move"
    MERGE = "merge"
    SPLIT = "split"
    CLOSE = "close"


class QuestionKind(StrEnum):
    LIKERT5 = "likert5"
    OBJECTIVE_PICK = "objective_pick"
    TEXT = "text"


# ------------------------------------------------------------------ organisation & strategy


class DepartmentBase(SQLModel):
    name: str = Field(max_length=200, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    headcount: int = Field(default=0, ge=0)
    active: bool = Field(default=True)
    # The directory's own unit id (directory import matches on it); None for units typed by hand.
    external_id: str | None = Field(default=None, max_length=100, unique=True)


class Department(DepartmentBase, table=True):
    """A node of the organisation tree: division > department > team."""

    id: int | None = Field(default=None, primary_key=True)


class DepartmentCreate(DepartmentBase):
    pass


class DepartmentUpdate(SQLModel):
    name: str | None = None
    parent_id: int | None = None
    headcount: int | None = Field(default=None, ge=0)
    active: bool | None = None
    external_id: str | None = None


class DepartmentRead(DepartmentBase):
    id: int


class ObjectiveBase(SQLModel):
    code: str = Field(max_length=40, unique=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    parent_id: int | None = Field(default=None, foreign_key="objective.id", index=True)
    weight: float = Field(default=1.0, ge=0)
    active: bool = Field(default=True)
    owner_id: int | None = Field(default=None, foreign_key="account.id")


class Objective(ObjectiveBase, table=True):
    """A strategic objective; a child objective cascades its parent."""

    id: int | None = Field(default=None, primary_key=True)


class ObjectiveCreate(ObjectiveBase):
    pass


class ObjectiveUpdate(SQLModel):
    code: str | None = None
    title: str | None = None
    description: str | None = None
    parent_id: int | None = None
    weight: float | None = Field(default=None, ge=0)
    active: bool | None = None
    owner_id: int | None = None


class ObjectiveRead(ObjectiveBase):
    id: int


class DepartmentObjective(SQLModel, table=True):
    """Which objectives a department is expected to serve (the denominator of coverage C)."""

    __tablename__ = "department_objective"
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    objective_id: int = Field(foreign_key="objective.id", primary_key=True, index=True)


class KpiBase(SQLModel):
    """The fields of a KPI definition, shared by the table and the data models (one KPI shape)."""

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


class Kpi(KpiBase, table=True):
    __table_args__ = (
        UniqueConstraint("department_id", "name", name="uq_kpi_department_name"),
        CheckConstraint("polarity IN ('higher','lower','range')", name="polarity"),
        CheckConstraint("frequency IN ('monthly','quarterly')", name="frequency"),
    )
    id: int | None = Field(default=None, primary_key=True)
    active: bool = Field(default=True)


def _kpi_number(value: object, what: str) -> float | None:
    """``None`` (or NaN: an empty form cell) stays None; anything else must be a finite number."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"The {what} must be a number.")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"The {what} must be a number.") from None
    if math.isnan(number):
        return None
    if not math.isfinite(number):
        raise ValueError(f"The {what} must be a finite number.")
    return number


class KpiCreate(KpiBase):
    """A new or edited KPI definition, validated field by field, then as a whole.

    The rules that need the database (the department exists and is active, the owner exists,
    no other KPI of the department has the name) are checked by
    :func:`kpialign.services.strategy.validate_kpi`, which turns every problem into one refusal.
    """

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("The KPI name cannot be empty.")
        value = " ".join(value.split())
        if len(value) > 200:
            raise ValueError(f"The KPI name is too long ({len(value)} characters; at most 200).")
        return value

    @field_validator("unit", "description", mode="before")
    @classmethod
    def _text(cls, value: object, info: ValidationInfo) -> str:
        text = ("" if value is None else str(value)).strip()
        if info.field_name == "unit" and len(text) > 40:
            raise ValueError("The unit is too long (at most 40 characters).")
        return text

    @field_validator("polarity", mode="before")
    @classmethod
    def _polarity(cls, value: object) -> str:
        if value not in {p.value for p in Polarity}:
            raise ValueError("The polarity must be higher, lower or range.")
        return str(value)

    @field_validator("frequency", mode="before")
    @classmethod
    def _frequency(cls, value: object) -> str:
        if value not in {f.value for f in Frequency}:
            raise ValueError("The frequency must be monthly or quarterly.")
        return str(value)

    @field_validator("baseline", "target", "range_low", "range_high", mode="before")
    @classmethod
    def _number(cls, value: object, info: ValidationInfo) -> float | None:
        return _kpi_number(value, str(info.field_name).replace("_", " "))

    @field_validator("weight", mode="before")
    @classmethod
    def _weight(cls, value: object) -> float:
        number = _kpi_number(value, "weight")
        if number is None or number < 0:
            raise ValueError("The weight must be a number, 0 or more.")
        return number

    @model_validator(mode="after")
    def _polarity_rules(self) -> KpiCreate:
        if self.polarity == Polarity.RANGE.value:
            if self.range_low is None or self.range_high is None:
                raise ValueError("A range KPI needs both the low and the high end of its range.")
            if self.range_low >= self.range_high:
                raise ValueError("The low end of the range must be below the high end.")
            return self
        if self.target is None:
            raise ValueError("A higher- or lower-is-better KPI needs a target.")
        if self.baseline is not None:
            if self.target == self.baseline:
                raise ValueError("The target must differ from the baseline (attainment is measured between them).")
            if self.polarity == Polarity.HIGHER.value and self.target < self.baseline:
                raise ValueError("Higher is better, so the target must be above the baseline.")
            if self.polarity == Polarity.LOWER.value and self.target > self.baseline:
                raise ValueError("Lower is better, so the target must be below the baseline.")
        self.range_low = self.range_high = None  # only range KPIs have a range
        return self


class KpiUpdate(SQLModel):
    """A partial change of a KPI (every field optional); apply with ``sqlmodel_update(exclude_unset=True)``."""

    department_id: int | None = None
    name: str | None = None
    description: str | None = None
    unit: str | None = None
    polarity: str | None = None
    baseline: float | None = None
    target: float | None = None
    range_low: float | None = None
    range_high: float | None = None
    frequency: str | None = None
    weight: float | None = None
    owner_id: int | None = None
    active: bool | None = None


class KpiRead(KpiBase):
    """A stored KPI; its field order is the order of every KPI column list (exports, tables, audit)."""

    active: bool = True
    id: int


def kpi_columns(*, without: tuple[str, ...] = ()) -> list[str]:
    """The KPI definition's columns in :class:`KpiRead` order (without ``id`` and ``without``)."""
    return [name for name in KpiRead.model_fields if name != "id" and name not in without]


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


class SurveyWaveBase(SQLModel):
    name: str = Field(max_length=200, unique=True)
    opens_on: date
    closes_on: date
    status: str = Field(default=WaveStatus.DRAFT.value, max_length=10)
    min_group: int = Field(default=5)
    comment_min: int = Field(default=10)
    language: str = Field(default="en", max_length=8)  # the wave's default survey language


class SurveyWave(SurveyWaveBase, table=True):
    __tablename__ = "survey_wave"
    __table_args__ = (
        CheckConstraint("status IN ('draft','open','closed')", name="status"),
        CheckConstraint("min_group >= 3", name="min_group"),
    )
    id: int | None = Field(default=None, primary_key=True)


class SurveyWaveCreate(SurveyWaveBase):
    pass


class SurveyWaveUpdate(SQLModel):
    name: str | None = None
    opens_on: date | None = None
    closes_on: date | None = None
    status: str | None = None
    min_group: int | None = None
    comment_min: int | None = None
    language: str | None = None


class SurveyWaveRead(SurveyWaveBase):
    id: int


class WaveDepartment(SQLModel, table=True):
    """The departments a wave surveys."""

    __tablename__ = "wave_department"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)


class QuestionBase(SQLModel):
    code: str = Field(max_length=40, unique=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    dimension: str = Field(default="", max_length=60)
    kind: str = Field(default=QuestionKind.LIKERT5.value, max_length=20)
    reverse: bool = Field(default=False)
    active: bool = Field(default=True)
    # Bumped whenever ``text`` changes, so translations made from an older text are flagged stale.
    text_version: int = Field(default=1)
    # For objective_pick: JSON list of decoy statements shown beside the real objectives.
    options: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Question(QuestionBase, table=True):
    __table_args__ = (CheckConstraint("kind IN ('likert5','objective_pick','text')", name="kind"),)
    id: int | None = Field(default=None, primary_key=True)


class QuestionCreate(QuestionBase):
    pass


class QuestionUpdate(SQLModel):
    code: str | None = None
    text: str | None = None
    dimension: str | None = None
    kind: str | None = None
    reverse: bool | None = None
    active: bool | None = None
    text_version: int | None = None
    options: str | None = None


class QuestionRead(QuestionBase):
    id: int


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
    # A revoked link (lost, or replaced by a reissued one) no longer opens the survey and is not
    # counted as invited.
    revoked: bool = Field(default=False)


class WaveParticipant(SQLModel, table=True):
    """That a signed-in account has answered a wave (prevents a second response).

    It is deliberately not linked to the response it produced.
    """

    __tablename__ = "wave_participant"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    account_id: int = Field(foreign_key="account.id", primary_key=True)


class Response(SQLModel, table=True):
    """One submitted survey. Random id, department, and the day only."""

    # here: a wave's responses of some departments, read from the index alone (responses export;
    # migration 0005, which replaced the index on wave_id alone)
    __table_args__ = (Index("ix_response_wave_department", "wave_id", "department_id", "id"),)

    id: str = Field(default_factory=new_uuid, primary_key=True, max_length=32)
    wave_id: int = Field(foreign_key="survey_wave.id")
    department_id: int = Field(foreign_key="department.id", index=True)
    submitted_on: date


class Answer(SQLModel, table=True):
    """One answer: 1..5 for likert items; for objective_pick the number of correct picks."""

    # here: a response's answers read from the index alone, without visiting the table (responses
    # export; migration 0005)
    __table_args__ = (Index("ix_answer_response_value", "response_id", "question_id", "value"),)

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
    language: str | None = Field(default=None, max_length=8)  # preferred survey language


class AccountRole(SQLModel, table=True):
    """A role held by an account; ``department_id`` scopes a KPI owner or a manager to a unit.

    A manager's unit includes everything below it in the department tree; several rows give
    several units.
    """

    __tablename__ = "account_role"
    __table_args__ = (
        UniqueConstraint("account_id", "role", "department_id", name="uq_account_role"),
        CheckConstraint("role IN ('employee','kpi_owner','leader','hr','admin','manager')", name="role"),
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

    The browser keeps a random token in a cookie; only its HMAC (:func:`kpialign.services.surveys.hash_token`
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


class WaveReliability(SQLModel, table=True):
    """Cronbach's alpha of a closed wave's line-of-sight scale (whole organisation), computed once.

    With its Feldt 95 % interval and the complete responses and items it came from; written with
    the wave's counts (:mod:`kpialign.scorecard.counts`), so the Survey results page reads one row
    instead of the wave's ~400k answers at enterprise scale. Alpha is None when it cannot be
    estimated. An organisation-wide aggregate: nothing here can be traced to one response.
    """

    __tablename__ = "wave_reliability"
    wave_id: int = Field(foreign_key="survey_wave.id", primary_key=True)
    items: int
    n: int
    alpha: float | None = None
    low: float | None = None
    high: float | None = None


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


# ---------------------------------------------------------------- reviews and actions


class KpiCheckin(SQLModel, table=True):
    """The owner's commentary on a KPI for one period (status, why, next steps).

    One row per KPI and period (the definition stays fixed; the per-period update lives here);
    every edit is audited with before and after, which is the history.
    """

    __tablename__ = "kpi_checkin"
    __table_args__ = (
        UniqueConstraint("kpi_id", "period", name="uq_kpi_checkin_kpi_period"),
        CheckConstraint("status IN ('on_track','at_risk','off_track')", name="status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    kpi_id: int = Field(foreign_key="kpi.id", index=True)
    period: str = Field(max_length=7, index=True)
    status: str = Field(max_length=12)
    analysis: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    next_steps: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    author_id: int | None = Field(default=None, foreign_key="account.id")
    updated_at: datetime = Field(default_factory=utcnow)


class PeriodLock(SQLModel, table=True):
    """A department's period closed after its review: its values and check-ins refuse edits."""

    __tablename__ = "period_lock"
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    period: str = Field(primary_key=True, max_length=7)
    locked_by: str = Field(default="", max_length=320)
    locked_at: datetime = Field(default_factory=utcnow)


class Review(SQLModel, table=True):
    """A department's periodic review meeting."""

    __table_args__ = (
        UniqueConstraint("department_id", "period", name="uq_review_department_period"),
        CheckConstraint("status IN ('draft','held','signed_off')", name="status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    period: str = Field(max_length=7)
    held_on: date | None = None
    attendees: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    decisions: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    status: str = Field(default=ReviewStatus.DRAFT.value, max_length=12)
    signed_off_by: str | None = Field(default=None, max_length=320)
    signed_off_at: datetime | None = None
    created_by: str = Field(default="", max_length=320)
    updated_at: datetime = Field(default_factory=utcnow)


class Action(SQLModel, table=True):
    """One action object for KPI reviews and survey follow-up alike."""

    __table_args__ = (CheckConstraint("status IN ('not_started','in_progress','done','cancelled')", name="status"),)
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    owner_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    due_on: date | None = None
    status: str = Field(default=ActionStatus.NOT_STARTED.value, max_length=12)
    department_id: int = Field(foreign_key="department.id", index=True)
    objective_id: int | None = Field(default=None, foreign_key="objective.id")
    kpi_id: int | None = Field(default=None, foreign_key="kpi.id", index=True)
    question_id: int | None = Field(default=None, foreign_key="question.id")
    wave_id: int | None = Field(default=None, foreign_key="survey_wave.id")
    review_id: int | None = Field(default=None, foreign_key="review.id")
    created_by: str = Field(default="", max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    started_on: date | None = None
    closed_on: date | None = None
    outcome: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))


# ------------------------------------------------------------- links between departments


class KpiLink(SQLModel, table=True):
    """ "This KPI leads that one": driver -> outcome, with the lag and sign the drawer expects."""

    __tablename__ = "kpi_link"
    __table_args__ = (
        UniqueConstraint("driver_kpi_id", "outcome_kpi_id", name="uq_kpi_link_driver_outcome"),
        CheckConstraint("expected_sign IN (-1, 1)", name="expected_sign"),
        CheckConstraint("expected_lag >= 0 AND expected_lag <= 24", name="expected_lag"),
        CheckConstraint("driver_kpi_id <> outcome_kpi_id", name="not_self"),
    )
    id: int | None = Field(default=None, primary_key=True)
    driver_kpi_id: int = Field(foreign_key="kpi.id", index=True)
    outcome_kpi_id: int = Field(foreign_key="kpi.id", index=True)
    expected_lag: int = Field(default=1)
    expected_sign: int = Field(default=1)
    rationale: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_by: str = Field(default="", max_length=320)
    created_at: datetime = Field(default_factory=utcnow)


class Committee(SQLModel, table=True):
    """A cross-functional group of departments around one or more objectives."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    active: bool = Field(default=True)


class CommitteeObjective(SQLModel, table=True):
    __tablename__ = "committee_objective"
    committee_id: int = Field(foreign_key="committee.id", primary_key=True)
    objective_id: int = Field(foreign_key="objective.id", primary_key=True)


class CommitteeDepartment(SQLModel, table=True):
    __tablename__ = "committee_department"
    committee_id: int = Field(foreign_key="committee.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)


class CommitteeMember(SQLModel, table=True):
    """An account that sits on a committee (sees its page besides leaders)."""

    __tablename__ = "committee_member"
    committee_id: int = Field(foreign_key="committee.id", primary_key=True)
    account_id: int = Field(foreign_key="account.id", primary_key=True)


# ------------------------------------------------------------ languages and e-mail delivery


class QuestionText(SQLModel, table=True):
    """A translation of a question; stale when ``source_version`` < the question's ``text_version``."""

    __tablename__ = "question_text"
    question_id: int = Field(foreign_key="question.id", primary_key=True)
    language: str = Field(primary_key=True, max_length=8)
    text: str = Field(sa_column=Column(Text, nullable=False))
    source_version: int = Field(default=1)
    updated_by: str = Field(default="", max_length=320)
    updated_at: datetime = Field(default_factory=utcnow)


class InvitationAddress(SQLModel, table=True):
    """Where a personal link is e-mailed, kept only while its wave is open (deleted on close).

    Never joined to a response (invitations are not linked to responses). ``state`` makes sending
    resumable without sending anyone twice: a row is marked ``sending`` (committed) before the
    SMTP call and ``sent`` after it; a crash leaves at most the one in flight unconfirmed.
    """

    __tablename__ = "invitation_address"
    __table_args__ = (CheckConstraint("state IN ('pending','sending','sent','failed')", name="state"),)
    invitation_id: int = Field(foreign_key="invitation.id", primary_key=True)
    email: str = Field(max_length=320)
    language: str | None = Field(default=None, max_length=8)
    state: str = Field(default="pending", max_length=10)
    reminders_sent: int = Field(default=0)
    # Random per-link seed: with the server's secret it re-derives the link for reminders, so the
    # raw token is never stored (a database dump alone cannot open anyone's survey).
    token_seed: str | None = Field(default=None, max_length=64)


class MailTemplate(SQLModel, table=True):
    """An e-mail template HR can edit: invitation or reminder, per language."""

    __tablename__ = "mail_template"
    kind: str = Field(primary_key=True, max_length=20)
    language: str = Field(primary_key=True, max_length=8)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    updated_by: str = Field(default="", max_length=320)
    updated_at: datetime = Field(default_factory=utcnow)


# ------------------------------------------------------------------ organisation history


class DepartmentEvent(SQLModel, table=True):
    """A reorganisation step with its effective date: rename, move, merge, split, close.

    ``detail`` (JSON) holds what the step needs to be replayed and labelled: the old and new
    name, the old and new parent, the units merged or split.
    """

    __tablename__ = "department_event"
    __table_args__ = (CheckConstraint("kind IN ('create','rename','move','merge','split','close')", name="kind"),)
    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    kind: str = Field(max_length=10)
    effective_on: date
    related_department_id: int | None = Field(default=None, foreign_key="department.id")
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))
    created_by: str = Field(default="", max_length=320)
    created_at: datetime = Field(default_factory=utcnow)


class DepartmentHeadcount(SQLModel, table=True):
    """A unit's headcount in a period (from directory imports), for rates and weighted roll-ups."""

    __tablename__ = "department_headcount"
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    period: str = Field(primary_key=True, max_length=7)
    headcount: int = Field(ge=0)


# Tables on the response side: no identity, no time finer than the day (tests check this).
RESPONSE_SIDE_TABLES = ("response", "answer", "comment")
