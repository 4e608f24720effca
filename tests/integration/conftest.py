"""
pytest fixtures and hooks for the wsgate integration tests; the kit they
use lives in modules tests import directly:

  basekit.py     free ports, deterministic data, wait_for (the wait helper)
  wskit.py       RawWS, a WebSocket client that can send any bytes
  backendkit.py  Python backends (echo, record, source, ...), Blackhole
  gatewaykit.py  Gateway: config, start/stop by PID, log and session lines
  probekit.py    states to wait on: process idle, TCP states and queues
  faultkit.py    misbehaving backends, /proc, prlimit/valgrind wrappers, netns
  tlskit.py, haproxykit.py, fleetkit.py   certificates, HAProxy, a fleet

The real daemon runs on loopback against those backends and is driven by
real, independent WebSocket clients and by RawWS.
"""

import shutil
import signal
import tempfile

import pytest

from backendkit import Backend
from basekit import raise_nofile_limit
from gatewaykit import Gateway


# Where the names tests used to import from this file live now; a stale
# `from conftest import X` says where to get X instead of "cannot import".
_MOVED = {
    "basekit": "MiB free_port closed_port raise_nofile_limit sha256 wait_for "
               "pattern_bytes read_vmrss run_async",
    "wskit": "WS_GUID OP_CONT OP_TEXT OP_BINARY OP_CLOSE OP_PING OP_PONG "
             "mask_bytes build_frame close_payload Frame ConnectionEOF RawWS "
             "http_exchange",
    "backendkit": "BackendConn Backend echo_handler record_handler "
                  "send_then_eof rst_handler read_nothing_handler "
                  "source_handler greet_echo_handler source_stream_hash "
                  "Blackhole",
    "gatewaykit": "ROOT WSGATE_BIN WSGATE_RELEASE_BIN SANITIZER_MARKERS "
                  "DEFAULT_GATEWAY_OPTS render_config SESSION_KV Gateway",
}


def __getattr__(name):
    for mod, names in _MOVED.items():
        if name in names.split():
            raise ImportError("conftest.py holds only fixtures: "
                              "`from %s import %s`" % (mod, name))
    raise AttributeError("module 'conftest' has no attribute %r" % name)


@pytest.fixture
def backends():
    """Factory: backends(handler, unix=None, keep=True) -> Backend.
    All are closed at teardown."""
    made = []

    def make(handler, unix=None, keep=True, **kw):
        b = Backend(handler, unix=unix, keep=keep, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


@pytest.fixture
def unix_dir():
    """A short directory for Unix socket paths (sun_path is 108 bytes)."""
    d = tempfile.mkdtemp(prefix="wsg-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for gw in getattr(item, "_wsgate_gateways", []):
            rep.sections.append(("wsgate log (%s, tail)" % gw.log_path,
                                 gw.log_tail(80)))


@pytest.fixture
def gateway_factory(request, tmp_path):
    """Factory: gateway_factory(routes=..., gateway=..., args=...,
    binary=..., start=True) -> started Gateway.

    Teardown stops every gateway with SIGTERM and fails the test if one
    crashed, hung, exited non-zero or logged a sanitizer report."""
    made = []
    request.node._wsgate_gateways = made

    def make(routes=None, gateway=None, args=None, binary=None, start=True,
             name=None, **kw):
        gw = Gateway(tmp_path, routes=routes, gateway=gateway, args=args,
                     binary=binary, name=name or "wsgate%d" % len(made), **kw)
        made.append(gw)
        if start:
            gw.start()
        return gw
    yield make

    problems = []
    for gw in made:
        if gw.proc is None:
            continue
        if not gw.stopped:
            died = gw.proc.poll()
            if died is not None:
                problems.append("%s died during the test with exit status %s"
                                % (gw.name, died))
                gw.stopped = True
                gw.returncode = died
                gw._close_log()
            else:
                try:
                    rc = gw.stop(signal.SIGTERM, timeout=15.0)
                except AssertionError as e:
                    problems.append(str(e))
                    rc = None
                if rc not in (0, None):
                    problems.append("%s exited with status %s after SIGTERM"
                                    % (gw.name, rc))
        rep = gw.sanitizer_report()
        if rep:
            problems.append("%s: sanitizer report in log:\n%s" % (gw.name, rep))
    if problems:
        pytest.fail("\n".join(problems) + "\n--- log tail:\n"
                    + "\n".join(g.log_tail(40) for g in made), pytrace=False)


@pytest.fixture
def gateway(gateway_factory):
    """Shortcut: the factory, for tests that make one gateway."""
    return gateway_factory


@pytest.fixture(autouse=True, scope="session")
def _nofile_limit():
    raise_nofile_limit()
    yield
