"""Timeouts measure time on a clock that does not step.

The wall clock jumps (an NTP step, a VM resumed, an operator's `date -s`);
a duration measured on it jumps with it. libfaketime, preloaded into the
release binary (ASan cannot be preloaded with it), shifts the wall clock
of the daemon only, and leaves CLOCK_MONOTONIC (libevent's timers) alone.
"""

import glob
import time

import pytest

from backendkit import echo_handler
from gatewaykit import WSGATE_RELEASE_BIN
from wskit import OP_BINARY, OP_CLOSE, RawWS

# The thread-safe build: wsgate reads the clock from several threads.
FAKETIME_LIBS = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")


def faketime_env(clock_file):
    """Environment that makes the daemon read the wall clock shifted by
    the offset in clock_file ("+0", "-2h", ...), read again at each call."""
    if not FAKETIME_LIBS:
        pytest.skip("libfaketime is not installed (sh "
                    "packaging/install-deps.sh test)")
    return {"LD_PRELOAD": FAKETIME_LIBS[0],
            "FAKETIME_TIMESTAMP_FILE": str(clock_file),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def until(t):
    """The test's timeline: the input here is time passing itself."""
    time.sleep(max(0.0, t - time.monotonic()))


def test_idle_timeout_ignores_wall_clock_steps(gateway_factory, backends,
                                               tmp_path):
    """An active session stays open and an idle one still closes on time
    when the wall clock steps back or forward by hours.

    idle_timeout took its times from libevent's cached time, which is the
    wall clock (re-read every 5 s): after a step, the first idle check
    that followed a re-read without data in between saw the last data
    hours in the future (back: a negative age, cast to a huge one) or
    hours in the past (forward), and closed the session as idle.

    Timeline, idle_timeout 10 s: at 3 s the active session echoes a
    message; the clock steps; the idle check due at 10 s (the first since
    the session opened, more than 5 s after the step, so libevent has
    re-read the clock by then) must find the active session 7 s idle and
    keep it: its message at 11.6 s is echoed. The idle session closes at
    10 s (1001) either way."""
    echo = backends(echo_handler)
    runs = []
    for step in ("-2h", "+2h"):
        clock = tmp_path / ("clock%s" % step)
        clock.write_text("+0\n")
        g = gateway_factory(routes=[("/idle", {"backend": echo.spec,
                                               "idle_timeout": "10s",
                                               "heartbeat_interval": "0"})],
                            binary=WSGATE_RELEASE_BIN,
                            name="wsgate-step%s" % step,
                            env=faketime_env(clock))
        runs.append((step, clock, g))
    sessions = []
    for step, clock, g in runs:
        sessions.append((step, clock, RawWS.open(g.port, path="/idle",
                                                 timeout=20),
                         RawWS.open(g.port, path="/idle", timeout=20)))
    t0 = time.monotonic()       # after every upgrade: idle timers run

    until(t0 + 3)
    for step, clock, active, idle in sessions:
        active.send_frame(OP_BINARY, b"before")
        f = active.recv_frame(timeout=5)
        assert (f.opcode, f.payload) == (OP_BINARY, b"before"), f
    for step, clock, active, idle in sessions:
        clock.write_text(step + "\n")

    for step, clock, active, idle in sessions:
        left = t0 + 11.5 - time.monotonic()
        data, f = idle.recv_until_close(timeout=max(0.1, left))
        closed = time.monotonic() - t0
        assert f is not None and f.close_code == 1001, (step, f)
        assert closed >= 9.0, ("idle session closed %.2f s after opening "
                               "(idle_timeout 10s, clock %s)"
                               % (closed, step))
        idle.close()

    until(t0 + 11.6)
    for step, clock, active, idle in sessions:
        active.send_frame(OP_BINARY, b"after")
        f = active.recv_frame(timeout=5)
        assert f.opcode != OP_CLOSE, (
            "the clock stepped %s and the session, 8.6 s after its last "
            "data (idle_timeout 10s), was closed: %r" % (step, f))
        assert (f.opcode, f.payload) == (OP_BINARY, b"after"), f
        active.send_close(1000)
        active.expect_close(1000)
        active.close()
    for step, clock, g in runs:
        assert g.log_text().count("idle timeout") == 1, g.log_tail(20)


def test_wrap_respawn_wait_ignores_a_wall_clock_step_back(gateway_factory,
                                                         tmp_path):
    """wrap_mode = respawn holds back after 3 starts in 10 s, until 10 s
    after the first of them. That window was wall-clock time(NULL): with
    the clock stepped back 2 h during the wait, the program stayed down
    for 2 h. It must start again about 10 s after the first start."""
    clock = tmp_path / "clock"
    clock.write_text("+0\n")
    g = gateway_factory(args=["--wrap-mode", "respawn", "{port}", "--",
                              "sh", "-c", "exit 3"],
                        binary=WSGATE_RELEASE_BIN, env=faketime_env(clock))

    def starts():
        return g.log_text().count("wrap_command: started")
    g.wait_log(r"respawning too fast", timeout=15)
    t_wait = time.monotonic()
    assert starts() == 3, g.log_tail(20)
    clock.write_text("-2h\n")
    deadline = t_wait + 15
    while starts() < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert starts() >= 4, (
        "no start within 15 s of 'respawning too fast' (window 10 s) after "
        "the clock stepped back 2 h:\n%s" % g.log_tail(20))
