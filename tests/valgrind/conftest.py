"""
pytest setup for the valgrind tests: tests/integration on sys.path for the
kit modules (basekit, wskit, backendkit, gatewaykit, faultkit), and the
integration suite's fixtures (gateway_factory, backends, unix_dir) and
report hook, loaded from tests/integration/conftest.py under another
module name so both directories can be collected in one run.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ITEST = os.path.abspath(os.path.join(HERE, "..", "integration"))
if ITEST not in sys.path:
    sys.path.insert(0, ITEST)

_spec = importlib.util.spec_from_file_location(
    "wsgate_itest_fixtures", os.path.join(ITEST, "conftest.py"))
itest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(itest)

# fixtures and the report hook, re-exported for pytest to find here
gateway_factory = itest.gateway_factory
gateway = itest.gateway
backends = itest.backends
unix_dir = itest.unix_dir
_nofile_limit = itest._nofile_limit
pytest_runtest_makereport = itest.pytest_runtest_makereport
