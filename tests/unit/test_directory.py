"""Directory import: units and people, preview, refusals with reasons, idempotence, all-or-nothing."""

from __future__ import annotations

import json
import random
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kpialign import db
from kpialign.models import (
    Account,
    AccountRole,
    AuditEvent,
    Department,
    DepartmentEvent,
    DepartmentHeadcount,
)
from kpialign.services import accounts, directory
from kpialign.services.directory import DirectoryImportError
from tests.unit.csv_corrupt import corrupt

NOV = date(2026, 11, 2)
UNITS = (
    "unit_id,unit_name,parent_unit_id,headcount\n"
    "ORG,Acme,,\n"
    "COM,Commercial,ORG,\n"
    "SAL,Sales,COM,\n"
    "MKT,Marketing,COM,40\n"
    "OPS,Operations,ORG,\n"
)
PEOPLE = (
    "email,name,unit_id,roles,manages\n"
    "ada@acme.test,Ada Admin,ORG,admin,\n"
    "max@acme.test,Max Manager,COM,manager|leader,COM\n"
    "kim@acme.test,Kim Owner,SAL,kpi_owner,SAL;MKT\n"
    "sam@acme.test,Sam Seller,SAL,,\n"
    "sue@acme.test,Sue Seller,SAL,employee,\n"
    "oli@acme.test,Oli Ops,OPS,hr,\n"
)
TABLES = (Department, Account, AccountRole, DepartmentEvent, DepartmentHeadcount, AuditEvent)


def _import(engine, units=UNITS, people=PEOPLE, **kw):
    kw.setdefault("actor", "importer@acme.test")
    kw.setdefault("as_of", NOV)
    with db.write_session(engine) as s:
        return directory.import_directory(session=s, data=units, people=people, **kw)


def _plan(engine, units=UNITS, people=PEOPLE, **kw):
    kw.setdefault("as_of", NOV)
    with db.read_session(engine) as s:
        return directory.plan_import(session=s, data=units, people=people, **kw)


def _snapshot(engine):
    """Every row of the tables an import writes (ids included), to compare before and after."""
    with db.read_session(engine) as s:
        out = {}
        for t in TABLES:
            cols = [c for c in t.__table__.columns if c.name not in ("created_at", "at")]
            out[t.__tablename__] = sorted(tuple(map(str, r)) for r in s.execute(select(*cols)))
        return out


def _reasons(plan):
    return [(i.row, i.column, i.reason) for i in plan.issues]


# ------------------------------------------------------------------------------ success


def test_a_directory_creates_the_unit_tree_people_roles_scopes_and_headcounts(engine):
    plan = _import(engine)
    assert plan.counts()["units_created"] == 5 and plan.counts()["people_created"] == 6
    with db.read_session(engine) as s:
        depts = {d.external_id: d for d in s.exec(select(Department)).scalars()}
        assert depts["SAL"].parent_id == depts["COM"].id and depts["COM"].parent_id == depts["ORG"].id
        assert depts["ORG"].parent_id is None
        # empty headcount = people whose home unit it is; a given headcount wins
        assert depts["SAL"].headcount == 3 and depts["MKT"].headcount == 40 and depts["ORG"].headcount == 1
        hc = dict(s.execute(select(DepartmentHeadcount.department_id, DepartmentHeadcount.headcount)).all())
        assert hc[depts["SAL"].id] == 3 and hc[depts["MKT"].id] == 40
        assert set(s.execute(select(DepartmentHeadcount.period)).scalars()) == {"2026-11"}
        kim = s.exec(select(Account).where(Account.email == "kim@acme.test")).scalar_one()
        ctx = accounts.user_context(session=s, account=kim)
        assert ctx.owner_departments == {depts["SAL"].id, depts["MKT"].id}
        max_ = accounts.user_context(
            session=s, account=s.exec(select(Account).where(Account.email == "max@acme.test")).scalar_one()
        )
        assert max_.roles == {"manager", "leader"}
        assert max_.managed_departments == {depts["COM"].id, depts["SAL"].id, depts["MKT"].id}
        sam = s.exec(select(Account).where(Account.email == "sam@acme.test")).scalar_one()
        assert accounts.roles_of(session=s, account_id=sam.id) == ["employee"] and sam.password_hash is None
        events = s.execute(select(DepartmentEvent.kind, DepartmentEvent.effective_on)).all()
        assert sorted(events) == [("create", NOV)] * 5
        audit_rows = s.execute(select(AuditEvent).where(AuditEvent.entity == "directory")).scalars().all()
        assert len(audit_rows) == 1
        detail = json.loads(audit_rows[0].detail)
        assert detail["after"]["people_created"] == 6 and detail["after"]["units_created"] == 5
        assert len(detail["sha256"]) == 64


