"""HR: survey waves (create, open, watch participation, close), personal links, question bank."""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from kpialign.config import ConfigError, load_settings, secret_key
from kpialign.core import csv_out
from kpialign.scorecard import counts
from kpialign.services import strategy, surveys
from kpialign.services.question_bank import DIMENSIONS
from kpialign.ui import auth, data, link_admin, mail_ui, nav
from kpialign.ui.widgets import plain, refusals

user = auth.require(nav.roles_for("pages/hr_waves.py"))
ACTOR = user.email
P = "hr_waves"
LINKS = f"{P}.links"  # (wave name, CSV bytes) of the links just made: shown once, then gone
NOTICE = f"{P}.notice"
PARTICIPATION_BARS = 25  # more departments than this: chart the lowest rates, list all in a table
STATUS_ICON = {"draft": ":material/edit_note:", "open": ":material/radio_button_checked:", "closed": ":material/lock:"}


def _run(action, success: str) -> bool:
    """One audited change in a write transaction; a refusal is shown and nothing is written."""
    with refusals() as outcome, data.writing() as session:
        action(session)
    if outcome.failed:
        return False
    st.session_state[NOTICE] = success
    return True


st.title("Survey waves")
if notice := st.session_state.pop(NOTICE, None):
    st.success(plain(notice), icon=":material/check_circle:")

with data.reading() as session:
    missing = surveys.bank_missing(session)
if missing:  # the shipped bank appears on first use (audited)
    with data.writing() as session:
        surveys.sync_question_bank(session, actor=ACTOR)
with data.reading() as session:
    waves = surveys.list_waves(session)
    questions = surveys.list_questions(session)
    depts = strategy.departments_frame(session, include_retired=False)
dept_path = dict(zip(depts["id"].astype(int), depts["path"], strict=True)) if not depts.empty else {}

tab_waves, tab_new, tab_questions, tab_lang = st.tabs(["Waves", "New wave", "Question bank", "Languages and e-mails"])

# ------------------------------------------------------------------------------- waves tab


@st.dialog("Close this wave?")
def _confirm_close(wave_id: int, name: str) -> None:
    st.text(f"Wave: {name}")
    st.markdown(
        "Closing is final: every personal link stops working at once, and the wave's results "
        "never change again. Employees who have not answered yet can no longer answer."
    )
    c1, c2 = st.columns(2)
    # A closed wave never changes: closing also stores its counts once (scorecard.counts).
    if c1.button("Close the wave", type="primary", icon=":material/lock:", key=f"{P}.close_yes") and _run(
        lambda s: counts.close_wave(session=s, wave_id=wave_id, actor=ACTOR), f"Wave {name} is closed."
    ):
        st.rerun()
    if c2.button("Keep it open", key=f"{P}.close_no"):
        st.rerun()


@st.dialog("Open this wave?")
def _confirm_open(wave_id: int, name: str) -> None:
    st.text(f"Wave: {name}")
    st.markdown(
        "Once open, the questions, departments and privacy thresholds are locked; only the "
        "closing date can still move. Personal links start working on the opening date."
    )
    if st.button("Open the wave", type="primary", icon=":material/play_arrow:", key=f"{P}.open_yes") and _run(
        lambda s: surveys.open_wave(s, wave_id=wave_id, actor=ACTOR), f"Wave {name} is open."
    ):
        st.rerun()


