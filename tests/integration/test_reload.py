"""SIGHUP: the new config is built aside and swapped in; live sessions keep
theirs, new sessions see the new routes and listeners, a broken config is
refused with file:line and the running one stays."""
import os
import re
import signal
import socket

from backendkit import echo_handler, greet_echo_handler
from basekit import wait_for
from gatewaykit import render_config
from wskit import OP_BINARY, RawWS, http_exchange


def echo_once(port, path, payload, **kw):
    ws = RawWS.open(port, path=path, **kw)
    ws.send_frame(OP_BINARY, payload)
    got = b""
    while len(got) < len(payload):
        got += ws.recv_frame(timeout=5).payload
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()
    return got


def status_of(port, path):
    head, _key = RawWS.request_head(path=path)
    r = http_exchange(port, head)
    r.close()
    return r.status


def test_reload_swaps_routes_and_keeps_live_sessions(gateway_factory,
                                                     backends, tmp_path):
    a = backends(echo_handler)
    b = backends(greet_echo_handler(b"B:"))
    g = gateway_factory(routes=[("/a", {"backend": a.spec})])
    live = RawWS.open(g.port, path="/a")
    live.send_frame(OP_BINARY, b"before")
    assert live.recv_frame(timeout=5).payload == b"before"

    sock_path = str(tmp_path / "gw.sock")
    text = render_config(g.port, [("/b", {"backend": b.spec})])
    text = text.replace("[gateway]\n", "[gateway]\nlisten = unix:%s\n"
                        % sock_path, 1)
    with open(g.config_path, "w") as f:
        f.write(text)
    g.send_signal(signal.SIGHUP)
    g.wait_log(r"reloaded .*1 routes, 2 listen addresses")

    # The live session still relays to its old backend.
    live.send_frame(OP_BINARY, b"after")
    assert live.recv_frame(timeout=5).payload == b"after"
    # New sessions: /a is gone, /b is there, on TCP and on the new socket.
    assert status_of(g.port, "/a") == 404
    assert echo_once(g.port, "/b", b"x").startswith(b"B:")
    wait_for(lambda: os.path.exists(sock_path), 5, what="unix listener")
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock_path)
    head, _ = RawWS.request_head(path="/b")
    s.sendall(head)
    assert s.recv(12).startswith(b"HTTP/1.1 101")
    s.close()
    live.send_close(1000)
    live.expect_close(1000, timeout=5)
    live.close()
    assert g.stop() == 0
    assert not os.path.exists(sock_path)


def test_broken_config_is_refused_and_the_old_one_keeps_running(
        gateway_factory, backends):
    a = backends(echo_handler)
    g = gateway_factory(routes=[("/a", {"backend": a.spec})])
    with open(g.config_path) as f:
        good = f.read()
    with open(g.config_path, "w") as f:
        f.write(good + "\n[route /c]\nbackend = tcp:127.0.0.1:0\nbogus = 1\n")
    g.send_signal(signal.SIGHUP)
    g.wait_log(r"reload: %s:\d+: " % g.config_path)
    g.wait_log(r"reload failed: still running the previous configuration")
    assert echo_once(g.port, "/a", b"still here") == b"still here"
    assert status_of(g.port, "/c") == 404
    assert g.alive()


def unix_listener_fds(pid, path):
    """How many of pid's descriptors are the socket listening on path
    (the first worker's and each other worker's duplicate of it)."""
    inodes = set()
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if len(cols) >= 8 and cols[7] == path:
                inodes.add("socket:[%s]" % cols[6])
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes:
                n += 1
        except OSError:
            pass
    return n


