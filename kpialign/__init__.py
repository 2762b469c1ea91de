"""kpialign: a self-hosted KPI alignment portal (domain package, no Streamlit outside ``ui/``)."""

__version__ = "0.1.0"
