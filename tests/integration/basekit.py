"""
The small things every kit module and test uses: free loopback ports,
deterministic data, sizes, the descriptor limit, an asyncio runner with a
deadline, and wait_for, the one wait helper: tests synchronise on a
condition (a metric, a log line, a socket state, /proc) with a deadline
and a message saying what never happened, never on a sleep.
"""

import hashlib
import random
import resource
import socket
import time

MiB = 1024 * 1024


# Ports handed out come from below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768-60999 by default). A port the
# kernel picked for bind(0) is in that range, and once the probe socket
# is closed an outgoing connection of the suite itself (or of anything on
# the machine) may be given it as its local port before the daemon binds
# it: the daemon then fails with "Address already in use". Ports below
# the range are never given out that way. Each run walks them from a
# random start, so one run never hands out a port twice and two runs at
# once walk different stretches.
_PORT_LO, _PORT_HI = 10000, 32767
_port_next = _PORT_LO + random.randrange(_PORT_HI - _PORT_LO)


def free_port():
    """A TCP port on 127.0.0.1 that nothing is bound to right now, not
    handed out before in this run, and outside the ephemeral range."""
    global _port_next
    for _ in range(_PORT_HI - _PORT_LO):
        port = _port_next
        _port_next = _PORT_LO + (port + 1 - _PORT_LO) % (_PORT_HI - _PORT_LO)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in %d-%d" % (_PORT_LO, _PORT_HI))


def closed_port():
    """A port where a connect is refused (nothing listens)."""
    return free_port()


def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def wait_for(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value, and return that value.

    After timeout seconds, AssertionError "timed out after Ns waiting for
    WHAT". what may be a callable, called only then, so the message can
    carry the state at the deadline (a log tail, the last metric value).
    """
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            if callable(what):
                what = what()
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


_PATTERN_BLOCKS = {}


def pattern_bytes(n, seed=0):
    """n deterministic pseudo-random bytes (cheap for large n)."""
    block = _PATTERN_BLOCKS.get(seed)
    if block is None:
        block = b"".join(hashlib.sha256(b"wsgate-%d-%d" % (seed, i)).digest()
                         for i in range(2048))  # 64 KiB
        _PATTERN_BLOCKS[seed] = block
    reps, rest = divmod(n, len(block))
    return block * reps + block[:rest]


def read_vmrss(pid):
    """Resident set size of pid in bytes (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def run_async(coro, timeout=60.0):
    """Run a coroutine with an overall timeout."""
    import asyncio

    async def wrapped():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(wrapped())
