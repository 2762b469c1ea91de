"""KPI links: draw, change and remove "this KPI leads that one", by hand or from a CSV file."""

from __future__ import annotations

import streamlit as st

from kpialign.services import kpi_links, strategy
from kpialign.ui import auth, data, nav
from kpialign.ui.widgets import import_refusal, refusals

user = auth.require(nav.roles_for("pages/kpi_links.py"))

st.title("KPI links")
st.caption(
    "Draw which KPI leads which, usually across departments: a driver, an outcome, how many periods later "
    "the outcome should move and in which direction. The strategy map tests each link against the data. "
    "Admins may draw any link; managers and KPI owners draw links into their own units' KPIs."
)
with data.reading() as session:
    kpis = strategy.kpis_frame(session=session, include_retired=False)
    links = kpi_links.links_frame(session=session)
    own = kpi_links.linkable_outcomes(session=session, user=user)
if kpis.empty:
    st.info("There are no KPIs yet. Define KPIs on the Strategy setup page first.")
    st.stop()

label = {int(r.kpi_id): f"{r.department} — {r.name}" for r in kpis.itertuples(index=False)}
SIGNS = {1: "+ they move together", -1: "− they move in opposite directions"}

tab_draw, tab_change, tab_import = st.tabs(["Draw a link", "Change or remove", "Import from CSV"])
with tab_draw:
    if not own:
        st.info("None of the KPIs is in your units, so you cannot draw links into them.")
    else:
        with st.form("kpi_links.new", clear_on_submit=True):
            driver = st.selectbox("Driver KPI (leads)", list(label), format_func=label.get)
            outcome = st.selectbox("Outcome KPI (follows)", own, format_func=label.get)
            lag = st.number_input("Expected lag (periods)", kpi_links.MIN_LAG, kpi_links.MAX_LAG, 1, step=1)
            sign = st.radio("Expected direction", list(SIGNS), format_func=SIGNS.get, horizontal=True)
            why = st.text_area(
                "Rationale", max_chars=kpi_links.MAX_RATIONALE, placeholder="Why should one lead the other?"
            )
            if st.form_submit_button("Draw the link", type="primary"):
                with refusals() as result, data.writing() as session:
                    kpi_links.create_link(
                        session=session,
                        user=user,
                        link=kpi_links.LinkInput(int(driver), int(outcome), int(lag), int(sign), why),
                    )
                if not result.failed:
                    st.success("Link drawn. Its evidence appears on the strategy map.")

with tab_change:
    mine = links[links["outcome_kpi_id"].isin(own)]
    if mine.empty:
        st.info("No links into your KPIs yet.")
    else:
        st.dataframe(
            mine[
                [
                    "driver_department",
                    "driver",
                    "outcome_department",
                    "outcome",
                    "expected_lag",
                    "expected_sign",
                    "rationale",
                    "in_cycle",
                ]
            ],
            hide_index=True,
            column_config={"expected_sign": "Sign", "expected_lag": "Lag", "in_cycle": "On a loop"},
        )
        names = {int(r.link_id): f"{r.driver} → {r.outcome}" for r in mine.itertuples(index=False)}
        pick = st.selectbox("Link", list(names), format_func=names.get, key="kpi_links.pick")
        row = mine[mine["link_id"] == pick].iloc[0]
        with st.form("kpi_links.edit"):
            lag = st.number_input(
                "Expected lag (periods)", kpi_links.MIN_LAG, kpi_links.MAX_LAG, int(row["expected_lag"])
            )
            sign = st.radio(
                "Expected direction", list(SIGNS), index=0 if row["expected_sign"] == 1 else 1, format_func=SIGNS.get
            )
            why = st.text_area("Rationale", row["rationale"], max_chars=kpi_links.MAX_RATIONALE)
            remove = st.checkbox("Remove this link instead")
            if st.form_submit_button("Apply"):
                with refusals() as result, data.writing() as session:
                    if remove:
                        kpi_links.remove_link(session=session, user=user, link_id=int(pick))
                    else:
                        kpi_links.update_link(
                            session=session,
                            user=user,
                            link_id=int(pick),
                            link=kpi_links.LinkInput(
                                int(row["driver_kpi_id"]), int(row["outcome_kpi_id"]), int(lag), int(sign), why
                            ),
                        )
                if not result.failed:
                    st.success("Removed." if remove else "Saved.")

with tab_import:
    st.caption(
        "Columns: " + ", ".join(kpi_links.LINK_COLUMNS) + " (rationale optional; sign + or -). The whole file is "
        "checked first; any problem and nothing is written. A row for an existing link changes it."
    )
    upload = st.file_uploader("CSV file", type=["csv"], key="kpi_links.upload")
    if upload is not None:
        raw = upload.getvalue()
        with data.reading() as session:
            check = kpi_links.validate_links_csv(session=session, data=raw, user=user)
        if not check.ok:
            import_refusal(kpi_links.LinkImportError(check))
        elif st.button(f"Import {len(check.links)} link(s)", type="primary", key="kpi_links.import"):
            try:
                with data.writing() as session:
                    summary = kpi_links.import_links(session=session, data=raw, user=user, filename=upload.name)
            except kpi_links.LinkImportError as exc:  # changed since the check: show every problem
                import_refusal(exc)
            else:
                st.success(summary.describe())
