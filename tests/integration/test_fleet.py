"""A fleet: three gateways on one real redis-server, behind a real HAProxy
(the packaged config): the session registry in Redis, operator orders
through pub/sub, leases, and Redis failing under live sessions."""
import os
import signal
import time
import urllib.request

import pytest

from backendkit import greet_echo_handler
from basekit import wait_for
from wskit import OP_BINARY, RawWS
from fleetkit import HAProxy, Redis, admin_call, start_fleet

TAGS = [b"gw1:", b"gw2:", b"gw3:"]


@pytest.fixture
def redis(tmp_path):
    r = Redis(tmp_path).start()
    yield r
    r.stop()


class Fleet:
    def __init__(self, gws, hap, redis):
        self.gws, self.hap, self.redis = gws, hap, redis

    def open(self, path="/echo"):
        """A client through HAProxy: (RawWS, index of its gateway)."""
        ws = RawWS.open(self.hap.port, path=path)
        tag = ws.recv_frame(timeout=5).payload
        return ws, TAGS.index(tag)

    def open_on_each(self, per_gateway, path="/echo"):
        """Open through HAProxy until every gateway holds per_gateway
        clients; returns [[RawWS...] per gateway]."""
        held = [[] for _ in self.gws]
        extra = []
        deadline = time.monotonic() + 30
        while any(len(h) < per_gateway for h in held):
            assert time.monotonic() < deadline, "leastconn never balanced"
            ws, i = self.open(path)
            (held[i] if len(held[i]) < per_gateway else extra).append(ws)
        for ws in extra:
            ws.close()
        return held

    def fleet_list(self, i):
        code, body = admin_call(self.gws[i].admin_port,
                                "/sessions?scope=fleet")
        assert code == 200, body
        return body


def build_fleet(gateway_factory, backends, redis, tmp_path, extra=None):
    bes = [backends(greet_echo_handler(t)) for t in TAGS]
    routes = []
    for i, be in enumerate(bes):
        host, port = be.spec[4:].rsplit(":", 1)
        tf = tmp_path / ("targets%d" % i)
        tf.write_text("alpha: %s:%s\nbeta: %s:%s\n" % (host, port, host,
                                                        port))
        routes.append([("/echo", {"backend": be.spec}),
                       ("/t", {"token_file": str(tf)}),
                       ("/r", {"token_redis": "on"})])

    def opts(i):
        o = {"redis": "127.0.0.1:%d" % redis.port,
             "instance": "gw%d" % (i + 1), "drain_timeout": "2s",
             "workers": 2}
        o.update(extra or {})
        return o
    gws = start_fleet(gateway_factory, 3, lambda i: routes[i], gateway=opts)
    hap = HAProxy(tmp_path, gws).start()
    hap.wait_states({"gw1": "UP", "gw2": "UP", "gw3": "UP"})
    # Every gateway holds its lease.
    wait_for(lambda: len(redis.command("ZRANGE", "wsgate:fleet:instances",
                                       0, -1)) == 3, 10, what="3 leases")
    return Fleet(gws, hap, redis)


@pytest.fixture
def fleet(gateway_factory, backends, redis, tmp_path):
    f = build_fleet(gateway_factory, backends, redis, tmp_path)
    yield f
    f.hap.stop()


@pytest.fixture
def limited_fleet(gateway_factory, backends, redis, tmp_path):
    f = build_fleet(gateway_factory, backends, redis, tmp_path,
                    {"limits_scope": "fleet", "max_connections_per_ip": 4})
    wait_for(lambda: len(redis.command("ZRANGE", "wsgate:fleet:live",
                                       0, -1)) == 3, 10,
             what="3 incarnations live")
    yield f
    f.hap.stop()


def echo(ws, data=b"ping"):
    ws.send_frame(OP_BINARY, data)
    assert ws.recv_frame(timeout=5).payload == data


