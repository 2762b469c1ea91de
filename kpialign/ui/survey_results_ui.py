"""The Survey results page's sections, computed once per data version, wave, scope and filters.

Like the Overview (:mod:`kpialign.ui.overview_ui`), each section is a ``st.cache_data`` entry
keyed on the data version, the wave, the *units the user may see*
(:func:`kpialign.ui.scorecard_ui.units_key`, never who asked) and the section's own filters, and
holds only what the page draws: the heatmap as a Vega-Lite spec, the tables, the captions. A
warm rerun neither copies the scorecard nor builds a chart. Figures come from the scorecard,
already through the privacy rules; a division filter that would let a small group be worked out
by subtraction is refused (:func:`kpialign.scorecard.build.check_division_filter`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.core import privacy
from kpialign.scorecard import build, views
from kpialign.scorecard.model import Scorecard, WaveRef
from kpialign.ui import department_ui, pick_share, vega
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain

ALL_DIVISIONS = "All divisions"
LEVELS = {"Departments": "department", "Divisions": "division"}
MAX_COLUMNS = 15  # beyond ~15 columns the cells get too narrow for their numbers and names at 1400 px


@dataclass(frozen=True)
class Header:
    """The wave shown (None: no wave opened yet), its caption and the divisions the filter offers."""

    wave: WaveRef | None
    caption: str = ""
    divisions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Heat:
    """The % favourable heatmap for the filters, or why nothing is drawn (captions are Markdown-safe)."""

    refusal: str = ""  # the division filter would disclose a small group
    info: str = ""  # nothing to draw
    spec: vega.Spec | None = None
    cut_note: str = ""  # too many columns: which are shown
    hidden_note: str = ""  # which columns are hidden, and why
    units: tuple[int, ...] | None = None  # the departments the lower sections keep (None: all)


@dataclass(frozen=True)
class Changes:
    """Department x item changes since the previous wave: caption, table and note, or an info."""

    info: str = ""
    caption: str = ""
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""


def _scorecard(version: int, url: str, wave: str | None, units: ui.Units) -> Scorecard:
    return ui.scoped_scorecard(version, url, None, wave, units)


@st.cache_data(ttl=3600, max_entries=32, show_spinner="Computing the survey results…")
def _header(version: int, url: str, wave: str | None, units: ui.Units) -> Header:
    sc = _scorecard(version, url, wave, units)
    if sc.wave is None:
        return Header(None)
    w = sc.wave
    caption = (
        f"Wave {plain(w.name)} ({'open — provisional' if w.status == 'open' else 'closed'}), {w.responses:,} "
        f"responses; cells from fewer than {w.k} responses are hidden."
    )
    divisions = sorted({sc.division_names[d] for d in set(sc.division_of.values())})
    return Header(w, caption, [ALL_DIVISIONS, *divisions])


def _units(sc: Scorecard, level: str, division: str) -> tuple[int, ...] | None:
    """The columns a division filter keeps (None: all); raises DisclosureRefused when it may not be applied."""
    if division == ALL_DIVISIONS:
        return None
    div_id = next(i for i, n in sc.division_names.items() if n == division and i in set(sc.division_of.values()))
    assert sc.wave is not None
    build.check_division_filter(sc, sc.wave.wave_id, div_id)
    if level == "division":
        return (div_id,)
    return tuple(sorted(d for d, v in sc.division_of.items() if v == div_id))


@st.cache_data(ttl=3600, max_entries=128, show_spinner=False)
def _heat(version: int, url: str, wave: str | None, units: ui.Units, level: str, division: str, search: str) -> Heat:
    sc = _scorecard(version, url, wave, units)
    w = sc.wave
    assert w is not None
    try:
        cols = _units(sc, level, division)
    except privacy.DisclosureRefused as exc:
        return Heat(refusal=str(exc))
    heat = views.survey_heatmap(sc, w.wave_id, level=level, units=list(cols) if cols is not None else None)
    if search and level == "department":
        keep = heat["unit"].str.contains(search, case=False, regex=False) | (heat["unit_level"] == "organisation")
        heat = heat[keep]
    if heat.empty:
        return Heat(info="No answers yet in this wave.", units=cols)
    cut_note = hidden_note = ""
    not_org = heat["unit_level"] != "organisation"
    n_units = heat.loc[not_org, "unit"].nunique()
    if n_units > MAX_COLUMNS:
        first = heat.loc[not_org, "unit"].drop_duplicates().head(MAX_COLUMNS)
        heat = heat[heat["unit"].isin(first) | (heat["unit_level"] == "organisation")]
        cut_note = (
            f"Showing the first {MAX_COLUMNS} of {n_units} departments; choose a division or search to see "
            "others, or show divisions as columns."
        )
    hidden = sorted(heat.loc[heat["hidden"] & (heat["unit_level"] != "organisation"), "unit"].unique())
    if hidden:
        hidden_note = f"Hidden (fewer than {w.k} responses, or protecting a small group): {plain(', '.join(hidden))}"
    spec = vega.spec(charts.items_heatmap(heat, k=w.k))
    return Heat(spec=spec, cut_note=cut_note, hidden_note=hidden_note, units=cols)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _picks(version: int, url: str, wave: str | None, units: ui.Units, cols: tuple[int, ...] | None) -> pd.DataFrame:
    return pick_share.pick_table(_scorecard(version, url, wave, units), None if cols is None else list(cols))


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _changes(version: int, url: str, wave: str | None, units: ui.Units, cols: tuple[int, ...] | None) -> Changes:
    sc = _scorecard(version, url, wave, units)
    if sc.wave is None or sc.previous_wave is None or sc.changes.empty:
        return Changes(info="There is no earlier closed wave to compare with.")
    ch = sc.changes.merge(sc.questions[["question_id", "code"]], on="question_id")
    names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
    ch = ch.assign(department=ch["department_id"].map(names))
    if cols is not None:
        ch = ch[ch["department_id"].isin(cols)]
    sig = ch[ch["significant"]]
    caption = (
        f"{plain(sc.wave.name)} vs {plain(sc.previous_wave.name)}: {len(ch)} department x item comparisons, "
        "Mann-Whitney U and two-proportion tests, Benjamini-Hochberg across all of them; "
        f"{len(sig)} significant at {sc.settings.alpha:g}."
    )
    show = sig if not sig.empty else ch.nsmallest(10, "q_mwu")
    table = pd.DataFrame(
        {
            "department": show["department"],
            "item": show["code"],
            **department_ui.favourable_change(show),
            "effect (rank-biserial)": show["rank_biserial"].round(2),
            "q (BH)": show["q_mwu"].round(3),
        }
    )
    note = "No change is significant; the table lists the ten smallest q-values." if sig.empty else ""
    return Changes(caption=caption, table=table, note=note)


@dataclass(frozen=True)
class View:
    """What the cached sections are keyed on, read once per rerun: data version, database, wave, scope."""

    version: int
    url: str
    wave: str | None
    units: ui.Units

    def _args(self) -> tuple:
        return (self.version, self.url, self.wave, self.units)

    def header(self) -> Header:
        return ui.refusing(lambda: _header(*self._args()))

    def heat(self, level: str, division: str, search: str) -> Heat:
        return ui.refusing(lambda: _heat(*self._args(), level, division, search))

    def picks(self, cols: tuple[int, ...] | None) -> pd.DataFrame:
        return ui.refusing(lambda: _picks(*self._args(), cols))

    def changes(self, cols: tuple[int, ...] | None) -> Changes:
        return ui.refusing(lambda: _changes(*self._args(), cols))
