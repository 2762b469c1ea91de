"""Departments, objectives, KPI definitions, KPI<->objective links and the findings of the alignment map.

Every change is validated first (a :class:`StrategyError` says what is wrong and nothing is
written) and records an audit event with the state before and after, in the caller's
transaction. Things with history are retired (``active = False``) instead of deleted, so no
value, link or response is ever orphaned silently.

Findings (computed with a handful of SQL queries, then combined in pandas):

- coverage gaps: active objectives that no active KPI serves (contribution > 0), neither
  directly nor through a child objective that cascades them;
- orphans: active KPIs linked to no active objective;
- conflicts: a KPI that pulls against an objective (contribution < 0) that a KPI of another
  department pushes (contribution > 0);
- missing expected coverage: a department expected to serve an objective
  (``department_objective``) that has no active KPI serving it (or a child objective of it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import delete, func, literal, select
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import Refused
from kpialign.models import (
    Account,
    AccountRole,
    Department,
    DepartmentObjective,
    Frequency,
    Invitation,
    Kpi,
    KpiCreate,
    KpiObjective,
    KpiTarget,
    KpiValue,
    Objective,
    Polarity,
    Response,
    WaveDepartment,
    kpi_columns,
)

MAX_TREE_DEPTH = 20


class StrategyError(Refused):
    """A setup change was refused; the message says why. Nothing was written."""


# ------------------------------------------------------------------------------- helpers


def _name(value: str, what: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StrategyError(f"The {what} cannot be empty.")
    value = " ".join(value.split())
    if len(value) > max_len:
        raise StrategyError(f"The {what} is too long ({len(value)} characters; at most {max_len}).")
    return value


def _optional_number(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StrategyError(f"The {what} must be a number.") from None
    if math.isnan(number):
        return None
    if not math.isfinite(number):
        raise StrategyError(f"The {what} must be a finite number.")
    return number


def _snapshot(row: object, names: tuple[str, ...]) -> dict:
    return {n: getattr(row, n) for n in names}


def _check_parent(
    session: Session, model: type[Department] | type[Objective], node_id: int | None, parent_id: object, what: str
) -> None:
    """The parent exists, and making it the parent does not create a cycle (``parent_id`` is as the caller gave it)."""
    if parent_id is None:
        return
    if node_id is not None and parent_id == node_id:
        raise StrategyError(f"A {what} cannot be its own parent.")
    parents: dict[object, int | None] = dict(session.execute(select(col(model.id), col(model.parent_id))).all())
    if parent_id not in parents:
        raise StrategyError(f"The parent {what} #{parent_id} does not exist.")
    seen = 0
    current: object = parent_id
    while current is not None:
        if node_id is not None and current == node_id:
            raise StrategyError(f"That parent would make the {what} its own ancestor (a cycle).")
        current = parents.get(current)
        seen += 1
        if seen > MAX_TREE_DEPTH:
            raise StrategyError(f"The {what} tree would be deeper than {MAX_TREE_DEPTH} levels.")


def _exists(session: Session, stmt) -> bool:
    return session.execute(stmt.limit(1)).first() is not None


# ---------------------------------------------------------------------------- departments

_DEPT_FIELDS = ("name", "parent_id", "headcount", "active")


def create_department(
    *, session: Session, actor: str, name: str, parent_id: int | None = None, headcount: int = 0
) -> int:
    name = _name(name, "department name", 200)
    if headcount is None or int(headcount) != headcount or headcount < 0:
        raise StrategyError("The headcount must be a whole number, 0 or more.")
    if _exists(session, select(col(Department.id)).where(func.lower(col(Department.name)) == name.lower())):
        raise StrategyError(f"A department named {name!r} already exists.")
    _check_parent(session, Department, None, parent_id, "department")
    dept = Department(name=name, parent_id=parent_id, headcount=int(headcount))
    session.add(dept)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="department",
        entity_id=dept.id,
        after=_snapshot(dept, _DEPT_FIELDS),
    )
    assert dept.id is not None
    return dept.id


def update_department(*, session: Session, actor: str, department_id: int, **changes: object) -> bool:
    """Change ``name``, ``parent_id``, ``headcount`` or ``active``; returns False if nothing changed."""
    dept = session.get(Department, department_id)
    if dept is None:
        raise StrategyError(f"There is no department #{department_id}.")
    unknown = set(changes) - set(_DEPT_FIELDS)
    if unknown:
        raise StrategyError(f"Unknown department field(s): {', '.join(sorted(unknown))}.")
    if "name" in changes:
        changes["name"] = _name(str(changes["name"]), "department name", 200)
        clash = select(col(Department.id)).where(
            func.lower(col(Department.name)) == str(changes["name"]).lower(), col(Department.id) != department_id
        )
        if _exists(session, clash):
            raise StrategyError(f"A department named {changes['name']!r} already exists.")
    if "headcount" in changes:
        hc = changes["headcount"]
        if not isinstance(hc, int | float) or int(hc) != hc or hc < 0:
            raise StrategyError("The headcount must be a whole number, 0 or more.")
        changes["headcount"] = int(hc)
    if "parent_id" in changes:
        _check_parent(session, Department, department_id, changes["parent_id"], "department")
    return _apply(session, actor, "department", dept, department_id, _DEPT_FIELDS, changes)


def _apply(
    session: Session, actor: str, entity: str, row: object, row_id: object, names: tuple[str, ...], changes: dict
) -> bool:
    before = _snapshot(row, names)
    diff = {k: v for k, v in changes.items() if before.get(k) != v}
    if not diff:
        return False
    for k, v in diff.items():
        setattr(row, k, v)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity=entity,
        entity_id=row_id,
        before={k: before[k] for k in diff},
        after=diff,
    )
    return True


def department_has_history(*, session: Session, department_id: int) -> list[str]:
    """What refers to a department (a department with any of these is retired, not deleted)."""
    checks = {
        "KPIs": select(col(Kpi.id)).where(col(Kpi.department_id) == department_id),
        "sub-departments": select(col(Department.id)).where(col(Department.parent_id) == department_id),
        "accounts": select(col(Account.id)).where(col(Account.department_id) == department_id),
        "KPI-owner roles": select(col(AccountRole.id)).where(col(AccountRole.department_id) == department_id),
        "survey responses": select(col(Response.id)).where(col(Response.department_id) == department_id),
        "survey invitations": select(col(Invitation.id)).where(col(Invitation.department_id) == department_id),
        "survey waves": select(col(WaveDepartment.wave_id)).where(col(WaveDepartment.department_id) == department_id),
    }
    return [label for label, stmt in checks.items() if _exists(session, stmt)]


def remove_department(*, session: Session, actor: str, department_id: int) -> str:
    """Delete a department without history, else retire it. Returns ``"deleted"`` or ``"retired"``."""
    dept = session.get(Department, department_id)
    if dept is None:
        raise StrategyError(f"There is no department #{department_id}.")
    if department_has_history(session=session, department_id=department_id):
        update_department(session=session, actor=actor, department_id=department_id, active=False)
        return "retired"
    before = _snapshot(dept, _DEPT_FIELDS)
    expectations = session.execute(
        select(col(DepartmentObjective.objective_id)).where(col(DepartmentObjective.department_id) == department_id)
    ).all()
    session.execute(delete(DepartmentObjective).where(col(DepartmentObjective.department_id) == department_id))
    session.delete(dept)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="delete",
        entity="department",
        entity_id=department_id,
        before={**before, "expected_objectives": [r[0] for r in expectations]},
    )
    return "deleted"


def departments_frame(*, session: Session, include_retired: bool = True) -> pd.DataFrame:
    """``id, name, parent_id, parent, headcount, active, path, depth, kpis`` in tree order."""
    kpi_counts = (
        select(col(Kpi.department_id), func.count().label("n"))
        .where(col(Kpi.active) == literal(True))
        .group_by(col(Kpi.department_id))
        .subquery()
    )
    stmt = select(
        col(Department.id),
        col(Department.name),
        col(Department.parent_id),
        col(Department.headcount),
        col(Department.active),
        kpi_counts.c.n,
    ).outerjoin(kpi_counts, kpi_counts.c.department_id == col(Department.id))
    df = pd.DataFrame(session.execute(stmt).all(), columns=["id", "name", "parent_id", "headcount", "active", "kpis"])
    df["kpis"] = df["kpis"].fillna(0).astype("int64")
    df = _tree_order(df, "name")
    if not include_retired:
        df = df[df["active"]].reset_index(drop=True)
    return df


def _tree_order(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """Add ``parent``, ``path`` (labels from the root, joined by ' / ') and ``depth``; sort by path."""
    if df.empty:
        return df.assign(parent=pd.Series(dtype=object), path=pd.Series(dtype=object), depth=pd.Series(dtype="int64"))
    labels = dict(zip(df["id"], df[label], strict=True))
    parents = {int(i): (None if pd.isna(p) else int(p)) for i, p in zip(df["id"], df["parent_id"], strict=True)}
    paths: dict[int, list[str]] = {}

    def path_of(node: int) -> list[str]:
        if node in paths:
            return paths[node]
        chain: list[str] = []
        current: int | None = node
        guard = 0
        while current is not None and guard <= MAX_TREE_DEPTH:
            chain.append(str(labels.get(current, "?")))
            current = parents.get(current)
            guard += 1
        paths[node] = list(reversed(chain))
        return paths[node]

    df = df.copy()
    df["parent"] = [labels.get(parents[int(i)]) if parents[int(i)] is not None else None for i in df["id"]]
    df["path"] = [" / ".join(path_of(int(i))) for i in df["id"]]
    df["depth"] = [len(path_of(int(i))) - 1 for i in df["id"]]
    df["_sort"] = [tuple(s.lower() for s in path_of(int(i))) for i in df["id"]]
    df = df.sort_values("_sort").drop(columns="_sort").reset_index(drop=True)
    df["parent_id"] = df["parent_id"].astype("Int64")
    return df


def descendants(*, df: pd.DataFrame, node_id: int) -> set[int]:
    """Ids below ``node_id`` in a frame with ``id`` and ``parent_id`` columns."""
    children: dict[int, list[int]] = {}
    for i, p in zip(df["id"], df["parent_id"], strict=True):
        if not pd.isna(p):
            children.setdefault(int(p), []).append(int(i))
    out: set[int] = set()
    stack = [node_id]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in out:
                out.add(c)
                stack.append(c)
    return out


# ----------------------------------------------------------------------------- objectives

_OBJ_FIELDS = ("code", "title", "description", "parent_id", "weight", "active")


def _objective_values(session: Session, objective_id: int | None, values: dict) -> dict:
    out = dict(values)
    if "code" in out:
        code = _name(str(out["code"]), "objective code", 40)
        if " " in code:
            raise StrategyError("An objective code has no spaces (e.g. O1 or GROW-2).")
        clash = select(col(Objective.id)).where(func.lower(col(Objective.code)) == code.lower())
        if objective_id is not None:
            clash = clash.where(col(Objective.id) != objective_id)
        if _exists(session, clash):
            raise StrategyError(f"An objective with the code {code!r} already exists.")
        out["code"] = code
    if "title" in out:
        out["title"] = _name(str(out["title"]), "objective title", 300)
    if "description" in out:
        out["description"] = str(out["description"] or "").strip()
        if len(out["description"]) > 5000:
            raise StrategyError("The description is too long (at most 5000 characters).")
    if "weight" in out:
        weight = _optional_number(out["weight"], "weight")
        if weight is None or weight < 0:
            raise StrategyError("The weight must be a number, 0 or more.")
        out["weight"] = weight
    if "parent_id" in out:
        _check_parent(session, Objective, objective_id, out["parent_id"], "objective")
    return out


def create_objective(
    *,
    session: Session,
    actor: str,
    code: str,
    title: str,
    description: str = "",
    parent_id: int | None = None,
    weight: float = 1.0,
) -> int:
    values = _objective_values(
        session,
        None,
        {"code": code, "title": title, "description": description, "parent_id": parent_id, "weight": weight},
    )
    obj = Objective(**values)
    session.add(obj)
    session.flush()
    audit.record(
        session, actor=actor, action="create", entity="objective", entity_id=obj.id, after=_snapshot(obj, _OBJ_FIELDS)
    )
    assert obj.id is not None
    return obj.id


def update_objective(*, session: Session, actor: str, objective_id: int, **changes: object) -> bool:
    obj = session.get(Objective, objective_id)
    if obj is None:
        raise StrategyError(f"There is no objective #{objective_id}.")
    unknown = set(changes) - set(_OBJ_FIELDS)
    if unknown:
        raise StrategyError(f"Unknown objective field(s): {', '.join(sorted(unknown))}.")
    values = _objective_values(session, objective_id, changes)
    return _apply(session, actor, "objective", obj, objective_id, _OBJ_FIELDS, values)


def objective_has_history(*, session: Session, objective_id: int) -> list[str]:
    checks = {
        "KPI links": select(col(KpiObjective.kpi_id)).where(col(KpiObjective.objective_id) == objective_id),
        "child objectives": select(col(Objective.id)).where(col(Objective.parent_id) == objective_id),
        "department expectations": select(col(DepartmentObjective.department_id)).where(
            col(DepartmentObjective.objective_id) == objective_id
        ),
    }
    return [label for label, stmt in checks.items() if _exists(session, stmt)]


def remove_objective(*, session: Session, actor: str, objective_id: int) -> str:
    """Delete an objective nothing refers to, else retire it."""
    obj = session.get(Objective, objective_id)
    if obj is None:
        raise StrategyError(f"There is no objective #{objective_id}.")
    if objective_has_history(session=session, objective_id=objective_id):
        update_objective(session=session, actor=actor, objective_id=objective_id, active=False)
        return "retired"
    before = _snapshot(obj, _OBJ_FIELDS)
    session.delete(obj)
    session.flush()
    audit.record(session, actor=actor, action="delete", entity="objective", entity_id=objective_id, before=before)
    return "deleted"


def objectives_frame(*, session: Session, include_retired: bool = True) -> pd.DataFrame:
    """``id, code, title, description, parent_id, parent, weight, active, path, depth, kpis``."""
    link_counts = (
        select(col(KpiObjective.objective_id), func.count().label("n"))
        .join(Kpi, col(Kpi.id) == col(KpiObjective.kpi_id))
        .where(col(Kpi.active) == literal(True))
        .group_by(col(KpiObjective.objective_id))
        .subquery()
    )
    stmt = select(
        col(Objective.id),
        col(Objective.code),
        col(Objective.title),
        col(Objective.description),
        col(Objective.parent_id),
        col(Objective.weight),
        col(Objective.active),
        link_counts.c.n,
    ).outerjoin(link_counts, link_counts.c.objective_id == col(Objective.id))
    cols = ["id", "code", "title", "description", "parent_id", "weight", "active", "kpis"]
    df = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    df["kpis"] = df["kpis"].fillna(0).astype("int64")
    df = _tree_order(df, "code")
    if not include_retired:
        df = df[df["active"]].reset_index(drop=True)
    return df


# ----------------------------------------------------------------------------------- KPIs

# Every KPI column list derives from the one KPI shape (kpialign.models.KpiRead).
KPI_FIELDS = tuple(kpi_columns())


@dataclass
class KpiInput:
    """A KPI definition as typed in a form, not yet validated (:func:`validate_kpi` checks it
    with :class:`kpialign.models.KpiCreate`); the fields are ``KpiCreate``'s."""

    department_id: int
    name: str
    unit: str = ""
    polarity: str = Polarity.HIGHER.value
    baseline: float | None = None
    target: float | None = None
    range_low: float | None = None
    range_high: float | None = None
    frequency: str = Frequency.MONTHLY.value
    weight: float = 1.0
    owner_id: int | None = None
    description: str = ""


