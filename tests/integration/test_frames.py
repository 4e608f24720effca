"""Frame layer: protocol errors and their close codes, control frames,
fragmentation, UTF-8, message size limits, odd write patterns."""

import socket
import struct
import time

import pytest

from backendkit import (echo_handler, record_handler, source_handler,
                        source_stream_hash)
from basekit import MiB, wait_for
from probekit import window_shut
from wskit import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                   RawWS, build_frame, close_payload)
import hashlib


@pytest.fixture
def gw(gateway_factory, backends):
    echo = backends(echo_handler)
    rec = backends(record_handler)
    g = gateway_factory(routes=[
        ("/echo", {"backend": echo.spec}),
        ("/rec", {"backend": rec.spec}),
        ("/small", {"backend": echo.spec, "max_message_size": "64K"}),
    ])
    g.echo, g.rec = echo, rec
    return g


def echo_read(ws, n, timeout=5):
    got = b""
    while len(got) < n:
        f = ws.recv_frame(timeout=timeout)
        assert not f.masked, f
        if f.opcode in (OP_PING, OP_PONG):
            continue
        assert f.opcode in (OP_BINARY, OP_CONT), f
        got += f.payload
    return got


# ---------------------------------------------------------------- errors

PROTOCOL_ERRORS = {
    "unmasked": [build_frame(OP_BINARY, b"hello", mask=False)],
    "rsv1": [build_frame(OP_BINARY, b"hello", rsv=4)],
    "rsv2": [build_frame(OP_BINARY, b"hello", rsv=2)],
    "rsv3": [build_frame(OP_BINARY, b"hello", rsv=1)],
    "rsv-on-ping": [build_frame(OP_PING, b"x", rsv=4)],
    "opcode-3": [build_frame(0x3, b"hello")],
    "opcode-7": [build_frame(0x7, b"hello")],
    "opcode-0xb": [build_frame(0xB, b"hello")],
    "opcode-0xf": [build_frame(0xF, b"")],
    "ping-not-fin": [build_frame(OP_PING, b"x", fin=False)],
    "close-not-fin": [build_frame(OP_CLOSE, close_payload(1000), fin=False)],
    "ping-126-bytes": [build_frame(OP_PING, b"p" * 126)],
    "pong-200-bytes": [build_frame(OP_PONG, b"p" * 200)],
    "nonminimal-16": [build_frame(OP_BINARY, b"hello", length_form=16)],
    "nonminimal-64": [build_frame(OP_BINARY, b"h" * 200, length_form=64)],
    "nonminimal-64-small": [build_frame(OP_BINARY, b"hello", length_form=64)],
    "continuation-without-start": [build_frame(OP_CONT, b"hello")],
    "new-binary-inside-fragmented": [build_frame(OP_TEXT, b"abc", fin=False),
                                     build_frame(OP_BINARY, b"def")],
    "new-text-inside-fragmented": [build_frame(OP_BINARY, b"abc", fin=False),
                                   build_frame(OP_TEXT, b"def", fin=False)],
    "close-1-byte": [build_frame(OP_CLOSE, b"\x03")],
}


@pytest.mark.parametrize("name", sorted(PROTOCOL_ERRORS))
def test_protocol_error_1002(gw, name):
    ws = RawWS.open(gw.port, path="/rec")
    conn = gw.rec.wait_conn(0)
    for fr in PROTOCOL_ERRORS[name]:
        ws.send(fr)
    ws.expect_close(1002, timeout=5)
    conn.wait_eof(5)
    ws.close()


FAIL_CASES = {
    "unmasked": ([build_frame(OP_BINARY, b"x", mask=False)], 1002),
    "rsv1": ([build_frame(OP_BINARY, b"x", rsv=4)], 1002),
    "continuation-without-start": ([build_frame(OP_CONT, b"x")], 1002),
    "new-binary-inside-fragmented": ([build_frame(OP_TEXT, b"a", fin=False),
                                      build_frame(OP_BINARY, b"b")], 1002),
    "close-1-byte": ([build_frame(OP_CLOSE, b"\x03")], 1002),
    "bad-close-code": ([build_frame(OP_CLOSE, struct.pack("!H", 1005))], 1002),
    "invalid-utf8": ([build_frame(OP_TEXT, b"\xff")], 1007),
}


