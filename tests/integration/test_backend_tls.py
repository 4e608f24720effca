"""tls: backends: certificate and host-name verification against
backend_ca (1014 with the reason otherwise), SNI, and a TLS echo server
made with Python's ssl module."""
import errno
import os
import signal
import socket
import ssl
import subprocess
import threading

import pytest

from basekit import wait_for
from wskit import OP_BINARY, RawWS
from tlskit import make_ca, make_cert


class TLSEcho:
    """A TLS echo server on 127.0.0.1; notes the SNI names it was asked."""

    def __init__(self, cert):
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        self.sni = []
        self.ctx.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            c.settimeout(10)
            t = self.ctx.wrap_socket(c, server_side=True)
            while True:
                d = t.recv(65536)
                if not d:
                    break
                t.sendall(d)
        except (ssl.SSLError, OSError):
            pass
        finally:
            c.close()

    def close(self):
        self.stop.set()
        self.t.join(2)
        self.lsock.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("bpki")
    ca = make_ca(d)
    rogue = make_ca(tmp_path_factory.mktemp("brogue"))
    return {"ca": ca, "rogue": rogue,
            "server": make_cert(d, "backend", ca, "backend.test",
                                san="DNS:backend.test,IP:127.0.0.1",
                                server=True)}


@pytest.fixture
def tls_echo(pki):
    srv = TLSEcho(pki["server"])
    yield srv
    srv.close()


def echo_through(g, path, data=b"over tls"):
    ws = RawWS.open(g.port, path=path)
    ws.send_frame(OP_BINARY, data)
    got = b""
    while len(got) < len(data):
        f = ws.recv_frame(timeout=5)
        assert f.opcode == OP_BINARY, "got close %s %r" % (f.close_code,
                                                           f.close_reason)
        got += f.payload
    ws.close()
    return got


def refused(g, path):
    """The backend did not verify: 1014 with the TLS reason."""
    ws = RawWS.open(g.port, path=path)
    ws.send_frame(OP_BINARY, b"secret")
    f = ws.expect_close(1014, timeout=5)
    assert f.close_reason.startswith("bad gateway: TLS")
    ws.close()


def test_verified_by_ip_and_by_server_name(gateway_factory, pki, tls_echo):
    g = gateway_factory(routes=[
        ("/ip", {"backend": "tls:127.0.0.1:%d" % tls_echo.port,
                 "backend_ca": str(pki["ca"][0])}),
        ("/name", {"backend": "tls:127.0.0.1:%d" % tls_echo.port,
                   "backend_ca": str(pki["ca"][0]),
                   "backend_server_name": "backend.test"})])
    assert echo_through(g, "/ip") == b"over tls"
    assert echo_through(g, "/name", b"x" * 200000) == b"x" * 200000
    assert "backend.test" in tls_echo.sni


@pytest.mark.parametrize("case", ["wrong-ca", "wrong-name", "system-store"])
def test_unverifiable_backend_gets_1014_with_reason(gateway_factory, pki,
                                                   tls_echo, case):
    keys = {"backend": "tls:127.0.0.1:%d" % tls_echo.port,
            "connect_timeout": "3s"}
    if case == "wrong-ca":
        keys["backend_ca"] = str(pki["rogue"][0])
    elif case == "wrong-name":
        keys["backend_ca"] = str(pki["ca"][0])
        keys["backend_server_name"] = "other.test"
    g = gateway_factory(routes=[("/t", keys)])
    refused(g, "/t")
    g.wait_log(r"certificate verify failed")


def test_failover_from_unverifiable_tls_keeps_proxy_header_and_data(
        gateway_factory, backends, pki, tls_echo):
    """A tls: backend that fails verification, then a plain one: the plain
    one gets the PROXY header first and every client byte after it."""
    from backendkit import record_handler
    rec = backends(record_handler)
    g = gateway_factory(routes=[("/t", {
        "backend": ["tls:127.0.0.1:%d" % tls_echo.port, rec.spec],
        "backend_ca": str(pki["rogue"][0]),
        "backend_proxy_protocol": "v1"})])
    ws = RawWS.open(g.port, path="/t",
                    trailing=b"")
    cport = ws.sock.getsockname()[1]
    ws.send_frame(OP_BINARY, b"first")
    ws.send_frame(OP_BINARY, b"second")
    conn = rec.wait_conn(0)
    want = ("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n" % (cport, g.port)
            ).encode() + b"firstsecond"
    wait_for(lambda: bytes(conn.received) == want, 5,
             what="PROXY header then both frames at the second backend")
    ws.close()


