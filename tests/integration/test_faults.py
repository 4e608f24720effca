"""Fault injection: backends that refuse, stay silent, never accept, reset;
clients that vanish without a FIN; slow peers on both sides; running out of
file descriptors. Each test asserts what a user would notice: the close
code and when it comes, every byte that was acknowledged arriving, both
legs gone, the daemon alive and serving afterwards.

Network-namespace tests need root and iproute2; they skip with the reason
otherwise. The fd-exhaustion test needs prlimit (util-linux).
"""

import hashlib
import json
import queue
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from backendkit import (Blackhole, close_quietly, echo_handler,
                        record_handler, source_handler, source_stream_hash)
from basekit import (MiB, closed_port, free_port, pattern_bytes, sha256,
                     wait_for)
from gatewaykit import WSGATE_BIN, WSGATE_RELEASE_BIN
from probekit import connected_to, segments_in_flight, tcp_gone
from wskit import (ConnectionEOF, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING,
                   OP_PONG, RawWS, build_frame)
import faultkit
from faultkit import (NetNS, acked_rst_handler, deaf_until_go_handler,
                      fd_count, netns_unavailable, prlimit_wrapper,
                      slow_echo_handler, ticker_echo_handler)

SLACK = 1.0     # scheduling slack on top of a configured bound (ASan build)


def _line(g, route, timeout=5.0):
    """The one session-end line for route (waits for it)."""
    lines = g.wait_session_lines(1, route=route, timeout=timeout)
    assert len(lines) == 1, "expected one session line, got:\n%s" % "\n".join(
        l["_line"] for l in lines)
    return lines[0]


def _finish(ws, code=1000):
    """Answer the gateway's close (it waits for our reply) and see EOF."""
    try:
        ws.send_close(code)
    except OSError:
        pass
    ws.wait_eof(timeout=15)
    ws.close()


# ------------------------------------------------------------ backend refuses

def test_backend_refuses_1014_at_once_and_logged(gateway_factory):
    port = closed_port()
    g = gateway_factory(routes=[("/x", {"backend": "tcp:127.0.0.1:%d" % port})])
    t0 = time.monotonic()
    ws = RawWS.open(g.port, path="/x")
    f = ws.expect_close(1014, timeout=5)
    took = time.monotonic() - t0
    assert took < 1.0, "refused connect took %.2fs to report" % took
    assert f.close_reason.startswith("bad gateway"), f.close_reason
    assert "refused" in f.close_reason.lower(), f.close_reason
    _finish(ws)
    line = _line(g, "/x")
    assert line["code"] == "1014" and line["backend"] == "tcp:127.0.0.1:%d" % port
    assert line["up"] == "0" and line["down"] == "0"
    assert g.alive()


def test_backend_refuses_fails_over_with_client_bytes_intact(gateway_factory, backends):
    """First backend refuses, second echoes: the client never notices, and
    what it sent before the failover arrives once, in order."""
    echo = backends(echo_handler)
    dead = "tcp:127.0.0.1:%d" % closed_port()
    g = gateway_factory(routes=[("/x", {"backend": [dead, echo.spec]})],
                        gateway={"workers": 1})
    payload = pattern_bytes(200_000, seed=1)
    frames = b"".join(build_frame(OP_BINARY, payload[i:i + 50_000])
                      for i in range(0, len(payload), 50_000))
    ws = RawWS.open(g.port, path="/x", trailing=frames)   # pipelined with the head
    got = bytearray()
    while len(got) < len(payload):
        f = ws.recv_frame(timeout=5)
        assert f.opcode in (OP_BINARY, OP_CONT), f
        got += f.payload
    assert sha256(bytes(got)) == sha256(payload)
    ws.send_close(1000)
    ws.expect_close(1000)
    ws.close()
    assert re.search(r"backend %s: .*refused" % re.escape(dead), g.log_text(), re.I), \
        "the refused attempt is not logged"
    line = _line(g, "/x")
    assert line["backend"] == echo.spec and line["up"] == str(len(payload))


