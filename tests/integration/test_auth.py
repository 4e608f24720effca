"""auth = token (JWT) and token_file routes, with real tokens made by
PyJWT (Debian python3-jwt) and keys made by the openssl command."""
import os
import subprocess
import time

import pytest

from backendkit import echo_handler, greet_echo_handler
from tlskit import make_keypair
from wskit import RawWS, http_exchange

jwt = pytest.importorskip("jwt")

SECRET = b"0123456789abcdef0123456789abcdef-wsgate-test"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    secret = d / "hs256.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    priv, pub = make_keypair(d, "rsa", "RSA", "rsa_keygen_bits:2048")
    return {"secret": str(secret), "priv": priv.read_bytes(),
            "pub": str(pub), "pub_pem": pub.read_bytes()}


def claims(**kw):
    c = {"exp": int(time.time()) + 60, "aud": "wsgate"}
    c.update(kw)
    return c


def attempt(port, path, headers=(), protocols=None):
    head, _ = RawWS.request_head(path=path, extra=list(headers),
                                 protocols=protocols)
    r = http_exchange(port, head)
    return r


@pytest.fixture
def hs_gw(gateway_factory, backends, keys):
    echo = backends(echo_handler)
    return gateway_factory(routes=[("/a", {
        "backend": echo.spec, "auth": "token",
        "token_secret_file": keys["secret"], "token_audience": "wsgate"})])


def test_valid_hs256_token_by_header_query_and_subprotocol(hs_gw):
    g = hs_gw
    tok = jwt.encode(claims(), SECRET, algorithm="HS256")
    r = attempt(g.port, "/a", headers=["Authorization: Bearer " + tok])
    assert r.status == 101
    r.close()
    r = attempt(g.port, "/a?token=" + tok)
    assert r.status == 101
    r.close()
    # Browsers: the token as a subprotocol entry, echoed when alone.
    r = attempt(g.port, "/a", protocols=["bearer." + tok])
    assert r.status == 101
    assert r.headers["sec-websocket-protocol"] == "bearer." + tok
    r.close()
    g.wait_session_lines(3)
    assert tok not in g.log_text()


@pytest.mark.parametrize("case", ["expired", "not_yet", "audience", "tampered",
                                  "none", "missing", "confusion"])
def test_bad_tokens_get_401(hs_gw, keys, case):
    g = hs_gw
    if case == "expired":
        tok = jwt.encode(claims(exp=int(time.time()) - 5), SECRET, "HS256")
    elif case == "not_yet":
        tok = jwt.encode(claims(nbf=int(time.time()) + 60), SECRET, "HS256")
    elif case == "audience":
        tok = jwt.encode(claims(aud="someone-else"), SECRET, "HS256")
    elif case == "tampered":
        tok = jwt.encode(claims(), SECRET, "HS256")
        h, p, sig = tok.split(".")
        tok = ".".join([h, jwt.utils.base64url_encode(
            b'{"exp":9999999999,"aud":"wsgate","admin":true}').decode(), sig])
    elif case == "none":
        tok = jwt.encode(claims(), None, algorithm="none")
    elif case == "confusion":
        # HS256 signed with the RSA public key's PEM as the secret
        import hmac, hashlib, json
        h = jwt.utils.base64url_encode(json.dumps(
            {"alg": "HS256", "typ": "JWT"}).encode()).decode()
        p = jwt.utils.base64url_encode(json.dumps(claims()).encode()).decode()
        sig = hmac.new(keys["pub_pem"], (h + "." + p).encode(),
                       hashlib.sha256).digest()
        tok = h + "." + p + "." + jwt.utils.base64url_encode(sig).decode()
    else:
        tok = None
    headers = ["Authorization: Bearer " + tok] if tok else []
    r = attempt(g.port, "/a", headers=headers)
    assert r.status == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r.close()
    g.wait_log(r"handshake_refused .*status=401")
    if tok:
        assert tok not in g.log_text()


def test_rs256_public_key_route_refuses_hs256_confusion(gateway_factory,
                                                        backends, keys):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/r", {
        "backend": echo.spec, "auth": "token",
        "token_public_key_file": keys["pub"], "token_audience": "wsgate"})])
    good = jwt.encode(claims(), keys["priv"], algorithm="RS256")
    r = attempt(g.port, "/r", headers=["Authorization: Bearer " + good])
    assert r.status == 101
    r.close()
    forged = jwt.encode(claims(), SECRET, algorithm="HS256")
    r = attempt(g.port, "/r", headers=["Authorization: Bearer " + forged])
    assert r.status == 401
    r.close()


def test_key_file_readable_by_others_is_refused(tmp_path, backends, keys):
    from gatewaykit import WSGATE_BIN
    loose = tmp_path / "loose.key"
    loose.write_bytes(SECRET)
    os.chmod(loose, 0o644)
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nlisten = 127.0.0.1:1\n[route /a]\n"
                    "backend = tcp:127.0.0.1:9\nauth = token\n"
                    "token_secret_file = %s\n" % loose)
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "%s:3: [route /a]" % conf in r.stderr


