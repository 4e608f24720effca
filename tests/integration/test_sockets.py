"""Socket options both legs of a session carry, seen from the kernel (ss).

The client leg gets TCP_NODELAY and SO_KEEPALIVE from the listening socket
(Linux copies both into accepted sockets), not from a setsockopt per
connection; the backend leg sets them after connect. Keepalive is what a
user notices: a peer that vanished without a FIN is found even when no
heartbeat runs."""

import socket
import struct
import subprocess

from backendkit import echo_handler
from basekit import wait_for
from gatewaykit import inetd_gateway
from wskit import RawWS


def _ss(filt):
    out = subprocess.run(["ss", "-tnoH", "state", "established", filt],
                         capture_output=True, text=True, timeout=10)
    return out.stdout


def test_both_legs_have_tcp_keepalive(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"heartbeat_interval": "0"})
    ws = RawWS.open(g.port, "/echo")
    try:
        ws.send_frame(0x2, b"x")
        assert ws.recv_frame(timeout=10).payload == b"x"
        # While bytes are unacknowledged ss shows the retransmit timer
        # ("on"); once acked, a keepalive socket shows its keepalive timer.
        # The gateway's side of the client leg: local port = listen port;
        # of the backend leg: remote port = the backend's.
        for filt in ("( sport = :%d )" % g.port, "( dport = :%d )" % echo.port):
            wait_for(lambda: "timer:(keepalive" in _ss(filt), 10,
                     what="keepalive timer on %s: %r" % (filt, _ss(filt)))
    finally:
        ws.close()


def test_inetd_socket_clients_have_tcp_keepalive(backends, tmp_path):
    """A listening socket handed over (fd:N, --inetd) is tuned like ours,
    so its accepted clients carry keepalive too."""
    echo = backends(echo_handler)
    with inetd_gateway(tmp_path, "127.0.0.1:%d" % echo.port) as port:
        ws = RawWS.open(port, "/")
        try:
            ws.send_frame(0x2, b"x")
            assert ws.recv_frame(timeout=10).payload == b"x"
            filt = "( sport = :%d )" % port
            wait_for(lambda: "timer:(keepalive" in _ss(filt), 10,
                     what="keepalive timer on %s: %r" % (filt, _ss(filt)))
        finally:
            ws.close()


def _segs_in(sock):
    """Segments this socket has received (struct tcp_info's tcpi_segs_in,
    Linux 4.2 and later: the u32 after tcpi_segs_out, at byte 140)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 140)[0]


def test_close_reply_and_fin_come_in_one_segment(gateway_factory, backends):
    """The gateway's answer to a client's close frame is the last thing on
    the connection, so the FIN rides in the same segment: one packet, one
    wakeup of the client, instead of two. Counted by the client's kernel,
    not timed."""
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"heartbeat_interval": "0"})
    for _ in range(3):
        ws = RawWS.open(g.port, "/echo")
        try:
            ws.send_frame(0x2, b"x")
            assert ws.recv_frame(timeout=10).payload == b"x"
            before = _segs_in(ws.sock)
            ws.send_close(1000)
            f = ws.recv_frame(timeout=10)
            assert f.opcode == 0x8 and f.payload[:2] == b"\x03\xe8"
            ws.wait_eof(timeout=10)
            assert _segs_in(ws.sock) - before == 1
        finally:
            ws.close()