def test_the_same_file_twice_changes_nothing_and_writes_nothing(engine):
    _import(engine)
    before = _snapshot(engine)
    again = _import(engine)
    assert again.changes == 0 and "Nothing to change" in again.describe()
    assert _snapshot(engine) == before


def test_one_combined_file_gives_the_same_result_as_two_files(engine, db_factory):
    combined = "unit_id,unit_name,parent_unit_id,headcount,email,name,roles,manages\n"
    for line in UNITS.splitlines()[1:]:
        combined += line + ",,,,\n"
    for line in PEOPLE.splitlines()[1:]:
        email, name, unit, roles, manages = line.split(",")
        combined += f"{unit},,,,{email},{name},{roles},{manages}\n"
    plan = _import(engine, units=combined, people=None)
    assert plan.counts()["units_created"] == 5 and plan.counts()["people_created"] == 6
    assert _import(engine).changes == 0  # the two-file form describes exactly the same directory


def test_a_dry_run_previews_every_change_and_writes_nothing(engine):
    _import(engine)
    before = _snapshot(engine)
    units = UNITS.replace("MKT,Marketing,COM,40", "MKT,Brand & Marketing,ORG,42") + "NEW,Pricing,COM,5\n"
    people = PEOPLE.replace("Sam Seller,SAL", "Sam Seller,MKT").replace("oli@acme.test,Oli Ops,OPS,hr,\n", "")
    plan = _import(engine, units=units, people=people, dry_run=True)
    assert _snapshot(engine) == before
    c = plan.counts()
    assert (c["units_created"], c["units_changed"], c["people_changed"], c["people_missing"]) == (
        1,
        3,
        1,
        1,
    )  # Marketing; Sales and Operations lose a person (derived headcount)
    assert c["people_deactivated"] == 0 and "Dry run" in plan.describe()
    units_frame = plan.units_frame().set_index("unit_id")
    assert "renamed from Marketing" in units_frame.loc["MKT", "what"]
    assert "moved from COM to ORG" in units_frame.loc["MKT", "what"]
    people_frame = plan.people_frame().set_index("email")
    assert people_frame.loc["oli@acme.test", "change"] == "not in file"
    assert "home unit SAL -> MKT" in people_frame.loc["sam@acme.test", "what"]


