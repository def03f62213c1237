"""Run every YAML file under gabbits/ as a gabbi suite (one pytest test per
request), each against a fresh placement app; see fixtures.py."""
import os

from gabbi import driver
from gabbi.driver import test_pytest  # noqa: F401 - the test function pytest collects

from tests.functional.placement import fixtures

GABBITS = os.path.join(os.path.dirname(__file__), "gabbits")


def pytest_generate_tests(metafunc):
    driver.py_test_generator(GABBITS, intercept=fixtures.intercept, fixture_module=fixtures,
                             test_loader_name="placement", metafunc=metafunc)
