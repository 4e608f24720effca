"""permessage-deflate (RFC 7692) with compression = on: Python websockets
and Node's ws (Debian node-ws) negotiate it and round-trip text and
binary from 0 B to 16 MiB through the echo backend; the exact 101 and
frames on the wire with a raw client; a decompression bomb closes 1009
without the daemon's memory following it."""
import asyncio
import json
import os
import shutil
import subprocess
import zlib

import pytest
import websockets

from backendkit import echo_handler, record_handler
from basekit import MiB, pattern_bytes, run_async, wait_for
from gatewaykit import WSGATE_RELEASE_BIN
from wskit import OP_BINARY, OP_CONT, OP_TEXT, RawWS, build_frame

EXT = "permessage-deflate; server_no_context_takeover; " \
      "client_no_context_takeover"
SIZES = [0, 1, 63, 64, 1000, 65536, MiB, 16 * MiB]
NODE_WS = "/usr/share/nodejs/ws"


def text_of(n):
    """n bytes of text-like UTF-8 (multi-byte characters too)."""
    words = ["gateway ", "session ", "d\u00e9j\u00e0 ", "\u20ac42 ",
             "{\"id\": 7} ", "line\n"]
    out, size, i = [], 0, 0
    while size < n:
        w = words[i % len(words)]
        i += 1
        out.append(w)
        size += len(w.encode())
    s = "".join(out).encode()[:n]
    while True:          # cut back to a whole character
        try:
            return s.decode()
        except UnicodeDecodeError:
            s = s[:-1]


def routes(backend):
    return [("/echo", {"backend": backend.spec, "compression": "on"}),
            ("/text", {"backend": backend.spec, "compression": "on",
                       "framing": "text"}),
            ("/plain", {"backend": backend.spec})]


def test_python_websockets_round_trip(gateway, backends):
    be = backends(echo_handler)
    gw = gateway(routes=routes(be))

    async def go():
        async with websockets.connect(gw.url("/text"), max_size=None,
                                      compression="deflate") as ws:
            assert ws.response_headers["Sec-WebSocket-Extensions"] == EXT
            for n in SIZES:
                msg = text_of(n)
                await ws.send(msg)
                got = ""
                while len(got.encode()) < len(msg.encode()):
                    r = await ws.recv()
                    assert isinstance(r, str)
                    got += r
                assert got == msg, n
        async with websockets.connect(gw.url("/echo"), max_size=None,
                                      compression="deflate") as ws:
            for n in SIZES:
                msg = pattern_bytes(n, seed=n)
                await ws.send(msg)
                got = b""
                while len(got) < n:
                    r = await ws.recv()
                    assert isinstance(r, bytes)
                    got += r
                assert got == msg, n
    run_async(go(), timeout=180)


@pytest.mark.skipif(not os.path.exists(NODE_WS) or not shutil.which("node"),
                    reason="Debian node-ws and node needed")
def test_node_ws_round_trip(gateway, backends, tmp_path):
    be = backends(echo_handler)
    gw = gateway(routes=routes(be))
    js = os.path.join(str(tmp_path), "client.js")
    with open(js, "w") as f:
        f.write(r"""
const WebSocket = require(%s);
const sizes = %s;
function text(n) {
  const words = ["gateway ", "session ", "d\u00e9j\u00e0 ", "\u20ac42 ",
                 "{\"id\": 7} ", "line\n"];
  const parts = [];
  let size = 0, i = 0;
  while (size < n) { const w = words[i++ %% 6]; parts.push(w);
                     size += Buffer.byteLength(w); }
  let b = Buffer.from(parts.join("")).subarray(0, n);
  while (true) {          // cut back to a whole character
    const s = b.toString("utf8");
    if (Buffer.byteLength(s) === b.length && !s.includes("\ufffd")) return s;
    b = b.subarray(0, b.length - 1);
  }
}
async function run(path, binary) {
  const ws = new WebSocket(process.argv[2] + path,
      { perMessageDeflate: true, maxPayload: 0 });
  await new Promise((ok, ko) => { ws.on("open", ok); ws.on("error", ko); });
  const out = { extensions: ws.extensions, ok: [] };
  let want = 0, got = [], done;
  ws.on("message", (data, isBinary) => {
    if (isBinary !== binary) throw new Error("wrong message type");
    got.push(Buffer.from(data));
    if (Buffer.concat(got).length >= want) done();
  });
  for (const n of sizes) {
    let msg;
    if (binary) {
      msg = Buffer.alloc(n);
      for (let i = 0; i < n; i++) msg[i] = (i * 7 + n) & 255;
    } else msg = text(n);
    want = Buffer.byteLength(msg); got = [];
    const p = new Promise(r => { done = r; });
    ws.send(msg);
    if (want > 0) await p;
    const back = Buffer.concat(got);
    if (!back.equals(Buffer.from(msg))) throw new Error("mismatch at " + n);
    out.ok.push(n);
  }
  ws.close(1000);
  await new Promise(r => ws.on("close", (code) => { out.code = code; r(); }));
  return out;
}
(async () => {
  const t = await run("/text", false), b = await run("/echo", true);
  console.log(JSON.stringify({ text: t, binary: b }));
})().catch(e => { console.error(e); process.exit(1); });
""" % (json.dumps(NODE_WS), json.dumps(SIZES)))
    r = subprocess.run(["node", js, "ws://127.0.0.1:%d" % gw.port],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    for kind in ("text", "binary"):
        assert res[kind]["ok"] == SIZES
        assert res[kind]["code"] == 1000
        # ws names the extensions agreed (parameters are its own)
        assert res[kind]["extensions"] == "permessage-deflate"


def raw_open(gw, path="/echo", offer="permessage-deflate; "
             "client_max_window_bits", **kw):
    extra = ["Sec-WebSocket-Extensions: " + offer] if offer else []
    return RawWS.open(gw.port, path=path, extra=extra, **kw)


def deflate(data, final=False):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_FINISH if final else
                                     zlib.Z_SYNC_FLUSH)
    return out if final else out[:-4]