def test_all_backends_refuse_1014(gateway_factory, unix_dir):
    dead_tcp = "tcp:127.0.0.1:%d" % closed_port()
    dead_unix = "unix:%s/none.sock" % unix_dir
    g = gateway_factory(routes=[("/x", {"backend": [dead_tcp, dead_unix]})])
    ws = RawWS.open(g.port, path="/x")
    f = ws.expect_close(1014, timeout=5)
    assert f.close_reason.startswith("bad gateway")
    _finish(ws)
    log = g.log_text()
    assert dead_tcp in log and dead_unix in log, "not every attempt is logged"
    assert _line(g, "/x")["code"] == "1014"


# ----------------------------------------------- backend accepts, never answers

def test_silent_backend_session_works_and_close_reaches_backend(gateway_factory, backends):
    """The backend reads but never writes: the session stays up (pings,
    heartbeats), nothing comes down, every byte goes up, and the client's
    close gives the backend its EOF."""
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec,
                                        "heartbeat_interval": "500ms",
                                        "heartbeat_timeout": "500ms"})])
    ws = RawWS.open(g.port, path="/x")
    conn = rec.wait_conn(0)
    payload = pattern_bytes(300_000, seed=2)
    for i in range(0, len(payload), 100_000):
        ws.send_frame(OP_BINARY, payload[i:i + 100_000])
    ws.send_frame(OP_PING, b"alive?")
    pongs, end = [], time.monotonic() + 2.0     # 4 heartbeat periods
    while time.monotonic() < end:
        try:
            f = ws.recv_frame(timeout=max(0.05, end - time.monotonic()))
        except socket.timeout:
            break
        assert f.opcode in (OP_PING, OP_PONG), "unexpected frame %r" % (f,)
        if f.opcode == OP_PING:
            ws.send_frame(OP_PONG, f.payload)
        else:
            pongs.append(f.payload)
    assert pongs == [b"alive?"]
    wait_for(lambda: conn.nreceived == len(payload), 5,
             what="all %d bytes at the backend" % len(payload))
    assert not conn.eof.is_set(), "backend lost its connection while silent"
    ws.send_close(1000)
    ws.expect_close(1000, timeout=3)
    conn.wait_eof(3)
    assert not conn.reset, "backend got a reset instead of an EOF"
    assert sha256(bytes(conn.received)) == sha256(payload)
    ws.wait_eof(timeout=3)
    ws.close()
    line = _line(g, "/x")
    assert (line["code"], line["up"], line["down"]) == ("1000", str(len(payload)), "0")


def test_deaf_backend_gets_queued_bytes_after_client_close(gateway_factory, backends):
    """The backend reads nothing while the client sends 512 KiB and closes:
    the client's close is answered at once; when the backend starts
    reading it gets all of it, then EOF."""
    deaf = backends(deaf_until_go_handler)
    g = gateway_factory(routes=[("/x", {"backend": deaf.spec})])
    ws = RawWS.open(g.port, path="/x")
    conn = deaf.wait_conn(0)
    payload = pattern_bytes(512 * 1024, seed=3)
    for i in range(0, len(payload), 64 * 1024):
        ws.send_frame(OP_BINARY, payload[i:i + 64 * 1024])
    ws.send_close(1000)
    t0 = time.monotonic()
    ws.expect_close(1000, timeout=3)
    assert time.monotonic() - t0 < 1.0, "close echo waited for the backend"
    ws.wait_eof(timeout=3)
    here = ws.sock.getsockname()[1]
    ws.close()
    wait_for(lambda: tcp_gone(g.port, here), 5,
             what="the client's connection closed both ways")
    conn.go.set()
    conn.wait_eof(8)
    assert conn.nreceived == len(payload), "backend got %d of %d bytes" % (
        conn.nreceived, len(payload))
    assert sha256(bytes(conn.received)) == sha256(payload)
    assert not conn.reset
    assert _line(g, "/x")["up"] == str(len(payload))


