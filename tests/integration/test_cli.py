"""Command line: config check, version, help, websockify form, SIGTERM."""

import asyncio
import os
import re
import signal
import subprocess
import time

import pytest
import websockets

from backendkit import echo_handler, record_handler
from basekit import free_port, run_async, wait_for
from gatewaykit import WSGATE_BIN, render_config
from probekit import connecting_to
from wskit import ConnectionEOF, RawWS


def run(args, timeout=10, cwd=None):
    if not os.path.exists(WSGATE_BIN):
        pytest.fail("wsgate binary not found: %s" % WSGATE_BIN)
    return subprocess.run([WSGATE_BIN] + args, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, cwd=cwd,
                          text=True, errors="replace")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def assert_no_sanitizer(out):
    for m in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        assert m not in out, out


# ---------------------------------------------------------------- -t

def test_check_config_ok(tmp_path):
    path = write(tmp_path, "ok.conf", render_config(free_port(), [
        ("/echo", {"backend": "tcp:127.0.0.1:9"}),
        ("/u/*", {"backend": ["unix:/tmp/x.sock", "tcp:127.0.0.1:10"],
                  "origins": "https://a.example",
                  "subprotocols": "binary",
                  "heartbeat_interval": "20s", "heartbeat_timeout": "10s",
                  "idle_timeout": "0", "connect_timeout": "1500ms",
                  "max_message_size": "16M"}),
    ], gateway={"max_connections": 100, "max_header_size": "8K",
                "max_buffer": "256K", "log_level": "info"}))
    r = run(["-t", "-c", path])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "configuration OK" in out
    assert_no_sanitizer(out)


