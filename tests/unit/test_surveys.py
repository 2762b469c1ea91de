"""Survey rules on SQLite and PostgreSQL: bank, waves, links, confidential submission, participation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from kpialign import db
from kpialign.core.security import hash_token
from kpialign.models import Account, Answer, AuditEvent, Comment, Invitation, Question, Response, SurveyWave
from kpialign.services import surveys
from kpialign.services.question_bank import DECOY_OBJECTIVES, QUESTION_BANK
from tests.unit.survey_helpers import BASE, KEY, TODAY, invite, make_wave, question_ids, seed_org, submit

HR = "hr@example.org"


@pytest.fixture
def org(engine, db_factory):
    return db_factory.restore(engine, seed_org)


# ------------------------------------------------------------------------------ tokens


def test_hash_token_is_hmac_sha256_hex():
    import hashlib
    import hmac

    digest = hash_token("abc", b"k")
    assert digest == hmac.new(b"k", b"abc", hashlib.sha256).hexdigest()
    assert len(digest) == 64
    assert hash_token("abc", b"other") != digest


def test_only_the_hmac_of_a_token_is_stored(engine, org):
    wid = make_wave(engine, org)
    tokens = invite(engine, wid, "Sales", 6)
    assert len(set(tokens)) == 6
    with db.read_session(engine) as s:
        stored = {i.token_hmac for i in s.exec(select(Invitation)).all()}
    assert stored == {hash_token(t, KEY) for t in tokens}
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM invitation")).all() for v in row)
    assert not any(t in dump for t in tokens)


def test_links_use_base_url_and_csv_has_no_formulas(engine, org):
    wid = make_wave(engine, org)
    with db.write_session(engine) as s:
        links = surveys.invite_department(
            session=s, wave_id=wid, department="Sales", count=2, key=KEY, base_url=BASE, actor=HR
        )
    assert all(link.startswith(f"{BASE}/survey?token=") for link in links["link"])
    csv_text = surveys.links_csv(links=links.assign(department="=HYPERLINK(1)"))
    assert "'=HYPERLINK(1)" in csv_text


def test_invite_from_csv_keeps_emails_out_of_the_database(engine, org):
    wid = make_wave(engine, org)
    csv_text = "email,department\nann@staff.test,Sales\nbob@staff.test,Finance\ncid@staff.test,Sales\n"
    with db.write_session(engine) as s:
        out = surveys.invite_from_csv(session=s, wave_id=wid, csv_text=csv_text, key=KEY, base_url=BASE, actor=HR)
    assert list(out.columns) == ["email", "department", "link"]
    assert list(out["email"]) == ["ann@staff.test", "bob@staff.test", "cid@staff.test"]
    with engine.connect() as conn:
        for table in ("invitation", "audit_event", "survey_wave"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            assert "staff.test" not in " ".join(str(v) for r in rows for v in r), table
        assert conn.execute(text("SELECT count(*) FROM invitation")).scalar_one() == 3


def test_invite_from_csv_with_a_bad_row_writes_nothing(engine, org):
    wid = make_wave(engine, org)
    for bad in ("email,department\nann@example.org,Nowhere\n", "email,department\nnot-an-email,Sales\n", "a,b\n"):
        with pytest.raises(surveys.SurveyError), db.write_session(engine) as s:
            surveys.invite_from_csv(session=s, wave_id=wid, csv_text=bad, key=KEY, base_url=BASE, actor=HR)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM invitation")).scalar_one() == 0


def test_invite_refuses_departments_outside_the_wave_and_closed_waves(engine, org):
    wid = make_wave(engine, org, names=["Sales"])
    with pytest.raises(surveys.SurveyError, match="not part of"), db.write_session(engine) as s:
        surveys.invite_department(
            session=s, wave_id=wid, department="Finance", count=1, key=KEY, base_url=BASE, actor=HR
        )
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor=HR)
    with pytest.raises(surveys.SurveyError, match="closed"), db.write_session(engine) as s:
        surveys.invite_department(session=s, wave_id=wid, department="Sales", count=1, key=KEY, base_url=BASE, actor=HR)


# ---------------------------------------------------------------------- question bank


def test_bank_sync_is_idempotent_and_complete(engine, org):
    with db.write_session(engine) as s:
        assert surveys.sync_question_bank(session=s, actor="test") == 0
        df = surveys.list_questions(session=s)
    assert set(df["code"]) == {q.code for q in QUESTION_BANK}
    assert (df["kind"] == "likert5").sum() >= 10
    pick = df[df["kind"] == "objective_pick"]
    assert len(pick) == 1


def test_add_edit_and_retire_question(engine, org):
    with db.write_session(engine) as s:
        qid = surveys.add_question(session=s, code="ls9", text="I know my goals.", dimension="line_of_sight", actor=HR)
        surveys.edit_question(session=s, question_id=qid, text="I know my own goals.", actor=HR)
        surveys.set_question_active(session=s, question_id=qid, active=False, actor=HR)
    with db.read_session(engine) as s:
        q = s.get(Question, qid)
        assert (q.code, q.text, q.active) == ("LS9", "I know my own goals.", False)
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.entity == "question")).all()]
    assert actions[-3:] == ["create", "update", "retire"]
    with pytest.raises(surveys.SurveyError, match="already exists"), db.write_session(engine) as s:
        surveys.add_question(session=s, code="LS9", text="dup", actor=HR)


def test_question_used_in_a_closed_wave_cannot_be_edited(engine, org):
    wid = make_wave(engine, org)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor=HR)
    qid = question_ids(engine, {"LS1"})[0]
    with pytest.raises(surveys.SurveyError, match="cannot be edited"), db.write_session(engine) as s:
        surveys.edit_question(session=s, question_id=qid, text="Changed", actor=HR)
    with db.read_session(engine) as s:
        assert s.get(Question, qid).text == next(q.text for q in QUESTION_BANK if q.code == "LS1")
        assert bool(surveys.list_questions(session=s).set_index("id").loc[qid, "locked"])


def test_question_in_a_draft_wave_can_still_be_edited(engine, org):
    make_wave(engine, org, open_it=False)
    qid = question_ids(engine, {"LS1"})[0]
    with db.write_session(engine) as s:
        surveys.edit_question(session=s, question_id=qid, text="Changed", actor=HR)


def test_retired_question_keeps_its_history_and_cannot_join_new_waves(engine, org):
    wid = make_wave(engine, org)
    token = invite(engine, wid, "Sales", 1)[0]
    submit(engine, token, value=5)
    qid = question_ids(engine, {"LS1"})[0]
    with db.write_session(engine) as s:
        surveys.set_question_active(session=s, question_id=qid, active=False, actor=HR)
    with db.read_session(engine) as s:
        counts = surveys.answer_counts(session=s, wave_ids=[wid])
        assert s.get(Question, qid).active is False
    assert counts.loc[counts["question_id"] == qid, "n"].sum() == 1
    with pytest.raises(surveys.SurveyError, match="Retired"), db.write_session(engine) as s:
        surveys.create_wave(
            session=s,
            name="Next",
            opens_on=TODAY,
            closes_on=TODAY,
            question_ids=[qid],
            department_ids=[org["Sales"]],
            actor=HR,
        )


# -------------------------------------------------------------------------------- waves


def test_min_group_defaults_to_5_and_never_below_3(engine, org):
    qids = question_ids(engine)
    with db.write_session(engine) as s:
        wid = surveys.create_wave(
            session=s,
            name="W",
            opens_on=TODAY,
            closes_on=TODAY,
            question_ids=qids,
            department_ids=[org["Sales"]],
            actor=HR,
        )
        assert surveys.get_wave(session=s, wave_id=wid).min_group == 5
    for bad in (2, 0):
        with pytest.raises(surveys.SurveyError, match="never below 3"), db.write_session(engine) as s:
            surveys.create_wave(
                session=s, name=f"W{bad}", opens_on=TODAY, closes_on=TODAY, question_ids=qids,
                department_ids=[org["Sales"]], min_group=bad, actor=HR,
            )  # fmt: skip
    with pytest.raises(surveys.SurveyError, match="never below 3"), db.write_session(engine) as s:
        surveys.update_wave(session=s, wave_id=wid, min_group=2, actor=HR)
    with db.write_session(engine) as s:
        surveys.update_wave(session=s, wave_id=wid, min_group=3, actor=HR)
        assert surveys.get_wave(session=s, wave_id=wid).min_group == 3


def test_wave_validation(engine, org):
    qids = question_ids(engine)
    cases = [
        ({"closes_on": TODAY - timedelta(days=1)}, "close before"),
        ({"question_ids": []}, "at least one question"),
        ({"department_ids": []}, "at least one department"),
        ({"question_ids": question_ids(engine, {"COMMENT"})}, "rated"),
        ({"comment_min": 5}, "cannot be lower"),
    ]
    for override, message in cases:
        kwargs = dict(
            name="W", opens_on=TODAY, closes_on=TODAY, question_ids=qids, department_ids=[org["Sales"]], actor=HR
        )
        kwargs.update(override)
        with pytest.raises(surveys.SurveyError, match=message), db.write_session(engine) as s:
            surveys.create_wave(session=s, **kwargs)
    with db.read_session(engine) as s:
        assert s.exec(select(SurveyWave)).first() is None


def test_thresholds_are_locked_once_open(engine, org):
    wid = make_wave(engine, org)
    for change in (
        {"min_group": 7},
        {"comment_min": 12},
        {"question_ids": question_ids(engine)[:3]},
        {"department_ids": [org["Sales"]]},
        {"opens_on": TODAY},
    ):
        with pytest.raises(surveys.SurveyError, match="is open"), db.write_session(engine) as s:
            surveys.update_wave(session=s, wave_id=wid, actor=HR, **change)
    with db.write_session(engine) as s:
        surveys.update_wave(session=s, wave_id=wid, closes_on=TODAY + timedelta(days=30), actor=HR)
        info = surveys.get_wave(session=s, wave_id=wid)
    assert info.min_group == 5 and info.closes_on == TODAY + timedelta(days=30)


def test_closed_wave_is_immutable(engine, org):
    wid = make_wave(engine, org)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor=HR)
    for fn, kwargs in (
        (surveys.update_wave, {"closes_on": TODAY + timedelta(days=60)}),
        (surveys.update_wave, {"name": "Renamed"}),
        (surveys.open_wave, {}),
        (surveys.close_wave, {}),
        (surveys.delete_draft_wave, {}),
    ):
        with pytest.raises(surveys.SurveyError), db.write_session(engine) as s:
            fn(session=s, wave_id=wid, actor=HR, **kwargs)
    with db.read_session(engine) as s:
        w = s.get(SurveyWave, wid)
        assert (w.name, w.status, w.closes_on) == ("Spring 2026", "closed", TODAY + timedelta(days=14))


def test_open_and_close_are_audited(engine, org):
    wid = make_wave(engine, org)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor=HR)
    with db.read_session(engine) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.entity == "survey_wave")).all()
    assert [e.action for e in events] == ["create", "open", "close"]
    assert all(e.actor == HR for e in events)


# ---------------------------------------------------------------------------- answering


def test_submit_stores_day_department_answers_and_comment(engine, org):
    wid = make_wave(engine, org)
    token = invite(engine, wid, "Sales", 1)[0]
    with db.read_session(engine) as s:
        form = surveys.check_token(session=s, token=token, key=KEY, today=TODAY)
    assert form.department == "Sales" and form.has_comment
    pick = next(i for i in form.items if i.kind == "objective_pick")
    assert set(pick.options) == {
        "Grow recurring revenue",
        "Delight customers",
        "Run lean operations",
        *DECOY_OBJECTIVES,
    }
    likert = [i.question_id for i in form.items if i.kind == "likert5"]
    answers = {qid: 4 for qid in likert}
    answers[likert[0]] = None  # prefer not to say
    with db.write_session(engine) as s:
        result = surveys.submit_response(
            session=s,
            token=token,
            key=KEY,
            answers=answers,
            objective_picks={"Grow recurring revenue", "Delight customers", "Run lean operations"},
            comment="  More town halls, please.  ",
            today=TODAY,
        )
    assert result.skipped == 1 and result.answered == len(likert)
    with db.read_session(engine) as s:
        (resp,) = s.exec(select(Response)).all()
        assert (resp.wave_id, resp.department_id, resp.submitted_on) == (wid, org["Sales"], TODAY)
        assert len(resp.id) == 32 and int(resp.id, 16) >= 0
        vals = {a.question_id: a.value for a in s.exec(select(Answer)).all()}
        assert likert[0] not in vals
        assert vals[pick.question_id] == 100
        assert [c.text for c in s.exec(select(Comment)).all()] == ["More town halls, please."]


def test_objective_pick_options_are_shuffled_the_same_way_within_a_wave():
    real, decoys = ["A", "B", "C"], ["X", "Y", "Z"]
    first = surveys.objective_options(real=real, decoys=decoys, wave_id=1)
    assert first == surveys.objective_options(real=list(reversed(real)), decoys=decoys, wave_id=1)
    assert sorted(first) == ["A", "B", "C", "X", "Y", "Z"]
    assert any(surveys.objective_options(real=real, decoys=decoys, wave_id=w) != first for w in range(2, 8))


def test_a_used_link_cannot_answer_again(engine, org):
    wid = make_wave(engine, org)
    token = invite(engine, wid, "Sales", 1)[0]
    submit(engine, token)
    with pytest.raises(surveys.LinkProblem) as info:
        submit(engine, token)
    assert info.value.reason == "used" and "already been used" in str(info.value)
    with db.read_session(engine) as s:
        assert len(s.exec(select(Response)).all()) == 1


def test_unknown_link_is_refused(engine, org):
    make_wave(engine, org)
    with pytest.raises(surveys.LinkProblem) as info:
        submit(engine, "no-such-token")
    assert info.value.reason == "unknown"


def test_links_stop_working_when_the_wave_closes(engine, org):
    wid = make_wave(engine, org)
    token = invite(engine, wid, "Sales", 2)[0]
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor=HR)
    with pytest.raises(surveys.LinkProblem) as info, db.read_session(engine) as s:
        surveys.check_token(session=s, token=token, key=KEY, today=TODAY)
    assert info.value.reason == "closed"
    with pytest.raises(surveys.LinkProblem):
        submit(engine, token)
    with db.read_session(engine) as s:
        assert s.exec(select(Response)).first() is None
        assert not any(i.used for i in s.exec(select(Invitation)).all())


def test_links_work_only_within_the_dates_and_once_open(engine, org):
    wid = make_wave(engine, org, open_it=False)
    token = invite(engine, wid, "Sales", 1)[0]
    with pytest.raises(surveys.LinkProblem, match="not opened"):
        submit(engine, token)
    with db.write_session(engine) as s:
        surveys.open_wave(session=s, wave_id=wid, actor=HR)
    with pytest.raises(surveys.LinkProblem) as early:
        submit(engine, token, today=TODAY - timedelta(days=30))
    with pytest.raises(surveys.LinkProblem) as late:
        submit(engine, token, today=TODAY + timedelta(days=30))
    assert (early.value.reason, late.value.reason) == ("not_open", "expired")
    submit(engine, token)


def test_invalid_answers_write_nothing_and_keep_the_link(engine, org):
    wid = make_wave(engine, org)
    token = invite(engine, wid, "Sales", 1)[0]
    with pytest.raises(surveys.SurveyError, match="1 to 5"):
        submit(engine, token, value=9)
    with pytest.raises(surveys.SurveyError, match="not among"):
        submit(engine, token, picks={"Something invented"})
    with pytest.raises(surveys.SurveyError, match="at most"):
        submit(engine, token, comment="x" * 5000)
    with db.read_session(engine) as s:
        assert s.exec(select(Response)).first() is None
        assert s.exec(select(Invitation)).one().used is False
    submit(engine, token)


def test_nothing_links_an_invitation_to_its_response(engine, org):
    wid = make_wave(engine, org)
    token = invite(engine, wid, "Sales", 1)[0]
    submit(engine, token)
    with engine.connect() as conn:
        inv = conn.execute(text("SELECT * FROM invitation")).mappings().one()
        resp = conn.execute(text("SELECT * FROM response")).mappings().one()
    assert set(inv.keys()) == {"id", "wave_id", "department_id", "token_hmac", "used", "revoked"}
    assert set(resp.keys()) == {"id", "wave_id", "department_id", "submitted_on"}
    assert str(inv["id"]) != resp["id"] and inv["token_hmac"] not in json.dumps({k: str(v) for k, v in resp.items()})


def _employee(engine, email: str, dept_id: int) -> int:
    with db.write_session(engine) as s:
        a = Account(email=email, department_id=dept_id)
        s.add(a)
        s.flush()
        return int(a.id)


def test_signed_in_employee_answers_once(engine, org):
    wid = make_wave(engine, org)
    acc = _employee(engine, "emp@example.org", org["Finance"])
    with db.read_session(engine) as s:
        waves = surveys.waves_for_account(session=s, account_id=acc, today=TODAY)
    assert list(waves["wave_id"]) == [wid] and not waves["answered"].any()
    for _ in range(2):
        try:
            with db.write_session(engine) as s:
                surveys.submit_response(session=s, account_id=acc, wave_id=wid, answers={}, today=TODAY)
        except surveys.LinkProblem as exc:
            assert exc.reason == "used"
    with db.read_session(engine) as s:
        assert [r.department_id for r in s.exec(select(Response)).all()] == [org["Finance"]]
        assert surveys.waves_for_account(session=s, account_id=acc, today=TODAY)["answered"].all()


def test_departments_with_links_do_not_answer_signed_in(engine, org):
    wid = make_wave(engine, org)
    invite(engine, wid, "Sales", 1)
    acc = _employee(engine, "sales@example.org", org["Sales"])
    with db.read_session(engine) as s:
        assert surveys.waves_for_account(session=s, account_id=acc, today=TODAY).empty
    with pytest.raises(surveys.LinkProblem) as info, db.write_session(engine) as s:
        surveys.submit_response(session=s, account_id=acc, wave_id=wid, answers={}, today=TODAY)
    assert info.value.reason == "not_invited"
    other = _employee(engine, "fin@example.org", org["Finance"])
    with db.write_session(engine) as s:
        surveys.submit_response(session=s, account_id=other, wave_id=wid, answers={}, today=TODAY)
    with pytest.raises(surveys.SurveyError, match="answer twice"):
        invite(engine, wid, "Finance", 3)


# ------------------------------------------------------------------------ participation


def test_participation_is_shown_only_where_at_least_k_were_invited(engine, org):
    wid = make_wave(engine, org)
    sales = invite(engine, wid, "Sales", 8)
    fin = invite(engine, wid, "Finance", 6)
    invite(engine, wid, "Tiny", 2)
    for t in sales[:4] + fin[:3]:
        submit(engine, t)
    with db.read_session(engine) as s:
        df = surveys.participation(session=s, wave_id=wid).set_index("department")
    assert df.loc["Sales", ["invited", "responded"]].tolist() == [8, 4]
    assert df.loc["Sales", "rate"] == pytest.approx(0.5)
    assert not df.loc["Tiny", "shown"] and df.loc["Tiny", ["invited", "responded", "rate"]].isna().all()
    # With the total shown, Tiny alone could be recovered by subtraction: Finance is hidden too.
    assert not df.loc["Finance", "shown"]
    assert df.loc["All departments", ["invited", "responded"]].tolist() == [16, 7]
    with db.read_session(engine) as s:
        csv_text = surveys.participation_csv(session=s, wave_id=wid)
    assert csv_text.splitlines()[0] == "wave,department,invited,responded,rate,shown"
    assert "Spring 2026,Sales,8,4,0.5,true" in csv_text


def test_answer_counts_are_aggregated_in_sql(engine, org):
    wid = make_wave(engine, org)
    for t, v in zip(invite(engine, wid, "Sales", 3), (5, 5, 2), strict=True):
        submit(engine, t, value=v)
    with db.read_session(engine) as s:
        counts = surveys.answer_counts(session=s, wave_ids=[wid])
        sizes = surveys.response_counts(session=s, wave_ids=[wid])
    ls1 = counts[counts["code"] == "LS1"].set_index("value")["n"].to_dict()
    assert ls1 == {2: 1, 5: 2}
    assert sizes.to_dict("records") == [{"wave_id": wid, "department_id": org["Sales"], "n": 3}]


def test_comments_need_the_threshold(engine, org):
    wid = make_wave(engine, org)
    tokens = invite(engine, wid, "Sales", 10)
    for i, t in enumerate(tokens[:9]):
        submit(engine, t, comment=f"comment {i}")
    with db.read_session(engine) as s:
        c = surveys.comments(session=s, wave_id=wid)
    assert (c.n, c.shown, c.texts) == (9, False, ())
    submit(engine, tokens[9], comment="Zebra")
    with db.read_session(engine) as s:
        c = surveys.comments(session=s, wave_id=wid)
    assert c.shown and c.n == 10 and c.texts[-1] == "Zebra" and list(c.texts) == sorted(c.texts, key=str.casefold)
