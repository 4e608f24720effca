"""websockify's command line, one family of options at a time, against the
real daemon with real clients (python3-websockets, Python's ssl module) and
real backends; and --print-config, whose output run with -c must behave as
the command line did."""
import asyncio
import os
import shutil
import socket
import ssl
import stat
import subprocess
import time
import urllib.request

import pytest
import websockets

from backendkit import echo_handler
from basekit import free_port, run_async, wait_for
from gatewaykit import WSGATE_BIN, inetd_gateway
from wskit import OP_BINARY, RawWS
from test_backend_tls import TLSEcho
from tlskit import insecure_ctx, make_ca, make_cert, openssl


def run(args, cwd=None, timeout=20, env=None):
    return subprocess.run([WSGATE_BIN] + args, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL)


def echo_ws(url, data=b"hello", ssl_ctx=None):
    async def go():
        async with websockets.connect(url, open_timeout=5, ssl=ssl_ctx) as ws:
            await ws.send(data)
            return await asyncio.wait_for(ws.recv(), 5)
    return run_async(go(), 20)



@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("wspki")
    ca = make_ca(d)
    server = make_cert(d, "server", ca, "localhost",
                       san="DNS:localhost,IP:127.0.0.1", server=True)
    combined = d / "combined.pem"
    combined.write_bytes(server[0].read_bytes() + server[1].read_bytes())
    os.chmod(combined, 0o600)
    enc = d / "enc.key"
    openssl("pkey", "-in", str(server[1]), "-aes256", "-passout",
            "pass:s3cret", "-out", str(enc))
    os.chmod(enc, 0o600)
    client = make_cert(d, "client", ca, "alice")
    return {"ca": ca, "server": server, "combined": combined,
            "enc_key": enc, "client": client, "dir": d}


# ---------------------------------------------------------------- forms

@pytest.mark.parametrize("style", ["equals", "separate", "prefix"])
def test_option_forms_reach_the_target(gateway_factory, backends, tmp_path,
                                       style):
    """--opt=value, --opt value and unique prefixes, options anywhere."""
    echo = backends(echo_handler)
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<p>served</p>")
    target = "127.0.0.1:%d" % echo.port
    args = {"equals": ["--web=" + str(www), "--heartbeat=5", "127.0.0.1:{port}",
                       target],
            "separate": ["127.0.0.1:{port}", "--web", str(www), target,
                         "--heartbeat", "5"],
            "prefix": ["--we", str(www), "--heart", "5", "127.0.0.1:{port}",
                       target]}[style]
    if style == "prefix":
        # --we is ambiguous (--web, --web-auth): optparse refuses it too.
        r = run(args[:2] + ["1", target])
        assert r.returncode == 2 and "ambiguous option: --we" in r.stderr
        args[0] = "--web"
    g = gateway_factory(args=args)
    assert echo_ws(g.url("/any/path")) == b"hello"
    body = urllib.request.urlopen("http://127.0.0.1:%d/" % g.port,
                                  timeout=5).read()
    assert body == b"<p>served</p>"


def test_bad_command_lines_exit_2_with_websockify_messages():
    for args, msg in ((["--no-such", "1", "h:1"], "no such option: --no-such"),
                      (["1"], "Too few arguments"),
                      (["1", "h:1", "x"], "Too many arguments"),
                      (["--timeout=soon", "1", "h:1"], "invalid integer"),
                      (["--token-source=x", "1", "h:1"],
                       "You must use --token-plugin to use --token-source"),
                      (["--ssl-version=sslv3", "1", "h:1"], "invalid choice"),
                      (["1", "h:0"], "port must be 1..65535")):
        r = run(args)
        assert r.returncode != 0, (args, r.stdout)
        assert msg in r.stderr, (args, r.stderr)
        assert "AddressSanitizer" not in r.stderr


def test_help_lists_every_websockify_option():
    out = run(["--help", "1", "h:1"]).stdout
    for opt in ("--verbose", "--traffic", "--record", "--daemon", "--run-once",
                "--timeout", "--idle-timeout", "--cert", "--key",
                "--key-password", "--ssl-only", "--ssl-target",
                "--verify-client", "--cafile", "--ssl-version",
                "--ssl-ciphers", "--unix-listen", "--unix-listen-mode",
                "--unix-target", "--inetd", "--web", "--web-auth",
                "--wrap-mode", "--prefer-ipv6", "--libserver",
                "--target-config", "--token-plugin", "--token-source",
                "--host-token", "--auth-plugin", "--auth-source",
                "--heartbeat", "--log-file", "--syslog", "--legacy-syslog",
                "--file-only", "--print-config"):
        assert opt in out, opt