def test_reloads_in_a_row_share_a_unix_listener_with_every_worker(
        gateway_factory, backends, tmp_path):
    """Workers after the first accept on a duplicate of the first worker's
    Unix socket, found in its listener list: on a reload they read that
    list from their own threads while the main thread may already take
    the next reload. Three reloads (add the socket, keep it, drop it):
    every worker listens on it, then none does. Under make test-tsan the
    unlocked read of the list was reported as a data race."""
    a = backends(echo_handler)
    g = gateway_factory(routes=[("/a", {"backend": a.spec})],
                        gateway={"workers": "2"})
    sock_path = str(tmp_path / "gw.sock")
    base = render_config(g.port, [("/a", {"backend": a.spec})],
                         {"workers": "2"})
    with_unix = base.replace("[gateway]\n", "[gateway]\nlisten = unix:%s\n"
                             % sock_path, 1)
    for n, text in enumerate((with_unix, with_unix + "\n[route /b]\n"
                              "backend = %s\n" % a.spec, base), 1):
        with open(g.config_path, "w") as f:
            f.write(text)
        g.send_signal(signal.SIGHUP)
        wait_for(lambda: len(re.findall(r"reloaded ", g.log_text())) == n,
                 10, what="reload %d" % n)
        want = 2 if text is not base else 0
        wait_for(lambda: unix_listener_fds(g.proc.pid, sock_path) == want,
                 10, what=lambda: "%d descriptors on %s after reload %d, "
                 "not %d" % (unix_listener_fds(g.proc.pid, sock_path),
                             sock_path, n, want))
        if want:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(sock_path)
            head, _ = RawWS.request_head(path="/a")
            s.sendall(head)
            assert s.recv(12).startswith(b"HTTP/1.1 101")
            s.close()
    assert not os.path.exists(sock_path)
    assert "not bound by the first worker" not in g.log_text()


def _statuses(port, path, n=16):
    """Status lines of n handshakes for path sent at once, from as many
    source ports (so that every worker gets some)."""
    head, _ = RawWS.request_head(path=path)
    clients = [socket.create_connection(("127.0.0.1", port), 5)
               for _ in range(n)]
    for s in clients:
        s.sendall(head)
    got = []
    for s in clients:
        s.settimeout(5)
        got.append(s.recv(12))
        s.close()
    return got


def test_reload_is_told_done_once_every_worker_serves_it(gateway_factory,
                                                        backends, tmp_path):
    """Four workers: once the reload is told done (systemd's READY=1,
    what `systemctl reload` waits for, and the "reloaded" log line), a
    client of any worker gets the new routes. Before, both were said
    when worker 0 had switched and the others had only been asked to:
    a client that one of them accepted a moment later still got the
    old routes (404 for a route just added), more often on a busy
    machine."""
    from test_service import next_state, notify_socket
    a = backends(echo_handler)
    sock, path = notify_socket(tmp_path)
    opts = {"workers": "4"}
    g = gateway_factory(routes=[("/a", {"backend": a.spec})], gateway=opts,
                        env={"NOTIFY_SOCKET": path})
    assert next_state(sock).get("READY") == "1"
    for n in range(1, 9):
        have_b = n % 2 == 1
        routes = [("/a", {"backend": a.spec})]
        if have_b:
            routes.append(("/b", {"backend": a.spec}))
        with open(g.config_path, "w") as f:
            f.write(render_config(g.port, routes, opts))
        g.send_signal(signal.SIGHUP)
        assert next_state(sock).get("RELOADING") == "1"
        assert next_state(sock).get("STATUS") == "reloaded"
        got = _statuses(g.port, "/b")
        want = b"HTTP/1.1 101" if have_b else b"HTTP/1.1 404"
        assert got == [want] * len(got), \
            "reload %d (%s /b): %r" % (n, "with" if have_b else "without",
                                       got)
    assert len(re.findall(r"reloaded ", g.log_text())) == 8
    sock.close()


def _last_reload_routes(g):
    """Routes of the last reload told done in g's log (None: none)."""
    found = re.findall(r"reloaded [^\n]*: (\d+) routes", g.log_text())
    return int(found[-1]) if found else None


