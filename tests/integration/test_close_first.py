"""wsgate closes first: nothing either peer sent before it saw the close is
lost (issue 11 item 3).

RFC 6455 lets an endpoint drop data only after it has *received* a close
(§1.4, §5.5.1): until the client reads our close frame, what it sends is
still the backend's; until the backend's bytes already sent have reached
the client, our close frame waits. A backend's half-close ends only what
it sends: it can still receive.
"""

import hashlib
import signal
import socket
import threading
import time

from backendkit import source_handler, source_stream_hash
from basekit import MiB, pattern_bytes, sha256, wait_for
from wskit import OP_BINARY, OP_PING, OP_PONG, RawWS, build_frame


def _slow_record_handler(rate_bytes_per_s):
    """Record everything (count and sha256) at about rate bytes/s, until
    EOF."""
    def handler(c, stop):
        step = 64 * 1024
        pause = step / float(rate_bytes_per_s)
        while not stop.is_set():
            chunk = c.recv_some(stop, step)
            if not chunk:
                break
            time.sleep(pause * len(chunk) / step)
        c.sock.close()
    return handler


def _send_frames(ws, data, frame=64 * 1024):
    """Send data as binary frames (masked, as a client must)."""
    view = memoryview(data)
    for off in range(0, len(data), frame):
        ws.send(build_frame(OP_BINARY, bytes(view[off:off + frame])))


def _sender_thread(ws, data):
    box = {}

    def run():
        try:
            _send_frames(ws, data)
            box["done"] = time.monotonic()
        except OSError as e:
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_drain_slow_backend_gets_all_the_client_sent(gateway_factory, backends):
    """SIGTERM while the client streams into a slow backend: the client
    sent 11 MB before it saw the 1001; the backend gets all of it."""
    be = backends(_slow_record_handler(6 * MiB), keep=False)
    g = gateway_factory(routes=[("/up", {"backend": be.spec})],
                        gateway={"drain_timeout": "60s"})
    ws = RawWS.open(g.port, path="/up", timeout=60)
    data = pattern_bytes(11 * 1000 * 1000 + 17, seed=3)
    t, box = _sender_thread(ws, data)
    conn = be.wait_conn(0)
    wait_for(lambda: conn.nreceived >= 1 * MiB, 20, what="backend streaming")
    g.send_signal(signal.SIGTERM)
    t.join(60)
    assert "error" not in box, "client could not send: %r" % box.get("error")
    assert "done" in box, "client still sending after 60s"
    # Only now does the client read: our close frame, then it answers.
    f = ws.expect_close(1001, timeout=30)
    ws.send_close(1001)
    conn.wait_eof(60)
    assert conn.nreceived == len(data), (
        "backend got %d of the %d bytes the client sent before it saw the "
        "close" % (conn.nreceived, len(data)))
    assert conn.hash.hexdigest() == sha256(data)
    assert g.stop(timeout=30) == 0
    ws.close()
    assert f.close_reason.startswith("server shutting down"), f.close_reason


def test_drain_client_gets_all_the_backend_sent_then_1001(gateway_factory,
                                                          backends):
    """The backend wrote 8 MiB before the SIGTERM, the client reads slowly:
    it gets all 8 MiB, then close 1001."""
    total = 8 * MiB
    be = backends(source_handler(total, then_eof=False))
    g = gateway_factory(routes=[("/down", {"backend": be.spec})],
                        gateway={"drain_timeout": "60s"})
    ws = RawWS.open(g.port, path="/down", timeout=60, rcvbuf=128 * 1024)
    conn = be.wait_conn(0)
    h = hashlib.sha256()
    n = 0
    signalled = False
    deadline = time.monotonic() + 60
    close = None
    while time.monotonic() < deadline:
        if not signalled and conn.nsent >= total:
            g.send_signal(signal.SIGTERM)      # every byte is on its way
            signalled = True
        f = ws.recv_frame(timeout=30)
        if f.opcode == OP_BINARY:
            h.update(f.payload)
            n += len(f.payload)
            time.sleep(0.002 * len(f.payload) / 65536.0)   # ~30 MB/s at most
        elif f.opcode == OP_PING:
            ws.send_frame(OP_PONG, f.payload)
        else:
            close = f
            break
    assert signalled, "the backend never finished writing (%d sent)" % conn.nsent
    assert close is not None and close.close_code == 1001, close
    assert n == total, "client got %d of the %d bytes the backend sent " \
        "before the SIGTERM" % (n, total)
    assert h.hexdigest() == source_stream_hash(total)
    ws.send_close(1001)
    assert g.stop(timeout=30) == 0
    ws.close()


def _half_close_handler(after):
    """Read `after` bytes, half-close (shutdown SHUT_WR), then keep
    recording everything until EOF."""
    def handler(c, stop):
        while c.nreceived < after and not stop.is_set():
            if not c.recv_some(stop):
                return
        c.sock.shutdown(socket.SHUT_WR)
        while True:
            if not c.recv_some(stop):
                break
        c.sock.close()
    return handler


def test_backend_half_close_still_gets_client_data_in_flight(gateway_factory,
                                                             backends):
    """The backend half-closes while the client streams: close 1000 goes
    to the client, and what it sent before it saw that close reaches the
    backend, which then gets EOF."""
    be = backends(_half_close_handler(256 * 1024), keep=False)
    g = gateway_factory(routes=[("/hc", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/hc", timeout=30)
    data = pattern_bytes(6 * MiB + 5, seed=7)
    t, box = _sender_thread(ws, data)
    conn = be.wait_conn(0)
    t.join(30)
    assert "error" not in box, "client could not send: %r" % box.get("error")
    ws.expect_close(1000, timeout=20)
    ws.send_close(1000)
    conn.wait_eof(20)
    assert conn.nreceived == len(data), (
        "backend got %d of the %d bytes the client sent before it saw the "
        "close" % (conn.nreceived, len(data)))
    assert conn.hash.hexdigest() == sha256(data)
    ws.close()


def test_drain_bound_cutting_backend_data_short_says_so(gateway_factory,
                                                        backends):
    """A backend that never stops streaming: the close waits at most half
    of drain_timeout, and its reason and the log say data was cut short."""
    be = backends(source_handler(1 << 40, then_eof=False))
    g = gateway_factory(routes=[("/flood", {"backend": be.spec})],
                        gateway={"drain_timeout": "3s"})
    ws = RawWS.open(g.port, path="/flood", timeout=30)
    got = 0
    while got < 1 * MiB:
        got += len(ws.recv_frame(timeout=10).payload)
    t0 = time.monotonic()
    g.send_signal(signal.SIGTERM)
    _, f = ws.recv_until_close(timeout=20, on_data=lambda p: None)
    waited = time.monotonic() - t0
    assert f is not None and f.close_code == 1001, f
    assert "cut short" in f.close_reason, f.close_reason
    assert waited < 2.9, "close after %.1fs (drain_timeout 3s)" % waited
    ws.send_close(1001)
    g.wait_log(r"backend data cut short", timeout=10)
    g.stop(timeout=30)
    ws.close()
