#!/usr/bin/python3
"""
wsgate soak: thousands of sessions opening and closing with mixed traffic and
faults against the release daemon, for a bounded time; then the daemon's
descriptors and RSS must be back at their baseline, every verified byte
must have arrived intact (sha256 per session), and it must exit 0 on SIGTERM.

    SOAK_SECONDS=600 /usr/bin/python3 tests/soak/soak.py      (sh tests/soak/run.sh)

Environment: SOAK_SECONDS (default 600), SOAK_CONCURRENCY (48),
WSGATE_RELEASE_BIN (default ./wsgate), SOAK_KEEP=1 keeps the work directory,
SOAK_SEED for a reproducible mix, SOAK_KINDS=echo,download,... to run only
some kinds. Loopback and Unix sockets only.

Session kinds (weights in KINDS): echo over TCP and Unix backends (random
sizes, fragmented and text messages), large messages, downloads, slow
readers, uploads that end with a close, clients that drop (RST or FIN, mid
frame), backends that reset mid-stream, refused backends, protocol errors,
clients that stop answering pings.
"""

import asyncio
import base64
import collections
import contextvars
import fcntl
import hashlib
import os
import random
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("WSGATE_RELEASE_BIN", os.path.join(ROOT, "wsgate"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "48"))
SEED = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
MiB = 1024 * 1024
SESSION_DEADLINE = 120.0
RSS_SLACK_KIB = 16 * 1024      # allocator slack allowed over the warm baseline

KINDS = [                      # (name, weight)
    ("echo", 30), ("echo_unix", 10), ("large", 3), ("download", 12),
    ("slow_reader", 5), ("upload_close", 10), ("drop_upload", 8),
    ("drop_download", 4), ("backend_reset", 7), ("refused", 3),
    ("protocol_error", 4), ("heartbeat_dead", 1),
]


# ------------------------------------------------------------------ data

_blocks = {}


def pattern(n, seed):
    """n deterministic bytes for seed (a 64 KiB block repeated)."""
    b = _blocks.get(seed)
    if b is None:
        b = b"".join(hashlib.sha256(b"soak-%d-%d" % (seed, i)).digest()
                     for i in range(2048))
        _blocks[seed] = b
    reps, rest = divmod(n, len(b))
    return b * reps + b[:rest]


