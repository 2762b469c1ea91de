"""The demo organisation: deterministic for a seed, and shaped so that every page has something true to show.

Runs on SQLite and PostgreSQL. The shape tests read the shared demo database (small, seed 7).
"""

from __future__ import annotations

import io
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from kpialign import db
from kpialign.core import periods
from kpialign.core.security import verify_password
from kpialign.demo import seed as demo
from kpialign.models import RESPONSE_SIDE_TABLES
from kpialign.services import accounts, portal, surveys
from kpialign.services.question_bank import DECOY_OBJECTIVES, QUESTION_BANK, objective_pick_score

# Nothing is left out: even the argon2 salt of the demo password comes from the seed. (The
# invitation digests depend on the HMAC key, which both databases here share.)
NONDETERMINISTIC: set[tuple[str, str]] = set()


def _contents(engine: Engine) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, without the salted columns."""
    out: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in DERIVED_TABLES:
                continue
            cols = [c for c in table.columns if (table.name, c.name) not in NONDETERMINISTIC]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


# Caches of closed-wave aggregates, filled lazily by the first scorecard (shared demo DB), not by the seeder.
DERIVED_TABLES = {"wave_response_count", "wave_answer_count", "wave_reliability"}


def _frame(engine: Engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(text(sql), conn)


# ------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_contents_and_another_seed_differs(engine, demo_engine, db_factory):
    summary = demo.seed_demo(engine, scale="small", seed=7)
    again = _contents(engine)
    reference = _contents(demo_engine)  # seeded by the fixture, seed 7, in another database
    assert again.keys() == reference.keys()
    for table, rows in reference.items():
        assert again[table] == rows, f"table {table} differs between two seeds of 7"
    assert len(again["answer"]) == summary.answers > 1000

    other_url = db_factory.new_url("seed8")
    other = db.make_engine(other_url)
    try:
        demo.seed_demo(other, scale="small", seed=8)
        different = _contents(other)
    finally:
        other.dispose()
        db_factory.drop(other_url)
    assert different["department"] == reference["department"]  # the organisation is fixed...
    assert different["kpi_value"] != reference["kpi_value"]  # ...its numbers come from the seed
    assert different["response"] != reference["response"]

    # Seeding writes explicit ids; PostgreSQL's sequences must have moved past them.
    with db.write_session(engine) as s:
        s.execute(text("INSERT INTO department (name, headcount, active) VALUES ('New unit', 4, true)"))
        s.execute(
            text("INSERT INTO objective (code, title, description, weight, active) VALUES ('N1', 'n', '', 1, true)")
        )
    ids = _frame(engine, "SELECT max(id) AS d, (SELECT max(id) FROM objective) AS o FROM department")
    assert (int(ids.d[0]), int(ids.o[0])) == (summary.departments + 1, summary.objectives + 1)


def test_summary_counts_match_the_database(engine):
    summary = demo.seed_demo(engine, scale="small", seed=3)
    counts = {
        t: int(_frame(engine, f"SELECT count(*) AS n FROM {t}").n[0])
        for t in ("department", "objective", "kpi", "kpi_value", "survey_wave", "invitation", "response")
    }
    assert counts == {
        "department": summary.departments,
        "objective": summary.objectives,
        "kpi": summary.kpis,
        "kpi_value": summary.kpi_values,
        "survey_wave": summary.waves,
        "invitation": summary.invitations,
        "response": summary.responses,
    }
    line = summary.describe()
    assert "\n" not in line and f"{summary.kpis} KPIs" in line and "seed 3" in line


def test_refuses_a_database_that_has_data_or_an_unknown_scale(demo_engine, engine):
    with pytest.raises(ValueError, match="not empty"):
        demo.seed_demo(demo_engine, scale="small", seed=7)
    with pytest.raises(ValueError, match="scale"):
        demo.seed_demo(engine, scale="huge", seed=7)
    assert db.is_empty(engine)


# ------------------------------------------------------------------------------- shape


def test_organisation_tree_and_headcounts(demo_engine):
    d = _frame(demo_engine, "SELECT id, name, parent_id, headcount FROM department")
    divisions = d[d.parent_id.isna()]
    departments = d[d.parent_id.notna()]
    assert len(divisions) == 3 and len(departments) == 8
    assert set(departments.parent_id.astype(int)) == set(divisions.id)  # two levels
    assert (divisions.headcount == 0).all()  # people sit in the departments
    assert departments.headcount.between(3, 60).all()
    assert departments.loc[departments.headcount == 3, "name"].tolist() == ["Legal"]


def test_objectives_coverage_gap_and_conflict(demo_engine):
    o = _frame(demo_engine, "SELECT id, code, parent_id FROM objective")
    assert sorted(o[o.parent_id.isna()].code) == ["OBJ1", "OBJ2", "OBJ3", "OBJ4", "OBJ5"]
    links = _frame(
        demo_engine,
        "SELECT ko.objective_id, ko.contribution, k.department_id FROM kpi_objective ko JOIN kpi k ON k.id = ko.kpi_id",
    )
    assert links.contribution.between(-1, 1).all() and (links.contribution != 0).all()
    unserved = set(o.id) - set(links.objective_id)
    assert o[o.id.isin(unserved)].code.tolist() == ["OBJ5"]
    negative = links[links.contribution < 0]
    assert len(negative) == 1
    pulled = negative.iloc[0]
    pushers = links[(links.objective_id == pulled.objective_id) & (links.contribution > 0)]
    assert (pushers.department_id != pulled.department_id).any()  # another department pushes it


def test_departments_expected_to_serve_objectives_without_kpis(demo_engine):
    expected = _frame(demo_engine, "SELECT department_id, objective_id FROM department_objective")
    served = _frame(
        demo_engine,
        "SELECT DISTINCT k.department_id, ko.objective_id FROM kpi k "
        "JOIN kpi_objective ko ON ko.kpi_id = k.id WHERE ko.contribution > 0",
    )
    merged = expected.merge(served, how="left", indicator=True)
    gaps = merged[merged._merge == "left_only"]
    assert len(gaps) >= 2  # OBJ5 for Production and Logistics, OBJ2 for Marketing
    assert len(merged) > len(gaps) * 3  # mostly covered


def test_kpis_mix_polarity_frequency_trends_and_missing_data(demo_engine):
    k = _frame(demo_engine, "SELECT * FROM kpi")
    assert 25 <= len(k) <= 35
    assert set(k.polarity) == {"higher", "lower", "range"}
    assert set(k.frequency) == {"monthly", "quarterly"}
    ranged = k[k.polarity == "range"]
    assert (ranged.range_low < ranged.range_high).all()
    directed = k[k.polarity != "range"]
    assert ((directed.polarity == "higher") == (directed.target > directed.baseline)).all()
    assert k.owner_id.notna().any()

    v = _frame(demo_engine, "SELECT kpi_id, period, actual FROM kpi_value")
    months = periods.month_periods(demo.DEMO_END_PERIOD, 24)
    monthly = v[v.kpi_id.isin(k[k.frequency == "monthly"].id)]
    quarterly = v[v.kpi_id.isin(k[k.frequency == "quarterly"].id)]
    assert set(monthly.period) == set(months)
    assert quarterly.period.str.fullmatch(r"\d{4}-Q[1-4]").all() and quarterly.period.nunique() == 8
    per_kpi = v.groupby("kpi_id").size()
    full = {kid: (24 if f == "monthly" else 8) for kid, f in zip(k.id, k.frequency, strict=True)}
    missing = {kid: full[kid] - per_kpi.get(kid, 0) for kid in full}
    assert 3 <= sum(1 for m in missing.values() if m > 0) <= 8  # a few KPIs have gaps
    latest = set(monthly[monthly.period == demo.DEMO_END_PERIOD].kpi_id)
    assert set(k[k.frequency == "monthly"].id) - latest  # someone has not reported the last month

    # Real trends: signed Kendall tau of actual vs time, oriented so that + means improving.
    taus = []
    for kid, grp in monthly.groupby("kpi_id"):
        pol = k.set_index("id").polarity[kid]
        if pol == "range":
            continue
        tau = stats.kendalltau(np.arange(len(grp)), grp.sort_values("period").actual).statistic
        taus.append(tau if pol == "higher" else -tau)
    taus = np.array(taus)
    assert (taus > 0.4).sum() >= 3 and (taus < -0.4).sum() >= 2 and (np.abs(taus) < 0.3).sum() >= 2
    assert not _frame(demo_engine, "SELECT * FROM kpi_target").empty


def test_questions_are_the_bank(demo_engine):
    q = _frame(demo_engine, "SELECT code, kind, options FROM question ORDER BY id")
    assert q.code.tolist() == [b.code for b in QUESTION_BANK]
    pick = q[q.code == "OBJ_PICK"].iloc[0]
    assert json.loads(pick.options) == list(DECOY_OBJECTIVES)


def test_waves_participation_and_invitations(demo_engine):
    w = _frame(demo_engine, "SELECT * FROM survey_wave ORDER BY opens_on")
    assert w.status.tolist() == ["closed"] * 4 + ["open"]
    assert w.name.tolist() == ["2025 Q4", "2026 Q1", "2026 Q2", "2026 Q3", "2026 Q4"]
    assert (w.min_group == 5).all()
    open_wave = w.iloc[-1]
    assert (str(open_wave.opens_on)[:10], str(open_wave.closes_on)[:10]) == ("2026-11-02", "2026-12-18")

    cells = _frame(
        demo_engine,
        """
        SELECT i.wave_id, i.department_id, d.headcount, count(*) AS invited,
               sum(CASE WHEN i.used THEN 1 ELSE 0 END) AS used,
               (SELECT count(*) FROM response r WHERE r.wave_id = i.wave_id AND r.department_id = i.department_id)
                 AS responded
        FROM invitation i JOIN department d ON d.id = i.department_id
        GROUP BY i.wave_id, i.department_id, d.headcount
        """,
    )
    assert (cells.invited == cells.headcount).all() and (cells.used == cells.responded).all()
    assert len(cells) == 5 * 8 - 1  # every department with people, every wave, except:
    sales = int(_frame(demo_engine, "SELECT id FROM department WHERE name = 'Sales'").id[0])
    assert not ((cells.wave_id == open_wave.id) & (cells.department_id == sales)).any()
    closed = cells[cells.wave_id.isin(w[w.status == "closed"].id)]
    rate = closed.responded / closed.invited
    assert rate.between(0.6, 0.9).all(), rate.describe()
    current = cells[cells.wave_id == open_wave.id]
    assert 0.2 <= current.responded.sum() / current.invited.sum() <= 0.4
    assert (current.invited > current.used).all()  # unused links remain

    r = _frame(
        demo_engine,
        "SELECT r.submitted_on, w.opens_on, w.closes_on FROM response r JOIN survey_wave w ON w.id = r.wave_id",
    )
    days = pd.to_datetime(r.submitted_on)
    assert (days >= pd.to_datetime(r.opens_on)).all() and (days <= pd.to_datetime(r.closes_on)).all()
    assert days.max() <= pd.Timestamp(demo.OPEN_WAVE_AS_OF)


def test_answers_values_and_comments(demo_engine):
    a = _frame(demo_engine, "SELECT a.value, q.code, q.kind FROM answer a JOIN question q ON q.id = a.question_id")
    likert = a[a.kind == "likert5"]
    assert likert.value.between(1, 5).all() and likert.value.nunique() == 5
    n_resp = int(_frame(demo_engine, "SELECT count(*) AS n FROM response").n[0])
    skipped = 1 - len(likert) / (n_resp * likert.code.nunique())
    assert 0.01 < skipped < 0.06  # "prefer not to say" leaves no answer row
    real = {f"o{i}" for i in range(5)}
    possible = {objective_pick_score(picked=set(), real=real, decoys=set())} | {20 * i for i in range(6)}
    picks = a[a.code == "OBJ_PICK"].value
    assert set(picks) <= possible and picks.nunique() >= 4
    assert not (a.kind == "text").any()  # comments live in the comment table

    c = _frame(demo_engine, "SELECT id, response_id, text FROM comment")
    assert 0.08 < len(c) / n_resp < 0.22
    assert c.id.str.fullmatch(r"[0-9a-f]{32}").all()
    assert c.text.str.contains("<b>").sum() == 1 and c.text.str.contains(r"\*\*").sum() == 1


def test_survey_answers_follow_kpi_performance(demo_engine):
    """Departments that meet their targets in a quarter answer more favourably in that quarter's wave."""
    k = _frame(demo_engine, "SELECT id, department_id, polarity, baseline, target, range_low, range_high FROM kpi")
    v = _frame(demo_engine, "SELECT kpi_id, period, actual FROM kpi_value").merge(k, left_on="kpi_id", right_on="id")
    t = _frame(demo_engine, "SELECT kpi_id, period, target AS period_target FROM kpi_target")
    v = v.merge(t, on=["kpi_id", "period"], how="left")
    target = v.period_target.fillna(v.target)
    att = ((v.actual - v.baseline) / (target - v.baseline)).clip(0, 1)
    width = v.range_high - v.range_low
    outside = (v.range_low - v.actual).clip(lower=0) + (v.actual - v.range_high).clip(lower=0)
    v["att"] = np.where(v.polarity == "range", (1 - outside / width).clip(0, 1), att)
    v["quarter"] = [p if "Q" in p else periods.quarter_of(p) for p in v.period]
    perf = v.groupby(["department_id", "quarter"]).att.mean().rename("perf").reset_index()

    fav = _frame(
        demo_engine,
        """
        SELECT r.department_id, w.name, avg(CASE WHEN a.value >= 4 THEN 1.0 ELSE 0.0 END) AS fav
        FROM answer a JOIN response r ON r.id = a.response_id JOIN survey_wave w ON w.id = r.wave_id
        JOIN question q ON q.id = a.question_id
        WHERE q.kind = 'likert5' AND w.status = 'closed'
        GROUP BY r.department_id, w.name
        """,
    )
    fav["quarter"] = fav.name.str.replace(" ", "-")
    joined = fav.merge(perf, on=["department_id", "quarter"])
    assert len(joined) == 4 * 8
    rho = stats.spearmanr(joined.perf, joined.fav).statistic
    assert rho > 0.3, rho