def test_renames_and_moves_keep_the_unit_and_are_recorded_as_events(engine):
    _import(engine)
    with db.read_session(engine) as s:
        mkt_id = s.execute(select(Department.id).where(Department.external_id == "MKT")).scalar_one()
    units = UNITS.replace("MKT,Marketing,COM,40", "MKT,Brand,ORG,40")
    _import(engine, units=units, as_of=date(2026, 12, 1))
    with db.read_session(engine) as s:
        mkt = s.get(Department, mkt_id)
        assert mkt.name == "Brand" and mkt.external_id == "MKT"  # same id: history reads on
        events = s.execute(
            select(DepartmentEvent.kind, DepartmentEvent.detail).where(
                DepartmentEvent.department_id == mkt_id, DepartmentEvent.kind != "create"
            )
        ).all()
        kinds = {k: json.loads(d) for k, d in events}
        assert kinds["rename"]["from"] == "Marketing" and kinds["rename"]["to"] == "Brand"
        assert "move" in kinds
        # a new period records its own headcount; November's stays
        periods = s.execute(
            select(DepartmentHeadcount.period).where(DepartmentHeadcount.department_id == mkt_id)
        ).scalars()
        assert sorted(periods) == ["2026-11", "2026-12"]  # each import records the headcount of its period
    _import(engine, units=units.replace("MKT,Brand,ORG,40", "MKT,Brand,ORG,44"), as_of=date(2026, 12, 1))
    with db.read_session(engine) as s:
        rows = dict(
            s.execute(
                select(DepartmentHeadcount.period, DepartmentHeadcount.headcount).where(
                    DepartmentHeadcount.department_id == mkt_id
                )
            ).all()
        )
        assert rows == {"2026-11": 40, "2026-12": 44} and s.get(Department, mkt_id).headcount == 44


def test_an_older_period_is_recorded_without_overwriting_the_current_headcount(engine):
    _import(engine)
    units = UNITS.replace("MKT,Marketing,COM,40", "MKT,Marketing,COM,30")
    _import(engine, units=units, as_of=date(2026, 6, 30))
    with db.read_session(engine) as s:
        mkt = s.execute(select(Department).where(Department.external_id == "MKT")).scalar_one()
        assert mkt.headcount == 40
        rows = dict(
            s.execute(
                select(DepartmentHeadcount.period, DepartmentHeadcount.headcount).where(
                    DepartmentHeadcount.department_id == mkt.id
                )
            ).all()
        )
        assert rows == {"2026-06": 30, "2026-11": 40}


def test_a_hand_typed_unit_with_the_same_name_is_adopted_not_duplicated(engine):
    from kpialign.services import strategy

    with db.write_session(engine) as s:
        sales = strategy.create_department(session=s, actor="t", name="Sales", headcount=9)
    plan = _import(engine)
    assert plan.counts()["units_created"] == 4 and plan.counts()["units_changed"] == 1
    with db.read_session(engine) as s:
        assert s.get(Department, sales).external_id == "SAL"
        assert s.execute(select(func.count()).select_from(Department)).scalar_one() == 5


def test_people_missing_from_the_file_are_deactivated_only_after_confirmation(engine):
    _import(engine)
    people = PEOPLE.replace("oli@acme.test,Oli Ops,OPS,hr,\n", "")
    units = UNITS.replace("OPS,Operations,ORG,\n", "")
    plan = _import(engine, units=units, people=people)
    assert plan.counts()["people_missing"] == 1 and plan.counts()["people_deactivated"] == 0
    assert plan.counts()["units_missing"] == 1
    with db.read_session(engine) as s:
        assert s.execute(select(Account.active).where(Account.email == "oli@acme.test")).scalar_one() is True
    plan = _import(engine, units=units, people=people, deactivate_missing=True)
    assert plan.counts()["people_deactivated"] == 1 and plan.counts()["units_deactivated"] == 1
    with db.read_session(engine) as s:
        assert s.execute(select(Account.active).where(Account.email == "oli@acme.test")).scalar_one() is False
        assert s.execute(select(Department.active).where(Department.external_id == "OPS")).scalar_one() is False
    # listed again: reactivated
    _import(engine)
    with db.read_session(engine) as s:
        assert s.execute(select(Account.active).where(Account.email == "oli@acme.test")).scalar_one() is True


def test_the_importer_is_never_deactivated_by_their_own_import(engine):
    _import(engine)
    people = PEOPLE.replace("ada@acme.test,Ada Admin,ORG,admin,\n", "") + "new@acme.test,New Admin,ORG,admin,\n"
    plan = _import(engine, people=people, actor="ada@acme.test", deactivate_missing=True)
    assert plan.counts()["people_deactivated"] == 0
    with db.read_session(engine) as s:
        assert s.execute(select(Account.active).where(Account.email == "ada@acme.test")).scalar_one() is True