BAD = {
    "unknown-key": ("[gateway]\nlisten = 127.0.0.1:1\nbogus_key = 1\n"
                    "[route /a]\nbackend = tcp:127.0.0.1:2\n", 3),
    "unknown-route-key": ("[gateway]\nlisten = 127.0.0.1:1\n\n"
                          "[route /a]\nbackend = tcp:127.0.0.1:2\nwhat = ever\n", 6),
    "bad-duration": ("[gateway]\nlisten = 127.0.0.1:1\nhandshake_timeout = banana\n"
                     "[route /a]\nbackend = tcp:127.0.0.1:2\n", 3),
    "bad-size": ("[gateway]\nlisten = 127.0.0.1:1\n"
                 "[route /a]\nbackend = tcp:127.0.0.1:2\nmax_message_size = 12Q\n", 5),
    "bad-backend": ("[gateway]\nlisten = 127.0.0.1:1\n"
                    "[route /a]\nbackend = carrier-pigeon:nowhere\n", 4),
    "unknown-section": ("[gateway]\nlisten = 127.0.0.1:1\n[frobnicate]\n"
                        "[route /a]\nbackend = tcp:127.0.0.1:2\n", 3),
    "bad-number": ("[gateway]\nlisten = 127.0.0.1:1\nmax_connections = lots\n"
                   "[route /a]\nbackend = tcp:127.0.0.1:2\n", 3),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_check_config_error_file_line(tmp_path, name):
    text, line = BAD[name]
    path = write(tmp_path, "bad.conf", text)
    r = run(["-t", "-c", path])
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "%s:%d:" % (path, line) in r.stderr, r.stderr
    assert "configuration OK" not in r.stdout + r.stderr
    assert_no_sanitizer(r.stdout + r.stderr)


def test_check_config_missing_file(tmp_path):
    r = run(["-t", "-c", str(tmp_path / "absent.conf")])
    assert r.returncode != 0
    assert "absent.conf" in r.stderr


def test_bad_config_refuses_to_start(tmp_path):
    path = write(tmp_path, "bad.conf", BAD["unknown-key"][0])
    r = run(["-d", "-c", path], timeout=10)
    assert r.returncode != 0
    assert "%s:3:" % path in r.stderr


# ---------------------------------------------------------------- info

def test_version():
    r = run(["--version"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"\d+\.\d+\.\d+", out), out


def test_help():
    r = run(["--help"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "-c" in out and "-t" in out, out


def test_unknown_option_fails():
    r = run(["--no-such-option"])
    assert r.returncode != 0


# ---------------------------------------------------------------- websockify form

def test_websockify_form_relays(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(args=["-d", "127.0.0.1:{port}", "127.0.0.1:%d" % echo.port])

    async def go():
        for path in ("/", "/anything/at/all", "/websockify"):
            async with websockets.connect(g.url(path), open_timeout=5) as ws:
                await ws.send(b"via " + path.encode())
                got = await asyncio.wait_for(ws.recv(), 5)
                assert got == b"via " + path.encode()
    run_async(go(), 20)
    assert echo.count == 3


def test_websockify_form_port_only(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(args=["-d", "{port}", "127.0.0.1:%d" % echo.port])

    async def go():
        async with websockets.connect(g.url("/"), open_timeout=5) as ws:
            await ws.send(b"any interface")
            return await asyncio.wait_for(ws.recv(), 5)
    assert run_async(go(), 10) == b"any interface"


def test_check_default_config_in_cwd(tmp_path):
    write(tmp_path, "gateway.conf", render_config(free_port(), [
        ("/echo", {"backend": "tcp:127.0.0.1:9"})]))
    r = run(["-t"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration OK" in r.stdout + r.stderr


def test_log_level_warn_hides_session_lines(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"log_level": "warn"})
    ws = RawWS.open(g.port, path="/echo")
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()
    echo.wait_conn(0).wait_eof(5)       # the session is over
    g.wait_idle()                       # and its end handled (and not logged)
    assert g.session_lines() == [], g.log_tail()


def test_verbose_flag_runs(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})], extra_args=["-v"])

    async def go():
        async with websockets.connect(g.url("/echo"), open_timeout=5) as ws:
            await ws.send(b"v")
            return await asyncio.wait_for(ws.recv(), 5)
    assert run_async(go(), 10) == b"v"


# ---------------------------------------------------------------- SIGTERM

def test_sigterm_sends_1001_and_exits_0(gateway_factory, backends):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})],
                        gateway={"drain_timeout": "2s"})
    raws = [RawWS.open(g.port, path="/x") for _ in range(3)]
    rec.wait_conn(2)
    # and one that connected but never finished its handshake
    half = RawWS(g.port, timeout=5)
    half.send(b"GET /x HTTP/1.1\r\nHost: x\r\n")

    async def go():
        async with websockets.connect(g.url("/x"), open_timeout=5) as ws:
            rec.wait_conn(3)            # this session's backend leg is up
            g.wait_idle()               # and the half handshake read
            t0 = time.monotonic()
            g.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.exceptions.ConnectionClosed:
                pass
            return ws.close_code, time.monotonic() - t0
    code, _ = run_async(go(), 15)
    assert code == 1001
    for r in raws:                      # raw clients never answer the close
        r.expect_close(1001, timeout=5)
    try:
        rc = g.proc.wait(2 + 2)
    except subprocess.TimeoutExpired:
        pytest.fail("wsgate still running 4s after SIGTERM with drain_timeout 2s")
    g.stopped = True
    g._close_log()
    assert rc == 0, "exit status %s" % rc
    for i in range(4):
        rec.wait_conn(i).wait_eof(2)
    for r in raws:
        r.close()
    half.close()


def test_sigterm_idle_exits_quickly(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"drain_timeout": "5s"})
    t0 = time.monotonic()
    rc = g.stop(signal.SIGTERM, timeout=6)
    assert rc == 0
    assert time.monotonic() - t0 < 2.0, "no sessions, yet exit took %.1fs" % (
        time.monotonic() - t0)


