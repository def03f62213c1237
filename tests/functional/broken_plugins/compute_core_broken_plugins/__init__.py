"""Plugins broken on purpose, one way each (see setup.py)."""
