"""What a service manager sees: systemd notifications (Type=notify) and a
drain that spreads close 1001 over drain_timeout."""
import os
import signal
import socket
import threading
import time

from conftest import RawWS, echo_handler, wait_for


def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    return s, path


def next_state(s):
    msg = s.recv(4096).decode()
    return dict(l.split("=", 1) for l in msg.splitlines() if "=" in l)


def test_ready_reloading_stopping_are_notified(gateway_factory, backends,
                                               tmp_path):
    echo = backends(echo_handler)
    sock, path = notify_socket(tmp_path)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        env={"NOTIFY_SOCKET": path})
    ready = next_state(sock)
    assert ready["READY"] == "1"
    assert ready["MAINPID"] == str(g.pid)
    g.send_signal(signal.SIGHUP)
    assert next_state(sock).get("RELOADING") == "1"
    assert next_state(sock).get("READY") == "1"
    g.send_signal(signal.SIGTERM)
    assert next_state(sock).get("STOPPING") == "1"
    assert g.stop() == 0
    sock.close()


def test_drain_spreads_close_1001_over_the_drain_timeout(gateway_factory,
                                                         backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec,
                                           "heartbeat_interval": "0"})],
                        gateway={"drain_timeout": "2s", "workers": 1})
    clients = [RawWS.open(g.port, path="/echo") for _ in range(40)]
    when = [None] * len(clients)

    def wait_close(i, ws):
        ws.expect_close(1001, timeout=10)
        when[i] = time.monotonic()
        ws.send_close(1001)
        ws.close()
    threads = [threading.Thread(target=wait_close, args=(i, ws), daemon=True)
               for i, ws in enumerate(clients)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    g.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(10)
    assert all(w is not None for w in when), "a client got no close 1001"
    spread = max(when) - min(when)
    # Half of drain_timeout (1 s) is the spreading window.
    assert 0.5 < spread < 1.5, "closes spread over %.2fs" % spread
    assert max(when) - t0 < 2.0
    assert g.stop() == 0
    assert time.monotonic() - t0 < 3.0
