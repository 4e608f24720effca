"""
Backends in Python threads on loopback TCP or Unix sockets: one acceptor
thread and one thread per connection running handler(conn, stop), where
conn is a BackendConn that records what arrived (bytes, sha256, EOF or
reset, when). The handlers here echo, record, stream a deterministic
pattern, send then close, or reset; faultkit.py has the misbehaving ones.
Blackhole is an address where connect() hangs.
"""

import hashlib
import os
import socket
import struct
import threading
import time

from basekit import pattern_bytes


class BackendConn:
    """One accepted backend connection and what happened on it."""

    def __init__(self, sock, index):
        self.sock = sock
        self.index = index
        self.accepted_at = time.monotonic()
        self.received = bytearray()
        self.keep = True
        self.nreceived = 0
        self.hash = hashlib.sha256()
        self.nsent = 0
        self.eof = threading.Event()
        self.eof_at = None
        self.reset = False
        self.done = threading.Event()
        self.error = None
        self.go = threading.Event()   # handlers that wait for a signal

    def note_data(self, chunk):
        # nreceived last: tests poll it from another thread, then read
        # received/hash, which must already hold the chunk (hash.update
        # releases the GIL on big chunks).
        self.hash.update(chunk)
        if self.keep:
            self.received += chunk
        self.nreceived += len(chunk)

    def note_eof(self, reset=False):
        if not self.eof.is_set():
            self.eof_at = time.monotonic()
            self.reset = reset
            self.eof.set()

    def recv_some(self, stop, size=1 << 18):
        """recv (at most size bytes) with a short timeout, looping until
        data, EOF or stop. Returns the data (noted), b"" on EOF or reset
        (noted) or None when stopped."""
        while not stop.is_set():
            try:
                chunk = self.sock.recv(size)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                self.note_eof(reset=True)
                return b""
            except OSError:
                self.note_eof(reset=True)
                return b""
            if not chunk:
                self.note_eof()
                return b""
            self.note_data(chunk)
            return chunk
        return None

    def send_all(self, data, stop):
        """sendall with stop checks. False if stopped or the peer went away."""
        view = memoryview(data)
        while view:
            if stop.is_set():
                return False
            try:
                n = self.sock.send(view[:1 << 20])
            except socket.timeout:
                continue
            except OSError:
                return False
            self.nsent += n
            view = view[n:]
        return True

    def wait_eof(self, timeout):
        assert self.eof.wait(timeout), (
            "backend connection %d saw no EOF within %.1fs (received %d bytes)"
            % (self.index, timeout, self.nreceived))
        return self.eof_at


