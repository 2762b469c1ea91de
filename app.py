"""kpialign portal entry point: page config, sign-in gate, navigation by role."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from kpialign.ui import a11y, auth, data, language, nav
from kpialign.ui.widgets import plain

# The icon ships with the portal: a ":material/...:" page icon makes every browser fetch it from
# fonts.gstatic.com, telling a third party who visits (and failing air-gapped).
ICON = Path(__file__).resolve().parent / "kpialign" / "ui" / "assets" / "icon.png"
st.set_page_config(page_title="kpialign", page_icon=str(ICON), layout="wide")

data.engine()  # connects and migrates once per process; shows a clear message if the database is down

# The data version and the signed-in user are read once per run (kpialign.ui.data.script_run).
with data.script_run():
    user = auth.current_user()
    if user is None:
        pages = [
            st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", url_path="sign-in", default=True)
        ]
        if st.query_params.get("token"):
            # A personal survey link (/survey?token=...) works without an account. Not the default
            # page: Streamlit serves the default page at "/" only, so "/survey" would be "not found".
            pages.append(st.Page("pages/survey.py", title="Survey", icon=":material/how_to_vote:", url_path="survey"))
        current = st.navigation(pages, position="hidden")
    else:
        sections: dict[str, list] = {}
        home = nav.home_for(user.roles)
        for spec in nav.allowed(user.roles):
            sections.setdefault(spec.section, []).append(
                st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.path == home)
            )
        ordered = {name: sections[name] for name in nav.SECTION_ORDER if name in sections}
        with st.sidebar:
            st.caption(f"Signed in as {plain(user.name or user.email)}")  # user text: escaped, never Markdown
            if st.button("Sign out", icon=":material/logout:", key="app.sign_out"):
                auth.sign_out()
                st.rerun()
            a11y.sidebar_nav_semantics()  # Streamlit's sectioned nav breaks list semantics (see kpialign/ui/a11y.py)
        current = st.navigation(ordered, expanded=True)
    if current.url_path != "survey":
        language.reset_document_language()  # the survey may have set <html lang> to the respondent's language
    auth.write_cookie()  # a sign-in or sign-out of the previous run sets or clears the browser's cookie
    current.run()