def _messages(exc: ValidationError) -> list[str]:
    """One plain sentence per problem found by the KPI data model."""
    out = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        if field == "department_id":
            continue  # "Choose the department" below says it better
        msg = str(err["msg"]).removeprefix("Value error, ")
        out.append(msg if err["type"] == "value_error" else f"{field.replace('_', ' ')}: {msg}")
    return out


def validate_kpi(*, session: Session, kpi: KpiInput, kpi_id: int | None = None) -> KpiInput:
    """All problems of a KPI definition at once, as one :class:`StrategyError`; else the cleaned input.

    Field and polarity rules come from :class:`kpialign.models.KpiCreate`; the rules that need
    the database (department, owner, a unique name within the department) are checked here.
    """
    problems: list[str] = []
    clean: KpiCreate | None = None
    try:
        clean = KpiCreate.model_validate(asdict(kpi))
    except ValidationError as exc:
        problems.extend(_messages(exc))
    dept = session.get(Department, kpi.department_id) if kpi.department_id is not None else None
    if dept is None:
        problems.append("Choose the department that owns the KPI.")
    elif not dept.active and kpi_id is None:
        problems.append(f"Department {dept.name!r} is retired; choose an active department.")
    if kpi.owner_id is not None and session.get(Account, kpi.owner_id) is None:
        problems.append(f"There is no account #{kpi.owner_id} to own the KPI.")
    if dept is not None and clean is not None and not problems:
        clash = select(col(Kpi.id)).where(
            col(Kpi.department_id) == dept.id, func.lower(col(Kpi.name)) == clean.name.lower()
        )
        if kpi_id is not None:
            clash = clash.where(col(Kpi.id) != kpi_id)
        if _exists(session, clash):
            problems.append(f"Department {dept.name!r} already has a KPI named {clean.name!r}.")
    if problems or clean is None:
        raise StrategyError(" ".join(problems))
    return KpiInput(**clean.model_dump(include={f.name for f in fields(KpiInput)}))


