"""Debian's HAProxy in front of the gateway: a config generated on free
loopback ports, the process started in the foreground and stopped by its
PID. Tests skip (with the reason) only when haproxy is not installed."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from basekit import free_port, wait_for

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def need_haproxy():
    if not os.access(HAPROXY, os.X_OK):
        pytest.skip("haproxy is not installed (packaging/install-deps.sh "
                    "test installs it)")


class HAProxy:
    """frontends: list of (name, mode, server_options); each gets a free
    port (self.ports[name]) and one backend with one server, the gateway
    at target_port, with server_options ("send-proxy", "send-proxy-v2")."""

    def __init__(self, tmp_path, target_port, frontends, http_options=(),
                 name="haproxy"):
        need_haproxy()
        self.ports = {name: free_port() for name, _m, _o in frontends}
        lines = ["global", "    maxconn 1000", "",
                 "defaults", "    timeout connect 5s",
                 "    timeout client 30s", "    timeout server 30s",
                 "    timeout tunnel 60s", ""]
        for name, mode, opts in frontends:
            lines += ["frontend fe_%s" % name, "    mode %s" % mode,
                      "    bind 127.0.0.1:%d" % self.ports[name],
                      "    default_backend be_%s" % name, "",
                      "backend be_%s" % name, "    mode %s" % mode]
            if mode == "http":
                lines += ["    " + o for o in http_options]
            lines += ["    server gw 127.0.0.1:%d %s" % (target_port, opts),
                      ""]
        self.config_path = os.path.join(str(tmp_path), name + ".cfg")
        self.log_path = os.path.join(str(tmp_path), name + ".log")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines))
        self._log = open(self.log_path, "ab")
        # -db: stay in the foreground, so the PID is haproxy's own.
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config_path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        try:
            for port in self.ports.values():
                wait_for(lambda: self._accepts(port), 15,
                         what="haproxy listening on %d" % port)
        except AssertionError:
            self.stop()
            raise AssertionError("haproxy did not start; log:\n%s"
                                 % self.log_text())

    def _accepts(self, port):
        """Listening, per /proc/net/tcp (a probe connection would make
        haproxy open a session to the gateway)."""
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited with %s; log:\n%s"
                                 % (self.proc.returncode, self.log_text()))
        want = ":%04X" % port
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(want) and fields[3] == "0A":
                    return True
        return False

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


@pytest.fixture
def haproxy_factory(tmp_path):
    made = []

    def make(target_port, frontends, **kw):
        h = HAProxy(tmp_path, target_port, frontends, **kw)
        made.append(h)
        return h
    yield make
    for h in made:
        h.stop()
