"""Opening handshake: every HTTP answer, timeouts, subprotocols, origins."""

import asyncio
import base64
import hashlib
import os
import socket
import time

import pytest
import websockets

from backendkit import echo_handler, record_handler
from basekit import run_async, wait_for
from wskit import (OP_BINARY, OP_TEXT, RawWS, WS_GUID, build_frame,
                   http_exchange)


@pytest.fixture
def gw(gateway_factory, backends):
    echo = backends(echo_handler)
    rec = backends(record_handler)
    g = gateway_factory(routes=[
        ("/echo", {"backend": echo.spec}),
        ("/rec", {"backend": rec.spec}),
        ("/origin", {"backend": echo.spec,
                     "origins": "https://good.example"}),
        ("/proto", {"backend": echo.spec, "subprotocols": "chat superchat"}),
        ("/pre/*", {"backend": echo.spec}),
    ])
    g.echo, g.rec = echo, rec
    return g


def request(path="/echo", method="GET", version="13", key=None, drop=(),
            extra=(), request_line=None):
    """A request head with some headers dropped or replaced."""
    if key is None:
        key = base64.b64encode(os.urandom(16)).decode()
    headers = [("Host", "127.0.0.1"), ("Upgrade", "websocket"),
               ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
               ("Sec-WebSocket-Version", version)]
    headers = [(k, v) for k, v in headers if k not in drop]
    lines = [request_line or "%s %s HTTP/1.1" % (method, path)]
    lines += ["%s: %s" % kv for kv in headers]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(port, raw):
    ws = http_exchange(port, raw, timeout=5)
    try:
        return ws.status, ws
    finally:
        ws.close()


# ---------------------------------------------------------------- 101

def test_accept_key_rfc_example(gw):
    ws = RawWS.open(gw.port, key="dGhlIHNhbXBsZSBub25jZQ==")
    assert ws.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert ws.headers["upgrade"].lower() == "websocket"
    assert "upgrade" in ws.headers["connection"].lower()
    assert "sec-websocket-protocol" not in ws.headers
    ws.close()


def test_accept_key_random_and_relay(gw):
    for _ in range(3):
        key = base64.b64encode(os.urandom(16)).decode()
        ws = RawWS.open(gw.port, key=key)
        want = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        assert ws.headers["sec-websocket-accept"] == want
        ws.send_frame(OP_BINARY, b"ping-through")
        got = b""
        while len(got) < 12:
            f = ws.recv_frame(timeout=5)
            assert f.opcode in (OP_BINARY, 0)
            got += f.payload
        assert got == b"ping-through"
        ws.send_close(1000)
        ws.expect_close(1000, timeout=5)
        ws.close()


def test_browser_like_request(gw):
    """What Firefox sends: Connection with keep-alive, mixed-case tokens,
    an extension offer the gateway must not accept (it does not compress)."""
    raw = request(drop=("Connection", "Upgrade"), extra=(
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
        "Accept: */*",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br",
        "Sec-WebSocket-Extensions: permessage-deflate",
        "Origin: http://127.0.0.1",
        "Connection: keep-alive, Upgrade",
        "Sec-Fetch-Dest: websocket",
        "Sec-Fetch-Mode: websocket",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "Upgrade: WebSocket"))
    ws = http_exchange(gw.port, raw, timeout=5)
    assert ws.status == 101, ws.head_raw
    assert "sec-websocket-extensions" not in ws.headers
    ws.send(build_frame(OP_BINARY, b"browser"))
    got = b""
    while len(got) < 7:
        got += ws.recv_frame(timeout=5).payload
    assert got == b"browser"
    ws.close()


def test_lowercase_header_names(gw):
    key = base64.b64encode(os.urandom(16)).decode()
    raw = ("GET /echo HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\n"
           "connection: upgrade\r\nsec-websocket-key: %s\r\n"
           "sec-websocket-version: 13\r\n\r\n" % key).encode()
    status, ws = status_of(gw.port, raw)
    assert status == 101


