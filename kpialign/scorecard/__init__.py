"""The read model: SQL aggregates (queries), build, page views."""