def test_system_store_verifies_a_backend_without_backend_ca(
        gateway_factory, pki, tls_echo, tmp_path):
    """No backend_ca: the backend is checked against OpenSSL's default
    store, here SSL_CERT_FILE naming the test CA."""
    empty = tmp_path / "no-certs"
    empty.mkdir()
    g = gateway_factory(routes=[
        ("/sys", {"backend": "tls:127.0.0.1:%d" % tls_echo.port})],
        env={"SSL_CERT_FILE": str(pki["ca"][0]), "SSL_CERT_DIR": str(empty)})
    assert echo_through(g, "/sys") == b"over tls"


def test_system_store_is_not_read_when_nothing_verifies_with_it(
        gateway_factory, tls_echo, tmp_path):
    """The system store is read (Debian's bundle: ~235 M instructions and
    ~1 MiB at start) only for a check that uses it: with a TLS backend
    whose verification is off (and no https token_api), SSL_CERT_FILE may
    name a FIFO no one writes to, which would block its reader: wsgate -t
    and the gateway start, the backend is relayed, and the FIFO never had
    a reader."""
    fifo = tmp_path / "store.fifo"
    os.mkfifo(fifo)
    env = {"SSL_CERT_FILE": str(fifo),
           "SSL_CERT_DIR": str(tmp_path / "absent")}
    routes = [("/off", {"backend": "tls:127.0.0.1:%d" % tls_echo.port,
                        "backend_verify": "off"})]
    g = gateway_factory(routes=routes, env=env)  # listening: not blocked
    assert echo_through(g, "/off") == b"over tls"
    with pytest.raises(OSError) as e:   # ENXIO: no reader has it open
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert e.value.errno == errno.ENXIO
    r = subprocess.run([g.binary, "-t", "-c", g.config_path], env=dict(
        os.environ, **env), capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr


class StoreFIFO:
    """SSL_CERT_FILE as a FIFO: each feed() answers exactly one open of it
    with a bundle; a further open blocks its reader (wsgate's loading
    thread) until the next feed."""

    def __init__(self, path):
        self.path = str(path)
        os.mkfifo(self.path)

    def feed(self, pem_file):
        data = open(str(pem_file), "rb").read()

        def write():
            fd = os.open(self.path, os.O_WRONLY)    # until one reader opens
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        t = threading.Thread(target=write, daemon=True)
        t.start()
        return t

    def read_once(self, t):
        """The feed t was read, and no other reader waits."""
        t.join(5)
        assert not t.is_alive(), "the CA bundle was never read"
        with pytest.raises(OSError) as e:   # ENXIO: no reader has it open
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
        assert e.value.errno == errno.ENXIO, "a second read of the bundle"

    def check_reads_once(self, g, env, pem_file):
        """`wsgate -t` on g's config accepts it, reading the bundle once."""
        fed = self.feed(pem_file)
        r = subprocess.run([g.binary, "-t", "-c", g.config_path], env=dict(
            os.environ, **env), capture_output=True, timeout=10)
        assert r.returncode == 0, r.stderr
        self.read_once(fed)

    def reload_reads_once(self, g, pem_file):
        """A SIGHUP to g reloads, reading the (changed) bundle once."""
        fed = self.feed(pem_file)
        g.send_signal(signal.SIGHUP)
        g.wait_log(r"reloaded ")
        self.read_once(fed)


def test_system_store_read_once_per_load_for_all_routes(
        gateway_factory, pki, tls_echo, tmp_path):
    """Four tls: routes without backend_ca and an https token_api share
    one read of the system store (Debian's bundle: ~235 M instructions
    each) at start, for wsgate -t, and again at each reload: SSL_CERT_FILE
    is a FIFO written once per read we allow. Shared, it checks as much:
    three backends verify, the one asked for another name does not. A
    reload reads the bundle anew: after it, the backends are checked
    against the changed one."""
    store = StoreFIFO(tmp_path / "store.fifo")
    env = {"SSL_CERT_FILE": store.path,
           "SSL_CERT_DIR": str(tmp_path / "absent")}
    paths = ["/a", "/b", "/c"]
    routes = [(p, {"backend": "tls:127.0.0.1:%d" % tls_echo.port,
                   "connect_timeout": "3s"}) for p in paths]
    routes.append(("/name", {"backend": "tls:127.0.0.1:%d" % tls_echo.port,
                             "backend_server_name": "other.test"}))
    routes.append(("/t", {"token_api": "https://127.0.0.1:1/t/%s"}))
    fed = store.feed(pki["ca"][0])
    g = gateway_factory(routes=routes, env=env)     # blocks on a 2nd read
    store.read_once(fed)
    for p in paths:
        assert echo_through(g, p) == b"over tls"
    refused(g, "/name")

    store.check_reads_once(g, env, pki["ca"][0])
    store.reload_reads_once(g, pki["rogue"][0])  # ca-certificates changed
    for p in paths:
        refused(g, p)
