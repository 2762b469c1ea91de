"""The AppTest wait of tests/apptest_wait.py: installed, returns with the run's output, times out."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest, local_script_runner

from tests import apptest_wait


def _slow_script() -> None:
    import time

    import streamlit as st

    time.sleep(0.3)
    st.write("done")


def _endless_script() -> None:
    import time

    import streamlit as st

    for _ in range(600):  # 30 s; a stop request takes effect at the next Streamlit call
        time.sleep(0.05)
        st.empty()


def test_the_join_replaces_streamlits_poll() -> None:
    # False here means a Streamlit upgrade removed the poll: the suite still works (it polls),
    # but this speed-up is gone and tests/apptest_wait.py should be revisited.
    assert apptest_wait.install()
    assert local_script_runner.require_widgets_deltas is apptest_wait.require_widgets_deltas


def test_a_run_returns_with_everything_the_script_wrote() -> None:
    at = AppTest.from_function(_slow_script, default_timeout=30).run()
    assert not at.exception
    assert [m.value for m in at.markdown] == ["done"]


def test_a_run_longer_than_the_timeout_is_stopped_with_an_error() -> None:
    at = AppTest.from_function(_endless_script, default_timeout=0.5)
    with pytest.raises(RuntimeError, match=r"timed out after 0\.5"):
        at.run()
