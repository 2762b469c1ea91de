"""The portal's database access: one cached engine per process, friendly errors, cache keys.

Read queries that pages cache with ``st.cache_data`` take :func:`version` as an argument, so
a write in any replica (which bumps the data version in the database) makes every replica's
cached entries stale on its next rerun.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from kpialign import db
from kpialign.config import ConfigError, load_settings


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = db.make_engine(url)
    db.migrate(engine)  # the portal migrates on start (idempotent)
    return engine


def engine() -> Engine:
    """The process's engine; stops the page with a clear message if the database is down."""
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
    """The data version (one cheap query per rerun); pass it to cached read functions."""
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
