"""The admin endpoint (evhttp) under hostile requests: bounded request
heads and bodies, no CPU burnt on an endless header line, HEAD without a
body, 405 with Allow for other methods. admin_listen is often reachable
from a pod network: one client must not be able to get the process
OOM-killed or pin worker 0 (which also runs sessions)."""
import os
import re
import signal
import socket
import time

import pytest

from backendkit import echo_handler
from basekit import MiB, wait_for
from gatewaykit import WSGATE_RELEASE_BIN
from probekit import accepts, tcp_connections

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def make_admin(gateway_factory, backends, binary=None, gateway=None):
    echo = backends(echo_handler)
    # The admin port is picked by Gateway at each start attempt: a port
    # picked here could be taken by another process before wsgate binds.
    opts = {"admin_listen": "127.0.0.1:{admin_port}"}
    opts.update(gateway or {})
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway=opts, binary=binary)
    wait_for(lambda: accepts(g.admin_port, timeout=1), 10,
             what="the admin port to accept")
    return g


@pytest.fixture
def admin(gateway_factory, backends):
    return make_admin(gateway_factory, backends)


@pytest.fixture
def admin_release(gateway_factory, backends):
    return make_admin(gateway_factory, backends, binary=WSGATE_RELEASE_BIN)


def exchange(port, raw, timeout=10):
    """Send raw, read until the server closes; return (status line,
    headers dict, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.sendall(raw)
    data = b""
    while True:
        try:
            got = s.recv(65536)
        except ConnectionResetError:
            break
        if not got:
            break
        data += got
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def get(port, method, path):
    return exchange(port, ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close"
                           "\r\n\r\n" % (method, path)).encode())


def attack(port, head, filler, total, seconds):
    """Send head, then filler over and over (up to total bytes, for at
    most seconds). Returns (bytes of filler sent, server closed on us,
    answer bytes read)."""
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    s.sendall(head)
    s.settimeout(0.5)
    sent, closed = 0, False
    deadline = time.monotonic() + seconds
    try:
        while sent < total and time.monotonic() < deadline:
            try:
                sent += s.send(filler)
            except socket.timeout:
                continue
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    answer = b""
    s.settimeout(2)
    try:
        while True:
            got = s.recv(65536)
            if not got:
                closed = True
                break
            answer += got
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return sent, closed, answer


def test_head_answers_without_a_body(admin):
    for path in ("/metrics", "/healthz", "/readyz", "/sessions", "/nowhere",
                 "/sessions/x/1"):
        status, h, _ = get(admin.admin_port, "GET", path)
        want = int(status.split()[1])
        status, hh, body = get(admin.admin_port, "HEAD", path)
        assert int(status.split()[1]) == want, path
        assert body == b"", "HEAD %s sent a body: %r" % (path, body[:80])
        assert hh.get("content-type") == h.get("content-type"), path
        if path != "/metrics":      # counters move between the two
            assert hh.get("content-length") == h.get("content-length"), path


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS",
                                    "PATCH", "TRACE", "BREW"])
def test_other_methods_get_405_with_allow(admin, method):
    status, h, _ = get(admin.admin_port, method, "/metrics")
    assert status.startswith("HTTP/1.1 405"), status
    assert h.get("allow") == "GET, HEAD"


def test_endless_header_line_is_cut_and_burns_no_cpu(admin):
    """An endless header line: evhttp searched the whole buffer for an end
    of line on every read (quadratic) and worker 0 sat at 100 % CPU for
    as long as the client kept sending. Now the head is cut at its limit
    and the connection closed; the daemon's CPU stays small."""
    pid = admin.pid
    before = cpu_seconds(pid)
    t0 = time.monotonic()
    sent, closed, answer = attack(admin.admin_port,
                                  b"GET /metrics HTTP/1.1\r\nX-Long: ",
                                  b"a" * 65536, 48 * MiB, 6)
    wall = time.monotonic() - t0
    used = cpu_seconds(pid) - before
    assert closed, "the endless header was still being read after %d bytes" \
        % sent
    assert sent < 4 * MiB, sent
    assert used < 0.5 + 0.1 * wall, "daemon used %.2fs CPU in %.2fs" % (
        used, wall)
    assert admin.alive()
    assert get(admin.admin_port, "GET", "/healthz")[0].startswith(
        "HTTP/1.1 200")