def test_raw_wire_format(gateway, backends):
    rec = backends(record_handler)
    gw = gateway(routes=routes(rec))
    ws = raw_open(gw)
    assert ws.headers["sec-websocket-extensions"] == EXT
    # RFC 7692 §7.2.3.1 "Hello", and §7.2.3.4 with BFINAL set
    ws.send(build_frame(OP_TEXT, bytes.fromhex("f248cdc9c90700"), rsv=4))
    ws.send(build_frame(OP_TEXT, bytes.fromhex("f348cdc9c9070000"), rsv=4))
    # a compressed message in three frames, RSV1 on the first only
    z = deflate(b"fragmented " * 50)
    ws.send(build_frame(OP_BINARY, z[:5], fin=False, rsv=4))
    ws.send(build_frame(OP_CONT, z[5:9], fin=False))
    ws.send(build_frame(OP_CONT, z[9:]))
    # an uncompressed message on the same session
    ws.send(build_frame(OP_BINARY, b"plain"))
    c = rec.wait_conn()
    want = b"HelloHello" + b"fragmented " * 50 + b"plain"
    wait_for(lambda: bytes(c.received) == want, 10, what="backend bytes")
    # backend to client: 64 bytes or more go compressed, fewer as they are
    c.sock.sendall(b"x" * 63)
    f = ws.recv_frame()
    assert (f.rsv, f.opcode, f.payload) == (0, OP_BINARY, b"x" * 63)
    c.sock.sendall(b"y" * 5000)
    f = ws.recv_frame()
    assert f.rsv == 4 and f.opcode == OP_BINARY and len(f.payload) < 100
    d = zlib.decompressobj(-15)
    assert d.decompress(f.payload + b"\x00\x00\xff\xff") == b"y" * 5000
    ws.send_close(1000)
    ws.expect_close(1000)


def test_not_offered_or_declined_is_a_plain_session(gateway, backends):
    be = backends(echo_handler)
    gw = gateway(routes=routes(be))
    for offer in (None, "x-webkit-deflate-frame",
                  "permessage-deflate; server_max_window_bits=8",
                  "permessage-deflate; bogus_param"):
        ws = raw_open(gw, offer=offer)
        assert "sec-websocket-extensions" not in ws.headers, offer
        ws.send(build_frame(OP_BINARY, b"z" * 500))
        f = ws.recv_frame()
        assert f.rsv == 0 and f.payload == b"z" * 500
        # RSV1 without the extension is a protocol error (RFC 6455 §5.2)
        ws.send(build_frame(OP_BINARY, b"zz", rsv=4))
        ws.expect_close(1002)
        ws.close()
    # a route with compression off never agrees to it
    ws = raw_open(gw, path="/plain")
    assert "sec-websocket-extensions" not in ws.headers
    ws.close()


@pytest.mark.parametrize("frames,code", [
    # RSV1 on a continuation frame (RFC 7692 §6.1)
    ([(OP_BINARY, b"\xf2\x48", False, 4), (OP_CONT, b"\xcd", True, 4)], 1002),
    # RSV1 on a control frame
    ([(0x9, b"", True, 4)], 1002),
    # not deflate data at all
    ([(OP_BINARY, b"\xff\xff\xff\xff", True, 4)], 1007),
    # deflate of invalid UTF-8 in a text message
    ([(OP_TEXT, None, True, 4)], 1007),
])
def test_bad_compressed_input(gateway, backends, frames, code):
    be = backends(echo_handler)
    gw = gateway(routes=routes(be))
    ws = raw_open(gw)
    for op, payload, fin, rsv in frames:
        if payload is None:
            payload = deflate(b"ok \xff\xfe bad")
        ws.send(build_frame(op, payload, fin=fin, rsv=rsv))
    ws.expect_close(code)
    ws.close()


