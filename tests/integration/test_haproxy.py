"""Behind Debian's HAProxy, as users deploy it (issue 11 item 1): in TCP
mode HAProxy sends its PROXY header the moment it connects, before the
client has spoken, so the header arrives in a segment of its own; in HTTP
mode it sends it with or before the forwarded request. Every session must
come up, relay, and be logged under the real client's address."""
import websocket  # websocket-client

from backendkit import echo_handler
from basekit import free_port
from haproxykit import haproxy_factory  # noqa: F401 (fixture)

SESSIONS = 20


def _echo_sessions(port, n):
    """n sessions one after another through port; the client ports used."""
    ports = []
    for i in range(n):
        ws = websocket.create_connection("ws://127.0.0.1:%d/echo" % port,
                                         timeout=10)
        ports.append(ws.sock.getsockname()[1])
        msg = b"through haproxy %d" % i
        ws.send_binary(msg)
        assert ws.recv() == msg
        ws.close()
    return ports


def test_every_session_gets_through_haproxy(gateway_factory, backends,
                                            haproxy_factory):  # noqa: F811
    echo = backends(echo_handler)
    pport = free_port()
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"listen": "127.0.0.1:%d proxy_protocol"
                                 % pport})
    frontends = [("tcp_v1", "tcp", "send-proxy"),
                 ("tcp_v2", "tcp", "send-proxy-v2"),
                 ("http_v1", "http", "send-proxy"),
                 ("http_v2", "http", "send-proxy-v2")]
    h = haproxy_factory(pport, frontends, http_options=["option forwardfor"])
    used = {}
    for name, _mode, _opts in frontends:
        used[name] = _echo_sessions(h.ports[name], SESSIONS)
    lines = g.wait_session_lines(SESSIONS * len(frontends), timeout=20)
    logged = {ln["client"] for ln in lines}
    for name, ports in used.items():
        # The PROXY header named each real client (its own port).
        missing = [p for p in ports if "127.0.0.1:%d" % p not in logged]
        assert not missing, "%s: sessions not logged under the client: %r" \
            % (name, missing)
    text = g.log_text()
    assert "PROXY" not in text and "out of memory" not in text, text


def test_two_http_proxies_in_a_row_name_the_client(gateway_factory, backends,
                                                  haproxy_factory):  # noqa: F811
    """Issue 11 item 7 with real proxies: two HAProxies in HTTP mode, each
    with option forwardfor, add an X-Forwarded-For line each (RFC 9110
    §5.3: one list). The client (127.0.0.2) is named, not the outer
    proxy (127.0.0.1, trusted)."""
    import socket
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"trusted_proxies": "127.0.0.1/32"})
    inner = haproxy_factory(g.port, [("in", "http", "")],
                            http_options=["option forwardfor"], name="inner")
    outer = haproxy_factory(inner.ports["in"], [("out", "http", "")],
                            http_options=["option forwardfor"], name="outer")
    for i in range(3):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", outer.ports["out"]))
        ws = websocket.WebSocket()
        ws.connect("ws://127.0.0.1:%d/echo" % outer.ports["out"], socket=s)
        ws.send_binary(b"two proxies %d" % i)
        assert ws.recv() == b"two proxies %d" % i
        ws.close()
    lines = g.wait_session_lines(3)
    assert [ln["client"] for ln in lines] == ["127.0.0.2:0"] * 3
