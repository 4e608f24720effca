"""Client certificates (mTLS): verify_client = require | optional against
client_ca, and per-route allow_client_cn / allow_client_san (403)."""
import asyncio
import ssl

import pytest
import websockets

from backendkit import echo_handler
from basekit import run_async
from tlskit import gateway_from_text, make_ca, make_cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d)
    rogue_dir = tmp_path_factory.mktemp("rogue")
    rogue_ca = make_ca(rogue_dir)
    return {
        "ca": ca,
        "server": make_cert(d, "server", ca, "localhost",
                            san="DNS:localhost", server=True),
        "alice": make_cert(d, "alice", ca, "alice"),
        "bob": make_cert(d, "bob", ca, "bob", san="DNS:bob.example"),
        "mallory": make_cert(rogue_dir, "mallory", rogue_ca, "alice"),
        "rogue": rogue_ca,
    }


def config(pki, echo, verify):
    return ("[gateway]\nlisten = 127.0.0.1:{port} tls\n"
            "handshake_timeout = 2s\ndrain_timeout = 2s\n"
            "[tls]\ncertificate = %s\nprivate_key = %s\nclient_ca = %s\n"
            "verify_client = %s\n"
            "[route /alice]\nbackend = %s\nallow_client_cn = alice\n"
            "[route /san]\nbackend = %s\nallow_client_san = bob.example\n"
            "[route /any]\nbackend = %s\n"
            % (pki["server"][0], pki["server"][1], pki["ca"][0], verify,
               echo.spec, echo.spec, echo.spec))


def connect(g, pki, path, who):
    ctx = ssl.create_default_context(cafile=str(pki["ca"][0]))
    if who is not None:
        ctx.load_cert_chain(str(pki[who][0]), str(pki[who][1]))

    async def go():
        async with websockets.connect("wss://localhost:%d%s" % (g.port, path),
                                      ssl=ctx, open_timeout=5) as ws:
            await ws.send(b"hi")
            return await asyncio.wait_for(ws.recv(), 5)
    try:
        return run_async(go())
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    except (ssl.SSLError, ConnectionError, OSError,
            websockets.exceptions.ConnectionClosed,
            websockets.exceptions.InvalidMessage) as e:
        return "tls-refused"


def test_require_mode_and_route_allow_lists(tmp_path, pki, backends):
    echo = backends(echo_handler)
    g = gateway_from_text(tmp_path, config(pki, echo, "require")).start()
    try:
        assert connect(g, pki, "/alice", "alice") == b"hi"
        assert connect(g, pki, "/alice", "bob") == 403
        assert connect(g, pki, "/san", "bob") == b"hi"
        assert connect(g, pki, "/san", "alice") == 403
        assert connect(g, pki, "/any", "bob") == b"hi"
        # No certificate, or one from another CA: no TLS session at all.
        assert connect(g, pki, "/any", None) == "tls-refused"
        assert connect(g, pki, "/alice", "mallory") == "tls-refused"
    finally:
        assert g.stop() == 0


def test_optional_mode_lets_anonymous_clients_reach_open_routes(
        tmp_path, pki, backends):
    echo = backends(echo_handler)
    g = gateway_from_text(tmp_path, config(pki, echo, "optional")).start()
    try:
        assert connect(g, pki, "/any", None) == b"hi"
        assert connect(g, pki, "/alice", None) == 403
        assert connect(g, pki, "/alice", "alice") == b"hi"
    finally:
        assert g.stop() == 0


def test_client_ca_system_shares_the_generation_store(gateway_factory, pki,
                                                      tmp_path):
    """client_ca = system checks client certificates against the one read
    of the system store that the generation's other checks share (here a
    tls: backend verified without backend_ca): SSL_CERT_FILE is a FIFO
    written once per read we allow, at start, for wsgate -t, and at a
    reload, which reads the bundle anew: after it, a client certificate
    of a CA the new bundle lacks is refused. Before, the server context
    read the store on its own: a second read, which blocked the start."""
    from test_backend_tls import StoreFIFO, TLSEcho
    backend = TLSEcho(make_cert(tmp_path, "backend", pki["ca"], "backend",
                                san="IP:127.0.0.1", server=True))
    store = StoreFIFO(tmp_path / "store.fifo")
    env = {"SSL_CERT_FILE": store.path,
           "SSL_CERT_DIR": str(tmp_path / "absent")}
    text = ("[gateway]\nlisten = 127.0.0.1:{port} tls\n"
            "handshake_timeout = 2s\ndrain_timeout = 2s\n"
            "[tls]\ncertificate = %s\nprivate_key = %s\nclient_ca = system\n"
            "verify_client = require\n"
            "[route /any]\nbackend = tls:127.0.0.1:%d\n"
            % (pki["server"][0], pki["server"][1], backend.port))
    try:
        fed = store.feed(pki["ca"][0])
        g = gateway_factory(config_text=text, env=env)  # blocks on a 2nd read
        store.read_once(fed)
        assert connect(g, pki, "/any", "alice") == b"hi"
        assert connect(g, pki, "/any", None) == "tls-refused"
        assert connect(g, pki, "/any", "mallory") == "tls-refused"

        store.check_reads_once(g, env, pki["ca"][0])
        store.reload_reads_once(g, pki["rogue"][0])  # ca-certificates changed
        assert connect(g, pki, "/any", "alice") == "tls-refused"
    finally:
        backend.close()