# -------------------------------------------- backend connect never completes

def _expect_connect_timeout(g, path, timeout_s):
    ws = RawWS.open(g.port, path=path)
    t0 = time.monotonic()
    ws.send_frame(OP_BINARY, b"sent while connecting")
    f = ws.expect_close(1014, timeout=timeout_s + 5)
    took = time.monotonic() - t0
    assert timeout_s - 0.2 <= took <= timeout_s + SLACK, \
        "1014 after %.2fs with connect_timeout %.1fs" % (took, timeout_s)
    assert "connect timeout" in f.close_reason, f.close_reason
    _finish(ws)
    line = _line(g, path)
    assert line["code"] == "1014" and "connect timeout" in line["_line"]


def test_connect_never_completes_full_accept_queue_1014(gateway_factory):
    hole = Blackhole()
    try:
        g = gateway_factory(routes=[("/x", {"backend": hole.spec,
                                            "connect_timeout": "1500ms"})])
        _expect_connect_timeout(g, "/x", 1.5)
    finally:
        hole.close()


def test_connect_never_completes_netns_drops_syns_1014(gateway_factory):
    why = netns_unavailable()
    if why:
        pytest.skip(why)
    ns = NetNS()
    try:
        ns.pin_neighbour()          # no ARP failure to end it early
        ns.link_down()              # SYNs toward the namespace vanish
        g = gateway_factory(routes=[("/x", {"backend": "tcp:%s:%d" % (ns.ns_ip, 9),
                                            "connect_timeout": "1s"})])
        _expect_connect_timeout(g, "/x", 1.0)
    finally:
        ns.close()


def test_connect_timeout_fails_over_with_client_bytes_intact(gateway_factory, backends):
    """A dead first backend costs connect_timeout, then the next one serves
    the session with every byte the client sent meanwhile, in order."""
    hole = Blackhole()
    echo = backends(echo_handler)
    try:
        g = gateway_factory(routes=[("/x", {"backend": [hole.spec, echo.spec],
                                            "connect_timeout": "1s"})],
                            gateway={"workers": 1})
        ws = RawWS.open(g.port, path="/x")      # first session: hole first
        t0 = time.monotonic()
        payload = pattern_bytes(100_000, seed=4)
        for i in range(0, len(payload), 10_000):
            ws.send_frame(OP_BINARY, payload[i:i + 10_000])
        got = bytearray()
        while len(got) < len(payload):
            f = ws.recv_frame(timeout=5)
            if not got:
                first = time.monotonic() - t0
            assert f.opcode in (OP_BINARY, OP_CONT), f
            got += f.payload
        assert 0.8 <= first <= 1.0 + SLACK, "first echo after %.2fs" % first
        assert sha256(bytes(got)) == sha256(payload)
        ws.send_close(1000)
        ws.expect_close(1000)
        ws.close()
        assert "connect timeout" in g.log_text()
        assert _line(g, "/x")["backend"] == echo.spec
    finally:
        hole.close()


# ------------------------------------------------- backend resets mid-stream

def fill_then_rst_handler(block=64 * 1024, still=0.5):
    """Send until the gateway stops taking bytes for `still` seconds, note
    how many of them its kernel acknowledged, then reset."""
    def handler(c, stop):
        data = pattern_bytes(block, seed=7)
        c.sock.setblocking(False)
        idle_since = None
        while not stop.is_set():
            try:
                n = c.sock.send(data)
                c.nsent += n
                data = data[n:] + data[:n]
                idle_since = None
            except BlockingIOError:
                if idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > still:
                    break
                select.select([], [c.sock], [], 0.05)
        wait_for(lambda: segments_in_flight(c.sock) == 0, 10,
                 what="the gateway's kernel to ack every segment sent")
        c.acked_bytes = c.nsent - faultkit.unacked(c.sock)
        faultkit.rst(c.sock)
    return handler


