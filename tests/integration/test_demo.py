"""The first look: the default gateway.conf, run as `make run` runs it
(demo/echo_backend.py behind it), serves the demo page at / and the
page's WebSocket routes work: what a newcomer sees at
http://127.0.0.1:8080/ after `make run` (it was a 404).

The config is the tree's gateway.conf with only its ports and the shout
socket moved to free ones (each substitution is checked, so an edit of
gateway.conf that these tests no longer match fails here), written next
to a `demo` link to the tree's demo/, so its relative `root = demo/www`
resolves from the config's directory exactly as in the tree. The browser
side (headless Chromium typing into the page) is in tests/e2e/e2e.mjs.
"""
import html.parser
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from basekit import run_async, wait_for
from gatewaykit import ROOT, WSGATE_BIN
from probekit import accepts

CONF = os.path.join(ROOT, "gateway.conf")
WWW = os.path.join(ROOT, "demo", "www")


class Refs(html.parser.HTMLParser):
    """Local src/href references and data-path attributes of a page."""

    def __init__(self):
        super().__init__()
        self.refs, self.paths, self.scripts = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            v = a.get(k)
            if v and not re.match(r"^[a-z]+:|^#|^//", v):
                self.refs.append(v)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if a.get("data-path"):
            self.paths.append(a["data-path"])


def default_config_text(echo_port, shout_sock):
    """The tree's gateway.conf on the given demo backends; the listen and
    admin ports are left for Gateway to pick ({port}, {admin_port})."""
    text = open(CONF).read()
    subs = [("listen             = 127.0.0.1:8080",
             "listen             = 127.0.0.1:{port}"),
            ("admin_listen       = 127.0.0.1:9090",
             "admin_listen       = 127.0.0.1:{admin_port}"),
            ("tcp:127.0.0.1:7001", "tcp:127.0.0.1:%d" % echo_port),
            ("unix:/tmp/wsgate-demo-shout.sock", "unix:" + shout_sock)]
    for old, new in subs:
        assert text.count(old) == 1, "gateway.conf no longer has %r" % old
        text = text.replace(old, new)
    assert re.search(r"^\[route /\*\]\nroot\s*=\s*demo/www$", text, re.M), \
        "the demo page route is gone from gateway.conf"
    return text


@pytest.fixture
def demo(gateway_factory, tmp_path):
    """The demo backends and wsgate on the default config; yields the
    gateway (g.port). The echo backend takes a free port itself (port 0)
    and says which: no port picked here that another process could take
    before it binds."""
    sock = str(tmp_path / "shout.sock")
    backend = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "demo", "echo_backend.py"),
         "0", sock], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = b""
        deadline = time.monotonic() + 30
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            if select.select([backend.stdout], [], [], 0.5)[0]:
                chunk = os.read(backend.stdout.fileno(), 4096)
                assert chunk, "demo backends exited: %r" % line
                line += chunk
        m = re.search(rb"echo on tcp:127\.0\.0\.1:(\d+), shout on unix:",
                      line)
        assert m, "demo backends did not say where: %r" % line
        echo_port = int(m.group(1))
        wait_for(lambda: os.path.exists(sock) and accepts(echo_port, timeout=1),
                 10, what="demo backends listening")
        os.symlink(os.path.join(ROOT, "demo"), str(tmp_path / "demo"))
        g = gateway_factory(config_text=default_config_text(echo_port, sock))
        yield g
    finally:
        backend.terminate()
        backend.wait(10)


def fetch(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=10) as r:
        return r.status, r.headers, r.read()


