"""wss read-ahead: records the gateway has read from the socket but not yet
decrypted must still be relayed when no more bytes follow.

wsgate's TLS listener reads ahead (one read() takes every record the
socket holds, not a 5-byte header and then a body). Those records are in
OpenSSL's buffer, where neither the socket's readiness nor libevent 2.1
(which reads on only while SSL_pending()) sees them: tls_read_pending()
has libevent read them after the handshake, after each read, and when a
paused leg reads again. Each test here makes the client send several
records in one write and then wait, so a record left unread would hang
the test: the client's Finished and its upgrade request together; many
frames at once; frames behind a request whose basic auth check waits on a
helper thread (reading is off meanwhile); frames past max_buffer while
the backend is still connecting (the client paused by flow control).
Each test fails without its kick (checked by removing each in turn).

The client is Python's ssl over memory BIOs, so the test decides which
records go out in one write."""
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from backendkit import echo_handler
from tlskit import gateway_from_text, make_self_signed
from wskit import OP_BINARY, OP_CLOSE, RawWS, build_frame


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_self_signed(tmp_path_factory.mktemp("tls-readahead"))


class MemTLS:
    """A TLS 1.3 client over a plain socket, through ssl.MemoryBIO: what it
    writes is sent only on flush(), all of it in one sendall(). Has the
    socket calls RawWS makes (recv, sendall, settimeout, setsockopt)."""

    def __init__(self, port, timeout=10.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.raw = socket.create_connection(("127.0.0.1", port),
                                            timeout=timeout)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out,
                                server_hostname="localhost")

    def handshake_keeping_finished(self):
        """Run the handshake up to our Finished, which stays unsent (the
        next flush() sends it with whatever is queued after it)."""
        while True:
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                pass
            data = self.out.read()
            if data:
                self.raw.sendall(data)
            chunk = self.raw.recv(65536)
            assert chunk, "the gateway closed during the handshake"
            self.inc.write(chunk)

    def queue(self, data):
        self.tls.write(data)        # one record (data < 16 KiB)

    def flush(self):
        self.raw.sendall(self.out.read())

    # what RawWS calls
    def sendall(self, data):
        self.queue(data)
        self.flush()

    def recv(self, n):
        while True:
            try:
                return self.tls.read(n)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return b""
            chunk = self.raw.recv(65536)
            if not chunk:
                return b""
            self.inc.write(chunk)

    def settimeout(self, t):
        self.raw.settimeout(t)

    def setsockopt(self, *args):
        self.raw.setsockopt(*args)

    def close(self):
        self.raw.close()


def tls_gateway(tmp_path, certs, route):
    cert, key = certs
    return gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\nheartbeat_interval = 0\n"
        "drain_timeout = 2s\n[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[route /echo]\n%s" % (cert, key, route))).start()


def payloads(n, size):
    return [bytes([i % 251]) * size for i in range(n)]


def echoed(ws, want, timeout=10.0):
    """Read binary frames until len(want) bytes came; they must be want."""
    got = bytearray()
    while len(got) < len(want):
        f = ws.recv_frame(timeout=timeout)
        assert f.opcode == OP_BINARY, f
        got += f.payload
    assert bytes(got) == want


def upgraded(port):
    """A MemTLS client through its handshake and upgraded on /echo."""
    c = MemTLS(port)
    c.handshake_keeping_finished()
    c.flush()
    ws = RawWS(port, sock=c)
    head, ws.key = RawWS.request_head(path="/echo")
    c.sendall(head)
    assert ws.read_head() == 101, ws.head_raw
    return c, ws


def queue_frames(c, datas):
    """Queue one binary frame per payload, to go out in one write."""
    for p in datas:
        c.queue(build_frame(OP_BINARY, p))


def close_cleanly(ws):
    ws.send_frame(OP_CLOSE, b"\x03\xe8")
    f = ws.recv_frame()
    assert f.opcode == OP_CLOSE and f.close_code == 1000


