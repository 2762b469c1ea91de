"""Charts as cached Vega-Lite specs: build an Altair chart once per data version, draw it many times.

``st.altair_chart`` converts the chart to a Vega-Lite spec on every rerun: Altair validates
the whole spec against its JSON schema and copies it several times, which made the charts
about three quarters of a warm Overview rerun (cProfile, issue 18). :func:`spec` makes that
conversion once, with Streamlit's own converter (the same theme handling, and the chart data
already serialised to Arrow), so the result can be cached with ``st.cache_data`` next to the
data it was drawn from; :func:`show` draws a cached spec with ``st.vega_lite_chart``, which
sends exactly what ``st.altair_chart`` would have sent.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

try:  # here: Streamlit's converter is private; without it, fall back to the public path (uncached)
    from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
except ImportError:  # pragma: no cover - another Streamlit
    _convert_altair_to_vega_lite_spec = None

Spec = dict[str, Any]


def spec(chart: alt.TopLevelMixin) -> Spec | alt.TopLevelMixin:
    """The chart as the Vega-Lite spec ``st.altair_chart`` would send (picklable: JSON plus Arrow bytes)."""
    if _convert_altair_to_vega_lite_spec is None:  # pragma: no cover
        return chart
    return _convert_altair_to_vega_lite_spec(chart)


def show(chart_spec: Spec | alt.TopLevelMixin, **kwargs: Any) -> None:
    """Draw a spec from :func:`spec` (``width="stretch"`` unless given)."""
    kwargs.setdefault("width", "stretch")
    if isinstance(chart_spec, dict):
        st.vega_lite_chart(spec=chart_spec, **kwargs)
    else:  # pragma: no cover - the fallback above
        st.altair_chart(chart_spec, **kwargs)
