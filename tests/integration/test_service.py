"""What a service manager sees: systemd notifications (Type=notify) and a
drain that spreads close 1001 over drain_timeout."""
import os
import signal
import socket
import threading
import time

from backendkit import echo_handler
from wskit import OP_BINARY, RawWS


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


def test_sigterm_repeated_during_teardown_exits_cleanly(gateway_factory,
                                                        backends):
    """A second SIGTERM means "exit now". More of them while wsgate frees
    its sessions on the way out (a service manager and an impatient
    operator, say) must not turn that clean exit into death by signal."""
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec,
                                           "heartbeat_interval": "0"})],
                        gateway={"drain_timeout": "60s", "workers": 1})
    clients = [RawWS.open(g.port, path="/echo") for _ in range(200)]
    for ws in clients:          # every session upgraded and connected
        ws.send_frame(OP_BINARY, b"x")
        assert ws.recv_frame(timeout=10).payload == b"x"
    g.send_signal(signal.SIGTERM)           # drain: 60 s to go
    g.wait_log(r"draining \d+ sessions")
    deadline = time.monotonic() + 10
    while g.proc.poll() is None and time.monotonic() < deadline:
        try:
            os.kill(g.pid, signal.SIGTERM)  # exit now, and again...
        except ProcessLookupError:
            break
        time.sleep(0.0002)
    assert g.proc.wait(10) == 0, "wsgate exited by signal, not cleanly"
    g.stopped = True
    for ws in clients:
        ws.close()
