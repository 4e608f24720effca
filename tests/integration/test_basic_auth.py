"""auth = basic: htpasswd files written by Debian's htpasswd (apache2-utils)
and basic_auth = user:pass (websockify's BasicHTTPAuth); hashes checked on
helper threads, never on the event loop."""
import base64
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import (RawWS, OP_BINARY, OP_PING, OP_PONG, WSGATE_BIN,
                      WSGATE_RELEASE_BIN, echo_handler, free_port,
                      http_exchange, render_config, source_handler)

HTPASSWD = shutil.which("htpasswd")
needs_htpasswd = pytest.mark.skipif(HTPASSWD is None,
                                    reason="apache2-utils (htpasswd) missing")


def htpasswd(path, user, password, *flags):
    create = [] if os.path.exists(path) else ["-c"]
    subprocess.run([HTPASSWD, "-b"] + create + list(flags)
                   + [str(path), user, password], check=True,
                   capture_output=True)
    os.chmod(path, 0o640)


def basic(user, password):
    return "Authorization: Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()


def status(port, path, headers=()):
    head, _ = RawWS.request_head(path=path, extra=list(headers))
    r = http_exchange(port, head)
    st = (r.status, r.headers.get("www-authenticate"))
    r.close()
    return st


@needs_htpasswd
def test_htpasswd_hashes_debian_writes(gateway_factory, backends, tmp_path):
    echo = backends(echo_handler)
    f = tmp_path / "htpasswd"
    htpasswd(f, "bob", "bcrypt-pw", "-B")
    htpasswd(f, "cat", "cost-pw", "-B", "-C", "7")
    htpasswd(f, "sam", "sha256-pw", "-2")
    htpasswd(f, "sue", "sha512-pw", "-5")
    g = gateway_factory(routes=[("/b", {"backend": echo.spec,
                                        "auth": "basic",
                                        "htpasswd_file": str(f)})])
    for user, pw in (("bob", "bcrypt-pw"), ("cat", "cost-pw"),
                     ("sam", "sha256-pw"), ("sue", "sha512-pw")):
        head, _ = RawWS.request_head(path="/b", extra=[basic(user, pw)])
        ws = http_exchange(g.port, head)
        assert ws.status == 101, user
        ws.send_frame(OP_BINARY, b"hi " + user.encode())
        assert ws.recv_frame(timeout=5).payload == b"hi " + user.encode()
        ws.close()
    challenge = 'Basic realm="wsgate", charset="UTF-8"'
    assert status(g.port, "/b", [basic("bob", "wrong")]) == (401, challenge)
    assert status(g.port, "/b", [basic("nobody", "x")]) == (401, challenge)
    assert status(g.port, "/b") == (401, challenge)
    assert status(g.port, "/b", ["Authorization: Basic !!!"]) == \
        (401, challenge)
    assert status(g.port, "/b", ["Authorization: Bearer abc"])[0] == 401
    assert "bcrypt-pw" not in g.log_text()


@needs_htpasswd
@pytest.mark.parametrize("flag", ["-m", "-s", "-p", "-d"])
def test_htpasswd_weak_hashes_refused_at_load(tmp_path, flag):
    f = tmp_path / "htpasswd"
    htpasswd(f, "ok", "pw", "-B")
    htpasswd(f, "weak", "pw", flag)
    conf = tmp_path / "g.conf"
    conf.write_text(render_config(free_port(), [("/b", {
        "backend": "tcp:127.0.0.1:1", "auth": "basic",
        "htpasswd_file": str(f)})]))
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "%s:2:" % f in r.stderr, r.stderr


def test_basic_auth_user_pass(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/b", {"backend": echo.spec,
                                        "auth": "basic",
                                        "basic_auth": "alice:open:sesame"})])
    head, _ = RawWS.request_head(path="/b",
                                 extra=[basic("alice", "open:sesame")])
    ws = http_exchange(g.port, head)
    assert ws.status == 101
    ws.close()
    for u, p in (("alice", "open"), ("alic", "open:sesame"),
                 ("alice", "open:sesame2"), ("bob", "x")):
        assert status(g.port, "/b", [basic(u, p)])[0] == 401, (u, p)