def test_backend_reset_all_acked_bytes_then_1014(gateway_factory, backends):
    data = pattern_bytes(1 * MiB, seed=5)
    be = backends(acked_rst_handler(data))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/x")
    got, f = ws.recv_until_close(timeout=10)
    conn = be.wait_conn(0)
    assert conn.acked, "the gateway never acknowledged the backend's bytes"
    assert len(got) == len(data) and sha256(got) == sha256(data), \
        "client got %d of %d bytes before the close" % (len(got), len(data))
    assert f is not None and f.close_code == 1014, f
    assert "reset" in f.close_reason.lower(), f.close_reason
    _finish(ws)
    line = _line(g, "/x")
    assert line["code"] == "1014" and line["down"] == str(len(data))


def test_backend_reset_while_gateway_holds_data_for_slow_client(gateway_factory, backends):
    """The client reads nothing until the backend has filled every buffer
    on the way and reset: every byte the gateway acknowledged still
    reaches the client, in order, before the 1014."""
    be = backends(fill_then_rst_handler())
    g = gateway_factory(routes=[("/x", {"backend": be.spec,
                                        "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/x", rcvbuf=32 * 1024)
    conn = be.wait_conn(0)
    assert conn.done.wait(20), "backend never stalled"
    assert conn.error is None, conn.error
    wait_for(lambda: not connected_to(be.port), 10,
             what="the backend's reset to reach the gateway")
    h = hashlib.sha256()
    n = [0]

    def on_data(b):
        h.update(b)
        n[0] += len(b)
    _, f = ws.recv_until_close(timeout=20, on_data=on_data)
    print("backend sent %d, gateway acked %d, client got %d"
          % (conn.nsent, conn.acked_bytes, n[0]))
    assert conn.acked_bytes > 256 * 1024, "the gateway took too little to test"
    assert n[0] == conn.acked_bytes, \
        "client got %d bytes; the gateway had acknowledged %d" % (n[0], conn.acked_bytes)
    want = hashlib.sha256()
    block = pattern_bytes(64 * 1024, seed=7)
    reps, rest = divmod(conn.acked_bytes, len(block))
    for _ in range(reps):
        want.update(block)
    want.update(block[:rest])
    assert h.hexdigest() == want.hexdigest(), "bytes reordered or corrupted"
    assert f is not None and f.close_code == 1014, f
    _finish(ws)


# -------------------------------------------- client vanishes without a FIN

def test_client_vanishes_without_fin_both_legs_gone(gateway_factory, backends):
    """A client in another network namespace loses its link (no FIN, no
    RST ever arrives) while the backend keeps writing toward it: both legs
    are gone within heartbeat_interval + heartbeat_timeout + 1 s, and the
    gateway's descriptors return to where they were."""
    why = netns_unavailable()
    if why:
        pytest.skip(why)
    interval, timeout = 1.0, 1.0
    ns = NetNS()
    try:
        be = backends(ticker_echo_handler())
        port2 = free_port()
        g = gateway_factory(routes=[("/t", {"backend": be.spec,
                                            "heartbeat_interval": "1s",
                                            "heartbeat_timeout": "1s"})],
                            gateway={"listen": "%s:%d" % (ns.host_ip, port2)})
        fds0 = fd_count(g.pid)
        cli = ns.popen([sys.executable, faultkit.__file__, "netns-client",
                        ns.host_ip, str(port2), "/t"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l.decode().strip())
                                         for l in cli.stdout], daemon=True).start()

        def next_line(t):
            try:
                return lines.get(timeout=t)
            except queue.Empty:
                return None
        assert next_line(30) == "READY", "namespace client did not get going"
        conn = be.wait_conn(0)
        # alive and answering: the session survives two heartbeat cycles
        end, pings = time.monotonic() + 2 * (interval + timeout) + 0.5, 0
        while time.monotonic() < end:
            l = next_line(max(0.05, end - time.monotonic()))
            if l == "PING":
                pings += 1
            elif l is not None:
                raise AssertionError("client: %s" % l)
        assert pings >= 2, "client saw %d pings in %.1fs" % (pings, 2 * (interval + timeout))
        assert not conn.eof.is_set(), "session ended while the client was alive"

        t0 = time.monotonic()
        ns.pin_neighbour()
        ns.link_down()
        bound = interval + timeout + 1.0
        conn.wait_eof(bound + 2)
        took = conn.eof_at - t0
        assert took <= bound, "backend leg gone %.2fs after the link went down " \
            "(bound %.1fs)" % (took, bound)
        line = _line(g, "/t", timeout=10)
        assert "heartbeat timeout" in line["_line"], line["_line"]
        # the client's socket is closed too, not just the backend's
        wait_for(lambda: fd_count(g.pid) <= fds0, 15,
                 what=lambda: "gateway to hold at most %d fds (as before the "
                 "session), holds %d" % (fds0, fd_count(g.pid)))
        # and it still serves
        ws = RawWS.open(g.port, path="/t")
        ws.send_frame(OP_BINARY, b"after")
        got = b""
        while b"after" not in got:
            got += ws.recv_frame(timeout=5).payload
        ws.abort()
    finally:
        ns.close()


# ------------------------------------------------------------- slow peers

class DuplexClient:
    """A raw client that writes frames from one thread and reads slowly in
    another (small reads, sleeps), answering pings through the writer so
    the two never interleave on the socket."""

    def __init__(self, ws, read_chunk=2048, read_delay=0.002):
        self.ws = ws
        self.read_chunk, self.read_delay = read_chunk, read_delay
        self.pongs = queue.Queue()
        self.rx = hashlib.sha256()
        self.nrx = 0
        self.pings = 0
        self.close = None
        self.error = None
        self.done = threading.Event()
        ws.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        try:
            buf = self.ws.buf
            while True:
                time.sleep(self.read_delay)
                r, _, _ = select.select([self.ws.sock], [], [], 20)
                if not r:
                    raise AssertionError("nothing to read for 20s")
                chunk = self.ws.sock.recv(self.read_chunk)
                if not chunk:
                    break
                buf += chunk
                while True:
                    f = self.ws._parse()
                    if f is None:
                        break
                    if f.opcode == OP_PING:
                        self.pings += 1
                        self.pongs.put(f.payload)
                    elif f.opcode == OP_CLOSE:
                        self.close = f
                        return
                    elif f.opcode in (OP_BINARY, OP_CONT):
                        self.rx.update(f.payload)
                        self.nrx += len(f.payload)
        except Exception as e:
            self.error = e
        finally:
            self.done.set()

    def _send(self, frame):
        while True:     # pongs first, one frame at a time
            try:
                p = self.pongs.get_nowait()
            except queue.Empty:
                break
            self.ws.sock.sendall(build_frame(OP_PONG, p))
        if frame:
            self.ws.sock.sendall(frame)

    def write(self, payload, frame_size):
        for i in range(0, len(payload), frame_size):
            self._send(build_frame(OP_BINARY, payload[i:i + frame_size]))

    def serve_pongs_until(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred():
            if self.done.is_set() or time.monotonic() > deadline:
                return pred()
            self._send(None)
            time.sleep(0.01)
        return True


def test_slow_client_and_slow_backend_sha256_intact(gateway_factory, backends):
    """Both peers read a few KiB at a time with pauses, with heartbeats on:
    every byte comes back intact and in order, nobody is declared dead."""
    total = int(1.5 * MiB)
    be = backends(slow_echo_handler(chunk=1024, delay=0.002), keep=False)
    g = gateway_factory(routes=[("/x", {"backend": be.spec,
                                        "heartbeat_interval": "500ms",
                                        "heartbeat_timeout": "500ms"})],
                        gateway={"max_buffer": "64K"})
    ws = RawWS.open(g.port, path="/x", rcvbuf=8192, timeout=30)
    c = DuplexClient(ws, read_chunk=3000, read_delay=0.002)
    payload = pattern_bytes(total, seed=6)
    t0 = time.monotonic()
    c.write(payload, 7001)
    assert c.serve_pongs_until(lambda: c.nrx >= total, 40), \
        "echoed %d of %d bytes (error %r)" % (c.nrx, total, c.error)
    took = time.monotonic() - t0
    assert c.rx.hexdigest() == sha256(payload)
    c._send(build_frame(OP_CLOSE, b"\x03\xe8"))
    assert c.done.wait(5) and c.close is not None and c.close.close_code == 1000, \
        "no close echo (error %r)" % (c.error,)
    ws.close()
    conn = be.wait_conn(0)
    conn.wait_eof(5)
    assert conn.nreceived == total
    print("1.5 MiB echoed through two slow peers in %.1fs, %d pings" % (took, c.pings))
    assert "heartbeat timeout" not in g.log_text()
    line = _line(g, "/x")
    assert line["up"] == line["down"] == str(total)


def endless_source_handler(block=64 * 1024):
    """Stream pattern_bytes(block) forever, as fast as the gateway takes it."""
    def handler(c, stop):
        data = pattern_bytes(block, seed=8)
        while not stop.is_set() and not c.eof.is_set():
            if not c.send_all(data, stop):
                break
        close_quietly(c.sock)
    return handler


def test_slow_reader_answering_pings_is_not_declared_dead(gateway_factory, backends):
    """A client that reads steadily (~200 KB/s) and answers every ping while
    the backend streams without pause: heartbeats (1 s, 2 s) must not call it
    dead, although the ping waits behind everything the gateway buffered
    for it (MBs on loopback). (Regression guard: found and fixed here.)"""
    src = backends(endless_source_handler(), keep=False)
    g = gateway_factory(routes=[("/src", {"backend": src.spec,
                                          "heartbeat_interval": "1s",
                                          "heartbeat_timeout": "2s"})])
    ws = RawWS.open(g.port, path="/src", rcvbuf=16384, timeout=30)
    c = DuplexClient(ws, read_chunk=2048, read_delay=0.01)
    c.serve_pongs_until(lambda: c.done.is_set(), 5.0)
    alive = not c.done.is_set()
    # Read the reader's error before aborting: the abort closes the socket
    # under its select(), which is our doing, not the gateway's.
    error = c.error
    ws.abort()
    assert "heartbeat timeout" not in g.log_text(), \
        "a client reading at ~%d KB/s was declared dead after %d bytes" % (
            c.nrx / 5.0 / 1000, c.nrx)
    assert alive and error is None, error


def _session_states(admin_port):
    """States of the live sessions, from the admin endpoint's /sessions."""
    with urllib.request.urlopen("http://127.0.0.1:%d/sessions" % admin_port,
                                timeout=5) as r:
        return [x["state"] for x in json.loads(r.read())["sessions"]]


def test_slow_reader_gets_every_byte_after_backend_eof(gateway_factory, backends):
    """The backend sends 4 MiB and closes while the gateway still holds
    ~128-256 KiB for a client that reads steadily but slowly (5 KB/s) for
    12 s: the client must still get every byte, then close 1000: the
    closing linger must not cut a client that keeps reading. (Regression
    guard: found and fixed here.)"""
    total = 4 * MiB
    src = backends(source_handler(total), keep=False)
    g = gateway_factory(routes=[("/src", {"backend": src.spec,
                                          "heartbeat_interval": "0"})],
                        gateway={"admin_listen": "127.0.0.1:{admin_port}"})
    aport = g.admin_port
    ws = RawWS.open(g.port, path="/src", rcvbuf=16384, timeout=30)
    src.wait_conn(0)
    ws.sock.settimeout(5)
    raw = bytearray(ws.buf)
    # small steps until the gateway has read the backend's EOF (the session
    # turns "closing"; the backend's own EOF waits for the client's close
    # reply): its buffers are full at that point
    deadline = time.monotonic() + 20
    next_look = 0
    while True:
        if time.monotonic() >= next_look:
            if _session_states(aport) == ["closing"]:
                break
            next_look = time.monotonic() + 0.1
        assert time.monotonic() < deadline, "the gateway never read the EOF"
        raw += ws.sock.recv(16384)
        time.sleep(0.002)
    slow_until = time.monotonic() + 12
    while time.monotonic() < slow_until:
        chunk = ws.sock.recv(512)
        if not chunk:
            break
        raw += chunk
        time.sleep(0.1)
    ws.buf = raw
    got, f = ws.recv_until_close(timeout=20)
    ws.close()
    assert len(got) == total and f is not None and f.close_code == 1000, \
        "a slow client got %d of %d bytes and %s" % (
            len(got), total, "close %d" % f.close_code if f else "no close frame")
    assert sha256(got) == source_stream_hash(total)


def test_ping_flood_from_a_client_that_never_reads_is_bounded(gateway_factory, backends):
    """A client sends pings as fast as it can and never reads the pongs:
    the gateway must stop reading it rather than queue pongs without end
    (release binary, for honest RSS figures)."""
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/x", {"backend": echo.spec,
                                        "heartbeat_interval": "0"})],
                        binary=WSGATE_RELEASE_BIN)
    ws = RawWS.open(g.port, path="/x", rcvbuf=4096)
    echo.wait_conn(0)
    g.wait_idle()                   # the session is set up
    base = g.rss()
    blob = build_frame(OP_PING, b"p" * 125) * 1000
    s = ws.sock
    s.setblocking(False)
    sent, view, last = 0, memoryview(b""), time.monotonic()
    deadline = last + 20
    while sent < 256 * MiB and time.monotonic() < deadline:
        if not view:
            view = memoryview(blob)
        try:
            k = s.send(view)
            view, sent, last = view[k:], sent + k, time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last > 1.5:
                break       # the gateway stopped taking pings
            select.select([], [s], [], 0.01)
    g.wait_idle()                   # it has handled all it took from us
    growth = g.rss() - base
    print("client pushed %.1f MiB of pings; RSS +%d KiB" % (sent / MiB, growth // 1024))
    assert sent < 256 * MiB, "the gateway kept reading pings it could not answer"
    assert growth < 8 * MiB, "RSS grew by %.1f MiB of queued pongs" % (growth / MiB)
    assert g.alive()
    ws.abort()


# ---------------------------------------------------------- fd exhaustion

NOFILE = 64


def _fd_client(port, outcome, release, i):
    """One client of the stampede: record what happened to it."""
    # Deadlines are generous: a client past the first wave waits in the
    # accept queue until the first wave is released, which on a loaded
    # machine can take a while; "timeout" fails the test.
    try:
        ws = RawWS(port, timeout=60)
        head, _ = RawWS.request_head(path="/echo")
        ws.send(head)
        try:
            st = ws.read_head(timeout=60)
        except ConnectionEOF:
            outcome[i] = "eof before answer"
            return
        if st != 101:
            outcome[i] = "http %d" % st
            ws.close()
            return
        ws.send_frame(OP_BINARY, b"n%d" % i)
        f = ws.recv_frame(timeout=30)
        if f.opcode == OP_CLOSE:
            outcome[i] = "close %s" % f.close_code
            _finish(ws)
            return
        assert f.payload == b"n%d" % i, f
        outcome[i] = "echo"
        release.wait(60)
        ws.send_close(1000)
        ws.expect_close(1000, timeout=30)
        ws.close()
    except socket.timeout:
        outcome[i] = "timeout"
    except Exception as e:
        outcome[i] = "error %r" % e


def _stampede(g, n, first_wave):
    """n clients at once; first_wave() waits until the gateway is full.
    Those served hold on until then; the rest are served in turn."""
    outcome = [None] * n
    release = threading.Event()
    threads = [threading.Thread(target=_fd_client, args=(g.port, outcome, release, i),
                                daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    first_wave()
    wait_for(lambda: sum(o is not None for o in outcome) >= 8, 30,
             what="the first sessions")
    wait_for(lambda: "echo" in outcome, 30,
             what="a session served while the gateway is full")
    g.wait_idle(30)                 # the first wave settled, the gateway full
    assert g.alive(), "wsgate died out of descriptors:\n" + g.log_tail()
    first = [o for o in outcome if o is not None]
    print("first wave (%d fds): %s" % (fd_count(g.pid),
                                       {k: first.count(k) for k in set(first)}))
    release.set()
    for t in threads:
        t.join(120)
    print("outcomes:", {k: outcome.count(k) for k in set(outcome)})
    return outcome


def _serves_again(g, fds0):
    wait_for(lambda: fd_count(g.pid) <= fds0, 30,
             what=lambda: "gateway to hold at most %d fds (as before the "
             "stampede), holds %d" % (fds0, fd_count(g.pid)))
    ws = RawWS.open(g.port, path="/echo")
    ws.send_frame(OP_BINARY, b"afterwards")
    assert ws.recv_frame(timeout=5).payload == b"afterwards"
    ws.send_close(1000)
    ws.expect_close(1000)
    ws.close()


def test_low_open_files_limit_caps_sessions_with_503(gateway_factory, backends, tmp_path):
    """Started with RLIMIT_NOFILE 64 (soft and hard: the daemon raises its
    soft limit to the hard one), 64 clients at once: as many as fit are
    served, the rest get 503 (never a 1014 blaming a healthy backend),
    nobody hangs, and service resumes."""
    wrapper = prlimit_wrapper(tmp_path, WSGATE_BIN, NOFILE)
    if wrapper is None:
        pytest.skip("prlimit (util-linux) is not installed")
    echo = backends(echo_handler, keep=False)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec,
                                           "heartbeat_interval": "0"})],
                        gateway={"workers": 1}, binary=wrapper)
    with open("/proc/%d/limits" % g.pid) as f:
        lim = [l for l in f if l.startswith("Max open files")][0].split()
    assert lim[3:5] == [str(NOFILE), str(NOFILE)], lim
    fds0 = fd_count(g.pid)
    outcome = _stampede(g, NOFILE, lambda: g.wait_log(
        r"open-files limit|Too many open files", timeout=30))
    final = {k: outcome.count(k) for k in set(outcome)}
    assert set(outcome) <= {"echo", "http 503", "close 1013"}, \
        "clients left hanging, broken, or told the backend failed: %s" % final
    assert outcome.count("echo") >= 8, final
    assert fd_count(g.pid) <= NOFILE
    _serves_again(g, fds0)