def test_an_import_that_leaves_no_active_admin_is_refused(engine):
    _import(engine)
    people = PEOPLE.replace("ORG,admin,", "ORG,leader,")
    before = _snapshot(engine)
    with pytest.raises(DirectoryImportError) as exc:
        _import(engine, people=people)
    assert "no active account would be an admin" in exc.value.plan.issues[0].reason
    assert _snapshot(engine) == before


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("units", "people", "expected"),
    [
        (
            UNITS.replace("ORG,Acme,,", "ORG,Acme,OPS,"),
            PEOPLE,
            (2, "parent_unit_id", "The unit tree has a cycle: ORG > OPS > ORG."),
        ),
        (UNITS, PEOPLE.replace("OPS,hr", "XYZ,hr"), (7, "unit_id", "Unknown unit id.")),
        (UNITS, PEOPLE.replace("OPS,hr", "OPS,boss"), (7, "roles", "Unknown role")),
        (UNITS, PEOPLE.replace("sue@acme.test", "SAM@acme.test"), (6, "email", "Duplicate e-mail: also on row 5.")),
        (UNITS + "SAL,Sales again,COM,\n", PEOPLE, (7, "unit_id", "Duplicate unit id: also on row 4.")),
        (UNITS + "X1,Sales,COM,\n", PEOPLE, (7, "unit_name", "Two units have this name (also row 4).")),
        (UNITS.replace("SAL,Sales,COM,", "SAL,Sales,NOPE,"), PEOPLE, (4, "parent_unit_id", "Unknown parent unit id.")),
        (UNITS.replace("MKT,Marketing,COM,40", "MKT,Marketing,COM,4.5"), PEOPLE, (5, "headcount", "whole number")),
        (UNITS, PEOPLE.replace("sam@acme.test,Sam Seller,SAL,,", "sam@acme.test,Sam,SAL,,SAL"), (5, "manages", "Only")),
        (UNITS, PEOPLE.replace("kim@acme.test", "kim.acme.test"), (4, "email", "Not a valid e-mail address.")),
        (UNITS, PEOPLE.replace("SAL;MKT", "SAL;ZZZ"), (4, "manages", "Unknown unit id.")),
    ],
    ids=[
        "cycle",
        "unknown-unit",
        "unknown-role",
        "duplicate-email",
        "duplicate-unit-id",
        "duplicate-name",
        "unknown-parent",
        "bad-headcount",
        "manages-without-role",
        "bad-email",
        "unknown-managed-unit",
    ],
)
def test_bad_input_is_refused_with_row_column_and_reason_and_nothing_is_written(engine, units, people, expected):
    before = _snapshot(engine)
    with pytest.raises(DirectoryImportError) as exc:
        _import(engine, units=units, people=people)
    row, column, reason = expected
    found = [(i.row, i.column, i.reason) for i in exc.value.plan.issues]
    assert any(r == row and c == column and reason in text for r, c, text in found), found
    assert _snapshot(engine) == before


def test_a_cycle_through_existing_units_is_refused(engine):
    _import(engine)
    # COM moves under SAL, which sits under COM: a cycle across an update
    units = UNITS.replace("COM,Commercial,ORG,", "COM,Commercial,SAL,")
    plan = _plan(engine, units=units)
    assert any("cycle" in i.reason and i.column == "parent_unit_id" for i in plan.issues)


def test_a_name_of_a_unit_the_file_does_not_describe_is_refused(engine):
    _import(engine)
    units = "unit_id,unit_name,parent_unit_id,headcount\nX,Sales,,3\n"
    plan = _plan(engine, units=units, people=None)
    assert any("belongs to the existing unit SAL" in i.reason for i in plan.issues)


