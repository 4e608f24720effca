"""Relay: TCP and Unix backends, big streams, many sessions, backend
selection (failover, round robin)."""

import asyncio
import hashlib
import os
import random
import time

import pytest
import websocket  # websocket-client
import websockets

from backendkit import echo_handler, greet_echo_handler, record_handler
from basekit import (MiB, closed_port, pattern_bytes, raise_nofile_limit,
                     run_async, sha256, wait_for)
from wskit import OP_BINARY, RawWS, build_frame


async def echo_roundtrip(url, messages, **kw):
    async with websockets.connect(url, open_timeout=5, max_size=None, **kw) as ws:
        for m in messages:
            await ws.send(m)
        want = b"".join(m if isinstance(m, bytes) else m.encode() for m in messages)
        got = bytearray()
        while len(got) < len(want):
            got += await asyncio.wait_for(ws.recv(), 10)
        return bytes(got) == want, len(got), len(want)


def test_tcp_echo_websockets(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})])
    ok, n, m = run_async(echo_roundtrip(g.url("/echo"),
                                        [b"hello", "text message", os.urandom(70000)]), 20)
    assert ok, (n, m)


def test_unix_echo_websockets(gateway_factory, backends, unix_dir):
    echo = backends(echo_handler, unix=os.path.join(unix_dir, "echo.sock"))
    g = gateway_factory(routes=[("/unix", {"backend": echo.spec})])
    ok, n, m = run_async(echo_roundtrip(g.url("/unix"),
                                        [b"over unix", os.urandom(300000)]), 20)
    assert ok, (n, m)
    line = g.wait_session_lines(1, route="/unix")[0]
    assert line.get("backend") == echo.spec, line["_line"]


def test_echo_websocket_client(gateway_factory, backends, unix_dir):
    echo = backends(echo_handler)
    uecho = backends(echo_handler, unix=os.path.join(unix_dir, "e.sock"))
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec}),
                                ("/unix", {"backend": uecho.spec})])
    for path in ("/echo", "/unix"):
        ws = websocket.create_connection(g.url(path), timeout=10)
        try:
            for size in (0, 1, 125, 126, 65535, 65536, 200000):
                m = os.urandom(size)
                if size == 0:
                    continue
                ws.send_binary(m)
                got = b""
                while len(got) < size:
                    got += ws.recv()
                assert got == m
        finally:
            ws.close(timeout=5)
            ws.shutdown()


