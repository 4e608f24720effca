"""
States a test waits on instead of sleeping (with basekit.wait_for): is a
process idle, which TCP connections exist and in what state, has the peer
acknowledged every segment we sent. Read from /proc and TCP_INFO, so they
see the daemon's side of a connection as well as ours.
"""

import fcntl
import os
import socket
import struct
import termios

# /proc/net/tcp state codes (include/net/tcp_states.h)
TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV",
    "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE",
    "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}


def process_idle(pid):
    """True when every thread of pid is asleep (state S or I in
    /proc/PID/task/*/stat): the daemon has handled every event it was
    woken for and waits for more. A daemon still relaying, freeing or
    runnable shows R (or D) in at least one thread."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        raise AssertionError("process %d is gone" % pid)
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except FileNotFoundError:
            continue                    # a thread that just ended
        state = stat[stat.rindex(")") + 2]
        if state not in "SI":
            return False
    return True


def quiescent(pid):
    """A predicate for wait_for: pid idle on two reads in a row (one read
    can land between an event becoming ready and the thread waking)."""
    seen = [False]

    def pred():
        idle = process_idle(pid)
        ok = idle and seen[0]
        seen[0] = idle
        return ok
    return pred


def accepts(port, host="127.0.0.1", timeout=0.5):
    """True when a TCP connect to host:port succeeds now (the connection
    is closed at once: the server sees a client that left). For servers we
    did not write, whose readiness we can only see from outside; a server
    that must not see a probe is better watched in /proc/net/tcp."""
    try:
        socket.create_connection((host, port), timeout).close()
        return True
    except OSError:
        return False


def _tcp_table():
    """Rows of /proc/net/tcp and tcp6: (local port, remote port, state,
    tx_queue, rx_queue) for every TCP socket on this host."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            tx, rx = fields[4].split(":")
            rows.append((int(fields[1].rsplit(":", 1)[1], 16),
                         int(fields[2].rsplit(":", 1)[1], 16),
                         TCP_STATES.get(fields[3], fields[3]),
                         int(tx, 16), int(rx, 16)))
    return rows


def tcp_connections(port):
    """(local port, remote port, state) of every TCP socket on this host
    whose local or remote port is port (IPv4 and IPv6, every process).
    A socket that got a RST, or was closed without a FIN exchange, is not
    listed: the kernel unhashes it at once."""
    return [(lp, rp, st) for lp, rp, st, _tx, _rx in _tcp_table()
            if port in (lp, rp)]


def connected_to(port):
    """States of the sockets whose remote port is port: the connections
    some process here holds to the server on port. [] once a RST from
    that server arrived (the kernel drops a reset socket at once)."""
    return [st for lp, rp, st in tcp_connections(port) if rp == port]


def connecting_to(port, not_from=()):
    """Local ports of the sockets still connecting (SYN_SENT) to the
    server on port, less those in not_from (sockets of our own)."""
    return [lp for lp, rp, st in tcp_connections(port)
            if rp == port and st == "SYN_SENT" and lp not in not_from]


def tcp_gone(local_port, remote_port):
    """True when no socket links local_port to remote_port any more, or
    the one left is in TIME_WAIT (closed both ways)."""
    return all(st == "TIME_WAIT" for lp, rp, st in tcp_connections(local_port)
               if (lp, rp) == (local_port, remote_port))


def unacked(sock):
    """Bytes in sock's send queue not yet acknowledged by the peer
    (TIOCOUTQ): sent and in flight, or not sent for want of a window."""
    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return struct.unpack("i", buf)[0]


def segments_in_flight(sock):
    """Segments sock has sent that its peer has not acknowledged yet
    (tcpi_unacked). 0 once every transmitted byte is acked; what TIOCOUTQ
    still counts then was never sent because the peer's window is shut."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 24)[0]


def window_shut(sock):
    """True when sock has bytes queued that the peer has no room for: the
    peer stopped reading (backpressure) and its receive buffer is full.
    False for a socket closed meanwhile (another thread's)."""
    try:
        return unacked(sock) > 0 and segments_in_flight(sock) == 0
    except OSError:
        return False


def peer_read_all(sock):
    """True when every byte written on sock has been acknowledged and the
    process at the other end (on this host) has read it: its socket's
    receive queue is empty."""
    if unacked(sock) != 0:
        return False
    here, there = sock.getsockname()[1], sock.getpeername()[1]
    return all(rx == 0 for lp, rp, _st, _tx, rx in _tcp_table()
               if (lp, rp) == (there, here))
