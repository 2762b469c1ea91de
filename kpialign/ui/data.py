"""The portal's database access: one cached engine per process, friendly errors, cache keys.

Read queries that pages cache with ``st.cache_data`` take :func:`version` as an argument, so
a write in any replica (which bumps the data version in the database) makes every replica's
cached entries stale on its next rerun.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from kpialign import db
from kpialign.config import ConfigError, load_settings
from kpialign.scorecard import counts


def _no_pages_directory_mode() -> None:
    """Tell Streamlit this app navigates with ``st.navigation`` from the first run on.

    Because a ``pages/`` folder sits next to app.py, Streamlit starts every process in its old
    "pages directory" mode and leaves it only when app.py calls ``st.navigation``. A session that
    opens a page by its URL first (every personal survey link, /survey?token=...) then runs
    ``pages/survey.py`` directly, without app.py: the respondent's sidebar lists all 17 pages
    and each rerun builds and resolves 17 page objects, until someone opens the portal's root
    (issue 9). The flag is process-wide; this module is imported by app.py and every page, so
    at most the first run of the first session after a start is in the old mode.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the old mode
        return
    PagesManager.uses_pages_directory = False


_no_pages_directory_mode()

T = TypeVar("T")
_RUN = "data.this_run"  # what one full run of app.py has read once (see script_run)


@contextmanager
def script_run() -> Iterator[None]:
    """app.py wraps each full run in this: what the run reads once is kept only until it ends.

    Inside it, :func:`version` (and :func:`kpialign.ui.auth.current_user`, through
    :func:`run_memo`) query the database once per run instead of once per call (Home asked
    for the data version three times, the sign-in gate ran twice, issue 18). The memo lives in
    the session's state and is dropped when the run ends, however it ends (``st.stop``,
    ``st.rerun``, an exception): a fragment's rerun, which does not pass through app.py, and
    every later run read afresh. A write (:func:`writing`) forgets the version it read.
    """
    st.session_state[_RUN] = {}
    try:
        yield
    finally:
        st.session_state.pop(_RUN, None)


def run_memo() -> dict[str, Any] | None:
    """This run's memo while app.py's :func:`script_run` is active, else None (read afresh)."""
    try:
        memo = st.session_state.get(_RUN)
    except Exception:  # no session (bare mode: scripts, benchmarks)
        return None
    return memo if isinstance(memo, dict) else None


def once_per_run(key: str | tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()`` once per run of app.py (:func:`script_run`); outside one, on every call."""
    memo = run_memo()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = db.make_engine(url)
    db.migrate(engine)  # the portal migrates on start (idempotent)
    counts.repair_engine(engine)  # closed waves of an older database get their stored counts
    return engine


def engine() -> Engine:
    """The process's engine; stops the page with a clear message if the database is down."""
    # here: once per run, as load_settings() reads the environment and secrets on every call
    return once_per_run("engine", _engine)


def _engine() -> Engine:
    try:
        settings = load_settings()
    except ConfigError as exc:
        st.error(str(exc))
        st.stop()
    try:
        return _engine_for(settings.database_url)
    except (OperationalError, DBAPIError) as exc:
        _engine_for.clear()  # try again on the next rerun: the database may come back
        show_db_error(exc)
        st.stop()
    raise AssertionError("unreachable")


def version() -> int:
    """The data version (one cheap query per run); pass it to cached read functions."""
    return once_per_run("version", _version)


def _version() -> int:
    eng = engine()
    try:
        return db.data_version(eng)
    except (OperationalError, DBAPIError) as exc:
        show_db_error(exc)
        st.stop()
    raise AssertionError("unreachable")


def show_db_error(exc: BaseException) -> None:
    st.error(db.friendly_error(exc), icon=":material/cloud_off:")


@contextmanager
def reading() -> Iterator[Session]:
    """A read session; a database failure shows a message and stops the page."""
    try:
        with db.read_session(engine()) as session:
            yield session
    except (OperationalError, DBAPIError) as exc:
        show_db_error(exc)
        st.stop()


@contextmanager
def writing(*, bump: bool = True) -> Iterator[Session]:
    """A write transaction; on a database failure nothing is saved and the user is told."""
    try:
        with db.write_session(engine(), bump=bump) as session:
            yield session
    except (OperationalError, DBAPIError) as exc:
        show_db_error(exc)
        st.stop()
    finally:
        if bump and (memo := run_memo()) is not None:
            memo.pop("version", None)  # the rest of this run reads the version this write made
