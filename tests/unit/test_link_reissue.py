"""Lost survey links: HR reissues one person's link (the old one stops working) and withdraws unused
links, without inflating the invited count or the participation denominator; audited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.models import Account, AuditEvent, Invitation
from kpialign.services import surveys
from tests.unit.survey_helpers import BASE, KEY, TODAY, invite, make_wave, seed_org, submit, tokens_of


def _row(engine, wid: int, dept: str = "Sales") -> dict:
    with db.read_session(engine) as s:
        df = surveys.participation(session=s, wave_id=wid)
    return df.set_index("department").loc[dept].to_dict()


def _reissue(engine, link: str) -> str:
    with db.write_session(engine) as s:
        return surveys.reissue_link(session=s, link=link, key=KEY, base_url=BASE, actor="hr@example.org")


def _check(engine, token: str) -> str | None:
    with db.read_session(engine) as s:
        try:
            surveys.check_token(session=s, token=token, key=KEY, today=TODAY)
        except surveys.LinkProblem as exc:
            return exc.reason
    return None


def test_a_reissued_link_replaces_the_old_one_without_growing_the_invited_count(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales"])
    tokens = invite(engine, wid, "Sales", 6)
    submit(engine, tokens[1])
    before = _row(engine, wid)
    new_link = _reissue(engine, f"{BASE}/survey?token={tokens[0]}")
    new_token = tokens_of({"link": [new_link]})[0]
    assert new_link.startswith(f"{BASE}/survey?token=") and new_token != tokens[0]
    assert _check(engine, tokens[0]) == "revoked"
    assert _check(engine, new_token) is None
    after = _row(engine, wid)
    assert (after["invited"], after["responded"]) == (before["invited"], before["responded"]) == (6, 1)
    with pytest.raises(surveys.LinkProblem) as refused, db.write_session(engine) as s:
        surveys.submit_response(session=s, token=tokens[0], key=KEY, answers={}, today=TODAY)
    assert refused.value.reason == "revoked"
    submit(engine, new_token)
    assert _row(engine, wid)["responded"] == 2 and _row(engine, wid)["invited"] == 6
    with db.read_session(engine) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "reissue_link")).all()
    assert event.actor == "hr@example.org" and tokens[0] not in event.detail and new_token not in event.detail


def test_a_used_unknown_revoked_or_closed_link_is_not_reissued(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales"])
    used, lost, later = invite(engine, wid, "Sales", 3)
    submit(engine, used)
    for link, message in ((used, "has been used"), ("no-such-token", "not a personal link"), ("", "whole")):
        with pytest.raises(surveys.SurveyError, match=message):
            _reissue(engine, link)
    _reissue(engine, lost)
    with pytest.raises(surveys.SurveyError, match="already withdrawn or replaced"):
        _reissue(engine, lost)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor="hr")
    with pytest.raises(surveys.SurveyError, match="closed"):
        _reissue(engine, later)
    with db.read_session(engine) as s:
        assert len(s.exec(select(Invitation)).all()) == 4  # 3 made + 1 reissued, nothing more


def test_withdrawing_unused_links_leaves_used_ones_and_shrinks_the_denominator(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales", "Finance"])
    sales = invite(engine, wid, "Sales", 8)
    finance = invite(engine, wid, "Finance", 6)
    for t in sales[:5]:
        submit(engine, t)
    with db.write_session(engine) as s:
        n = surveys.revoke_unused_links(session=s, wave_id=wid, actor="hr", department_id=depts["Sales"])
    assert n == 3
    row = _row(engine, wid)
    assert (row["invited"], row["responded"], row["rate"]) == (5, 5, 1.0)
    assert _row(engine, wid, "Finance")["invited"] == 6  # another department is untouched
    assert [_check(engine, t) for t in (sales[0], sales[7], finance[0])] == ["used", "revoked", None]
    with db.write_session(engine) as s:
        assert surveys.revoke_unused_links(session=s, wave_id=wid, actor="hr") == 6
    with db.write_session(engine) as s:  # people with accounts in Finance: they must not become "invited"
        s.add_all(Account(email=f"f{i}@example.org", department_id=depts["Finance"]) for i in range(6))
    with db.read_session(engine) as s:
        df = surveys.participation(session=s, wave_id=wid).set_index("department")
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "revoke_links")).all()
    assert len(events) == 2
    # Finance: every link withdrawn -> invited 0 (hidden below the minimum group), never its accounts
    assert not bool(df.loc["Finance", "shown"])
    assert int(df.loc["All departments", "invited"]) == 5


def test_a_closed_waves_links_cannot_be_withdrawn(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales"])
    invite(engine, wid, "Sales", 5)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor="hr")
    with pytest.raises(surveys.SurveyError, match="closed"), db.write_session(engine) as s:
        surveys.revoke_unused_links(session=s, wave_id=wid, actor="hr")


def test_the_cli_reissues_a_link_and_withdraws_unused_links(engine, monkeypatch, capsys) -> None:
    from kpialign.cli import main

    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales"])
    tokens = invite(engine, wid, "Sales", 5)
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KPIALIGN_SECRET_KEY", KEY.decode())
    monkeypatch.setenv("KPIALIGN_BASE_URL", BASE)
    assert main(["reissue-link", f"{BASE}/survey?token={tokens[0]}"]) == 0
    new_link = capsys.readouterr().out.strip()
    assert new_link.startswith(f"{BASE}/survey?token=") and _check(engine, tokens[0]) == "revoked"
    assert main(["reissue-link", tokens[0]]) == 1
    assert "already withdrawn" in capsys.readouterr().err
    assert main(["revoke-links", "--wave", "Spring 2026", "--department", "Sales"]) == 0
    assert "5 unused link(s)" in capsys.readouterr().out
    assert _row(engine, wid)["invited"] == 0 or _row(engine, wid)["invited"] is None