def test_websockify_name_takes_the_websockify_form(tmp_path, backends):
    """Called as "websockify", -h is websockify's help."""
    link = tmp_path / "websockify"
    os.symlink(WSGATE_BIN, link)
    r = subprocess.run([str(link), "-h"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0 and "--token-plugin" in r.stdout, r.stderr


# ---------------------------------------------------------------- TLS

def test_cert_without_ssl_only_serves_ws_and_wss_on_one_port(gateway_factory,
                                                             backends, pki):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--cert", str(pki["combined"]),
                              "127.0.0.1:{port}", "127.0.0.1:%d" % echo.port])
    ctx = ssl.create_default_context(cafile=str(pki["ca"][0]))
    assert echo_ws("wss://localhost:%d/" % g.port, b"tls", ctx) == b"tls"
    assert echo_ws(g.url("/"), b"plain") == b"plain"
    assert "(tls or plain)" in g.log_text()


def test_ssl_only_refuses_plain_clients(gateway_factory, backends, pki):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--ssl-only", "--cert", str(pki["server"][0]),
                              "--key", str(pki["server"][1]),
                              "127.0.0.1:{port}", "127.0.0.1:%d" % echo.port])
    assert echo_ws("wss://127.0.0.1:%d/" % g.port, b"x",
                   insecure_ctx()) == b"x"
    with pytest.raises(Exception):
        echo_ws(g.url("/"), b"plain")


def test_a_self_pem_in_the_cwd_does_not_turn_tls_on(gateway_factory, backends,
                                                    pki, tmp_path):
    """websockify defaults --cert to ./self.pem and uses it if it exists;
    wsgate speaks TLS only when asked."""
    (tmp_path / "self.pem").write_bytes(pki["combined"].read_bytes())
    os.chmod(tmp_path / "self.pem", 0o600)
    echo = backends(echo_handler)
    g = gateway_factory(args=["127.0.0.1:{port}", "127.0.0.1:%d" % echo.port])
    assert echo_ws(g.url("/")) == b"hello"
    with pytest.raises(Exception):
        echo_ws("wss://127.0.0.1:%d/" % g.port, b"x", insecure_ctx())
    # ... but --ssl-only alone takes ./self.pem, as websockify does.
    g2 = gateway_factory(args=["--ssl-only", "127.0.0.1:{port}",
                               "127.0.0.1:%d" % echo.port])
    assert echo_ws("wss://127.0.0.1:%d/" % g2.port, b"y",
                   insecure_ctx()) == b"y"


@pytest.mark.parametrize("how", ["pass", "file", "env"])
def test_key_password(gateway_factory, backends, pki, tmp_path, how):
    echo = backends(echo_handler)
    args = ["--ssl-only", "--cert", str(pki["server"][0]), "--key",
            str(pki["enc_key"])]
    env = None
    if how == "pass":
        args += ["--key-password", "s3cret"]
    elif how == "file":
        pw = tmp_path / "pw"
        pw.write_text("s3cret\n")
        os.chmod(pw, 0o600)
        args += ["--key-password-file", str(pw)]
    else:
        args += ["--key-password-env", "WSGATE_TEST_PW"]
        env = {"WSGATE_TEST_PW": "s3cret"}
    g = gateway_factory(args=args + ["127.0.0.1:{port}",
                                     "127.0.0.1:%d" % echo.port], env=env)
    assert echo_ws("wss://127.0.0.1:%d/" % g.port, b"k",
                   insecure_ctx()) == b"k"
    note = "visible to every user in ps"
    assert (note in g.log_text()) == (how == "pass")


def test_key_password_file_must_be_private(pki, tmp_path):
    """A password file is as secret as the key it opens (loadfile.c)."""
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    os.chmod(pw, 0o644)
    r = run(["--ssl-only", "--cert", str(pki["server"][0]), "--key",
             str(pki["enc_key"]), "--key-password-file", str(pw), "1",
             "127.0.0.1:9"])
    assert r.returncode == 1, r.stderr
    assert "readable by group or others" in r.stderr and str(pw) in r.stderr


def test_wrong_key_password_fails_at_start(pki):
    r = run(["--ssl-only", "--cert", str(pki["server"][0]), "--key",
             str(pki["enc_key"]), "--key-password", "wrong", "1",
             "127.0.0.1:9"])
    assert r.returncode == 1 and "private_key" in r.stderr, r.stderr


