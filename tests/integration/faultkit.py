"""
Fault-injection helpers for wsgate's integration and valgrind tests.

What is here:
  - /proc helpers: open descriptors of the daemon;
  - "every byte I sent was acked" (probekit.unacked, TIOCOUTQ);
  - backend handlers (handler(conn, stop), backendkit's Backend protocol);
  - wrappers that start the daemon under prlimit or valgrind (same pid);
  - NetNS: a network namespace joined to ours by a veth pair, so a test
    can take a link down (a peer that vanishes without FIN) or drop SYNs,
    and a tiny client for inside it (`python3 faultkit.py netns-client`).
Every wait has a deadline (basekit.wait_for for conditions).
"""

import base64
import os
import random
import select
import shutil
import socket
import struct
import subprocess
import sys
import time

from backendkit import close_quietly, rst
from basekit import wait_for
from probekit import unacked
from wskit import OP_BINARY, OP_PONG, build_frame

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------
# /proc

def fd_count(pid):
    """Open descriptors of pid."""
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_sockets(pid):
    """How many of pid's descriptors are sockets."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


# --------------------------------------------------------------------------
# TCP queues

def wait_acked(sock, timeout=10.0):
    """Wait until the peer's kernel has acknowledged everything we sent.
    On loopback that means it sits in the peer's receive queue (or was
    read). False on timeout."""
    try:
        wait_for(lambda: unacked(sock) == 0, timeout, 0.005,
                 what="the peer to acknowledge all we sent")
    except AssertionError:
        return False
    return True


# --------------------------------------------------------------------------
# backend handlers: handler(conn, stop); conn is backendkit's BackendConn

def acked_rst_handler(data, wait_go=False):
    """Send data, wait until the gateway's kernel acknowledged all of it
    (so the gateway has really received it), then reset. With wait_go,
    wait for conn.go before the reset."""
    def handler(c, stop):
        if not c.send_all(data, stop):
            return
        c.acked = wait_acked(c.sock, 20.0)
        if wait_go:
            while not c.go.wait(0.1):
                if stop.is_set():
                    break
        rst(c.sock)
    return handler


def slow_echo_handler(chunk=2048, delay=0.001):
    """Echo, reading at most chunk bytes at a time with a pause before each
    read: a slow backend."""
    def handler(c, stop):
        while not stop.is_set():
            time.sleep(delay)
            data = c.recv_some(stop, chunk)
            if not data or not c.send_all(data, stop):
                break
        close_quietly(c.sock)
    return handler


def ticker_echo_handler(tick=b"t" * 1024, every=0.1):
    """Echo, and also send tick every `every` seconds until EOF: a backend
    that keeps writing toward the client whatever the client does."""
    def handler(c, stop):
        next_tick = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_tick:
                try:
                    c.sock.sendall(tick)
                except socket.timeout:
                    pass
                except OSError:
                    c.note_eof(reset=True)
                    break
                next_tick = now + every
            r, _, _ = select.select([c.sock], [], [], max(0.0, next_tick - now))
            if not r:
                continue
            data = c.recv_some(stop, 65536)    # readable: returns at once
            if not data:
                break
            try:
                c.sock.sendall(data)
            except OSError:
                pass
        close_quietly(c.sock)
    return handler


def deaf_until_go_handler(c, stop):
    """Accept, read nothing until conn.go, then read everything (recorded)
    until EOF."""
    while not c.go.wait(0.05):
        if stop.is_set():
            return
    while True:
        chunk = c.recv_some(stop)
        if not chunk:
            break
    close_quietly(c.sock)


# --------------------------------------------------------------------------
# running the daemon under a wrapper (the pid stays the daemon's: exec)

def wrapper_script(directory, name, argv_prefix, binary):
    """Write an executable `exec ARGV_PREFIX... BINARY "$@"` script and
    return its path: hand it to the Gateway as its binary."""
    path = os.path.join(str(directory), name)
    quoted = " ".join("'%s'" % a.replace("'", "'\\''")
                      for a in list(argv_prefix) + [binary])
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec %s \"$@\"\n" % quoted)
    os.chmod(path, 0o755)
    return path


def prlimit_wrapper(directory, binary, nofile):
    """Run binary with RLIMIT_NOFILE soft = hard = nofile (the daemon raises
    its soft limit to the hard one, so both must be low)."""
    exe = shutil.which("prlimit")
    if exe is None:
        return None
    return wrapper_script(directory, "wsgate-nofile-%d" % nofile,
                          [exe, "--nofile=%d:%d" % (nofile, nofile), "--"],
                          binary)


VALGRIND_ARGS = ["--leak-check=full", "--error-exitcode=1",
                 "--errors-for-leak-kinds=definite,indirect",
                 "--show-leak-kinds=definite,indirect",
                 "--track-fds=yes", "--num-callers=30"]


def valgrind_wrapper(directory, binary, log_path):
    exe = shutil.which("valgrind")
    if exe is None:
        return None
    return wrapper_script(directory, "wsgate-valgrind",
                          [exe, "--log-file=%s" % log_path] + VALGRIND_ARGS,
                          binary)


# --------------------------------------------------------------------------
# network namespaces

def _run(*argv, check=True):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                r.stderr.decode(errors="replace").strip()))
    return r


_NETNS_REASON = []


def netns_unavailable():
    """None if we can create namespaces and veth pairs, else why not."""
    if _NETNS_REASON:
        return _NETNS_REASON[0]
    reason = None
    if os.geteuid() != 0:
        reason = "network namespaces need root"
    elif shutil.which("ip") is None:
        reason = "iproute2 (`ip`) is not installed"
    else:
        try:
            ns = NetNS()
            ns.close()
        except Exception as e:      # any failure: the reason is the message
            reason = "cannot set up a network namespace with a veth pair: %s" % e
    _NETNS_REASON.append(reason)
    return reason


class NetNS:
    """A namespace joined to ours by a veth pair on a private /30:
    we are .1 (self.host_ip), the namespace is .2 (self.ns_ip).

    link_down(): take the namespace's end down (cable pulled at the far
    side: packets toward it vanish, nothing comes back, no FIN, no RST).
    """

    def __init__(self):
        tag = "%x%04x" % (os.getpid() & 0xffff, random.getrandbits(16))
        self.name = "wsgf-" + tag
        self.host_if = "wsga" + tag[-8:]
        self.ns_if = "wsgb" + tag[-8:]
        net = "10.%d.%d." % (200 + random.randrange(50), random.randrange(256))
        self.host_ip, self.ns_ip = net + "1", net + "2"
        self.spare_ip = net + "3"
        self.procs = []
        self._made_ns = self._made_link = False
        try:
            _run("ip", "netns", "add", self.name)
            self._made_ns = True
            _run("ip", "link", "add", self.host_if, "type", "veth",
                 "peer", "name", self.ns_if)
            self._made_link = True
            _run("ip", "link", "set", self.ns_if, "netns", self.name)
            _run("ip", "addr", "add", self.host_ip + "/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            self.ns("ip", "addr", "add", self.ns_ip + "/30", "dev", self.ns_if)
            self.ns("ip", "link", "set", self.ns_if, "up")
            self.ns("ip", "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise
        self.ns_mac = self.ns("cat", "/sys/class/net/%s/address" % self.ns_if
                              ).stdout.decode().strip()

    def ns(self, *argv, check=True):
        return _run("ip", "netns", "exec", self.name, *argv, check=check)

    def popen(self, argv, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.name] + list(argv), **kw)
        self.procs.append(p)
        return p

    def pin_neighbour(self, ip=None):
        """A permanent ARP entry for ip (default ns_ip) on our side, so a
        dead link drops packets instead of failing ARP after ~3 s."""
        _run("ip", "neigh", "replace", ip or self.ns_ip, "lladdr", self.ns_mac,
             "dev", self.host_if, "nud", "permanent")

    def link_down(self):
        self.ns("ip", "link", "set", self.ns_if, "down")

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(5)
            except Exception:
                pass
        if self._made_link:
            _run("ip", "link", "del", self.host_if, check=False)
            self._made_link = False
        if self._made_ns:
            _run("ip", "netns", "del", self.name, check=False)
            self._made_ns = False


# --------------------------------------------------------------------------
# a tiny WebSocket client for inside a namespace (python3 faultkit.py ...)

def netns_client(host, port, path):
    """Connect, upgrade, send "hello", wait for its echo, print READY;
    then answer every ping (printing PING) and discard data, until killed
    or the connection ends (prints END)."""
    s = socket.create_connection((host, int(port)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, host, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            print("END no answer", flush=True)
            return
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    if b" 101 " not in head.split(b"\r\n")[0]:
        print("END status %r" % head.split(b"\r\n")[0], flush=True)
        return
    s.sendall(build_frame(OP_BINARY, b"hello"))
    s.settimeout(None)
    got = b""
    ready = False
    while True:
        while True:
            if len(buf) < 2:
                break
            n = buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n = struct.unpack("!H", buf[2:4])[0]
                off = 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n = struct.unpack("!Q", buf[2:10])[0]
                off = 10
            if len(buf) < off + n:
                break
            op, payload, buf = buf[0] & 0xF, buf[off:off + n], buf[off + n:]
            if op == 0x9:
                s.sendall(build_frame(OP_PONG, payload))
                print("PING", flush=True)
            elif op == 0x8:
                print("END close", flush=True)
                return
            elif not ready:
                got += payload
                if b"hello" in got:
                    ready = True
                    print("READY", flush=True)
        chunk = s.recv(65536)
        if not chunk:
            print("END eof", flush=True)
            return
        buf += chunk


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "netns-client":
        netns_client(*sys.argv[2:])
    else:
        sys.exit("usage: faultkit.py netns-client HOST PORT PATH")