@pytest.mark.parametrize("name", sorted(FAIL_CASES))
def test_failed_connection_dropped_without_waiting(gw, name):
    """RFC 6455 7.1.7 / 8.1: on a protocol error the endpoint _Fails the
    WebSocket Connection_: it sends its close frame and closes the TCP
    connection without waiting for a close reply that a broken peer may
    never send. The raw client here never replies."""
    frames, code = FAIL_CASES[name]
    ws = RawWS.open(gw.port, path="/rec")
    gw.rec.wait_conn(0)
    for fr in frames:
        ws.send(fr)
    ws.expect_close(code, timeout=5)
    t0 = time.monotonic()
    try:
        ws.wait_eof(timeout=3)
    except socket.timeout:
        raise AssertionError("TCP connection still open %.0fs after close %d "
                             "(the gateway awaits a close reply)" % (3, code))
    assert time.monotonic() - t0 < 3
    ws.close()


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                                  2000, 2999, 5000, 65535])
def test_bad_close_code_1002(gw, code):
    ws = RawWS.open(gw.port, path="/echo")
    ws.send_frame(OP_CLOSE, struct.pack("!H", code) + b"bye")
    ws.expect_close(1002, timeout=5)
    ws.close()


def test_64bit_length_with_msb_set(gw):
    ws = RawWS.open(gw.port, path="/echo")
    # length field 2^63 + 5: RFC 6455 says the MSB must be 0
    head = struct.pack("!BBQ", 0x82, 0x80 | 127, (1 << 63) | 5) + b"\0\0\0\0" + b"hello"
    ws.send(head)
    _, f = ws.recv_until_close(timeout=5)
    assert f is not None and f.close_code in (1002, 1009), f
    ws.close()


# ---------------------------------------------------------------- UTF-8

INVALID_UTF8 = {
    "lone-continuation": b"abc\x80def",
    "overlong-slash": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "too-big": b"\xf4\x90\x80\x80",
    "truncated-at-end": b"ok\xe2\x82",
    "ff": b"\xff",
}


@pytest.mark.parametrize("name", sorted(INVALID_UTF8))
def test_invalid_utf8_text_1007(gw, name):
    ws = RawWS.open(gw.port, path="/rec")
    ws.send_frame(OP_TEXT, INVALID_UTF8[name])
    ws.expect_close(1007, timeout=5)
    ws.close()


def test_invalid_utf8_split_across_fragments_1007(gw):
    ws = RawWS.open(gw.port, path="/rec")
    # "\xe2\x82" is a valid prefix of a 3-byte sequence; "\x28" breaks it
    ws.send_frame(OP_TEXT, b"euro: \xe2\x82", fin=False)
    ws.send_frame(OP_CONT, b"\x28 nope", fin=True)
    ws.expect_close(1007, timeout=5)
    ws.close()


def test_truncated_utf8_at_message_end_1007(gw):
    ws = RawWS.open(gw.port, path="/rec")
    ws.send_frame(OP_TEXT, b"abc", fin=False)
    ws.send_frame(OP_CONT, b"\xf0\x9f\x98", fin=True)  # 3 of 4 bytes
    ws.expect_close(1007, timeout=5)
    ws.close()


def test_valid_utf8_split_across_fragments_relayed(gw):
    text = "price: 5€, smile: 😀, done".encode()
    i = text.index("€".encode()) + 1        # split inside €
    j = text.index("😀".encode()) + 2       # split inside 😀
    ws = RawWS.open(gw.port, path="/rec")
    conn = gw.rec.wait_conn(0)
    ws.send_frame(OP_TEXT, text[:i], fin=False)
    ws.send_frame(OP_CONT, text[i:j], fin=False)
    ws.send_frame(OP_CONT, text[j:], fin=True)
    wait_for(lambda: conn.nreceived >= len(text), 5, what="text at backend")
    assert bytes(conn.received) == text
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()


