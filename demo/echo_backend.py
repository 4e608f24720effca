#!/usr/bin/env python3
"""The demo backends behind the default gateway.conf.

A plain TCP echo service on 127.0.0.1:7001 and a Unix-socket service that
answers each line in capitals. Standard library only; stops on Ctrl-C.
Arguments: [PORT [SOCKET]]; PORT 0 takes a free port, and the line printed
at start says which.
"""
import os
import socketserver
import sys


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class Shout(socketserver.BaseRequestHandler):
    """Bytes back in capitals as they come: a client that sends a line
    without its newline (python3 -m websockets does) gets its answer too."""

    def handle(self):
        self.request.sendall(
            b"shout service: send a line, get it back in capitals\n")
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data.upper())


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7001
    path = sys.argv[2] if len(sys.argv) > 2 else "/tmp/wsgate-demo-shout.sock"
    if os.path.exists(path):
        os.unlink(path)
    import threading
    tcp = TCPServer(("127.0.0.1", port), Echo)
    unix = UnixServer(path, Shout)
    threading.Thread(target=unix.serve_forever, daemon=True).start()
    print(f"demo backends: echo on tcp:127.0.0.1:{tcp.server_address[1]}, "
          f"shout on unix:{path}", flush=True)
    try:
        tcp.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
