"""Close semantics, both directions, nothing lost."""

import asyncio
import hashlib
import os
import socket
import time

import pytest
import websocket  # websocket-client
import websockets

from backendkit import (Blackhole, echo_handler, record_handler, rst_handler,
                        send_then_eof)
from basekit import (MiB, closed_port, pattern_bytes, run_async, sha256,
                     wait_for)
from probekit import connected_to, tcp_connections, window_shut
from wskit import OP_BINARY, OP_CLOSE, RawWS, build_frame


def _ws_recv_all_until_close_sync(ws, timeout=20):
    """websocket-client: read frames until close; (data, code, reason)."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "no close from the gateway"
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            p = frame.data
            code = int.from_bytes(p[:2], "big") if len(p) >= 2 else None
            return bytes(data), code, p[2:].decode("utf-8", "replace")
        if opcode in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT,
                      websocket.ABNF.OPCODE_CONT):
            data += frame.data


# ---------------------------------------------------------------- backend EOF

def test_backend_eof_all_bytes_then_1000_websockets(gateway_factory, backends):
    payload = os.urandom(3 * MiB + 123)
    be = backends(send_then_eof(payload))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])

    async def go():
        async with websockets.connect(g.url("/x"), max_size=None,
                                      open_timeout=5) as ws:
            h = hashlib.sha256()
            n = 0
            try:
                while True:
                    m = await asyncio.wait_for(ws.recv(), 10)
                    assert isinstance(m, bytes), "got a text frame"
                    h.update(m)
                    n += len(m)
            except websockets.exceptions.ConnectionClosed:
                pass
            return n, h.hexdigest(), ws.close_code, ws.close_reason
    n, digest, code, _ = run_async(go(), 30)
    assert n == len(payload)
    assert digest == sha256(payload)
    assert code == 1000


def test_backend_eof_all_bytes_then_1000_websocket_client(gateway_factory, backends):
    payload = os.urandom(1 * MiB + 7)
    be = backends(send_then_eof(payload))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = websocket.create_connection(g.url("/x"), timeout=10)
    try:
        data, code, _ = _ws_recv_all_until_close_sync(ws)
    finally:
        ws.close()
        ws.shutdown()   # close() leaves the socket open once a close was received
    assert len(data) == len(payload) and data == payload
    assert code == 1000


def test_backend_eof_slow_reader_loses_nothing(gateway_factory, backends):
    """Close comes after the last byte even when the client reads slowly,
    so the gateway holds data when the backend EOF arrives."""
    payload = pattern_bytes(8 * MiB, seed=3)
    be = backends(send_then_eof(payload))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/x", rcvbuf=32 * 1024, timeout=30)
    conn = be.wait_conn(0)
    # the gateway sits on a full buffer: it holds all 8 MiB and the EOF,
    # or it stopped reading the backend, whose send queue waits for room
    wait_for(lambda: conn.done.is_set() or window_shut(conn.sock), 10,
             what="the gateway to stop reading the backend")
    g.wait_idle()
    h = hashlib.sha256()
    count = [0]

    def on_data(b):
        h.update(b)
        count[0] += len(b)
    _, f = ws.recv_until_close(timeout=30, on_data=on_data)
    assert count[0] == len(payload)
    assert h.hexdigest() == sha256(payload)
    assert f is not None and f.close_code == 1000
    ws.close()


def test_backend_eof_immediately(gateway_factory, backends):
    be = backends(send_then_eof(b""))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/x")
    data, f = ws.recv_until_close(timeout=5)
    assert data == b"" and f is not None and f.close_code == 1000
    ws.send_close(1000)
    ws.wait_eof(timeout=5)
    ws.close()


def test_client_that_never_answers_our_close_is_cut_by_the_linger(
        gateway_factory, backends):
    """The backend ends; the client reads our close 1000 and never answers
    it: the closing linger (10 s without progress) still ends the session,
    with a FIN, and says why in the log."""
    be = backends(send_then_eof(b"bye"))
    g = gateway_factory(routes=[("/x", {"backend": be.spec,
                                        "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/x", timeout=30)
    data, f = ws.recv_until_close(timeout=5)
    assert data == b"bye" and f is not None and f.close_code == 1000
    t0 = time.monotonic()
    t1 = ws.wait_eof(timeout=25)
    ws.close()
    assert 9.0 <= t1 - t0 <= 20.0, "linger ended after %.1f s" % (t1 - t0)
    wait_for(lambda: "no close reply from the client" in g.log_text(), 5,
             what="the linger's log line")


def test_backend_closes_first_gets_late_client_bytes_then_clean_eof(
        gateway_factory, backends):
    """The backend sends and half-closes; the client gets it all and close
    1000, sends one more frame (it had not seen our close yet) and its
    close reply: the backend, still reading, gets that frame and then a
    plain EOF, no reset."""
    be = backends(send_then_eof(b"hello", linger_read=True))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/x")
    data, f = ws.recv_until_close(timeout=5)
    assert data == b"hello" and f is not None and f.close_code == 1000
    ws.send(build_frame(OP_BINARY, b"late") + build_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
    ws.wait_eof(timeout=5)
    ws.close()
    conn = be.wait_conn(0)
    conn.wait_eof(5)
    assert bytes(conn.received) == b"late"
    assert not conn.reset, "the backend got a reset, not EOF"


# ---------------------------------------------------------------- bad gateway

def _expect_bad_gateway(g, path, timeout=10):
    async def go():
        async with websockets.connect(g.url(path), open_timeout=5) as ws:
            try:
                await asyncio.wait_for(ws.recv(), timeout)
                raise AssertionError("got data from a dead backend")
            except websockets.exceptions.ConnectionClosed:
                pass
            return ws.close_code, ws.close_reason
    return run_async(go(), timeout + 10)


def test_backend_refuses_1014(gateway_factory):
    g = gateway_factory(routes=[("/x", {"backend": "tcp:127.0.0.1:%d" % closed_port()})])
    code, reason = _expect_bad_gateway(g, "/x")
    assert code == 1014
    assert reason.startswith("bad gateway"), reason
    lines = g.wait_session_lines(1, route="/x")
    assert lines[0].get("code") == "1014", lines[0]["_line"]


def test_backend_unix_missing_1014(gateway_factory, unix_dir):
    g = gateway_factory(routes=[("/x", {"backend": "unix:%s/nothing.sock" % unix_dir})])
    code, reason = _expect_bad_gateway(g, "/x")
    assert code == 1014
    assert reason.startswith("bad gateway"), reason


def test_backend_connect_timeout_1014(gateway_factory):
    hole = Blackhole()
    try:
        g = gateway_factory(routes=[("/x", {"backend": hole.spec,
                                            "connect_timeout": "700ms"})])
        ws = RawWS.open(g.port, path="/x")
        t0 = time.monotonic()
        f = ws.expect_close(1014, timeout=6)
        dt = time.monotonic() - t0
        assert f.close_reason.startswith("bad gateway"), f.close_reason
        assert 0.4 <= dt <= 3.0, "closed after %.2fs, connect_timeout 0.7s" % dt
        ws.close()
    finally:
        hole.close()


def test_backend_refuses_1014_raw_with_client_data_pending(gateway_factory):
    """Frames sent before the backend connect fails do not confuse it."""
    g = gateway_factory(routes=[("/x", {"backend": "tcp:127.0.0.1:%d" % closed_port()})])
    ws = RawWS.open(g.port, path="/x",
                    trailing=build_frame(OP_BINARY, b"early bytes" * 100))
    f = ws.expect_close(1014, timeout=5)
    assert f.close_reason.startswith("bad gateway")
    ws.close()


# ---------------------------------------------------------------- reset

def test_backend_reset_midstream_1014(gateway_factory, backends):
    first = os.urandom(100_000)
    be = backends(rst_handler(first, wait_go=True))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/x")
    conn = be.wait_conn(0)
    got = bytearray()
    while len(got) < len(first):
        f = ws.recv_frame(timeout=5)
        assert f.opcode in (OP_BINARY, 0), f
        got += f.payload
    assert bytes(got) == first
    conn.go.set()           # now reset
    data, f = ws.recv_until_close(timeout=5)
    assert data == b""
    assert f is not None and f.close_code == 1014, f
    ws.close()


def test_backend_reset_with_data_unread_by_client(gateway_factory, backends):
    """The backend sends 1 MiB and resets at once, the client reads only
    afterwards: whatever arrives is an intact prefix, then 1014."""
    first = pattern_bytes(1 * MiB, seed=5)
    be = backends(rst_handler(first))
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/x", rcvbuf=64 * 1024)
    conn = be.wait_conn(0)
    wait_for(lambda: conn.done.is_set(), 10, what="backend reset")
    wait_for(lambda: not connected_to(be.port), 10,
             what="the backend's reset to reach the gateway")
    data, f = ws.recv_until_close(timeout=10)
    assert first.startswith(data), "received bytes are not a prefix of what was sent"
    assert f is not None and f.close_code == 1014, f
    ws.close()


def test_backend_reset_immediately_1014(gateway_factory, backends):
    be = backends(rst_handler())
    g = gateway_factory(routes=[("/x", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/x")
    data, f = ws.recv_until_close(timeout=5)
    assert data == b""
    assert f is not None and f.close_code == 1014, f
    ws.close()


# ---------------------------------------------------------------- client close

def test_client_close_backend_gets_everything_then_eof_websockets(gateway_factory, backends):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})])
    chunks = [os.urandom(n) for n in (1, 10, 1000, 65535, 65536, 300_000, 1 * MiB, 17)]
    want = b"".join(chunks)

    async def go():
        async with websockets.connect(g.url("/x"), open_timeout=5,
                                      max_size=None) as ws:
            for c in chunks:
                await ws.send(c)
        return ws.close_code
    code = run_async(go(), 30)
    assert code == 1000
    conn = rec.wait_conn(0)
    conn.wait_eof(5)
    assert conn.nreceived == len(want)
    assert bytes(conn.received) == want
    assert not conn.reset, "backend got a reset, not EOF"


def test_client_close_websocket_client(gateway_factory, backends):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})])
    ws = websocket.create_connection(g.url("/x"), timeout=10)
    sent = bytearray()
    for i in range(50):
        m = os.urandom(i * 1000 + 1)
        ws.send_binary(m)
        sent += m
    ws.send("text too")
    sent += b"text too"
    ws.close(status=1000, timeout=5)   # waits for the echoed close
    ws.shutdown()
    conn = rec.wait_conn(0)
    conn.wait_eof(5)
    assert bytes(conn.received) == bytes(sent)


@pytest.mark.parametrize("code,reason", [(1000, b""), (1001, b"going"),
                                         (4000, b"app reason"), (3999, b"")])
def test_client_close_echoed_raw(gateway_factory, backends, code, reason):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})])
    ws = RawWS.open(g.port, path="/x")
    data = os.urandom(200_000)
    # data and close in one write: the close must not overtake the data
    ws.send(build_frame(OP_BINARY, data) + build_frame(OP_CLOSE, code.to_bytes(2, "big") + reason))
    ws.expect_close(code, timeout=5)
    ws.wait_eof(timeout=5)
    conn = rec.wait_conn(0)
    conn.wait_eof(5)
    assert bytes(conn.received) == data
    ws.close()


def test_client_close_without_code(gateway_factory, backends):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})])
    ws = RawWS.open(g.port, path="/x")
    ws.send(build_frame(OP_BINARY, b"abc") + build_frame(OP_CLOSE, b""))
    data, f = ws.recv_until_close(timeout=5)
    assert f is not None, "no close echoed"
    assert f.close_code in (None, 1000), f   # empty close answered empty or 1000
    conn = rec.wait_conn(0)
    conn.wait_eof(5)
    assert bytes(conn.received) == b"abc"
    ws.close()


def _gateway_closes_first(g, ws):
    """After our close frame: the gateway's FIN comes first, not a reset
    (a reset may destroy what the client has not read yet); once the client
    closes too, the TIME_WAIT stays on the gateway's side (RFC 6455
    §7.1.1)."""
    cport = ws.sock.getsockname()[1]
    assert not ws.buf, "bytes after the close frame: %r" % bytes(ws.buf)
    ws.sock.settimeout(5)
    assert ws.sock.recv(100) == b""     # ConnectionResetError on a reset
    ws.close()
    pair = {(g.port, cport), (cport, g.port)}

    def states():
        return [(lp, st) for lp, rp, st in tcp_connections(g.port)
                if (lp, rp) in pair]
    wait_for(lambda: states() == [(g.port, "TIME_WAIT")], 5,
             what=lambda: "only the gateway's end left, in TIME_WAIT: %s"
             % states())


def test_client_close_server_closes_tcp_first(gateway_factory, backends):
    """After the client's close the gateway echoes it and closes the TCP
    connection first, with a FIN; the backend gets every byte, then EOF."""
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})])
    ws = RawWS.open(g.port, path="/x")
    ws.send(build_frame(OP_BINARY, b"last") + build_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
    ws.expect_close(1000, timeout=5)
    _gateway_closes_first(g, ws)
    conn = rec.wait_conn(0)
    conn.wait_eof(5)
    assert bytes(conn.received) == b"last" and not conn.reset


def test_client_close_slow_backend_loses_nothing(gateway_factory, backends):
    """8 MiB then close, the backend starts reading only later: it still
    gets every byte before EOF."""
    def slow_record(c, stop):
        time.sleep(1.0)
        return record_handler(c, stop)
    rec = backends(slow_record, keep=False)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})])
    payload = pattern_bytes(8 * MiB, seed=9)

    async def go():
        async with websockets.connect(g.url("/x"), open_timeout=5,
                                      max_size=None, close_timeout=20) as ws:
            for i in range(0, len(payload), 512 * 1024):
                await ws.send(payload[i:i + 512 * 1024])
        return ws.close_code
    code = run_async(go(), 40)
    assert code == 1000
    conn = rec.wait_conn(0)
    conn.wait_eof(20)
    assert conn.nreceived == len(payload)
    assert conn.hash.hexdigest() == sha256(payload)


def test_session_log_counts_bytes(gateway_factory, backends):
    down = os.urandom(5000)
    be = backends(send_then_eof(down, wait_go=True, linger_read=True))
    g = gateway_factory(routes=[("/counted", {"backend": be.spec})])
    ws = RawWS.open(g.port, path="/counted")
    up = os.urandom(3333)
    ws.send_frame(OP_BINARY, up)
    conn = be.wait_conn(0)
    wait_for(lambda: conn.nreceived >= len(up), 5, what="up bytes at backend")
    conn.go.set()
    data, f = ws.recv_until_close(timeout=5)
    assert data == down and f.close_code == 1000
    ws.send_close(1000)
    ws.close()
    line = g.wait_session_lines(1, route="/counted")[0]
    assert line.get("up") == str(len(up)), line["_line"]
    assert line.get("down") == str(len(down)), line["_line"]
    assert line.get("code") == "1000", line["_line"]
    assert line.get("backend") == be.spec, line["_line"]
    assert "cause" in line, line["_line"]


# ---------------------------------------------------------------- client vanishes

def test_client_vanishes_backend_closed(gateway_factory, backends):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec,
                                        "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/x")
    data = os.urandom(70_000)
    ws.send_frame(OP_BINARY, data)
    conn = rec.wait_conn(0)
    wait_for(lambda: conn.nreceived >= len(data), 5, what="data at backend")
    t0 = time.monotonic()
    ws.close()              # FIN, no WebSocket close
    t1 = conn.wait_eof(5)
    assert t1 - t0 < 3
    assert bytes(conn.received) == data


def test_client_vanishes_with_data_in_flight(gateway_factory, backends):
    """Data then FIN in quick succession: the backend still gets the data."""
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec,
                                        "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/x")
    data = os.urandom(500_000)
    ws.send_frame(OP_BINARY, data)
    ws.sock.shutdown(socket.SHUT_WR)
    conn = rec.wait_conn(0)
    conn.wait_eof(5)
    assert bytes(conn.received) == data
    ws.close()


def test_client_reset_backend_closed(gateway_factory, backends):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec,
                                        "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/x")
    ws.send_frame(OP_BINARY, b"x" * 10)
    conn = rec.wait_conn(0)
    wait_for(lambda: conn.nreceived >= 10, 5, what="data at backend")
    ws.abort()
    conn.wait_eof(5)


def test_client_vanishes_while_backend_streams(gateway_factory, backends):
    """The client goes away while the gateway is writing to it: the
    backend connection is closed, the gateway stays healthy."""
    from backendkit import source_handler
    src = backends(source_handler(64 * MiB), keep=False)
    g = gateway_factory(routes=[("/x", {"backend": src.spec})])
    ws = RawWS.open(g.port, path="/x", rcvbuf=16 * 1024)
    conn = src.wait_conn(0)
    wait_for(lambda: conn.nsent > 0, 5, what="backend streaming")
    ws.abort()
    wait_for(lambda: conn.done.is_set(), 5, what="backend connection ended")
    # still serving
    ws2 = RawWS.open(g.port, path="/x")
    ws2.close()


# ---------------------------------------------------------------- early close

def test_client_close_before_backend_connected(gateway_factory, backends):
    """Head, data and close in one write: the data still reaches the
    backend (connected after the close arrived), then EOF; the close is
    echoed."""
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})])
    data = os.urandom(50_000)
    ws = RawWS.open(g.port, path="/x",
                    trailing=build_frame(OP_BINARY, data) +
                    build_frame(OP_CLOSE, (4001).to_bytes(2, "big")))
    ws.expect_close(4001, timeout=5)
    conn = rec.wait_conn(0)
    conn.wait_eof(5)
    assert bytes(conn.received) == data
    ws.close()


def test_client_vanishes_while_connecting(gateway_factory, backends):
    """The client leaves while the backend connect is pending: the
    session ends cleanly, the gateway goes on serving."""
    hole = Blackhole()
    try:
        echo = backends(echo_handler)
        g = gateway_factory(routes=[("/hole", {"backend": hole.spec,
                                               "connect_timeout": "1s"}),
                                    ("/echo", {"backend": echo.spec})])
        for _ in range(3):
            ws = RawWS.open(g.port, path="/hole",
                            trailing=build_frame(OP_BINARY, b"lost"))
            ws.close()
        g.wait_session_lines(3, route="/hole", timeout=5)
        ws = RawWS.open(g.port, path="/echo")
        ws.send_frame(OP_BINARY, b"alive")
        data = b""
        while len(data) < 5:
            data += ws.recv_frame(timeout=5).payload
        assert data == b"alive"
        ws.close()
    finally:
        hole.close()
