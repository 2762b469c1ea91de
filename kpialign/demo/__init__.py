"""The deterministic demo organisation."""
