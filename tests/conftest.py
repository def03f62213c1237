"""Suite-wide pytest settings."""


def pytest_make_parametrize_id(config, val, argname):
    # gabbi's pytest plugin (loaded by the placement gabbi tests) reads any
    # test id containing ':' as one of its suites; keep generated ids free of it.
    if isinstance(val, bytes):
        val = val.decode("ascii", "backslashreplace")
        # pytest would escape these bytes; keep the id as readable
        return val.replace(":", "-").encode("unicode_escape").decode("ascii")
    if isinstance(val, str) and ":" in val:
        return val.replace(":", "-")
    return None
