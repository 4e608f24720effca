"""PROXY protocol: v1/v2 headers from a load balancer on a proxy_protocol
listener name the real client (logs, and what backends are told); routes
with backend_proxy_protocol send v1/v2 headers to their backends."""
import socket
import struct
import time

from conftest import (RawWS, OP_BINARY, free_port, record_handler, wait_for)

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
    from conftest import RawWS
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
