"""wss:// listeners: real TLS with a throwaway certificate made by the
openssl command, real clients verifying it."""
import os
import socket
import ssl
import subprocess

import pytest
import websockets

from backendkit import echo_handler
from basekit import pattern_bytes, run_async, wait_for
from gatewaykit import WSGATE_BIN
from tlskit import gateway_from_text


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
         str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def tls_gateway(tmp_path, certs, backend, key=None):
    cert, default_key = certs
    return gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\nhandshake_timeout = 2s\n"
        "drain_timeout = 2s\n[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[route /echo]\nbackend = %s\n" % (cert, key or default_key,
                                           backend.spec)))


def test_wss_round_trip_verified_against_the_certificate(tmp_path, certs,
                                                         backends):
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo).start()
    try:
        ctx = ssl.create_default_context(cafile=str(certs[0]))
        data = pattern_bytes(1 << 20)

        async def go():
            async with websockets.connect(
                    "wss://localhost:%d/echo" % g.port, ssl=ctx,
                    max_size=None) as ws:
                await ws.send(data)
                got = b""
                while len(got) < len(data):
                    got += await ws.recv()
                return got
        assert run_async(go()) == data
        g.wait_session_lines(1, route="/echo")
    finally:
        assert g.stop() == 0


def test_plain_http_on_tls_port_is_closed_cleanly_and_logged(tmp_path, certs,
                                                             backends):
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo).start()
    try:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\n")
        assert s.recv(100) == b""       # FIN, not a reset, not a hang
        s.close()
        g.wait_log(r"dropped before the upgrade: .*TLS.*http request")
    finally:
        assert g.stop() == 0


def test_client_that_distrusts_the_certificate_gets_no_session(
        tmp_path, certs, backends):
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo).start()
    try:
        ctx = ssl.create_default_context()   # system store: no test CA

        async def go():
            async with websockets.connect("wss://localhost:%d/echo" % g.port,
                                          ssl=ctx):
                pass
        with pytest.raises(ssl.SSLCertVerificationError):
            run_async(go())
        g.wait_log(r"dropped before the upgrade")
        assert echo.count == 0
    finally:
        assert g.stop() == 0


def test_key_readable_by_others_is_refused(tmp_path, certs, backends):
    echo = backends(echo_handler)
    loose = tmp_path / "loose-key.pem"
    loose.write_bytes(certs[1].read_bytes())
    os.chmod(loose, 0o644)
    conf = tmp_path / "loose.conf"
    conf.write_text("[gateway]\nlisten = 127.0.0.1:1 tls\n[tls]\n"
                    "certificate = %s\nprivate_key = %s\n[route /echo]\n"
                    "backend = %s\n" % (certs[0], loose, echo.spec))
    from gatewaykit import WSGATE_BIN
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "readable by group or others" in r.stderr
    assert str(loose) in r.stderr


def test_sighup_reloads_certificates_live_sessions_untouched(tmp_path,
                                                             backends):
    import signal
    from wskit import RawWS
    from tlskit import make_ca, make_cert
    echo = backends(echo_handler)
    d = tmp_path / "pki"
    d.mkdir()
    ca = make_ca(d)
    first = make_cert(d, "first", ca, "first.test",
                      san="DNS:localhost", server=True)
    second = make_cert(d, "second", ca, "second.test",
                       san="DNS:localhost", server=True)
    cert, key = d / "live.pem", d / "live.key"
    cert.write_bytes(first[0].read_bytes())
    key.write_bytes(first[1].read_bytes())
    os.chmod(key, 0o600)
    g = gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\ndrain_timeout = 2s\n"
        "[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[route /echo]\nbackend = %s\n" % (cert, key, echo.spec))).start()
    ctx = ssl.create_default_context(cafile=str(ca[0]))

    def subject_cn():
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", g.port),
                                                     timeout=5),
                            server_hostname="localhost")
        cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
        s.close()
        return cn
    try:
        tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", g.port),
                                                       timeout=5),
                              server_hostname="localhost")
        live = RawWS(g.port, sock=tls)
        head, _ = RawWS.request_head(path="/echo")
        live.send(head)
        assert live.read_head() == 101
        assert subject_cn() == "first.test"
        cert.write_bytes(second[0].read_bytes())
        key.write_bytes(second[1].read_bytes())
        g.send_signal(signal.SIGHUP)
        g.wait_log(r"reloaded ")
        assert subject_cn() == "second.test"
        live.send_frame(0x2, b"still here")
        assert live.recv_frame(timeout=5).payload == b"still here"
        live.close()
    finally:
        assert g.stop() == 0


