"""The only part of kpialign that imports Streamlit: cached engine, auth gate, navigation, widgets."""
