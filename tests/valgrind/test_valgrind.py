"""The release daemon under valgrind memcheck, through the paths that
allocate and free the most: relay, every close path, 1014s, heartbeat
teardown, handshake refusals, SIGTERM drain. Each test ends with SIGTERM;
wsgate must exit 0 and valgrind must report no error, no definite or
indirect leak, and no socket left open at exit.

    /usr/bin/python3 -m pytest tests/valgrind          (after `make`)

$WSGATE_RELEASE_BIN picks the binary (default ./wsgate).
"""

import asyncio
import os
import re
import shutil
import signal
import time

import pytest
import websockets

from backendkit import (Blackhole, echo_handler, record_handler, rst_handler,
                        send_then_eof)
from basekit import (MiB, closed_port, pattern_bytes, run_async, sha256,
                     wait_for)
from faultkit import valgrind_wrapper
from gatewaykit import WSGATE_RELEASE_BIN
from probekit import peer_read_all
from wskit import ConnectionEOF, OP_BINARY, OP_TEXT, RawWS, build_frame

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None,
                                reason="valgrind is not installed "
                                "(apt-get install valgrind)")

# valgrind runs the daemon 20-50 times slower: generous reads
T = 20


@pytest.fixture
def vg(gateway_factory, tmp_path):
    """vg(routes, gateway=None) -> Gateway running under valgrind.
    Call vg.finish(g) at the end: SIGTERM, exit 0, clean valgrind log."""
    log = str(tmp_path / "valgrind.%p.log")

    def make(routes, gateway=None):
        if not os.path.exists(WSGATE_RELEASE_BIN):
            pytest.fail("release binary not found: %s (run make)" % WSGATE_RELEASE_BIN)
        wrapper = valgrind_wrapper(tmp_path, WSGATE_RELEASE_BIN, log)
        opts = {"workers": 2, "drain_timeout": "5s"}
        opts.update(gateway or {})
        g = gateway_factory(routes=routes, gateway=opts, binary=wrapper, start=False)
        g.start(wait=False)
        g.wait_ready(timeout=60)
        return g
    make.finish = lambda g: _finish(g, tmp_path)
    return make


def _finish(g, tmp_path):
    rc = g.stop(signal.SIGTERM, timeout=90)
    logs = [p for p in os.listdir(str(tmp_path)) if p.startswith("valgrind.")]
    assert len(logs) == 1, logs
    text = open(os.path.join(str(tmp_path), logs[0])).read()
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    assert summary, "no valgrind summary:\n" + text[-3000:]
    problems = []
    if int(summary.group(1)) != 0:
        problems.append("valgrind found %s errors" % summary.group(1))
    for kind in ("definitely", "indirectly"):
        m = re.search(r"%s lost: ([\d,]+) bytes" % kind, text)
        if m and m.group(1) != "0":
            problems.append("%s lost: %s bytes" % (kind, m.group(1)))
    # --track-fds: what was still open at exit, besides stdin/out/err
    fds = re.findall(r"Open (AF_\w+ socket|file descriptor) (\d+):?\s*([^\n]*)"
                     r"\n==\d+==\s+(\S[^\n]*)", text)
    leaked = [f[:3] for f in fds if int(f[1]) > 2
              and "inherited from parent" not in f[3]]
    if leaked:
        problems.append("descriptors open at exit: %s" % leaked)
    if rc != 0:
        problems.append("wsgate exited with %s after SIGTERM" % rc)
    assert not problems, "; ".join(problems) + "\n--- valgrind log:\n" + text[-12000:]
    print("valgrind: %s" % summary.group(0))
    return text


def _echo_raw(g, path, payload, frame=64 * 1024):
    ws = RawWS.open(g.port, path=path, timeout=T)
    for i in range(0, len(payload), frame):
        ws.send_frame(OP_BINARY, payload[i:i + frame])
    got = bytearray()
    while len(got) < len(payload):
        got += ws.recv_frame(timeout=T).payload
    assert sha256(bytes(got)) == sha256(payload)
    return ws


def test_echo(vg, backends, unix_dir):
    echo = backends(echo_handler, keep=False)
    uecho = backends(echo_handler, unix=os.path.join(unix_dir, "e.sock"), keep=False)
    g = vg([("/echo", {"backend": echo.spec}), ("/u", {"backend": uecho.spec})])

    async def many():
        async def one(i):
            async with websockets.connect(g.url("/echo" if i % 2 else "/u"),
                                          max_size=None, open_timeout=T) as ws:
                # a byte stream: one message may come back in several
                for m in [os.urandom(n) for n in (1, 125, 126, 65535, 65536,
                                                  300_000)] + ["text ✓"]:
                    await ws.send(m)
                    want = m.encode() if isinstance(m, str) else m
                    got = b""
                    while len(got) < len(want):
                        got += await asyncio.wait_for(ws.recv(), T)
                    assert got == want
        await asyncio.gather(*(one(i) for i in range(8)))
    run_async(many(), 120)
    ws = _echo_raw(g, "/echo", pattern_bytes(2 * MiB, seed=1))
    ws.send_close(1000)
    ws.expect_close(1000, timeout=T)
    ws.close()
    wait_for(lambda: len(g.session_lines()) >= 9, T, what="session lines")
    vg.finish(g)