def test_verify_client_with_cafile(gateway_factory, backends, pki):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--ssl-only", "--cert", str(pki["combined"]),
                              "--verify-client", "--cafile",
                              str(pki["ca"][0]), "127.0.0.1:{port}",
                              "127.0.0.1:%d" % echo.port])
    ctx = insecure_ctx()
    ctx.load_cert_chain(str(pki["client"][0]), str(pki["client"][1]))
    assert echo_ws("wss://127.0.0.1:%d/" % g.port, b"c", ctx) == b"c"
    with pytest.raises(Exception):
        echo_ws("wss://127.0.0.1:%d/" % g.port, b"c", insecure_ctx())


def test_ssl_target_is_verified(gateway_factory, pki, tmp_path):
    """websockify 0.10 never checked the target's certificate; wsgate checks
    it against OpenSSL's default store (SSL_CERT_FILE), or --ssl-target-cafile,
    and --ssl-target-no-verify is the explicit, logged opt-out."""
    srv = TLSEcho(pki["server"])
    try:
        target = "127.0.0.1:%d" % srv.port
        # Untrusted: the client gets 1014.
        g = gateway_factory(args=["--ssl-target", "127.0.0.1:{port}", target],
                            env={"SSL_CERT_FILE": "/dev/null"})
        ws = RawWS.open(g.port, path="/")
        ws.expect_close(1014, timeout=10)
        ws.close()
        # Trusted through SSL_CERT_FILE.
        g2 = gateway_factory(args=["--ssl-target", "127.0.0.1:{port}", target],
                             env={"SSL_CERT_FILE": str(pki["ca"][0])})
        assert echo_ws(g2.url("/"), b"t") == b"t"
        # Trusted through --ssl-target-cafile.
        g3 = gateway_factory(args=["--ssl-target", "--ssl-target-cafile",
                                   str(pki["ca"][0]), "127.0.0.1:{port}",
                                   target])
        assert echo_ws(g3.url("/"), b"u") == b"u"
        # Opted out: works, and says so.
        g4 = gateway_factory(args=["--ssl-target", "--ssl-target-no-verify",
                                   "127.0.0.1:{port}", target],
                             env={"SSL_CERT_FILE": "/dev/null"})
        assert echo_ws(g4.url("/"), b"v") == b"v"
        assert "backend_verify = off" in g4.log_text()
    finally:
        srv.close()


# ---------------------------------------------------------------- unix

def test_unix_listen_mode_and_unix_target(gateway_factory, backends,
                                          unix_dir):
    echo = backends(echo_handler, unix=os.path.join(unix_dir, "b.sock"))
    lpath = os.path.join(unix_dir, "l.sock")
    g = gateway_factory(args=["--unix-listen", lpath, "--unix-listen-mode",
                              "640", "--unix-target", echo.unix], start=False)
    g.start(wait=False)
    wait_for(lambda: os.path.exists(lpath), 10, what="unix listen socket")
    assert stat.S_IMODE(os.stat(lpath).st_mode) == 0o640

    async def go():
        async with websockets.unix_connect(lpath, "ws://localhost/",
                                           open_timeout=5) as ws:
            await ws.send(b"unix")
            return await asyncio.wait_for(ws.recv(), 5)
    assert run_async(go(), 20) == b"unix"


# ---------------------------------------------------------------- lifecycle