def test_scope_fleet_lists_the_sessions_of_the_other_gateways(fleet):
    held = fleet.open_on_each(2)
    for i in range(3):
        for ws in held[i]:
            echo(ws)

    def listed():
        body = fleet.fleet_list(0)
        return body["count"] == 6 and body
    body = wait_for(listed, 10, what="6 sessions fleet-wide")
    assert sorted(body["instances"]) == ["gw1", "gw2", "gw3"]
    per = {}
    for s in body["sessions"]:
        per.setdefault(s["instance"], []).append(s)
        assert s["route"] == "/echo" and s["client"].startswith("127.0.0.1")
    assert sorted(per) == ["gw1", "gw2", "gw3"]
    assert all(len(v) == 2 for v in per.values())
    # The local view stays this gateway's own.
    code, local = admin_call(fleet.gws[1].admin_port, "/sessions")
    assert code == 200 and local["count"] == 2
    assert {s["instance"] for s in local["sessions"]} == {"gw2"}
    for h in held:
        for ws in h:
            ws.close()
    wait_for(lambda: fleet.fleet_list(2)["count"] == 0, 10,
             what="ended sessions leave Redis")


def test_delete_on_one_gateway_ends_a_session_on_another(fleet):
    held = fleet.open_on_each(1)
    victim, bystander = held[1][0], held[2][0]
    body = wait_for(lambda: (lambda b: b["count"] == 3 and b)(
        fleet.fleet_list(0)), 10, what="3 sessions listed")
    port = victim.sock.getsockname()[1]
    entry = [s for s in body["sessions"] if s["instance"] == "gw2"][0]
    assert entry["client"].endswith(":%d" % port)
    code, res = admin_call(fleet.gws[0].admin_port, "/sessions/gw2/%d"
                           % entry["id"], method="DELETE")
    assert (code, res) == (200, {"ended": 1})
    f = victim.expect_close(1008, timeout=5)
    assert f.close_reason == "closed by operator"
    echo(bystander, b"untouched")
    echo(held[0][0], b"untouched too")
    assert admin_call(fleet.gws[0].admin_port, "/sessions/gw2/%d"
                      % entry["id"], method="DELETE")[0] in (404, 200)
    assert admin_call(fleet.gws[0].admin_port, "/sessions/gw3/99999",
                      method="DELETE")[0] == 404
    assert admin_call(fleet.gws[0].admin_port, "/sessions/nosuch/1",
                      method="DELETE")[0] == 404
    fleet.gws[1].wait_log(r"fleet: gw1 orders session \d+ closed")


def test_revoking_a_token_ends_its_sessions_on_all_three(fleet):
    alphas = fleet.open_on_each(2, path="/t?token=alpha")
    betas = fleet.open_on_each(1, path="/t?token=beta")
    plain = fleet.open_on_each(1)
    code, res = admin_call(fleet.gws[1].admin_port, "/sessions?token=alpha",
                           method="DELETE")
    assert (code, res) == (200, {"ended": 6})
    for h in alphas:
        for ws in h:
            assert ws.expect_close(1008, timeout=5).close_reason == \
                "closed by operator"
    for h in betas + plain:
        echo(h[0], b"not revoked")
    assert admin_call(fleet.gws[2].admin_port, "/sessions?token=alpha",
                      method="DELETE") == (200, {"ended": 0})
    # The token never reaches Redis's registry, only its keyed hash.
    for i in range(3):
        for v in fleet.redis.command("HVALS", "wsgate:fleet:sessions:gw%d"
                                     % (i + 1)):
            assert "alpha" not in v and "beta" not in v


def test_a_dead_gateway_drops_out_of_the_fleet_within_15s(fleet):
    held = fleet.open_on_each(1)
    wait_for(lambda: fleet.fleet_list(0)["count"] == 3, 10,
             what="3 sessions listed")
    t0 = time.monotonic()
    fleet.gws[2].proc.send_signal(signal.SIGKILL)
    fleet.gws[2].proc.wait(5)
    fleet.gws[2].stopped = True
    wait_for(lambda: "gw3" not in fleet.fleet_list(0)["instances"], 15,
             what="gw3 out of the fleet")
    assert time.monotonic() - t0 < 15
    body = fleet.fleet_list(0)
    assert {s["instance"] for s in body["sessions"]} == {"gw1", "gw2"}
    for ws in held[0] + held[1]:
        echo(ws)