def create_kpi(*, session: Session, actor: str, kpi: KpiInput) -> int:
    clean = validate_kpi(session=session, kpi=kpi)
    row = Kpi(**asdict(clean))
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action="create", entity="kpi", entity_id=row.id, after=_snapshot(row, KPI_FIELDS)
    )
    assert row.id is not None
    return row.id


def get_kpi(*, session: Session, kpi_id: int) -> KpiInput:
    row = session.get(Kpi, kpi_id)
    if row is None:
        raise StrategyError(f"There is no KPI #{kpi_id}.")
    return KpiInput(**{f.name: getattr(row, f.name) for f in fields(KpiInput)})


def update_kpi(*, session: Session, actor: str, kpi_id: int, kpi: KpiInput) -> bool:
    """Replace a KPI's definition (validated as a whole). Moving a KPI with data to another department is refused."""
    row = session.get(Kpi, kpi_id)
    if row is None:
        raise StrategyError(f"There is no KPI #{kpi_id}.")
    clean = validate_kpi(session=session, kpi=kpi, kpi_id=kpi_id)
    if clean.department_id != row.department_id and _exists(
        session, select(col(KpiValue.kpi_id)).where(col(KpiValue.kpi_id) == kpi_id)
    ):
        raise StrategyError("This KPI has recorded values; retire it and create a new KPI in the other department.")
    if clean.frequency != row.frequency and _exists(
        session, select(col(KpiValue.kpi_id)).where(col(KpiValue.kpi_id) == kpi_id)
    ):
        raise StrategyError(
            "This KPI has recorded values, so its frequency cannot change; retire it and create a new KPI."
        )
    return _apply(session, actor, "kpi", row, kpi_id, KPI_FIELDS, asdict(clean))