def test_tree_config_checks_from_anywhere():
    """root = demo/www is taken from gateway.conf's directory, not the
    working directory: `wsgate -t -c /path/to/gateway.conf` from / is
    fine."""
    r = subprocess.run([WSGATE_BIN, "-t", "-c", CONF], cwd="/",
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "configuration OK" in r.stdout + r.stderr, \
        r.stdout + r.stderr


def test_page_and_its_files_are_served(demo):
    status, h, body = fetch(demo.port, "/")
    assert status == 200
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert body == open(os.path.join(WWW, "index.html"), "rb").read()
    p = Refs()
    p.feed(body.decode())
    assert p.scripts == ["demo.js"], p.scripts
    types = {".js": "text/javascript; charset=utf-8",
             ".css": "text/css; charset=utf-8"}
    for ref in p.refs:
        status, h, got = fetch(demo.port, "/" + ref)
        assert status == 200, ref
        assert h["Content-Type"] == types[os.path.splitext(ref)[1]], ref
        assert got == open(os.path.join(WWW, ref), "rb").read()


def test_page_websocket_urls_are_routes_that_answer(demo):
    """The page opens ws(s)://<its own host>/<data-path> for each box;
    every such path is a WebSocket route of the default config, and the
    demo backends answer through it the way the page shows."""
    _, _, body = fetch(demo.port, "/")
    p = Refs()
    p.feed(body.decode())
    assert sorted(p.paths) == ["/echo", "/shout"]
    js = open(os.path.join(WWW, "demo.js")).read()
    assert "location.host" in js and "dataset.path" in js
    assert "'wss:'" in js and "'ws:'" in js
    import websockets

    async def go():
        got = {}
        for path in p.paths:
            async with websockets.connect("ws://127.0.0.1:%d%s" % (
                    demo.port, path), open_timeout=5) as c:
                await c.send("hello from the page\n")
                data = b""
                want = (b"hello from the page\n" if path == "/echo" else
                        b"HELLO FROM THE PAGE\n")
                while not data.endswith(want):
                    data += await c.recv()
                got[path] = data
        return got

    got = run_async(go(), 30)
    assert got["/echo"] == b"hello from the page\n"
    assert got["/shout"].startswith(b"shout service: ")
    # A path that is not a route: the files-only "/*" refuses the upgrade.
    s = socket.create_connection(("127.0.0.1", demo.port), 5)
    s.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    assert s.recv(64).startswith(b"HTTP/1.1 404 ")
    s.close()


SHOUT_GREETING = b"shout service: send a line, get it back in capitals\n"


def _printed_binary(out):
    """The bytes of every "< (binary) HEX" line the client has printed
    whole, in order, joined: what came back, whatever the frames it came
    in."""
    return b"".join(bytes.fromhex(h.decode()) for h in re.findall(
        rb"\(binary\) ([0-9a-f]*)\n", out))


@pytest.mark.parametrize("path,line,want", [
    ("/echo", b"hello", b"hello"),
    ("/shout", b"hello", SHOUT_GREETING + b"HELLO")])
def test_readme_command_line_client(demo, path, line, want):
    """The README's `python3 -m websockets ws://127.0.0.1:8080/echo`: the
    line typed comes back (as binary: wsgate relays a byte stream, so
    the client prints it in hex). It strips the newline, so the shout
    service answers what it gets without waiting for one. The shout
    service greets first; the greeting and the answer may come in one
    message or two (a byte stream has no message boundaries: under load
    wsgate reads both at once), so what is compared is the bytes."""
    c = subprocess.Popen(
        [sys.executable, "-m", "websockets",
         "ws://127.0.0.1:%d%s" % (demo.port, path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=dict(os.environ, TERM="dumb"))
    out = b""
    try:
        c.stdin.write(line + b"\n")
        c.stdin.flush()
        # Stdin stays open until the answer is printed: at EOF the client
        # closes at once.
        deadline = time.monotonic() + 30
        while (len(_printed_binary(out)) < len(want) and
               time.monotonic() < deadline):
            if select.select([c.stdout], [], [], 0.5)[0]:
                chunk = os.read(c.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        c.stdin.close()
        out += c.stdout.read()
        assert c.wait(10) == 0, out
    finally:
        if c.poll() is None:
            c.kill()
            c.wait()
    text = out.decode(errors="replace")
    assert "Connected to" in text, text
    assert _printed_binary(out) == want, text
    assert "Connection closed: 1000" in text, text