def test_query_string_and_prefix_route(gw):
    ws = RawWS.open(gw.port, path="/echo?token=abc&x=1")
    ws.close()
    ws = RawWS.open(gw.port, path="/pre/some/thing")
    ws.close()


def test_handshake_one_byte_at_a_time(gw):
    head, key = RawWS.request_head(path="/echo")
    ws = RawWS(gw.port, timeout=5)
    for i in range(len(head)):
        ws.send(head[i:i + 1])
        time.sleep(0.001)
    ws.read_head()
    assert ws.status == 101
    ws.close()


# ---------------------------------------------------------------- errors

BAD_400 = {
    "no-upgrade": request(drop=("Upgrade",)),
    "no-connection": request(drop=("Connection",)),
    "no-key": request(drop=("Sec-WebSocket-Key",)),
    "no-host": request(drop=("Host",)),
    "key-not-base64": request(key="not base64 at all!!"),
    "key-wrong-length": request(key=base64.b64encode(b"x" * 15).decode()),
    "upgrade-not-websocket": request(drop=("Upgrade",), extra=("Upgrade: h2c",)),
    "http-1.0": request(request_line="GET /echo HTTP/1.0"),
    "garbage-request-line": b"HELLO\r\n\r\n",
    "absolute-garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "duplicate-key": request(extra=("Sec-WebSocket-Key: %s"
                                    % base64.b64encode(os.urandom(16)).decode(),)),
}


@pytest.mark.parametrize("name", sorted(BAD_400))
def test_400_malformed(gw, name):
    status, _ = status_of(gw.port, BAD_400[name])
    assert status == 400


def test_405_not_get(gw):
    status, _ = status_of(gw.port, request(method="POST"))
    assert status == 405


@pytest.mark.parametrize("version", ["8", "12", "14"])
def test_426_bad_version(gw, version):
    status, ws = status_of(gw.port, request(version=version))
    assert status == 426
    assert ws.headers.get("sec-websocket-version") == "13"


def test_431_head_too_large(gw):
    raw = request(extra=("X-Pad: " + "a" * 17000,))  # default 16K
    status, _ = status_of(gw.port, raw)
    assert status == 431


def test_431_many_headers(gw):
    raw = request(extra=["X-H%d: %s" % (i, "b" * 60) for i in range(200)])
    status, _ = status_of(gw.port, raw)
    assert status == 431


def test_max_header_size_configurable(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"max_header_size": "1K"})
    status, _ = status_of(g.port, request(extra=("X-Pad: " + "a" * 700,)))
    assert status == 101
    status, _ = status_of(g.port, request(extra=("X-Pad: " + "a" * 1500,)))
    assert status == 431


def test_404_no_route(gw):
    for path in ("/nope", "/echo/more", "/", "/prefix"):
        status, _ = status_of(gw.port, request(path=path))
        assert status == 404, path


def test_error_answer_closes_connection(gw):
    ws = http_exchange(gw.port, request(path="/nope"), timeout=5)
    assert ws.status == 404
    ws.read_body(timeout=5)
    ws.wait_eof(timeout=5)   # socket.timeout here = connection left open
    ws.close()


# ---------------------------------------------------------------- origins

def test_origin_denied_403(gw):
    status, _ = status_of(gw.port, request(path="/origin",
                                           extra=("Origin: https://evil.example",)))
    assert status == 403


def test_origin_allowed(gw):
    status, _ = status_of(gw.port, request(path="/origin",
                                           extra=("Origin: https://good.example",)))
    assert status == 101


def test_origin_missing_allowed(gw):
    status, _ = status_of(gw.port, request(path="/origin"))
    assert status == 101


def test_origin_any_when_unset(gw):
    status, _ = status_of(gw.port, request(path="/echo",
                                           extra=("Origin: https://whatever.example",)))
    assert status == 101


def test_origin_with_websockets(gw):
    async def go():
        async with websockets.connect(gw.url("/origin"), origin="https://good.example",
                                      open_timeout=5) as ws:
            await ws.send(b"ok")
            assert await asyncio.wait_for(ws.recv(), 5) == b"ok"
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as ei:
            async with websockets.connect(gw.url("/origin"),
                                          origin="https://evil.example",
                                          open_timeout=5):
                pass
        assert ei.value.status_code == 403
    run_async(go(), 20)


