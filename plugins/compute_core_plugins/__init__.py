"""compute_core's in-tree plugins. The core never imports these modules: it
finds each one by name through its entry point, as it would a third-party
plugin (see setup.py)."""