def test_text_utf8_split_across_tcp_segments(gw):
    """One text frame whose multi-byte characters straddle TCP writes."""
    text = ("Ünïcödé ✓ 😀 " * 20).encode()
    fr = build_frame(OP_TEXT, text)
    ws = RawWS.open(gw.port, path="/rec")
    conn = gw.rec.wait_conn(0)
    for i in range(0, len(fr), 3):
        ws.send(fr[i:i + 3])
        time.sleep(0.0005)
    wait_for(lambda: conn.nreceived >= len(text), 5, what="text at backend")
    assert bytes(conn.received) == text
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()


def test_utf8_state_survives_control_frames_between_fragments(gw):
    """A ping (with non-UTF-8 payload) between two fragments of a text
    message whose character straddles them: the message is valid."""
    ws = RawWS.open(gw.port, path="/rec")
    conn = gw.rec.wait_conn(0)
    ws.send_frame(OP_TEXT, b"a\xe2\x82", fin=False)
    ws.send_frame(OP_PING, b"\xff\xfe")
    ws.send_frame(OP_PONG, b"\xc0")
    ws.send_frame(OP_CONT, b"\xac b", fin=True)
    f = ws.recv_frame(timeout=5)
    while f.opcode != OP_PONG:
        assert f.opcode != OP_CLOSE, f
        f = ws.recv_frame(timeout=5)
    assert f.payload == b"\xff\xfe"
    wait_for(lambda: conn.nreceived >= 6, 5, what="text at backend")
    assert bytes(conn.received) == "a€ b".encode()
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()


def test_utf8_state_reset_between_messages(gw):
    """A binary message with arbitrary bytes after a text message, then
    text again: each text message is checked on its own."""
    ws = RawWS.open(gw.port, path="/rec")
    conn = gw.rec.wait_conn(0)
    ws.send_frame(OP_TEXT, "ok €".encode())
    ws.send_frame(OP_BINARY, b"\xe2\x82")         # not text: anything goes
    ws.send_frame(OP_TEXT, b"fine")
    want = "ok €".encode() + b"\xe2\x82" + b"fine"
    wait_for(lambda: conn.nreceived >= len(want), 5, what="messages at backend")
    assert bytes(conn.received) == want
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    ws.close()


def test_close_reason_invalid_utf8_1007(gw):
    ws = RawWS.open(gw.port, path="/echo")
    ws.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bad \xc3\x28")
    ws.expect_close(1007, timeout=5)
    ws.close()


def test_text_frames_relayed_as_bytes_and_returned_binary(gw):
    ws = RawWS.open(gw.port, path="/echo")
    ws.send_frame(OP_TEXT, "héllo wörld".encode())
    f = ws.recv_frame(timeout=5)
    assert f.opcode == OP_BINARY and not f.masked and f.rsv == 0
    got = f.payload
    got += echo_read(ws, len("héllo wörld".encode()) - len(got))
    assert got == "héllo wörld".encode()
    ws.close()


# ---------------------------------------------------------------- control

@pytest.mark.parametrize("payload", [b"", b"abc", bytes(range(125))])
def test_ping_answered_with_same_payload(gw, payload):
    ws = RawWS.open(gw.port, path="/echo")
    ws.send_frame(OP_PING, payload)
    f = ws.recv_frame(timeout=5)
    while f.opcode == OP_PING:  # a server heartbeat ping may come first
        f = ws.recv_frame(timeout=5)
    assert f.opcode == OP_PONG, f
    assert f.payload == payload
    assert not f.masked and f.fin
    ws.close()


def test_unsolicited_pong_ignored(gw):
    ws = RawWS.open(gw.port, path="/echo")
    ws.send_frame(OP_PONG, b"unsolicited")
    ws.send_frame(OP_BINARY, b"still fine")
    assert echo_read(ws, 10) == b"still fine"
    ws.close()