# ---------------------------------------------------------------- 503

def test_503_over_max_connections(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"max_connections": 2})
    a = RawWS.open(g.port)
    b = RawWS.open(g.port)
    echo.wait_conn(1)
    status, _ = status_of(g.port, request())
    assert status == 503
    a.send_close(1000)
    a.expect_close(1000, timeout=5)
    a.close()

    def slot_free():
        s, ws = status_of(g.port, request())
        return s == 101
    wait_for(slot_free, 5, interval=0.1, what="a free slot after a session ended")
    b.close()


# ---------------------------------------------------------------- timeout

def test_handshake_timeout_partial_head(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"handshake_timeout": "1s"})
    ws = RawWS(g.port, timeout=5)
    t0 = time.monotonic()
    ws.send(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    t1 = ws.wait_eof(timeout=4)
    assert 0.7 <= t1 - t0 <= 2.5, "closed after %.2fs" % (t1 - t0)
    ws.close()


def test_handshake_timeout_silent_client(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"handshake_timeout": "1s"})
    ws = RawWS(g.port, timeout=5)
    t0 = time.monotonic()
    t1 = ws.wait_eof(timeout=4)
    assert 0.7 <= t1 - t0 <= 2.5, "closed after %.2fs" % (t1 - t0)
    ws.close()
    assert echo.count == 0


def test_handshake_timeout_not_extended_by_trickle(gateway_factory, backends):
    """A client trickling its head one byte at a time (slowloris) is cut
    at handshake_timeout: the deadline is not pushed back by each byte."""
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"handshake_timeout": "1s"})
    head, _ = RawWS.request_head(extra=["X-Pad: " + "p" * 200])
    ws = RawWS(g.port, timeout=5)
    t0 = time.monotonic()
    closed = None
    for i in range(len(head) - 4):
        try:
            ws.send(head[i:i + 1])
        except OSError:
            closed = time.monotonic()
            break
        if time.monotonic() - t0 > 4:
            break
        ws.sock.settimeout(0.05)
        try:
            if ws.sock.recv(4096) == b"":
                closed = time.monotonic()
                break
        except socket.timeout:
            pass
        except OSError:
            closed = time.monotonic()
            break
    assert closed is not None, "still connected after %.1fs of trickling" % (
        time.monotonic() - t0)
    assert closed - t0 <= 2.0, "cut after %.2fs, handshake_timeout 1s" % (closed - t0)
    ws.close()


def test_handshake_timeout_does_not_hit_slow_but_complete(gateway_factory, backends):
    """A head that trickles in within the timeout is accepted."""
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"handshake_timeout": "2s"})
    head, _ = RawWS.request_head()
    ws = RawWS(g.port, timeout=5)
    step = len(head) // 4
    for i in range(0, len(head), step):
        ws.send(head[i:i + step])
        time.sleep(0.2)
    ws.read_head()
    assert ws.status == 101
    ws.close()


# ---------------------------------------------------------------- pipelined

def test_frames_in_same_write_as_head_are_relayed(gw):
    frames = (build_frame(OP_TEXT, b"hello ") + build_frame(OP_BINARY, b"world")
              + build_frame(OP_BINARY, b"!" * 300))
    ws = RawWS.open(gw.port, path="/rec", trailing=frames)
    conn = gw.rec.wait_conn(0)
    wait_for(lambda: conn.nreceived >= 311, 5, what="pipelined bytes at backend")
    assert bytes(conn.received) == b"hello world" + b"!" * 300
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    conn.wait_eof(5)
    ws.close()


def test_large_pipelined_data_is_not_an_oversized_head(gw):
    """100 KiB of frames behind the head in the same write: the head is
    small, so this is a 101 and the data is relayed, not a 431."""
    data = os.urandom(100 * 1024)
    frames = build_frame(OP_BINARY, data[:60000]) + build_frame(OP_BINARY, data[60000:])
    ws = RawWS.open(gw.port, path="/rec", trailing=frames)
    conn = gw.rec.wait_conn(0)
    wait_for(lambda: conn.nreceived >= len(data), 5, what="pipelined data at backend")
    assert bytes(conn.received) == data
    ws.close()


