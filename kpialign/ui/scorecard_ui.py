"""Shared pieces of the Scorecard pages: the cached scorecard and the period/wave filters.

The scorecard is cached with ``st.cache_data`` keyed on the data version, so any write in
any replica makes it stale; closed survey waves are cached for good underneath (stored
aggregates plus a per-process copy in :mod:`kpialign.scorecard.queries`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from kpialign import db
from kpialign.core import privacy, scoring
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import counts, scope
from kpialign.scorecard.model import Scorecard, WaveRef
from kpialign.services.accounts import UserContext
from kpialign.ui import data

_STATUS_CSS = {
    "green": "background-color: #c8e6c9; color: #1b5e20",
    "amber": "background-color: #ffe0b2; color: #8a4b00",
    "red": "background-color: #ffcdd2; color: #b71c1c",
}


def styled_status(table: pd.DataFrame, column: str = "status"):
    """The table with its status column coloured (green / amber / red background)."""
    return table.style.map(lambda v: _STATUS_CSS.get(str(v), ""), subset=[column]).format(precision=1, na_rep="")


log = logging.getLogger(__name__)
T = TypeVar("T")
PREWARM_EVERY_S = 300.0  # at most one background build per process this often (the sign-in page starts it)


class _Prebuilt:
    """The default scorecard built ahead of need by a background thread (:func:`prewarm`).

    One build at a time per process: the thread holds :attr:`lock` while it builds, and a page
    whose cached scorecard is missing waits on the same lock and takes the thread's result
    instead of building it a second time. (Streamlit itself computes each ``st.cache_data`` key
    once at a time: the other sessions asking for the same key wait for the first one, so fifty
    leaders arriving together build the scorecard once.)
    """

    lock = threading.Lock()  # held while the background thread builds
    start_lock = threading.Lock()  # guards started_at and built
    key: tuple[str, int] | None = None  # (database URL, data version) of the value waiting to be taken
    value: Scorecard | None = None
    built: tuple[str, int] | None = None  # the last (URL, version) built in the background
    started_at = float("-inf")  # time.monotonic() of the last background build


def prewarm() -> None:
    """Start building the default scorecard in the background, if it may be needed soon.

    The sign-in page calls this: while a leader types a password, the process builds the
    scorecard every scorecard page shares (at enterprise scale ~2 s of CPU that the first page
    would otherwise wait for, issue 18). At most once per :data:`PREWARM_EVERY_S` per process,
    so neither signed-out visitors nor the writes of an open survey can make the server build
    again and again; a data version built already is not built again. Not started from a
    signed-in page: the build holds the GIL much of the time, and a page someone is waiting for
    (Home, after a sign-in from the cookie) would be slowed by it (measured: sign-in -> Home
    6.4 s instead of ~2 s at enterprise scale under load 21).
    """
    engine = data.engine()
    url, version = str(engine.url), data.version()
    now = time.monotonic()
    with _Prebuilt.start_lock:
        if now - _Prebuilt.started_at < PREWARM_EVERY_S or _Prebuilt.built == (url, version):
            return
        _Prebuilt.started_at, _Prebuilt.built = now, (url, version)
    threading.Thread(target=_prewarm, args=(engine, url, version), name="kpialign-prewarm", daemon=True).start()


def _prewarm(engine: Engine, url: str, version: int) -> None:
    try:
        with _Prebuilt.lock:
            with db.read_session(engine) as session:
                built = scorecard.build_scorecard(session)
            _Prebuilt.key, _Prebuilt.value = (url, version), built
    except Exception:  # a background nicety: the page builds the scorecard itself if this fails
        log.warning("could not build the scorecard in the background", exc_info=True)


def _take_prebuilt(url: str, version: int) -> Scorecard | None:
    """The background build of this version, if there is one (waits while one is running)."""
    with _Prebuilt.lock:
        if _Prebuilt.key != (url, version):
            if _Prebuilt.key is not None and _Prebuilt.key[0] == url and _Prebuilt.key[1] < version:
                _Prebuilt.key, _Prebuilt.value = None, None  # an older version nobody will ask for: free it
            return None
        found, _Prebuilt.key, _Prebuilt.value = _Prebuilt.value, None, None  # st.cache_data keeps it now
        return found


# here: an enterprise scorecard pickles to ~21 MB and each write makes the cached ones stale, so
# few entries (8 x 21 MB at most) and a ttl that frees stale versions once the portal goes quiet
@st.cache_data(ttl=3600, max_entries=8, show_spinner="Computing the scorecard…")
def _scorecard(version: int, url: str, period: str | None, wave: str | None) -> Scorecard:
    default = period is None and wave is None
    ready = _take_prebuilt(url, version) if default else None
    if ready is not None:
        return ready
    with data.reading() as session:
        built = scorecard.build_scorecard(session, period=period, wave=wave)
    if default:
        with _Prebuilt.start_lock:
            _Prebuilt.built = (url, version)  # cached now: no background build of this version
    return built


Units = tuple[int, ...] | None


def units_key(user: UserContext) -> Units:
    """The cache key of what ``user`` may see: None (every unit) or their units, sorted.

    Cached page sections key on this, never on who asked (:func:`scoped_scorecard`).
    """
    units = scope.visible_units(user)
    return None if units is None else tuple(sorted(units))


def scoped_scorecard(version: int, url: str, period: str | None, wave: str | None, units: Units) -> Scorecard:
    """The cached scorecard cut to ``units`` (:func:`units_key`), for cached page sections.

    A manager's sections are cut from the leaders' scorecard by
    :func:`kpialign.scorecard.scope.cut_to` with the same privacy rules, so a cache keyed on the
    units can never hand one scope's figures to another.
    """
    sc = cached_scorecard(version, url, period, wave)
    return scope.cut_to(sc, None if units is None else frozenset(units))


def refusing(compute: Callable[[], T]) -> T:
    """``compute()``; a bad period or wave in the filters shows its message and stops the page."""
    try:
        return compute()
    except scoring.ScorecardError as exc:
        st.error(str(exc))
        st.stop()
    raise AssertionError("unreachable")


def cached_scorecard(version: int, url: str, period: str | None, wave: str | None) -> Scorecard:
    """The whole (unscoped) scorecard from the cache; for cached views that cut it themselves.

    Once per run: every ``st.cache_data`` hit unpickles a copy (~20 MB at enterprise scale),
    and the Overview's sections each asked for it on a cold run. The copy is this run's own
    (:func:`kpialign.ui.data.once_per_run`), never shared with another session.
    """
    return data.once_per_run(("scorecard", version, url, period, wave), lambda: _scorecard(version, url, period, wave))


@dataclass(frozen=True)
class Choices:
    """What the period and wave pickers offer, and the scorecard's defaults."""

    months: list[str]  # newest first
    waves: list[str]  # closed waves, newest first
    period: str | None
    wave: str | None
    empty: bool = False


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def _choices(version: int, url: str) -> Choices:
    # here: a few strings instead of the whole scorecard (a cache hit unpickles what it returns)
    base = cached_scorecard(version, url, None, None)
    if base.empty:
        return Choices([], [], None, None, empty=True)
    # Closed waves only: an open wave's results would change with each submission (differencing).
    return Choices(
        months=base.org_series.dropna(subset=["performance"])["period"].tolist()[::-1],
        waves=[w.name for w in base.waves if privacy.results_released(w.status)][::-1],
        period=base.period,
        wave=base.wave.name if base.wave is not None else None,
    )


