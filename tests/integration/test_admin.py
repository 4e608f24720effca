"""The admin endpoint: /metrics moves by the right amounts with real
traffic and parses as Prometheus text; /healthz; /readyz turns 503 when
draining."""
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from backendkit import echo_handler, send_then_eof
from basekit import wait_for
from wskit import OP_BINARY, OP_PING, OP_PONG, RawWS, http_exchange

parser = pytest.importorskip("prometheus_client.parser")


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    samples = {}
    for fam in parser.text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def val(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def status(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture
def admin_gw(gateway_factory, backends):
    echo = backends(echo_handler)
    bye = backends(send_then_eof(b"bye"))
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec}),
                                ("/bye/*", {"backend": bye.spec})],
                        gateway={"admin_listen": "127.0.0.1:{admin_port}",
                                 "heartbeat_interval": "100ms",
                                 "heartbeat_timeout": "2s"})
    return g


def test_metrics_count_real_traffic(admin_gw):
    g = admin_gw
    before = scrape(g.admin_port)
    assert val(before, "wsgate_handshakes_total") == 0
    for _ in range(3):
        ws = RawWS.open(g.port, path="/echo")
        ws.send_frame(OP_BINARY, b"x" * 1000)
        got = b""
        while len(got) < 1000:
            got += ws.recv_frame(timeout=5).payload
        ws.send_close(1000)
        ws.expect_close(1000, timeout=5)
        ws.close()
    ws = RawWS.open(g.port, path="/bye/x")
    ws.expect_close(1000, timeout=5)
    ws.close()
    head, _key = RawWS.request_head(path="/nowhere")
    r = http_exchange(g.port, head)
    assert r.status == 404
    r.close()
    g.wait_session_lines(4)
    after = scrape(g.admin_port)
    assert val(after, "wsgate_handshakes_total") == 4
    assert val(after, "wsgate_handshake_rejections_total", status="404") == 1
    assert val(after, "wsgate_route_bytes_total", route="/echo",
               direction="up") == 3000
    assert val(after, "wsgate_route_bytes_total", route="/echo",
               direction="down") == 3000
    assert val(after, "wsgate_route_bytes_total", route="/bye/*",
               direction="down") == 3
    assert val(after, "wsgate_route_sessions_ended_total", route="/echo",
               cause="client_close") == 3
    assert val(after, "wsgate_route_sessions_ended_total", route="/bye/*",
               cause="backend_closed") == 1
    assert val(after, "wsgate_route_sessions_active", route="/echo") == 0
    assert val(after, "wsgate_close_codes_total", code="1000") == 4
    assert val(after, "wsgate_backend_connect_seconds_count") == 4
    assert val(after, "wsgate_connections_accepted_total") >= 5


def test_ping_round_trip_is_measured(admin_gw):
    g = admin_gw
    ws = RawWS.open(g.port, path="/echo")
    # RawWS.recv_until_close answers pings; stop after a few by closing
    deadline = time.monotonic() + 5
    pongs = 0
    while pongs < 2 and time.monotonic() < deadline:
        fr = ws.recv_frame(timeout=5)
        if fr.opcode == 0x9:
            ws.send_frame(0xA, fr.payload)
            pongs += 1
    assert pongs == 2
    wait_for(lambda: val(scrape(g.admin_port),
                         "wsgate_ping_rtt_seconds_count") >= 2, 5,
             what="ping rtt samples")
    assert val(scrape(g.admin_port), "wsgate_route_sessions_active",
               route="/echo") == 1
    ws.close()


def test_healthz_and_readyz_turn_503_while_draining(admin_gw):
    g = admin_gw
    assert status(g.admin_port, "/healthz") == 200
    assert status(g.admin_port, "/readyz") == 200
    assert status(g.admin_port, "/nothing") == 404
    ws = RawWS.open(g.port, path="/echo")      # keeps the drain going
    g.send_signal(signal.SIGTERM)
    wait_for(lambda: status(g.admin_port, "/readyz") == 503, 5,
             what="/readyz 503 while draining")
    ws.expect_close(1001, timeout=5)
    ws.close()
    assert g.stop() == 0


def test_byte_counters_move_while_sessions_run(admin_gw):
    """A long-lived session's bytes show in /metrics while it streams, not
    only when it ends (issue 11 item 8)."""
    g = admin_gw
    ws = RawWS.open(g.port, path="/echo")
    chunk = b"y" * 4096
    sent = got = 0
    seen = []
    for rnd in range(3):
        for _ in range(16):
            ws.send_frame(OP_BINARY, chunk)
            sent += len(chunk)
        while got < sent:
            f = ws.recv_frame(timeout=5)
            if f.opcode == OP_BINARY:
                got += len(f.payload)
            elif f.opcode == OP_PING:
                ws.send_frame(OP_PONG, f.payload)

        # counters may lag by up to a second
        def moved():
            try:        # keep answering the 100ms heartbeat meanwhile
                while True:
                    f = ws.recv_frame(timeout=0.05)
                    if f.opcode == OP_PING:
                        ws.send_frame(OP_PONG, f.payload)
            except socket.timeout:
                pass
            s = scrape(g.admin_port)
            up = val(s, "wsgate_route_bytes_total", route="/echo", direction="up")
            down = val(s, "wsgate_route_bytes_total", route="/echo",
                       direction="down")
            return (up, down) if up >= sent and down >= got else None
        seen.append(wait_for(moved, 3, what="bytes of a running session "
                             "in /metrics (sent %d)" % sent))
    assert seen[0][0] > 0 and seen[0][1] > 0
    assert seen[0] < seen[1] < seen[2], seen
    assert val(scrape(g.admin_port), "wsgate_route_sessions_active",
               route="/echo") == 1, "the session ended meanwhile"
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()
    g.wait_session_lines(1)
    s = scrape(g.admin_port)
    assert val(s, "wsgate_route_bytes_total", route="/echo",
               direction="up") == sent, "counted twice at the end?"