def test_redis_down_live_sessions_relay_and_all_is_back_within_5s(fleet):
    held = fleet.open_on_each(1)
    wait_for(lambda: fleet.fleet_list(0)["count"] == 3, 10,
             what="3 sessions listed")
    fleet.redis.kill()
    # Live sessions do not notice.
    for _ in range(5):
        for h in held:
            echo(h[0], os.urandom(4096))
    code, _ = admin_call(fleet.gws[0].admin_port, "/sessions?scope=fleet")
    assert code == 503
    assert admin_call(fleet.gws[0].admin_port, "/sessions")[0] == 200
    code, res = admin_call(fleet.gws[0].admin_port, "/sessions?token=zz",
                           method="DELETE")
    assert code == 503 and res["ended"] == 0
    assert admin_call(fleet.gws[0].admin_port, "/sessions/gw2/1",
                      method="DELETE")[0] == 503
    # New sessions still open (a token_file route needs no Redis).
    late = [fleet.open()[0] for _ in range(3)]
    fleet.redis.start()
    t0 = time.monotonic()

    def back():
        code, body = admin_call(fleet.gws[0].admin_port,
                                "/sessions?scope=fleet")
        return code == 200 and body["count"] == 6 and \
            sorted(body["instances"]) == ["gw1", "gw2", "gw3"]
    wait_for(back, 5, what="the fleet view complete again")
    assert time.monotonic() - t0 < 5
    # Orders go through again.
    code, res = admin_call(fleet.gws[0].admin_port, "/sessions?token=alpha",
                           method="DELETE")
    assert (code, res) == (200, {"ended": 0})
    for h in held:
        echo(h[0], b"after")
    for ws in late:
        echo(ws, b"late")


def attempt(port, path="/echo"):
    """One upgrade attempt; the status line's code (101 or an error)."""
    return RawWS.open(port, path=path, expect=None)


def test_a_fleet_limit_of_4_per_address_holds_across_three_gateways(
        limited_fleet):
    f = limited_fleet
    held = []
    gateways = set()
    for _ in range(4):
        ws, i = f.open()
        held.append(ws)
        gateways.add(i)
    assert len(gateways) >= 2, "leastconn should spread 4 clients"
    # Whichever gateway HAProxy picks, the fifth is over the fleet's 4.
    for _ in range(3):
        ws = attempt(f.hap.port)
        assert ws.status == 503, ws.status
        ws.close()
    for ws in held:
        echo(ws)
    # One leaves: one more may come, and no more than that.
    held.pop(0).close()

    def one_more():
        ws = attempt(f.hap.port)
        if ws.status == 101:
            held.append(ws)
            return True
        ws.close()
        return False
    wait_for(one_more, 10, interval=0.2, what="a slot after one left")
    ws = attempt(f.hap.port)
    assert ws.status == 503
    ws.close()
    assert any("in the fleet" in g.log_text() for g in f.gws)


def test_a_dead_gateways_share_of_the_limit_expires_with_its_lease(
        limited_fleet):
    f = limited_fleet
    held = [f.open() for _ in range(4)]
    # Kill a gateway that holds some of the 4.
    victim = max(range(3), key=lambda i: sum(1 for _, g in held if g == i))
    lost = sum(1 for _, g in held if g == victim)
    assert lost > 0
    f.gws[victim].proc.send_signal(signal.SIGKILL)
    f.gws[victim].proc.wait(5)
    f.gws[victim].stopped = True
    f.hap.wait_states({"gw%d" % (victim + 1): "DOWN"})
    t0 = time.monotonic()

    def room():
        ws = attempt(f.hap.port)
        ok = ws.status == 101
        ws.close()
        return ok
    # The dead one's connections stop counting within its lease (10 s).
    wait_for(room, 15, interval=0.3, what="the dead gateway's share freed")
    assert time.monotonic() - t0 < 15


def test_redis_down_limits_fall_back_to_each_gateways_count(limited_fleet):
    f = limited_fleet
    held = [f.open()[0] for _ in range(4)]
    assert attempt(f.hap.port).status == 503
    f.redis.stop()
    for ws in held:
        echo(ws)        # live sessions go on
    # Each gateway now counts its own: more than 4 fit, up to 4 each.
    extra = []
    deadline = time.monotonic() + 20
    while len(extra) < 3 and time.monotonic() < deadline:
        ws = attempt(f.hap.port)
        if ws.status == 101:
            extra.append(ws)
        else:
            ws.close()
    assert len(extra) == 3, "local counts did not take over"
    logs = [g.log_text() for g in f.gws]
    said = [t.count("counting this gateway's connections only") for t in logs]
    assert sum(said) >= 1 and max(said) == 1, said   # once per gateway
    f.redis.start()

    def fleet_again():
        ws = attempt(f.hap.port)
        st = ws.status
        ws.close()
        return st == 503
    wait_for(fleet_again, 10, interval=0.3, what="fleet counts again")


