"""user = NAME: wsgate binds (a port below 1024, too) as root, then runs as
NAME and still serves."""
import os
import pwd
import socket

import pytest

from backendkit import echo_handler
from gatewaykit import Gateway
from wskit import OP_BINARY, RawWS


def low_free_port():
    for p in range(1000, 900, -1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    pytest.skip("no free port below 1024")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop it")
def test_drops_root_after_binding_a_low_port(tmp_path, backends):
    nobody = pwd.getpwnam("nobody")
    echo = backends(echo_handler)
    low = low_free_port()
    g = Gateway(tmp_path, routes=[("/echo", {"backend": echo.spec})],
                gateway={"user": "nobody",
                         "listen": "127.0.0.1:%d" % low})
    g.start()
    try:
        # The listener accepts as soon as it is bound, before root is
        # dropped: wait for the drop itself, then look.
        g.wait_log(r"running as user nobody")
        with open("/proc/%d/status" % g.pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        assert uids == [str(nobody.pw_uid)] * 4     # real, eff, saved, fs
        ws = RawWS.open(low, path="/echo")
        ws.send_frame(OP_BINARY, b"unprivileged")
        assert ws.recv_frame(timeout=5).payload == b"unprivileged"
        ws.close()
    finally:
        assert g.stop() == 0