def set_kpi_active(*, session: Session, actor: str, kpi_id: int, active: bool) -> bool:
    row = session.get(Kpi, kpi_id)
    if row is None:
        raise StrategyError(f"There is no KPI #{kpi_id}.")
    return _apply(session, actor, "kpi", row, kpi_id, KPI_FIELDS, {"active": bool(active)})


def kpi_has_history(*, session: Session, kpi_id: int) -> list[str]:
    checks = {
        "recorded values": select(col(KpiValue.kpi_id)).where(col(KpiValue.kpi_id) == kpi_id),
        "period targets": select(col(KpiTarget.kpi_id)).where(col(KpiTarget.kpi_id) == kpi_id),
    }
    return [label for label, stmt in checks.items() if _exists(session, stmt)]


def remove_kpi(*, session: Session, actor: str, kpi_id: int) -> str:
    """Delete a KPI with no recorded data (and its links), else retire it."""
    row = session.get(Kpi, kpi_id)
    if row is None:
        raise StrategyError(f"There is no KPI #{kpi_id}.")
    if kpi_has_history(session=session, kpi_id=kpi_id):
        set_kpi_active(session=session, actor=actor, kpi_id=kpi_id, active=False)
        return "retired"
    before = _snapshot(row, KPI_FIELDS)
    links = session.execute(
        select(col(KpiObjective.objective_id), col(KpiObjective.contribution)).where(col(KpiObjective.kpi_id) == kpi_id)
    ).all()
    session.execute(delete(KpiObjective).where(col(KpiObjective.kpi_id) == kpi_id))
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="delete",
        entity="kpi",
        entity_id=kpi_id,
        before={**before, "links": {str(o): c for o, c in links}},
    )
    return "deleted"


