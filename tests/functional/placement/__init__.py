"""Declarative HTTP tests (gabbi) of the placement API, one YAML per feature."""