def test_sighups_in_a_row_end_on_the_last_config(gateway_factory, backends):
    """A SIGHUP while the workers still take the previous reload is not
    lost: it runs once they have (one reload at a time), and every
    worker ends on the last config."""
    a = backends(echo_handler)
    opts = {"workers": "4"}
    g = gateway_factory(routes=[("/a", {"backend": a.spec})], gateway=opts)
    g.wait_log(r"wsgate \S+ started")    # SIGHUP is caught from here on
    def write(paths):
        # Whole or not at all: a reload may read the file at any moment.
        with open(g.config_path + ".new", "w") as f:
            f.write(render_config(g.port, [(p, {"backend": a.spec})
                                           for p in paths], opts))
        os.replace(g.config_path + ".new", g.config_path)
    for _ in range(5):
        for paths in (["/a", "/b"], ["/a", "/c", "/d"]):
            write(paths)
            g.send_signal(signal.SIGHUP)
        wait_for(lambda: _last_reload_routes(g) == 3, 10,
                 what="the last reload (3 routes) told done")
        assert _statuses(g.port, "/c") == [b"HTTP/1.1 101"] * 16
        assert _statuses(g.port, "/b") == [b"HTTP/1.1 404"] * 16
        write(["/a"])
        g.send_signal(signal.SIGHUP)
        wait_for(lambda: _last_reload_routes(g) == 1, 10,
                 what="the reload back to /a told done")


def _threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def test_a_reload_during_a_soft_stop_is_told_done(gateway_factory, backends):
    """exit_after_sessions stops accepting once its session is in (a soft
    stop: that session runs on). The workers without a session end their
    loops at once, the daemon lives on, and a SIGHUP still reloads: it is
    told done, and so is the next one. Before, the reload waited for the
    ended workers to take the new config, which they never did: no
    "reloaded", and every later SIGHUP put off behind it for good."""
    a = backends(echo_handler)
    opts = {"workers": "4", "exit_after_sessions": "1"}
    g = gateway_factory(routes=[("/a", {"backend": a.spec})], gateway=opts)
    g.wait_log(r"wsgate \S+ started")
    before = _threads(g.proc.pid)
    live = RawWS.open(g.port, path="/a")
    g.wait_log(r"exit_after_sessions reached")
    # At least the two workers that neither have the session nor are
    # worker 0 (the main thread) end.
    wait_for(lambda: _threads(g.proc.pid) <= before - 2, 10,
             what="idle workers ending")
    for n, paths in enumerate((["/a", "/b"], ["/a"]), 1):
        with open(g.config_path, "w") as f:
            f.write(render_config(g.port, [(p, {"backend": a.spec})
                                           for p in paths], opts))
        g.send_signal(signal.SIGHUP)
        wait_for(lambda: len(re.findall(r"reloaded ", g.log_text())) == n,
                 10, what="reload %d told done" % n)
        assert _last_reload_routes(g) == len(paths)
    assert re.search(r"reloaded [^\n]*\(stopping: not accepting "
                     r"connections\)", g.log_text())
    live.send_frame(OP_BINARY, b"still")
    assert live.recv_frame(timeout=5).payload == b"still"
    live.send_close(1000)
    live.expect_close(1000, timeout=5)
    live.close()
    assert g.proc.wait(10) == 0         # the soft stop ends the daemon
    g.stopped = True


def test_a_sighup_while_draining_is_answered(gateway_factory, backends):
    """SIGTERM with drain_delay: the daemon is up (/readyz 503) but will
    not reload; a SIGHUP then says so instead of vanishing."""
    a = backends(echo_handler)
    g = gateway_factory(routes=[("/a", {"backend": a.spec})],
                        gateway={"drain_delay": "3s"})
    g.wait_log(r"wsgate \S+ started")
    g.send_signal(signal.SIGTERM)
    g.wait_log(r"not ready; draining in")
    g.send_signal(signal.SIGHUP)
    g.wait_log(r"SIGHUP: draining \(signal 15\), not reloading")
    assert "reloaded " not in g.log_text()
    assert g.proc.wait(10) == 0
    g.stopped = True
