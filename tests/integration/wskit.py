"""
A minimal WebSocket client over a plain socket (RawWS) that can send any
bytes at all: frames with arbitrary bits (build_frame), handshakes with
any header, and a parser for what the server sends back (Frame). For bad
input and exact wire checks; the real, independent clients (`websockets`,
`websocket-client`) cover the well-behaved side.

Every read has a deadline, so a hang fails a test instead of stalling the
suite.
"""

import base64
import hashlib
import os
import socket
import struct
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


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

    def answer_pings_for(self, seconds, context=None):
        """Wait as a live client waits: for `seconds`, read frames and
        answer each ping with its pong. Returns the number of pings seen.
        A close frame or the end of the connection fails (AssertionError
        saying when, followed by context() if given, e.g. a proxy's log)."""
        t0 = time.monotonic()
        pings = 0
        while time.monotonic() - t0 < seconds:
            try:
                f = self.recv_frame(timeout=max(
                    0.05, seconds - (time.monotonic() - t0)))
            except socket.timeout:
                break
            except ConnectionEOF:
                raise AssertionError(
                    "the connection ended after %.1fs (%d pings seen)%s"
                    % (time.monotonic() - t0, pings,
                       "; " + context() if context else ""))
            assert f.opcode != OP_CLOSE, (
                "closed after %.1fs although pongs were sent: %r"
                % (time.monotonic() - t0, f))
            if f.opcode == OP_PING:
                pings += 1
                self.send_frame(OP_PONG, f.payload)
        return pings

    def recv_data(self, n, timeout=5):
        """The next n bytes of data frames, answering pings on the way."""
        got = b""
        while len(got) < n:
            f = self.recv_frame(timeout=timeout)
            if f.opcode == OP_PING:
                self.send_frame(OP_PONG, f.payload)
                continue
            got += f.payload
        return got

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