def direct(g, path):
    """An upgrade straight to gateway g's proxy_protocol listener, with
    the PROXY v1 line HAProxy would send."""
    ws = RawWS(g.port)
    head, ws.key = RawWS.request_head(path=path)
    ws.sock.sendall(b"PROXY TCP4 127.0.0.1 127.0.0.1 40000 %d\r\n" % g.port
                    + head)
    ws.read_head()
    return ws


def test_a_redis_token_works_on_every_gateway_and_503s_while_redis_is_down(
        fleet, backends):
    be = backends(greet_echo_handler(b"target:"))
    target = be.spec[4:]
    fleet.redis.command("SET", "rt", target)
    for g in fleet.gws:
        ws = direct(g, "/r?token=rt")
        assert ws.status == 101
        assert ws.recv_frame(timeout=5).payload == b"target:"
        echo(ws, b"via " + g.name.encode())
        ws.close()
    fleet.redis.command("DEL", "rt")
    for g in fleet.gws:
        assert direct(g, "/r?token=rt").status == 404
    fleet.redis.command("SET", "rt", target)
    live = direct(fleet.gws[0], "/r?token=rt")
    assert live.status == 101 and live.recv_frame(timeout=5).payload == \
        b"target:"
    fleet.redis.stop()
    echo(live, b"relays with redis down")
    for g in fleet.gws:
        ws = direct(g, "/r?token=rt")
        assert ws.status == 503 and "retry-after" in ws.headers
        ws.close()
    fleet.redis.start()
    t0 = time.monotonic()
    fleet.redis.command("SET", "rt", target)   # no persistence: write again

    def all_back():
        for g in fleet.gws:
            ws = direct(g, "/r?token=rt")
            ok = ws.status == 101
            ws.close()
            if not ok:
                return False
        return True
    wait_for(all_back, 5, interval=0.1, what="token handshakes back")
    assert time.monotonic() - t0 < 5
    echo(live, b"and after")


@pytest.fixture
def rate_fleet(gateway_factory, backends, redis, tmp_path):
    f = build_fleet(gateway_factory, backends, redis, tmp_path,
                    {"limits_scope": "fleet", "handshake_rate_per_ip": "3/s"})
    yield f
    f.hap.stop()


def test_a_fleet_handshake_rate_holds_across_three_gateways(rate_fleet):
    f = rate_fleet
    # 8 handshakes in well under a second, kept open so that leastconn
    # spreads them (3, 3, 2): each gateway's own bucket (3 at once) lets
    # every one in; the fleet's 3 a second (at most two one-second windows
    # in the burst: 6) refuses at least 2.
    for _try in range(3):
        held, refused = [], 0
        t0 = time.monotonic()
        for _ in range(8):
            ws = attempt(f.hap.port)
            if ws.status == 101:
                held.append(ws)
            else:
                assert ws.status == 429, ws.status
                refused += 1
                ws.close()
        if time.monotonic() - t0 < 1.0:
            break
        # Too slow to tell (a loaded machine): the burst spread over more
        # than two one-second windows. Again, on fresh windows.
        for ws in held:
            ws.close()
        time.sleep(1.1)
    assert time.monotonic() - t0 < 1.0, "too slow to tell, three times"
    assert refused >= 2 and len(held) <= 6, (refused, len(held))
    assert any("too many handshakes from this address in the fleet"
               in g.log_text() for g in f.gws)


def test_a_restarted_gateway_leaves_no_ghosts_of_its_old_sessions(fleet):
    # Two on gw3: its next process numbers sessions from 1 again, so one
    # id at least is not written over by a new session.
    held = fleet.open_on_each(2)
    wait_for(lambda: fleet.fleet_list(0)["count"] == 6, 10,
             what="6 sessions listed")
    g = fleet.gws[2]
    g.proc.send_signal(signal.SIGKILL)
    g.proc.wait(5)
    g._close_log()
    # The same instance name again (systemd's Restart=, the same host).
    g.stopped = False
    g.start()
    live = direct(g, "/echo")
    assert live.status == 101
    live.recv_frame(timeout=5)          # its backend's greeting

    def right():
        body = fleet.fleet_list(0)
        mine = [s for s in body["sessions"] if s["instance"] == "gw3"]
        return len(mine) == 1 and body["count"] == 5 and mine
    mine = wait_for(right, 10, what="gw3 lists its new session only")
    assert mine[0]["client"].startswith("127.0.0.1:")
    for ws in held[0] + held[1]:
        echo(ws)
    echo(live)