def _participation_panel(wave: surveys.WaveInfo) -> None:
    with data.reading() as session:
        part = surveys.participation(session, wave_id=wave.id)
    st.subheader("Participation")
    total = part[part["department"] == "All departments"].iloc[0]
    depts_part = part[part["department"] != "All departments"]
    if bool(total["shown"]) and total["invited"]:
        st.progress(
            min(float(total["rate"]), 1.0),
            text=f"All departments: {int(total['responded'])} of {int(total['invited'])} responded ({total['rate']:.0%})",
        )
    else:
        st.info(f"Participation appears once at least {wave.min_group} people are invited.", icon=":material/info:")
    shown = depts_part[depts_part["shown"]].copy()
    hidden = depts_part[~depts_part["shown"]]
    if not shown.empty:
        shown["rate"] = shown["rate"].astype(float)
        shown["label"] = [
            f"{int(r)} of {int(i)} ({x:.0%})"
            for r, i, x in zip(shown["responded"], shown["invited"], shown["rate"], strict=True)
        ]
        chart_rows = shown
        if len(shown) > PARTICIPATION_BARS:
            # At 200 departments one bar each is 7,000 px: chart the lowest rates (where a reminder helps).
            chart_rows = shown.sort_values(["rate", "department"]).head(PARTICIPATION_BARS)
            st.caption(
                f"The {PARTICIPATION_BARS} departments with the lowest response rate of {len(shown)}; "
                "every department is in the table below."
            )
        base = alt.Chart(chart_rows).encode(
            y=alt.Y("department:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260, labelFontSize=13)),
            x=alt.X(
                "rate:Q",
                title="Response rate",
                axis=alt.Axis(format="%", tickCount=5),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=["department", "invited", "responded", alt.Tooltip("rate:Q", format=".0%")],
        )
        bars = base.mark_bar(color="#1f5f8b", height=alt.RelativeBandSize(0.7))
        labels = base.mark_text(align="left", dx=6, fontSize=12).encode(text="label:N")
        chart = (bars + labels).properties(height=alt.Step(34))
        st.altair_chart(chart, width="stretch")
        if len(shown) > PARTICIPATION_BARS:
            st.dataframe(
                shown.sort_values("rate")[["department", "invited", "responded", "rate"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "department": "Department",
                    "invited": "Invited",
                    "responded": "Responded",
                    "rate": st.column_config.ProgressColumn("Rate", min_value=0, max_value=1, format="percent"),
                },
            )
        else:
            with st.expander("Progress per department"):
                for row in shown.sort_values("department").itertuples():
                    st.progress(
                        min(float(row.rate), 1.0),
                        text=f"{plain(row.department)}: {int(row.responded)} of {int(row.invited)} ({row.rate:.0%})",
                    )
    if not hidden.empty:
        st.caption(
            f"Not shown, to protect small groups (fewer than {wave.min_group} invited, or hidden so that "
            f"totals cannot reveal them): {plain(', '.join(hidden['department']))}"
        )
    st.download_button(
        "Download participation (CSV)",
        data=csv_out.write_csv(part.drop(columns=["department_id"]).assign(wave=wave.name), excel=True),
        file_name=csv_out.export_filename("participation", wave.name, date.today()),
        mime=csv_out.CSV_MIME,
        icon=":material/download:",
        key=f"{P}.part_csv",
    )


def _links_panel(wave: surveys.WaveInfo) -> None:
    st.subheader("Personal links")
    st.caption(
        "Each link works once, only while the wave is open. Links are shown only now — kpialign "
        "keeps a one-way fingerprint of each link, never the link itself, and never the e-mail addresses."
    )
    how = st.radio("Make links", ["For a department", "From a CSV (email,department)"], horizontal=True, key=f"{P}.how")
    try:
        key = secret_key(load_settings().database_url)
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    base = load_settings().base_url
    made: pd.DataFrame | None = None
    if how == "For a department":
        with st.form(f"{P}.invite_dept"):
            dept = st.selectbox("Department", list(wave.department_ids), format_func=lambda d: str(dept_path.get(d, d)))
            count = st.number_input("Number of links", min_value=1, max_value=surveys.MAX_LINKS_PER_BATCH, value=10)
            if st.form_submit_button("Make links", icon=":material/link:"):
                try:
                    with data.writing() as session:
                        made = surveys.invite_department(
                            session, wave_id=wave.id, department=int(dept), count=int(count), key=key,
                            base_url=base, actor=ACTOR,
                        )  # fmt: skip
                except surveys.SurveyError as exc:
                    st.error(plain(str(exc)), icon=":material/error:")
    else:
        upload = st.file_uploader("CSV file with the columns email and department", type=["csv"], key=f"{P}.upload")
        if upload is not None and st.button("Make one link per row", icon=":material/link:", key=f"{P}.csv_go"):
            try:
                with data.writing() as session:
                    made = surveys.invite_from_csv(
                        session,
                        wave_id=wave.id,
                        csv_text=upload.getvalue().decode("utf-8-sig", errors="replace"),
                        key=key,
                        base_url=base,
                        actor=ACTOR,
                    )
            except surveys.SurveyError as exc:
                st.error(plain(str(exc)), icon=":material/error:")
    if made is not None:
        st.session_state[LINKS] = (wave.name, len(made), csv_out.write_csv(made, excel=True))
    if (links := st.session_state.get(LINKS)) and links[0] == wave.name:
        st.success(f"{links[1]} personal link(s) made. Download them now; they cannot be shown again.")
        st.download_button(
            "Download links (CSV)",
            data=links[2],
            file_name=csv_out.export_filename("survey-links", wave.name, date.today()),
            mime=csv_out.CSV_MIME,
            type="primary",
            icon=":material/download:",
            key=f"{P}.links_csv",
            on_click="ignore",
        )
    link_admin.maintenance_panel(wave, dept_path, key=key, base_url=base, actor=ACTOR)


with tab_waves:
    if waves.empty:
        st.info("No survey wave yet. Create one on the New wave tab.", icon=":material/info:")
    else:
        st.dataframe(
            waves.drop(columns=["id"]),
            hide_index=True,
            width="stretch",
            column_config={
                "opens_on": st.column_config.DateColumn("Opens", format="D MMM YYYY"),
                "closes_on": st.column_config.DateColumn("Closes", format="D MMM YYYY"),
                "min_group": st.column_config.NumberColumn("Min group", help="Results of smaller groups are hidden"),
                "comment_min": st.column_config.NumberColumn("Min comments"),
            },
        )
        default = next((i for i, s in enumerate(waves["status"]) if s == "open"), 0)
        names = dict(zip(waves["id"].astype(int), waves["name"], strict=True))
        wave_id = st.selectbox("Wave", list(names), index=default, format_func=lambda w: str(names[w]), key=f"{P}.wave")
        with data.reading() as session:
            wave = surveys.get_wave(session, wave_id=int(wave_id))
        st.markdown(
            f"{STATUS_ICON[wave.status]} **{wave.status.capitalize()}** · {wave.opens_on:%d %b %Y} to "
            f"{wave.closes_on:%d %b %Y} · {len(wave.department_ids)} departments · {len(wave.question_ids)} questions "
            f"· minimum group {wave.min_group}"
        )
        c1, c2, c3 = st.columns(3)
        if wave.status == "draft":
            if c1.button("Open wave", type="primary", icon=":material/play_arrow:", key=f"{P}.open"):
                _confirm_open(wave.id, wave.name)
            if c2.button("Delete draft", icon=":material/delete:", key=f"{P}.delete") and _run(
                lambda s: surveys.delete_draft_wave(s, wave_id=wave.id, actor=ACTOR), f"Draft {wave.name} deleted."
            ):
                st.rerun()
        elif wave.status == "open":
            if c1.button("Close wave…", type="primary", icon=":material/lock:", key=f"{P}.close"):
                _confirm_close(wave.id, wave.name)
            with c2.popover("Change closing date", icon=":material/event:"):
                new_close = st.date_input(
                    "Closes on", value=wave.closes_on, min_value=wave.opens_on, key=f"{P}.close_on"
                )
                if st.button("Save date", key=f"{P}.save_close") and _run(
                    lambda s: surveys.update_wave(s, wave_id=wave.id, closes_on=new_close, actor=ACTOR),
                    "Closing date changed.",
                ):
                    st.rerun()
        else:
            st.caption("This wave is closed; its results never change.")
        _participation_panel(wave)
        if wave.status != "closed":
            _links_panel(wave)
            mail_ui.mail_panel(wave, ACTOR)

# ---------------------------------------------------------------------------- new wave tab

with tab_new:
    active = questions[questions["active"]]
    with data.reading() as session:
        defaults = surveys.wave_defaults(session)
    if depts.empty:
        st.info("There are no departments yet. An admin adds them on the Strategy setup page.")
    else:
        with st.form(f"{P}.create", clear_on_submit=False):
            name = st.text_input("Name", placeholder="e.g. Spring 2026", max_chars=200)
            c1, c2 = st.columns(2)
            opens_on = c1.date_input("Opens on", value=date.today())
            closes_on = c2.date_input("Closes on", value=date.today() + timedelta(days=14))
            min_group = st.number_input(
                "Minimum group size",
                min_value=surveys.MIN_GROUP_FLOOR,
                value=defaults.min_group,  # the admin's default k (Scoring settings)
                help="Results of groups with fewer responses are never shown. Locked once the wave opens.",
            )
            qlabels = {int(r.id): f"{r.code} · {r.text}" for r in active.itertuples()}
            chosen_q = st.multiselect(
                "Questions (in this order)",
                list(qlabels),
                default=list(qlabels),
                format_func=lambda q: str(qlabels[q]),
            )
            chosen_d = st.multiselect(
                "Departments",
                list(dept_path),
                format_func=lambda d: str(dept_path[d]),
                placeholder="Choose departments",
            )
            if st.form_submit_button("Create draft wave", type="primary", icon=":material/add:") and _run(
                lambda s: surveys.create_wave(
                    s,
                    name=name,
                    opens_on=opens_on,
                    closes_on=closes_on,
                    question_ids=chosen_q,
                    department_ids=chosen_d,
                    min_group=int(min_group),
                    actor=ACTOR,
                ),
                f"Draft wave {name.strip()} created. Open it on the Waves tab when it is ready.",
            ):
                st.rerun()

# ----------------------------------------------------------------------- question bank tab

with tab_questions:
    st.caption(
        "Agree-scale items are scored 4-5 = favourable. A question used in a wave that has opened "
        "cannot be edited (its answers belong to that wording); retire it and add a new one instead. "
        "Retired questions keep their history."
    )
    st.dataframe(
        questions.drop(columns=["id"]),
        hide_index=True,
        width="stretch",
        column_config={
            "text": st.column_config.TextColumn("Text", width="large"),
            "locked": st.column_config.CheckboxColumn("Locked", help="Used in a wave that has opened"),
        },
    )
    c1, c2 = st.columns(2)
    with c1, st.form(f"{P}.add_q", clear_on_submit=True):
        st.markdown("**Add a question**")
        code = st.text_input("Code", max_chars=40, placeholder="e.g. LS4")
        text = st.text_area("Text", max_chars=500)
        dimension = st.selectbox("Dimension", list(DIMENSIONS), format_func=DIMENSIONS.get)
        reverse = st.checkbox("Reverse-scored (agreeing is unfavourable)")
        if st.form_submit_button("Add question", icon=":material/add:") and _run(
            lambda s: surveys.add_question(s, code=code, text=text, dimension=dimension, reverse=reverse, actor=ACTOR),
            f"Question {code.strip().upper()} added.",
        ):
            st.rerun()
    with c2:
        st.markdown("**Edit, retire or restore**")
        qnames = {int(r.id): f"{r.code} · {r.text}" for r in questions.itertuples()}
        if qnames:
            qid = st.selectbox("Question", list(qnames), format_func=lambda q: str(qnames[q]), key=f"{P}.edit_q")
            row = questions.set_index("id").loc[qid]
            if bool(row["locked"]):
                st.caption("Used in a wave that has opened: it can be retired or restored, not edited.")
            else:
                new_text = st.text_area("Text", value=row["text"], key=f"{P}.edit_text.{qid}")
                if st.button("Save text", key=f"{P}.save_text") and _run(
                    lambda s: surveys.edit_question(s, question_id=qid, text=new_text, actor=ACTOR),
                    "Question updated.",
                ):
                    st.rerun()
            active_now = bool(row["active"])
            label = "Retire question" if active_now else "Restore question"
            if st.button(label, key=f"{P}.toggle_q") and _run(
                lambda s: surveys.set_question_active(s, question_id=qid, active=not active_now, actor=ACTOR),
                f"Question {row['code']} {'retired' if active_now else 'restored'}.",
            ):
                st.rerun()

with tab_lang:
    mail_ui.translations_panel(ACTOR)
    mail_ui.templates_panel(ACTOR)