def bomb_payload():
    """About 1 MiB of deflate that inflates to 1 GiB of zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zero = bytes(MiB)
    parts = [c.compress(zero) for _ in range(1024)]
    parts.append(c.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts)[:-4]


def test_bomb_closes_1009_and_memory_stays_flat(gateway, backends):
    rec = backends(record_handler)
    gw = gateway(routes=routes(rec), binary=WSGATE_RELEASE_BIN)
    bomb = bomb_payload()
    assert len(bomb) < 2 * MiB
    # warm up: one ordinary compressed session
    ws = raw_open(gw)
    ws.send(build_frame(OP_BINARY, deflate(b"warm" * 1000), rsv=4))
    c = rec.wait_conn(0)
    wait_for(lambda: len(c.received) == 4000, 10, what="warm bytes")
    ws.send_close(1000)
    ws.expect_close(1000)
    ws.close()
    before = gw.rss()
    for i in range(3):
        ws = raw_open(gw, timeout=30)
        ws.send(build_frame(OP_BINARY, bomb, rsv=4))
        f = ws.expect_close(1009)
        assert "too big" in f.close_reason
        ws.close()
        # the backend got at most max_message_size (16 MiB) of it
        c = rec.wait_conn(i + 1)
        c.wait_eof(10)
        assert len(c.received) <= 16 * MiB
    after = gw.rss()
    print("3 bombs of %d bytes (1 GiB inflated each): RSS %d -> %d KiB"
          % (len(bomb), before // 1024, after // 1024))
    # a bomb is not inflated past the limit, nor faster than the backend
    # takes it: no growth anywhere near the 1 GiB it stands for
    assert after - before < 8 * MiB, (before, after)


def test_idle_compressed_sessions_hold_no_zlib_state(gateway, backends):
    """After compressed traffic both ways, idle sessions hold no zlib
    state: 300 sessions that kept theirs (~300 KiB each) would add ~90 MiB;
    the budget is 4 KiB a session."""
    from basekit import raise_nofile_limit
    n = 300
    if raise_nofile_limit() < 2 * n + 100:
        pytest.skip("RLIMIT_NOFILE too low for %d sessions" % n)
    be = backends(echo_handler)
    gw = gateway(routes=[("/echo", {"backend": be.spec, "compression": "on",
                                    "heartbeat_interval": "0"})],
                 binary=WSGATE_RELEASE_BIN)
    clients = [raw_open(gw, timeout=30) for _ in range(n)]
    for ws in clients:
        ws.send_frame(OP_BINARY, b"x")
        assert ws.recv_frame(timeout=10).payload == b"x"
    gw.wait_idle()
    base = gw.rss()
    text = ("session %d: " % 7).encode() + b"compressible text " * 4000
    z = deflate(text)
    for ws in clients:
        ws.send(build_frame(OP_BINARY, z, rsv=4))
        got = b""
        while len(got) < len(text):
            f = ws.recv_frame(timeout=10)
            if f.rsv == 4:
                got += zlib.decompressobj(-15).decompress(
                    f.payload + b"\x00\x00\xff\xff")
            else:
                got += f.payload
        assert got == text
    gw.wait_idle()                      # every session done with zlib
    growth = gw.rss() - base
    print("%d compressed sessions, then idle: RSS %+d KiB (%.2f KiB a "
          "session)" % (n, growth // 1024, growth / 1024 / n))
    assert growth < n * 4096, "%.1f KiB a session" % (growth / 1024 / n)
    for ws in clients:
        ws.close()


def test_bomb_to_a_backend_that_does_not_read_stays_small(gateway, backends):
    """Inflation stops while the backend's output is full (max_buffer),
    as the plain relay stops reading the client: a bomb whose backend
    reads nothing costs the daemon about max_buffer, not the 16 MiB
    max_message_size it could inflate to (all of it queued at once
    before inflation paused)."""
    from backendkit import read_nothing_handler
    import time
    be = backends(read_nothing_handler)
    gw = gateway(routes=routes(be), binary=WSGATE_RELEASE_BIN)
    ws = raw_open(gw, timeout=30)
    ws.send(build_frame(OP_BINARY, deflate(b"warm" * 100), rsv=4))
    be.wait_conn(0)
    gw.wait_idle()                      # the warm-up frame handled
    before = gw.rss()
    ws.send(build_frame(OP_BINARY, bomb_payload(), rsv=4))
    peak = before
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:     # sampling, not synchronising
        peak = max(peak, gw.rss())
        time.sleep(0.02)
    print("bomb to a backend that reads nothing: RSS %d -> peak %d KiB"
          % (before // 1024, peak // 1024))
    assert peak - before < 4 * MiB, (before, peak)
    # the session is alive and paused, not failed: the client can go
    ws.send_close(1000)
    ws.close()