def test_pipelined_echo(gw):
    ws = RawWS.open(gw.port, path="/echo", trailing=build_frame(OP_BINARY, b"early"))
    got = b""
    while len(got) < 5:
        got += ws.recv_frame(timeout=5).payload
    assert got == b"early"
    ws.close()


# ---------------------------------------------------------------- subprotocols

def test_subprotocol_first_offered_that_route_lists(gw):
    async def go():
        async with websockets.connect(gw.url("/proto"),
                                      subprotocols=["x-other", "superchat", "chat"],
                                      open_timeout=5) as ws:
            assert ws.subprotocol == "superchat"
        async with websockets.connect(gw.url("/proto"),
                                      subprotocols=["chat", "superchat"],
                                      open_timeout=5) as ws:
            assert ws.subprotocol == "chat"
            await ws.send(b"data")
            assert await asyncio.wait_for(ws.recv(), 5) == b"data"
    run_async(go(), 20)


def test_subprotocol_none_matching(gw):
    async def go():
        async with websockets.connect(gw.url("/proto"), subprotocols=["x-nope"],
                                      open_timeout=5) as ws:
            assert ws.subprotocol is None
        async with websockets.connect(gw.url("/proto"), open_timeout=5) as ws:
            assert ws.subprotocol is None
    run_async(go(), 20)


def test_subprotocol_raw(gw):
    ws = RawWS.open(gw.port, path="/proto", protocols=["foo", "chat", "superchat"])
    assert ws.headers.get("sec-websocket-protocol") == "chat"
    ws.close()
    # across two headers
    ws = RawWS.open(gw.port, path="/proto", extra=("Sec-WebSocket-Protocol: foo",
                                                   "Sec-WebSocket-Protocol: superchat"))
    assert ws.headers.get("sec-websocket-protocol") == "superchat"
    ws.close()
    # none offered on a route that lists some: no header
    ws = RawWS.open(gw.port, path="/proto")
    assert "sec-websocket-protocol" not in ws.headers
    ws.close()
    # offered on a route that lists none: never one not offered, none here
    ws = RawWS.open(gw.port, path="/echo", protocols=["chat"])
    assert "sec-websocket-protocol" not in ws.headers
    ws.close()
    # case-sensitive tokens
    ws = RawWS.open(gw.port, path="/proto", protocols=["CHAT"])
    assert "sec-websocket-protocol" not in ws.headers
    ws.close()


def test_absolute_form_target_is_accepted(gateway_factory, backends, tmp_path):
    """Issue 11 item 9 (RFC 9112 §3.2.2: a server MUST accept an
    absolute-form target): the route comes from the URI's path, for an
    upgrade as for a static file; other schemes and userinfo are a 400."""
    echo = backends(echo_handler)
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_bytes(b"<p>hello</p>\n")
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec}),
                                ("/site/*", {"root": str(root)})])
    ws = RawWS(g.port, timeout=10)
    ws.send(request(request_line="GET http://127.0.0.1:%d/echo?x=1 HTTP/1.1"
                    % g.port))
    assert ws.read_head() == 101
    ws.send_frame(OP_BINARY, b"absolute")
    assert ws.recv_frame(timeout=5).payload == b"absolute"
    ws.close()
    r = http_exchange(g.port, b"GET HTTP://Example.COM/site/ HTTP/1.1\r\n"
                      b"Host: example.com\r\n\r\n")
    assert r.status == 200
    assert r.read_body() == b"<p>hello</p>\n"
    r.close()
    for target in ("ftp://127.0.0.1/echo", "http://u:p@127.0.0.1/echo",
                   "http:///echo"):
        status, _ = status_of(g.port, request(
            request_line="GET %s HTTP/1.1" % target))
        assert status == 400, target
