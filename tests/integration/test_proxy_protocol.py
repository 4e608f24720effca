"""PROXY protocol: v1/v2 headers from a load balancer on a proxy_protocol
listener name the real client (logs, and what backends are told); routes
with backend_proxy_protocol send v1/v2 headers to their backends."""
import socket
import struct
import time

from backendkit import record_handler
from basekit import free_port, wait_for
from wskit import OP_BINARY, RawWS

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, sport, dst, dport):
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    return SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs


def open_via(port, preamble, path="/rec"):
    """Connect, send the preamble and an upgrade in one write, read 101."""
    ws = RawWS(port, timeout=10)
    head, _ = RawWS.request_head(path=path)
    ws.send(preamble + head)
    assert ws.read_head() == 101
    return ws


def start_pp(gateway_factory, backends, route_keys):
    rec = backends(record_handler)
    pport = free_port()
    keys = {"backend": rec.spec}
    keys.update(route_keys)
    g = gateway_factory(routes=[("/rec", keys)],
                        gateway={"listen": "127.0.0.1:%d proxy_protocol"
                                 % pport})
    return g, rec, pport


def test_v1_from_load_balancer_names_the_client(gateway_factory, backends):
    g, rec, pport = start_pp(gateway_factory, backends, {})
    ws = open_via(pport, b"PROXY TCP4 203.0.113.7 127.0.0.1 40001 443\r\n")
    ws.send_frame(OP_BINARY, b"data")
    conn = rec.wait_conn(0)
    wait_for(lambda: bytes(conn.received) == b"data", 5, what="relay")
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()
    line = g.wait_session_lines(1)[0]
    assert line["client"] == "203.0.113.7:40001"


def test_v2_from_load_balancer_and_bad_header_dropped(gateway_factory,
                                                      backends):
    g, rec, pport = start_pp(gateway_factory, backends, {})
    ws = open_via(pport, v2_header("198.51.100.9", 5555, "127.0.0.1", 443))
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()
    assert g.wait_session_lines(1)[0]["client"] == "198.51.100.9:5555"
    # A plain request on the proxy_protocol listener: no PROXY header.
    s = socket.create_connection(("127.0.0.1", pport), timeout=5)
    head, _ = RawWS.request_head(path="/rec")
    s.sendall(head)
    assert s.recv(100) == b""         # dropped, no HTTP answer
    s.close()
    g.wait_log(r"bad PROXY protocol header")
    assert rec.count == 1


def test_backend_gets_v1_header_then_the_data(gateway_factory, backends):
    g, rec, pport = start_pp(gateway_factory, backends,
                          {"backend_proxy_protocol": "v1"})
    ws = RawWS.open(g.port, path="/rec",
                    trailing=b"")       # direct client, no PROXY in
    cport = ws.sock.getsockname()[1]
    ws.send_frame(OP_BINARY, b"payload")
    conn = rec.wait_conn(0)
    want = ("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n" % (cport, g.port)
            ).encode() + b"payload"
    wait_for(lambda: bytes(conn.received) == want, 5,
             what="PROXY v1 line then payload at the backend")
    ws.close()


def test_real_client_passes_through_as_v2(gateway_factory, backends):
    g, rec, pport = start_pp(gateway_factory, backends,
                          {"backend_proxy_protocol": "v2"})
    ws = open_via(pport, b"PROXY TCP4 203.0.113.7 192.0.2.1 40001 443\r\n")
    ws.send_frame(OP_BINARY, b"x")
    conn = rec.wait_conn(0)
    want = v2_header("203.0.113.7", 40001, "192.0.2.1", 443) + b"x"
    wait_for(lambda: bytes(conn.received) == want, 5,
             what="PROXY v2 header naming the real client, then data")
    ws.close()


def test_x_forwarded_for_from_trusted_proxies_only(gateway_factory, backends):
    """trusted_proxies: the client named in X-Forwarded-For by a trusted
    proxy is the peer for logs and PROXY headers; from anyone else the
    header is ignored."""
    from wskit import RawWS
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/rec", {"backend": rec.spec,
                                          "backend_proxy_protocol": "v1"})],
                        gateway={"trusted_proxies": "127.0.0.1/32"})
    ws = RawWS.open(g.port, path="/rec",
                    extra=["X-Forwarded-For: 198.51.100.1, 203.0.113.9"])
    ws.send_frame(OP_BINARY, b"d")
    conn = rec.wait_conn(0)
    wait_for(lambda: bytes(conn.received).startswith(
        b"PROXY TCP4 203.0.113.9 127.0.0.1 0 %d\r\n" % g.port), 5,
        what="the forwarded client in the PROXY header")
    ws.close()
    assert g.wait_session_lines(1)[0]["client"] == "203.0.113.9:0"
    # The same header from an untrusted address: ignored.
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", g.port))
    ws2 = RawWS(g.port, sock=s)
    head, _ = RawWS.request_head(path="/rec",
                                 extra=["X-Forwarded-For: 203.0.113.9"])
    ws2.send(head)
    assert ws2.read_head() == 101
    ws2.close()
    lines = g.wait_session_lines(2)
    assert lines[1]["client"].startswith("127.0.0.2:")


