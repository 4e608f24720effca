"""A SIGTERM that comes as soon as wsgate listens (systemd stopping a unit
that just started, a test harness, a rolling restart that changes its
mind) is a drain and a clean exit, never death by the signal."""
import os
import signal
import socket
import subprocess
import time

from basekit import free_port
from gatewaykit import WSGATE_BIN


def test_sigterm_right_after_listening_exits_cleanly(tmp_path):
    conf = tmp_path / "g.conf"
    codes = []
    for _ in range(12):
        port = free_port()
        conf.write_text("[gateway]\nlisten = 127.0.0.1:%d\n"
                        "drain_timeout = 2s\n[route /a]\n"
                        "backend = tcp:127.0.0.1:1\n" % port)
        p = subprocess.Popen([WSGATE_BIN, "-d", "-c", str(conf)],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            # The kernel accepts on the listener before wsgate's loop
            # runs: the earliest moment anyone can know it is up.
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() < deadline, "never listened"
        p.send_signal(signal.SIGTERM)
        try:
            codes.append(p.wait(10))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
            p.stderr.close()
    assert codes == [0] * len(codes), codes
