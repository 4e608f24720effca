"""framing = line | text: a line service whose output reaches wsgate in
odd TCP segments (lines cut anywhere, multi-byte characters split between
reads) gives one text message per line, in order; client messages become
lines; line_max, line_overflow and line_invalid; text framing cuts only
between characters. Real clients: Python websockets and a raw one."""
import socket
import time

import websockets

from backendkit import record_handler
from basekit import run_async, wait_for
from wskit import OP_BINARY, OP_CLOSE, OP_TEXT, RawWS, build_frame


def segments_handler(segments, then_eof=True):
    """A backend that sends each segment in a TCP segment of its own (a
    pause between them so that wsgate reads them apart; the result must
    not depend on it), then EOF."""
    def handler(c, stop):
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for seg in segments:
            c.sock.sendall(seg)
            time.sleep(0.02)
        if then_eof:
            c.sock.shutdown(socket.SHUT_WR)
        while c.recv_some(stop):
            pass
        c.sock.close()
    return handler


LINES = [
    "hello",
    "h\u00e9llo w\u00f6rld",
    "",
    "\u20ac 12 \U0001F600 tail",
    "crlf line",
    "last without newline",
]
# the same text, cut between reads anywhere, multi-byte ones included
SEGMENTS = [b"hel", b"lo\nh\xc3", b"\xa9llo w", b"\xc3", b"\xb6rld\n\n\xe2",
            b"\x82", b"\xac 12 \xf0\x9f", b"\x98\x80 tail\ncrlf line\r",
            b"\nlast without newline"]


def collect(ws, timeout=10):
    """Frames until close: [(opcode, payload)], close frame."""
    out = []
    while True:
        f = ws.recv_frame(timeout=timeout)
        if f.opcode == OP_CLOSE:
            return out, f
        out.append((f.opcode, f.payload))


def test_line_service_one_message_per_line(gateway, backends):
    be = backends(segments_handler(SEGMENTS))
    gw = gateway(routes=[("/l", {"backend": be.spec, "framing": "line"})])

    async def go():
        got = []
        async with websockets.connect(gw.url("/l")) as ws:
            try:
                while True:
                    got.append(await ws.recv())
            except websockets.ConnectionClosedOK as e:
                assert e.code == 1000
        return got
    assert run_async(go()) == LINES


def test_line_messages_do_not_depend_on_reads(gateway, backends):
    # the same bytes in one write and a byte at a time
    whole = b"".join(SEGMENTS)
    for segs in ([whole], [bytes([b]) for b in whole]):
        be = backends(segments_handler(segs) if len(segs) == 1 else
                      segments_handler_fast(segs))
        gw = gateway(routes=[("/l", {"backend": be.spec,
                                     "framing": "line"})])
        ws = RawWS.open(gw.port, path="/l")
        frames, close = collect(ws)
        assert close.close_code == 1000
        assert [(op, p.decode()) for op, p in frames] == \
            [(OP_TEXT, line) for line in LINES]
        ws.close()


def segments_handler_fast(segments):
    def handler(c, stop):
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for seg in segments:
            c.sock.sendall(seg)
        c.sock.shutdown(socket.SHUT_WR)
        while c.recv_some(stop):
            pass
        c.sock.close()
    return handler


def test_client_messages_become_lines(gateway, backends):
    rec = backends(record_handler)
    gw = gateway(routes=[("/l", {"backend": rec.spec, "framing": "line"})])
    ws = RawWS.open(gw.port, path="/l")
    ws.send(build_frame(OP_TEXT, b"first"))
    ws.send(build_frame(OP_TEXT, b"second\n"))          # kept as it is
    ws.send(build_frame(OP_TEXT, "d\u00e9j\u00e0".encode(), fin=False))
    ws.send(build_frame(0x0, b" vu"))                   # one message
    ws.send(build_frame(OP_BINARY, b""))                # an empty line
    c = rec.wait_conn()
    want = "first\nsecond\nd\u00e9j\u00e0 vu\n\n".encode()
    wait_for(lambda: bytes(c.received) == want, 10,
             what="lines at the backend: %r" % bytes(c.received))
    ws.send_close(1000)
    ws.expect_close(1000)


def test_long_lines_split_between_characters(gateway, backends):
    line = ("\u00e9" * 20).encode()        # 40 bytes
    be = backends(segments_handler_fast([line + b"\n" + b"x" * 33 + b"\n"]))
    gw = gateway(routes=[("/l", {"backend": be.spec, "framing": "line",
                                 "line_max": "16"})])
    ws = RawWS.open(gw.port, path="/l")
    frames, close = collect(ws)
    assert close.close_code == 1000
    assert [p for _, p in frames] == [("\u00e9" * 8).encode()] * 2 + \
        [("\u00e9" * 4).encode(), b"x" * 16, b"x" * 16, b"x"]
    assert all(op == OP_TEXT for op, _ in frames)


def test_line_overflow_close_is_1009(gateway, backends):
    be = backends(segments_handler_fast([b"short\n", b"y" * 100 + b"\n"]))
    gw = gateway(routes=[("/l", {"backend": be.spec, "framing": "line",
                                 "line_max": "64",
                                 "line_overflow": "close"})])
    ws = RawWS.open(gw.port, path="/l")
    frames, close = collect(ws)
    assert frames == [(OP_TEXT, b"short")]
    assert close.close_code == 1009


def test_invalid_utf8_binary_or_1007(gateway, backends):
    segs = [b"good\n", b"bad \xff\xfe line\n", b"good again\n"]
    be = backends(segments_handler_fast(segs))
    gw = gateway(routes=[("/l", {"backend": be.spec, "framing": "line"})])
    ws = RawWS.open(gw.port, path="/l")
    frames, close = collect(ws)
    assert frames == [(OP_TEXT, b"good"), (OP_BINARY, b"bad \xff\xfe line"),
                      (OP_TEXT, b"good again")]
    assert close.close_code == 1000
    be2 = backends(segments_handler_fast(segs))
    gw2 = gateway(routes=[("/l", {"backend": be2.spec, "framing": "line",
                                  "line_invalid": "close"})])
    ws = RawWS.open(gw2.port, path="/l")
    frames, close = collect(ws)
    assert frames == [(OP_TEXT, b"good")]
    assert close.close_code == 1007


def test_text_framing_cuts_between_characters(gateway, backends):
    text = "h\u00e9llo \u20ac \U0001F600 fin".encode()
    # every byte on its own: no text message may hold half a character
    be = backends(segments_handler([bytes([b]) for b in text]))
    gw = gateway(routes=[("/t", {"backend": be.spec, "framing": "text"})])
    ws = RawWS.open(gw.port, path="/t")
    frames, close = collect(ws)
    assert close.close_code == 1000
    assert all(op == OP_TEXT for op, _ in frames)
    for _, p in frames:
        p.decode()                      # each one whole UTF-8
    assert b"".join(p for _, p in frames) == text


def test_line_framing_with_compression(gateway, backends):
    lines = ["%d: %s" % (i, "compressible text " * 10) for i in range(50)]
    be = backends(segments_handler_fast(
        ["\n".join(lines).encode() + b"\n"]))
    gw = gateway(routes=[("/l", {"backend": be.spec, "framing": "line",
                                 "compression": "on"})])

    async def go():
        got = []
        async with websockets.connect(gw.url("/l"),
                                      compression="deflate") as ws:
            assert "permessage-deflate" in \
                ws.response_headers["Sec-WebSocket-Extensions"]
            try:
                while True:
                    got.append(await ws.recv())
            except websockets.ConnectionClosedOK:
                pass
        return got
    assert run_async(go()) == lines
