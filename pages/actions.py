"""Actions: my actions, my units' and the organisation's, with filters; update status and outcome;
"did it work?"; red KPIs that nobody has an action for."""

from __future__ import annotations

import streamlit as st

from kpialign.services import actions, reviews
from kpialign.ui import auth, data, nav
from kpialign.ui import reviews_ui as ui
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/actions.py"))
st.title("Actions")
ui.notice("actions.notice")

scope = actions.visible_departments(user=user)
views = ["My actions"] + (["Organisation"] if scope is None else ["My units"] if scope else [])
view = st.segmented_control("Show", views, default=views[-1] if len(views) > 1 else views[0],
                            key="actions.view", required=True)  # fmt: skip
c1, c2, c3 = st.columns([2, 2, 1])
statuses = c1.multiselect("Status", list(actions.STATUS_LABELS), default=list(actions.OPEN_STATUSES),
                          format_func=actions.STATUS_LABELS.get, key="actions.status")  # fmt: skip
overdue_only = c3.toggle("Overdue only", key="actions.overdue")
with data.reading() as session:
    frame = actions.list_actions(session=session, user=user, mine=view == "My actions", statuses=statuses or None,
                                 overdue_only=overdue_only)  # fmt: skip
if view != "My actions" and not frame.empty:
    names = sorted(frame["department"].unique())
    chosen = c2.multiselect("Department", names, key="actions.departments")
    if chosen:
        frame = frame[frame["department"].isin(chosen)]

n = actions.counts(frame=frame)
st.caption(f"{len(frame)} action(s): {n.open} open, {n.overdue} overdue, {n.done} done.")
if frame.empty:
    st.info("No actions match. Actions are decided in reviews (Reviews page) or added by managers and leaders.")
else:
    ui.action_table(frame)

    labels = dict(zip(frame["action_id"].astype(int), frame["title"], strict=True))
    chosen_id = st.selectbox("Open an action", list(labels), format_func=labels.get, index=None, key="actions.pick")
    if chosen_id is not None:
        row = frame[frame["action_id"] == chosen_id].iloc[0]
        st.text(f"{row['title']} — {row['department']} — owner {row['owner'] or 'none'} — due {row['due_on'] or '–'}")
        if row["description"]:
            st.text(row["description"])
        with st.form(f"actions.update.{chosen_id}"):
            status = st.selectbox("Status", list(actions.STATUS_LABELS), format_func=actions.STATUS_LABELS.get,
                                  index=list(actions.STATUS_LABELS).index(row["status"]), key="actions.new_status")  # fmt: skip
            outcome = st.text_area("Outcome", value=row["outcome"], key="actions.outcome")
            go = st.form_submit_button("Save", type="primary", icon=":material/save:")
        if go:
            try:
                with data.writing() as session:
                    actions.update_action(session=session, user=user, action_id=chosen_id, status=status,
                                          outcome=outcome)  # fmt: skip
            except ui.REFUSALS as exc:
                st.error(plain(str(exc)), icon=":material/error:")
            else:
                st.session_state["actions.notice"] = f"Saved: {row['title']}"
                st.rerun()
        st.markdown("**Did it work?**")
        with data.reading() as session:
            effect = reviews.action_effect(session=session, action_id=chosen_id)
        st.text(effect.headline)
        for line in effect.details:
            st.caption(plain(line))

if user.has("admin", "leader", "manager", "kpi_owner"):
    st.subheader("Red KPIs without an action")
    red = ui.red_kpis(user)
    if red.empty:
        st.success("Every red KPI in your scope has an open action.", icon=":material/check_circle:")
    else:
        st.dataframe(
            red.assign(attainment_pct=red["attainment_pct"].round(0))[["department", "name", "period", "attainment_pct"]],
            hide_index=True, width="stretch",
            column_config={"department": "Department", "name": "KPI", "period": "Latest period",
                           "attainment_pct": "Attainment %"},
        )  # fmt: skip
        st.page_link("pages/reviews.py", label="Decide actions in a review", icon=":material/arrow_forward:")
