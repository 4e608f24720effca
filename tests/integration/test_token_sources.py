"""Token sources besides token_file: token_redis on a real redis-server
(Debian's), token_api against a real HTTP server (Python's http.server),
token_dir, token_socket_dir, token_jwt_key_file (PyJWT), allow_targets."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from backendkit import greet_echo_handler
from basekit import free_port, wait_for
from tlskit import make_keypair
from wskit import OP_BINARY, RawWS, http_exchange

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
needs_redis = pytest.mark.skipif(REDIS_SERVER is None or REDIS_CLI is None,
                                 reason="redis-server / redis-tools missing")
PASSWORD = "s3cret-for-tests"


class Redis:
    """A redis-server of our own on a free port (and a Unix socket), with
    its own config in tmp_path; stopped by PID."""

    def __init__(self, tmp_path, port=None):
        self.dir = tmp_path / ("redis-%d" % time.monotonic_ns())
        self.dir.mkdir()
        self.port = port or free_port()
        self.sock = "/tmp/wsg-redis-%d-%d.sock" % (os.getpid(), self.port)
        self.proc = None
        self.hold = None

    def start(self):
        if self.hold is not None:       # down(): the port is ours again
            self.hold.close()
            self.hold = None
        conf = self.dir / "redis.conf"
        conf.write_text("port %d\nbind 127.0.0.1\nunixsocket %s\n"
                        "unixsocketperm 700\nrequirepass %s\nsave \"\"\n"
                        "appendonly no\ndir %s\nlogfile %s\n"
                        % (self.port, self.sock, PASSWORD, self.dir,
                           self.dir / "redis.log"))
        self.proc = subprocess.Popen([REDIS_SERVER, str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: self.cli("PING", check=False) == "PONG", 10,
                 what="redis-server answering PING")
        return self

    def cli(self, *args, check=True):
        r = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p",
                            str(self.port), "-a", PASSWORD, "--no-auth-warning"]
                           + list(args), capture_output=True, text=True,
                           timeout=10)
        if check:
            assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def down(self):
        """Kill redis-server and keep its port bound, not listening, until
        start(): connects are refused as by a dead server, and no other
        process (another test's client or server) can take the port in
        between and keep redis-server from binding it again."""
        self.kill()
        self.hold = socket.socket()
        self.hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.hold.bind(("127.0.0.1", self.port))

    def close(self):
        self.kill()
        if self.hold is not None:
            self.hold.close()
            self.hold = None
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass


@pytest.fixture
def redis(tmp_path):
    r = Redis(tmp_path).start()
    yield r
    r.close()


def attempt(port, path, headers=()):
    head, _ = RawWS.request_head(path=path, extra=list(headers))
    return http_exchange(port, head)


def status_of(port, path, headers=()):
    r = attempt(port, path, headers)
    st = (r.status, r.headers.get("retry-after"))
    r.close()
    return st


def scrape(aport):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport,
                                timeout=10) as r:
        return r.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def greets(port, path, want):
    ws = RawWS.open(port, path=path)
    assert ws.recv_frame(timeout=5).payload == want
    ws.send_frame(OP_BINARY, b"ping")
    assert ws.recv_frame(timeout=5).payload == b"ping"
    return ws


def redis_gateway(gateway_factory, tmp_path, redis, unix=False, extra=None):
    pw = tmp_path / "redis.pw"
    pw.write_text(PASSWORD + "\n")
    os.chmod(pw, 0o600)
    gw = {"redis": ("unix:" + redis.sock) if unix else
          "127.0.0.1:%d" % redis.port,
          "redis_password_file": str(pw), "redis_db": "3",
          "redis_timeout": "500ms", "admin_listen": "127.0.0.1:{admin_port}",
          "workers": "2"}
    gw.update(extra or {})
    g = gateway_factory(routes=[
        ("/websockify", {"token_redis": "on", "token_redis_prefix": "tok:"}),
        ("/bare", {"token_redis": "on"})], gateway=gw)
    wait_for(lambda: metric(scrape(g.admin_port), "wsgate_redis_up") == 1,
             20, what="wsgate_redis_up 1")
    return g


@needs_redis
@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
def test_redis_tokens_set_with_redis_cli(gateway_factory, backends, tmp_path,
                                         redis, unix_dir, unix):
    one = backends(greet_echo_handler(b"one:"))
    two = backends(greet_echo_handler(b"two:"))
    three = backends(greet_echo_handler(b"three:"),
                     unix=os.path.join(unix_dir, "vm3.sock"))
    g = redis_gateway(gateway_factory, tmp_path, redis, unix=unix)
    # websockify's TokenRedis JSON, a plain host:port, a Unix socket; in
    # redis_db 3 under the prefix.
    redis.cli("-n", "3", "SET", "tok:alpha",
              json.dumps({"host": "127.0.0.1:%d" % one.port}))
    redis.cli("-n", "3", "SET", "tok:beta", "127.0.0.1:%d" % two.port)
    redis.cli("-n", "3", "SET", "tok:gamma", "unix_socket:" + three.unix)
    redis.cli("-n", "0", "SET", "tok:wrongdb", "127.0.0.1:%d" % one.port)
    for tok, want in (("alpha", b"one:"), ("beta", b"two:"),
                      ("gamma", b"three:")):
        greets(g.port, "/websockify?token=" + tok, want).close()
    assert status_of(g.port, "/websockify?token=wrongdb")[0] == 404
    # No prefix: the token is the key.
    redis.cli("-n", "3", "SET", "bare1", "127.0.0.1:%d" % two.port)
    greets(g.port, "/bare?token=bare1", b"two:").close()
    assert status_of(g.port, "/bare?token=alpha")[0] == 404
    assert status_of(g.port, "/websockify?token=nosuch")[0] == 404
    assert status_of(g.port, "/websockify")[0] == 404
    # Deleted: refused at once, no cache.
    redis.cli("-n", "3", "DEL", "tok:alpha")
    assert status_of(g.port, "/websockify?token=alpha")[0] == 404
    # A value that is no target: 404, logged.
    redis.cli("-n", "3", "SET", "tok:junk", "not a target")
    assert status_of(g.port, "/websockify?token=junk")[0] == 404
    g.wait_log(r"token_redis gave a bad target")
    m = scrape(g.admin_port)
    assert metric(m, "wsgate_redis_lookup_seconds_count") >= 7
    assert metric(m, "wsgate_redis_errors_total") == 0


@needs_redis
def test_redis_down_gets_503_live_sessions_relay_and_recovery(
        gateway_factory, backends, tmp_path, redis):
    one = backends(greet_echo_handler(b"one:"))
    g = redis_gateway(gateway_factory, tmp_path, redis)
    redis.cli("-n", "3", "SET", "tok:a", "127.0.0.1:%d" % one.port)
    live = greets(g.port, "/websockify?token=a", b"one:")
    redis.down()
    # New token handshakes: 503 with Retry-After, at once.
    t0 = time.monotonic()
    st = status_of(g.port, "/websockify?token=a")
    assert st == (503, "1"), st
    assert time.monotonic() - t0 < 3
    wait_for(lambda: metric(scrape(g.admin_port), "wsgate_redis_up") == 0, 20,
             what="wsgate_redis_up 0")
    assert metric(scrape(g.admin_port), "wsgate_redis_errors_total") >= 1
    # The live session goes on relaying.
    for i in range(5):
        live.send_frame(OP_BINARY, b"still here %d" % i)
        assert live.recv_frame(timeout=5).payload == b"still here %d" % i
    # Redis back (empty: no persistence): set the token again; it works
    # once wsgate has connected again by itself, which its backoff (at most
    # 5 s between attempts) does within seconds: the deadline is generous
    # for a loaded machine.
    redis.start()
    redis.cli("-n", "3", "SET", "tok:a", "127.0.0.1:%d" % one.port)
    wait_for(lambda: status_of(g.port, "/websockify?token=a")[0] != 503, 30,
             interval=0.1, what="an answer other than 503 after redis is back")
    greets(g.port, "/websockify?token=a", b"one:").close()
    live.send_frame(OP_BINARY, b"after")
    assert live.recv_frame(timeout=5).payload == b"after"
    live.close()
    g.wait_log(r"connected again", timeout=10)


@needs_redis
def test_redis_stopped_not_killed_times_out(gateway_factory, backends,
                                            tmp_path, redis):
    """A Redis that accepts but never answers (SIGSTOP): the handshake
    gets 503 after redis_timeout, not a hang."""
    import signal
    g = redis_gateway(gateway_factory, tmp_path, redis)
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        st = status_of(g.port, "/websockify?token=a")
        took = time.monotonic() - t0
        assert st == (503, "1"), st
        assert took < 3, took
    finally:
        redis.proc.send_signal(signal.SIGCONT)


def test_redis_refused_config(tmp_path):
    """A password file others may read is refused at load, by -t too."""
    from gatewaykit import WSGATE_BIN, render_config
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    os.chmod(pw, 0o644)
    conf = tmp_path / "g.conf"
    conf.write_text(render_config(free_port(), [("/t", {"token_redis": "on"})],
                                  {"redis": "127.0.0.1:1",
                                   "redis_password_file": str(pw)}))
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "readable by group or others" in r.stderr and "chmod 600" in r.stderr
    os.chmod(pw, 0o600)
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr


# ---- token_api ----------------------------------------------------------

class TokenAPI:
    """A real HTTP token API: /t/<token> answers by token name; over TLS
    with tls=(cert, key). .connections counts the connections it took,
    .open those still open (the handler has not seen the client go).
    keepalive: answer HTTP/1.1 and keep connections open (else HTTP/1.0,
    closed after each answer); once: (with keepalive) answer the first
    request of each connection only and close it, silently, when the
    next one comes, as a server whose idle timeout fires just then."""

    def __init__(self, targets, tls=None, keepalive=False, once=False):
        self.targets = targets
        self.release = threading.Event()
        self.hits = []
        self.connections = 0
        self.open = 0
        lock = threading.Lock()
        api = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keepalive else "HTTP/1.0"
            disable_nagle_algorithm = True  # head and body: two writes

            def log_message(self, *a):
                pass

            def setup(self):
                with lock:
                    api.connections += 1
                    api.open += 1
                self.served = 0
                super().setup()

            def finish(self):
                try:
                    super().finish()
                finally:
                    with lock:
                        api.open -= 1

            def do_GET(self):
                tok = self.path.rsplit("/", 1)[-1]
                api.hits.append(self.path)
                self.served += 1
                if once and self.served > 1:
                    self.close_connection = True
                    return
                if tok == "hang":
                    api.release.wait(30)
                    return
                if tok not in api.targets:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                code, body = api.targets[tok]
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.srv.socket = ctx.wrap_socket(self.srv.socket,
                                              server_side=True)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


def test_token_api_text_json_404_errors_and_hang(gateway_factory, backends):
    one = backends(greet_echo_handler(b"one:"))
    two = backends(greet_echo_handler(b"two:"))
    api = TokenAPI({
        "text": (200, b"127.0.0.1:%d\n" % one.port),
        "json": (200, json.dumps({"host": "127.0.0.1",
                                  "port": two.port}).encode()),
        "boom": (500, b"internal error"),
        "junk": (200, b"<html>no</html>"),
    })
    try:
        g = gateway_factory(routes=[("/t", {
            "token_api": "http://127.0.0.1:%d/tok/%%s" % api.port,
            "token_api_timeout": "700ms"})])
        greets(g.port, "/t?token=text", b"one:").close()
        greets(g.port, "/t?token=json", b"two:").close()
        assert status_of(g.port, "/t?token=nosuch")[0] == 404
        assert status_of(g.port, "/t?token=boom") == (503, "1")
        assert status_of(g.port, "/t?token=junk")[0] == 404
        # The token is percent-encoded into the URL.
        assert status_of(g.port, "/t?token=a%2Fb%20c")[0] == 404
        assert "/tok/a%2Fb%20c" in api.hits
        # A hanging API: 503 after token_api_timeout; meanwhile other
        # handshakes on the same gateway are served.
        result = {}

        def hang():
            t0 = time.monotonic()
            result["st"] = status_of(g.port, "/t?token=hang")
            result["took"] = time.monotonic() - t0
        th = threading.Thread(target=hang)
        th.start()
        wait_for(lambda: "/tok/hang" in api.hits, 5, what="hang request")
        t0 = time.monotonic()
        greets(g.port, "/t?token=text", b"one:").close()
        assert time.monotonic() - t0 < 0.6
        th.join(10)
        assert result["st"] == (503, "1"), result
        assert 0.5 < result["took"] < 3, result
    finally:
        api.close()


def test_token_api_over_https_is_verified(gateway_factory, backends,
                                          tmp_path):
    import tlskit
    one = backends(greet_echo_handler(b"one:"))
    ca = tlskit.make_ca(tmp_path)
    good = tlskit.make_cert(tmp_path, "api", ca, "127.0.0.1",
                            san="IP:127.0.0.1", server=True)
    other = tlskit.make_cert(tmp_path, "other", ca, "elsewhere",
                             san="DNS:elsewhere.example", server=True)
    body = (200, json.dumps({"host": "127.0.0.1", "port": one.port}).encode())
    api = TokenAPI({"j": body}, tls=good)
    wrong = TokenAPI({"j": body}, tls=other)
    try:
        def route(a):
            return [("/t", {"token_api": "https://127.0.0.1:%d/t/%%s"
                            % a.port, "token_api_timeout": "1s"})]
        trusted = gateway_factory(routes=route(api), name="trusted",
                                  env={"SSL_CERT_FILE": str(ca[0])})
        greets(trusted.port, "/t?token=j", b"one:").close()
        assert status_of(trusted.port, "/t?token=nosuch")[0] == 404
        # The system store does not know the test CA: refused.
        plain = gateway_factory(routes=route(api), name="system")
        assert status_of(plain.port, "/t?token=j") == (503, "1")
        # A certificate for another name: refused.
        misnamed = gateway_factory(routes=route(wrong), name="misnamed",
                                   env={"SSL_CERT_FILE": str(ca[0])})
        assert status_of(misnamed.port, "/t?token=j") == (503, "1")
        assert one.count == 1
        # Kept alive over TLS too: three lookups, one TLS connection.
        alive = TokenAPI({"j": body}, tls=good, keepalive=True)
        try:
            kept = gateway_factory(routes=route(alive), name="kept",
                                   env={"SSL_CERT_FILE": str(ca[0])},
                                   gateway={"workers": 1})
            for _ in range(3):
                greets(kept.port, "/t?token=j", b"one:").close()
            assert alive.connections == 1 and len(alive.hits) == 3
        finally:
            alive.close()
    finally:
        api.close()
        wrong.close()


def test_token_api_over_https_follows_a_reload_of_the_store(
        gateway_factory, backends, tmp_path):
    """The https token API is checked against the store of the
    configuration generation, read anew at each reload: an authority
    added to the bundle (ca-certificates updated) is trusted after a
    SIGHUP. Before, the first generation's store stayed until a restart:
    the lookup still failed. The connection kept alive then stays over
    the next reload (its origin is still named)."""
    import signal
    import tlskit
    one = backends(greet_echo_handler(b"one:"))
    ca = tlskit.make_ca(tmp_path)
    (tmp_path / "other").mkdir()
    other = tlskit.make_ca(tmp_path / "other")
    good = tlskit.make_cert(tmp_path, "api", ca, "127.0.0.1",
                            san="IP:127.0.0.1", server=True)
    bundle = tmp_path / "bundle.pem"
    shutil.copy(str(other[0]), str(bundle))
    body = (200, json.dumps({"host": "127.0.0.1", "port": one.port}).encode())
    api = TokenAPI({"j": body}, tls=good, keepalive=True)
    try:
        g = gateway_factory(routes=[("/t", {
            "token_api": "https://127.0.0.1:%d/t/%%s" % api.port,
            "token_api_timeout": "2s"})], gateway={"workers": 1},
            env={"SSL_CERT_FILE": str(bundle),
                 "SSL_CERT_DIR": str(tmp_path / "absent")})
        assert status_of(g.port, "/t?token=j") == (503, "1")
        shutil.copy(str(ca[0]), str(bundle))
        g.send_signal(signal.SIGHUP)
        g.wait_log(r"reloaded ")
        for _ in range(2):
            greets(g.port, "/t?token=j", b"one:").close()
        g.send_signal(signal.SIGHUP)
        wait_for(lambda: g.log_text().count("reloaded ") == 2, 5,
                 what="the second reload")
        greets(g.port, "/t?token=j", b"one:").close()
        assert api.connections == 1 and len(api.hits) == 3
    finally:
        api.close()


def test_token_api_lookups_share_a_kept_alive_connection(gateway_factory,
                                                         backends):
    one = backends(greet_echo_handler(b"one:"))
    api = TokenAPI({"text": (200, b"127.0.0.1:%d" % one.port)},
                   keepalive=True)
    try:
        g = gateway_factory(routes=[("/t", {
            "token_api": "http://127.0.0.1:%d/t/%%s" % api.port})],
            gateway={"workers": 1})
        for _ in range(10):
            greets(g.port, "/t?token=text", b"one:").close()
        assert status_of(g.port, "/t?token=nosuch")[0] == 404
        assert len(api.hits) == 11
        assert api.connections == 1
    finally:
        api.close()


def test_token_api_a_closed_kept_alive_connection_is_replaced(
        gateway_factory, backends):
    """The server closes each connection when its second request comes
    (its idle timeout firing as the gateway reuses it): the lookup goes
    again on a new connection, and no handshake sees the failure."""
    one = backends(greet_echo_handler(b"one:"))
    api = TokenAPI({"text": (200, b"127.0.0.1:%d" % one.port)},
                   keepalive=True, once=True)
    plain = TokenAPI({"text": (200, b"127.0.0.1:%d" % one.port)})
    try:
        g = gateway_factory(routes=[
            ("/t", {"token_api": "http://127.0.0.1:%d/t/%%s" % api.port}),
            ("/p", {"token_api": "http://127.0.0.1:%d/t/%%s" % plain.port})],
            gateway={"workers": 1})
        for _ in range(5):
            greets(g.port, "/t?token=text", b"one:").close()
        # Each reuse met a closing server and went again on a new one.
        assert api.connections == 5 and len(api.hits) == 9
        # An HTTP/1.0 API closes after every answer: a new one each time.
        for _ in range(3):
            greets(g.port, "/p?token=text", b"one:").close()
        assert plain.connections == 3
    finally:
        api.close()
        plain.close()


def test_reload_closes_kept_alive_connections_to_a_removed_token_api(
        gateway_factory, backends):
    """Two workers each keep a connection to the token API of /old and
    of /kept. A SIGHUP that drops /old's URL (its route now asks another
    API) closes the connections to it: the old API sees none left open.
    Those to /kept's API, still named, stay and are reused (its URL has
    the token in the host name, the one an origin is matched to by
    pattern). Before, the
    old ones stayed until token_api_timeout (evhttp's idle timeout on
    them; 60 s here, up to 10 min) or the API closed them."""
    import signal
    from gatewaykit import render_config
    one = backends(greet_echo_handler(b"one:"))
    answers = {"text": (200, b"127.0.0.1:%d" % one.port)}
    old = TokenAPI(answers, keepalive=True)
    kept = TokenAPI(answers, keepalive=True)
    new = TokenAPI(answers, keepalive=True)
    try:
        def routes(api):
            return [("/old", {"token_api": "http://127.0.0.1:%d/t/%%s"
                              % api.port, "token_api_timeout": "60s"}),
                    ("/kept", {"token_api": "http://%%s:%d/t/text"
                               % kept.port, "token_api_timeout": "60s"})]
        g = gateway_factory(routes=routes(old), gateway={"workers": 2})
        g.wait_log(r"wsgate \S+ started")    # SIGHUP is caught from here
        # Enough handshakes that both workers looked up (and kept a
        # connection to) each API; SO_REUSEPORT spreads them.
        for _ in range(16):
            greets(g.port, "/old?token=text", b"one:").close()
            greets(g.port, "/kept?token=127.0.0.1", b"one:").close()
        assert old.open == 2 and kept.open == 2, (old.open, kept.open)
        kept_before = kept.connections
        with open(g.config_path, "w") as f:
            f.write(render_config(g.port, routes(new), {"workers": 2}))
        g.send_signal(signal.SIGHUP)
        g.wait_log(r"reloaded ")
        wait_for(lambda: old.open == 0, 10,
                 what="the connections to the removed token API closed")
        greets(g.port, "/old?token=text", b"one:").close()
        assert new.open == 1
        for _ in range(8):
            greets(g.port, "/kept?token=127.0.0.1", b"one:").close()
        assert kept.connections == kept_before, \
            "the kept API's connections were closed by the reload"
        assert kept.open == 2
    finally:
        old.close()
        kept.close()
        new.close()


def test_token_api_unreachable_is_503(gateway_factory):
    from basekit import closed_port
    g = gateway_factory(routes=[("/t", {
        "token_api": "http://127.0.0.1:%d/%%s" % closed_port()})])
    assert status_of(g.port, "/t?token=x") == (503, "1")


def test_session_gone_before_its_answer(gateway_factory, backends):
    """Sessions end (handshake_timeout) while their lookups wait; the late
    answers find no session (no crash, no use after free under ASan) and
    the gateway goes on."""
    one = backends(greet_echo_handler(b"one:"))
    api = TokenAPI({"text": (200, b"127.0.0.1:%d" % one.port)})
    try:
        g = gateway_factory(routes=[("/t", {
            "token_api": "http://127.0.0.1:%d/%%s" % api.port,
            "token_api_timeout": "10s"})],
            gateway={"handshake_timeout": "1s"})
        socks = []
        for _ in range(10):
            head, _ = RawWS.request_head(path="/t?token=hang")
            s = socket.create_connection(("127.0.0.1", g.port))
            s.sendall(head)
            socks.append(s)
        wait_for(lambda: api.hits.count("/hang") == 10, 5,
                 what="10 hang requests")
        wait_for(lambda: g.log_text().count("handshake timeout") >= 10, 5,
                 what="10 handshake timeouts")
        api.release.set()   # the answers come back for sessions now gone
        greets(g.port, "/t?token=text", b"one:").close()
        for s in socks:
            s.close()
    finally:
        api.close()


# ---- token_dir, token_socket_dir ----------------------------------------

def test_token_dir_and_path_escapes(gateway_factory, backends, tmp_path):
    one = backends(greet_echo_handler(b"one:"))
    d = tmp_path / "tokens"
    d.mkdir()
    (d / "vm1").write_text("127.0.0.1:%d\n" % one.port)
    (d / ".hidden").write_text("127.0.0.1:%d\n" % one.port)
    (tmp_path / "outside").write_text("127.0.0.1:%d\n" % one.port)
    (d / "sub").mkdir()
    (d / "sub" / "x").write_text("127.0.0.1:%d\n" % one.port)
    g = gateway_factory(routes=[("/d", {"token_dir": str(d)})])
    greets(g.port, "/d?token=vm1", b"one:").close()
    # Added later: read at each handshake.
    (d / "vm2").write_text(json.dumps({"host": "127.0.0.1:%d" % one.port}))
    greets(g.port, "/d?token=vm2", b"one:").close()
    for tok in ("..%2Foutside", ".hidden", "sub%2Fx", "sub", "..", ".",
                "nosuch", "%2Fetc%2Fpasswd"):
        assert status_of(g.port, "/d?token=" + tok)[0] == 404, tok
    assert one.count == 2


def test_token_socket_dir_and_path_escapes(gateway_factory, backends,
                                           unix_dir):
    sockdir = os.path.join(unix_dir, "vnc")
    os.mkdir(sockdir)
    vm = backends(greet_echo_handler(b"vm1:"),
                  unix=os.path.join(sockdir, "vm1"))
    outside = backends(greet_echo_handler(b"out:"),
                       unix=os.path.join(unix_dir, "out"))
    with open(os.path.join(sockdir, "plainfile"), "w") as f:
        f.write("x")
    g = gateway_factory(routes=[("/s", {"token_socket_dir": sockdir})])
    greets(g.port, "/s?token=vm1", b"vm1:").close()
    for tok in ("..%2Fout", "..", ".", "plainfile", "nosuch", "%2Ftmp",
                ".%2Fvm1"):
        assert status_of(g.port, "/s?token=" + tok)[0] == 404, tok
    assert outside.count == 0 and vm.count == 1


# ---- token_jwt_key_file ---------------------------------------------------

def test_jwt_target_tokens(gateway_factory, backends, tmp_path, unix_dir):
    jwt = pytest.importorskip("jwt")
    one = backends(greet_echo_handler(b"one:"))
    three = backends(greet_echo_handler(b"three:"),
                     unix=os.path.join(unix_dir, "j.sock"))
    secret = b"0123456789abcdef0123456789abcdef-jwt-target"
    kf = tmp_path / "jwt.key"
    kf.write_bytes(secret)
    os.chmod(kf, 0o600)
    priv, pub = make_keypair(tmp_path, "ec", "EC", "ec_paramgen_curve:P-256")
    g = gateway_factory(routes=[
        ("/hs", {"token_jwt_key_file": str(kf)}),
        ("/es", {"token_jwt_key_file": str(pub),
                 "allow_targets": "127.0.0.1:%d" % one.port})])
    now = int(time.time())
    good = jwt.encode({"host": "127.0.0.1", "port": one.port,
                       "exp": now + 60}, secret, algorithm="HS256")
    greets(g.port, "/hs?token=" + good, b"one:").close()
    sock = jwt.encode({"unix_socket": three.unix}, secret, algorithm="HS256")
    greets(g.port, "/hs?token=" + sock, b"three:").close()
    es = jwt.encode({"host": "127.0.0.1", "port": str(one.port)},
                    priv.read_bytes(), algorithm="ES256")
    greets(g.port, "/es?token=" + es, b"one:").close()
    bad = [
        jwt.encode({"host": "127.0.0.1", "port": one.port, "exp": now - 5},
                   secret, algorithm="HS256"),
        jwt.encode({"host": "127.0.0.1", "port": one.port, "nbf": now + 60},
                   secret, algorithm="HS256"),
        jwt.encode({"host": "127.0.0.1", "port": one.port}, b"x" * 40,
                   algorithm="HS256"),
        jwt.encode({"host": "127.0.0.1", "port": one.port}, None,
                   algorithm="none"),
        jwt.encode({"port": one.port}, secret, algorithm="HS256"),
        "not.a.jwt",
    ]
    for tok in bad:
        assert status_of(g.port, "/hs?token=" + tok)[0] == 404, tok
    # HS256 against the ES256 route's public key: refused.
    assert status_of(g.port, "/es?token=" + good)[0] == 404
    # allow_targets: a valid token naming another target gets 403.
    other = jwt.encode({"host": "127.0.0.1", "port": one.port + 1},
                       priv.read_bytes(), algorithm="ES256")
    assert status_of(g.port, "/es?token=" + other)[0] == 403
    assert one.count == 2


def test_jwt_target_claims_with_escapes(gateway_factory, backends, tmp_path):
    """The target claims are read as signed: a JSON escape in the host
    (any encoder may write one) is the character it stands for. Before the
    fix the claims came back decoded in place, "127.0.0.1u0031"."""
    import base64
    import hashlib
    import hmac
    one = backends(greet_echo_handler(b"one:"))
    secret = b"0123456789abcdef0123456789abcdef-jwt-escape"
    kf = tmp_path / "jwt.key"
    kf.write_bytes(secret)
    os.chmod(kf, 0o600)
    g = gateway_factory(routes=[("/hs", {"token_jwt_key_file": str(kf)})])

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")

    claims = ('{"name":"caf\\u00e9","host":"127.0.0.\\u0031",'
              '"port":%d}' % one.port).encode()
    head = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(claims)
    tok = head + b"." + b64(hmac.new(secret, head, hashlib.sha256).digest())
    greets(g.port, "/hs?token=" + tok.decode(), b"one:").close()
    assert one.count == 1


def test_allow_targets_on_token_file_and_host_token(gateway_factory, backends,
                                                    tmp_path):
    one = backends(greet_echo_handler(b"one:"))
    tf = tmp_path / "targets"
    tf.write_text("ok.vnc.example.com: 127.0.0.1:%d\n"
                  "evil.vnc.example.com: 127.0.0.1:22\n"
                  "name.vnc.example.com: localhost:%d\n" % (one.port, one.port))
    g = gateway_factory(routes=[("/f", {
        "token_file": str(tf), "token_from": "host",
        "allow_targets": ["127.0.0.0/8:%d" % one.port]})])
    def host_status(host):
        head, _ = RawWS.request_head(path="/f", host=host)
        r = http_exchange(g.port, head)
        st = r.status
        if st == 101:
            assert r.recv_frame(timeout=5).payload == b"one:"
        r.close()
        return st
    assert host_status("ok.vnc.example.com:8443") == 101
    assert host_status("evil.vnc.example.com") == 403
    # A name is not an address: a network rule does not let it through.
    assert host_status("name.vnc.example.com") == 403
    assert host_status("nosuch.vnc.example.com") == 404
    assert host_status("ok") == 404    # the whole name is the token
    assert one.count == 1
    g.wait_log(r"token target tcp:127\.0\.0\.1:22 not in allow_targets")


def test_reload_that_adds_redis_says_it_takes_a_restart(gateway_factory,
                                                        backends):
    import signal
    from gatewaykit import render_config
    one = backends(greet_echo_handler(b"one:"))
    g = gateway_factory(routes=[("/a", {"backend": one.spec})])
    g.wait_log(r"wsgate \S+ started")     # SIGHUP is caught from here on
    with open(g.config_path, "w") as f:
        f.write(render_config(g.port, [
            ("/a", {"backend": one.spec}),
            ("/t", {"token_redis": "on"})], {"redis": "127.0.0.1:1"}))
    g.send_signal(signal.SIGHUP)
    g.wait_log(r"redis changes take a restart \(still using no redis\)")
    g.wait_log(r"reloaded ")
    # The new route is there; with no connection its lookups get 503.
    assert status_of(g.port, "/t?token=x") == (503, "1")
    greets(g.port, "/a", b"one:").close()