def test_file_level_problems_are_reported(engine):
    assert "Missing column(s) unit_name" in _plan(engine, units="unit_id,name\nA,B\n").issues[0].reason
    assert "not UTF-8" in _plan(engine, units=b"unit_id,unit_name\nA,\xff\n").issues[0].reason
    assert "empty" in _plan(engine, units="").issues[0].reason
    assert "no data rows" in _plan(engine, units="unit_id,unit_name\n", people=None).issues[0].reason
    swapped = _plan(engine, units=UNITS.replace(",", ";"), people=PEOPLE)
    assert swapped.ok, _reasons(swapped)  # semicolon-separated files are read too


# ---------------------------------------------------------------- property: all or nothing


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), which=st.sampled_from(["units", "people", "both"]), n=st.integers(1, 3))
def test_property_random_corruptions_write_all_or_nothing(engine, seed, which, n):
    rnd = random.Random(seed)
    units, people = UNITS, PEOPLE
    for _ in range(n):
        if which in ("units", "both"):
            units = corrupt(units, rnd)
        if which in ("people", "both"):
            people = corrupt(people, rnd)
    before = _snapshot(engine)
    try:
        plan = _import(engine, units=units, people=people)
    except DirectoryImportError as exc:
        assert exc.plan.issues
        assert _snapshot(engine) == before  # nothing at all written
        return
    after = _snapshot(engine)
    if plan.changes:
        assert len(after["audit_event"]) == len(before["audit_event"]) + 1
        with db.read_session(engine) as s:
            n_active = s.execute(select(func.count()).select_from(Account).where(Account.active)).scalar_one()
        assert n_active >= len(plan.people)
    else:
        assert after == before
    # whatever was accepted is now the state: importing it again changes nothing
    assert _import(engine, units=units, people=people).changes == 0


# --------------------------------------------------------------------------------- CLI


def test_cli_import_org_reports_problems_previews_and_imports(tmp_path, sqlite_engine, monkeypatch, capsys):
    from kpialign import cli

    url = sqlite_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    monkeypatch.setenv("KPIALIGN_SECRETS_FILE", str(tmp_path / "none"))
    units, people, bad = tmp_path / "units.csv", tmp_path / "people.csv", tmp_path / "bad.csv"
    units.write_text(UNITS, encoding="utf-8")
    people.write_text(PEOPLE, encoding="utf-8")
    bad.write_text(PEOPLE.replace("OPS,hr", "OPS,boss"), encoding="utf-8")

    def run(*args):
        code = cli.main(["import-org", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, _, err = run(str(units), "--people", str(bad))
    assert code == 1 and "people: row 7, column roles, value 'boss': Unknown role" in err
    code, out, _ = run(str(units), "--people", str(people), "--dry-run", "--as-of", "2026-11-02")
    assert code == 0 and "Dry run" in out and "6 new" in out
    with db.read_session(sqlite_engine) as s:
        assert s.execute(select(func.count()).select_from(Account)).scalar_one() == 0
    code, out, err = run(str(units), "--people", str(people), "--as-of", "2026-11-02")
    assert code == 0 and "people: 6 new" in out, err
    code, out, _ = run(str(units), "--people", str(people), "--as-of", "2026-11-02")
    assert code == 0 and "Nothing to change" in out
    code, _, err = run(str(tmp_path / "missing.csv"))
    assert code == 1 and "No such file" in err
    code, _, err = run(str(units), "--as-of", "30.11.2026")
    assert code == 1 and "--as-of" in err


def test_the_example_files_shown_on_the_page_import_cleanly(engine):
    plan = _import(engine, units=directory.EXAMPLE_UNITS, people=directory.EXAMPLE_PEOPLE)
    assert plan.ok and plan.counts()["units_created"] == 3 and plan.counts()["people_created"] == 4
