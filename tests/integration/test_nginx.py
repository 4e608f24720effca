"""wsgate behind Debian's nginx as a WebSocket reverse proxy.

nginx cuts a proxied connection that stays silent for proxy_read_timeout;
the deployment that keeps idle sessions alive relies on wsgate's pings
going out every heartbeat_interval (issue 11 item 2).
"""

import os
import shutil
import signal
import subprocess

import pytest

from backendkit import echo_handler
from basekit import free_port, wait_for
from probekit import accepts
from wskit import OP_BINARY, RawWS

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """One nginx process with its own config, pid file and temp paths in
    tmp_path, in the foreground; stopped by PID."""

    def __init__(self, tmp_path, upstream_port, read_timeout="3s"):
        self.dir = os.path.join(str(tmp_path), "nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        d = self.dir
        with open(self.conf, "w") as f:
            f.write("""
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log info;
events { worker_connections 64; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://127.0.0.1:%(up)d;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_read_timeout %(rt)s;
            proxy_send_timeout %(rt)s;
        }
    }
}
""" % {"d": d, "port": self.port, "up": upstream_port, "rt": read_timeout})
        self.log = open(os.path.join(d, "stderr.log"), "ab")
        # In the foreground; the prefix keeps nginx off /var/lib/nginx.
        self.proc = subprocess.Popen(
            [NGINX, "-p", d + "/", "-c", self.conf, "-e", d + "/error.log",
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        wait_for(self._accepts, 10, what="nginx listening")

    def _accepts(self):
        assert self.proc.poll() is None, "nginx exited: %s" % self.text()
        return accepts(self.port)

    def text(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def nginx_factory(tmp_path):
    if not os.path.exists(NGINX):
        pytest.fail("nginx not installed (sh packaging/install-deps.sh test)")
    made = []

    def make(upstream_port, **kw):
        n = Nginx(tmp_path, upstream_port, **kw)
        made.append(n)
        return n
    yield make
    for n in made:
        n.stop()


def test_idle_session_through_nginx_survives_read_timeout(gateway_factory,
                                                          backends,
                                                          nginx_factory):
    """nginx proxy_read_timeout 3s, heartbeat 1s / timeout 5s: an idle
    session answering pings stays up for 8s and still relays."""
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/hb", {"backend": echo.spec,
                                         "heartbeat_interval": "1s",
                                         "heartbeat_timeout": "5s"})])
    ngx = nginx_factory(g.port, read_timeout="3s")
    ws = RawWS.open(ngx.port, path="/hb")
    # an end of the connection here is nginx cutting the idle session
    pings = ws.answer_pings_for(8.0, lambda: "nginx log:\n" + ngx.text())
    assert pings >= 5, "%d pings in 8s with a 1s interval" % pings
    ws.send_frame(OP_BINARY, b"still here")
    assert ws.recv_data(10) == b"still here"
    ws.close()
