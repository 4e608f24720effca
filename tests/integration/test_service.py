"""What a service manager sees: systemd notifications (Type=notify) and a
drain that spreads close 1001 over drain_timeout."""
import ctypes
import os
import re
import signal
import socket
import threading
import time

import pytest

from backendkit import echo_handler
from basekit import wait_for
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


def _rest_of_states(s):
    """Every notification still queued on s (the daemon has exited)."""
    got = []
    s.setblocking(False)
    while True:
        try:
            msg = s.recv(4096).decode()
        except BlockingIOError:
            return got
        got.append(dict(l.split("=", 1) for l in msg.splitlines()
                        if "=" in l))


def _task_state(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _signals_in_one_turn(pid, *sigs):
    """Deliver sigs to wsgate's main thread (worker 0, where libevent
    catches them) so that its loop sees them all at once: the process is
    stopped while they are queued for that thread, which on SIGCONT runs
    every handler before it reads the signal pipe. libevent then runs
    the callbacks in one turn, in signal-number order."""
    libc = ctypes.CDLL(None, use_errno=True)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: _task_state(pid, pid) == "T", 5,
                 what="wsgate stopped by SIGSTOP")
        for sig in sigs:
            if libc.tgkill(pid, pid, int(sig)) != 0:
                raise OSError(ctypes.get_errno(), "tgkill")
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_reload_done_after_stopping_is_not_told_ready(gateway_factory,
                                                        backends, tmp_path):
    """SIGHUP, then SIGTERM before the other workers have taken the new
    config (`systemctl reload` and `systemctl stop` close together): the
    reload finishes during the drain, which a session keeps going. systemd
    has had STOPPING=1 by then; READY=1 after it would tell it a stopping
    service is up again. Before, main_reloaded sent it all the same."""
    echo = backends(echo_handler)
    sock, path = notify_socket(tmp_path)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec,
                                           "heartbeat_interval": "0"})],
                        gateway={"workers": "4"},
                        env={"NOTIFY_SOCKET": path})
    assert next_state(sock).get("READY") == "1"
    g.wait_log(r"wsgate \S+ started")
    ws = RawWS.open(g.port, path="/echo")
    ws.send_frame(OP_BINARY, b"x")
    assert ws.recv_frame(timeout=5).payload == b"x"
    _signals_in_one_turn(g.pid, signal.SIGHUP, signal.SIGTERM)
    assert next_state(sock).get("RELOADING") == "1"
    assert next_state(sock).get("STOPPING") == "1"
    # The reload is done once the other workers have taken it, drain or
    # not; the session holds the drain open until then.
    g.wait_log(r"reloaded ")
    ws.expect_close(1001, timeout=10)
    ws.send_close(1001)
    ws.close()
    assert g.proc.wait(10) == 0
    g.stopped = True
    after = _rest_of_states(sock)
    assert not [m for m in after if m.get("READY") == "1"], \
        "READY=1 after STOPPING=1: %r" % after
    assert re.search(r"reloaded [^\n]*\(draining after signal 15: not "
                     r"ready\)", g.log_text())
    sock.close()


def test_token_file_not_reloaded_once_stopping(gateway_factory, backends,
                                               tmp_path):
    """After SIGTERM with drain_delay the daemon still runs, but a
    SIGHUP no longer reloads, and neither does a token_file edit now.
    Before, the edit reloaded, and RELOADING=1 and READY=1 came after
    STOPPING=1."""
    echo = backends(echo_handler)
    tf = tmp_path / "targets"
    tf.write_text("alpha: %s\n" % echo.spec[4:])
    sock, path = notify_socket(tmp_path)
    g = gateway_factory(routes=[("/websockify", {"token_file": str(tf)})],
                        gateway={"drain_delay": "3s"},
                        env={"NOTIFY_SOCKET": path})
    assert next_state(sock).get("READY") == "1"
    g.wait_log(r"wsgate \S+ started")
    g.send_signal(signal.SIGTERM)
    assert next_state(sock).get("STOPPING") == "1"
    tf.write_text("alpha: %s\nbeta: %s\n" % (echo.spec[4:], echo.spec[4:]))
    # The file is looked at every 2 s: at least once before the drain.
    g.wait_log(r"drain_delay over after signal 15", timeout=6)
    assert g.proc.wait(10) == 0
    g.stopped = True
    after = _rest_of_states(sock)
    assert not [m for m in after if "READY" in m or "RELOADING" in m], \
        "notified after STOPPING=1: %r" % after
    assert "changed: reloading" not in g.log_text()
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


def test_workers_auto_counts_the_cpus_it_may_run_on(gateway_factory,
                                                    backends):
    """workers = auto in a process pinned to one CPU (taskset, systemd's
    CPUAffinity=, a container's cpuset) starts one event loop, and the
    gateway still relays; unpinned, one per CPU. (Before, auto counted
    every CPU online: a sidecar given one CPU ran a loop per host CPU.)"""
    ncpu = len(os.sched_getaffinity(0))
    if ncpu < 2:
        pytest.skip("one CPU: pinning to one changes nothing")
    echo = backends(echo_handler)
    routes = [("/echo", {"backend": echo.spec})]
    whole = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(whole)})   # the child inherits it
    try:
        pinned = gateway_factory(routes=routes, gateway={"workers": "auto"})
    finally:
        os.sched_setaffinity(0, whole)
    free = gateway_factory(routes=routes, gateway={"workers": "auto"})
    assert re.search(r"started: 1 workers,", pinned.log_text())
    assert re.search(r"started: %d workers," % min(ncpu, 64),
                     free.log_text())
    ws = RawWS.open(pinned.port, path="/echo")
    ws.send_frame(OP_BINARY, b"pinned")
    assert ws.recv_frame().payload == b"pinned"
    ws.close()