def _split_open(pport, preamble, pause):
    """The load balancer's way: the PROXY header in a segment of its own
    (sent on connect, before the client spoke), then, after a pause, the
    request. The session must come up and relay."""
    ws = RawWS(pport, timeout=10)
    ws.send(preamble)
    time.sleep(pause)                # the stimulus: two separate segments
    head, _ = RawWS.request_head(path="/rec")
    ws.send(head)
    assert ws.read_head() == 101
    return ws


def test_header_in_a_segment_of_its_own_v1_and_v2(gateway_factory, backends):
    """Issue 11 item 1: after a header that came alone the input buffer is
    empty; reading the (absent) request must wait, not drop the client."""
    g, rec, pport = start_pp(gateway_factory, backends, {})
    preambles = [b"PROXY TCP4 203.0.113.7 127.0.0.1 40001 443\r\n",
                 v2_header("198.51.100.9", 5555, "127.0.0.1", 443)]
    for i, (pre, pause) in enumerate([(p, t) for t in (0.05, 0.3)
                                      for p in preambles]):
        ws = _split_open(pport, pre, pause)
        ws.send_frame(OP_BINARY, b"n%d" % i)
        conn = rec.wait_conn(i)
        wait_for(lambda: bytes(conn.received) == b"n%d" % i, 5,
                 what="relay after a split PROXY header")
        ws.send_close(1000)
        ws.expect_close(1000, timeout=5)
        ws.close()
    clients = [ln["client"] for ln in g.wait_session_lines(4)]
    assert clients == ["203.0.113.7:40001", "198.51.100.9:5555"] * 2
    # The request itself split across segments, too.
    ws = RawWS(pport, timeout=10)
    head, _ = RawWS.request_head(path="/rec")
    for part in (preambles[1][:7], preambles[1][7:], head[:9], head[9:]):
        ws.send(part)
        time.sleep(0.05)
    assert ws.read_head() == 101
    ws.close()


def test_x_forwarded_for_lines_are_one_list(gateway_factory, backends):
    """Issue 11 item 7 (RFC 9110 §5.3): behind two proxies each appends
    its own X-Forwarded-For line; walked right to left across the lines,
    the session belongs to the client, not to the inner proxy."""
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/rec", {"backend": rec.spec,
                                          "backend_proxy_protocol": "v1"})],
                        gateway={"trusted_proxies": "127.0.0.0/8"})
    cases = [(["X-Forwarded-For: 203.0.113.5",
               "X-Forwarded-For: 127.0.0.9"], "203.0.113.5"),
             (["X-Forwarded-For: 198.51.100.1", "X-Real: x",
               "X-Forwarded-For: 203.0.113.6, 127.0.0.8",
               "x-forwarded-for: 127.0.0.9"], "203.0.113.6")]
    for i, (extra, client) in enumerate(cases):
        ws = RawWS.open(g.port, path="/rec", extra=extra)
        ws.send_frame(OP_BINARY, b"d")
        conn = rec.wait_conn(i)
        wait_for(lambda: bytes(conn.received).startswith(
            b"PROXY TCP4 %s 127.0.0.1 0 %d\r\n" % (client.encode(), g.port)),
            5, what="the client from every X-Forwarded-For line")
        ws.close()
    clients = [ln["client"] for ln in g.wait_session_lines(2)]
    assert clients == ["203.0.113.5:0", "203.0.113.6:0"]


class _SlowDownload:
    """A plain GET through the "proxy" (this host, trusted) for a client
    named in X-Forwarded-For, read a little at a time until stopped, so
    the download stays in progress (and steady, not stalled)."""

    def __init__(self, port, path, client):
        import threading
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: "
                           "%s\r\n\r\n" % (path, client)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1024)
            assert chunk, "connection closed before the answer: %r" % head
            head += chunk
        self.status = int(head.split(b" ", 2)[1])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.stop.wait(0.02):
            try:
                if not self.sock.recv(4096):
                    return
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_static_downloads_through_a_proxy_count_their_clients(
        gateway_factory, backends, tmp_path):
    """Issue 11 item 7: max_connections_per_ip counts the client a trusted
    proxy names, for plain file requests too: slow downloads by one client
    through the proxy leave a fresh client's upgrade alone (it got 503,
    charged to the proxy), and still count against that client."""
    from backendkit import echo_handler
    from basekit import pattern_bytes
    root = tmp_path / "www"
    root.mkdir()
    (root / "big.bin").write_bytes(pattern_bytes(16 * 1024 * 1024, seed=3))
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/files/*", {"root": str(root)}),
                                ("/echo", {"backend": echo.spec})],
                        gateway={"trusted_proxies": "127.0.0.1/32",
                                 "max_connections_per_ip": 3})
    downloads = []
    try:
        for _ in range(3):
            downloads.append(_SlowDownload(g.port, "/files/big.bin",
                                           "198.51.100.20"))
            assert downloads[-1].status == 200
        ws = RawWS.open(g.port, path="/echo",
                        extra=["X-Forwarded-For: 198.51.100.99"])
        ws.send_frame(OP_BINARY, b"fresh")
        assert ws.recv_frame(timeout=5).payload == b"fresh"
        ws.close()
        # The downloader itself is at its limit, by file or by upgrade.
        over = _SlowDownload(g.port, "/files/big.bin", "198.51.100.20")
        assert over.status == 503
        over.close()
        ws = RawWS.open(g.port, path="/echo", expect=503,
                        extra=["X-Forwarded-For: 198.51.100.20"])
        ws.close()
        assert all(d.thread.is_alive() for d in downloads)
    finally:
        for d in downloads:
            d.close()