def test_openssl_s_client_gets_the_upgrade(tmp_path, certs, backends):
    """A client we did not write: openssl s_client verifies the certificate
    and carries a raw upgrade and a masked frame over wss."""
    import base64
    import select
    import subprocess
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo).start()
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        head = ("GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode()
        mask = b"\x01\x02\x03\x04"
        payload = b"s_client"
        frame = bytes([0x82, 0x80 | len(payload)]) + mask + bytes(
            c ^ mask[i % 4] for i, c in enumerate(payload))
        p = subprocess.Popen(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % g.port,
             "-servername", "localhost", "-verify_return_error", "-CAfile",
             str(certs[0]), "-quiet", "-no_ign_eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        p.stdin.write(head + frame)
        p.stdin.flush()
        echoed = b"\x82" + bytes([len(payload)]) + payload
        got = bytearray()

        def answered():     # s_client ends at stdin EOF: read first
            if select.select([p.stdout], [], [], 0)[0]:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    return True         # it ended: judge what came
                got.extend(chunk)
            return echoed in got
        wait_for(answered, 10, what=lambda: "s_client to print the 101 and "
                 "the echo; got %r" % bytes(got[:200]))
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        out = bytes(got) + out
        assert out.startswith(b"HTTP/1.1 101 "), (out[:200], err[-500:])
        assert echoed in out
    finally:
        assert g.stop() == 0


def _wss_echo_once(port, ctx, session=None):
    """One TLS connection: upgrade, "hi" echoed, close. Returns the
    SSLSocket's (session, session_reused) after the 101 was read."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    try:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        rest = head.split(b"\r\n\r\n", 1)[1]
        key = b"\x01\x02\x03\x04"
        s.sendall(b"\x82\x82" + key +
                  bytes(c ^ key[i % 4] for i, c in enumerate(b"hi")))
        while len(rest) < 4:
            chunk = s.recv(4096)
            assert chunk, rest
            rest += chunk
        assert rest[:4] == b"\x82\x02hi"
        return s.session, s.session_reused
    finally:
        s.close()


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_session_tickets_come_with_the_upgrade_and_resume(tmp_path, certs,
                                                          backends, version):
    """The tickets OpenSSL makes at the end of the handshake wait for the
    gateway's first record (the 101) and go out with it (tls.c, the
    tls_sock BIO): they must still arrive, in order before the 101, and
    resume a second connection, over TLS 1.3 and 1.2."""
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo).start()
    try:
        ctx = ssl.create_default_context(cafile=str(certs[0]))
        ctx.minimum_version = ctx.maximum_version = \
            getattr(ssl.TLSVersion, version)
        sess, reused = _wss_echo_once(g.port, ctx)
        assert not reused
        assert sess is not None and sess.has_ticket
        sess2, reused = _wss_echo_once(g.port, ctx, session=sess)
        assert reused
        g.wait_session_lines(2, route="/echo")
    finally:
        assert g.stop() == 0


def test_client_gone_before_it_speaks_frees_its_held_tickets(tmp_path, certs,
                                                             backends):
    """A client that completes the handshake and closes without a request
    never gets the tickets held for the 101; the gateway drops them
    (ASan: no leak) and serves the next client."""
    echo = backends(echo_handler)
    g = tls_gateway(tmp_path, certs, echo).start()
    try:
        ctx = ssl.create_default_context(cafile=str(certs[0]))
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", g.port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.close()
        wait_for(lambda: g.log_text().count("dropped before the upgrade")
                 >= 3, 5, what="3 sessions dropped before the upgrade")
        _, reused = _wss_echo_once(g.port, ctx)
        assert not reused
    finally:
        assert g.stop() == 0


def _tickets_gateway(tmp_path, certs, echo, tickets):
    cert, key = certs
    return gateway_from_text(tmp_path, (
        "[gateway]\nlisten = 127.0.0.1:{port} tls\n[tls]\ncertificate = %s\n"
        "private_key = %s\n%s[route /echo]\nbackend = %s\n" % (
            cert, key, "" if tickets is None else
            "session_tickets = %d\n" % tickets, echo.spec))).start()


def _s_client_tickets(port, version):
    """Upgrade through openssl s_client; the number of session tickets it
    reports (they come with the 101, which is awaited first)."""
    import select
    p = subprocess.Popen(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-servername", "localhost", version, "-no_ign_eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    p.stdin.write(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
    p.stdin.flush()
    got = bytearray()

    def upgraded():
        if select.select([p.stdout], [], [], 0)[0]:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                return True
            got.extend(chunk)
        return b"HTTP/1.1 101" in got
    wait_for(upgraded, 10, what=lambda: "the 101 from s_client: %r"
             % bytes(got[-300:]))
    out, _ = p.communicate(timeout=10)     # stdin EOF: it closes
    got.extend(out)
    assert b"HTTP/1.1 101" in got, bytes(got[-500:])
    return got.count(b"New Session Ticket arrived")


@pytest.mark.parametrize("tickets", [None, 0, 1, 3])
def test_session_tickets_sets_how_many_a_handshake_sends(tmp_path, certs,
                                                         backends, tickets):
    """[tls] session_tickets: the TLS 1.3 tickets a full handshake sends,
    as openssl s_client counts them (default: OpenSSL's 2); one is enough
    to resume."""
    echo = backends(echo_handler)
    g = _tickets_gateway(tmp_path, certs, echo, tickets)
    try:
        want = 2 if tickets is None else tickets
        assert _s_client_tickets(g.port, "-tls1_3") == want
        ctx = ssl.create_default_context(cafile=str(certs[0]))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        sess, _ = _wss_echo_once(g.port, ctx)
        assert (sess is not None and sess.has_ticket) == (want > 0)
        if want > 0:
            assert _wss_echo_once(g.port, ctx, session=sess)[1]
    finally:
        assert g.stop() == 0


def test_session_tickets_0_sends_tls12_clients_none(tmp_path, certs,
                                                    backends):
    echo = backends(echo_handler)
    g = _tickets_gateway(tmp_path, certs, echo, 0)
    try:
        ctx = ssl.create_default_context(cafile=str(certs[0]))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        sess, _ = _wss_echo_once(g.port, ctx)
        assert sess is None or not sess.has_ticket
    finally:
        assert g.stop() == 0


@pytest.mark.parametrize("value", ["17", "-1", "two", ""])
def test_bad_session_tickets_names_file_and_line(tmp_path, certs, value):
    cert, key = certs
    conf = tmp_path / "t.conf"
    conf.write_text("[gateway]\nlisten = 127.0.0.1:1 tls\n[tls]\n"
                    "certificate = %s\nprivate_key = %s\n"
                    "session_tickets = %s\n[route /e]\n"
                    "backend = tcp:127.0.0.1:1\n" % (cert, key, value))
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "%s:6: session_tickets" % conf in r.stderr, r.stderr
