"""The page helper kpialign.ui.widgets.refusals: a refusal's own text, anything else generic."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page(kind: str) -> None:
    import streamlit as st

    from kpialign.core.errors import Refused
    from kpialign.ui.widgets import refusals

    with refusals() as outcome:
        if kind == "refused":
            raise Refused("No wave named *x* [y](z)")
        if kind == "bug":
            raise KeyError("internal detail /srv/secret")
        st.text("done")
    st.text(f"failed={outcome.failed}")


def _run(kind: str) -> AppTest:
    return AppTest.from_function(_page, kwargs={"kind": kind}, default_timeout=30).run()


def test_a_refusal_is_shown_as_plain_text_and_the_page_goes_on():
    at = _run("refused")
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value == r"No wave named \*x\* \[y\]\(z\)"
    assert [t.value for t in at.text] == ["failed=True"]


def test_any_other_error_shows_only_a_generic_message():
    at = _run("bug")
    assert not at.exception
    assert len(at.error) == 1 and "secret" not in at.error[0].value
    assert "nothing was changed" in at.error[0].value
    assert [t.value for t in at.text] == ["failed=True"]


def test_no_error_shows_nothing_and_runs_the_block():
    at = _run("ok")
    assert not at.error and [t.value for t in at.text] == ["done", "failed=False"]
