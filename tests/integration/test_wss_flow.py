"""wss flow control: a TLS client leg that the client stops reading.

Writes to a TLS client leg go out in the loop turn that queued them
(tls.c's write-through); when the socket takes only part, the rest must
wait with EV_WRITE armed. A first version left it unarmed after a short
write, and the session stalled until the linger ended it.

Frames of up to 16 KiB go out as one record each, straight from the
relay (tls_send); a record the socket did not take waits at the front of
the output for libevent to retry (OpenSSL wants the same bytes again),
and larger frames go record by record from the output (tls_flush). The
small-chunk source makes the backend's bytes arrive as many small frames,
so the stream crosses between those paths while the client pauses."""
import hashlib
import socket
import time

import pytest

from basekit import pattern_bytes
from backendkit import source_handler, source_stream_hash
from wskit import OP_BINARY, RawWS
from tlskit import gateway_from_text, insecure_ctx, make_self_signed


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_self_signed(tmp_path_factory.mktemp("tls-flow"))


@pytest.mark.parametrize("chunk", [256 * 1024, 1000],
                         ids=["large-frames", "small-frames"])
def test_wss_client_that_pauses_gets_every_byte(tmp_path, certs, backends,
                                                chunk):
    if chunk > 16384:
        total = 16 << 20
        src = backends(source_handler(total, chunk=chunk))
    else:
        total = 8 << 20
        src = backends(source_handler(total, chunk=chunk, gap=0.0002))
    cert, key = certs
    g = gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\nheartbeat_interval = 0\n"
        "drain_timeout = 2s\n[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[route /src]\nbackend = %s\n" % (cert, key, src.spec))).start()
    try:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small window, so the gateway's writes fill it at once.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        raw.settimeout(20)
        raw.connect(("127.0.0.1", g.port))
        ctx = insecure_ctx()
        ws = RawWS(g.port, sock=ctx.wrap_socket(raw), timeout=30)
        head, ws.key = RawWS.request_head(path="/src")
        ws.sock.sendall(head)
        ws.read_head()
        assert ws.status == 101
        # Stop reading: the gateway's socket fills and its writes fall
        # short; the rest of the stream waits in its buffers.
        time.sleep(1.5)
        h = hashlib.sha256()
        n = [0]

        def take(p):
            h.update(p)
            n[0] += len(p)
        _, close = ws.recv_until_close(timeout=30, on_data=take)
        assert n[0] == total, "got %d of %d bytes" % (n[0], total)
        assert h.hexdigest() == source_stream_hash(total, chunk)
        assert close is not None and close.close_code == 1000
    finally:
        assert g.stop() == 0


def slow_sink(c, stop):
    """Take what comes, pausing after each read: the gateway's reads of
    the client stop and start again many times."""
    while True:
        chunk = c.recv_some(stop)
        if not chunk:
            break
        time.sleep(0.001)
    c.sock.close()


def test_wss_stream_up_to_a_slow_backend_arrives_whole(tmp_path, certs,
                                                       backends):
    """Client to backend over TLS: libevent's first 4 KiB, then 16 KiB
    reads of what OpenSSL holds (tls_read_more), each stopping when the
    backend's output is full; and a client whose reading resumes with
    records OpenSSL already read ahead (session_leg_read_on). Every byte,
    in order, before the close completes."""
    total, size = 12 << 20, 65536
    sink = backends(slow_sink, keep=False)
    cert, key = certs
    g = gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\nheartbeat_interval = 0\n"
        "max_buffer = 64K\ndrain_timeout = 2s\n[tls]\ncertificate = %s\n"
        "private_key = %s\n[route /sink]\nbackend = %s\n"
        "max_message_size = 0\n" % (cert, key, sink.spec))).start()
    try:
        raw = socket.create_connection(("127.0.0.1", g.port), timeout=20)
        ctx = insecure_ctx()
        ws = RawWS(g.port, sock=ctx.wrap_socket(raw), timeout=60)
        head, ws.key = RawWS.request_head(path="/sink")
        ws.sock.sendall(head)
        assert ws.read_head() == 101
        block = pattern_bytes(size)
        want = hashlib.sha256()
        for _ in range(total // size):
            ws.send_frame(OP_BINARY, block)
            want.update(block)
        ws.send_close(1000)
        _, close = ws.recv_until_close(timeout=60)
        assert close is not None and close.close_code == 1000
        conn = sink.conns[0]
        conn.wait_eof(30)
        assert conn.nreceived == total
        assert conn.hash.hexdigest() == want.hexdigest()
    finally:
        assert g.stop() == 0
