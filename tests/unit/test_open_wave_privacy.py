"""No survey result of an open wave is shown, exported or printed: the differencing attack.

A leader (scorecard pages), HR (exports) and the CLI record every figure they can see for the
demo's open wave; one colleague submits; they record again. Results that moved would give away
that colleague's answers, so nothing may change except participation (how many responded).
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import text

from kpialign import db, exports
from kpialign.cli import main
from kpialign.core import scoring
from kpialign.core.errors import Refused
from kpialign.demo import seed as demo
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import views
from kpialign.services import surveys

OPEN = demo.OPEN_WAVE_NAME
ASOF = demo.OPEN_WAVE_AS_OF
# Participation and nothing else: how many responded (and were invited) per department.
PARTICIPATION_COLUMNS = {"respondents", "responses", "responded", "rate", "invited"}


def _frame_without_participation(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in df.columns if c in PARTICIPATION_COLUMNS]).reset_index(drop=True)


def _export(engine, kind: str) -> str:
    try:
        return exports.build_export(
            engine, kind=kind, actor="attacker", roles=exports.CLI_ROLES, wave=OPEN, today=ASOF
        ).data.decode("utf-8-sig")
    except Refused as exc:  # ExportError, or the scorecard's refusal of an open wave
        return f"refused: {exc}"


def _cli(engine, monkeypatch, *argv: str) -> str:
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return f"{code}:{out.getvalue()}"


def _record(engine, monkeypatch) -> dict[str, object]:
    """Every survey figure of the open wave a leader, HR or the CLI can see."""
    seen: dict[str, object] = {}
    with db.read_session(engine) as s:
        sc = scorecard.build_scorecard(s)  # what the scorecard pages show (their wave pickers: closed waves)
        try:
            scorecard.build_scorecard(s, wave=OPEN)
            seen["open wave asked for"] = "shown"
        except scoring.ScorecardError as exc:
            seen["open wave asked for"] = f"refused: {exc}"
    seen["departments"] = _frame_without_participation(sc.departments.drop(columns=["u_suppressed"], errors="ignore"))
    seen["organisation"] = json.dumps(sc.organisation, default=str, sort_keys=True)
    seen["org_series"] = sc.org_series.reset_index(drop=True)
    seen["panel"] = sc.panel.reset_index(drop=True)
    seen["understanding"] = _frame_without_participation(sc.understanding.drop(columns=["suppressed"], errors="ignore"))
    seen["likert"] = sc.likert.reset_index(drop=True)
    seen["changes"] = sc.changes.reset_index(drop=True)
    for dept_id in sc.departments["department_id"].astype(int):
        view = views.department_view(sc, dept_id)
        for name, value in vars(view).items():
            if isinstance(value, pd.DataFrame):
                seen[f"department {dept_id} {name}"] = _frame_without_participation(value)
    for kind in ("results", "responses", "comments", "scorecard"):
        seen[f"export {kind}"] = _export(engine, kind)
    seen["cli scorecard --wave open"] = _cli(engine, monkeypatch, "scorecard", "--wave", OPEN, "--format", "json")
    table = json.loads(_cli(engine, monkeypatch, "scorecard", "--format", "json").split(":", 1)[1])
    for row in table["departments"]:
        for c in PARTICIPATION_COLUMNS:
            row.pop(c, None)
    seen["cli scorecard"] = json.dumps(table, sort_keys=True)
    return seen


def _submit_one(engine) -> None:
    """The demo employee (Sales answers the open wave after signing in) submits, all answers at 5."""
    with db.read_session(engine) as s:
        account_id = int(
            s.execute(text("SELECT id FROM account WHERE email = :e"), {"e": demo.DEMO_ACCOUNTS["employee"]}).scalar()
        )
        wave_id = surveys.get_wave(session=s, name=OPEN).id
        form = surveys.account_form(session=s, account_id=account_id, wave_id=wave_id, today=ASOF)
    with db.write_session(engine) as s:
        surveys.submit_response(
            session=s,
            account_id=account_id,
            wave_id=wave_id,
            answers={i.question_id: 5 for i in form.items if i.kind == "likert5"},
            comment="Only I wrote this.",
            today=ASOF,
        )


def _open_responses(engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM response r JOIN survey_wave w ON w.id = r.wave_id WHERE w.name = :n"),
                {"n": OPEN},
            ).scalar_one()
        )


def _assert_same(before: dict[str, object], after: dict[str, object]) -> None:
    assert before.keys() == after.keys()
    changed = []
    for name, value in before.items():
        other = after[name]
        if isinstance(value, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(value, other, check_dtype=False)
            except AssertionError:
                changed.append(name)
        elif value != other:
            changed.append(name)
    assert changed == [], f"figures of the open wave moved after one submission: {changed}"


@pytest.fixture
def demo_copy(demo_copy_url):
    engine = db.make_engine(demo_copy_url)
    yield engine
    engine.dispose()


def test_one_submission_to_an_open_wave_changes_nothing_but_participation(demo_copy, monkeypatch) -> None:
    before, n_before = _record(demo_copy, monkeypatch), _open_responses(demo_copy)
    _submit_one(demo_copy)
    after = _record(demo_copy, monkeypatch)
    _assert_same(before, after)
    assert _open_responses(demo_copy) == n_before + 1  # the submission is in: only participation moved


def test_the_scorecard_refuses_an_open_wave_and_its_pickers_offer_closed_waves_only(demo_copy, monkeypatch) -> None:
    with db.read_session(demo_copy) as s, pytest.raises(scoring.ScorecardError, match="once it is closed"):
        scorecard.build_scorecard(s, wave=OPEN)
    assert _cli(demo_copy, monkeypatch, "scorecard", "--wave", OPEN).startswith("1:")
    with db.read_session(demo_copy) as s:
        sc = scorecard.build_scorecard(s)
    assert sc.wave is not None and sc.wave.status == "closed"
    assert OPEN not in set(sc.understanding["wave_id"].map({w.wave_id: w.name for w in sc.waves}))


def test_the_results_responses_and_comments_exports_refuse_an_open_wave(demo_copy) -> None:
    for kind in ("results", "responses", "comments"):
        assert _export(demo_copy, kind).startswith("refused: ")
        assert "once it is closed" in _export(demo_copy, kind)
    assert not _export(demo_copy, "participation").startswith("refused")


def test_an_export_without_a_wave_takes_the_newest_closed_wave_for_results(demo_copy) -> None:
    export = exports.build_export(
        demo_copy, kind="results", actor="hr", roles=exports.CLI_ROLES, today=date(2026, 11, 20)
    )
    assert OPEN not in export.data.decode("utf-8-sig")
    assert "2026 Q3" in export.data.decode("utf-8-sig")
