"""--record / record = PATH: websockify's record files, compared with what
Debian's real websockify writes for the same session (entries, escapes,
head and tail; only the millisecond stamps differ), the size cap, and no
file for routes that do not record."""
import asyncio
import glob
import os
import re
import shutil
import subprocess
import time

import pytest
import websockets

from backendkit import greet_echo_handler
from basekit import free_port, run_async, wait_for
from probekit import accepts

WEBSOCKIFY = shutil.which("websockify", path="/usr/bin")

ENTRY = re.compile(r"^'([{}])(\d+)\1(.*)',$")
PAYLOAD = b"hello'\\\x00\x7f\xff\t\r\n" + bytes(range(32)) + b" quoted \"x\""


def session(port):
    """The same client for both: greeting, one message, its echo."""
    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/" % port,
                                      subprotocols=["binary"],
                                      open_timeout=10) as ws:
            got = [await asyncio.wait_for(ws.recv(), 10)]
            await ws.send(PAYLOAD)
            echoed = b""
            while len(echoed) < len(PAYLOAD):
                echoed += await asyncio.wait_for(ws.recv(), 10)
            got.append(echoed)
            return got
    return run_async(go(), 30)


def entries(path):
    """(direction, data) of a record file, consecutive same-direction
    entries joined (chunking is the relay's business); and head, tail."""
    lines = open(path).read().split("\n")
    assert lines[0] == "var VNC_frame_data = [", lines[0]
    assert lines[-2:] == ["'EOF'];", ""], lines[-3:]
    out = []
    for line in lines[1:-2]:
        m = ENTRY.match(line)
        assert m, line
        if out and out[-1][0] == m.group(1):
            out[-1] = (m.group(1), out[-1][1] + m.group(3))
        else:
            out.append((m.group(1), m.group(3)))
    return out


def wait_file(pattern):
    wait_for(lambda: any(open(p).read().endswith("'EOF'];\n")
                         for p in glob.glob(pattern)), 15,
             what="a finished record file " + pattern)
    return [p for p in glob.glob(pattern)
            if open(p).read().endswith("'EOF'];\n")][0]


@pytest.mark.skipif(WEBSOCKIFY is None, reason="Debian's websockify missing")
def test_record_file_matches_websockify(gateway_factory, backends, tmp_path):
    back = backends(greet_echo_handler(b"RFB 003.008\n"))
    # websockify itself, on the same backend, with the same client.
    port = free_port()
    ref = subprocess.Popen([WEBSOCKIFY, "--record", str(tmp_path / "ref"),
                            "127.0.0.1:%d" % port, "127.0.0.1:%d" % back.port],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: accepts(port), 20, what="websockify listening")
        got_ref = session(port)
        ref_file = wait_file(str(tmp_path / "ref.*"))
    finally:
        ref.terminate()
        ref.wait(10)
    g = gateway_factory(args=["--record", "gw", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % back.port])
    assert session(g.port) == got_ref
    ours = wait_file(str(tmp_path / "gw.*"))
    assert entries(ours) == entries(ref_file)
    assert entries(ours)[1] == ("}", entries(ref_file)[1][1])
    # One file per session, named by the session id as logged.
    sid = os.path.basename(ours).split(".")[1]
    assert "session %s: recording to %s" % (sid, ours) in g.log_text()


def test_record_max_size_caps_the_file(gateway_factory, backends, tmp_path):
    back = backends(greet_echo_handler(b"x" * 1000))
    g = gateway_factory(routes=[("/*", {"backend": back.spec,
                                        "record": str(tmp_path / "cap"),
                                        "record_max_size": "2K"})])

    async def go():
        async with websockets.connect(g.url("/"), open_timeout=10) as ws:
            await asyncio.wait_for(ws.recv(), 10)
            for _ in range(20):
                await ws.send(b"y" * 500)
                await asyncio.wait_for(ws.recv(), 10)
    run_async(go(), 30)
    path = wait_file(str(tmp_path / "cap.*"))
    assert os.path.getsize(path) <= 2048
    assert entries(path)[0] == ("{", "x" * 1000)
    g.wait_log(r"record_max_size \(2048 bytes\) reached")


def test_routes_without_record_write_nothing(gateway_factory, backends,
                                            tmp_path):
    back = backends(greet_echo_handler(b"hi"))
    rec = tmp_path / "recdir"
    rec.mkdir()
    g = gateway_factory(routes=[
        ("/rec", {"backend": back.spec, "record": str(rec / "r")}),
        ("/plain", {"backend": back.spec})])

    async def go(path):
        async with websockets.connect(g.url(path), open_timeout=10) as ws:
            return await asyncio.wait_for(ws.recv(), 10)
    assert run_async(go("/plain"), 20) == b"hi"
    time.sleep(0.2)
    assert os.listdir(rec) == []
    assert run_async(go("/rec"), 20) == b"hi"
    wait_file(str(rec / "r.*"))
    assert len(os.listdir(rec)) == 1


def test_traffic_marks_on_stdout(backends, tmp_path):
    """--traffic: '}' for each chunk from the client, '{' for each one from
    the backend, on standard output (the log stays on standard error)."""
    from gatewaykit import WSGATE_BIN
    back = backends(greet_echo_handler(b"hi"))
    port = free_port()
    out = open(tmp_path / "out", "wb")
    err = open(tmp_path / "err", "wb")
    p = subprocess.Popen([WSGATE_BIN, "--traffic", "127.0.0.1:%d" % port,
                          "127.0.0.1:%d" % back.port], stdout=out, stderr=err)
    try:
        wait_for(lambda: accepts(port), 10, what="listening")

        async def go():
            async with websockets.connect("ws://127.0.0.1:%d/" % port,
                                          open_timeout=10) as ws:
                assert await asyncio.wait_for(ws.recv(), 10) == b"hi"
                await ws.send(b"x")
                assert await asyncio.wait_for(ws.recv(), 10) == b"x"
        run_async(go(), 20)
        wait_for(lambda: (tmp_path / "out").read_bytes() == b"{}{", 10,
                 what="traffic marks {}{")
    finally:
        p.terminate()
        assert p.wait(15) == 0
    assert b"{" not in (tmp_path / "err").read_bytes().replace(b"{port}", b"")