def test_run_once_serves_one_session_then_exits(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--run-once", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % echo.port])

    async def go():
        async with websockets.connect(g.url("/"), open_timeout=5) as ws:
            await ws.send(b"1")
            assert await asyncio.wait_for(ws.recv(), 5) == b"1"
            # While the one session runs, nobody else gets in...
            with pytest.raises(OSError):
                await websockets.connect(g.url("/"), open_timeout=5)
            # ... and the one session is not disturbed.
            await ws.send(b"2")
            assert await asyncio.wait_for(ws.recv(), 5) == b"2"
    run_async(go(), 30)
    assert g.proc.wait(15) == 0
    g.stopped = True


def test_timeout_stops_accepting_and_exits_after_the_last_session(
        gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--timeout", "2", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % echo.port])

    async def go():
        async with websockets.connect(g.url("/"), open_timeout=5) as ws:
            wait_for(lambda: "exit_after reached" in g.log_text(), 15,
                     what="exit_after")
            await ws.send(b"late")      # still relayed after the timeout
            assert await asyncio.wait_for(ws.recv(), 5) == b"late"
            assert g.proc.poll() is None
    run_async(go(), 30)
    assert g.proc.wait(15) == 0
    g.stopped = True


def test_idle_timeout_exits_once_idle(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--idle-timeout", "2", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % echo.port])
    t0 = time.monotonic()
    # A session keeps it alive past the idle timeout...
    ws = RawWS.open(g.port, path="/")
    time.sleep(3)
    assert g.proc.poll() is None
    ws.send_frame(OP_BINARY, b"x")
    assert ws.recv_frame(timeout=5).payload == b"x"
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()
    # ... and it exits about 2 s after the session ended.
    assert g.proc.wait(15) == 0
    assert time.monotonic() - t0 >= 5
    g.stopped = True


# ---------------------------------------------------------------- tokens

@pytest.mark.parametrize("how", ["target-config", "token-plugin"])
def test_token_file_options(gateway_factory, backends, tmp_path, how):
    echo = backends(echo_handler)
    tok = tmp_path / "tokens"
    tok.write_text("vnc1: 127.0.0.1:%d\n" % echo.port)
    args = (["--target-config", "tokens"] if how == "target-config" else
            ["--token-plugin", "TokenFile", "--token-source", "tokens"])
    g = gateway_factory(args=args + ["127.0.0.1:{port}"])
    assert echo_ws(g.url("/?token=vnc1")) == b"hello"
    RawWS.open(g.port, path="/?token=nope", expect=404).close()


# ---------------------------------------------------------------- print-config

def test_print_config_runs_the_same_gateway(gateway_factory, backends,
                                            tmp_path, pki):
    echo = backends(echo_handler)
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("same")
    port = free_port()
    args = ["--cert", str(pki["combined"]), "--web", "www", "--run-once",
            "127.0.0.1:%d" % port, "127.0.0.1:%d" % echo.port]
    r = run(["--print-config"] + args, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "listen = 127.0.0.1:%d tls auto" % port in text, text
    assert "root = %s" % www in text, text
    conf = tmp_path / "printed.conf"
    conf.write_text(text.replace(str(port), "{port}"))
    # The printed file, with -c, does what the command line did.
    g = gateway_factory(config_text=conf.read_text())
    ctx = ssl.create_default_context(cafile=str(pki["ca"][0]))
    body = urllib.request.urlopen("http://127.0.0.1:%d/" % g.port,
                                  timeout=5).read()
    assert body == b"same"
    assert echo_ws("wss://localhost:%d/" % g.port, b"p", ctx) == b"p"
    # --run-once came along: exit_after_sessions = 1.
    assert g.proc.wait(15) == 0
    g.stopped = True


# ---------------------------------------------------------------- logging

def test_log_file(gateway_factory, backends, tmp_path):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--log-file", "gw.log", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % echo.port])
    assert echo_ws(g.url("/")) == b"hello"
    wait_for(lambda: "session_end" in (tmp_path / "gw.log").read_text(), 10,
             what="session_end in the log file")
    assert "listening on 127.0.0.1:%d" % g.port in (tmp_path / "gw.log").read_text()


@pytest.mark.parametrize("legacy", [False, True])
def test_syslog_udp(gateway_factory, backends, legacy):
    """--syslog HOST:PORT: RFC 5424 datagrams, or RFC 3164 with
    --legacy-syslog; facility user without -D (websockify's choice)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(10)
    echo = backends(echo_handler)
    args = ["--syslog", "127.0.0.1:%d" % srv.getsockname()[1]]
    if legacy:
        args.append("--legacy-syslog")
    g = gateway_factory(args=args + ["127.0.0.1:{port}",
                                     "127.0.0.1:%d" % echo.port])
    assert echo_ws(g.url("/")) == b"hello"
    got = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(b"session_end" in d
                                                  for d in got):
        got.append(srv.recv(4096))
    srv.close()
    line = [d for d in got if b"session_end" in d][0].decode()
    # user facility (1) * 8 + info (6) = 14
    if legacy:
        assert line.startswith("<14>") and " wsgate[%d]: session_end" % g.pid \
            in line, line
    else:
        assert line.startswith("<14>1 ") and " wsgate %d - - session_end" % \
            g.pid in line, line


def test_syslog_unix_socket(gateway_factory, backends, unix_dir):
    path = os.path.join(unix_dir, "log.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(10)
    echo = backends(echo_handler)
    gateway_factory(args=["--syslog", path, "127.0.0.1:{port}",
                          "127.0.0.1:%d" % echo.port])
    assert b"listening on" in b"".join(srv.recv(4096) for _ in range(2))
    srv.close()


# ---------------------------------------------------------------- inetd

def test_inetd_takes_the_listening_socket_on_stdin(backends, tmp_path):
    """--inetd: stdin is a listening socket (inetd "wait" mode)."""
    echo = backends(echo_handler)
    with inetd_gateway(tmp_path, "127.0.0.1:%d" % echo.port) as port:
        assert echo_ws("ws://127.0.0.1:%d/" % port, b"inetd") == b"inetd"
    text = (tmp_path / "inetd.log").read_text()
    assert "AddressSanitizer" not in text and "runtime error" not in text


def test_inetd_without_a_listening_socket_fails_clearly(backends):
    r = run(["--inetd", "127.0.0.1:9"])
    assert r.returncode != 0
    assert "fd:0: not a listening socket" in r.stderr, r.stderr


# ---------------------------------------------------------------- wrap

WRAPPED_ECHO = r'''
import os, socket, sys, threading
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET6 if sys.argv[2] == "6" else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if sys.argv[2] == "6" else "0.0.0.0", port))
s.listen(8)
print("wrapped %d listening on %r" % (os.getpid(), s.getsockname()), flush=True)
def serve(c):
    c.sendall(b"pid %d\n" % os.getpid())
    while True:
        d = c.recv(65536)
        if not d:
            break
        if d == b"exit\n":
            os._exit(int(sys.argv[3]))
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''


def wrapped_pid(g):
    """Connect through wsgate to the wrapped program: its greeting. The
    program may still be starting: until it listens, wsgate says 1014."""
    last = [None]

    def greeted():
        ws = RawWS.open(g.port, path="/")
        f = ws.recv_frame(timeout=10)
        last[0] = f
        if f.payload.startswith(b"pid "):
            return ws, f.payload
        ws.close()
        return None
    ws, line = wait_for(greeted, 20, interval=0.1, what=lambda: "the wrapped "
                        "program's greeting; last answer %r" % last[0])
    ws.send_frame(OP_BINARY, b"ping")
    assert ws.recv_frame(timeout=10).payload == b"ping"
    return ws, int(line.split()[1])


@pytest.mark.parametrize("family", ["4", "6"])
def test_wrap_moves_the_program_to_a_private_port(gateway_factory, tmp_path,
                                                  family):
    prog = tmp_path / "echo.py"
    prog.write_text(WRAPPED_ECHO)
    g = gateway_factory(args=["{port}", "--", "python3", str(prog), "{port}",
                              family, "0"])
    wait_for(lambda: "wrapped " in g.log_text(), 15, what="program up")
    ws, pid = wrapped_pid(g)
    ws.close()
    # It listens on 127.0.0.1 (v4 or v4-mapped), never on our port.
    assert "127.0.0.1" in g.log_text().split("wrapped %d listening" % pid)[1] \
        .split("\n")[0]
    assert "its port %d moved to 127.0.0.1:" % g.port in g.log_text()


def test_wrap_mode_exit_exits_with_the_programs_status(gateway_factory,
                                                       tmp_path):
    prog = tmp_path / "echo.py"
    prog.write_text(WRAPPED_ECHO)
    g = gateway_factory(args=["{port}", "--", "python3", str(prog), "{port}",
                              "4", "7"])
    ws, _ = wrapped_pid(g)
    ws.send_frame(OP_BINARY, b"exit\n")
    ws.expect_close(1000, timeout=10)   # its backend went away
    ws.send_close(1000)
    ws.close()
    assert g.proc.wait(15) == 7
    g.stopped = True
    assert "wrap_command exited (wrap_mode = exit)" in g.log_text()


def test_wrap_mode_respawn_starts_it_again(gateway_factory, tmp_path):
    prog = tmp_path / "echo.py"
    prog.write_text(WRAPPED_ECHO)
    g = gateway_factory(args=["--wrap-mode", "respawn", "{port}", "--",
                              "python3", str(prog), "{port}", "4", "3"])
    ws, pid1 = wrapped_pid(g)
    ws.send_frame(OP_BINARY, b"exit\n")
    ws.expect_close(1000, timeout=10)   # its backend went away
    ws.close()
    wait_for(lambda: g.log_text().count("wrap_command: started") >= 2, 15,
             what="respawn")

    def second():
        try:
            ws2, pid2 = wrapped_pid(g)
        except (AssertionError, OSError):
            return False
        ws2.close()
        return pid2 != pid1
    wait_for(second, 15, what="the new program answering")
    assert g.proc.poll() is None


def test_wrap_mode_ignore_keeps_serving_without_it(gateway_factory, tmp_path):
    prog = tmp_path / "echo.py"
    prog.write_text(WRAPPED_ECHO)
    g = gateway_factory(args=["--wrap-mode=ignore", "{port}", "--", "python3",
                              str(prog), "{port}", "4", "0"])
    ws, _ = wrapped_pid(g)
    ws.send_frame(OP_BINARY, b"exit\n")
    ws.close()
    wait_for(lambda: "exited with status 0" in g.log_text(), 15,
             what="program exit seen")
    ws = RawWS.open(g.port, path="/")
    ws.expect_close(1014, timeout=10)   # nothing on the private port now
    ws.close()
    assert g.proc.poll() is None
    assert g.log_text().count("wrap_command: started") == 1


def test_wrap_stops_the_program_with_wsgate(gateway_factory, tmp_path):
    prog = tmp_path / "echo.py"
    prog.write_text(WRAPPED_ECHO)
    g = gateway_factory(args=["{port}", "--", "python3", str(prog), "{port}",
                              "4", "0"])
    ws, pid = wrapped_pid(g)
    ws.close()
    assert g.stop(timeout=15) == 0
    wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
             open("/proc/%d/stat" % pid).read().split()[2] == "Z", 10,
             what="wrapped program gone")


# ---------------------------------------------------------------- plugins

def greets(port, path, want, headers=()):
    """Status of an upgrade to path; with 101, the backend's greeting."""
    from wskit import http_exchange
    head, _ = RawWS.request_head(path=path, extra=list(headers))
    r = http_exchange(port, head)
    st = r.status
    if st == 101:
        assert r.recv_frame(timeout=10).payload == want
    r.close()
    return st


def test_token_file_name_and_socket_directory(gateway_factory, backends,
                                              tmp_path, unix_dir):
    from backendkit import greet_echo_handler
    one = backends(greet_echo_handler(b"one:"))
    d = tmp_path / "tokens"
    d.mkdir()
    (d / "vm1").write_text("127.0.0.1:%d\n" % one.port)
    g = gateway_factory(args=["--token-plugin", "TokenFileName",
                              "--token-source", "tokens", "127.0.0.1:{port}"])
    assert greets(g.port, "/?token=vm1", b"one:") == 101
    assert greets(g.port, "/?token=..%2Fx", b"") in (400, 404)
    two = backends(greet_echo_handler(b"two:"),
                   unix=os.path.join(unix_dir, "vm2"))
    g2 = gateway_factory(args=["--token-plugin",
                               "websockify.token_plugins.UnixDomainSocketDirectory",
                               "--token-source", unix_dir, "127.0.0.1:{port}"])
    assert greets(g2.port, "/?token=vm2", b"two:") == 101
    assert greets(g2.port, "/?token=nope", b"") == 404


@pytest.mark.skipif(shutil.which("redis-server") is None or
                    shutil.which("redis-cli") is None,
                    reason="redis-server / redis-tools missing")
def test_token_redis(gateway_factory, backends, tmp_path):
    """--token-plugin TokenRedis host:port:db::namespace, with a real
    redis-server and tokens set with redis-cli (websockify's way)."""
    from backendkit import greet_echo_handler
    one = backends(greet_echo_handler(b"one:"))
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind",
                            "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--dir", str(tmp_path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cli(*a):
        return subprocess.run(["redis-cli", "-p", str(port)] + list(a),
                              capture_output=True, text=True, timeout=10)
    try:
        wait_for(lambda: cli("PING").stdout.strip() == "PONG", 10,
                 what="redis-server up")
        assert cli("-n", "2", "SET", "ns:vm1",
                   '{"host": "127.0.0.1:%d"}' % one.port).returncode == 0
        g = gateway_factory(args=["--token-plugin", "TokenRedis",
                                  "--token-source", "127.0.0.1:%d:2::ns" % port,
                                  "127.0.0.1:{port}"])
        # Each worker connects to Redis as it starts: until then, 503.
        wait_for(lambda: greets(g.port, "/?token=vm1", b"one:") != 503, 15,
                 what="wsgate's Redis connections up")
        assert greets(g.port, "/?token=vm1", b"one:") == 101
        assert greets(g.port, "/?token=vm2", b"") == 404
        cli("-n", "2", "SET", "ns:vm2", "127.0.0.1:%d" % one.port)
        assert greets(g.port, "/?token=vm2", b"one:") == 101
    finally:
        srv.kill()
        srv.wait(10)


def test_json_token_api(gateway_factory, backends):
    from backendkit import greet_echo_handler
    from test_token_sources import TokenAPI
    one = backends(greet_echo_handler(b"one:"))
    api = TokenAPI({"vm1": (200, b'{"host": "127.0.0.1", "port": %d}'
                            % one.port)})
    try:
        g = gateway_factory(args=["--token-plugin", "JSONTokenApi",
                                  "--token-source",
                                  "http://127.0.0.1:%d/t/%%s" % api.port,
                                  "127.0.0.1:{port}"])
        assert greets(g.port, "/?token=vm1", b"one:") == 101
        assert greets(g.port, "/?token=nope", b"") == 404
    finally:
        api.close()


def test_host_token(gateway_factory, backends, tmp_path):
    from backendkit import greet_echo_handler
    from wskit import http_exchange
    one = backends(greet_echo_handler(b"one:"))
    # websockify's token is the whole Host name, without the port.
    (tmp_path / "t").write_text("vm1.vnc.example.com: 127.0.0.1:%d\n"
                                % one.port)
    g = gateway_factory(args=["--token-plugin", "TokenFile", "--token-source",
                              "t", "--host-token", "127.0.0.1:{port}"])
    head, _ = RawWS.request_head(path="/", host="vm1.vnc.example.com:6080")
    r = http_exchange(g.port, head)
    assert r.status == 101
    assert r.recv_frame(timeout=10).payload == b"one:"
    r.close()


def test_basic_http_auth(gateway_factory, backends):
    import base64
    from backendkit import greet_echo_handler
    one = backends(greet_echo_handler(b"one:"))
    g = gateway_factory(args=["--auth-plugin", "BasicHTTPAuth",
                              "--auth-source", "alice:pw", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % one.port])
    ok = "Authorization: Basic " + base64.b64encode(b"alice:pw").decode()
    bad = "Authorization: Basic " + base64.b64encode(b"alice:no").decode()
    assert greets(g.port, "/", b"one:", [ok]) == 101
    assert greets(g.port, "/", b"", [bad]) == 401
    assert greets(g.port, "/", b"") == 401


def test_expect_origin(gateway_factory, backends):
    from backendkit import greet_echo_handler
    one = backends(greet_echo_handler(b"one:"))
    g = gateway_factory(args=["--auth-plugin", "ExpectOrigin",
                              "--auth-source", "https://a.example http://b",
                              "127.0.0.1:{port}", "127.0.0.1:%d" % one.port])
    assert greets(g.port, "/", b"one:", ["Origin: http://b"]) == 101
    assert greets(g.port, "/", b"", ["Origin: https://evil"]) == 403
    assert greets(g.port, "/", b"") == 403      # no Origin at all


def test_web_auth_guards_the_files_too(gateway_factory, backends, tmp_path):
    """Without --web-auth the auth plugin guards the WebSocket only, as in
    websockify; with it, --web's files as well."""
    import base64
    import urllib.error
    echo = backends(echo_handler)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("page")
    common = ["--web", "www", "--auth-plugin", "BasicHTTPAuth",
              "--auth-source", "u:p", "127.0.0.1:{port}",
              "127.0.0.1:%d" % echo.port]
    g = gateway_factory(args=common)
    url = "http://127.0.0.1:%d/" % g.port
    assert urllib.request.urlopen(url, timeout=5).read() == b"page"
    g2 = gateway_factory(args=["--web-auth"] + common)
    url = "http://127.0.0.1:%d/" % g2.port
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=5)
    assert e.value.code == 401
    assert "Basic" in e.value.headers.get("WWW-Authenticate", "")
    req = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(b"u:p").decode()})
    assert urllib.request.urlopen(req, timeout=5).read() == b"page"


def test_tls_auto_listener_in_a_config_file(gateway_factory, backends, pki):
    """listen = ... tls auto: ws and wss on one port; a client that sends
    nothing is closed after handshake_timeout, and one that sends an
    HTTP request on it gets plain HTTP."""
    echo = backends(echo_handler)
    text = ("[gateway]\nlisten = 127.0.0.1:{port} tls auto\n"
            "handshake_timeout = 1s\n"
            "[tls]\ncertificate = %s\nprivate_key = %s\n"
            "[route /*]\nbackend = %s\n" % (pki["server"][0],
                                            pki["server"][1], echo.spec))
    g = gateway_factory(config_text=text)
    ctx = ssl.create_default_context(cafile=str(pki["ca"][0]))
    assert echo_ws("wss://localhost:%d/" % g.port, b"s", ctx) == b"s"
    assert echo_ws(g.url("/"), b"p") == b"p"
    silent = socket.create_connection(("127.0.0.1", g.port), 5)
    silent.settimeout(10)
    t0 = time.monotonic()
    assert silent.recv(1) == b""        # closed, without a word
    assert 0.5 < time.monotonic() - t0 < 8
    silent.close()


# ---------------------------------------------------------------- misc

def test_daemon_detaches_and_logs_with_the_daemon_facility(backends,
                                                           tmp_path):
    """-D: the command returns at once, the gateway runs on detached; its
    syslog lines carry facility daemon (websockify's choice with -D)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(10)
    echo = backends(echo_handler)
    port = free_port()
    r = run(["-D", "--syslog", "127.0.0.1:%d" % srv.getsockname()[1],
             "127.0.0.1:%d" % port, "127.0.0.1:%d" % echo.port],
            cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    pid = None
    try:
        while pid is None:
            line = srv.recv(4096).decode()
            if " wsgate " in line and "started" in line:
                # <30>1 TIMESTAMP HOST wsgate PID - - MSG; 30 = daemon.info
                assert line.startswith("<30>1 "), line
                pid = int(line.split()[4])
        assert echo_ws("ws://127.0.0.1:%d/" % port, b"bg") == b"bg"
    finally:
        if pid is not None:
            os.kill(pid, 15)
            wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                     open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                     15, what="the daemon gone")
        srv.close()


def test_heartbeat_sends_pings_at_the_interval(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(args=["--heartbeat", "1", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % echo.port])
    ws = RawWS.open(g.port, path="/")
    t0 = time.monotonic()
    f = ws.recv_frame(timeout=10)
    assert f.opcode == 0x9, f                     # a ping
    assert time.monotonic() - t0 < 3
    ws.close()


def test_verbose_logs_debug_and_notes_for_noop_options(gateway_factory,
                                                       backends):
    echo = backends(echo_handler)
    g = gateway_factory(args=["-v", "-6", "--libserver", "--file-only",
                              "127.0.0.1:{port}", "127.0.0.1:%d" % echo.port])
    assert echo_ws(g.url("/")) == b"hello"
    text = g.log_text()
    assert " debug: " in text
    for note in ("--libserver: accepted; it changes nothing",
                 "-6: wsgate listens on every address",
                 "--file-only: wsgate never lists directories"):
        assert note in text, note


def test_check_mode_on_a_command_line(tmp_path):
    r = run(["-t", "127.0.0.1:1", "127.0.0.1:2"])
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stderr
    r = run(["-t", "--ssl-only", "--cert", "absent.pem", "1", "h:2"],
            cwd=str(tmp_path))
    assert r.returncode != 0 and "absent.pem" in r.stderr, r.stderr


def test_exit_keys_are_read_at_start_only(gateway_factory, backends):
    """A reload that sets exit_after_sessions says it takes a restart, and
    the running gateway does not start counting."""
    import signal as sig
    echo = backends(echo_handler)
    text = ("[gateway]\nlisten = 127.0.0.1:{port}\n%s"
            "[route /*]\nbackend = %s\n")
    g = gateway_factory(config_text=text % ("", echo.spec))
    with open(g.config_path, "w") as f:
        f.write(text.replace("{port}", str(g.port)) %
                ("exit_after_sessions = 1\n", echo.spec))
    g.send_signal(sig.SIGHUP)
    g.wait_log(r"wrap_\* and exit_\* changes take a restart", timeout=10)
    for i in range(3):
        assert echo_ws(g.url("/"), b"%d" % i) == b"%d" % i
    assert g.alive()


def test_ssl_version_and_ciphers(gateway_factory, backends, pki):
    """--ssl-version tlsv1_3: a TLS 1.2 client is refused; --ssl-ciphers
    limits TLS 1.2 to the list."""
    echo = backends(echo_handler)
    g = gateway_factory(args=["--ssl-only", "--cert", str(pki["combined"]),
                              "--ssl-version", "tlsv1_3", "127.0.0.1:{port}",
                              "127.0.0.1:%d" % echo.port])
    tls12 = insecure_ctx()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", g.port), 5) as c:
            tls12.wrap_socket(c, server_hostname="localhost")
    assert echo_ws("wss://127.0.0.1:%d/" % g.port, b"13",
                   insecure_ctx()) == b"13"
    g2 = gateway_factory(args=["--ssl-only", "--cert", str(pki["combined"]),
                               "--ssl-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256",
                               "127.0.0.1:{port}", "127.0.0.1:%d" % echo.port])
    with socket.create_connection(("127.0.0.1", g2.port), 5) as c:
        t = tls12.wrap_socket(c, server_hostname="localhost")
        assert t.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256", t.cipher()
        t.close()
