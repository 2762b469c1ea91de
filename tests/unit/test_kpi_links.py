"""KPI links: who may draw them, every refusal with its reason, audit, cycles, CSV import and CLI (both backends)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from kpialign import audit, cli, db
from kpialign.models import KpiLink
from kpialign.services import kpi_links
from kpialign.services.kpi_links import LinkError, LinkImportError, LinkInput
from tests.unit.review_fixtures import build_people


@pytest.fixture
def people(engine, db_factory):
    return db_factory.restore(engine, build_people)


def _create(engine, user, link: LinkInput) -> int:
    with db.write_session(engine) as s:
        return kpi_links.create_link(session=s, user=user, link=link)


def _links(engine):
    with db.read_session(engine) as s:
        return kpi_links.links_frame(session=s)


def test_an_owner_draws_a_link_into_their_own_kpi_and_it_is_audited(engine, people):
    org = people.org
    link_id = _create(engine, people.owner, LinkInput(org.otd, org.revenue, 2, 1, "  Deliveries on time win renewals "))
    frame = _links(engine)
    row = frame.set_index("link_id").loc[link_id]
    assert (row["driver"], row["outcome"], row["expected_lag"], row["expected_sign"]) == (
        "On-time delivery",
        "Revenue",
        2,
        1,
    )
    assert row["rationale"] == "Deliveries on time win renewals"
    assert row["driver_department"] == "Operations" and row["outcome_department"] == "Sales"
    with db.read_session(engine) as s:
        events = audit.list_events(s, entity="kpi_link")
    assert events["action"].tolist() == ["create"] and events["actor"].tolist() == ["owner@x.org"]
    assert json.loads(events["detail"][0])["after"]["outcome_kpi_id"] == org.revenue


def test_a_manager_draws_into_their_unit_but_nobody_else_outside_their_scope(engine, people):
    org = people.org
    assert _create(engine, people.manager, LinkInput(org.attrition, org.cac, 1, -1)) > 0
    for user in (people.manager, people.owner, people.leader, people.employee):
        with pytest.raises(LinkError, match="only into KPIs of your own units"):
            _create(engine, user, LinkInput(org.revenue, org.otd, 1, 1))
    assert _create(engine, people.admin, LinkInput(org.revenue, org.otd, 1, 1)) > 0
    assert len(_links(engine)) == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"outcome_kpi_id": "driver"}, "cannot lead itself"),
        ({"driver_kpi_id": 99999}, "does not exist"),
        ({"expected_lag": 25}, "between 0 and 24"),
        ({"expected_lag": -1}, "between 0 and 24"),
        ({"expected_sign": 0}, "expected sign"),
        ({"rationale": "x" * 2001}, "longer than 2000"),
    ],
)
def test_bad_links_are_refused_with_a_reason_and_nothing_is_written(engine, people, change, reason):
    org = people.org
    values = {"driver_kpi_id": org.otd, "outcome_kpi_id": org.revenue, "expected_lag": 1, "expected_sign": 1}
    values.update({k: (org.otd if v == "driver" else v) for k, v in change.items()})
    with pytest.raises(LinkError, match=reason):
        _create(engine, people.admin, LinkInput(**values))
    assert _links(engine).empty


def test_a_duplicate_is_refused_but_the_reverse_direction_is_a_new_link(engine, people):
    org = people.org
    _create(engine, people.admin, LinkInput(org.otd, org.revenue))
    with pytest.raises(LinkError, match="already drawn"):
        _create(engine, people.admin, LinkInput(org.otd, org.revenue, 3, -1))
    _create(engine, people.admin, LinkInput(org.revenue, org.otd))
    assert len(_links(engine)) == 2


def test_cycles_are_allowed_and_marked(engine, people):
    org = people.org
    _create(engine, people.admin, LinkInput(org.revenue, org.cac))
    _create(engine, people.admin, LinkInput(org.cac, org.otd))
    _create(engine, people.admin, LinkInput(org.otd, org.revenue))  # closes revenue -> cac -> otd -> revenue
    _create(engine, people.admin, LinkInput(org.otd, org.attrition))  # leaves the loop
    frame = _links(engine).set_index(["driver", "outcome"])
    assert frame["in_cycle"].sum() == 3
    assert not frame.loc[("On-time delivery", "Attrition"), "in_cycle"]


def test_find_cycles_returns_each_loop_once_and_ignores_chains():
    edges = [(1, 2), (2, 3), (3, 1), (3, 4), (4, 5), (5, 4), (6, 7)]
    assert kpi_links.find_cycles(edges=edges) == [[1, 2, 3], [4, 5]]
    chain = [(i, i + 1) for i in range(5000)]  # deep, iterative: no recursion limit
    assert kpi_links.find_cycles(edges=chain) == []
    assert kpi_links.find_cycles(edges=[*chain, (5000, 0)]) == [list(range(5001))]


def test_update_and_remove_are_checked_and_audited(engine, people):
    org = people.org
    link_id = _create(engine, people.owner, LinkInput(org.otd, org.revenue, 1, 1))
    with db.write_session(engine) as s:
        assert kpi_links.update_link(
            session=s, user=people.owner, link_id=link_id, link=LinkInput(org.otd, org.revenue, 3, -1, "why")
        )
        assert not kpi_links.update_link(
            session=s, user=people.owner, link_id=link_id, link=LinkInput(org.otd, org.revenue, 3, -1, "why")
        )
    with pytest.raises(LinkError, match="only into KPIs of your own units"), db.write_session(engine) as s:
        kpi_links.remove_link(session=s, user=people.employee, link_id=link_id)
    with pytest.raises(LinkError, match="only into KPIs of your own units"), db.write_session(engine) as s:
        # moving the link to an outcome outside the owner's units is refused too
        kpi_links.update_link(session=s, user=people.owner, link_id=link_id, link=LinkInput(org.revenue, org.otd))
    with db.write_session(engine) as s:
        kpi_links.remove_link(session=s, user=people.manager, link_id=link_id)
    with db.read_session(engine) as s:
        assert s.execute(select(KpiLink)).first() is None
        events = audit.list_events(s, entity="kpi_link")
    assert events["action"].tolist() == ["delete", "update", "create"]
    update = json.loads(events["detail"][1])
    assert update["before"]["expected_lag"] == 1 and update["after"]["expected_lag"] == 3


def test_linkable_outcomes_follow_the_scope(engine, people):
    org = people.org
    with db.read_session(engine) as s:
        assert kpi_links.linkable_outcomes(session=s, user=people.owner) == sorted([org.revenue, org.cac])
        assert kpi_links.linkable_outcomes(session=s, user=people.employee) == []
        assert len(kpi_links.linkable_outcomes(session=s, user=people.admin)) == 5


# ------------------------------------------------------------------------------ CSV import

GOOD = (
    "driver_department,driver_kpi,outcome_department,outcome_kpi,expected_lag,expected_sign,rationale\n"
    "Operations,On-time delivery,Sales,Revenue,2,+,Renewals follow delivery\n"
    "hr,attrition,sales,cac,1,-1,\n"
)


def test_a_valid_file_is_imported_and_importing_it_again_changes_nothing(engine, people):
    with db.write_session(engine) as s:
        summary = kpi_links.import_links(session=s, data=GOOD, user=people.admin, filename="links.csv")
    assert (summary.created, summary.updated, summary.unchanged) == (2, 0, 0)
    with db.write_session(engine) as s:
        again = kpi_links.import_links(session=s, data=GOOD.encode("utf-8-sig"), user=people.admin)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = GOOD.replace("Revenue,2,+", "Revenue,4,-")
    with db.write_session(engine) as s:
        third = kpi_links.import_links(session=s, data=changed, user=people.admin)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    frame = _links(engine).set_index("outcome")
    assert (frame.loc["Revenue", "expected_lag"], frame.loc["Revenue", "expected_sign"]) == (4, -1)
    assert frame.loc["CAC", "expected_sign"] == -1


def test_a_bad_file_reports_every_problem_by_row_column_value_and_reason_and_writes_nothing(engine, people):
    bad = (
        "driver_department;driver_kpi;outcome_department;outcome_kpi;expected_lag;expected_sign\n"
        "Operations;On-time delivery;Sales;Revenue;2;+\n"
        "Nowhere;X;Sales;Revenue;1;+\n"
        "Sales;Revenue;Sales;Revenue;1;+\n"
        "Sales;Revenue;Operations;Budget variance;two;up\n"
        "Operations;On-time delivery;Sales;Revenue;30;+\n"
        "Sales;CAC;Sales;Unknown KPI;1;-\n"
    )
    with db.read_session(engine) as s:
        check = kpi_links.validate_links_csv(session=s, data=bad, user=people.owner)
    issues = {(i.row, i.column, i.value) for i in check.issues}
    assert (3, "driver_department", "Nowhere") in issues
    assert (4, "outcome_kpi", "Revenue") in issues  # a KPI cannot lead itself
    assert (5, "expected_lag", "two") in issues and (5, "expected_sign", "up") in issues
    assert (5, "outcome_department", "Operations") in issues  # not the owner's unit
    assert (6, "expected_lag", "30") in issues
    assert (6, "outcome_kpi", "Revenue") in issues  # the same link as row 2
    assert (7, "outcome_kpi", "Unknown KPI") in issues
    assert all(i.reason for i in check.issues) and check.links == []
    with pytest.raises(LinkImportError, match="problems; no link was imported"), db.write_session(engine) as s:
        kpi_links.import_links(session=s, data=bad, user=people.admin)
    assert _links(engine).empty


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "empty"),
        ("driver_kpi,outcome_kpi\nA,B\n", "Missing column"),
        (GOOD.splitlines()[0] + ",colour\n", "Unknown column"),
        (GOOD.splitlines()[0] + "\n", "no data rows"),
        (b"\xff\xfe\x00d", "not UTF-8"),
    ],
)
def test_files_that_cannot_be_read_are_refused_with_a_reason(engine, people, data, reason):
    with db.read_session(engine) as s:
        check = kpi_links.validate_links_csv(session=s, data=data, user=people.admin)
    assert not check.ok and any(reason in i.reason for i in check.issues)


def test_cli_imports_lists_and_refuses_a_bad_file(engine, people, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    good = tmp_path / "links.csv"
    good.write_text(GOOD, encoding="utf-8")
    assert cli.main(["links", "import", str(good), "--dry-run"]) == 0
    assert "Dry run" in capsys.readouterr().out and _links(engine).empty
    assert cli.main(["links", "import", str(good), "--actor", "ops-bot"]) == 0
    assert "2 new" in capsys.readouterr().out
    assert cli.main(["links", "list"]) == 0
    out = capsys.readouterr().out
    assert "On-time delivery" in out and "not enough data" in out  # no values at all
    assert cli.main(["links", "list", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("driver_department,driver,outcome_department")
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD.replace("Revenue,2", "Revenue,x"), encoding="utf-8")
    assert cli.main(["links", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "row 2, column expected_lag, value 'x'" in err
    assert cli.main(["links", "import", str(tmp_path / "missing.csv")]) == 1
    with db.read_session(engine) as s:
        assert set(audit.list_events(s, entity="kpi_link")["actor"]) == {"ops-bot"}


# ------------------------------------------------------------------------ conflict decisions


def test_a_conflict_decision_becomes_an_action_of_a_department_involved(engine, people):
    org = people.org
    with db.write_session(engine) as s:
        kpi_links.record_conflict_decision(
            session=s,
            user=people.manager,
            department_id=org.sales,
            title="Stop discounting below cost",
            decision="CAC pulls against Operate lean; Sales caps discounts.",
            objective_id=org.lean,
            kpi_id=org.cac,
            due_on=date(2026, 7, 1),
            today=date(2026, 6, 1),
        )
    with pytest.raises(Exception, match="manager"), db.write_session(engine) as s:
        kpi_links.record_conflict_decision(
            session=s, user=people.manager, department_id=org.ops, title="x", decision="", today=date(2026, 6, 1)
        )
    with pytest.raises(LinkError, match="short title"), db.write_session(engine) as s:
        kpi_links.record_conflict_decision(session=s, user=people.admin, department_id=org.ops, title=" ", decision="")
    with db.read_session(engine) as s:
        decisions = kpi_links.conflict_decisions(session=s, user=people.leader)
        hidden = kpi_links.conflict_decisions(session=s, user=people.employee)
    assert decisions["title"].tolist() == ["Conflict decision: Stop discounting below cost"]
    assert decisions["kpi"].tolist() == ["CAC"] and hidden.empty