def test_backend_by_hostname(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/lh", {"backend": "tcp:localhost:%d" % echo.port})])
    ok, n, m = run_async(echo_roundtrip(g.url("/lh"), [b"resolved"]), 10)
    assert ok


def test_prefix_route_relays(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/pre/*", {"backend": echo.spec})])
    ok, n, m = run_async(echo_roundtrip(g.url("/pre/a/b?c=d"), [b"prefix"]), 10)
    assert ok


def test_64mib_roundtrip_sha256(gateway_factory, backends):
    total = 64 * MiB
    echo = backends(echo_handler, keep=False)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec,
                                           "max_message_size": "16M"})])
    data = pattern_bytes(total, seed=64)
    sizes = [1, 7, 125, 126, 127, 4096, 65535, 65536, 65537, 300_000, MiB,
             3 * MiB + 5]

    async def go():
        async with websockets.connect(g.url("/echo"), open_timeout=5,
                                      max_size=None, max_queue=64,
                                      write_limit=1 << 20,
                                      ping_interval=None) as ws:
            async def sender():
                off = 0
                i = 0
                while off < total:
                    n = min(sizes[i % len(sizes)], total - off)
                    await ws.send(data[off:off + n])
                    off += n
                    i += 1

            async def receiver():
                h = hashlib.sha256()
                n = 0
                while n < total:
                    m = await asyncio.wait_for(ws.recv(), 20)
                    h.update(m)
                    n += len(m)
                return n, h.hexdigest()
            st = asyncio.ensure_future(sender())
            n, digest = await receiver()
            await st
            return n, digest
    t0 = time.monotonic()
    n, digest = run_async(go(), 150)
    assert n == total
    assert digest == sha256(data)
    print("64 MiB round trip in %.1fs" % (time.monotonic() - t0))


def test_single_large_frame_streams(gateway_factory, backends):
    """An 8 MiB frame with the route's limit above it reaches the backend
    intact."""
    rec = backends(record_handler, keep=False)
    g = gateway_factory(routes=[("/rec", {"backend": rec.spec,
                                          "max_message_size": "32M"})])
    data = pattern_bytes(8 * MiB, seed=8)
    ws = RawWS.open(g.port, path="/rec", timeout=30)
    ws.send_frame(OP_BINARY, data)
    conn = rec.wait_conn(0)
    wait_for(lambda: conn.nreceived >= len(data), 20, what="8 MiB at backend")
    assert conn.hash.hexdigest() == sha256(data)
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()


class AsyncEchoServer:
    """An echo backend in the test's event loop (many connections)."""

    def __init__(self):
        self.open = 0
        self.peak = 0
        self.total = 0

    async def handle(self, reader, writer):
        self.open += 1
        self.total += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                b = await reader.read(65536)
                if not b:
                    break
                writer.write(b)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.open -= 1
            writer.close()


def test_1000_concurrent_sessions(gateway_factory):
    limit = raise_nofile_limit()
    n = 1000
    if limit < 2 * n + 100:
        pytest.skip("RLIMIT_NOFILE %d too low for %d sessions" % (limit, n))

    async def go():
        srv = AsyncEchoServer()
        server = await asyncio.start_server(srv.handle, "127.0.0.1", 0, backlog=2048)
        bport = server.sockets[0].getsockname()[1]
        g = gateway_factory(routes=[("/echo", {"backend": "tcp:127.0.0.1:%d" % bport})])
        url = g.url("/echo")
        connected = 0
        all_in = asyncio.Event()
        gate = asyncio.Semaphore(100)      # connect in waves
        results = []

        async def one(i):
            nonlocal connected
            msg = ("session %d %s" % (i, os.urandom(8).hex())).encode()
            async with gate:
                ws = await websockets.connect(url, open_timeout=30,
                                              ping_interval=None,
                                              close_timeout=10)
            try:
                connected += 1
                if connected == n:
                    all_in.set()
                await asyncio.wait_for(all_in.wait(), 60)
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 30)
                results.append(got == msg)
            finally:
                await ws.close()
        try:
            await asyncio.gather(*(one(i) for i in range(n)))
        finally:
            server.close()
            await server.wait_closed()
        return results, srv.peak, g
    results, peak, g = run_async(go(), 150)
    assert len(results) == n
    assert all(results), "%d of %d sessions got the wrong echo" % (
        results.count(False), n)
    assert peak >= n, "backend saw at most %d concurrent connections" % peak
    lines = g.wait_session_lines(n, route="/echo", timeout=15)
    assert len(lines) == n
    assert all(line.get("up") == line.get("down") for line in lines), \
        [line["_line"] for line in lines if line.get("up") != line.get("down")][:3]


def test_failover_when_first_backend_refuses(gateway_factory, backends):
    echo = backends(echo_handler)
    dead = "tcp:127.0.0.1:%d" % closed_port()
    g = gateway_factory(routes=[("/fo", {"backend": [dead, echo.spec]})])
    for i in range(4):
        ok, _, _ = run_async(echo_roundtrip(g.url("/fo"), [b"failover %d" % i]), 15)
        assert ok
    assert echo.count == 4
    lines = g.wait_session_lines(4, route="/fo")
    for line in lines:
        assert line.get("backend") == echo.spec, line["_line"]


def test_failover_unix_then_tcp(gateway_factory, backends, unix_dir):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/fo", {"backend": ["unix:%s/absent.sock" % unix_dir,
                                                     echo.spec]})])
    ok, _, _ = run_async(echo_roundtrip(g.url("/fo"), [b"via tcp"]), 15)
    assert ok


def test_failover_on_connect_timeout(gateway_factory, backends):
    """A backend that does not answer within connect_timeout counts as a
    connect error: the next one is tried."""
    from backendkit import Blackhole
    echo = backends(echo_handler)
    hole = Blackhole()
    try:
        g = gateway_factory(routes=[("/fo", {"backend": [hole.spec, echo.spec],
                                             "connect_timeout": "500ms"})])
        ok, _, _ = run_async(echo_roundtrip(g.url("/fo"), [b"after timeout"]), 15)
        assert ok
    finally:
        hole.close()


def test_all_backends_refuse_1014(gateway_factory):
    g = gateway_factory(routes=[("/fo", {"backend": ["tcp:127.0.0.1:%d" % closed_port(),
                                                     "tcp:127.0.0.1:%d" % closed_port()]})])
    ws = RawWS.open(g.port, path="/fo")
    f = ws.expect_close(1014, timeout=10)
    assert f.close_reason.startswith("bad gateway")
    ws.close()


def test_round_robin_two_live_backends(gateway_factory, backends):
    a = backends(greet_echo_handler(b"A"))
    b = backends(greet_echo_handler(b"B"))
    g = gateway_factory(routes=[("/rr", {"backend": [a.spec, b.spec]})])
    seen = []
    for i in range(8):
        ws = RawWS.open(g.port, path="/rr")
        f = ws.recv_frame(timeout=5)
        seen.append(f.payload[:1])
        ws.send_close(1000)
        ws.expect_close(1000, timeout=5)
        ws.close()
    assert a.count + b.count == 8
    assert a.count >= 2 and b.count >= 2, "A=%d B=%d (%r)" % (a.count, b.count, seen)
    assert abs(a.count - b.count) <= 2, "A=%d B=%d" % (a.count, b.count)


@pytest.mark.parametrize("first", ["refused", "timeout"])
def test_failover_carries_pipelined_data(gateway_factory, backends, first):
    """Frames that arrived while the first backend was failing reach the
    second one, complete and in order."""
    from backendkit import Blackhole
    rec = backends(record_handler)
    hole = Blackhole() if first == "timeout" else None
    try:
        dead = hole.spec if hole else "tcp:127.0.0.1:%d" % closed_port()
        g = gateway_factory(routes=[("/fo", {"backend": [dead, rec.spec],
                                             "connect_timeout": "500ms"})])
        parts = [os.urandom(n) for n in (10, 1000, 100_000)]
        ws = RawWS.open(g.port, path="/fo",
                        trailing=b"".join(build_frame(OP_BINARY, p) for p in parts))
        more = os.urandom(5000)
        ws.send_frame(OP_BINARY, more)      # possibly still connecting
        conn = rec.wait_conn(0, timeout=5)
        want = b"".join(parts) + more
        wait_for(lambda: conn.nreceived >= len(want), 5, what="data at backend 2")
        got = bytes(conn.received)
        if got != want:
            i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
                     min(len(got), len(want)))
            bounds = [len(parts[0]), len(parts[0]) + len(parts[1]), len(b"".join(parts))]
            raise AssertionError(
                "backend 2 got %d bytes, want %d; first difference at offset %d "
                "(message boundaries at %s); got[%d:+16]=%r want[%d:+16]=%r; "
                "later part found at %d" % (
                    len(got), len(want), i, bounds, i, got[i:i + 16], i,
                    want[i:i + 16], got.find(want[i:i + 64])))
        ws.send_close(1000)
        ws.expect_close(1000, timeout=5)
        ws.close()
    finally:
        if hole:
            hole.close()


def test_session_churn_mixed_endings(gateway_factory, backends):
    """Many short sessions that end every which way, some while data
    flows both ways: the gateway stays up and clean (ASan watches)."""
    from backendkit import rst_handler, send_then_eof, source_handler
    rng = random.Random(1234)
    echo = backends(echo_handler)
    src = backends(source_handler(4 * MiB), keep=False)
    rst = backends(rst_handler(b"r" * 5000))
    eof = backends(send_then_eof(b"e" * 20000))
    g = gateway_factory(routes=[
        ("/echo", {"backend": echo.spec}),
        ("/src", {"backend": src.spec}),
        ("/rst", {"backend": rst.spec}),
        ("/eof", {"backend": eof.spec}),
        ("/dead", {"backend": "tcp:127.0.0.1:%d" % closed_port()}),
    ])
    paths = ["/echo", "/src", "/rst", "/eof", "/dead"]
    t_end = time.monotonic() + 20
    opened = []
    for i in range(200):
        assert time.monotonic() < t_end, "churn took too long"
        path = rng.choice(paths)
        trailing = build_frame(OP_BINARY, os.urandom(rng.choice([0, 10, 5000, 70000])))
        ws = RawWS.open(g.port, path=path, trailing=trailing, timeout=5)
        for _ in range(rng.randint(0, 3)):
            ws.send_frame(OP_BINARY, os.urandom(rng.choice([1, 100, 20000])))
        time.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02]))
        how = rng.choice(["fin", "rst", "close", "close-read", "keep"])
        if how == "fin":
            ws.close()
        elif how == "rst":
            ws.abort()
        elif how == "close":
            ws.send_close(1000)
            ws.close()
        elif how == "close-read":
            ws.send_close(1000)
            try:
                ws.recv_until_close(timeout=5)
            except (OSError, AssertionError):
                pass
            ws.close()
        else:
            opened.append(ws)
        if len(opened) > 20:
            rng.choice([RawWS.abort, RawWS.close])(opened.pop(0))
    for ws in opened:
        ws.abort()
    assert g.alive()
    ok, _, _ = run_async(echo_roundtrip(g.url("/echo"), [b"after churn"]), 10)
    assert ok