def test_response_side_carries_no_identity(demo_engine):
    allowed = {
        "response": {"id", "wave_id", "department_id", "submitted_on"},
        "answer": {"response_id", "question_id", "value"},
        "comment": {"id", "response_id", "text"},
    }
    for table in RESPONSE_SIDE_TABLES:
        assert set(SQLModel.metadata.tables[table].columns.keys()) == allowed[table]
    r = _frame(demo_engine, "SELECT id FROM response")
    assert r.id.str.fullmatch(r"[0-9a-f]{32}").all() and r.id.is_unique
    assert _frame(demo_engine, "SELECT count(*) AS n FROM wave_participant").n[0] == 0
    inv = _frame(demo_engine, "SELECT token_hmac FROM invitation")
    assert inv.token_hmac.str.fullmatch(r"[0-9a-f]{64}").all() and inv.token_hmac.is_unique


def test_demo_accounts(demo_engine):
    assert set(demo.DEMO_ACCOUNTS) == {
        "employee",
        "kpi_owner",
        "leader",
        "hr",
        "admin",
        "manager",
        "department_manager",
    }
    assert len(demo.DEMO_PASSWORD) >= accounts.MIN_PASSWORD_LENGTH
    rows = _frame(
        demo_engine,
        "SELECT a.email, a.department_id AS home, a.password_hash, r.role, r.department_id AS scope "
        "FROM account a JOIN account_role r ON r.account_id = a.id",
    )
    managers = rows[rows.role == "manager"]
    others = rows[rows.role != "manager"]
    assert dict(zip(others.role, others.email, strict=True)) == {
        k: v for k, v in demo.DEMO_ACCOUNTS.items() if k not in demo.DEMO_MANAGERS
    }
    units = dict(_frame(demo_engine, "SELECT id, name FROM department").itertuples(index=False))
    assert {(e, units[int(d)]) for e, d in zip(managers.email, managers.scope, strict=True)} == {
        (m.email, m.unit) for m in demo.DEMO_MANAGERS.values()
    }
    assert rows.password_hash.nunique() == 1  # one hash of the shared demo password
    assert rows.password_hash[0].startswith("$argon2id$")
    assert verify_password(rows.password_hash[0], demo.DEMO_PASSWORD)
    owner = rows[rows.role == "kpi_owner"].iloc[0]
    assert not pd.isna(owner.scope) and owner.scope == owner.home
    owned = _frame(demo_engine, "SELECT department_id FROM kpi WHERE owner_id IS NOT NULL")
    assert set(owned.department_id) == {owner.scope}
    employee = rows[rows.role == "employee"].iloc[0]
    with db.read_session(demo_engine) as s:
        account_id = int(s.execute(text("SELECT id FROM account WHERE email = :e"), {"e": employee.email}).scalar_one())
        waves = surveys.waves_for_account(session=s, account_id=account_id, today=date(2026, 11, 20))
    assert waves.name.tolist() == [demo.OPEN_WAVE_NAME]  # the demo employee can answer the open wave
    open_depts = _frame(
        demo_engine,
        "SELECT wd.department_id FROM wave_department wd JOIN survey_wave w ON w.id = wd.wave_id WHERE w.status = 'open'",
    )
    assert employee.home in set(open_depts.department_id)
    settings = _frame(demo_engine, "SELECT key FROM setting")
    assert settings.key.tolist() == [portal.DEMO_MARKER]  # scoring uses its defaults; the database says it is the demo