def kpis_frame(*, session: Session, include_retired: bool = True) -> pd.DataFrame:
    """Every KPI with its department: one row per KPI (the scorecard's KPI table).

    Columns: ``kpi_id, name, department_id, department``, the other fields of
    :class:`kpialign.models.KpiRead` (``description, unit, polarity, ..., owner_id, active``),
    then ``owner`` (e-mail) and ``links`` (number of objective links).
    """
    link_counts = (
        select(col(KpiObjective.kpi_id), func.count().label("n")).group_by(col(KpiObjective.kpi_id)).subquery()
    )
    rest = [f for f in KPI_FIELDS if f not in ("name", "department_id")]
    stmt = (
        select(
            col(Kpi.id),
            col(Kpi.name),
            col(Kpi.department_id),
            col(Department.name),
            *(getattr(Kpi, f) for f in rest),
            col(Account.email),
            link_counts.c.n,
        )
        .join(Department, col(Department.id) == col(Kpi.department_id))
        .outerjoin(Account, col(Account.id) == col(Kpi.owner_id))
        .outerjoin(link_counts, link_counts.c.kpi_id == col(Kpi.id))
        .order_by(col(Department.name), col(Kpi.name))
    )
    if not include_retired:
        stmt = stmt.where(col(Kpi.active) == literal(True))
    cols = ["kpi_id", "name", "department_id", "department", *rest, "owner", "links"]
    df = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    df["links"] = df["links"].fillna(0).astype("int64")
    df["owner_id"] = df["owner_id"].astype("Int64")
    return df.astype(
        {
            "kpi_id": "int64",
            "department_id": "int64",
            "baseline": "float64",
            "target": "float64",
            "range_low": "float64",
            "range_high": "float64",
            "weight": "float64",
            "active": "bool",
        }
    )