def test_fd_exhaustion_at_runtime_pauses_listener_and_recovers(gateway_factory, backends):
    """The open-files limit drops under the daemon while it runs (another
    part of the process took them, an operator's prlimit): accept fails
    with EMFILE and the listener pauses and says so; clients are served,
    wait, or get 503 or 1013 "try again later" (never a crash, never a 1014
    for a healthy backend, nobody left hanging); afterwards service
    resumes and the descriptors come back."""
    exe = shutil.which("prlimit")
    if exe is None:
        pytest.skip("prlimit (util-linux) is not installed")
    echo = backends(echo_handler, keep=False)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec,
                                           "heartbeat_interval": "0"})],
                        gateway={"workers": 1})
    fds0 = fd_count(g.pid)
    limit = fds0 + 24              # room for about a dozen sessions
    subprocess.run([exe, "--pid", str(g.pid), "--nofile=%d:%d" % (limit, limit)],
                   check=True, timeout=10)
    outcome = _stampede(g, 40, lambda: g.wait_log(
        r"accept: Too many open files; pausing", timeout=30))
    final = {k: outcome.count(k) for k in set(outcome)}
    assert set(outcome) <= {"echo", "http 503", "close 1013"}, \
        "clients left hanging, broken, or told the backend failed: %s" % final
    assert outcome.count("echo") >= 4, final
    _serves_again(g, fds0)