def test_close_semantics(vg, backends):
    rec = backends(record_handler)
    tail = pattern_bytes(500_000, seed=2)
    src = backends(send_then_eof(tail))
    g = vg([("/rec", {"backend": rec.spec, "max_message_size": "64K"}),
            ("/src", {"backend": src.spec})])
    # client close: the backend gets every byte, then EOF
    ws = RawWS.open(g.port, path="/rec", timeout=T)
    ws.send_frame(OP_BINARY, b"x" * 60_000)
    ws.send_close(1000, "bye")
    ws.expect_close(1000, timeout=T)
    ws.close()
    rec.wait_conn(0).wait_eof(T)
    # backend EOF: every byte, then 1000
    ws = RawWS.open(g.port, path="/src", timeout=T)
    data, f = ws.recv_until_close(timeout=T)
    assert data == tail and f.close_code == 1000
    ws.send_close(1000)
    ws.close()
    # protocol error 1002, bad UTF-8 1007, too big 1009
    for frame, code in ((build_frame(OP_BINARY, b"x", mask=False), 1002),
                        (build_frame(OP_TEXT, b"\xff\xfe"), 1007),
                        (build_frame(OP_BINARY, b"y" * 70_000), 1009),
                        (build_frame(0x3, b""), 1002)):
        ws = RawWS.open(g.port, path="/rec", timeout=T)
        ws.send(frame)
        ws.expect_close(code, timeout=T)
        ws.close()
    # clients that vanish: RST mid-message, FIN without a close frame
    for abort in (True, False):
        ws = RawWS.open(g.port, path="/rec", timeout=T)
        ws.send(build_frame(OP_BINARY, b"z" * 1000)[:500])
        wait_for(lambda: peer_read_all(ws.sock), T,
                 what="wsgate to read the half frame")
        ws.abort() if abort else ws.close()
    wait_for(lambda: len(g.session_lines()) >= 8, T, what="session lines")
    # refused before the upgrade: 400, 404, 405, 431, handshake timeout
    for raw in (b"GET / HTTP/1.0\r\n\r\n", b"NOPE\r\n\r\n",
                RawWS.request_head(path="/nowhere")[0],
                RawWS.request_head(method="POST")[0],
                b"GET /rec HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n"):
        ws = RawWS(g.port, timeout=T)
        ws.send(raw)
        try:
            ws.read_head()
            assert ws.status >= 400
        except ConnectionEOF:
            pass
        ws.close()
    silent = RawWS(g.port, timeout=T)
    silent.wait_eof()               # handshake_timeout (2 s) closes it
    silent.close()
    vg.finish(g)


def test_bad_gateway_1014(vg, backends):
    hole = Blackhole()
    try:
        rst = backends(rst_handler(b"r" * 10_000))
        g = vg([("/refused", {"backend": "tcp:127.0.0.1:%d" % closed_port()}),
                ("/hole", {"backend": hole.spec, "connect_timeout": "1s"}),
                ("/rst", {"backend": rst.spec}),
                ("/failover", {"backend": ["tcp:127.0.0.1:%d" % closed_port(),
                                           hole.spec],
                               "connect_timeout": "1s"})])
        for path in ("/refused", "/hole", "/rst", "/failover"):
            ws = RawWS.open(g.port, path=path, timeout=T)
            ws.send_frame(OP_BINARY, b"queued")
            ws.expect_close(1014, timeout=T)
            ws.send_close(1000)
            ws.close()
        # a client that leaves while the connect is under way
        ws = RawWS.open(g.port, path="/hole", timeout=T)
        ws.send_frame(OP_BINARY, b"queued")
        ws.abort()
        wait_for(lambda: len(g.session_lines()) >= 5, T,
                 what="the fifth session's end (connect_timeout is 1 s)")
        vg.finish(g)
    finally:
        hole.close()


def test_heartbeat_teardown(vg, backends):
    rec = backends(record_handler)
    g = vg([("/hb", {"backend": rec.spec, "heartbeat_interval": "500ms",
                     "heartbeat_timeout": "500ms"})])
    socks = [RawWS.open(g.port, path="/hb", timeout=T) for _ in range(4)]
    for i in range(4):
        rec.wait_conn(i).wait_eof(T)   # nobody answers the pings
    g.wait_log(r"heartbeat timeout", timeout=T)
    for ws in socks:
        ws.close()
    vg.finish(g)


def test_sigterm_drain(vg, backends):
    echo = backends(echo_handler)
    rec = backends(record_handler)
    g = vg([("/echo", {"backend": echo.spec}), ("/rec", {"backend": rec.spec})])
    live = [_echo_raw(g, "/echo", os.urandom(10_000)) for _ in range(4)]
    live += [RawWS.open(g.port, path="/rec", timeout=T) for _ in range(2)]
    for ws in live[4:]:
        ws.send_frame(OP_BINARY, b"pending" * 1000)
    rec.wait_conn(1)
    t0 = time.monotonic()
    g.send_signal(signal.SIGTERM)
    for ws in live:
        ws.expect_close(1001, timeout=T)
        ws.send_close(1001)
        ws.wait_eof(timeout=T)
        ws.close()
    g.proc.wait(60)                 # the drain ends the process by itself
    took = time.monotonic() - t0
    vg.finish(g)
    assert len(g.session_lines()) == 6
    assert "drain timeout" not in g.log_text(), \
        "sessions outlived the close handshake (%.1fs)" % took
