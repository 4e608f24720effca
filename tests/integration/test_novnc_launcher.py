"""noVNC's own launcher, Debian's /usr/share/novnc/utils/novnc_proxy, run
unchanged with wsgate's websockify command first on PATH (as the package
installs it: a link named websockify in a directory of its own), reaching a
real VNC server (x11vnc on Xvfb): its web page is served, and the RFB
handshake comes through the WebSocket, over ws:// and over wss:// with
--cert --key --ssl-only. The browser version of this is `make e2e`."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from basekit import free_port, wait_for
from gatewaykit import WSGATE_BIN
from probekit import accepts
from wskit import OP_BINARY, RawWS
from tlskit import make_ca, make_cert

LAUNCHER = "/usr/share/novnc/utils/novnc_proxy"

pytestmark = pytest.mark.skipif(
    not os.path.exists(LAUNCHER) or shutil.which("x11vnc") is None or
    shutil.which("Xvfb") is None,
    reason="needs Debian's novnc, x11vnc and xvfb (packaging/install-deps.sh test)")


def _kill(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


@pytest.fixture(scope="module")
def vnc(tmp_path_factory):
    """x11vnc on an Xvfb display of its own; yields its TCP port."""
    d = tmp_path_factory.mktemp("vnc")
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0",
                             "320x200x24", "-nolisten", "tcp", "-noreset"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=open(d / "xvfb.log", "wb"))
    os.close(w)
    num = b""
    deadline = time.monotonic() + 20
    while not num.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(r, 16)
        if not chunk:
            break
        num += chunk
    os.close(r)
    assert num.strip(), "Xvfb gave no display number"
    port = free_port()
    v = subprocess.Popen(["x11vnc", "-display", ":" + num.decode().strip(),
                          "-rfbport", str(port), "-localhost", "-nopw",
                          "-forever", "-shared", "-nossl", "-norc",
                          "-noipv6"],
                         stdout=subprocess.DEVNULL,
                         stderr=open(d / "x11vnc.log", "wb"))
    wait_for(lambda: accepts(port), 30, what="x11vnc listening")
    yield port
    _kill(v)
    _kill(xvfb)


@pytest.fixture
def compat_path(tmp_path):
    """A directory holding only websockify -> wsgate, first on PATH."""
    d = tmp_path / "compat"
    d.mkdir()
    os.symlink(WSGATE_BIN, d / "websockify")
    return str(d) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")


def start_launcher(tmp_path, compat_path, vnc_port, extra=()):
    port = free_port()
    log = open(tmp_path / "launcher.log", "wb")
    env = dict(os.environ, PATH=compat_path)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.Popen([LAUNCHER, "--listen", str(port), "--vnc",
                          "127.0.0.1:%d" % vnc_port] + list(extra),
                         cwd=str(tmp_path), env=env, stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)

    def up():
        assert p.poll() is None, (tmp_path / "launcher.log").read_text()
        return accepts(port)
    wait_for(up, 30, what="novnc_proxy's websockify listening")
    return p, port


def stop_launcher(p, tmp_path, port):
    """Ctrl-C as a user would: the launcher's trap stops websockify (it
    signals and exits without waiting, so wait for the port to close)."""
    os.killpg(p.pid, signal.SIGINT)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise
    wait_for(lambda: not accepts(port), 20,
             what="our websockify gone with the launcher")
    text = (tmp_path / "launcher.log").read_text(errors="replace")
    for m in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert m not in text, text
    return text


def rfb_version(port, tls_ctx=None):
    """Open the WebSocket noVNC opens (/websockify, subprotocol binary) and
    read the VNC server's first bytes, its RFB version."""
    sock = socket.create_connection(("127.0.0.1", port), 10)
    if tls_ctx is not None:
        sock = tls_ctx.wrap_socket(sock, server_hostname="localhost")
    ws = RawWS(port, sock=sock)
    head, ws.key = RawWS.request_head(path="/websockify", protocols=["binary"])
    ws.send(head)
    ws.read_head()
    assert ws.status == 101, ws.head_raw
    assert ws.headers.get("sec-websocket-protocol") == "binary"
    got = b""
    while len(got) < 12:
        f = ws.recv_frame(timeout=10)
        assert f.opcode == OP_BINARY
        got += f.payload
    ws.close()
    return got


def test_launcher_over_plain_http(tmp_path, compat_path, vnc):
    p, port = start_launcher(tmp_path, compat_path, vnc)
    try:
        page = urllib.request.urlopen("http://127.0.0.1:%d/vnc.html" % port,
                                      timeout=10).read()
        assert b"noVNC" in page
        assert rfb_version(port).startswith(b"RFB 003.")
    finally:
        text = stop_launcher(p, tmp_path, port)
    assert "Using installed websockify at %s" % compat_path.split(
        os.pathsep)[0] in text, text


def test_launcher_with_cert_key_ssl_only(tmp_path, compat_path, vnc):
    ca = make_ca(tmp_path)
    cert, key = make_cert(tmp_path, "srv", ca, "localhost",
                          san="DNS:localhost,IP:127.0.0.1", server=True)
    p, port = start_launcher(tmp_path, compat_path, vnc,
                             ["--cert", str(cert), "--key", str(key),
                              "--ssl-only"])
    try:
        ctx = ssl.create_default_context(cafile=str(ca[0]))
        page = urllib.request.urlopen("https://localhost:%d/vnc.html" % port,
                                      timeout=10, context=ctx).read()
        assert b"noVNC" in page
        assert rfb_version(port, ctx).startswith(b"RFB 003.")
        # --ssl-only: a plain client gets nothing.
        with pytest.raises(OSError):
            urllib.request.urlopen("http://127.0.0.1:%d/vnc.html" % port,
                                   timeout=5).read()
    finally:
        stop_launcher(p, tmp_path, port)