def period_key(version: int, url: str, period: str | None) -> str | None:
    """The cache key of a scorecard month: None when ``period`` is the default month (the latest
    with data), so a page asking for that month by name shares the default scorecard, the one the
    sign-in page starts building in the background. The period filter (:func:`filters`) keys the
    same way."""
    if period is None or period != _choices(version, url).period:
        return period
    return None


@st.cache_data(show_spinner=False)
def _reliability_closed(url: str, wave_id: int, fingerprint: str) -> dict[str, float]:
    """Cronbach's alpha of a closed wave: its stored row (written when the wave closed), read once
    per process (a closed wave never changes)."""
    with data.reading() as session:
        return counts.reliability(session, wave_id=wave_id)


def get(period: str | None = None, wave: str | None = None, *, user: UserContext | None = None) -> Scorecard:
    """The scorecard for the filters (cached); a bad filter shows a message and stops.

    With ``user``, cut to the units that user may see (:func:`scoped_scorecard`).
    """
    units = None if user is None else units_key(user)
    return refusing(lambda: scoped_scorecard(data.version(), str(data.engine().url), period, wave, units))


def reliability(wave: WaveRef) -> dict[str, float]:
    """Cronbach's alpha of the line-of-sight scale in ``wave`` (whole organisation), with its Feldt interval."""
    if wave.status == "closed":
        return _reliability_closed(str(data.engine().url), wave.wave_id, f"{wave.name}|{wave.responses}")
    with data.reading() as session:
        return counts.reliability(session, wave_id=wave.wave_id)


def filters(prefix: str, *, show_period: bool = True, show_wave: bool = True) -> tuple[str | None, str | None]:
    """Period and wave pickers (defaults: the latest month with data, the latest closed wave)."""
    version, url = data.version(), str(data.engine().url)
    base = refusing(lambda: _choices(version, url))
    if base.empty:
        return None, None
    months, wave_names = base.months, base.waves
    c1, c2 = st.columns(2)
    period = None
    if show_period and months:
        default = months.index(base.period) if base.period in months else 0
        period = c1.selectbox("Period", months, index=default, key=f"{prefix}.period", help="KPI month scored")
    wave = None
    if wave_names and show_wave:
        default_w = wave_names.index(base.wave) if base.wave in wave_names else 0
        wave = c2.selectbox("Survey wave", wave_names, index=default_w, key=f"{prefix}.wave")
    period = period_key(version, url, period)
    if base.wave is not None and wave == base.wave:
        wave = None
    return period, wave


def pct(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    return f"{value * 100:.{digits}f} %"


def score_text(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0f}"


def computed_from(sc: Scorecard) -> str:
    """One line saying what the figures on a page were computed from."""
    wave = sc.wave
    parts = [f"KPI month {sc.period or 'none'}"]
    if wave is not None:
        parts.append(f"survey wave {wave.name} (closed, {wave.responses:,} responses, groups under {wave.k} hidden)")
    else:
        parts.append("no closed survey wave")
    parts.append(f"trend tests over up to {sc.settings.trend_periods} periods, significance after Benjamini-Hochberg")
    return "Computed from: " + "; ".join(parts) + "."
