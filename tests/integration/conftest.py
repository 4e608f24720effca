"""
Shared fixtures and helpers for the wsgate integration tests.

The real daemon runs on loopback against backends written here in Python
(threads, TCP or Unix sockets) and is driven by real, independent
WebSocket clients (`websockets`, `websocket-client`) and by a minimal raw
client (`RawWS`) that can send any bytes at all.

Binaries: $WSGATE_BIN (ASan+UBSan build, behaviour tests) and
$WSGATE_RELEASE_BIN (release build, memory tests).

Every blocking operation here has a timeout, so a hang fails a test
instead of stalling the suite.
"""

import base64
import errno
import hashlib
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

WSGATE_BIN = os.environ.get(
    "WSGATE_BIN", os.path.join(ROOT, "build", "san-address-undefined", "wsgate"))
WSGATE_RELEASE_BIN = os.environ.get(
    "WSGATE_RELEASE_BIN", os.path.join(ROOT, "wsgate"))

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# What sanitizers write when they find something; any of these in a
# daemon log fails the test that ran it.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

MiB = 1024 * 1024


# --------------------------------------------------------------------------
# small helpers

def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def closed_port():
    """A port where a connect is refused (nothing listens)."""
    return free_port()


def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def wait_for(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until true; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


_PATTERN_BLOCKS = {}


def pattern_bytes(n, seed=0):
    """n deterministic pseudo-random bytes (cheap for large n)."""
    block = _PATTERN_BLOCKS.get(seed)
    if block is None:
        block = b"".join(hashlib.sha256(b"wsgate-%d-%d" % (seed, i)).digest()
                         for i in range(2048))  # 64 KiB
        _PATTERN_BLOCKS[seed] = block
    reps, rest = divmod(n, len(block))
    return block * reps + block[:rest]


def read_vmrss(pid):
    """Resident set size of pid in bytes (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


# --------------------------------------------------------------------------
# WebSocket frame encoding / decoding (raw)

def mask_bytes(data, key):
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None,
                length_form=None, length_value=None):
    """Encode one frame with arbitrary bits.

    rsv: 3-bit value placed in RSV1..RSV3 (4 = RSV1, 2 = RSV2, 1 = RSV3).
    length_form: None for the minimal encoding, or 7, 16 or 64 to force
    that length field (16/64 with a small payload is non-minimal).
    length_value: lie about the length (defaults to len(payload)).
    """
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length_value is None else length_value
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    if length_form is None:
        length_form = 7 if n < 126 else (16 if n < 65536 else 64)
    if length_form == 7:
        head = struct.pack("!BB", b0, mbit | n)
    elif length_form == 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        if key is None:
            key = os.urandom(4)
        return head + key + mask_bytes(payload, key)
    return head + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "payload")

    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode = fin, rsv, opcode
        self.masked, self.payload = masked, payload

    @property
    def close_code(self):
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    @property
    def close_reason(self):
        return self.payload[2:].decode("utf-8", "replace")

    def __repr__(self):
        return "Frame(fin=%s rsv=%d op=%#x masked=%s len=%d %r)" % (
            self.fin, self.rsv, self.opcode, self.masked, len(self.payload),
            self.payload[:40])


class ConnectionEOF(Exception):
    """The peer closed the TCP connection."""


class RawWS:
    """A minimal WebSocket client over a plain socket, for bad input.

    Every read has a deadline (timeout seconds); on expiry it raises
    socket.timeout, so a test never hangs.
    """

    def __init__(self, port, host="127.0.0.1", timeout=10.0, rcvbuf=None,
                 sock=None):
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        self.sock = sock
        self.port = port
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.status = None
        self.headers = {}
        self.head_raw = b""
        self.key = None

    # ---- opening handshake

    @staticmethod
    def request_head(path="/echo", host="127.0.0.1", key=None, version="13",
                     origin=None, protocols=None, extra=None, method="GET"):
        if key is None:
            key = base64.b64encode(os.urandom(16)).decode()
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host,
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: %s" % key]
        if version is not None:
            lines.append("Sec-WebSocket-Version: %s" % version)
        if origin is not None:
            lines.append("Origin: %s" % origin)
        if protocols:
            lines.append("Sec-WebSocket-Protocol: %s" % ", ".join(protocols))
        for h in extra or ():
            lines.append(h)
        return ("\r\n".join(lines) + "\r\n\r\n").encode(), key

    @classmethod
    def open(cls, port, path="/echo", expect=101, trailing=b"", timeout=10.0,
             rcvbuf=None, **kw):
        """Connect, send an upgrade request (plus trailing bytes in the
        same write) and read the answer head. Asserts the status."""
        ws = cls(port, timeout=timeout, rcvbuf=rcvbuf)
        head, key = cls.request_head(path=path, **kw)
        ws.key = key
        ws.sock.sendall(head + trailing)
        ws.read_head()
        if expect is not None:
            assert ws.status == expect, "expected HTTP %s, got %s: %r" % (
                expect, ws.status, ws.head_raw)
        if ws.status == 101:
            want = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
            assert ws.headers.get("sec-websocket-accept") == want
        return ws

    def read_head(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                break
        i = self.buf.find(b"\r\n\r\n")
        if i < 0:
            raise ConnectionEOF("connection closed before a full HTTP head: %r"
                                % bytes(self.buf))
        head = bytes(self.buf[:i + 4])
        del self.buf[:i + 4]
        self.head_raw = head
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        assert parts[0].startswith("HTTP/1."), "bad status line %r" % lines[0]
        self.status = int(parts[1])
        self.headers = {}
        self.header_list = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            self.header_list.append((name.strip().lower(), value.strip()))
            self.headers[name.strip().lower()] = value.strip()
        return self.status

    def read_body(self, timeout=None):
        """Body of a non-101 answer (Content-Length, else until EOF)."""
        n = self.headers.get("content-length")
        deadline = time.monotonic() + (timeout or self.timeout)
        if n is not None:
            n = int(n)
            while len(self.buf) < n and self._fill(deadline):
                pass
            body = bytes(self.buf[:n])
            del self.buf[:n]
            return body
        while self._fill(deadline):
            pass
        body = bytes(self.buf)
        self.buf.clear()
        return body

    # ---- I/O

    def _fill(self, deadline):
        """Read more into buf. False on EOF. socket.timeout at deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("RawWS: deadline passed")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def send(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(build_frame(opcode, payload, **kw))

    def send_close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    def recv_frame(self, timeout=None, max_payload=1 << 31):
        """Next frame. Raises ConnectionEOF if the connection ends first."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            f = self._parse()
            if f is not None:
                return f
            if not self._fill(deadline):
                raise ConnectionEOF("EOF with %d bytes unparsed" % len(self.buf))

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        b0, b1 = b[0], b[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack_from("!H", b, 2)[0]
            off = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack_from("!Q", b, 2)[0]
            off = 10
        masked = bool(b1 & 0x80)
        key = None
        if masked:
            if len(b) < off + 4:
                return None
            key = bytes(b[off:off + 4])
            off += 4
        if len(b) < off + n:
            return None
        payload = bytes(b[off:off + n])
        del b[:off + n]
        if masked:
            payload = mask_bytes(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, payload)

    def recv_until_close(self, timeout=None, answer_pings=False, on_data=None):
        """Read frames until a close frame or EOF.

        Returns (data, close_frame or None). data is the concatenated
        payload of data frames (unless on_data consumes it). Server frames
        must be unmasked and carry no RSV bits."""
        deadline = time.monotonic() + (timeout or self.timeout)
        data = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no close within %.1fs (got %d data bytes)"
                                     % (timeout or self.timeout, len(data)))
            try:
                f = self.recv_frame(timeout=remaining)
            except ConnectionEOF:
                return bytes(data), None
            assert not f.masked, "server frame is masked: %r" % f
            assert f.rsv == 0, "server frame has RSV bits: %r" % f
            assert f.opcode != OP_TEXT, "server sent a text frame: %r" % f
            if f.opcode in (OP_BINARY, OP_CONT):
                if on_data:
                    on_data(f.payload)
                else:
                    data += f.payload
            elif f.opcode == OP_PING and answer_pings:
                self.send_frame(OP_PONG, f.payload)
            elif f.opcode == OP_CLOSE:
                return bytes(data), f

    def expect_close(self, code, timeout=None):
        """Read until close; assert its code. Returns the close frame."""
        _, f = self.recv_until_close(timeout=timeout)
        assert f is not None, "connection ended without a close frame (wanted %d)" % code
        assert f.close_code == code, "close code %r (reason %r), wanted %d" % (
            f.close_code, f.close_reason, code)
        return f

    def wait_eof(self, timeout=None):
        """Discard everything until the peer closes the TCP connection.
        Returns the time it happened (monotonic)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            self.buf.clear()
        return time.monotonic()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close with a RST (no WebSocket close, no FIN)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()


def http_exchange(port, raw, timeout=10.0):
    """Send raw bytes, return the RawWS after reading the answer head."""
    ws = RawWS(port, timeout=timeout)
    ws.send(raw)
    ws.read_head()
    return ws


# --------------------------------------------------------------------------
# backends

class BackendConn:
    """One accepted backend connection and what happened on it."""

    def __init__(self, sock, index):
        self.sock = sock
        self.index = index
        self.accepted_at = time.monotonic()
        self.received = bytearray()
        self.keep = True
        self.nreceived = 0
        self.hash = hashlib.sha256()
        self.nsent = 0
        self.eof = threading.Event()
        self.eof_at = None
        self.reset = False
        self.done = threading.Event()
        self.error = None
        self.go = threading.Event()   # handlers that wait for a signal

    def note_data(self, chunk):
        # nreceived last: tests poll it from another thread, then read
        # received/hash, which must already hold the chunk (hash.update
        # releases the GIL on big chunks).
        self.hash.update(chunk)
        if self.keep:
            self.received += chunk
        self.nreceived += len(chunk)

    def note_eof(self, reset=False):
        if not self.eof.is_set():
            self.eof_at = time.monotonic()
            self.reset = reset
            self.eof.set()

    def recv_some(self, stop):
        """recv with a short timeout, looping until data, EOF or stop.
        Returns b"" on EOF (and notes it) or None when stopped."""
        while not stop.is_set():
            try:
                chunk = self.sock.recv(1 << 18)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                self.note_eof(reset=True)
                return b""
            except OSError:
                self.note_eof(reset=True)
                return b""
            if not chunk:
                self.note_eof()
                return b""
            self.note_data(chunk)
            return chunk
        return None

    def send_all(self, data, stop):
        """sendall with stop checks. False if stopped or the peer went away."""
        view = memoryview(data)
        while view:
            if stop.is_set():
                return False
            try:
                n = self.sock.send(view[:1 << 20])
            except socket.timeout:
                continue
            except OSError:
                return False
            self.nsent += n
            view = view[n:]
        return True

    def wait_eof(self, timeout):
        assert self.eof.wait(timeout), (
            "backend connection %d saw no EOF within %.1fs (received %d bytes)"
            % (self.index, timeout, self.nreceived))
        return self.eof_at


class Backend:
    """A backend server in Python threads: one acceptor thread and one
    thread per connection running handler(conn, stop).

    unix: a filesystem path to listen on instead of 127.0.0.1:0.
    """

    def __init__(self, handler, unix=None, keep=True, backlog=128):
        self.handler = handler
        self.keep = keep
        self.stop = threading.Event()
        self.conns = []
        self.lock = threading.Lock()
        self.accepted = threading.Condition(self.lock)
        self.threads = []
        self.unix = unix
        if unix:
            if os.path.exists(unix):
                os.unlink(unix)
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(unix)
            self.spec = "unix:%s" % unix
        else:
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.lsock.bind(("127.0.0.1", 0))
            self.port = self.lsock.getsockname()[1]
            self.spec = "tcp:127.0.0.1:%d" % self.port
        self.lsock.listen(backlog)
        self.lsock.settimeout(0.1)
        t = threading.Thread(target=self._accept_loop, daemon=True,
                             name="backend-accept")
        t.start()
        self.threads.append(t)

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(0.1)
            with self.lock:
                c = BackendConn(s, len(self.conns))
                c.keep = self.keep
                self.conns.append(c)
                self.accepted.notify_all()
            t = threading.Thread(target=self._run, args=(c,), daemon=True,
                                 name="backend-conn-%d" % c.index)
            t.start()
            self.threads.append(t)

    def _run(self, c):
        try:
            self.handler(c, self.stop)
        except Exception as e:  # recorded, surfaced by tests that look
            c.error = e
        finally:
            c.done.set()

    @property
    def count(self):
        with self.lock:
            return len(self.conns)

    def wait_conn(self, index=0, timeout=10.0):
        """The index-th accepted connection, waiting for it."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.conns) <= index:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        "backend %s: connection #%d not accepted within %.1fs "
                        "(have %d)" % (self.spec, index, timeout, len(self.conns)))
                self.accepted.wait(remaining)
            return self.conns[index]

    def close(self):
        self.stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.sock.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(2.0)
        if self.unix and os.path.exists(self.unix):
            try:
                os.unlink(self.unix)
            except OSError:
                pass


# ---- handlers: handler(conn, stop)

def echo_handler(c, stop):
    """Send back everything received; on EOF, close."""
    while True:
        chunk = c.recv_some(stop)
        if not chunk:
            break
        if not c.send_all(chunk, stop):
            break
    _close_quietly(c.sock)


def record_handler(c, stop):
    """Collect everything received; note the time of EOF; then close."""
    while True:
        chunk = c.recv_some(stop)
        if not chunk:
            break
    _close_quietly(c.sock)


def _read_until_go(c, stop):
    """Record what arrives until c.go is set (or stop/EOF)."""
    while not c.go.is_set() and not stop.is_set() and not c.eof.is_set():
        try:
            chunk = c.sock.recv(1 << 18)
        except socket.timeout:
            continue
        except OSError:
            c.note_eof(reset=True)
            return
        if not chunk:
            c.note_eof()
            return
        c.note_data(chunk)


def send_then_eof(data, wait_go=False, linger_read=False):
    """Send data then EOF (close). With wait_go, record what arrives until
    c.go is set, then send."""
    def handler(c, stop):
        if wait_go:
            _read_until_go(c, stop)
            if stop.is_set():
                return
        c.send_all(data, stop)
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # keep reading (and recording) until the gateway closes its side
        if linger_read and not c.eof.is_set():
            while True:
                chunk = c.recv_some(stop)
                if not chunk:
                    break
        _close_quietly(c.sock)
    return handler


def rst_handler(data=b"", wait_go=False):
    """Accept, optionally send data (then wait for c.go), then RST."""
    def handler(c, stop):
        if data:
            c.send_all(data, stop)
        if wait_go:
            while not c.go.wait(0.1):
                if stop.is_set():
                    break
        _rst(c.sock)
    return handler


def read_nothing_handler(c, stop):
    """Accept and never recv; hold the connection until told to stop."""
    while not stop.is_set() and not c.go.is_set():
        time.sleep(0.05)
    _close_quietly(c.sock)


def source_handler(total, chunk=256 * 1024, wait_go=False, then_eof=True):
    """Stream total bytes (pattern_bytes) as fast as the peer takes them."""
    def handler(c, stop):
        if wait_go:
            while not c.go.wait(0.1):
                if stop.is_set():
                    return
        block = pattern_bytes(chunk)
        left = total
        while left > 0 and not stop.is_set():
            piece = block if left >= len(block) else block[:left]
            if not c.send_all(piece, stop):
                return
            left -= len(piece)
        if then_eof:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                chunk_ = c.recv_some(stop)
                if not chunk_:
                    break
        _close_quietly(c.sock)
    return handler


def greet_echo_handler(tag):
    """Send tag on accept, then echo."""
    def handler(c, stop):
        c.send_all(tag, stop)
        echo_handler(c, stop)
    return handler


def source_stream_hash(total, chunk=256 * 1024):
    """sha256 of what source_handler(total, chunk) sends."""
    h = hashlib.sha256()
    block = pattern_bytes(chunk)
    left = total
    while left > 0:
        piece = block if left >= len(block) else block[:left]
        h.update(piece)
        left -= len(piece)
    return h.hexdigest()


def _close_quietly(s):
    try:
        s.close()
    except OSError:
        pass


def _rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _close_quietly(s)


class Blackhole:
    """A TCP address where connect() neither succeeds nor fails: a
    listener with a full accept queue, so new SYNs are dropped."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.spec = "tcp:127.0.0.1:%d" % self.port
        self.fillers = []
        for _ in range(8):
            self._add_filler()
            # does a fresh connect still complete?
            if not self._probe_completes():
                self._add_filler()      # margin
                return
        raise RuntimeError("could not fill the accept queue")

    def _add_filler(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.fillers.append(s)

    def _probe_completes(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", self.port))
            self.fillers.append(s)
            return True
        except (socket.timeout, OSError):
            s.close()
            return False

    def close(self):
        for s in self.fillers:
            _close_quietly(s)
        _close_quietly(self.lsock)


@pytest.fixture
def backends():
    """Factory: backends(handler, unix=None, keep=True) -> Backend.
    All are closed at teardown."""
    made = []

    def make(handler, unix=None, keep=True, **kw):
        b = Backend(handler, unix=unix, keep=keep, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


@pytest.fixture
def unix_dir():
    """A short directory for Unix socket paths (sun_path is 108 bytes)."""
    import tempfile
    d = tempfile.mkdtemp(prefix="wsg-", dir="/tmp")
    yield d
    import shutil
    shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# the daemon

DEFAULT_GATEWAY_OPTS = {
    "handshake_timeout": "2s",
    "drain_timeout": "2s",
}


def render_config(port, routes, gateway=None):
    """routes: list of (path, {key: value or [values]}) in file order."""
    opts = dict(DEFAULT_GATEWAY_OPTS)
    opts.update(gateway or {})
    lines = ["[gateway]", "listen = 127.0.0.1:%d" % port]
    for k, v in opts.items():
        if v is None:
            continue
        for item in (v if isinstance(v, (list, tuple)) else [v]):
            lines.append("%s = %s" % (k, item))
    for path, keys in routes:
        lines.append("")
        lines.append("[route %s]" % path)
        for k, v in keys.items():
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                lines.append("%s = %s" % (k, item))
    return "\n".join(lines) + "\n"


SESSION_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


class Gateway:
    """One wsgate process.

    Either routes (list of (path, keys)) with gateway defaults (plus
    extra_config text appended, e.g. a [tls] section), or config_text (a
    whole file, "{port}" replaced by the listen port), written to a config
    in tmp_path and run as `wsgate -d -c FILE`; or args for any other
    command line ("{port}" in them is replaced by the listen port).
    """

    def __init__(self, tmp_path, routes=None, gateway=None, args=None,
                 binary=None, name="wsgate", extra_args=(), env=None,
                 config_text=None, extra_config=""):
        self.tmp_path = tmp_path
        self.routes = routes or []
        self.gateway_opts = gateway or {}
        self.args = args
        self.binary = binary or WSGATE_BIN
        self.name = name
        self.extra_args = list(extra_args)
        self.env = env
        self.config_text = config_text      # whole file; "{port}" filled in
        self.extra_config = extra_config    # appended to the rendered file
        self.proc = None
        self.port = None
        self.log_path = os.path.join(str(tmp_path), "%s.log" % name)
        self.config_path = os.path.join(str(tmp_path), "%s.conf" % name)
        self.returncode = None
        self.stopped = False
        self._logf = None

    # ---- lifecycle

    def start(self, wait=True):
        if not os.path.exists(self.binary):
            pytest.fail("wsgate binary not found: %s (build it first: "
                        "make all && make SANITIZER=address,undefined "
                        "build/san-address-undefined/wsgate)" % self.binary)
        last = None
        for _attempt in range(3):
            self.port = free_port()
            if self.args is None:
                if self.config_text is not None:
                    text = self.config_text.replace("{port}", str(self.port))
                else:
                    text = render_config(self.port, self.routes,
                                         self.gateway_opts) + self.extra_config
                with open(self.config_path, "w") as f:
                    f.write(text)
                argv = [self.binary, "-d", "-c", self.config_path] + self.extra_args
            else:
                argv = [self.binary] + [a.replace("{port}", str(self.port))
                                        for a in self.args]
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS",
                           "halt_on_error=1:abort_on_error=0:detect_leaks=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            if self.env:
                env.update(self.env)
            self._logf = open(self.log_path, "ab")
            self._logf.write(("### %s\n" % " ".join(argv)).encode())
            self._logf.flush()
            self.argv = argv
            self.proc = self._popen(argv, env)
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except AssertionError as e:
                last = e
                if "in use" in self.log_text().lower():
                    self._kill()
                    continue
                raise
        raise last

    def _popen(self, argv, env):
        # A binary being relinked right now (a developer rebuilding while
        # the suite runs) is briefly not executable: retry a little.
        deadline = time.monotonic() + 10
        while True:
            try:
                return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                        stdout=self._logf, stderr=self._logf,
                                        cwd=str(self.tmp_path), env=env)
            except OSError as e:
                if (e.errno not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT)
                        or time.monotonic() > deadline):
                    raise
                time.sleep(0.2)

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("wsgate exited with %s before accepting "
                                     "connections; log:\n%s" % (rc, self.log_tail()))
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.5)
            try:
                s.connect(("127.0.0.1", self.port))
                return
            except OSError:
                pass
            finally:
                s.close()
            if time.monotonic() >= deadline:
                raise AssertionError("wsgate did not accept on port %d within "
                                     "%.0fs; log:\n%s" % (self.port, timeout,
                                                          self.log_tail()))
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/echo"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send sig, wait for exit; returns the exit code (or -signal).
        Kills the process (and fails) if it does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                self.stopped = True
                self.returncode = self.proc.returncode
                raise AssertionError(
                    "wsgate did not exit within %.1fs of signal %d; log:\n%s"
                    % (timeout, sig, self.log_tail()))
        self.stopped = True
        self.returncode = self.proc.returncode
        self._close_log()
        return self.returncode

    def _kill(self):
        try:
            self.proc.kill()
            self.proc.wait(5)
        except Exception:
            pass
        self._close_log()

    def _close_log(self):
        if self._logf:
            try:
                self._logf.close()
            except Exception:
                pass
            self._logf = None

    # ---- logs

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_report(self):
        text = self.log_text()
        for m in SANITIZER_MARKERS:
            i = text.find(m)
            if i >= 0:
                return text[max(0, i - 200):i + 6000]
        return None

    def session_lines(self, route=None):
        """Session-end lines (those with up= and down=), parsed to dicts
        (plus the raw line under key '_line')."""
        out = []
        for line in self.log_text().splitlines():
            if " up=" not in line or " down=" not in line:
                continue
            d = {}
            for k, v in SESSION_KV.findall(line):
                if v.startswith('"'):
                    v = v[1:-1]
                d[k] = v
            d["_line"] = line
            if route is not None and d.get("route") != route:
                continue
            out.append(d)
        return out

    def wait_session_lines(self, n=1, route=None, timeout=5.0):
        return wait_for(lambda: (len(self.session_lines(route)) >= n
                                 and self.session_lines(route)),
                        timeout, what="%d session log line(s) for route %s; log:\n%s"
                        % (n, route, self.log_tail()))

    def wait_log(self, regex, timeout=5.0):
        r = re.compile(regex)

        def find():
            return r.search(self.log_text())
        try:
            return wait_for(find, timeout, what="log matching %r" % regex)
        except AssertionError:
            raise AssertionError("no log line matching %r within %.1fs; log:\n%s"
                                 % (regex, timeout, self.log_tail()))

    def rss(self):
        return read_vmrss(self.pid)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for gw in getattr(item, "_wsgate_gateways", []):
            rep.sections.append(("wsgate log (%s, tail)" % gw.log_path,
                                 gw.log_tail(80)))


@pytest.fixture
def gateway_factory(request, tmp_path):
    """Factory: gateway_factory(routes=..., gateway=..., args=...,
    binary=..., start=True) -> started Gateway.

    Teardown stops every gateway with SIGTERM and fails the test if one
    crashed, hung, exited non-zero or logged a sanitizer report."""
    made = []
    request.node._wsgate_gateways = made

    def make(routes=None, gateway=None, args=None, binary=None, start=True,
             name=None, **kw):
        gw = Gateway(tmp_path, routes=routes, gateway=gateway, args=args,
                     binary=binary, name=name or "wsgate%d" % len(made), **kw)
        made.append(gw)
        if start:
            gw.start()
        return gw
    yield make

    problems = []
    for gw in made:
        if gw.proc is None:
            continue
        if not gw.stopped:
            died = gw.proc.poll()
            if died is not None:
                problems.append("%s died during the test with exit status %s"
                                % (gw.name, died))
                gw.stopped = True
                gw.returncode = died
                gw._close_log()
            else:
                try:
                    rc = gw.stop(signal.SIGTERM, timeout=15.0)
                except AssertionError as e:
                    problems.append(str(e))
                    rc = None
                if rc not in (0, None):
                    problems.append("%s exited with status %s after SIGTERM"
                                    % (gw.name, rc))
        rep = gw.sanitizer_report()
        if rep:
            problems.append("%s: sanitizer report in log:\n%s" % (gw.name, rep))
    if problems:
        pytest.fail("\n".join(problems) + "\n--- log tail:\n"
                    + "\n".join(g.log_tail(40) for g in made), pytrace=False)


@pytest.fixture
def gateway(gateway_factory):
    """Shortcut: the factory, for tests that make one gateway."""
    return gateway_factory


@pytest.fixture(autouse=True, scope="session")
def _nofile_limit():
    raise_nofile_limit()
    yield


# --------------------------------------------------------------------------
# asyncio helpers

def run_async(coro, timeout=60.0):
    """Run a coroutine with an overall timeout."""
    import asyncio

    async def wrapped():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(wrapped())