def test_endless_request_line_is_cut(admin):
    sent, closed, _ = attack(admin.admin_port, b"GET /", b"a" * 65536,
                             48 * MiB, 6)
    assert closed and sent < 4 * MiB, sent


def test_many_header_lines_do_not_grow_memory(admin_release):
    """64 MiB of short header lines took 69 MiB of RSS."""
    g = admin_release
    base = g.rss()
    sent, closed, answer = attack(g.admin_port, b"GET /metrics HTTP/1.1\r\n",
                                  b"X-Filler: 0123456789abcdef\r\n" * 2048,
                                  64 * MiB, 8)
    growth = g.rss() - base
    assert closed and sent < 4 * MiB, sent
    assert answer.startswith(b"HTTP/1.1 4"), answer[:60]
    assert growth < 4 * MiB, "RSS grew %d bytes" % growth


def test_huge_content_length_is_refused_and_not_buffered(admin_release):
    """A 1 GB Content-Length: evhttp read the body into memory (128 MiB
    in 0.7 s before). Now 413 at once, the body is never read."""
    g = admin_release
    base = g.rss()
    sent, closed, answer = attack(
        g.admin_port,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000"
        b"\r\n\r\n", b"b" * 65536, 96 * MiB, 8)
    growth = g.rss() - base
    assert answer.startswith(b"HTTP/1.1 413"), answer[:60]
    assert closed and sent < 16 * MiB, sent
    assert growth < 4 * MiB, "RSS grew %d bytes" % growth
    assert get(g.admin_port, "GET", "/healthz")[0].startswith("HTTP/1.1 200")


