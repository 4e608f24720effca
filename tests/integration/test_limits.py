"""Per-address limits: max_connections_per_ip (503) and
handshake_rate_per_ip (429), counted per client address."""
import socket
import time

from backendkit import echo_handler
from basekit import wait_for
from wskit import RawWS


def upgrade_from(port, src="127.0.0.1", path="/echo"):
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    ws = RawWS(port, sock=s)
    head, _ = RawWS.request_head(path=path)
    ws.send(head)
    ws.read_head()
    return ws


def test_connections_per_ip_over_the_limit_get_503(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"max_connections_per_ip": 3})
    held = [upgrade_from(g.port) for _ in range(3)]
    assert [w.status for w in held] == [101] * 3
    extra = upgrade_from(g.port)
    assert extra.status == 503
    extra.close()
    # Another address is counted on its own.
    other = upgrade_from(g.port, src="127.0.0.2")
    assert other.status == 101
    other.close()
    # One goes; a new one from the first address fits again.
    held.pop().close()
    g.wait_session_lines(2)

    def fits():
        w = upgrade_from(g.port)
        ok = w.status == 101
        w.close()
        return ok
    wait_for(fits, 5, what="a freed slot")
    for w in held:
        w.close()


def test_handshake_rate_per_ip_over_the_rate_gets_429(gateway_factory,
                                                      backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"handshake_rate_per_ip": "5/s"})
    # All eight requests go out at once: made one after the other, a slow
    # (loaded, sanitized) run let the bucket refill a token every 200 ms
    # between them and no request was ever over the rate.
    socks = []
    for _ in range(8):
        s = socket.socket()
        s.settimeout(10)
        s.connect(("127.0.0.1", g.port))
        socks.append(s)
    head, _ = RawWS.request_head(path="/echo")
    for s in socks:
        s.sendall(head)
    statuses = []
    for s in socks:
        w = RawWS(g.port, sock=s)
        w.read_head()
        statuses.append(w.status)
        w.close()
    assert sorted(statuses) == [101] * 5 + [429] * 3, statuses
    w = upgrade_from(g.port, src="127.0.0.3")      # its own bucket
    assert w.status == 101
    w.close()
    time.sleep(1.1)                                 # the bucket refills
    w = upgrade_from(g.port)
    assert w.status == 101
    w.close()
    g.wait_log(r"handshake_refused .*status=429")