# ---------------------------------------------------------------------------------- links


def set_link(*, session: Session, actor: str, kpi_id: int, objective_id: int, contribution: float) -> bool:
    """Link a KPI to an objective (or change the contribution). Contribution in [-1, 1], not 0."""
    c = _optional_number(contribution, "contribution")
    if c is None or not -1.0 <= c <= 1.0:
        raise StrategyError("The contribution must be between -1 (pulls against) and 1 (serves fully).")
    if c == 0:
        raise StrategyError("A contribution of 0 means no link; remove the link instead.")
    kpi = session.get(Kpi, kpi_id)
    obj = session.get(Objective, objective_id)
    if kpi is None:
        raise StrategyError(f"There is no KPI #{kpi_id}.")
    if obj is None:
        raise StrategyError(f"There is no objective #{objective_id}.")
    link = session.get(KpiObjective, (kpi_id, objective_id))
    if link is None:
        if not kpi.active or not obj.active:
            raise StrategyError("Retired KPIs and objectives cannot get new links.")
        session.add(KpiObjective(kpi_id=kpi_id, objective_id=objective_id, contribution=c))
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="create",
            entity="kpi_objective",
            entity_id=f"{kpi_id}:{objective_id}",
            after={"contribution": c},
        )
        return True
    if link.contribution == c:
        return False
    before = link.contribution
    link.contribution = c
    session.add(link)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="kpi_objective",
        entity_id=f"{kpi_id}:{objective_id}",
        before={"contribution": before},
        after={"contribution": c},
    )
    return True


def remove_link(*, session: Session, actor: str, kpi_id: int, objective_id: int) -> bool:
    link = session.get(KpiObjective, (kpi_id, objective_id))
    if link is None:
        return False
    before = link.contribution
    session.delete(link)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="delete",
        entity="kpi_objective",
        entity_id=f"{kpi_id}:{objective_id}",
        before={"contribution": before},
    )
    return True


def links_frame(*, session: Session, active_only: bool = False) -> pd.DataFrame:
    """The alignment map, one row per link: ``kpi_id, kpi, department_id, department, objective_id,
    objective_code, objective, contribution, kpi_active, objective_active``."""
    stmt = (
        select(
            col(KpiObjective.kpi_id),
            col(Kpi.name),
            col(Kpi.department_id),
            col(Department.name),
            col(KpiObjective.objective_id),
            col(Objective.code),
            col(Objective.title),
            col(KpiObjective.contribution),
            col(Kpi.active),
            col(Objective.active),
        )
        .join(Kpi, col(Kpi.id) == col(KpiObjective.kpi_id))
        .join(Department, col(Department.id) == col(Kpi.department_id))
        .join(Objective, col(Objective.id) == col(KpiObjective.objective_id))
        .order_by(col(Objective.code), col(Department.name), col(Kpi.name))
    )
    if active_only:
        stmt = stmt.where(col(Kpi.active) == literal(True), col(Objective.active) == literal(True))
    cols = [
        "kpi_id",
        "kpi",
        "department_id",
        "department",
        "objective_id",
        "objective_code",
        "objective",
        "contribution",
        "kpi_active",
        "objective_active",
    ]
    df = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    return df.astype(
        {
            "kpi_id": "int64",
            "department_id": "int64",
            "objective_id": "int64",
            "contribution": "float64",
            "kpi_active": "bool",
            "objective_active": "bool",
        }
    )


# -------------------------------------------------------------------- expected coverage


