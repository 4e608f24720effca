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
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time

import pytest

from backendkit import echo_handler, record_handler, send_then_eof
from basekit import wait_for
from test_wss_readahead import MemTLS
from tlskit import gateway_from_text, make_self_signed
from wskit import OP_BINARY, OP_CLOSE, RawWS, build_frame


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_self_signed(tmp_path_factory.mktemp("tls-close"))


def tls_gateway(tmp_path, certs, backend, gateway=""):
    cert, key = certs
    return gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\nheartbeat_interval = 0\n"
        "drain_timeout = 2s\n%s[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[route /echo]\nbackend = %s\n" % (gateway, cert, key,
                                            backend.spec))).start()


def segs_in(sock):
    """Segments this socket has received (struct tcp_info's tcpi_segs_in,
    Linux 4.2 and later: the u32 at byte 140)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 140)[0]


class SSLClient:
    """A blocking TLS client upgraded on /echo, read through RawWS."""

    def __init__(self, port, rcvbuf=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:      # before connect: it sets the window
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", port))
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


def gateway_socket(gport, cport):
    """wsgate's socket to the client on cport, as ss(8) sees it: (Send-Q:
    bytes not yet acknowledged, sk_wmem_queued, sk_sndbuf). The socket is
    full, and a send() of any size fails with EAGAIN, once the queued
    memory reaches sk_sndbuf (the kernel's sk_stream_memory_free)."""
    out = subprocess.run(
        ["ss", "-tmnH", "state", "established",
         "( sport = :%d and dport = :%d )" % (gport, cport)],
        capture_output=True, text=True, check=True).stdout
    q = re.search(r"^\s*(\d+)\s+(\d+)\s+\S+:%d\s" % gport, out, re.M)
    m = re.search(r"skmem:\(([^)]*)\)", out)
    assert q and m, "no socket %d -> %d in ss: %r" % (gport, cport, out)
    mem = dict((k, int(v)) for k, v in re.findall(r"([a-z]+)(\d+)",
                                                  m.group(1)))
    return int(q.group(2)), mem["w"], mem["tb"]


def fill_until_full(c, gport):
    """Echo frames through a client that reads nothing until wsgate's
    socket to it is full, with nothing left in wsgate's own output: each
    frame is written only after the last one reached the socket (its
    Send-Q grew), and the last ones are small enough that the kernel takes
    each whole while it has any room. Returns the bytes echoed."""
    cport = c.s.getsockname()[1]
    sent = bytearray()
    deadline = time.monotonic() + 60
    while True:
        queued, wmem, sndbuf = gateway_socket(gport, cport)
        if wmem >= sndbuf:
            return bytes(sent)
        assert time.monotonic() < deadline, (queued, wmem, sndbuf)
        big = sndbuf - wmem > 262144
        chunk = os.urandom(32768 if big else 1000)
        c.ws.send_frame(OP_BINARY, chunk)
        sent += chunk
        # A small echo, whole: the client's window is shut by then, so
        # nothing is acknowledged and only a part of it (the backend's
        # first read) could make Send-Q grow by less.
        grow = 1 if big else len(chunk)
        wait_for(lambda: gateway_socket(gport, cport)[0] >= queued + grow,
                 10, interval=0.001, what="the echo in wsgate's socket")


def refuse_sends(pid, n, log):
    """Trace pid's threads with strace(1) and fail their first n sendto()
    calls with EAGAIN, as a kernel with no room in the socket would; the
    calls go to log. Returns the strace process, attached; skips the test
    where strace cannot trace. (On loopback the kernel itself never says
    EAGAIN to the ~100 bytes of a close reply while a segment waits
    unsent behind a shut window: it appends them to it, whatever the send
    buffer's size. A path with its window open and its buffer in flight
    says it, which loopback cannot make on demand.)"""
    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    st = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", str(log), "-e", "trace=sendto,shutdown",
         "-e", "inject=sendto:error=EAGAIN:when=1..%d" % n, "-p", str(pid)],
        stderr=subprocess.PIPE)

    def attached():
        if st.poll() is not None:
            pytest.skip("strace cannot trace here: %r" % st.stderr.read())
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                if "TracerPid:\t0\n" in f.read():
                    return False
        return True
    wait_for(attached, 10, what="strace attached to wsgate")
    return st


def test_close_reply_waits_for_room_when_the_client_stopped_reading(
        tmp_path, certs, backends):
    """A client that stopped reading (a small receive buffer, full) while
    the backend's bytes to it filled wsgate's socket sends its close frame:
    our close reply and close_notify find no room in the socket (the first
    two tries). They wait for room and are not dropped: once the client
    reads again it gets every byte the backend sent, then our close frame,
    close_notify and FIN, and no reset. (Before, the send buffer was grown
    once, and failing that the leg was closed: the client got the bytes
    and a FIN, but no close frame.)"""
    close_reply_waits_for_room(tmp_path, certs, backends, half_close=False)


def test_close_reply_waiting_for_room_outlives_the_clients_fin(
        tmp_path, certs, backends):
    """As above, but the client half-closes (its FIN after its close frame)
    before it reads again: the leg is kept until our last records and FIN
    are out, and the client still gets every byte, our close frame,
    close_notify and FIN. (Before, the client's EOF dropped the leg with
    its held records: the client got the bytes the kernel had and then a
    reset, no close frame.)"""
    close_reply_waits_for_room(tmp_path, certs, backends, half_close=True)


def close_reply_waits_for_room(tmp_path, certs, backends, half_close):
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo, gateway="log_level = debug\n")
    st = None
    try:
        c = SSLClient(g.port, rcvbuf=4096)
        want = fill_until_full(c, g.port)
        st = refuse_sends(g.pid, 2, tmp_path / "strace.log")
        c.ws.send_close(1000)
        g.wait_log(r"session \d+: the last records wait for room")
        if half_close:
            # The TCP socket's own shutdown: SSLSocket's would drop TLS.
            socket.socket.shutdown(c.s, socket.SHUT_WR)
            g.wait_log(r"session \d+: the client's EOF while our last "
                       r"records wait for room|duration=\S+s")
        data, f = c.ws.recv_until_close(timeout=60)
        assert len(data) == len(want) and data == want
        assert f is not None and f.close_code == 1000, f
        if half_close:
            # Our close_notify, then our FIN (not a reset); the client's
            # own close_notify cannot follow its FIN.
            assert not c.ws.buf and c.s.recv(4096) == b""
            assert socket.socket.recv(c.s, 4096) == b""
            c.s.close()
        else:
            c.close_notify_then_fin().close()
        lines = g.wait_session_lines(1, route="/echo")
        assert lines[0]["code"] == "1000", lines
    finally:
        if st is not None:
            st.terminate()
            st.wait(10)
        assert g.stop() == 0
    calls = (tmp_path / "strace.log").read_text()
    assert calls.count("(INJECTED)") == 2, calls