def test_ping_answered_promptly_under_bulk(gateway_factory, backends):
    """A pong is not queued behind all the bulk data: with 16 MiB waiting
    toward a client that does not read, the pong arrives before the
    client has read it all."""
    total = 16 * MiB
    src = backends(source_handler(total), keep=False)
    g = gateway_factory(routes=[("/src", {"backend": src.spec,
                                          "heartbeat_interval": "0"})])
    ws = RawWS.open(g.port, path="/src", rcvbuf=64 * 1024, timeout=30)
    conn = src.wait_conn(0)
    # let the pipe fill up: backend blocked, gateway buffered
    wait_for(lambda: conn.done.is_set() or window_shut(conn.sock), 10,
             what="the gateway to stop reading the backend")
    g.wait_idle()
    assert conn.nsent < total, "gateway absorbed all 16 MiB without a reader"
    ws.send_frame(OP_PING, b"are-you-there")
    t0 = time.monotonic()
    h = hashlib.sha256()
    nbefore = None
    nread = 0
    close = None
    deadline = time.monotonic() + 60
    while True:
        f = ws.recv_frame(timeout=max(0.1, deadline - time.monotonic()))
        if f.opcode == OP_PONG:
            assert f.payload == b"are-you-there"
            nbefore = nread
            tpong = time.monotonic() - t0
        elif f.opcode in (OP_BINARY, OP_CONT):
            h.update(f.payload)
            nread += len(f.payload)
        elif f.opcode == OP_CLOSE:
            close = f
            break
    assert nbefore is not None, "no pong at all"
    assert nbefore < total, "pong came only after all %d bytes" % total
    assert nread == total
    assert h.hexdigest() == source_stream_hash(total)
    assert close.close_code == 1000
    assert tpong < 10, "pong took %.1fs" % tpong
    ws.close()


# ---------------------------------------------------------------- fragments

def test_fragmented_message_relayed_with_ping_between(gw):
    ws = RawWS.open(gw.port, path="/rec")
    conn = gw.rec.wait_conn(0)
    ws.send_frame(OP_TEXT, b"Hel", fin=False)
    ws.send_frame(OP_CONT, b"lo, ", fin=False)
    ws.send_frame(OP_PING, b"mid")
    ws.send_frame(OP_CONT, b"world", fin=True)
    ws.send_frame(OP_BINARY, b"[", fin=False)
    ws.send_frame(OP_CONT, b"", fin=False)
    ws.send_frame(OP_CONT, b"]", fin=True)
    f = ws.recv_frame(timeout=5)
    assert f.opcode == OP_PONG and f.payload == b"mid"
    wait_for(lambda: conn.nreceived >= 14, 5, what="fragments at backend")
    assert bytes(conn.received) == b"Hello, world[]"
    ws.send_close(1000)
    ws.expect_close(1000, timeout=5)
    conn.wait_eof(5)
    ws.close()


def test_empty_frames_ok(gw):
    ws = RawWS.open(gw.port, path="/echo")
    ws.send_frame(OP_BINARY, b"")
    ws.send_frame(OP_TEXT, b"")
    ws.send_frame(OP_BINARY, b"after")
    assert echo_read(ws, 5) == b"after"
    ws.close()


# ---------------------------------------------------------------- limits

def test_message_at_limit_ok_over_limit_1009(gw):
    ws = RawWS.open(gw.port, path="/small")
    data = bytes(range(256)) * 256          # exactly 64 KiB
    ws.send_frame(OP_BINARY, data)
    assert echo_read(ws, len(data)) == data
    ws.send_frame(OP_BINARY, data + b"x")
    ws.expect_close(1009, timeout=5)
    ws.close()


def test_limit_is_per_message_not_per_session(gw):
    ws = RawWS.open(gw.port, path="/small")
    total = b""
    for i in range(5):                      # 5 x 40 KiB, each under 64 KiB
        m = bytes([i]) * 40000
        ws.send_frame(OP_BINARY, m)
        total += m
    ws.send_frame(OP_BINARY, b"x" * 30000, fin=False)   # 60000 in two parts
    ws.send_frame(OP_CONT, b"y" * 30000, fin=True)
    total += b"x" * 30000 + b"y" * 30000
    assert echo_read(ws, len(total), timeout=10) == total
    ws.close()


def test_fragmented_message_over_limit_1009(gw):
    ws = RawWS.open(gw.port, path="/small")
    part = b"f" * 30000
    ws.send_frame(OP_BINARY, part, fin=False)
    ws.send_frame(OP_CONT, part, fin=False)
    ws.send_frame(OP_CONT, part, fin=True)    # 90000 > 65536
    _, f = ws.recv_until_close(timeout=5)
    assert f is not None and f.close_code == 1009, f
    ws.close()


