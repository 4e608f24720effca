"""Backpressure keeps memory bounded (release binary: ASan's shadow and
quarantine would swamp the figures)."""

import hashlib
import os
import select
import time

import pytest

from backendkit import (echo_handler, read_nothing_handler, source_handler,
                        source_stream_hash)
from basekit import MiB, raise_nofile_limit, wait_for
from gatewaykit import WSGATE_RELEASE_BIN
from probekit import connecting_to
from wskit import OP_BINARY, RawWS, build_frame

TOTAL = 100 * MiB
GROWTH_LIMIT = 8 * MiB


@pytest.fixture
def release_gateway(gateway_factory):
    def make(routes):
        return gateway_factory(routes=routes, binary=WSGATE_RELEASE_BIN,
                               gateway={"max_buffer": "256K"})
    return make


def test_client_never_reads_backend_streams_100mib(release_gateway, backends):
    src = backends(source_handler(TOTAL, wait_go=True), keep=False)
    g = release_gateway([("/src", {"backend": src.spec,
                                   "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/src", timeout=30)
    conn = src.wait_conn(0)
    g.wait_idle()                   # the session is set up
    base = g.rss()
    conn.go.set()
    # the backend pushes until backpressure stops it; sample RSS meanwhile
    peak = base
    last, still_since = -1, None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.05)
        peak = max(peak, g.rss())
        if conn.nsent != last:
            last, still_since = conn.nsent, time.monotonic()
        elif time.monotonic() - still_since > 1.0:
            break
    sent_while_stalled = conn.nsent
    peak = max(peak, g.rss())
    growth = peak - base
    print("backend sent %.1f MiB to a non-reader; RSS %d -> %d KiB (+%d KiB)"
          % (sent_while_stalled / MiB, base // 1024, peak // 1024, growth // 1024))
    assert sent_while_stalled < TOTAL, \
        "gateway took all %d MiB from the backend while the client read nothing" % (TOTAL // MiB)
    assert growth < GROWTH_LIMIT, "RSS grew by %.1f MiB" % (growth / MiB)

    # now read everything: the flow resumes and nothing was lost
    h = hashlib.sha256()
    n = [0]

    def on_data(b):
        nonlocal peak
        h.update(b)
        n[0] += len(b)
        if n[0] % (8 * MiB) < len(b):
            peak = max(peak, g.rss())
    _, f = ws.recv_until_close(timeout=60, on_data=on_data)
    assert n[0] == TOTAL
    assert h.hexdigest() == source_stream_hash(TOTAL)
    assert f is not None and f.close_code == 1000
    assert peak - base < GROWTH_LIMIT, "RSS grew by %.1f MiB while draining" % (
        (peak - base) / MiB)
    ws.close()


def test_backend_never_reads_client_streams_100mib(release_gateway, backends):
    sink = backends(read_nothing_handler)
    g = release_gateway([("/sink", {"backend": sink.spec,
                                    "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/sink", timeout=10)
    sink.wait_conn(0)
    g.wait_idle()                   # the session is set up
    base = g.rss()
    frame = build_frame(OP_BINARY, os.urandom(64 * 1024))
    s = ws.sock
    s.setblocking(False)
    sent = 0
    peak = base
    view = memoryview(b"")
    last_progress = time.monotonic()
    deadline = time.monotonic() + 10
    next_sample = 0
    while sent < TOTAL and time.monotonic() < deadline:
        if not view:
            view = memoryview(frame)
        try:
            k = s.send(view)
            view = view[k:]
            sent += k
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress > 1.5:
                break       # blocked for good: backpressure reached us
            select.select([], [s], [], 0.01)
        now = time.monotonic()
        if now >= next_sample:
            peak = max(peak, g.rss())
            next_sample = now + 0.05
    blocked = sent < TOTAL
    g.wait_idle()                   # it has handled all it took from us
    peak = max(peak, g.rss())
    growth = peak - base
    print("client pushed %.1f MiB toward a non-reading backend; RSS %d -> %d KiB (+%d KiB)"
          % (sent / MiB, base // 1024, peak // 1024, growth // 1024))
    assert sent > 1 * MiB, "the gateway accepted almost nothing (%d bytes)" % sent
    assert blocked, "the client wrote all %d MiB to a backend that reads nothing" % (
        TOTAL // MiB)
    assert growth < GROWTH_LIMIT, "RSS grew by %.1f MiB" % (growth / MiB)
    assert g.alive()
    ws.abort()


def push_until_blocked(g, sock, blob, limit=TOTAL, seconds=10, stall=1.5):
    """Write blob repeatedly on a non-blocking socket until limit bytes,
    seconds pass, or the socket stays blocked for stall seconds. Samples
    the gateway's RSS. Returns (bytes sent, peak RSS)."""
    sock.setblocking(False)
    sent = 0
    peak = g.rss()
    view = memoryview(b"")
    last_progress = time.monotonic()
    deadline = time.monotonic() + seconds
    next_sample = 0
    while sent < limit and time.monotonic() < deadline:
        if not view:
            view = memoryview(blob)
        try:
            k = sock.send(view)
            view = view[k:]
            sent += k
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress > stall:
                break
            select.select([], [sock], [], 0.01)
        except (ConnectionResetError, BrokenPipeError):
            break
        now = time.monotonic()
        if now >= next_sample:
            peak = max(peak, g.rss())
            next_sample = now + 0.05
    g.wait_idle()                   # it has handled all it took from us
    return sent, max(peak, g.rss())


def test_client_streams_while_backend_connect_pending(release_gateway):
    """Frames sent while the backend connect is still pending are
    buffered, but bounded."""
    from backendkit import Blackhole
    hole = Blackhole()
    try:
        g = release_gateway([("/hole", {"backend": hole.spec,
                                        "connect_timeout": "20s",
                                        "heartbeat_interval": "0"})])
        ws = RawWS.open(g.port, path="/hole", timeout=10)
        # wsgate's connect: a SYN_SENT socket to the hole that is not one
        # of the hole's own fillers (a count of them, taken before, could
        # be one too many: /proc/net/tcp is read a page at a time, and a
        # socket that comes or goes meanwhile can repeat a line or hide
        # one; a repeat never matches here, and a hidden line only means
        # one more look)
        wait_for(lambda: connecting_to(hole.port, hole.local_ports()),
                 10, what="wsgate's connect to the blackhole")
        g.wait_idle()               # and nothing else under way
        base = g.rss()
        frame = build_frame(OP_BINARY, os.urandom(64 * 1024))
        sent, peak = push_until_blocked(g, ws.sock, frame, seconds=8)
        growth = peak - base
        print("client pushed %.1f MiB while connecting; RSS %d -> %d KiB (+%d KiB)"
              % (sent / MiB, base // 1024, peak // 1024, growth // 1024))
        assert sent < TOTAL, "the gateway took all %d MiB before connecting" % (TOTAL // MiB)
        assert growth < GROWTH_LIMIT, "RSS grew by %.1f MiB" % (growth / MiB)
        ws.abort()
    finally:
        hole.close()


def test_ping_flood_from_non_reading_client(release_gateway, backends):
    """A client that sends pings and never reads the pongs cannot make the
    gateway queue pongs without bound."""
    sink = backends(read_nothing_handler)
    g = release_gateway([("/sink", {"backend": sink.spec,
                                    "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/sink", timeout=10, rcvbuf=64 * 1024)
    sink.wait_conn(0)
    g.wait_idle()                   # the session is set up
    base = g.rss()
    from wskit import OP_PING
    blob = b"".join(build_frame(OP_PING, bytes([i % 256]) * 125) for i in range(2000))
    sent, peak = push_until_blocked(g, ws.sock, blob)
    growth = peak - base
    print("client sent %.1f MiB of pings without reading; RSS %d -> %d KiB (+%d KiB)"
          % (sent / MiB, base // 1024, peak // 1024, growth // 1024))
    assert growth < GROWTH_LIMIT, "RSS grew by %.1f MiB (pongs queued without bound?)" % (
        growth / MiB)
    assert g.alive()
    ws.abort()


def test_sessions_idle_after_traffic_keep_no_buffers(release_gateway,
                                                     backends):
    """Issue 3: an idle session keeps no buffers. Every session moves
    256 KiB each way (64 KiB frames, so the 64 KiB reads past libevent's
    and the frame-sized chains are all used), one session at a time, and
    then sits idle: RSS must end near where it started. A session that
    kept one 64 KiB read chain would add ~19 MiB here."""
    n = 300
    if raise_nofile_limit() < 2 * n + 100:
        pytest.skip("RLIMIT_NOFILE too low for %d sessions" % n)
    echo = backends(echo_handler)
    g = release_gateway([("/echo", {"backend": echo.spec,
                                    "heartbeat_interval": "0"})])
    clients = [RawWS.open(g.port, path="/echo", timeout=30)
               for _ in range(n)]
    for ws in clients:          # upgraded, backend connected, relaying
        ws.send_frame(OP_BINARY, b"x")
        assert ws.recv_frame(timeout=10).payload == b"x"
    g.wait_idle()
    base = g.rss()
    block = os.urandom(64 * 1024)
    for ws in clients:
        for _ in range(4):
            ws.send_frame(OP_BINARY, block)
        got = bytearray()
        while len(got) < 4 * len(block):
            got += ws.recv_frame(timeout=10).payload
        assert bytes(got) == block * 4
    g.wait_idle()                   # every session done with its buffers
    growth = g.rss() - base
    print("%d sessions, 256 KiB each way, then idle: RSS %+d KiB "
          "(%.2f KiB a session)" % (n, growth // 1024, growth / 1024 / n))
    assert growth < 6 * MiB, "idle sessions kept %.1f MiB after traffic" % (
        growth / MiB)
    for ws in clients:
        ws.close()
