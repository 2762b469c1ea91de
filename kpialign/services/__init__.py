"""One module per domain area; functions take the session and never commit."""