def mask(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame(op, payload, fin=True, masked=True):
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    mb = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, mb | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mb | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mb | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + mask(payload, key)


TEXT_CHARS = "abcdefghij KLMNOP 0123456789 éüß ✓€ 漢字 🙂"


def random_text(rng, nbytes):
    out, size = [], 0
    while size < nbytes:
        c = rng.choice(TEXT_CHARS)
        out.append(c)
        size += len(c.encode())
    return "".join(out).encode()


def log_size(rng, lo, hi):
    """A size between lo and hi, log-uniform (many small, some large)."""
    import math
    return int(math.exp(rng.uniform(math.log(lo + 1), math.log(hi + 1)))) - 1


class Fail(Exception):
    pass


# the connections a session opened, closed by its worker whatever happened
LIVE = contextvars.ContextVar("live")
# where a session is, for the failure report: [text]
STAGE = contextvars.ContextVar("stage")


def stage(text):
    STAGE.get()[0] = text


# ------------------------------------------------------------------ client

class WS:
    """A minimal asyncio WebSocket client that can misbehave on purpose."""

    def __init__(self, reader, writer, status):
        self.r, self.w, self.status = reader, writer, status
        self.pings = 0
        self.answer_pings = True

    @classmethod
    async def open(cls, addr, path, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, addr)
        r, w = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write(("GET %s HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
        head = await r.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        want = base64.b64encode(hashlib.sha1(
            key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        if status == 101 and want not in head:
            raise Fail("bad Sec-WebSocket-Accept")
        return cls(r, w, status)

    async def send(self, op, payload, fin=True):
        self.w.write(frame(op, payload, fin))
        await self.w.drain()

    async def send_close(self, code=1000):
        await self.send(0x8, struct.pack("!H", code))

    async def recv_frame(self, slow=None):
        """(op, payload); slow=(chunk, delay) reads the payload in pieces.
        Answers pings. Raises EOFError at the end of the stream."""
        while True:
            try:
                h = await self.r.readexactly(2)
                n = h[1] & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await self.r.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await self.r.readexactly(8))[0]
                if h[1] & 0x80:
                    raise Fail("server frame is masked")
                if slow is None or n <= slow[0]:
                    p = await self.r.readexactly(n)
                else:
                    parts = []
                    left = n
                    while left:
                        k = min(left, slow[0])
                        parts.append(await self.r.readexactly(k))
                        left -= k
                        await asyncio.sleep(slow[1])
                    p = b"".join(parts)
            except (asyncio.IncompleteReadError, ConnectionError):
                raise EOFError()
            op = h[0] & 0xF
            if op == 0x9:
                self.pings += 1
                if self.answer_pings:
                    self.w.write(frame(0xA, p))
                continue
            return op, p

    async def read_data(self, want, hasher, slow=None):
        """Read data frames until want bytes; returns the next non-data
        frame if the stream ends early ((op, payload) or None for EOF)."""
        got = 0
        while got < want:
            stage("reading data: %d of %d bytes" % (got, want))
            try:
                op, p = await self.recv_frame(slow)
            except EOFError:
                return got, None
            if op in (0x0, 0x1, 0x2):
                hasher.update(p)
                got += len(p)
            else:
                return got, (op, p)
        return got, "done"

    async def expect_close(self, codes, timeout=20.0):
        """Read until a close frame; its code must be in codes."""
        stage("waiting for close %s" % (codes,))
        async def go():
            while True:
                op, p = await self.recv_frame()
                if op == 0x8:
                    return struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005, p[2:]
                if op in (0x0, 0x1, 0x2):
                    raise Fail("unexpected %d data bytes before the close" % len(p))
        try:
            code, reason = await asyncio.wait_for(go(), timeout)
        except EOFError:
            raise Fail("EOF instead of a close frame (wanted %s)" % (codes,))
        if code not in codes:
            raise Fail("close %d %r, wanted %s" % (code, reason, codes))
        return code, reason

    async def expect_eof(self, timeout=15.0):
        stage("waiting for EOF")
        async def go():
            while await self.r.read(65536):
                pass
        try:
            await asyncio.wait_for(go(), timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.TimeoutError:
            raise Fail("no EOF from the gateway within %.0fs" % timeout)

    def abort(self, rst=True):
        sock = self.w.get_extra_info("socket")
        if rst and sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.w.transport.abort() if rst else self.w.close()

    def close(self):
        self.w.transport.abort()


# ------------------------------------------------------------------ backends

class Backends:
    """Every backend in this process. Results by the session's token."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.sink = {}            # token -> (nbytes, sha256 hex) at EOF
        self.src_end = {}         # token -> "done" | "error"
        self.waiters = collections.defaultdict(list)
        self.servers = []
        self.conns = 0

    def _done(self, table, token, value):
        table[token] = value
        for f in self.waiters.pop(token, []):
            if not f.done():
                f.set_result(value)

    async def wait(self, table, token, timeout):
        if token in table:
            return table[token]
        f = asyncio.get_running_loop().create_future()
        self.waiters[token].append(f)
        try:
            return await asyncio.wait_for(f, timeout)
        except asyncio.TimeoutError:
            return table.get(token)

    async def start(self):
        async def tcp(handler):
            s = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=1024)
            self.servers.append(s)
            return "tcp:127.0.0.1:%d" % s.sockets[0].getsockname()[1]
        self.echo = await tcp(self.echo_handler)
        path = os.path.join(self.workdir, "echo.sock")
        s = await asyncio.start_unix_server(self.echo_handler, path, backlog=1024)
        self.servers.append(s)
        self.uecho = "unix:" + path
        self.src = await tcp(self.src_handler)
        self.rst = await tcp(self.rst_handler)
        self.sinkspec = await tcp(self.sink_handler)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.refused = "tcp:127.0.0.1:%d" % s.getsockname()[1]
        s.close()

    async def echo_handler(self, r, w):
        self.conns += 1
        try:
            while True:
                d = await r.read(65536)
                if not d:
                    break
                w.write(d)
                await w.drain()
        except ConnectionError:
            pass
        finally:
            w.transport.abort() if w.transport.is_closing() else w.close()

    async def src_handler(self, r, w):
        """token(16) n(8) seed(4): send pattern(n, seed), then EOF."""
        self.conns += 1
        token = None
        try:
            hdr = await r.readexactly(28)
            token, (n, seed) = hdr[:16], struct.unpack("!QI", hdr[16:])
            data = pattern(n, seed)
            for i in range(0, n, 256 * 1024):
                w.write(data[i:i + 256 * 1024])
                await w.drain()
            w.write_eof()
            while await r.read(65536):
                pass
            self._done(self.src_end, token, "done")
        except (ConnectionError, asyncio.IncompleteReadError):
            if token is not None:
                self._done(self.src_end, token, "error")
        finally:
            w.close()

    async def rst_handler(self, r, w):
        """token(16) n(8): send pattern(n, 9), wait until all of it was
        acknowledged, then reset."""
        self.conns += 1
        try:
            hdr = await r.readexactly(24)
            n = struct.unpack("!Q", hdr[16:])[0]
            w.write(pattern(n, 9))
            await w.drain()
            sock = w.get_extra_info("socket")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                q = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                                   b"\0\0\0\0"))[0]
                if q == 0:
                    break
                await asyncio.sleep(0.005)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            w.transport.abort()

    async def sink_handler(self, r, w):
        """token(16), then everything until EOF: record (n, sha256)."""
        self.conns += 1
        h = hashlib.sha256()
        n = 0
        token = None
        buf = b""
        try:
            while True:
                d = await r.read(65536)
                if not d:
                    break
                if token is None:
                    buf += d
                    if len(buf) < 16:
                        continue
                    token, d = buf[:16], buf[16:]
                h.update(d)
                n += len(d)
        except ConnectionError:
            pass
        finally:
            if token is not None:
                self._done(self.sink, token, (n, h.hexdigest()))
            w.close()


# ------------------------------------------------------------------ sessions

class Soak:
    def __init__(self, addr, be, rng):
        self.addr, self.be, self.rng = addr, be, rng
        self.stats = collections.defaultdict(collections.Counter)
        self.failures = []
        self.upgraded = 0
        self.bytes_up = 0       # verified at the far end
        self.bytes_down = 0

    async def opened(self, path, **kw):
        ws = await WS.open(self.addr, path, **kw)
        LIVE.get().append(ws)
        if ws.status != 101:
            raise Fail("HTTP %d for %s" % (ws.status, path))
        self.upgraded += 1
        return ws

    async def finish(self, ws, code=1000):
        """Our close, its echo, then EOF."""
        await ws.send_close(code)
        await ws.expect_close((code,))
        await ws.expect_eof()

    # -- kinds

    async def k_echo(self, path="/echo"):
        rng = self.rng
        msgs = []
        for _ in range(rng.randint(1, 20)):
            n = log_size(rng, 0, 256 * 1024)
            text = rng.random() < 0.3
            msgs.append((0x1 if text else 0x2,
                         random_text(rng, n) if text else os.urandom(n)))
        await self._echo(path, msgs)

    async def k_echo_unix(self):
        await self.k_echo("/uecho")

    async def k_large(self):
        n = self.rng.randint(4 * MiB, 16 * MiB)
        await self._echo("/echo", [(0x2, os.urandom(n))])

    async def _echo(self, path, msgs):
        ws = await self.opened(path)
        total = sum(len(m) for _, m in msgs)
        sent, got = hashlib.sha256(), hashlib.sha256()
        reader = asyncio.ensure_future(ws.read_data(total, got))
        for op, m in msgs:
            sent.update(m)
            pieces = self.rng.randint(1, 4) if len(m) > 4 else 1
            cuts = sorted(self.rng.sample(range(1, len(m)), pieces - 1)) if pieces > 1 else []
            bounds = [0] + cuts + [len(m)]
            for i in range(len(bounds) - 1):
                await ws.send(op if i == 0 else 0x0, m[bounds[i]:bounds[i + 1]],
                              fin=(i == len(bounds) - 2))
        n, end = await reader
        if n != total or end != "done":
            raise Fail("echo: %d of %d bytes back (%r)" % (n, total, end))
        if sent.hexdigest() != got.hexdigest():
            raise Fail("echo: sha256 mismatch over %d bytes" % total)
        await self.finish(ws)
        self.bytes_up += total
        self.bytes_down += total

    async def _download(self, n, slow=None, rcvbuf=None):
        ws = await self.opened("/src", rcvbuf=rcvbuf)
        token = os.urandom(16)
        seed = self.rng.randrange(16)
        await ws.send(0x2, token + struct.pack("!QI", n, seed))
        h = hashlib.sha256()
        got, end = await ws.read_data(n, h, slow)
        if got != n:
            raise Fail("download: %d of %d bytes then %r" % (got, n, end))
        if h.hexdigest() != hashlib.sha256(pattern(n, seed)).hexdigest():
            raise Fail("download: sha256 mismatch over %d bytes" % n)
        await ws.expect_close((1000,))
        await ws.send_close(1000)
        await ws.expect_eof()
        self.bytes_down += n

    async def k_download(self):
        await self._download(log_size(self.rng, 0, 4 * MiB))

    async def k_slow_reader(self):
        # ~0.5-2 MB/s: slow, but within the 10 s closing linger (see LIMITS.md)
        await self._download(self.rng.randint(256 * 1024, 2 * MiB),
                             slow=(self.rng.choice((1024, 2048, 4096)), 0.002),
                             rcvbuf=8192)

    async def k_upload_close(self):
        ws = await self.opened("/sink")
        token = os.urandom(16)
        data = os.urandom(log_size(self.rng, 0, 2 * MiB))
        await ws.send(0x2, token)
        for i in range(0, len(data), 100_000):
            await ws.send(0x2, data[i:i + 100_000])
        await self.finish(ws)
        res = await self.be.wait(self.be.sink, token, 15)
        if res is None:
            raise Fail("upload: the backend never saw EOF")
        if res != (len(data), hashlib.sha256(data).hexdigest()):
            raise Fail("upload: backend got %d bytes of %d (or other bytes)"
                       % (res[0], len(data)))
        self.bytes_up += len(data)

    async def k_drop_upload(self):
        """Send some frames and part of another, then RST or FIN: the backend
        leg must end, with an intact prefix of what was sent."""
        ws = await self.opened("/sink")
        token = os.urandom(16)
        stream = bytearray()
        await ws.send(0x2, token)
        for _ in range(self.rng.randint(0, 5)):
            m = os.urandom(log_size(self.rng, 0, 200_000))
            stream += m
            await ws.send(0x2, m)
        m = os.urandom(self.rng.randint(2, 50_000))
        f = frame(0x2, m)
        cut = self.rng.randint(1, len(f) - 1)
        ws.w.write(f[:cut])
        await ws.w.drain()
        stream += m           # some prefix of it may be relayed
        await asyncio.sleep(self.rng.choice((0, 0.01, 0.1)))
        ws.abort(rst=self.rng.random() < 0.5)
        res = await self.be.wait(self.be.sink, token, 15)
        if res is None:
            raise Fail("drop: backend leg still open 15 s after the client left")
        n, digest = res
        if n > len(stream) or hashlib.sha256(bytes(stream[:n])).hexdigest() != digest:
            raise Fail("drop: backend got %d bytes that are not a prefix of the %d sent"
                       % (n, len(stream)))
        self.bytes_up += n

    async def k_drop_download(self):
        ws = await self.opened("/src")
        token = os.urandom(16)
        await ws.send(0x2, token + struct.pack("!QI", 64 * MiB, 1))
        h = hashlib.sha256()
        await ws.read_data(self.rng.randint(1, 2 * MiB), h)
        ws.abort(rst=self.rng.random() < 0.5)
        res = await self.be.wait(self.be.src_end, token, 15)
        if res is None:
            raise Fail("drop during download: backend leg still open after 15 s")

    async def k_backend_reset(self):
        ws = await self.opened("/rst")
        token = os.urandom(16)
        n = log_size(self.rng, 0, 1 * MiB)
        await ws.send(0x2, token + struct.pack("!Q", n))
        h = hashlib.sha256()
        got, end = await ws.read_data(n, h)
        if got != n or h.hexdigest() != hashlib.sha256(pattern(n, 9)).hexdigest():
            raise Fail("reset: %d of %d acknowledged bytes before the end (%r)"
                       % (got, n, end))
        if end == "done":
            await ws.expect_close((1014,))
        elif end is None or end[0] != 0x8 or struct.unpack("!H", end[1][:2])[0] != 1014:
            raise Fail("reset: ended with %r instead of 1014" % (end,))
        await ws.send_close(1000)
        await ws.expect_eof()
        self.bytes_down += n

    async def k_refused(self):
        ws = await self.opened("/refused")
        await ws.send(0x2, b"lost")
        await ws.expect_close((1014,))
        await ws.send_close(1000)
        await ws.expect_eof()

    async def k_protocol_error(self):
        ws = await self.opened("/echo")
        bad = self.rng.choice((frame(0x2, b"unmasked", masked=False),
                               frame(0x3, b""), frame(0x9, b"x" * 126),
                               frame(0x1, b"\xc3\x28")))
        ws.w.write(bad)
        await ws.w.drain()
        await ws.expect_close((1002, 1007))
        await ws.expect_eof()

    async def k_heartbeat_dead(self):
        """Stop answering pings: both legs go within interval + timeout."""
        ws = await self.opened("/hbdead")
        ws.answer_pings = False
        token = os.urandom(16)
        await ws.send(0x2, token)
        t0 = time.monotonic()
        res = await self.be.wait(self.be.sink, token, 10)
        if res is None:
            raise Fail("heartbeat: backend leg still open after 10 s")
        if time.monotonic() - t0 > 1 + 1 + 2:
            raise Fail("heartbeat: backend leg closed after %.1fs" % (time.monotonic() - t0))
        try:
            while True:
                op, _ = await asyncio.wait_for(ws.recv_frame(), 5)
                if op == 0x8:
                    raise Fail("heartbeat: a close frame for a dead client")
        except EOFError:
            pass
        ws.close()

    # -- driver

    async def worker(self, deadline):
        only = os.environ.get("SOAK_KINDS")
        kinds = [kw for kw in KINDS if not only or kw[0] in only.split(",")]
        names = [k for k, _ in kinds]
        weights = [w for _, w in kinds]
        while time.monotonic() < deadline:
            kind = self.rng.choices(names, weights)[0]
            fn = getattr(self, "k_" + kind)
            st = self.stats[kind]
            st["run"] += 1
            live = []
            LIVE.set(live)
            where = ["starting"]
            STAGE.set(where)
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(fn(), SESSION_DEADLINE)
                st["ok"] += 1
            except Exception as e:      # every failure is reported
                st["fail"] += 1
                if len(self.failures) < 200:
                    port = live[0].w.get_extra_info("sockname")[1] if live else "-"
                    self.failures.append("%s (client port %s, after %.1fs, %s): %s: %s"
                                         % (kind, port, time.monotonic() - t0,
                                            where[0], type(e).__name__, e))
            finally:
                for ws in live:
                    ws.close()

    async def run(self, seconds, workers):
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(self.worker(deadline) for _ in range(workers)))


# ------------------------------------------------------------------ daemon

def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def write_config(path, port, be):
    routes = {
        "/echo": {"backend": be.echo},
        "/uecho": {"backend": be.uecho},
        "/src": {"backend": be.src},
        "/rst": {"backend": be.rst},
        "/sink": {"backend": be.sinkspec},
        "/refused": {"backend": be.refused},
        "/hbdead": {"backend": be.sinkspec, "heartbeat_interval": "1s",
                    "heartbeat_timeout": "1s"},
    }
    lines = ["[gateway]", "listen = 127.0.0.1:%d" % port, "log_level = info",
             "handshake_timeout = 5s", "drain_timeout = 5s",
             "max_message_size = 32M"]
    for p, keys in routes.items():
        lines.append("\n[route %s]" % p)
        lines += ["%s = %s" % kv for kv in keys.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def session_lines(log_path):
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return [l for l in text.splitlines() if " up=" in l and " down=" in l], text


async def wait_quiet(pid, log_path, upgraded, fds0=None, timeout=60):
    """Until the daemon logged a session line per upgraded session (and, if
    given, its descriptors are back to fds0)."""
    deadline = time.monotonic() + timeout
    while True:
        n = len(session_lines(log_path)[0])
        f = fds(pid)
        if n >= upgraded and (fds0 is None or f <= fds0):
            return n, f
        if time.monotonic() > deadline:
            return n, f
        await asyncio.sleep(0.2)


async def sampler(pid, peak, stop):
    while not stop.is_set():
        try:
            peak["rss"] = max(peak["rss"], rss_kib(pid))
            peak["fds"] = max(peak["fds"], fds(pid))
        except OSError:
            return
        await asyncio.sleep(0.5)


async def main():
    if not os.access(BIN, os.X_OK):
        sys.exit("soak: no release binary at %s (run make)" % BIN)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rng = random.Random(SEED)
    work = tempfile.mkdtemp(prefix="wsgate-soak-")
    be = Backends(work)
    await be.start()
    port = free_port()
    conf = os.path.join(work, "soak.conf")
    log_path = os.path.join(work, "wsgate.log")
    write_config(conf, port, be)
    logf = open(log_path, "wb")
    proc = subprocess.Popen([BIN, "-d", "-c", conf], stdout=logf, stderr=logf,
                            stdin=subprocess.DEVNULL)
    addr = ("127.0.0.1", port)
    for _ in range(200):
        try:
            s = socket.create_connection(addr, timeout=1)
            s.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    print("soak: %s, %.0f s, %d clients at once, seed %d, work dir %s"
          % (BIN, SECONDS, CONCURRENCY, SEED, work), flush=True)
    await asyncio.sleep(0.5)
    fds_fresh, rss_fresh = fds(proc.pid), rss_kib(proc.pid)

    soak = Soak(addr, be, rng)
    peak = {"rss": rss_fresh, "fds": fds_fresh}
    stop = asyncio.Event()
    samp = asyncio.ensure_future(sampler(proc.pid, peak, stop))
    # warm-up: the allocator's arenas and libevent's tables reach their
    # working size; the baseline is taken at rest after it
    warm = min(30.0, max(5.0, SECONDS * 0.05))
    await soak.run(warm, CONCURRENCY)
    await wait_quiet(proc.pid, log_path, soak.upgraded, fds_fresh)
    fds_base, rss_base = fds(proc.pid), rss_kib(proc.pid)
    print("soak: warm-up done (%d sessions); baseline %d fds, RSS %d KiB"
          % (sum(s["run"] for s in soak.stats.values()), fds_base, rss_base), flush=True)

    t0 = time.monotonic()
    await soak.run(max(0.0, SECONDS - warm), CONCURRENCY)
    run_s = time.monotonic() - t0 + warm
    nlines, fds_end = await wait_quiet(proc.pid, log_path, soak.upgraded, fds_base)
    await asyncio.sleep(1.0)
    fds_end, rss_end = fds(proc.pid), rss_kib(proc.pid)
    stop.set()
    await samp
    alive = proc.poll() is None

    problems = list(soak.failures)
    if not alive:
        problems.append("wsgate died with status %s" % proc.returncode)
    else:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "hung"
        if rc != 0:
            problems.append("wsgate exited with %s after SIGTERM" % rc)
    logf.close()
    lines, text = session_lines(log_path)
    codes = collections.Counter()
    for l in lines:
        for part in l.split():
            if part.startswith("code="):
                codes[part[5:]] += 1
    if fds_end > fds_base:
        problems.append("descriptors: %d at rest after the soak, %d before" % (fds_end, fds_base))
    if rss_end > rss_base + RSS_SLACK_KIB:
        problems.append("RSS: %d KiB at rest after the soak, %d KiB before (+%d KiB)"
                        % (rss_end, rss_base, rss_end - rss_base))
    upgraded_lines = len([l for l in lines if " route=" in l])
    if upgraded_lines != soak.upgraded:
        problems.append("%d upgraded sessions but %d session lines with a route"
                        % (soak.upgraded, upgraded_lines))
    for marker in ("fatal", "AddressSanitizer", "runtime error"):
        if marker in text:
            problems.append("log contains %r" % marker)

    total = sum(s["run"] for s in soak.stats.values())
    print()
    print("soak: %d sessions in %.0f s (%.0f/s), %d upgraded, seed %d"
          % (total, run_s, total / max(run_s, 1), soak.upgraded, SEED))
    print("%-16s %8s %8s %6s" % ("kind", "run", "ok", "fail"))
    for k, _ in KINDS:
        s = soak.stats[k]
        print("%-16s %8d %8d %6d" % (k, s["run"], s["ok"], s["fail"]))
    print("bytes verified by sha256: up %.1f MiB, down %.1f MiB"
          % (soak.bytes_up / MiB, soak.bytes_down / MiB))
    print("close codes logged: %s" % dict(sorted(codes.items())))
    print("descriptors: fresh %d, baseline %d, peak %d, end %d"
          % (fds_fresh, fds_base, peak["fds"], fds_end))
    print("RSS KiB: fresh %d, baseline %d, peak %d, end %d"
          % (rss_fresh, rss_base, peak["rss"], rss_end))
    for s in be.servers:
        s.close()
    if problems:
        print("\nsoak: FAIL (%d problems; log in %s)" % (len(problems), work))
        for p in problems[:50]:
            print("  " + p)
        return 1
    print("\nsoak: PASS")
    if os.environ.get("SOAK_KEEP") != "1":
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work dir kept: %s" % work)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