def test_limits_scope_fleet_can_be_turned_on_by_a_reload(
        gateway_factory, backends, redis, tmp_path):
    f = build_fleet(gateway_factory, backends, redis, tmp_path,
                    {"limits_scope": "local", "max_connections_per_ip": 4})
    try:
        for g in f.gws:
            with open(g.config_path) as fh:
                text = fh.read()
            with open(g.config_path, "w") as fh:
                fh.write(text.replace("limits_scope = local",
                                      "limits_scope = fleet"))
            g.send_signal(signal.SIGHUP)
        for g in f.gws:
            g.wait_log(r"reloaded ")
        held = [f.open()[0] for _ in range(4)]
        ws = attempt(f.hap.port)
        assert ws.status == 503, ws.status
        ws.close()
        for h in held:
            echo(h)
    finally:
        f.hap.stop()


def fleet_metrics(g):
    """The wsgate_fleet_* samples of gateway g's /metrics, by name."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                % g.admin_port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("wsgate_fleet_"):
            name, value = line.split()
            out[name] = int(float(value))
    return out


def test_fleet_metrics_count_orders_and_failed_registry_writes(fleet):
    held = fleet.open_on_each(1)
    body = wait_for(lambda: (lambda b: b["count"] == 3 and b)(
        fleet.fleet_list(0)), 10, what="3 sessions listed")
    before = [fleet_metrics(g) for g in fleet.gws]
    for m in before:
        assert set(m) == {"wsgate_fleet_orders_received_total",
                          "wsgate_fleet_orders_applied_total",
                          "wsgate_fleet_registry_write_errors_total"}
        assert m["wsgate_fleet_registry_write_errors_total"] == 0
    # One order to gw2 only: gw2 received and carried it out.
    entry = [s for s in body["sessions"] if s["instance"] == "gw2"][0]
    assert admin_call(fleet.gws[0].admin_port, "/sessions/gw2/%d"
                      % entry["id"], method="DELETE") == (200, {"ended": 1})
    held[1][0].expect_close(1008, timeout=5)

    def moved(i, name, by):
        return lambda: fleet_metrics(fleet.gws[i])[name] == \
            before[i][name] + by
    wait_for(moved(1, "wsgate_fleet_orders_received_total", 1), 10,
             what="gw2 counted the order")
    wait_for(moved(1, "wsgate_fleet_orders_applied_total", 1), 10,
             what="gw2 counted the order carried out")
    # A revoke goes to every gateway, the sender too.
    assert admin_call(fleet.gws[0].admin_port, "/sessions?token=zz",
                      method="DELETE") == (200, {"ended": 0})
    wait_for(moved(2, "wsgate_fleet_orders_applied_total", 1), 10,
             what="gw3 counted the revoke")
    wait_for(moved(0, "wsgate_fleet_orders_applied_total", 1), 10,
             what="gw1 counted its own revoke")
    wait_for(moved(1, "wsgate_fleet_orders_applied_total", 2), 10,
             what="gw2 counted the revoke")
    # gw3's registry hash replaced by a string: Redis refuses its HSET
    # (WRONGTYPE) for a new session, and the failure is counted there.
    fleet.redis.command("SET", "wsgate:fleet:sessions:gw3", "not a hash")
    ws = direct(fleet.gws[2], "/echo")
    assert ws.recv_frame(timeout=5).payload == b"gw3:"
    wait_for(lambda: fleet_metrics(fleet.gws[2])[
        "wsgate_fleet_registry_write_errors_total"] >= 1, 10,
        what="gw3 counted its refused registry write")
    echo(ws)
    assert fleet_metrics(fleet.gws[0])[
        "wsgate_fleet_registry_write_errors_total"] == 0
    for h in held:
        for w in h:
            w.close()
    ws.close()
