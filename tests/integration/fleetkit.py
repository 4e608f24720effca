"""A fleet on loopback: a real redis-server, a real HAProxy running
packaging/haproxy/wsgate-fleet.cfg, and gateways behind it. Each service
is started on free ports with its own config in the test's tmp_path and
stopped by PID."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from basekit import free_port, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HAPROXY_CFG = os.path.join(ROOT, "packaging", "haproxy", "wsgate-fleet.cfg")


def need(binary):
    path = shutil.which(binary) or (os.path.exists("/usr/sbin/" + binary)
                                    and "/usr/sbin/" + binary)
    if not path:
        pytest.skip("%s not installed (sh packaging/install-deps.sh test)"
                    % binary)
    return path


def admin_call(port, path, method="GET", bearer=None, timeout=10):
    """(status, parsed JSON or None) of one admin_listen request."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    if bearer is not None:
        req.add_header("Authorization", "Bearer " + bearer)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body, code = r.read(), r.status
    except urllib.error.HTTPError as e:
        body, code = e.read(), e.code
    except OSError:
        return None, None
    try:
        return code, json.loads(body)
    except ValueError:
        return code, None


class Redis:
    """redis-server on 127.0.0.1:port, no persistence; stop()/start()
    again on the same port (the "Redis comes back" case)."""

    def __init__(self, tmp_path):
        self.bin = need("redis-server")
        self.dir = os.path.join(str(tmp_path), "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "redis.log")
        self.password = None    # set by require_password

    def start(self):
        conf = os.path.join(self.dir, "redis.conf")
        with open(conf, "w") as f:
            f.write("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\n"
                    "dir %s\nlogfile %s\ndaemonize no\nprotected-mode yes\n"
                    % (self.port, self.dir, self.log_path))
        self.proc = subprocess.Popen([self.bin, conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: self.ping(), 10, what="redis-server answers PING")
        return self

    def ping(self):
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False

    def command(self, *args):
        """One command over RESP; returns str, int, list or None."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            cmds = [args]
            if self.password is not None:
                cmds.insert(0, ("AUTH", self.password))
            out = b""
            for c in cmds:
                out += b"*%d\r\n" % len(c)
                for a in c:
                    a = a if isinstance(a, bytes) else str(a).encode()
                    out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            for _ in cmds[:-1]:
                self._read(f)
            return self._read(f)
        finally:
            s.close()

    def require_password(self, password):
        """Connections made from now on must AUTH (None: no longer);
        those already authenticated stay so."""
        self.command("CONFIG", "SET", "requirepass", password or "")
        self.password = password

    def clients(self):
        """CLIENT LIST as [{field: value}]."""
        return [dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
                for line in self.command("CLIENT", "LIST").splitlines()]

    def cut(self, instance):
        """Drop every connection gateway instance holds (they carry its
        CLIENT SETNAME, wsgate:INSTANCE:ROLE); returns how many."""
        ids = [c["id"] for c in self.clients()
               if c.get("name", "").startswith("wsgate:%s:" % instance)]
        for i in ids:
            self.command("CLIENT", "KILL", "ID", i)
        return len(ids)

    def calls(self, command):
        """How many times command ran (INFO commandstats)."""
        for line in self.command("INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_%s:" % command.lower()):
                return int(line.split("calls=")[1].split(",")[0])
        return 0

    def _read(self, f):
        line = f.readline()
        if not line:
            raise OSError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise OSError("redis error: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read(f) for _ in range(n)]
        raise OSError("bad RESP reply %r" % line)

    def kill(self):
        """SIGKILL: Redis dies mid-run, with no goodbye to its clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class HAProxy:
    """HAProxy on packaging/haproxy/wsgate-fleet.cfg as written, with the
    addresses of up to three gateways given through its environment."""

    def __init__(self, tmp_path, gateways, check_inter="200ms"):
        self.bin = need("haproxy")
        self.port = free_port()
        self.stats = os.path.join(str(tmp_path), "haproxy.sock")
        self.log_path = os.path.join(str(tmp_path), "haproxy.log")
        env = dict(os.environ)
        env.update({"WSGATE_FLEET_BIND": "127.0.0.1:%d" % self.port,
                    "WSGATE_FLEET_STATS": self.stats,
                    "WSGATE_FLEET_LOG": "stdout",
                    "WSGATE_FLEET_MAXCONN": "2000",
                    "WSGATE_FLEET_CHECK_INTER": check_inter})
        for i in range(3):
            g = gateways[i % len(gateways)]
            env["WSGATE_GW%d" % (i + 1)] = "127.0.0.1:%d" % g.port
            env["WSGATE_GW%d_ADMIN" % (i + 1)] = str(g.admin_port)
        self.env = env
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.bin, "-db", "-f", HAPROXY_CFG],
                                     env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        # The socket's file appears at bind(), before listen(): a connect
        # in between is refused. Wait until one is accepted.
        wait_for(lambda: self.proc.poll() is not None or
                 self._stats_accepts(), 10, what="haproxy stats socket")
        assert self.proc.poll() is None, self.log_text()
        return self

    def _stats_accepts(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.stats)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def runtime(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.stats)
        s.sendall(cmd.encode() + b"\n")
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
        s.close()
        return out.decode()

    def server_states(self):
        """{server name: "UP"/"DOWN"/...} from "show stat"."""
        lines = self.runtime("show stat").splitlines()
        hdr = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(hdr, line.split(",")))
            if row.get("pxname") == "wsgate_gateways" and \
                    row.get("svname") not in ("BACKEND", "FRONTEND"):
                out[row["svname"]] = row["status"]
        return out

    def wait_states(self, want, timeout=15):
        return wait_for(lambda: all(self.server_states().get(k, "").
                                    startswith(v) for k, v in want.items())
                        and self.server_states(), timeout,
                        what="haproxy servers %r (log: %s)" % (want,
                                                              self.log_text()[-2000:]))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None


def fleet_config(admin_port, routes, gateway=None):
    """A gateway.conf text with "{port}" as a proxy_protocol listener."""
    lines = ["[gateway]", "listen = 127.0.0.1:{port} proxy_protocol",
             "admin_listen = 127.0.0.1:%d" % admin_port,
             "handshake_timeout = 5s"]
    for k, v in (gateway or {}).items():
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            lines.append("%s = %s" % (k, item))
    for path, keys in routes:
        lines.append("[route %s]" % path)
        for k, v in keys.items():
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                lines.append("%s = %s" % (k, item))
    return "\n".join(lines) + "\n"


def start_fleet(gateway_factory, n, routes_of, gateway=None):
    """n gateways named gw1..gwN; routes_of(i) gives gateway i's routes,
    gateway its [gateway] keys (a dict, or a function of i). Each gets
    .admin_port."""
    gws = []
    for i in range(n):
        aport = free_port()
        opts = gateway(i) if callable(gateway) else gateway
        g = gateway_factory(config_text=fleet_config(aport, routes_of(i),
                                                     opts),
                            name="gw%d" % (i + 1))
        g.admin_port = aport
        gws.append(g)
    return gws
