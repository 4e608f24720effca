"""The operator's session API on admin_listen (GET/DELETE /sessions), its
access rule (admin_token_file, loopback), and rolling restarts
(drain_delay: /readyz 503 at once, 1001 later)."""
import calendar
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from backendkit import echo_handler
from basekit import free_port, wait_for
from gatewaykit import WSGATE_BIN
from wskit import OP_BINARY, RawWS


def call(port, path, method="GET", bearer=None):
    """(status, parsed JSON body or None) of one admin request."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    if bearer is not None:
        req.add_header("Authorization", "Bearer " + bearer)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body, code = r.read(), r.status
    except urllib.error.HTTPError as e:
        body, code = e.read(), e.code
    try:
        return code, json.loads(body)
    except ValueError:
        return code, None


def echo_round(ws, data):
    ws.send_frame(OP_BINARY, data)
    f = ws.recv_frame(timeout=5)
    assert f.payload == data


@pytest.fixture
def targets(backends, tmp_path):
    echo = backends(echo_handler)
    host, port = echo.spec[4:].rsplit(":", 1)
    tf = tmp_path / "targets"
    tf.write_text("alpha: %s:%s\nbeta: %s:%s\n" % (host, port, host, port))
    return echo, tf


def sessions_gw(gateway_factory, targets, workers=1, **gw):
    echo, tf = targets
    opts = {"admin_listen": "127.0.0.1:{admin_port}", "workers": workers}
    opts.update(gw)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec}),
                                ("/t", {"token_file": str(tf)})],
                        gateway=opts)
    return g


def test_get_sessions_lists_live_sessions_with_hashed_tokens(
        gateway_factory, targets):
    g = sessions_gw(gateway_factory, targets)
    plain = RawWS.open(g.port, path="/echo")
    tok = RawWS.open(g.port, path="/t?token=alpha")
    echo_round(plain, b"x" * 1000)
    echo_round(tok, b"y" * 10)
    code, body = call(g.admin_port, "/sessions")
    assert code == 200
    assert body["count"] == 2 and len(body["sessions"]) == 2
    by_route = {s["route"]: s for s in body["sessions"]}
    p, t = by_route["/echo"], by_route["/t"]
    assert p["bytes_up"] == 1000 and p["bytes_down"] == 1000
    assert t["bytes_up"] == 10 and t["bytes_down"] == 10
    assert p["token_id"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", t["token_id"])
    assert "alpha" not in json.dumps(body)
    assert p["client"].startswith("127.0.0.1:")
    assert p["backend"] == targets[0].spec
    assert p["state"] == "open" and p["instance"] == body["instance"]
    started = calendar.timegm(time.strptime(p["started"][:19],
                                            "%Y-%m-%dT%H:%M:%S"))
    assert abs(started - time.time()) < 60
    plain.close()
    tok.close()
    wait_for(lambda: call(g.admin_port, "/sessions")[1]["count"] == 0, 5,
             what="closed sessions leave the list")


def test_delete_by_id_sends_1008_to_that_client_only(gateway_factory,
                                                     targets):
    g = sessions_gw(gateway_factory, targets, workers=2)
    # Enough clients that SO_REUSEPORT puts some on each worker.
    clients = [RawWS.open(g.port, path="/echo") for _ in range(8)]
    for c in clients:
        echo_round(c, b"hi")
    code, body = call(g.admin_port, "/sessions")
    assert code == 200 and body["count"] == 8
    inst = body["instance"]
    ports = {int(s["client"].rsplit(":", 1)[1]): s["id"]
             for s in body["sessions"]}
    for victim in (clients[0], clients[5]):
        sid = ports[victim.sock.getsockname()[1]]
        code, res = call(g.admin_port, "/sessions/%s/%d" % (inst, sid),
                         method="DELETE")
        assert (code, res) == (200, {"ended": 1})
        f = victim.expect_close(1008, timeout=5)
        assert f.close_reason == "closed by operator"
        victim.send_close(1008)     # as a browser answers a close
        victim.close()
        assert call(g.admin_port, "/sessions/%s/%d" % (inst, sid),
                    method="DELETE")[0] in (200, 404)
    for c in clients[1:5] + clients[6:]:
        echo_round(c, b"still here")
    wait_for(lambda: call(g.admin_port, "/sessions")[1]["count"] == 6, 5,
             what="6 sessions left")
    assert call(g.admin_port, "/sessions/%s/999999" % inst,
                method="DELETE")[0] == 404
    assert call(g.admin_port, "/sessions/nosuchgw/1", method="DELETE")[0] \
        == 404
    assert call(g.admin_port, "/sessions/%s/abc" % inst,
                method="DELETE")[0] == 400
    assert call(g.admin_port, "/sessions/%s/1" % inst)[0] == 405
    g.wait_log(r"closed by operator")


def test_delete_by_token_ends_every_session_of_that_token(gateway_factory,
                                                         targets):
    g = sessions_gw(gateway_factory, targets, workers=2)
    alphas = [RawWS.open(g.port, path="/t?token=alpha") for _ in range(4)]
    beta = RawWS.open(g.port, path="/t?token=beta")
    plain = RawWS.open(g.port, path="/echo")
    for c in alphas + [beta, plain]:
        echo_round(c, b"z")
    code, res = call(g.admin_port, "/sessions?token=alpha", method="DELETE")
    assert (code, res) == (200, {"ended": 4})
    for c in alphas:
        assert c.expect_close(1008, timeout=5).close_reason == \
            "closed by operator"
    echo_round(beta, b"beta lives")
    echo_round(plain, b"plain lives")
    assert call(g.admin_port, "/sessions?token=alpha",
                method="DELETE") == (200, {"ended": 0})
    assert call(g.admin_port, "/sessions", method="DELETE")[0] == 400


def test_admin_token_file_guards_reads_and_writes(gateway_factory, targets,
                                                  tmp_path):
    secret = tmp_path / "admin.secret"
    secret.write_text("s3cr3t-for-the-operator\n")
    os.chmod(secret, 0o600)
    g = sessions_gw(gateway_factory, targets,
                    admin_token_file=str(secret))
    ws = RawWS.open(g.port, path="/echo")
    echo_round(ws, b"a")
    assert call(g.admin_port, "/sessions")[0] == 401
    assert call(g.admin_port, "/sessions", bearer="wrong")[0] == 401
    code, body = call(g.admin_port, "/sessions",
                      bearer="s3cr3t-for-the-operator")
    assert code == 200 and body["count"] == 1
    sid = body["sessions"][0]["id"]
    path = "/sessions/%s/%d" % (body["instance"], sid)
    assert call(g.admin_port, path, method="DELETE")[0] == 401
    echo_round(ws, b"b")        # a refused order ended nothing
    assert call(g.admin_port, path, method="DELETE",
                bearer="s3cr3t-for-the-operator") == (200, {"ended": 1})
    ws.expect_close(1008, timeout=5)
    # /metrics stays open as before
    assert urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                  % g.admin_port, timeout=5).status == 200


def test_admin_token_file_readable_by_others_is_refused(tmp_path):
    secret = tmp_path / "admin.secret"
    secret.write_text("s3cr3t\n")
    os.chmod(secret, 0o644)
    conf = tmp_path / "g.conf"
    conf.write_text("[gateway]\nlisten = 127.0.0.1:%d\nadmin_listen = "
                    "127.0.0.1:%d\nadmin_token_file = %s\n[route /a]\n"
                    "backend = tcp:127.0.0.1:1\n"
                    % (free_port(), free_port(), secret))
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "admin_token_file" in r.stderr and "chmod 600" in r.stderr


def test_public_admin_listen_without_secret_answers_403(gateway_factory,
                                                       targets, tmp_path):
    echo, tf = targets
    aport = free_port()
    text = ("[gateway]\nlisten = 127.0.0.1:{port}\nadmin_listen = "
            "0.0.0.0:%d\nhandshake_timeout = 2s\ndrain_timeout = 2s\n"
            "[route /echo]\nbackend = %s\n" % (aport, echo.spec))
    conf = tmp_path / "public.conf"
    conf.write_text(text.replace("{port}", str(free_port())))
    r = subprocess.run([WSGATE_BIN, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "admin_token_file" in r.stderr
    g = gateway_factory(config_text=text)
    ws = RawWS.open(g.port, path="/echo")
    echo_round(ws, b"q")
    wait_for(lambda: call(aport, "/healthz")[0] == 200, 5, what="admin up")
    assert call(aport, "/sessions")[0] == 403
    assert call(aport, "/sessions/x/1", method="DELETE")[0] == 403
    assert call(aport, "/sessions?token=alpha", method="DELETE")[0] == 403
    echo_round(ws, b"still open")
    g.wait_log(r"not a loopback address")


def test_sigterm_turns_readyz_503_before_the_drain_starts(gateway_factory,
                                                         targets):
    g = sessions_gw(gateway_factory, targets, drain_delay="3s",
                    drain_timeout="4s")
    ws = RawWS.open(g.port, path="/echo")
    echo_round(ws, b"before")
    assert call(g.admin_port, "/readyz")[0] == 200
    t0 = time.monotonic()
    g.send_signal(signal.SIGTERM)
    wait_for(lambda: call(g.admin_port, "/readyz")[0] == 503, 1.0,
             what="/readyz 503 at once")
    # Within the delay nobody is closed and new clients still get in.
    echo_round(ws, b"during the delay")
    late = RawWS.open(g.port, path="/echo")
    echo_round(late, b"late")
    assert time.monotonic() - t0 < 3.0, "machine too slow to tell"
    ws.expect_close(1001, timeout=10)
    late.expect_close(1001, timeout=10)
    assert time.monotonic() - t0 >= 2.9
    g.proc.wait(10)
    assert g.proc.returncode == 0
    g.stopped = True


def test_jwt_sessions_carry_a_token_id_and_revoke_by_that_jwt(
        gateway_factory, backends, tmp_path):
    jwt = pytest.importorskip("jwt")
    secret = b"0123456789abcdef0123456789abcdef-fleet-test"
    key = tmp_path / "hs256.key"
    key.write_bytes(secret)
    os.chmod(key, 0o600)
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {
        "backend": echo.spec, "auth": "token",
        "token_secret_file": str(key)})],
        gateway={"admin_listen": "127.0.0.1:{admin_port}"})
    aport = g.admin_port
    mine = jwt.encode({"exp": int(time.time()) + 60, "sub": "a"}, secret,
                      algorithm="HS256")
    other = jwt.encode({"exp": int(time.time()) + 60, "sub": "b"}, secret,
                       algorithm="HS256")
    a1 = RawWS.open(g.port, path="/echo?access_token=" + mine)
    a2 = RawWS.open(g.port, path="/echo",
                    extra=["Authorization: Bearer " + mine])
    b = RawWS.open(g.port, path="/echo?access_token=" + other)
    for c in (a1, a2, b):
        echo_round(c, b"j")
    code, body = call(aport, "/sessions")
    ids = {s["token_id"] for s in body["sessions"]}
    assert len(ids) == 2 and None not in ids     # same JWT, same id
    assert mine not in json.dumps(body)
    code, res = call(aport, "/sessions?token=" + mine, method="DELETE")
    assert (code, res) == (200, {"ended": 2})
    for c in (a1, a2):
        c.expect_close(1008, timeout=5)
    echo_round(b, b"still")


def test_longest_route_path_is_shown_whole(gateway_factory, backends):
    """A route path as long as a config line allows (199 bytes, so 191 for
    the path in "[route PATH]") is neither cut in the session summary log
    line nor in GET /sessions: both used to keep only 159 bytes."""
    echo = backends(echo_handler)
    path = "/" + "p" * 186 + "/end"
    assert len("[route %s]" % path) == 199
    g = gateway_factory(routes=[(path, {"backend": echo.spec})],
                        gateway={"admin_listen": "127.0.0.1:{admin_port}"})
    aport = g.admin_port
    ws = RawWS.open(g.port, path=path)
    echo_round(ws, b"z" * 7)
    code, body = call(aport, "/sessions")
    assert code == 200 and body["count"] == 1
    assert body["sessions"][0]["route"] == path
    ws.send_close(1000, b"")
    ws.expect_close(1000, timeout=5)
    ws.close()
    lines = g.wait_session_lines(1)
    assert lines[0]["route"] == path, lines[0]["_line"]
