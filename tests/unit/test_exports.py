"""HR exports (kpialign.exports): privacy, injection-safe round trips, audit, CLI (both backends)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import func, update
from sqlmodel import select

from kpialign import db, exports
from kpialign.cli import main
from kpialign.core import csv_out, privacy
from kpialign.models import Answer, AuditEvent, Comment, Department, Kpi, Question, Response, SurveyWave
from kpialign.services import surveys
from tests.unit.survey_helpers import KEY, make_wave, seed_org

PAYLOADS = ['=HYPERLINK("http://x","y")', "@SUM(1)", "\t=1", "-2+3"]
DAY = date(2026, 11, 27)
ALL = frozenset({"hr", "admin"})
CLOSED = "2026 Q3"  # a closed wave of the small demo


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# ------------------------------------------------------------------ a small controlled wave


@pytest.fixture
def small_wave(engine, db_factory):
    """Departments A (10 respondents), B (6), C (4), D (0) in one closed wave, k = 5.

    In A one respondent skips AW1 and five skip AW2. A comment from every respondent of A
    (10, reaching the threshold), B (6) and C (4).
    """
    wid, depts = db_factory.restore(engine, _small_wave)
    return engine, wid, depts


def _small_wave(engine):
    depts = seed_org(engine, departments=("A", "B", "C", "D"))
    wid = make_wave(engine, depts, name="Test wave", min_group=5)
    with db.write_session(engine) as s:
        qs = {q.code: q for q in s.exec(select(Question)).all()}
        rated = [q for q in qs.values() if q.kind == "likert5"]
        sizes = {"A": 10, "B": 6, "C": 4, "D": 0}
        for name, n in sizes.items():
            for i in range(n):
                r = Response(wave_id=wid, department_id=depts[name], submitted_on=date(2026, 3, 9))
                s.add(r)
                s.flush()
                for q in rated:
                    if name == "A" and ((q.code == "AW1" and i == 0) or (q.code == "AW2" and i < 5)):
                        continue
                    s.add(Answer(response_id=r.id, question_id=q.id, value=1 + (i % 5)))
                if name in ("A", "B", "C"):
                    s.add(Comment(response_id=r.id, text=f"{name} comment {i}"))
        # Results of a wave are exported only once it is closed (privacy.results_released).
        s.get(SurveyWave, wid).status = "closed"
    return wid, depts


def test_results_primary_and_complementary_suppression(small_wave):
    engine, _wid, _depts = small_wave
    with db.read_session(engine) as s:
        df = exports.results(s, wave="Test wave")
    assert list(df.columns) == exports.RESULTS_COLUMNS
    ls1 = df[df["question_code"] == "LS1"].set_index("department")
    # C (4) is below k; hiding only C would let total - A - B reveal it, so B (6) is hidden too.
    assert ls1.loc["A", "suppressed"] == False  # noqa: E712
    assert ls1.loc["A", "n"] == 10
    assert bool(ls1.loc["B", "suppressed"]) and bool(ls1.loc["C", "suppressed"]) and bool(ls1.loc["D", "suppressed"])
    for dept in ("B", "C", "D"):
        assert ls1.loc[dept, exports.RESULT_VALUES].isna().all()
    assert ls1.loc[exports.TOTAL_LABEL, "n"] == 20 and not ls1.loc[exports.TOTAL_LABEL, "suppressed"]
    # Percentages of a shown cell add up to 100 and match the answers (values 1..5, two each).
    assert ls1.loc["A", ["pct_favourable", "pct_neutral", "pct_unfavourable"]].tolist() == [40.0, 20.0, 40.0]
    assert ls1.loc["A", "mean"] == 3.0
    # AW2: only 5 of A's respondents answered -> still >= k, shown. AW1: 9 answered, shown.
    aw = df[df["department"] == "A"].set_index("question_code")
    assert aw.loc["AW1", "n"] == 9 and aw.loc["AW2", "n"] == 5


def test_results_per_question_small_n_is_hidden(small_wave):
    engine, _wid, depts = small_wave
    with db.write_session(engine) as s:  # a sixth respondent of A skips AW2 too: 4 answers < k
        ids = s.exec(
            select(Answer.response_id)
            .join(Response, Response.id == Answer.response_id)
            .join(Question, Question.id == Answer.question_id)
            .where(Response.department_id == depts["A"], Question.code == "AW2")
        ).all()
        s.delete(s.get(Answer, (ids[0], s.exec(select(Question.id).where(Question.code == "AW2")).one())))
    with db.read_session(engine) as s:
        df = exports.results(s, wave="Test wave")
        resp = exports.responses(s, wave="Test wave")
    aw2 = df[df["question_code"] == "AW2"].set_index("department")
    assert bool(aw2.loc["A", "suppressed"]) and pd.isna(aw2.loc["A", "n"])
    # The same cells are blank in the responses file, so total - file reveals nothing small.
    assert resp["AW2"].isna().all() and resp["AW1"].notna().sum() == 9


def test_responses_only_shown_departments_deidentified(small_wave):
    engine, _wid, _depts = small_wave
    with db.read_session(engine) as s:
        df = exports.responses(s, wave="Test wave")
        ids = set(s.exec(select(Response.id)).all())
    assert set(df["department"]) == {"A"}
    assert len(df) == 10 and sorted(df["respondent"]) == list(range(1, 11))
    assert list(df.columns[:3]) == exports.RESPONSES_FIXED_COLUMNS
    assert not {"comment", "submitted_on", "response_id", "id"} & set(df.columns)
    text = csv_out.write_csv(df).decode()
    assert not any(i in text for i in ids) and "2026-03-09" not in text and "comment" not in text


def test_comments_threshold_and_shuffle(small_wave):
    engine, _wid, _depts = small_wave
    with db.read_session(engine) as s:
        df = exports.comments(s, wave="Test wave")
    assert list(df.columns) == exports.COMMENTS_COLUMNS
    assert set(df["department"]) == {"A"} and len(df) == 10  # B has 6 < 10, C 4
    assert sorted(df["comment"]) == sorted(f"A comment {i}" for i in range(10))
    assert df["comment"].tolist() != [f"A comment {i}" for i in range(10)]  # not in insertion order
    # Without C's comments, B's 6 would be "all comments minus A's": A is withheld too.
    with db.write_session(engine) as s:
        for c in s.exec(select(Comment).where(Comment.text.startswith("C comment"))).all():
            s.delete(c)
    with db.read_session(engine) as s:
        assert exports.comments(s, wave="Test wave").empty


def test_participation_is_the_survey_pages_table(small_wave):
    engine, wid, _depts = small_wave
    with db.read_session(engine) as s:
        df = exports.participation(s, wave="Test wave")
        page = surveys.participation(session=s, wave_id=wid)
    assert list(df.columns) == exports.PARTICIPATION_COLUMNS
    pd.testing.assert_frame_equal(
        df.drop(columns="wave"), page.drop(columns="department_id")[df.columns[1:]], check_dtype=False
    )


# ------------------------------------------------------------------ the demo, with payloads


@pytest.fixture
def payload_demo(demo_copy_url):
    """A demo copy whose department, KPI names and comments carry spreadsheet-formula payloads."""
    engine = db.make_engine(demo_copy_url)
    with db.write_session(engine) as s:
        wave = s.exec(select(SurveyWave).where(SurveyWave.name == CLOSED)).one()
        per_dept = s.exec(
            select(Response.department_id, func.count())
            .join(Comment, Comment.response_id == Response.id)
            .where(Response.wave_id == wave.id)
            .group_by(Response.department_id)
            .order_by(func.count().desc(), Response.department_id)
        ).all()
        big = int(per_dept[0][0])  # the department with most comments: shown, with its comments
        s.execute(update(Department).where(Department.id == big).values(name=PAYLOADS[0]))
        kpis = s.exec(select(Kpi).order_by(Kpi.id)).all()[:4]
        for kpi, payload in zip(kpis, PAYLOADS, strict=True):
            kpi.name = payload
            s.add(kpi)
        # Enough comments to pass the threshold (the demo's own number may change): give
        # respondents of that department without a comment one.
        silent = s.exec(
            select(Response.id)
            .where(Response.wave_id == wave.id, Response.department_id == big)
            .where(~Response.id.in_(select(Comment.response_id)))
            .order_by(Response.id)
        ).all()
        have = int(per_dept[0][1])
        for rid in silent[: max(0, privacy.COMMENT_MIN + 2 - have)]:
            s.add(Comment(response_id=rid, text="More focus, please."))
        s.flush()
        comments = s.exec(
            select(Comment)
            .join(Response, Response.id == Comment.response_id)
            .where(Response.wave_id == wave.id, Response.department_id == big)
            .order_by(Comment.id)
        ).all()
        assert len(comments) >= privacy.COMMENT_MIN
        for c, payload in zip(comments, PAYLOADS, strict=False):
            c.text = payload
            s.add(c)
    yield engine
    engine.dispose()


def test_round_trip_payloads_are_neutralised_numbers_kept(payload_demo):
    files = {
        kind: exports.build_export(payload_demo, kind=kind, actor="hr@x", roles=ALL, wave=CLOSED, today=DAY)
        for kind in ("results", "comments", "kpis", "responses")
    }
    with db.read_session(payload_demo) as s:
        frames = {kind: exports.export_frame(s, kind=kind, wave=CLOSED) for kind in files}
    for kind, f in files.items():
        assert f.data.endswith(b"\r\n") and not f.data.startswith(csv_out.UTF8_BOM)
        rows = _rows(f.data)
        assert len(rows) == f.rows == len(frames[kind]), kind
        cells = [v for r in rows for v in r.values()]
        for p in PAYLOADS:
            assert p not in cells, (kind, p)  # never a raw payload
        assert not any(v.startswith(csv_out.FORMULA_PREFIXES) for v in cells if not _is_number(v)), kind
    results = _rows(files["results"].data)
    assert {r["department"] for r in results} >= {"'" + PAYLOADS[0]}
    mine = [r for r in results if r["department"] == "'" + PAYLOADS[0]]
    assert mine and all(r["suppressed"] == "false" and int(r["n"]) >= 5 for r in mine)
    comments = [r["comment"] for r in _rows(files["comments"].data)]
    assert {"'" + p for p in PAYLOADS} <= set(comments)
    kpi_rows = _rows(files["kpis"].data)
    assert {"'" + p for p in PAYLOADS} <= {r["kpi"] for r in kpi_rows}
    # Numbers read back unchanged, negative ones included.
    df = frames["kpis"]
    actual = [float(r["actual"]) if r["actual"] else None for r in kpi_rows]
    assert actual == [None if pd.isna(v) else float(v) for v in df["actual"]]
    res = frames["results"]
    assert [r["pct_favourable"] for r in results] == [
        "" if pd.isna(v) else repr(float(v)) for v in res["pct_favourable"]
    ]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_negative_numbers_stay_numbers(payload_demo):
    with db.write_session(payload_demo) as s:
        kpi = s.exec(select(Kpi).order_by(Kpi.id)).first()
        kpi.baseline = -5.0
        s.add(kpi)
    f = exports.build_export(payload_demo, kind="kpis", actor="hr@x", roles=ALL, today=DAY)
    assert "-5.0" in {r["baseline"] for r in _rows(f.data)}


def test_excel_flavour_only_adds_bom(demo_engine):
    with db.read_session(demo_engine) as s:
        plain = exports.prepare_export(s, kind="results", roles=ALL, wave=CLOSED, today=DAY)
        excel = exports.prepare_export(s, kind="results", roles=ALL, wave=CLOSED, excel=True, today=DAY)
    assert excel.data == csv_out.UTF8_BOM + plain.data
    assert plain.filename == excel.filename == "kpialign-results-2026-Q3-2026-11-27.csv"


def test_demo_results_satisfy_the_privacy_rules(demo_engine):
    """Checked from raw counts, independently of how suppression is computed."""
    from kpialign.scorecard import queries as scorecard_data

    with db.read_session(demo_engine) as s:
        w = surveys.get_wave(session=s, name=CLOSED)
        df = exports.results(s, wave=CLOSED)
        sizes = surveys.response_counts(session=s, wave_ids=[w.id])
        tree = scorecard_data.departments(s)
    k = w.min_group
    n_of = {int(d): int(n) for d, n in zip(sizes["department_id"], sizes["n"], strict=True)}
    name_to_id = dict(zip(tree["department"], tree["department_id"], strict=True))
    division_of = dict(zip(tree["department_id"], tree["division_id"], strict=True))
    rows = df[df["department"] != exports.TOTAL_LABEL]
    hidden = {int(name_to_id[d]) for d, g in rows.groupby("department") if g["suppressed"].all()}
    assert hidden and all(
        g[exports.RESULT_VALUES].isna().all().all() for _, g in rows[rows["suppressed"]].groupby("department")
    )
    assert {d for d, n in n_of.items() if n < k} <= hidden  # primary rule
    # Complementary rule: the hidden respondents of each division, and of the hidden
    # divisions together, are 0 or at least k (no total minus shown cells reveals fewer).
    by_div: dict[int, int] = {}
    for d in hidden:
        by_div[division_of[d]] = by_div.get(division_of[d], 0) + n_of.get(d, 0)
    assert all(v == 0 or v >= k for v in by_div.values())
    for _code, g in rows.groupby("question_code"):
        assert (g.loc[~g["suppressed"], "n"] >= k).all()


def test_complementary_suppression_respects_divisions(engine):
    """X = {X1: 12, X2: 3}, Y = {Y1: 6, Y2: 10}: X2 is hidden, so X1 must be too (the X total
    is shown on the pages), not Y1 — hiding the smallest department anywhere would leak X2."""
    with db.write_session(engine) as s:
        x, y = Department(name="X"), Department(name="Y")
        s.add_all([x, y])
        s.flush()
        for name, parent in (("X1", x), ("X2", x), ("Y1", y), ("Y2", y)):
            s.add(Department(name=name, parent_id=parent.id, headcount=20))
        s.flush()
        surveys.sync_question_bank(session=s, actor="test")
        ids = {d.name: int(d.id) for d in s.exec(select(Department)).all()}
    make_wave(engine, ids, name="Tree wave", names=["X1", "X2", "Y1", "Y2"])
    with db.write_session(engine) as s:
        q = s.exec(select(Question).where(Question.code == "LS1")).one()
        for name, n in (("X1", 12), ("X2", 3), ("Y1", 6), ("Y2", 10)):
            for i in range(n):
                r = Response(wave_id=s.exec(select(SurveyWave.id)).one(), department_id=ids[name], submitted_on=DAY)
                s.add(r)
                s.flush()
                s.add(Answer(response_id=r.id, question_id=q.id, value=1 + i % 5))
        s.exec(select(SurveyWave)).one().status = "closed"  # results are exported once a wave is closed
    with db.read_session(engine) as s:
        df = exports.results(s, wave="Tree wave")
        resp = exports.responses(s, wave="Tree wave")
    ls1 = df[df["question_code"] == "LS1"].set_index("department")["suppressed"]
    assert ls1.to_dict() == {"X1": True, "X2": True, "Y1": False, "Y2": False, exports.TOTAL_LABEL: False}
    assert set(resp["department"]) == {"Y1", "Y2"}


def _has_scorecard() -> bool:
    from kpialign.scorecard import build as scorecard

    return hasattr(scorecard, "department_scorecard")


def test_every_export_is_audited_and_roles_enforced(payload_demo):
    with db.read_session(payload_demo) as s:
        before = len(s.exec(select(AuditEvent)).all())
    kinds = [k for k in exports.KINDS if k != "scorecard" or _has_scorecard()]
    made = {}
    for kind in kinds:
        made[kind] = exports.build_export(
            payload_demo,
            kind=kind,
            actor="admin@x",
            roles={"admin"},
            wave=CLOSED if kind in exports.SURVEY_KINDS else None,
            period="2026-09" if kind in ("kpis", "scorecard") else None,
            today=DAY,
        )
    with db.read_session(payload_demo) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)).all()
        total = len(s.exec(select(AuditEvent)).all())
    assert total == before + len(kinds)
    assert [e.entity_id for e in events] == kinds
    for e in events:
        detail = json.loads(e.detail)
        assert e.actor == "admin@x" and detail["kind"] == e.entity_id
        assert detail["rows"] == made[e.entity_id].rows
        assert detail["file"] == made[e.entity_id].filename
        if e.entity_id in exports.SURVEY_KINDS:
            assert detail["filters"] == {"wave": CLOSED}
    assert made["kpis"].filename == "kpialign-kpis-2026-09-2026-11-27.csv"
    # HR may not export the audit log; a leader may export nothing; nothing is recorded then.
    with pytest.raises(exports.ExportError):
        exports.build_export(payload_demo, kind="audit", actor="hr@x", roles={"hr"}, today=DAY)
    with pytest.raises(exports.ExportError):
        exports.build_export(payload_demo, kind="results", actor="l@x", roles={"leader"}, wave=CLOSED, today=DAY)
    with pytest.raises(exports.ExportError):
        exports.build_export(payload_demo, kind="nope", actor="a@x", roles=ALL, today=DAY)
    with db.read_session(payload_demo) as s:
        assert len(s.exec(select(AuditEvent)).all()) == total
    assert exports.allowed_kinds({"hr"}) == [k for k in exports.KINDS if k != "audit"]
    assert exports.allowed_kinds({"leader"}) == []


def test_cli_export_matches_build_export_byte_for_byte(payload_demo, monkeypatch, tmp_path, capsysbinary):
    url = payload_demo.url.render_as_string(hide_password=False)
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    monkeypatch.setenv("KPIALIGN_SECRET_KEY", KEY.decode())
    out = tmp_path / "r.csv"
    assert main(["export", "results", "--wave", CLOSED, "--output", str(out), "--excel"]) == 0
    assert main(["export", "comments", "--wave", CLOSED]) == 0
    stdout = capsysbinary.readouterr().out
    same = exports.build_export(payload_demo, kind="results", actor="hr@x", roles=ALL, wave=CLOSED, excel=True)
    comments = exports.build_export(payload_demo, kind="comments", actor="hr@x", roles=ALL, wave=CLOSED)
    assert out.read_bytes() == same.data
    assert stdout == comments.data
    with db.read_session(payload_demo) as s:
        actors = [e.actor for e in s.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()]
    assert actors == ["cli", "cli", "hr@x", "hr@x"]
    # Errors: a survey kind without --wave, an unknown wave, a bad period.
    assert main(["export", "results"]) == 1
    assert main(["export", "results", "--wave", "No such wave"]) == 1
    assert main(["export", "kpis", "--period", "2026-13"]) == 1


def test_results_hide_the_same_departments_as_the_scorecard(demo_engine):
    """The Overview page's understanding U is suppressed exactly where ``results`` is empty."""
    with db.read_session(demo_engine) as s:
        card = exports.scorecard(s, wave=CLOSED)
        res = exports.results(s, wave=CLOSED)
        visible = set(exports.visible_departments(s, wave=CLOSED))
    per_dept = res[res["department"] != exports.TOTAL_LABEL].groupby("department")["suppressed"].all()
    hidden_in_results = set(per_dept[per_dept].index)
    surveyed = card[card["department"].isin(per_dept.index)]
    assert hidden_in_results and set(surveyed.loc[surveyed["u_suppressed"], "department"]) == hidden_in_results
    assert set(surveyed.loc[~surveyed["u_suppressed"], "department_id"]) == visible
