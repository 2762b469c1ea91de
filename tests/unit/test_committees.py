"""Committees: set up by admins, validated, audited, and visible to their members, leaders and admins (both backends)."""

from __future__ import annotations

import json

import pytest

from kpialign import audit, db
from kpialign.services import committees
from kpialign.services.committees import CommitteeError, CommitteeInput
from tests.unit.review_fixtures import build_people


@pytest.fixture
def people(engine, db_factory):
    return db_factory.restore(engine, build_people)


def _spec(people, **kw) -> CommitteeInput:
    org = people.org
    values = {
        "name": "Growth council",
        "description": "Sales and Operations on growth.",
        "objective_ids": (org.grow, org.lean),
        "department_ids": (org.sales, org.ops),
        "member_ids": (people.employee.account_id,),
    }
    values.update(kw)
    return CommitteeInput(**values)


def _create(engine, user, spec) -> int:
    with db.write_session(engine) as s:
        return committees.create_committee(session=s, user=user, committee=spec)


def test_an_admin_sets_up_a_committee_and_it_is_audited(engine, people):
    cid = _create(engine, people.admin, _spec(people, name="  Growth   council "))
    with db.read_session(engine) as s:
        info = committees.committee_info(session=s, user=people.admin, committee_id=cid)
        events = audit.list_events(s, entity="committee")
    assert info.name == "Growth council"
    assert info.objectives["code"].tolist() == ["O1", "O2"]
    assert info.departments["department"].tolist() == ["Operations", "Sales"]
    assert info.members["email"].tolist() == ["emp@x.org"]
    after = json.loads(events["detail"][0])["after"]
    assert after["department_ids"] == sorted([people.org.sales, people.org.ops])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"name": " "}, "needs a name"),
        ({"objective_ids": ()}, "at least one objective"),
        ({"department_ids": "one"}, "at least two departments"),
        ({"objective_ids": (424242,)}, "Unknown objective"),
        ({"member_ids": (424242,)}, "Unknown account"),
    ],
)
def test_bad_committees_are_refused_with_a_reason(engine, people, change, reason):
    if change.get("department_ids") == "one":
        change = {"department_ids": (people.org.sales, people.org.sales)}
    with pytest.raises(CommitteeError, match=reason):
        _create(engine, people.admin, _spec(people, **change))
    with db.read_session(engine) as s:
        assert committees.committees_frame(session=s, user=people.admin, include_retired=True).empty


def test_only_admins_set_committees_up_and_names_are_unique(engine, people):
    for user in (people.leader, people.manager, people.owner):
        with pytest.raises(CommitteeError, match="Only an admin"):
            _create(engine, user, _spec(people))
    _create(engine, people.admin, _spec(people))
    with pytest.raises(CommitteeError, match="already exists"):
        _create(engine, people.admin, _spec(people))


def test_members_leaders_and_admins_see_a_committee_others_do_not(engine, people):
    cid = _create(engine, people.admin, _spec(people))
    with db.read_session(engine) as s:
        for user in (people.employee, people.leader, people.admin):
            assert committees.committees_frame(session=s, user=user)["committee_id"].tolist() == [cid]
            assert committees.committee_info(session=s, user=user, committee_id=cid).committee_id == cid
        for user in (people.owner, people.manager):
            assert committees.committees_frame(session=s, user=user).empty
            with pytest.raises(CommitteeError, match="Only the committee's members"):
                committees.committee_info(session=s, user=user, committee_id=cid)
        row = committees.committees_frame(session=s, user=people.admin).iloc[0]
    assert (row["objectives"], row["departments"], row["members"]) == (2, 2, 1)


def test_update_replaces_the_sets_and_retiring_hides_it(engine, people):
    org = people.org
    cid = _create(engine, people.admin, _spec(people))
    with db.write_session(engine) as s:
        changed = committees.update_committee(
            session=s,
            user=people.admin,
            committee_id=cid,
            committee=_spec(people, department_ids=(org.sales, org.hr), member_ids=(people.owner.account_id,)),
        )
        same = committees.update_committee(
            session=s,
            user=people.admin,
            committee_id=cid,
            committee=_spec(people, department_ids=(org.sales, org.hr), member_ids=(people.owner.account_id,)),
        )
        assert committees.set_committee_active(session=s, user=people.admin, committee_id=cid, active=False)
    assert changed and not same
    with db.read_session(engine) as s:
        info = committees.committee_info(session=s, user=people.admin, committee_id=cid)
        assert committees.committees_frame(session=s, user=people.admin).empty
        assert len(committees.committees_frame(session=s, user=people.admin, include_retired=True)) == 1
        events = audit.list_events(s, entity="committee")
    assert info.departments["department"].tolist() == ["HR", "Sales"] and not info.active
    assert info.members["email"].tolist() == ["owner@x.org"]
    assert events["action"].tolist() == ["update", "update", "create"]