def set_expectation(*, session: Session, actor: str, department_id: int, objective_id: int, expected: bool) -> bool:
    """Say whether a department is expected to serve an objective (the denominator of coverage)."""
    if session.get(Department, department_id) is None:
        raise StrategyError(f"There is no department #{department_id}.")
    if session.get(Objective, objective_id) is None:
        raise StrategyError(f"There is no objective #{objective_id}.")
    row = session.get(DepartmentObjective, (department_id, objective_id))
    if expected and row is None:
        session.add(DepartmentObjective(department_id=department_id, objective_id=objective_id))
        action = "create"
    elif not expected and row is not None:
        session.delete(row)
        action = "delete"
    else:
        return False
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="department_objective",
        entity_id=f"{department_id}:{objective_id}",
        before={"expected": not expected},
        after={"expected": expected},
    )
    return True


def set_expectations(*, session: Session, actor: str, department_id: int, objective_ids: set[int] | list[int]) -> int:
    """Make ``objective_ids`` exactly the objectives a department is expected to serve; returns the number of changes."""
    current = set(
        session.execute(
            select(col(DepartmentObjective.objective_id)).where(col(DepartmentObjective.department_id) == department_id)
        ).scalars()
    )
    wanted = {int(o) for o in objective_ids}
    changes = 0
    for oid in sorted(wanted - current):
        changes += set_expectation(
            session=session, actor=actor, department_id=department_id, objective_id=oid, expected=True
        )
    for oid in sorted(current - wanted):
        changes += set_expectation(
            session=session, actor=actor, department_id=department_id, objective_id=oid, expected=False
        )
    return changes


def expectations_frame(*, session: Session) -> pd.DataFrame:
    """``department_id, department, objective_id, objective_code, objective``."""
    stmt = (
        select(
            col(DepartmentObjective.department_id),
            col(Department.name),
            col(DepartmentObjective.objective_id),
            col(Objective.code),
            col(Objective.title),
        )
        .join(Department, col(Department.id) == col(DepartmentObjective.department_id))
        .join(Objective, col(Objective.id) == col(DepartmentObjective.objective_id))
        .order_by(col(Department.name), col(Objective.code))
    )
    cols = ["department_id", "department", "objective_id", "objective_code", "objective"]
    return pd.DataFrame(session.execute(stmt).all(), columns=cols)


# ------------------------------------------------------------------------------ findings


@dataclass
class Findings:
    """What the alignment map tells a leader; each a DataFrame (possibly empty)."""

    coverage_gaps: pd.DataFrame  # objective_id, code, title, path
    orphans: pd.DataFrame  # kpi_id, kpi, department
    conflicts: pd.DataFrame  # objective_id, objective_code, objective, kpi_id, kpi, department, contribution, pushed_by
    missing_expected: pd.DataFrame  # department_id, department, objective_id, objective_code, objective

    @property
    def total(self) -> int:
        return len(self.coverage_gaps) + len(self.orphans) + len(self.conflicts) + len(self.missing_expected)


def findings(*, session: Session) -> Findings:
    """Coverage gaps, orphan KPIs, conflicts and missing expected coverage (active items only)."""
    objectives = objectives_frame(session=session, include_retired=False)
    links = links_frame(session=session, active_only=True)
    kpis = kpis_frame(session=session, include_retired=False)
    expectations = expectations_frame(session=session)
    depts = departments_frame(session=session, include_retired=False)

    serving = links[links["contribution"] > 0]
    served_direct = set(serving["objective_id"].astype(int))
    gap_rows = []
    for _, o in objectives.iterrows():
        covered = {int(o["id"])} | descendants(df=objectives, node_id=int(o["id"]))
        if not covered & served_direct:
            gap_rows.append({"objective_id": int(o["id"]), "code": o["code"], "title": o["title"], "path": o["path"]})
    coverage_gaps = pd.DataFrame(gap_rows, columns=["objective_id", "code", "title", "path"])

    linked = set(links["kpi_id"].astype(int))
    orphans = kpis[~kpis["kpi_id"].isin(linked)][["kpi_id", "name", "department"]].rename(columns={"name": "kpi"})
    orphans = orphans.reset_index(drop=True)

    conflict_cols = [
        "objective_id",
        "objective_code",
        "objective",
        "kpi_id",
        "kpi",
        "department",
        "contribution",
        "pushed_by",
    ]
    pulling = links[links["contribution"] < 0]
    conflict_rows = []
    for _, row in pulling.iterrows():
        pushers = serving[
            (serving["objective_id"] == row["objective_id"]) & (serving["department_id"] != row["department_id"])
        ]
        if not pushers.empty:
            conflict_rows.append(
                {
                    "objective_id": int(row["objective_id"]),
                    "objective_code": row["objective_code"],
                    "objective": row["objective"],
                    "kpi_id": int(row["kpi_id"]),
                    "kpi": row["kpi"],
                    "department": row["department"],
                    "contribution": float(row["contribution"]),
                    "pushed_by": ", ".join(sorted(set(pushers["department"]))),
                }
            )
    conflicts = pd.DataFrame(conflict_rows, columns=conflict_cols)

    # Serving a child objective serves the objectives it cascades too.
    all_objectives = objectives_frame(session=session)
    parent_of = {
        int(i): (None if pd.isna(p) else int(p))
        for i, p in zip(all_objectives["id"], all_objectives["parent_id"], strict=True)
    }
    served_pairs: set[tuple[int, int]] = set()
    for dept_id, objective_id in zip(
        serving["department_id"].astype(int), serving["objective_id"].astype(int), strict=True
    ):
        current: int | None = objective_id
        guard = 0
        while current is not None and guard <= MAX_TREE_DEPTH:
            served_pairs.add((dept_id, current))
            current = parent_of.get(current)
            guard += 1
    active_depts = set(depts["id"].astype(int))
    active_objs = set(objectives["id"].astype(int))
    missing = expectations[
        expectations["department_id"].isin(active_depts) & expectations["objective_id"].isin(active_objs)
    ]
    mask = [
        (int(d), int(o)) not in served_pairs
        for d, o in zip(missing["department_id"], missing["objective_id"], strict=True)
    ]
    missing_expected = missing[mask].reset_index(drop=True) if len(missing) else missing.reset_index(drop=True)
    return Findings(coverage_gaps, orphans, conflicts, missing_expected)