def test_token_file_routes_like_websockify(gateway_factory, backends,
                                           tmp_path):
    one = backends(greet_echo_handler(b"one:"))
    two = backends(greet_echo_handler(b"two:"))
    tf = tmp_path / "targets"
    host1, port1 = one.spec[4:].rsplit(":", 1)
    host2, port2 = two.spec[4:].rsplit(":", 1)
    tf.write_text("# websockify token file\nalpha: %s:%s\nbeta: %s:%s\n"
                  % (host1, port1, host2, port2))
    g = gateway_factory(routes=[("/websockify", {"token_file": str(tf)})])
    for tok, want in (("alpha", b"one:"), ("beta", b"two:")):
        ws = RawWS.open(g.port, path="/websockify?token=" + tok)
        assert ws.recv_frame(timeout=5).payload == want
        ws.close()
    for path in ("/websockify?token=gamma", "/websockify"):
        r = attempt(g.port, path)
        assert r.status == 404
        r.close()
    assert one.count == 1 and two.count == 1


def test_token_file_edits_take_effect_without_a_signal(gateway_factory,
                                                       backends, tmp_path):
    one = backends(greet_echo_handler(b"one:"))
    tf = tmp_path / "targets"
    tf.write_text("alpha: %s\n" % one.spec[4:])
    g = gateway_factory(routes=[("/websockify", {"token_file": str(tf)})])
    r = attempt(g.port, "/websockify?token=delta")
    assert r.status == 404
    r.close()
    tf.write_text("alpha: %s\ndelta: %s\n" % (one.spec[4:], one.spec[4:]))
    g.wait_log(r"token_file .* changed: reloading", timeout=6)
    g.wait_log(r"reloaded ")
    ws = RawWS.open(g.port, path="/websockify?token=delta")
    assert ws.recv_frame(timeout=5).payload == b"one:"
    ws.close()


def test_token_file_route_with_auth_asks_for_credentials_first(
        gateway_factory, backends, tmp_path, keys):
    """With auth = token, a client without a valid JWT learns nothing about
    which token_file tokens exist: 401 either way, never 404."""
    one = backends(greet_echo_handler(b"one:"))
    tf = tmp_path / "targets"
    tf.write_text("alpha: %s\n" % one.spec[4:])
    g = gateway_factory(routes=[("/w", {
        "token_file": str(tf), "auth": "token",
        "token_secret_file": keys["secret"], "token_audience": "wsgate"})])
    for path in ("/w?token=alpha", "/w?token=nope"):
        r = attempt(g.port, path)
        assert r.status == 401
        r.close()
    tok = jwt.encode(claims(), SECRET, algorithm="HS256")
    r = attempt(g.port, "/w?token=nope", headers=["Authorization: Bearer " + tok])
    assert r.status == 404
    r.close()
    ws = RawWS.open(g.port, path="/w?token=alpha",
                    extra=["Authorization: Bearer " + tok])
    assert ws.recv_frame(timeout=5).payload == b"one:"
    ws.close()


def sized_token(n):
    """An HS256 JWT of exactly n characters (a padding claim grows it)."""
    pad = max(0, n - 200)
    while True:
        tok = jwt.encode(claims(pad="p" * pad), SECRET, algorithm="HS256")
        if len(tok) == n:
            return tok
        pad += n - len(tok) if len(tok) < n else -1
        assert pad >= 0


@pytest.mark.parametrize("size", [900, 2500, 8192])
def test_long_tokens_up_to_the_documented_limit(hs_gw, size):
    """Issue 11 item 6: identity providers' tokens are 1-2 KB, and the
    documented limit is 8192 bytes, by subprotocol (echoed in the 101) as
    by Authorization, with the default max_header_size."""
    import websocket  # websocket-client
    g = hs_gw
    tok = sized_token(size)
    r = attempt(g.port, "/a", headers=["Authorization: Bearer " + tok])
    assert r.status == 101
    r.close()
    r = attempt(g.port, "/a?access_token=" + tok)
    assert r.status == 101
    r.close()
    r = attempt(g.port, "/a", protocols=["bearer." + tok])
    assert r.status == 101, r.head_raw[:200]
    assert r.headers["sec-websocket-protocol"] == "bearer." + tok
    r.close()
    # A real client checks the echoed subprotocol and relays through it.
    ws = websocket.create_connection("ws://127.0.0.1:%d/a" % g.port,
                                     subprotocols=["bearer." + tok],
                                     timeout=10)
    ws.send_binary(b"long token")
    assert ws.recv() == b"long token"
    ws.close()
    g.wait_session_lines(4)
    assert tok not in g.log_text()


def test_token_over_the_limit_is_401_not_500(hs_gw):
    g = hs_gw
    tok = sized_token(8193)
    for kw in ({"headers": ["Authorization: Bearer " + tok]},
               {"protocols": ["bearer." + tok]}):
        r = attempt(g.port, "/a", **kw)
        assert r.status == 401
        assert b"too long" in r.read_body()
        r.close()