def test_small_body_is_tolerated(admin):
    status, _, body = exchange(
        admin.admin_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\nContent-Length: 5\r\n\r\nhello")
    assert (status.split()[1], body) == ("200", b"ok\n")


def test_silent_connection_is_dropped(admin):
    """A client that connects and says nothing is closed by the idle
    timeout, not kept forever."""
    s = socket.create_connection(("127.0.0.1", admin.admin_port), 5)
    s.settimeout(20)
    t0 = time.monotonic()
    try:
        assert s.recv(1) == b""
    except ConnectionResetError:
        pass
    took = time.monotonic() - t0
    s.close()
    assert took < 15


def _keepalive_get(s, path="/healthz"):
    """One request on an open connection, kept open; the status code."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"ok\n"):
        got = s.recv(4096)
        assert got, "admin connection closed after %r" % data
        data += got
    return int(data.split(b" ", 2)[1])


def _refused(port):
    """True when a new admin connection is closed without an answer to
    its request (FIN or RST), False when it is answered."""
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.settimeout(10)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.close()


def _hold(port, n):
    """n admin connections, each served one request and kept open. First
    waits until wsgate has closed its side of every earlier connection
    (the readiness probes), so that those no longer count."""
    wait_for(lambda: not any(lp == port and st not in ("LISTEN", "TIME_WAIT")
                             for lp, _rp, st in tcp_connections(port)), 10,
             what="wsgate to close the earlier admin connections")
    held = []
    try:
        for _ in range(n):
            held.append(socket.create_connection(("127.0.0.1", port), 10))
            held[-1].settimeout(10)
            assert _keepalive_get(held[-1]) == 200
    except BaseException:
        for s in held:
            s.close()
        raise
    return held


def test_connections_past_admin_max_connections_are_refused(gateway_factory,
                                                            backends):
    """admin_max_connections = 4: with 4 connections open (kept alive by
    their requests), the 5th and every one after it is closed at once,
    logged once for the burst; once one of the 4 closes, a new one is
    served again."""
    g = make_admin(gateway_factory, backends,
                   gateway={"admin_max_connections": "4"})
    port = g.admin_port
    held = _hold(port, 4)
    try:
        for _ in range(20):
            assert _refused(port), "a connection past the cap was answered"
        # Those 4 are still served.
        for s in held:
            assert _keepalive_get(s) == 200
        text = g.wait_log(r"admin: .*refusing").group(0)
        assert g.log_text().count("refusing new connections") == 1, \
            g.log_tail()
        assert "admin_max_connections" in text, text
        held.pop().close()
        metrics = wait_for(lambda: _metrics_if_served(port), 20,
                           what="a new admin connection served after one "
                           "closed")
        # 3 held and the one that reads /metrics; 20 refused (and maybe
        # some of the tries to get served again).
        assert metrics["wsgate_admin_connections"] == 4, metrics
        assert metrics["wsgate_admin_connections_refused_total"] >= 20, \
            metrics
    finally:
        for s in held:
            s.close()


def _metrics_if_served(port):
    """The admin counters from /metrics on a new connection, or None when
    that connection is refused."""
    try:
        status, _, body = get(port, "GET", "/metrics")
    except (ConnectionResetError, BrokenPipeError):
        return None
    if not status.startswith("HTTP/1.1 200"):
        return None
    out = {}
    for line in body.decode().splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("wsgate_admin_"):
            out[name] = int(value)
    return out


def test_sighup_applies_a_new_admin_max_connections(gateway_factory,
                                                    backends):
    g = make_admin(gateway_factory, backends)
    port = g.admin_port
    held = _hold(port, 2)
    try:
        assert not _refused(port)       # the default cap, 64, is far
        with open(g.config_path) as f:
            text = f.read()
        with open(g.config_path, "w") as f:
            f.write(text.replace("[gateway]\n", "[gateway]\n"
                                 "admin_max_connections = 2\n", 1))
        g.send_signal(signal.SIGHUP)
        g.wait_log(r"admin: admin_max_connections 2 \(was 64\)")
        g.wait_log(r"reloaded ")
        assert _refused(port), "a third connection was served after the " \
            "reload lowered the cap to 2"
        for s in held:
            assert _keepalive_get(s) == 200
    finally:
        for s in held:
            s.close()


NOFILE = 128


def _low_nofile_admin(gateway_factory, backends, tmp_path, admin_max):
    """make_admin under RLIMIT_NOFILE NOFILE with admin_max_connections
    admin_max, one worker, no pings."""
    from faultkit import prlimit_wrapper
    from gatewaykit import WSGATE_BIN
    wrapper = prlimit_wrapper(tmp_path, WSGATE_BIN, NOFILE)
    if wrapper is None:
        pytest.skip("prlimit (util-linux) is not installed")
    return make_admin(gateway_factory, backends, binary=wrapper,
                      gateway={"admin_max_connections": str(admin_max),
                               "workers": "1", "heartbeat_interval": "0"})


def test_admin_connections_have_descriptors_when_sessions_fill_the_limit(
        gateway_factory, backends, tmp_path):
    """RLIMIT_NOFILE 128, admin_max_connections 32: sessions are admitted
    until 503 "open-files limit reached"; then all 32 admin connections
    are still served (their descriptors are kept out of the sessions'
    room), a further session still gets 503, and the open ones relay.
    Without the reserve the sessions took the descriptors the admin
    endpoint needed: its accepts failed with EMFILE (libevent's listener
    spinning on them) until idle admin connections timed out."""
    from wskit import OP_BINARY, RawWS
    g = _low_nofile_admin(gateway_factory, backends, tmp_path, 32)
    sessions = []
    try:
        while True:
            ws = RawWS.open(g.port, path="/echo", expect=None)
            if ws.status != 101:
                assert ws.status == 503, ws.head_raw
                ws.close()
                break
            sessions.append(ws)
            assert len(sessions) < NOFILE, "no 503 before the limit"
        assert len(sessions) >= 8, "only %d sessions fit" % len(sessions)
        held = _hold(g.admin_port, 32)
        try:
            for s in held:      # all 32 at once, none closed to make room
                assert _keepalive_get(s) == 200
            ws = RawWS.open(g.port, path="/echo", expect=None)
            assert ws.status == 503, ws.head_raw
            ws.close()
            for ws in sessions:
                ws.send_frame(OP_BINARY, b"x")
                assert ws.recv_frame(timeout=5).payload == b"x"
        finally:
            for s in held:
                s.close()
    finally:
        for ws in sessions:
            ws.close()
    assert "Too many open files" not in g.log_text(), g.log_tail(20)


def _fill_sessions(g, sessions, limit):
    """Open sessions on /echo until one gets 503; each one admitted must
    relay. Returns how many were opened."""
    from wskit import OP_BINARY, RawWS
    n = 0
    while True:
        ws = RawWS.open(g.port, path="/echo", expect=None, timeout=5)
        if ws.status != 101:
            assert ws.status == 503, ws.head_raw
            ws.close()
            return n
        sessions.append(ws)
        n += 1
        ws.send_frame(OP_BINARY, b"x")
        assert ws.recv_frame(timeout=5).payload == b"x", \
            "session %d admitted but not relaying" % len(sessions)
        assert len(sessions) < limit, "no 503 before the limit"


def _set_admin_max(g, n, was):
    with open(g.config_path) as f:
        text = f.read()
    text = re.sub(r"admin_max_connections = \d+",
                  "admin_max_connections = %d" % n, text)
    with open(g.config_path, "w") as f:
        f.write(text)
    g.send_signal(signal.SIGHUP)
    g.wait_log(r"admin: admin_max_connections %d \(was %d\)" % (n, was))
    g.wait_log(r"reloaded ")


def test_lowering_admin_max_connections_counts_those_open(
        gateway_factory, backends, tmp_path):
    """RLIMIT_NOFILE 128, admin_max_connections 40, 40 admin connections
    open when a SIGHUP lowers it to 1. The 40 stay (docs/LIMITS.md), so
    their descriptors stay out of the sessions' room: sessions are
    admitted until 503, every one relays, no descriptor runs out. Once
    the 40 close, the room is what the new cap leaves: more sessions fit.
    Before, the reserve became 1 + 1 at once: sessions were admitted
    into the descriptors the 40 still held, and accept() failed with
    EMFILE (listener paused, clients left waiting)."""
    g = _low_nofile_admin(gateway_factory, backends, tmp_path, 40)
    held = _hold(g.admin_port, 40)
    sessions = []
    try:
        _set_admin_max(g, 1, 40)
        first = _fill_sessions(g, sessions, NOFILE)
        assert first >= 8, "only %d sessions fit" % first
        for s in held:          # still open and served
            assert _keepalive_get(s) == 200
        for s in held:
            s.close()
        held = []
        # The room grows by the 40 - (1 + 1) descriptors held no more.
        wait_for(lambda: _metrics_if_served(g.admin_port), 20,
                 what="an admin connection served once the 40 closed")
        more = wait_for(lambda: _fill_sessions(g, sessions, NOFILE), 5,
                        what="more sessions admitted once the 40 closed")
        print("%d sessions with 40 admin connections open, %d more once "
              "they closed" % (first, more))
        assert more >= 15, "only %d more sessions once 40 admin " \
            "connections closed" % more
        assert _metrics_if_served(g.admin_port) is not None
    finally:
        for s in held:
            s.close()
        for ws in sessions:
            ws.close()
    assert "Too many open files" not in g.log_text(), g.log_tail(20)


def test_raising_admin_max_connections_takes_room_as_sessions_end(
        gateway_factory, backends, tmp_path):
    """RLIMIT_NOFILE 128, admin_max_connections 2, sessions admitted
    until 503; then a SIGHUP raises it to 32. Open sessions are not
    closed for it, so the new reserve is theirs until they end: new
    sessions get 503, and the admin connections past the descriptors
    free wait in the backlog (the admin listener pauses, as the session
    listeners do) without burning CPU. Once enough sessions end, all 32
    are served. Before, libevent's listener tried accept() again at once:
    worker 0 at 100 % CPU, a log line per try."""
    from wskit import RawWS
    g = _low_nofile_admin(gateway_factory, backends, tmp_path, 2)
    sessions, clients = [], []
    try:
        opened = _fill_sessions(g, sessions, NOFILE)
        _set_admin_max(g, 32, 2)
        ws = RawWS.open(g.port, path="/echo", expect=None, timeout=5)
        assert ws.status == 503, ws.head_raw
        ws.close()
        cpu0 = cpu_seconds(g.pid)
        for _ in range(32):
            s = socket.create_connection(("127.0.0.1", g.admin_port), 5)
            # Kept alive: those served keep their descriptors.
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(s)
        time.sleep(2)           # what the daemon does while they wait
        cpu = cpu_seconds(g.pid) - cpu0
        print("%.2f s of CPU in 2 s, %d log lines" % (
            cpu, g.log_text().count("\n")))
        assert cpu < 0.5, "%.2f s of CPU in 2 s with admin connections " \
            "waiting for descriptors" % cpu
        assert "Error from accept() call" not in g.log_text(), \
            g.log_tail(5)
        # (32 + 1) - (2 + 1) descriptors are the new cap's: 15 sessions.
        for ws in sessions[:opened // 2]:
            ws.close()
        for s in clients:
            s.settimeout(10)
            assert s.recv(12) == b"HTTP/1.1 200", \
                "an admin connection not served once sessions ended"
    finally:
        for s in clients:
            s.close()
        for ws in sessions:
            ws.close()