def test_sigterm_exits_as_soon_as_sessions_are_closed(gateway_factory, backends):
    """Clients that answer the 1001 promptly let the drain end early."""
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"drain_timeout": "8s"})

    async def go():
        conns = [await websockets.connect(g.url("/echo"), open_timeout=5)
                 for _ in range(5)]
        for ws in conns:
            await ws.send(b"hi")
            assert await asyncio.wait_for(ws.recv(), 5) == b"hi"
        t0 = time.monotonic()
        g.send_signal(signal.SIGTERM)
        codes = []
        for ws in conns:
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.exceptions.ConnectionClosed:
                pass
            codes.append(ws.close_code)
        return codes, t0
    codes, t0 = run_async(go(), 20)
    assert codes == [1001] * 5
    try:
        rc = g.proc.wait(6)
    except subprocess.TimeoutExpired:
        pytest.fail("wsgate still running 6s after SIGTERM")
    dt = time.monotonic() - t0
    g.stopped = True
    g._close_log()
    assert rc == 0
    assert dt < 3.0, "drain took %.1fs although every client closed at once" % dt


def test_sigint_drains_too(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})])
    ws = RawWS.open(g.port, path="/echo")
    g.send_signal(signal.SIGINT)
    ws.expect_close(1001, timeout=5)
    ws.send_close(1001)
    try:
        rc = g.proc.wait(5)
    except subprocess.TimeoutExpired:
        pytest.fail("wsgate still running 5s after SIGINT")
    g.stopped = True
    g._close_log()
    assert rc == 0
    ws.close()


def test_sigterm_with_backend_connect_pending(gateway_factory):
    """A session still connecting to its backend when SIGTERM comes gets
    1001 too, and the drain does not wait for connect_timeout."""
    from backendkit import Blackhole
    hole = Blackhole()
    try:
        g = gateway_factory(routes=[("/hole", {"backend": hole.spec,
                                               "connect_timeout": "30s"})],
                            gateway={"drain_timeout": "2s"})
        ws = RawWS.open(g.port, path="/hole")
        # not a count of SYN_SENT lines: see test_memory.py
        wait_for(lambda: connecting_to(hole.port, hole.local_ports()),
                 10, what="wsgate's connect to the blackhole")
        t0 = time.monotonic()
        g.send_signal(signal.SIGTERM)
        ws.expect_close(1001, timeout=5)
        try:
            rc = g.proc.wait(5)
        except subprocess.TimeoutExpired:
            pytest.fail("wsgate still running 5s after SIGTERM (drain_timeout 2s)")
        g.stopped = True
        g._close_log()
        assert rc == 0
        assert time.monotonic() - t0 < 3.5
        ws.close()
    finally:
        hole.close()


def test_no_new_sessions_while_draining(gateway_factory, backends):
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/x", {"backend": rec.spec})],
                        gateway={"drain_timeout": "3s"})
    holder = RawWS.open(g.port, path="/x")     # never answers: drain lasts
    rec.wait_conn(0)
    g.send_signal(signal.SIGTERM)
    holder.expect_close(1001, timeout=5)
    try:
        late = RawWS.open(g.port, path="/x", expect=None, timeout=3)
        status = late.status
        late.close()
    except (OSError, ConnectionEOF):
        status = None           # refused or dropped: fine
    assert status != 101, "a new session was accepted during the drain"
    try:
        rc = g.proc.wait(6)
    except subprocess.TimeoutExpired:
        pytest.fail("wsgate still running 6s after SIGTERM (drain_timeout 3s)")
    g.stopped = True
    g._close_log()
    assert rc == 0
    holder.close()


def test_second_instance_on_the_same_port_fails_loudly(gateway_factory,
                                                      backends, tmp_path):
    """SO_REUSEPORT (one socket per worker) must not let a second wsgate
    share a port silently and split its connections."""
    import subprocess as sp
    from backendkit import echo_handler
    from gatewaykit import WSGATE_BIN
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})])
    r = sp.run([WSGATE_BIN, "-d", "-c", g.config_path], capture_output=True,
               text=True, timeout=20)
    assert r.returncode != 0
    assert "Address already in use" in r.stderr
    assert ":%d" % g.port in r.stderr
    assert g.alive()
