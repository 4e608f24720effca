#!/usr/bin/env python3
"""bench/beyond.py: the figures of bench/beyond.sh that loadgen does not
give (standard library only).

  beyond.py pss PORT PATH N PID
      Open N WebSocket sessions to 127.0.0.1:PORT PATH, one byte echoed on
      each (so every process behind them runs), and print the PSS of PID
      and all its descendants before and with them open, per session.
  beyond.py deflate PORT PATH MIB PID
      Serve MIB MiB of a text-like stream (JSON lines) from a backend on
      PORT+1 that the route PATH reaches, read it through wsgate offering
      permessage-deflate, and print the wire bytes and PID's CPU per MiB.
"""
import base64
import os
import socket
import sys
import threading
import time


def handshake(port, path, ext=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "Sec-WebSocket-Extensions: %s\r\n" % ext if ext else ""
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n%s\r\n" % (path, key, extra))
              .encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("handshake: connection closed")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit("handshake: %r" % head[:60])
    return s, head.decode("latin1"), rest


def tree(pid):
    """pid and its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cmd_pss(port, path, n, pid):
    base = pss_kib(pid)
    socks = []
    for _ in range(n):
        s, _, _ = handshake(port, path)
        s.sendall(bytes([0x82, 0x81, 0, 0, 0, 0, 0x78]))   # "x", masked
        got = b""
        while len(got) < 3:
            d = s.recv(16)
            if not d:
                raise SystemExit("pss: session closed")
            got += d
        socks.append(s)
    time.sleep(0.5)
    held = pss_kib(pid)
    print("pss_base_kib=%d pss_held_kib=%d sessions=%d pss_per_session_kib=%.1f"
          % (base, held, n, (held - base) / n))
    for s in socks:
        s.close()


def text_mib():
    words = [b'{"ts":"2026-12-01T17:55:%02d.%03dZ","level":"info","event":'
             b'"session_end","route":"/chat","bytes":%d,"user":"u%d"}\n'
             % (i % 60, i % 1000, i * 37 % 100000, i % 500)
             for i in range(20000)]
    data = b"".join(words)
    return (data * (1048576 // len(data) + 1))[:1048576]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmd_deflate(port, path, mib, pid):
    chunk = text_mib()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port + 1))
    ls.listen(1)

    def serve():
        c, _ = ls.accept()
        for _ in range(mib):
            c.sendall(chunk)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    c0 = cpu_s(pid)
    s, head, wire = handshake(port, path, "permessage-deflate; "
                              "client_max_window_bits")
    agreed = "permessage-deflate" in head.lower()
    n = len(wire)
    s.settimeout(60)
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        n += len(d)
        # the backend's EOF ends the session: our close reply
        if b"\x88\x02\x03\xe8" in d[-8:]:
            s.sendall(bytes([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]))
    c1 = cpu_s(pid)
    s.close()
    t.join(5)
    ls.close()
    print("deflate=%s mib=%d wire_bytes=%d wire_bytes_per_mib=%d "
          "cpu_ms_per_mib=%.2f" % ("on" if agreed else "off", mib, n,
                                   n // mib, (c1 - c0) * 1000 / mib))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "pss":
        cmd_pss(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                int(sys.argv[5]))
    elif len(sys.argv) == 6 and sys.argv[1] == "deflate":
        cmd_deflate(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                    int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
