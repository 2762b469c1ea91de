"""Scale and fault tests use the session-wide ``browser`` fixture of tests/conftest.py (real ``streamlit run`` + Chromium)."""

# A server that re-imports kpialign modules when a file changes (Streamlit's default watcher)
# declares the tables twice; production servers and these tests do not watch files.
NO_WATCHER = {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}


def sign_in(page, base_url: str, who: str) -> None:
    """Sign in through the real form (the password field is found by role: its label is shared
    with the "Show password" toggle)."""
    from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from tests.browser.conftest import wait_for_app

    page.goto(base_url)
    wait_for_app(page)
    page.get_by_label("E-mail").fill(DEMO_ACCOUNTS.get(who, who))
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    wait_for_app(page)


def rerun(page) -> None:
    """Rerun the script in the same session (Streamlit's "R" shortcut), as a user's next click would."""
    from tests.browser.conftest import wait_for_app

    wait_for_app(page)  # a rerun request while a run is in progress can be dropped
    page.locator("[data-testid='stMain']").click(position={"x": 40, "y": 400})  # focus, not on an input
    page.keyboard.press("r")
