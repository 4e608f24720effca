"""
The daemon under test: Gateway writes a gateway.conf (render_config, or a
whole config text), starts `wsgate -d -c FILE` (or any command line) on a
free port, waits until it accepts, stops it by PID, and reads its log
(session-end lines, a line matching a pattern, sanitizer reports).

Binaries: $WSGATE_BIN (ASan+UBSan build, behaviour tests) and
$WSGATE_RELEASE_BIN (release build, memory tests).
"""

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from basekit import free_port, read_vmrss, wait_for
from probekit import accepts, quiescent, tcp_connections

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

WSGATE_BIN = os.environ.get(
    "WSGATE_BIN", os.path.join(ROOT, "build", "san-address-undefined", "wsgate"))
WSGATE_RELEASE_BIN = os.environ.get(
    "WSGATE_RELEASE_BIN", os.path.join(ROOT, "wsgate"))

# What sanitizers write when they find something; any of these in a
# daemon log fails the test that ran it.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "WARNING: ThreadSanitizer:",    # make test-tsan
)

DEFAULT_GATEWAY_OPTS = {
    "handshake_timeout": "2s",
    "drain_timeout": "2s",
}


def render_config(port, routes, gateway=None):
    """routes: list of (path, {key: value or [values]}) in file order."""
    opts = dict(DEFAULT_GATEWAY_OPTS)
    opts.update(gateway or {})
    lines = ["[gateway]", "listen = 127.0.0.1:%d" % port]
    for k, v in opts.items():
        if v is None:
            continue
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            lines.append("%s = %s" % (k, item))
    for path, keys in routes:
        lines.append("")
        lines.append("[route %s]" % path)
        for k, v in keys.items():
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                lines.append("%s = %s" % (k, item))
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def inetd_gateway(tmp_path, target):
    """`wsgate --inetd TARGET` as inetd runs it in "wait" mode: stdin is a
    listening socket we bound on a free loopback port. Yields that port
    once wsgate logs "listening on fd:0"; the log is tmp_path/inetd.log.
    On leaving, stops wsgate with SIGTERM and asserts it exited 0."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    log_path = tmp_path / "inetd.log"
    with open(log_path, "wb") as log:
        p = subprocess.Popen([WSGATE_BIN, "--inetd", target],
                             stdin=lsock.fileno(), stdout=log, stderr=log)
    lsock.close()
    try:
        wait_for(lambda: b"listening on fd:0" in log_path.read_bytes(), 10,
                 what="listening on fd:0")
        yield port
    finally:
        p.terminate()
        assert p.wait(15) == 0


SESSION_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


class Gateway:
    """One wsgate process.

    Either routes (list of (path, keys)) with gateway defaults (plus
    extra_config text appended, e.g. a [tls] section), or config_text (a
    whole file, "{port}" replaced by the listen port), written to a config
    in tmp_path and run as `wsgate -d -c FILE`; or args for any other
    command line ("{port}" in them is replaced by the listen port).
    "{admin_port}" anywhere in the config (gateway options included) or
    the args is replaced by a second free port, self.admin_port. Both are
    picked again when a start fails on a port in use (another process may
    take a free port between our look and wsgate's bind).
    """

    def __init__(self, tmp_path, routes=None, gateway=None, args=None,
                 binary=None, name="wsgate", extra_args=(), env=None,
                 config_text=None, extra_config=""):
        self.tmp_path = tmp_path
        self.routes = routes or []
        self.gateway_opts = gateway or {}
        self.args = args
        self.binary = binary or WSGATE_BIN
        self.name = name
        self.extra_args = list(extra_args)
        self.env = env
        self.config_text = config_text      # whole file; "{port}" filled in
        self.extra_config = extra_config    # appended to the rendered file
        self.proc = None
        self.port = None
        self.admin_port = None
        self.log_path = os.path.join(str(tmp_path), "%s.log" % name)
        self.config_path = os.path.join(str(tmp_path), "%s.conf" % name)
        self.returncode = None
        self.stopped = False
        self._logf = None

    # ---- lifecycle

    def start(self, wait=True):
        if not os.path.exists(self.binary):
            pytest.fail("wsgate binary not found: %s (build it first: "
                        "make all && make SANITIZER=address,undefined "
                        "build/san-address-undefined/wsgate)" % self.binary)
        last = None
        for _attempt in range(3):
            self.port = free_port()
            self.admin_port = free_port()

            def fill(text):
                return text.replace("{port}", str(self.port)).replace(
                    "{admin_port}", str(self.admin_port))
            if self.args is None:
                if self.config_text is not None:
                    text = fill(self.config_text)
                else:
                    text = fill(render_config(self.port, self.routes,
                                              self.gateway_opts)
                                + self.extra_config)
                with open(self.config_path, "w") as f:
                    f.write(text)
                argv = [self.binary, "-d", "-c", self.config_path] + self.extra_args
            else:
                argv = [self.binary] + [fill(a) for a in self.args]
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS",
                           "halt_on_error=1:abort_on_error=0:detect_leaks=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            env.setdefault("TSAN_OPTIONS", "suppressions=%s" % os.path.join(
                ROOT, "tests", "tsan.supp"))
            if self.env:
                env.update(self.env)
            self._logf = open(self.log_path, "ab")
            self._logf.write(("### %s\n" % " ".join(argv)).encode())
            self._logf.flush()
            self.argv = argv
            self.proc = self._popen(argv, env)
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except AssertionError as e:
                last = e
                if "in use" in self.log_text().lower():
                    self._kill()
                    continue
                raise
        raise last

    def _popen(self, argv, env):
        # A binary being relinked right now (a developer rebuilding while
        # the suite runs) is briefly not executable: retry a little.
        deadline = time.monotonic() + 10
        while True:
            try:
                return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                        stdout=self._logf, stderr=self._logf,
                                        cwd=str(self.tmp_path), env=env)
            except OSError as e:
                if (e.errno not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT)
                        or time.monotonic() > deadline):
                    raise
                time.sleep(0.2)

    def wait_ready(self, timeout=10.0):
        """Wait until a connect to the listen port succeeds (the daemon
        sees that probe as a client that left before its upgrade)."""
        def ready():
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("wsgate exited with %s before accepting "
                                     "connections; log:\n%s" % (rc, self.log_tail()))
            return accepts(self.port)
        wait_for(ready, timeout, what=lambda: "wsgate to accept on port %d; "
                 "log:\n%s" % (self.port, self.log_tail()))
        # The probe counts against max_connections_per_ip until wsgate has
        # read its EOF, maybe on another worker than the test's first
        # clients: wait (a little, never failing) for wsgate to close it, so
        # a test of the per-address limit does not meet it.
        try:
            wait_for(lambda: not any(
                lp == self.port and st not in ("LISTEN", "TIME_WAIT")
                for lp, _rp, st in tcp_connections(self.port)), 2.0)
        except AssertionError:
            pass

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/echo"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send sig, wait for exit; returns the exit code (or -signal).
        Kills the process (and fails) if it does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                self.stopped = True
                self.returncode = self.proc.returncode
                raise AssertionError(
                    "wsgate did not exit within %.1fs of signal %d; log:\n%s"
                    % (timeout, sig, self.log_tail()))
        self.stopped = True
        self.returncode = self.proc.returncode
        self._close_log()
        return self.returncode

    def _kill(self):
        try:
            self.proc.kill()
            self.proc.wait(5)
        except Exception:
            pass
        self._close_log()

    def _close_log(self):
        if self._logf:
            try:
                self._logf.close()
            except Exception:
                pass
            self._logf = None

    # ---- logs

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_report(self):
        text = self.log_text()
        for m in SANITIZER_MARKERS:
            i = text.find(m)
            if i >= 0:
                return text[max(0, i - 200):i + 6000]
        return None

    def session_lines(self, route=None):
        """Session-end lines (those with up= and down=), parsed to dicts
        (plus the raw line under key '_line')."""
        out = []
        for line in self.log_text().splitlines():
            if " up=" not in line or " down=" not in line:
                continue
            d = {}
            for k, v in SESSION_KV.findall(line):
                if v.startswith('"'):
                    v = v[1:-1]
                d[k] = v
            d["_line"] = line
            if route is not None and d.get("route") != route:
                continue
            out.append(d)
        return out

    def wait_session_lines(self, n=1, route=None, timeout=5.0):
        return wait_for(lambda: (len(self.session_lines(route)) >= n
                                 and self.session_lines(route)),
                        timeout, what="%d session log line(s) for route %s; log:\n%s"
                        % (n, route, self.log_tail()))

    def wait_log(self, regex, timeout=5.0):
        r = re.compile(regex)

        def find():
            return r.search(self.log_text())
        try:
            return wait_for(find, timeout, what="log matching %r" % regex)
        except AssertionError:
            raise AssertionError("no log line matching %r within %.1fs; log:\n%s"
                                 % (regex, timeout, self.log_tail()))

    def wait_idle(self, timeout=10.0):
        """Wait until every thread of the daemon sleeps: it has handled
        all it was woken for (a handshake, a relay, a teardown). Memory
        figures are read after this, and so are "nothing more happens"
        checks."""
        wait_for(quiescent(self.pid), timeout, interval=0.01,
                 what="wsgate (pid %d) to go idle" % self.pid)

    def rss(self):
        return read_vmrss(self.pid)
