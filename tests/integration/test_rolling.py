"""Rolling restarts behind a real HAProxy running the packaged config
(packaging/haproxy/wsgate-fleet.cfg): SIGTERM to one of three gateways
while 60 clients stream sha256-checked data through the balancer."""
import asyncio
import hashlib
import os
import signal
import time

import pytest

from backendkit import greet_echo_handler
from basekit import run_async
from fleetkit import HAProxy, admin_call, start_fleet

websockets = pytest.importorskip("websockets")

NCLIENTS = 60
TRANSFER = 16 * 1024       # bytes per checked transfer, sent in 2 frames


class Client:
    def __init__(self, n):
        self.n = n
        self.tags = []          # gateway of each connection, in order
        self.closes = []        # (gateway tag, close code) of ended ones
        self.done = []          # (gateway tag, monotonic time) per transfer
        self.corrupt = 0

    async def run(self, url, stop):
        while not stop.is_set():
            tag = None
            try:
                async with websockets.connect(url, max_size=None,
                                              open_timeout=10,
                                              close_timeout=5,
                                              ping_interval=None) as ws:
                    tag = bytes(await asyncio.wait_for(ws.recv(), 10))
                    self.tags.append(tag)
                    while not stop.is_set():
                        await self.transfer(ws, tag)
                    await ws.close()
            except websockets.ConnectionClosed as e:
                self.closes.append((tag, e.rcvd.code if e.rcvd else None))
                await asyncio.sleep(0.05)
            except (OSError, asyncio.TimeoutError) as e:
                self.closes.append((tag, repr(e)))
                await asyncio.sleep(0.1)

    async def transfer(self, ws, tag):
        data = os.urandom(TRANSFER)
        want = hashlib.sha256(data).hexdigest()
        await ws.send(data[:TRANSFER // 2])
        await ws.send(data[TRANSFER // 2:])
        got = bytearray()
        while len(got) < len(data):
            got += await asyncio.wait_for(ws.recv(), 20)
        if hashlib.sha256(bytes(got)).hexdigest() != want:
            self.corrupt += 1
        self.done.append((tag, time.monotonic()))


def test_sigterm_to_one_gateway_moves_its_clients_losing_nothing(
        gateway_factory, backends, tmp_path):
    tags = [b"gw1:", b"gw2:", b"gw3:"]
    bes = [backends(greet_echo_handler(t)) for t in tags]
    gws = start_fleet(gateway_factory, 3,
                      lambda i: [("/stream", {"backend": bes[i].spec})],
                      gateway={"drain_delay": "3s",
                               "drain_timeout": "8s", "workers": 1})
    hap = HAProxy(tmp_path, gws, check_inter="200ms").start()
    try:
        hap.wait_states({"gw1": "UP", "gw2": "UP", "gw3": "UP"})
        url = "ws://127.0.0.1:%d/stream" % hap.port
        clients = [Client(i) for i in range(NCLIENTS)]
        result = {}

        async def main():
            stop = asyncio.Event()
            tasks = [asyncio.create_task(c.run(url, stop)) for c in clients]
            loop = asyncio.get_running_loop()

            async def until(pred, timeout, what):
                deadline = loop.time() + timeout
                while not pred():
                    if loop.time() > deadline:
                        raise AssertionError("timed out waiting for " + what)
                    await asyncio.sleep(0.05)

            await until(lambda: all(c.done for c in clients), 60,
                        "every client's first transfer")
            on_gw1 = [c for c in clients if c.tags[-1] == b"gw1:"]
            result["on_gw1"] = len(on_gw1)
            t_term = time.monotonic()
            gws[0].send_signal(signal.SIGTERM)
            # The balancer hears of it before anyone is closed.
            await until(lambda: admin_call(gws[0].admin_port,
                                           "/readyz")[0] in (503, None),
                        5, "/readyz 503")
            await until(lambda: hap.server_states().get("gw1", "")
                        .startswith("DOWN") or not gws[0].alive(), 10,
                        "haproxy marks gw1 down")
            result["down_before_close"] = all(
                not [x for x in c.closes if x[0] == b"gw1:"]
                for c in clients)
            await until(lambda: not gws[0].alive(), 20, "gw1 exits")
            # Every client streams again, twice, after the restart.
            await until(lambda: all(
                sum(1 for tg, t in c.done if t > t_term and tg != b"gw1:")
                >= 2 for c in clients), 60, "transfers after the restart")
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            result["t_term"] = t_term

        run_async(main(), timeout=180)
        gws[0].stopped = True
        assert gws[0].proc.returncode == 0, gws[0].log_tail()
        assert result["on_gw1"] > 0
        assert result["down_before_close"], \
            "a client was closed before haproxy took gw1 out"
        assert sum(c.corrupt for c in clients) == 0
        for c in clients:
            # Reconnects went to the gateways left, never to gw1 again.
            if c.tags[0] == b"gw1:":
                assert c.tags[1:] and b"gw1:" not in c.tags[1:], c.tags
                assert (b"gw1:", 1001) in c.closes, c.closes
            else:
                assert b"gw1:" not in c.tags, c.tags
            # Nothing but the drain's 1001 ended a connection.
            assert all(code == 1001 for _, code in c.closes), c.closes
        assert sum(len(c.done) for c in clients) >= 3 * NCLIENTS
    finally:
        hap.stop()