class Backend:
    """A backend server in Python threads: one acceptor thread and one
    thread per connection running handler(conn, stop).

    unix: a filesystem path to listen on instead of 127.0.0.1:0.
    """

    def __init__(self, handler, unix=None, keep=True, backlog=128):
        self.handler = handler
        self.keep = keep
        self.stop = threading.Event()
        self.conns = []
        self.lock = threading.Lock()
        self.accepted = threading.Condition(self.lock)
        self.threads = []
        self.unix = unix
        if unix:
            if os.path.exists(unix):
                os.unlink(unix)
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(unix)
            self.spec = "unix:%s" % unix
        else:
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.lsock.bind(("127.0.0.1", 0))
            self.port = self.lsock.getsockname()[1]
            self.spec = "tcp:127.0.0.1:%d" % self.port
        self.lsock.listen(backlog)
        self.lsock.settimeout(0.1)
        t = threading.Thread(target=self._accept_loop, daemon=True,
                             name="backend-accept")
        t.start()
        self.threads.append(t)

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(0.1)
            with self.lock:
                c = BackendConn(s, len(self.conns))
                c.keep = self.keep
                self.conns.append(c)
                self.accepted.notify_all()
            t = threading.Thread(target=self._run, args=(c,), daemon=True,
                                 name="backend-conn-%d" % c.index)
            t.start()
            self.threads.append(t)

    def _run(self, c):
        try:
            self.handler(c, self.stop)
        except Exception as e:  # recorded, surfaced by tests that look
            c.error = e
        finally:
            c.done.set()

    @property
    def count(self):
        with self.lock:
            return len(self.conns)

    def wait_conn(self, index=0, timeout=10.0):
        """The index-th accepted connection, waiting for it."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.conns) <= index:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        "backend %s: connection #%d not accepted within %.1fs "
                        "(have %d)" % (self.spec, index, timeout, len(self.conns)))
                self.accepted.wait(remaining)
            return self.conns[index]

    def close(self):
        self.stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.sock.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(2.0)
        if self.unix and os.path.exists(self.unix):
            try:
                os.unlink(self.unix)
            except OSError:
                pass


# ---- handlers: handler(conn, stop)

def echo_handler(c, stop):
    """Send back everything received; on EOF, close."""
    while True:
        chunk = c.recv_some(stop)
        if not chunk:
            break
        if not c.send_all(chunk, stop):
            break
    close_quietly(c.sock)


def record_handler(c, stop):
    """Collect everything received; note the time of EOF; then close."""
    while True:
        chunk = c.recv_some(stop)
        if not chunk:
            break
    close_quietly(c.sock)


def _read_until_go(c, stop):
    """Record what arrives until c.go is set (or stop/EOF)."""
    while not c.go.is_set() and not stop.is_set() and not c.eof.is_set():
        try:
            chunk = c.sock.recv(1 << 18)
        except socket.timeout:
            continue
        except OSError:
            c.note_eof(reset=True)
            return
        if not chunk:
            c.note_eof()
            return
        c.note_data(chunk)


def send_then_eof(data, wait_go=False, linger_read=False):
    """Send data then EOF (close). With wait_go, record what arrives until
    c.go is set, then send."""
    def handler(c, stop):
        if wait_go:
            _read_until_go(c, stop)
            if stop.is_set():
                return
        c.send_all(data, stop)
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # keep reading (and recording) until the gateway closes its side
        if linger_read and not c.eof.is_set():
            while True:
                chunk = c.recv_some(stop)
                if not chunk:
                    break
        close_quietly(c.sock)
    return handler


def rst_handler(data=b"", wait_go=False):
    """Accept, optionally send data (then wait for c.go), then RST."""
    def handler(c, stop):
        if data:
            c.send_all(data, stop)
        if wait_go:
            while not c.go.wait(0.1):
                if stop.is_set():
                    break
        rst(c.sock)
    return handler


def read_nothing_handler(c, stop):
    """Accept and never recv; hold the connection until told to stop."""
    while not stop.is_set() and not c.go.wait(0.05):
        pass
    close_quietly(c.sock)


def source_handler(total, chunk=256 * 1024, wait_go=False, then_eof=True,
                   gap=0.0):
    """Stream total bytes (pattern_bytes) as fast as the peer takes them;
    with gap, chunk bytes at a time and gap seconds between sends (no
    Nagle), so the gateway reads (and frames) them one by one."""
    def handler(c, stop):
        if gap:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if wait_go:
            while not c.go.wait(0.1):
                if stop.is_set():
                    return
        block = pattern_bytes(chunk)
        left = total
        while left > 0 and not stop.is_set():
            piece = block if left >= len(block) else block[:left]
            if not c.send_all(piece, stop):
                return
            left -= len(piece)
            if gap:
                time.sleep(gap)
        if then_eof:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                chunk_ = c.recv_some(stop)
                if not chunk_:
                    break
        close_quietly(c.sock)
    return handler


def greet_echo_handler(tag):
    """Send tag on accept, then echo."""
    def handler(c, stop):
        c.send_all(tag, stop)
        echo_handler(c, stop)
    return handler


def source_stream_hash(total, chunk=256 * 1024):
    """sha256 of what source_handler(total, chunk) sends."""
    h = hashlib.sha256()
    block = pattern_bytes(chunk)
    left = total
    while left > 0:
        piece = block if left >= len(block) else block[:left]
        h.update(piece)
        left -= len(piece)
    return h.hexdigest()


def close_quietly(s):
    """Close s; a socket the peer already reset is closed all the same."""
    try:
        s.close()
    except OSError:
        pass


def rst(s):
    """Close s with a RST (SO_LINGER 0) instead of a FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    close_quietly(s)


class Blackhole:
    """A TCP address where connect() neither succeeds nor fails: a
    listener with a full accept queue, so new SYNs are dropped."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.spec = "tcp:127.0.0.1:%d" % self.port
        self.fillers = []
        for _ in range(8):
            self._add_filler()
            # does a fresh connect still complete?
            if not self._probe_completes():
                self._add_filler()      # margin
                return
        raise RuntimeError("could not fill the accept queue")

    def _add_filler(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.fillers.append(s)

    def _probe_completes(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", self.port))
            self.fillers.append(s)
            return True
        except (socket.timeout, OSError):
            s.close()
            return False

    def local_ports(self):
        """The fillers' own ports: their connects are not another's."""
        return {s.getsockname()[1] for s in self.fillers}

    def close(self):
        for s in self.fillers:
            close_quietly(s)
        close_quietly(self.lsock)