def test_limit_is_per_route(gw):
    """/echo keeps the default limit (16M): 200 KiB is fine there."""
    ws = RawWS.open(gw.port, path="/echo")
    data = bytes(range(256)) * 800
    ws.send_frame(OP_BINARY, data)
    assert echo_read(ws, len(data)) == data
    ws.close()


def test_gateway_section_defaults_apply_to_routes(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/dflt", {"backend": echo.spec}),
                                ("/over", {"backend": echo.spec,
                                           "max_message_size": "4K"})],
                        gateway={"max_message_size": "1K"})
    ws = RawWS.open(g.port, path="/over")
    ws.send_frame(OP_BINARY, b"o" * 2048)
    assert echo_read(ws, 2048) == b"o" * 2048
    ws.close()
    ws = RawWS.open(g.port, path="/dflt")
    ws.send_frame(OP_BINARY, b"d" * 1024)
    assert echo_read(ws, 1024) == b"d" * 1024
    ws.send_frame(OP_BINARY, b"d" * 2048)
    ws.expect_close(1009, timeout=5)
    ws.close()


def test_huge_declared_length_1009_without_payload(gw):
    """A header announcing 1 GiB is refused from the header alone."""
    ws = RawWS.open(gw.port, path="/small")
    ws.send(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 30) + b"\1\2\3\4" + b"x" * 100)
    ws.expect_close(1009, timeout=5)
    ws.close()


# ---------------------------------------------------------------- write patterns

def test_frame_written_one_byte_at_a_time(gw):
    ws = RawWS.open(gw.port, path="/echo")
    msg = b"one byte at a time, still one frame" * 5   # 175: 16-bit length
    fr = build_frame(OP_BINARY, msg)
    for i in range(len(fr)):
        ws.send(fr[i:i + 1])
        time.sleep(0.0005)
    assert echo_read(ws, len(msg)) == msg
    # a full-size ping, too, byte by byte
    pp = bytes(range(125))
    pf = build_frame(OP_PING, pp)
    for i in range(len(pf)):
        ws.send(pf[i:i + 1])
        time.sleep(0.0005)
    f = ws.recv_frame(timeout=5)
    while f.opcode == OP_PING:
        f = ws.recv_frame(timeout=5)
    assert f.opcode == OP_PONG and f.payload == pp
    # and a close with a reason
    cf = build_frame(OP_CLOSE, close_payload(4321, "trickled reason ✓"))
    for i in range(len(cf)):
        ws.send(cf[i:i + 1])
        time.sleep(0.0005)
    ws.expect_close(4321, timeout=5)     # the code is echoed (the reason need not be)
    ws.close()


def test_many_frames_in_one_write(gw):
    ws = RawWS.open(gw.port, path="/echo")
    msgs = [bytes([65 + i % 26]) * (i * 37 % 300) for i in range(200)]
    ws.send(b"".join(build_frame(OP_BINARY, m) for m in msgs))
    want = b"".join(msgs)
    assert echo_read(ws, len(want)) == want
    ws.close()


def test_frames_split_at_every_offset(gw):
    ws = RawWS.open(gw.port, path="/rec")
    conn = gw.rec.wait_conn(0)
    blob = (build_frame(OP_BINARY, b"A" * 130) + build_frame(OP_PING, b"q")
            + build_frame(OP_TEXT, b"B" * 5))
    for cut in range(1, len(blob), 7):
        ws.send(blob[:cut])
        time.sleep(0.002)
        ws.send(blob[cut:])
    n = len(range(1, len(blob), 7))
    want = (b"A" * 130 + b"B" * 5) * n
    wait_for(lambda: conn.nreceived >= len(want), 5, what="all split frames")
    assert bytes(conn.received) == want
    pongs = 0
    while pongs < n:
        f = ws.recv_frame(timeout=5)
        if f.opcode == OP_PONG:
            assert f.payload == b"q"
            pongs += 1
    ws.close()