def alignment_matrix(*, session: Session) -> pd.DataFrame:
    """Objectives x departments, one row per pair that has a link or an expectation.

    Columns: ``objective_id, objective_code, objective, department_id, department, kpis``
    (number of serving KPIs), ``pulling`` (number of KPIs with negative contribution),
    ``net_contribution`` (sum of contributions), ``expected`` (bool), ``kpi_names`` (text),
    ``status``: ``served`` (expected and served), ``unexpected`` (served, not expected),
    ``missing`` (expected, nothing serves), ``conflict`` (only pulls against it) or ``mixed``
    (some KPIs serve it, some pull against it).
    """
    links = links_frame(session=session, active_only=True)
    expectations = expectations_frame(session=session)
    objectives = objectives_frame(session=session, include_retired=False)[["id", "code", "title"]]
    depts = departments_frame(session=session, include_retired=False)[["id", "name"]]
    cols = [
        "objective_id",
        "objective_code",
        "objective",
        "department_id",
        "department",
        "kpis",
        "pulling",
        "net_contribution",
        "expected",
        "kpi_names",
        "status",
    ]
    if links.empty and expectations.empty:
        return pd.DataFrame(columns=cols)
    agg = (
        links.assign(
            serving=(links["contribution"] > 0).astype(int),
            pull=(links["contribution"] < 0).astype(int),
        )
        .groupby(["objective_id", "department_id"], as_index=False)
        .agg(
            kpis=("serving", "sum"),
            pulling=("pull", "sum"),
            net_contribution=("contribution", "sum"),
            kpi_names=("kpi", lambda s: ", ".join(sorted(s))),
        )
    )
    exp = expectations[["objective_id", "department_id"]].assign(expected=True)
    m = agg.merge(exp, on=["objective_id", "department_id"], how="outer")
    m["expected"] = m["expected"].astype("boolean").fillna(False).astype(bool)
    m["kpis"] = m["kpis"].fillna(0).astype("int64")
    m["pulling"] = m["pulling"].fillna(0).astype("int64")
    m["net_contribution"] = m["net_contribution"].fillna(0.0).astype("float64")
    m["kpi_names"] = m["kpi_names"].fillna("")
    m = m.merge(objectives.rename(columns={"id": "objective_id", "code": "objective_code", "title": "objective"}))
    m = m.merge(depts.rename(columns={"id": "department_id", "name": "department"}))

    def status(r: pd.Series) -> str:
        if r["pulling"] > 0:
            return "conflict" if r["kpis"] == 0 else "mixed"
        if r["kpis"] > 0:
            return "served" if r["expected"] else "unexpected"
        return "missing"

    m["status"] = m.apply(status, axis=1) if len(m) else pd.Series(dtype=object)
    return m[cols].sort_values(["objective_code", "department"]).reset_index(drop=True)
