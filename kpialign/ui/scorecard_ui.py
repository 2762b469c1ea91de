"""Shared pieces of the Scorecard pages: the cached scorecard and the period/wave filters.

The scorecard is cached with ``st.cache_data`` keyed on the data version, so any write in
any replica makes it stale; closed survey waves are cached for good underneath (stored
aggregates plus a per-process copy in :mod:`kpialign.scorecard.queries`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from kpialign.core import privacy, scoring
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import queries as scorecard_data
from kpialign.scorecard import scope
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


# here: an enterprise scorecard pickles to ~21 MB and each write makes the cached ones stale, so
# few entries (8 x 21 MB at most) and a ttl that frees stale versions once the portal goes quiet
@st.cache_data(ttl=3600, max_entries=8, show_spinner="Computing the scorecard…")
def _scorecard(version: int, url: str, period: str | None, wave: str | None) -> Scorecard:
    with data.reading() as session:
        return scorecard.build_scorecard(session, period=period, wave=wave)


def cached_scorecard(version: int, url: str, period: str | None, wave: str | None) -> Scorecard:
    """The whole (unscoped) scorecard from the cache; for cached views that cut it themselves."""
    return _scorecard(version, url, period, wave)


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
    base = _scorecard(version, url, None, None)
    if base.empty:
        return Choices([], [], None, None, empty=True)
    # Closed waves only: an open wave's results would change with each submission (differencing).
    return Choices(
        months=base.org_series.dropna(subset=["performance"])["period"].tolist()[::-1],
        waves=[w.name for w in base.waves if privacy.results_released(w.status)][::-1],
        period=base.period,
        wave=base.wave.name if base.wave is not None else None,
    )


@st.cache_data(show_spinner=False)
def _reliability_closed(url: str, wave_id: int, fingerprint: str) -> dict[str, float]:
    """Cronbach's alpha of a closed wave: computed once per process (a closed wave never changes)."""
    with data.reading() as session:
        return scoring.reliability(scorecard_data.item_table(session, wave_id=wave_id))


def get(period: str | None = None, wave: str | None = None, *, user: UserContext | None = None) -> Scorecard:
    """The scorecard for the filters (cached); a bad filter shows a message and stops.

    With ``user``, cut to the units that user may see (:func:`kpialign.scorecard.scope.scoped`).
    """
    try:
        sc = _scorecard(data.version(), str(data.engine().url), period, wave)
        return sc if user is None else scope.scoped(sc, user)
    except scoring.ScorecardError as exc:
        st.error(str(exc))
        st.stop()
    raise AssertionError("unreachable")


def reliability(sc: Scorecard, wave: WaveRef) -> dict[str, float]:
    if wave.status == "closed":
        return _reliability_closed(str(data.engine().url), wave.wave_id, f"{wave.name}|{wave.responses}")
    with data.reading() as session:
        return scoring.reliability(scorecard_data.item_table(session, wave_id=wave.wave_id))


def filters(prefix: str, *, show_period: bool = True, show_wave: bool = True) -> tuple[str | None, str | None]:
    """Period and wave pickers (defaults: the latest month with data, the latest closed wave)."""
    try:
        base = _choices(data.version(), str(data.engine().url))
    except scoring.ScorecardError as exc:
        st.error(str(exc))
        st.stop()
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
    if period == base.period:
        period = None
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
