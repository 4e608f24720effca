"""Operator orders reach a gateway whose Redis connection is coming back:
three gateways on one real redis-server, one of them cut off (its
connections killed, new ones refused until it is let back in) while an
order is published. Pub/sub alone would lose the order; the issuer
publishes again to each gateway that has not answered until its
deadline, and a 504 names the gateways that really did not answer."""
import signal
import threading

import pytest

from basekit import wait_for
from fleetkit import Redis, admin_call
from test_fleet import build_fleet, echo, fleet_metrics

# Deadline 2 x redis_timeout: room for a cut gateway's reconnect backoff.
SLOW = {"redis_timeout": "3s"}


@pytest.fixture
def redis(tmp_path):
    r = Redis(tmp_path).start()
    yield r
    r.stop()


@pytest.fixture
def fleet(gateway_factory, backends, redis, tmp_path):
    f = build_fleet(gateway_factory, backends, redis, tmp_path, SLOW)
    yield f
    f.hap.stop()


def subscribers(redis, channel):
    return redis.command("PUBSUB", "NUMSUB", channel)[1]


def cut_off(fleet, i):
    """Gateway i loses every Redis connection and cannot open new ones
    (a password it does not have) until let_back(); its lease stays
    current: it is alive, only cut off."""
    name = "gw%d" % (i + 1)
    fleet.redis.require_password("cut-off")
    assert fleet.redis.cut(name) >= 3     # 2 workers + subscriptions
    wait_for(lambda: subscribers(fleet.redis, "wsgate:fleet:orders:" + name)
             == 0, 5, what="%s's subscription gone" % name)
    fleet.gws[i].wait_log(r"redis .*\(fleet orders\): .*retrying")


def let_back(fleet):
    fleet.redis.require_password(None)


def in_background(fn):
    """Run fn in a thread; returns a function that joins and gives its
    result."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn()))
    t.start()

    def result():
        t.join(30)
        assert not t.is_alive(), "the admin call never came back"
        return out["r"]
    return result


def test_a_revoke_reaches_a_gateway_that_reconnects_within_the_deadline(
        fleet):
    alphas = fleet.open_on_each(1, path="/t?token=alpha")
    plain = fleet.open_on_each(1)
    cut_off(fleet, 1)
    answer = in_background(lambda: admin_call(
        fleet.gws[0].admin_port, "/sessions?token=alpha", method="DELETE",
        timeout=30))
    # The order is out while gw2 cannot hear it: gw3 has it already.
    fleet.gws[2].wait_log(r"fleet: gw1 revokes a token")
    assert subscribers(fleet.redis, "wsgate:fleet:orders:gw2") == 0
    let_back(fleet)
    assert answer() == (200, {"ended": 3})
    for h in alphas:
        assert h[0].expect_close(1008, timeout=5).close_reason == \
            "closed by operator"
    fleet.gws[1].wait_log(r"fleet: gw1 revokes a token")
    for h in plain:
        echo(h[0], b"not revoked")


def test_a_close_reaches_a_gateway_that_reconnects_within_the_deadline(
        fleet):
    held = fleet.open_on_each(1)
    body = wait_for(lambda: (lambda b: b["count"] == 3 and b)(
        fleet.fleet_list(0)), 10, what="3 sessions listed")
    entry = [s for s in body["sessions"] if s["instance"] == "gw2"][0]
    cut_off(fleet, 1)
    published = fleet.redis.calls("publish")
    answer = in_background(lambda: admin_call(
        fleet.gws[0].admin_port, "/sessions/gw2/%d" % entry["id"],
        method="DELETE", timeout=30))
    # Published (to nobody: gw2 is not subscribed) before gw2 is back.
    wait_for(lambda: fleet.redis.calls("publish") > published, 5,
             what="the order published")
    assert subscribers(fleet.redis, "wsgate:fleet:orders:gw2") == 0
    let_back(fleet)
    assert answer() == (200, {"ended": 1})
    assert held[1][0].expect_close(1008, timeout=5).close_reason == \
        "closed by operator"
    echo(held[0][0], b"untouched")
    echo(held[2][0], b"untouched too")


def test_the_504_names_the_gateway_that_did_not_answer(fleet):
    alphas = fleet.open_on_each(1, path="/t?token=alpha")
    gw3 = fleet.gws[2].proc
    gw3.send_signal(signal.SIGSTOP)     # alive by its lease, but silent
    try:
        code, res = admin_call(fleet.gws[0].admin_port,
                               "/sessions?token=alpha", method="DELETE",
                               timeout=30)
    finally:
        gw3.send_signal(signal.SIGCONT)
    assert code == 504
    assert res["ended"] == 2 and res["missing"] == ["gw3"], res
    for h in alphas[:2]:
        h[0].expect_close(1008, timeout=5)
    # gw3 carries the order out once it runs again, and only once.
    alphas[2][0].expect_close(1008, timeout=10)
    wait_for(lambda: fleet_metrics(fleet.gws[2])[
        "wsgate_fleet_orders_applied_total"] == 1, 10,
        what="gw3 applied the order once")


def test_a_stopped_gateway_leaves_the_fleet_at_once(fleet):
    """SIGTERM: once gw3 has drained and exited, its lease is gone at
    once (not 10 s later), so an order no longer waits for it."""
    alphas = fleet.open_on_each(1, path="/t?token=alpha")
    fleet.gws[2].stop()
    fleet.gws[2].stopped = True
    assert "gw3" not in fleet.redis.command(
        "ZRANGE", "wsgate:fleet:instances", 0, -1)
    assert fleet.redis.command("EXISTS", "wsgate:fleet:sessions:gw3") == 0
    assert "fleet: instance gw3 left the fleet" in fleet.gws[2].log_text()
    assert admin_call(fleet.gws[0].admin_port, "/sessions?token=alpha",
                      method="DELETE", timeout=30) == (200, {"ended": 2})
    for h in alphas[:2]:
        h[0].expect_close(1008, timeout=5)