def test_finished_and_upgrade_request_in_one_write(tmp_path, certs,
                                                   backends):
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, "backend = %s\n" % echo.spec)
    try:
        c = MemTLS(g.port)
        c.handshake_keeping_finished()
        head, key = RawWS.request_head(path="/echo")
        c.queue(head)
        c.flush()                   # Finished + the request, one write
        ws = RawWS(g.port, sock=c)
        ws.key = key
        assert ws.read_head() == 101, ws.head_raw
        ws.send_frame(OP_BINARY, b"after")
        echoed(ws, b"after")
        close_cleanly(ws)
        c.close()
    finally:
        assert g.stop() == 0


def test_many_records_in_one_write_all_relayed(tmp_path, certs, backends):
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, "backend = %s\n" % echo.spec)
    try:
        c, ws = upgraded(g.port)
        # 300 records (~40 KB) in one write: more than one read-ahead
        # buffer (~16.7 KB), so several reads leave records behind.
        want = payloads(300, 100)
        queue_frames(c, want)
        c.flush()
        echoed(ws, b"".join(want))
        close_cleanly(ws)
        c.close()
    finally:
        assert g.stop() == 0


HTPASSWD = shutil.which("htpasswd")


@pytest.mark.skipif(HTPASSWD is None, reason="apache2-utils (htpasswd) missing")
def test_frames_read_ahead_while_basic_auth_waits(tmp_path, certs, backends):
    import base64
    echo = backends(echo_handler)
    f = tmp_path / "htpasswd"
    subprocess.run([HTPASSWD, "-b", "-c", "-B", str(f), "bob", "pw"],
                   check=True, capture_output=True)
    f.chmod(0o640)
    g = tls_gateway(tmp_path, certs, "backend = %s\nauth = basic\n"
                    "htpasswd_file = %s\n" % (echo.spec, f))
    try:
        c = MemTLS(g.port)
        c.handshake_keeping_finished()
        head, key = RawWS.request_head(path="/echo", extra=[
            "Authorization: Basic " + base64.b64encode(b"bob:pw").decode()])
        # Finished, the request and the first frames in one write: the
        # bcrypt check runs on a thread with reading off, the frames
        # already read ahead behind the request.
        want = payloads(20, 100)
        c.queue(head)
        queue_frames(c, want)
        c.flush()
        ws = RawWS(g.port, sock=c)
        ws.key = key
        assert ws.read_head() == 101, ws.head_raw
        echoed(ws, b"".join(want))
        close_cleanly(ws)
        c.close()
    finally:
        assert g.stop() == 0


def test_records_read_ahead_when_a_full_backend_paused_the_client(
        tmp_path, certs, backends):
    """The backend leg is still connecting (the first backend never
    answers, the second is tried after connect_timeout), so the client's
    frames queue for it until max_buffer pauses the client, with the rest
    of one write's records read ahead and the socket empty. When the
    backend is up and takes the queue, the client leg reads again
    (session_leg_resume) and must take those records from OpenSSL."""
    from backendkit import Blackhole, record_handler
    sink = backends(record_handler)
    hole = Blackhole()
    cert, key = certs
    g = gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\nworkers = 1\n"
        "heartbeat_interval = 0\nmax_buffer = 4K\ndrain_timeout = 2s\n"
        "[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[route /echo]\nbackend = %s\nbackend = %s\nconnect_timeout = 1s\n"
        % (cert, key, hole.spec, sink.spec))).start()
    try:
        c, ws = upgraded(g.port)
        # ~14 KB of records in one write: it fits one read ahead, and
        # 4K of it fills the queue for the backend still connecting.
        want = payloads(60, 200)
        queue_frames(c, want)
        c.flush()
        conn = sink.wait_conn(0, timeout=10)
        want = b"".join(want)
        deadline = time.monotonic() + 10
        while conn.nreceived < len(want) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert conn.nreceived == len(want), "backend got %d of %d bytes" % (
            conn.nreceived, len(want))
        assert bytes(conn.received) == want
        close_cleanly(ws)
        c.close()
    finally:
        hole.close()
        assert g.stop() == 0
