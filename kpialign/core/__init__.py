"""Pure rules: no database, no Streamlit (stdlib, numpy, pandas, scipy)."""