def test_timeline_is_anchored_not_today(engine):
    # A fresh seed: the shared demo also holds the audit events of the tests that used it before.
    demo.seed_demo(engine, scale="small", seed=7)
    demo_engine = engine
    v = _frame(demo_engine, "SELECT max(period) AS p FROM kpi_value WHERE period NOT LIKE '%Q%'")
    assert v.p[0] == demo.DEMO_END_PERIOD
    at = _frame(demo_engine, "SELECT max(entered_at) AS t FROM kpi_value")
    assert pd.Timestamp(at.t[0]).date() < date(2026, 11, 10)
    events = _frame(demo_engine, "SELECT action, entity, at FROM audit_event")
    assert (events.action == "seed_demo").sum() == 1 and (events.entity == "account").sum() == len(demo.DEMO_ACCOUNTS)
    assert pd.to_datetime(events["at"], utc=True).dt.date.eq(demo.SEEDED_AT.date()).all()


def test_text_progress_draws_a_bar():
    out = io.StringIO()
    report = demo.text_progress(out, width=10)
    report(0.5, "half")
    report(1.0, "done")
    assert "[#####.....]" in out.getvalue() and "half" in out.getvalue()
    assert out.getvalue().endswith("\n") and "[##########]" in out.getvalue()


def test_cli_seed_demo(engine, monkeypatch, capsys):
    from kpialign.cli import main

    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert main(["seed-demo", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "Seeded the small demo organisation (seed 5)" in out
    assert main(["seed-demo", "--if-empty"]) == 0
    assert main(["seed-demo"]) == 1