def test_origin_required(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/o", {
        "backend": echo.spec, "origins": "https://app.example",
        "origin_required": "on"})])
    head, _ = RawWS.request_head(path="/o", origin="https://app.example")
    ws = http_exchange(g.port, head)
    assert ws.status == 101
    ws.close()
    head, _ = RawWS.request_head(path="/o")
    r = http_exchange(g.port, head)
    assert r.status == 403
    r.close()


def ping_rtts(ws, stop, out):
    """Ping over ws until stop; append each round trip (seconds)."""
    n = 0
    while not stop.is_set():
        n += 1
        payload = b"%d" % n
        t0 = time.monotonic()
        ws.send_frame(OP_PING, payload)
        while True:
            f = ws.recv_frame(timeout=10)
            if f.opcode == OP_PONG and f.payload == payload:
                break
        out.append(time.monotonic() - t0)
        time.sleep(0.005)


def stream_rate(ws, seconds):
    """Bytes a second read from ws over about seconds."""
    got, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        got += len(ws.recv_frame(timeout=10).payload)
    return got / (time.monotonic() - t0)


@needs_htpasswd
def test_200_concurrent_logins_do_not_stall_the_loop(gateway_factory,
                                                     backends, tmp_path):
    """One worker; 200 bcrypt logins at once. Were the hashes computed on
    the event loop, the pings of another session would wait seconds
    behind them (200 x ~11 ms at cost 8) and the stream would stop."""
    echo = backends(echo_handler)
    src = backends(source_handler(1 << 40, chunk=64 * 1024, then_eof=False))
    f = tmp_path / "htpasswd"
    htpasswd(f, "user", "pw", "-B", "-C", "8")
    binary = WSGATE_RELEASE_BIN if os.path.exists(WSGATE_RELEASE_BIN) \
        else WSGATE_BIN
    g = gateway_factory(binary=binary, routes=[
        ("/login", {"backend": echo.spec, "auth": "basic",
                    "htpasswd_file": str(f)}),
        ("/echo", {"backend": echo.spec}),
        ("/stream", {"backend": src.spec})],
        gateway={"workers": "1", "handshake_timeout": "60s",
                 "max_connections_per_ip": "0"})
    pinger = RawWS.open(g.port, path="/echo")
    stream = RawWS.open(g.port, path="/stream")
    base_rate = stream_rate(stream, 1.0)
    stop, rtts = threading.Event(), []
    pt = threading.Thread(target=ping_rtts, args=(pinger, stop, rtts))
    pt.start()
    results = []
    lock = threading.Lock()
    go = threading.Barrier(201)

    def login():
        head, _ = RawWS.request_head(path="/login", extra=[basic("user", "pw")])
        s = socket.create_connection(("127.0.0.1", g.port), timeout=60)
        go.wait()
        s.sendall(head)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        with lock:
            results.append(buf.split(b"\r\n", 1)[0])
        s.close()
    threads = [threading.Thread(target=login) for _ in range(200)]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.monotonic()
    during = stream_rate(stream, 0.5)
    for t in threads:
        t.join(120)
    took = time.monotonic() - t0
    stop.set()
    pt.join(20)
    assert len(results) == 200
    assert all(r.startswith(b"HTTP/1.1 101") for r in results), \
        set(results) - {b"HTTP/1.1 101 Switching Protocols"}
    assert rtts, "no ping answered during the logins"
    worst = max(rtts)
    print("200 logins in %.2fs; ping rtt max %.1f ms over %d pings; stream "
          "%.0f MB/s before, %.0f MB/s during" % (
              took, worst * 1e3, len(rtts), base_rate / 1e6, during / 1e6))
    assert worst < 0.25, "a ping waited %.0f ms behind the logins" % (
        worst * 1e3)
    assert during > base_rate * 0.3, (base_rate, during)
    pinger.close()
    stream.close()
