"""The end of a wss session, as the client's kernel and TLS stack see it.

However it ends (the client's close frame answered, or a close of ours
answered by the client), the client gets our close frame, then our
close_notify, then our FIN, and never a reset: the gateway keeps reading
until the client's own close_notify or EOF (a client answering our
close_notify with its own, as asyncio's TLS does, would get a reset from
a socket closed before it). The last records and the FIN leave in one
segment (tls_sock.c holds the close frame's record for the close_notify;
MSG_MORE and shutdown() add the FIN): the client's kernel counts them
(tcpi_segs_in), nothing is timed.

The clients are Python's ssl module over a plain socket: a blocking
SSLSocket with suppress_ragged_eofs=False (so b"" from recv() is a
close_notify, and an EOF without one raises), and MemTLS over memory BIOs
where a test decides which records go out in one write."""
import socket
import ssl
import struct

import pytest

from backendkit import echo_handler, record_handler, send_then_eof
from basekit import wait_for
from test_wss_readahead import MemTLS
from tlskit import gateway_from_text, make_self_signed
from wskit import OP_BINARY, OP_CLOSE, RawWS, build_frame


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_self_signed(tmp_path_factory.mktemp("tls-close"))


def tls_gateway(tmp_path, certs, backend):
    cert, key = certs
    return gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\nheartbeat_interval = 0\n"
        "drain_timeout = 2s\n[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[route /echo]\nbackend = %s\n" % (cert, key, backend.spec))).start()


def segs_in(sock):
    """Segments this socket has received (struct tcp_info's tcpi_segs_in,
    Linux 4.2 and later: the u32 at byte 140)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 140)[0]


class SSLClient:
    """A blocking TLS client upgraded on /echo, read through RawWS."""

    def __init__(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost",
                                 suppress_ragged_eofs=False)
        self.ws = RawWS(port, sock=self.s)
        head, self.ws.key = RawWS.request_head(path="/echo")
        self.s.sendall(head)
        assert self.ws.read_head() == 101, self.ws.head_raw

    def close_notify_then_fin(self):
        """What follows the close frame: a close_notify (recv() gives b"",
        where an EOF without one raises SSLEOFError), then, after ours,
        the FIN (b""), not a reset (ConnectionResetError)."""
        assert not self.ws.buf, bytes(self.ws.buf)
        assert self.s.recv(4096) == b""
        raw = self.s.unwrap()       # our close_notify, as asyncio sends it
        assert raw.recv(4096) == b""
        return raw


def assert_close_notify(c):
    """The next record MemTLS c reads is a close_notify, before any EOF."""
    while True:
        try:
            got = c.tls.read(4096)
        except ssl.SSLZeroReturnError:
            return
        except ssl.SSLWantReadError:
            chunk = c.raw.recv(65536)
            assert chunk, "an EOF without a close_notify"
            c.inc.write(chunk)
            continue
        raise AssertionError("bytes after the close frame: %r" % got)


def test_close_reply_close_notify_and_fin_in_one_segment(tmp_path, certs,
                                                         backends):
    """The client's close frame answered: our close frame, close_notify and
    FIN reach it in one segment (three before: a write each and the FIN),
    and end in an orderly FIN."""
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo)
    try:
        for _ in range(3):
            c = SSLClient(g.port)
            c.ws.send_frame(OP_BINARY, b"x")
            assert c.ws.recv_frame().payload == b"x"
            before = segs_in(c.s)
            c.ws.send_close(1000)
            f = c.ws.recv_frame()
            assert f.opcode == OP_CLOSE and f.close_code == 1000, f
            raw = c.close_notify_then_fin()
            assert segs_in(raw) - before == 1
            raw.close()
        lines = g.wait_session_lines(3, route="/echo")
        assert all(ln["code"] == "1000" for ln in lines), lines
    finally:
        assert g.stop() == 0


def test_close_of_ours_answered_ends_in_one_segment(tmp_path, certs,
                                                    backends):
    """The backend closes: the client gets its bytes and our close 1000,
    answers it, and then gets our close_notify and FIN in one segment (two
    before), an orderly end."""
    bye = backends(send_then_eof(b"bye"))
    g = tls_gateway(tmp_path, certs, bye)
    try:
        c = SSLClient(g.port)
        data, f = c.ws.recv_until_close()
        assert data == b"bye" and f.close_code == 1000, (data, f)
        before = segs_in(c.s)
        c.ws.send_close(1000)
        raw = c.close_notify_then_fin()
        assert segs_in(raw) - before == 1
        raw.close()
        g.wait_session_lines(1, route="/echo")
    finally:
        assert g.stop() == 0


def test_data_with_the_close_and_close_notify_reaches_the_backend(
        tmp_path, certs, backends):
    """A client that sends its last data, its close frame and its
    close_notify in one write (it does not wait for our close): the
    backend still gets every byte, then EOF, and the client our close
    frame, close_notify and FIN, no reset."""
    rec = backends(record_handler)
    g = tls_gateway(tmp_path, certs, rec)
    try:
        c = MemTLS(g.port)
        c.handshake_keeping_finished()
        c.flush()
        ws = RawWS(g.port, sock=c)
        head, ws.key = RawWS.request_head(path="/echo")
        c.sendall(head)
        assert ws.read_head() == 101, ws.head_raw
        want = b"".join(bytes([i]) * 3000 for i in range(1, 6))
        for i in range(1, 6):
            c.queue(build_frame(OP_BINARY, bytes([i]) * 3000))
        c.queue(build_frame(OP_CLOSE, b"\x03\xe8"))
        with pytest.raises(ssl.SSLWantReadError):
            c.tls.unwrap()          # our close_notify, queued
        c.flush()
        f = ws.recv_frame()
        assert f.opcode == OP_CLOSE and f.close_code == 1000, f
        assert_close_notify(c)
        assert c.raw.recv(4096) == b""      # FIN, not ConnectionResetError
        conn = rec.wait_conn()
        assert conn.eof.wait(10) and not conn.reset
        wait_for(lambda: conn.nreceived >= len(want), 10,
                 what="the client's bytes at the backend")
        assert bytes(conn.received) == want
        c.close()
    finally:
        assert g.stop() == 0
