"""Process backends (backend = exec:PROGRAM ARG...): real programs behind
real clients. bc as a calculator service, a script that prints its
environment, one that ignores SIGTERM, one that exits non-zero, one that
writes 50 MiB, one that leaves a child behind; max_processes; stderr in
the log; 200 sessions in a row leave no process and no descriptor."""
import hashlib
import os
import re
import signal
import stat
import time
import urllib.request

import pytest

from basekit import MiB, wait_for
from faultkit import fd_count, prlimit_wrapper
from gatewaykit import WSGATE_BIN
from wskit import OP_BINARY, OP_TEXT, RawWS

BC = "/usr/bin/bc"


def script(tmp_path, name, body):
    """An executable /bin/sh script in tmp_path."""
    p = os.path.join(str(tmp_path), name)
    with open(p, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(p, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH
             | stat.S_IXOTH)
    return p


def gone(pid):
    """True when pid is no process (a zombie counts as gone: its parent
    may be an init that reaps late)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def children(pid):
    """Live processes whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def recv_text(ws, timeout=10.0):
    f = ws.recv_frame(timeout=timeout)
    assert f.opcode == OP_TEXT, f
    return f.payload.decode()


def test_bc_answers_line_by_line_and_quit_closes_1000(gateway):
    gw = gateway(routes=[("/bc", {"backend": "exec:%s -q" % BC,
                                  "framing": "line"})])
    ws = RawWS.open(gw.port, path="/bc")
    ws.send_frame(OP_TEXT, b"2+3")
    assert recv_text(ws) == "5"
    # one message is one line for bc, a newline is added
    ws.send_frame(OP_TEXT, b"scale=3; 1/3")
    assert recv_text(ws) == ".333"
    ws.send_frame(OP_TEXT, b"2^100\n")     # a newline of its own: kept
    assert recv_text(ws) == "1267650600228229401496703205376"
    ws.send_frame(OP_TEXT, b"quit")
    f = ws.expect_close(1000)
    assert f.close_reason == "backend program exited"
    ws.close()
    lines = gw.wait_session_lines(1, route="/bc")
    assert lines[0]["code"] == "1000"


def test_environment_is_websocketd_s(gateway, tmp_path):
    prog = script(tmp_path, "env.sh", "env\n")
    gw = gateway(routes=[("/env/*", {"backend": "exec:" + prog,
                                     "framing": "line",
                                     "exec_env": ["WSG_PASSED",
                                                  "WSG_SET=a b, c"]})],
                 env={"WSG_PASSED": "yes", "WSG_SECRET": "no"})
    ws = RawWS.open(gw.port, path="/env/sub/a%20b?x=1&y=%41",
                    host="gw.example:8080",
                    extra=["X-Foo-Bar: one", "x-foo-bar: two",
                           "Proxy: http://evil/"])
    local_port = ws.sock.getsockname()[1]
    env = {}
    while True:
        f = ws.recv_frame(timeout=10)
        if f.opcode == 0x8:
            assert f.close_code == 1000
            break
        k, _, v = f.payload.decode().partition("=")
        env[k] = v
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(local_port)
    assert env["REQUEST_URI"] == "/env/sub/a%20b?x=1&y=%41"
    assert env["QUERY_STRING"] == "x=1&y=%41"
    assert env["SCRIPT_NAME"] == "/env"
    assert env["PATH_INFO"] == "/sub/a b"
    assert env["SERVER_NAME"] == "gw.example"
    assert env["SERVER_PORT"] == "8080"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_SOFTWARE"].startswith("wsgate/")
    assert env["HTTP_X_FOO_BAR"] == "one, two"
    assert env["HTTP_UPGRADE"] == "websocket"
    assert "HTTP_PROXY" not in env
    assert "HTTPS" not in env
    assert env["UNIQUE_ID"].isdigit()
    # only what the route passes through of wsgate's own environment
    assert env["WSG_PASSED"] == "yes"
    assert env["WSG_SET"] == "a b, c"
    assert "WSG_SECRET" not in env
    assert "HOME" not in env
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"


def test_non_zero_exit_closes_1011_with_status_after_output(gateway, tmp_path):
    prog = script(tmp_path, "fail.sh", "echo partial; echo last; exit 3\n")
    gw = gateway(routes=[("/f", {"backend": "exec:" + prog,
                                 "framing": "line"})])
    ws = RawWS.open(gw.port, path="/f")
    assert recv_text(ws) == "partial"
    assert recv_text(ws) == "last"
    f = ws.expect_close(1011)
    assert f.close_reason == "backend program exited with status 3"


def test_killed_program_closes_1011_with_signal(gateway, tmp_path):
    prog = script(tmp_path, "kill.sh", "echo $$; exec sleep 1000\n")
    gw = gateway(routes=[("/k", {"backend": "exec:" + prog,
                                 "framing": "line"})])
    ws = RawWS.open(gw.port, path="/k")
    pid = int(recv_text(ws))
    os.kill(pid, signal.SIGKILL)
    f = ws.expect_close(1011)
    assert f.close_reason.startswith("backend program killed by signal 9")


def test_program_ignoring_sigterm_gets_sigkill(gateway, tmp_path):
    prog = script(tmp_path, "stubborn.sh",
                  "trap '' TERM\necho $$\nwhile :; do sleep 0.05; done\n")
    gw = gateway(routes=[("/s", {"backend": "exec:" + prog,
                                 "framing": "line",
                                 "exec_kill_timeout": "300ms"})])
    ws = RawWS.open(gw.port, path="/s")
    pid = int(recv_text(ws))
    t0 = time.monotonic()
    ws.send_close(1000)
    ws.expect_close(1000)
    wait_for(lambda: gone(pid), 10, what="stubborn pid %d gone" % pid)
    # not before the timeout: it ignored SIGTERM
    assert time.monotonic() - t0 >= 0.25
    gw.wait_log(r"pid %d group killed after exec_kill_timeout" % pid)


def test_nothing_of_the_process_outlives_the_session(gateway, tmp_path):
    # a child in the background that would live on, and one that
    # ignores SIGTERM
    prog = script(tmp_path, "parent.sh",
                  "sleep 1000 &\necho $!\n"
                  "sh -c 'trap \"\" TERM; while :; do sleep 0.05; done' &\n"
                  "echo $!\necho $$\ncat\n")
    gw = gateway(routes=[("/p", {"backend": "exec:" + prog,
                                 "framing": "line",
                                 "exec_kill_timeout": "200ms"})])
    ws = RawWS.open(gw.port, path="/p")
    pids = [int(recv_text(ws)) for _ in range(3)]
    ws.abort()      # the client just vanishes
    for pid in pids:
        wait_for(lambda: gone(pid), 10, what="pid %d gone" % pid)


def test_fifty_mib_of_output_is_delivered_then_1000(gateway, tmp_path):
    total = 50 * MiB
    prog = script(tmp_path, "big.sh",
                  "yes 0123456789abcdef | head -c %d\n" % total)
    gw = gateway(routes=[("/big", {"backend": "exec:" + prog})])
    ws = RawWS.open(gw.port, path="/big", timeout=60)
    h = hashlib.sha256()
    got = 0
    while True:
        f = ws.recv_frame(timeout=60)
        if f.opcode == 0x8:
            assert f.close_code == 1000
            break
        assert f.opcode == OP_BINARY
        h.update(f.payload)
        got += len(f.payload)
    assert got == total
    want = hashlib.sha256()
    line = b"0123456789abcdef\n"
    data = line * (total // len(line) + 1)
    want.update(data[:total])
    assert h.hexdigest() == want.hexdigest()


def test_client_bytes_reach_stdin_and_eof_follows_close(gateway, tmp_path):
    # wc counts what the client sent; it answers only at stdin's EOF,
    # which comes when the client closes
    prog = script(tmp_path, "wc.sh", "wc -c > %s/count\n" % tmp_path)
    gw = gateway(routes=[("/wc", {"backend": "exec:" + prog})])
    ws = RawWS.open(gw.port, path="/wc")
    for _ in range(64):
        ws.send_frame(OP_BINARY, b"x" * 16384)
    ws.send_close(1000)
    ws.expect_close(1000)
    path = os.path.join(str(tmp_path), "count")
    wait_for(lambda: os.path.exists(path) and open(path).read().strip(),
             10, what="wc output")
    assert open(path).read().strip() == str(64 * 16384)


def test_stderr_lines_are_logged_with_the_session_id(gateway, tmp_path):
    prog = script(tmp_path, "err.sh",
                  "echo 'something went wrong' >&2\necho ok\n")
    gw = gateway(routes=[("/e", {"backend": "exec:" + prog,
                                 "framing": "line"})])
    ws = RawWS.open(gw.port, path="/e")
    assert recv_text(ws) == "ok"
    ws.expect_close(1000)
    ws.close()
    line = gw.wait_session_lines(1, route="/e")[0]
    gw.wait_log(r"session %s: pid \d+ stderr: something went wrong"
                % line["id"])


def open_if_a_slot(port):
    """A session on /cat if max_processes has room (101), else None (503)."""
    w = RawWS.open(port, path="/cat", expect=None)
    if w.status == 101:
        return w
    assert w.status == 503
    w.close()
    return None


def test_max_processes_answers_503_beyond(gateway):
    gw = gateway(routes=[("/cat", {"backend": "exec:/bin/cat",
                                   "max_processes": "2"})])
    a = RawWS.open(gw.port, path="/cat")
    b = RawWS.open(gw.port, path="/cat")
    c = RawWS.open(gw.port, path="/cat", expect=503)
    c.close()
    a.send_close(1000)
    a.expect_close(1000)
    a.close()

    # the slot comes back once the process is gone
    d = wait_for(lambda: open_if_a_slot(gw.port), 10, what="a slot again")
    d.send_frame(OP_BINARY, b"hi")
    assert d.recv_frame().payload == b"hi"
    for w in (b, d):
        w.send_close(1000)
        w.expect_close(1000)


def test_max_processes_holds_across_a_reload(gateway):
    """A reload (same config) makes a new generation while the old one's
    programs run on: they still count against max_processes."""
    gw = gateway(routes=[("/cat", {"backend": "exec:/bin/cat",
                                   "max_processes": "2"})],
                 gateway={"workers": 1})
    a = RawWS.open(gw.port, path="/cat")
    b = RawWS.open(gw.port, path="/cat")
    gw.send_signal(signal.SIGHUP)
    gw.wait_log(r"reloaded ")
    RawWS.open(gw.port, path="/cat", expect=503).close()
    gw.wait_log(r"refused: max_processes 2 reached")
    assert len(children(gw.pid)) == 2, children(gw.pid)
    a.send_close(1000)
    a.expect_close(1000)
    a.close()

    # the old generation's slot comes back
    c = wait_for(lambda: open_if_a_slot(gw.port), 10, what="a slot again")
    RawWS.open(gw.port, path="/cat", expect=503).close()
    for w in (b, c):
        w.send_frame(OP_BINARY, b"hi")
        assert w.recv_frame().payload == b"hi"
        w.send_close(1000)
        w.expect_close(1000)


NOFILE = 64


def test_low_open_files_limit_refuses_programs_with_503(gateway_factory,
                                                        tmp_path):
    """RLIMIT_NOFILE 64: a program costs the daemon more descriptors than
    a socket backend (its stderr pipe, its pidfd), and admission counts
    them: once full, clients get 503 and the refusal is logged, never a
    500 from a spawn that ran out of descriptors. Service resumes."""
    wrapper = prlimit_wrapper(tmp_path, WSGATE_BIN, NOFILE)
    if wrapper is None:
        pytest.skip("prlimit (util-linux) is not installed")
    gw = gateway_factory(routes=[("/cat", {"backend": "exec:/bin/cat",
                                           "heartbeat_interval": "0"})],
                         gateway={"workers": 1}, binary=wrapper)
    fds0 = fd_count(gw.pid)
    held, status = [], None
    for i in range(NOFILE):
        w = RawWS.open(gw.port, path="/cat", expect=None)
        if w.status != 101:
            status = w.status
            w.close()
            break
        w.send_frame(OP_BINARY, b"n%d" % i)
        assert w.recv_frame().payload == b"n%d" % i
        held.append(w)
    assert status == 503, "refused with %s after %d sessions:\n%s" % (
        status, len(held), gw.log_tail())
    assert len(held) >= 4, len(held)
    gw.wait_log(r"refusing connections with 503: open-files limit reached")
    assert "cannot start" not in gw.log_text()
    assert fd_count(gw.pid) <= NOFILE
    for w in held:
        w.send_close(1000)
        w.expect_close(1000)
        w.close()
    wait_for(lambda: children(gw.pid) == [], 10, what="every cat gone")
    wait_for(lambda: fd_count(gw.pid) <= fds0, 10, what="descriptors back")
    w = RawWS.open(gw.port, path="/cat")
    w.send_frame(OP_BINARY, b"again")
    assert w.recv_frame().payload == b"again"
    w.send_close(1000)
    w.expect_close(1000)


def exec_metrics(admin_port):
    """(wsgate_exec_processes, wsgate_exec_spawn_failures_total)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port,
                                timeout=5) as r:
        text = r.read().decode()
    out = []
    for name, kind in (("wsgate_exec_processes", "gauge"),
                       ("wsgate_exec_spawn_failures_total", "counter")):
        assert "# TYPE %s %s\n" % (name, kind) in text, text
        out.append(int(re.search(r"^%s (\d+)$" % name, text, re.M).group(1)))
    return tuple(out)


def test_metrics_count_live_programs_and_spawn_failures(gateway, tmp_path):
    prog = script(tmp_path, "cat.sh", "exec cat\n")
    gw = gateway(routes=[("/c", {"backend": "exec:" + prog})],
                 gateway={"admin_listen": "127.0.0.1:{admin_port}"})
    aport = gw.admin_port
    assert exec_metrics(aport) == (0, 0)
    a = RawWS.open(gw.port, path="/c")
    b = RawWS.open(gw.port, path="/c")
    assert exec_metrics(aport) == (2, 0)
    a.send_close(1000)
    a.expect_close(1000)
    a.close()
    wait_for(lambda: exec_metrics(aport) == (1, 0), 10,
             what="one program left")
    os.chmod(prog, 0o644)             # can no longer be started
    RawWS.open(gw.port, path="/c", expect=500).close()
    assert exec_metrics(aport) == (1, 1)
    b.send_close(1000)
    b.expect_close(1000)
    wait_for(lambda: exec_metrics(aport) == (0, 1), 10, what="none left")


def test_missing_user_is_500_and_nothing_runs(gateway):
    if os.getuid() != 0:
        pytest.skip("user needs root")
    gw = gateway(routes=[("/u", {"backend": "exec:/bin/cat",
                                 "user": "no-such-user-here"})])
    RawWS.open(gw.port, path="/u", expect=500).close()
    gw.wait_log(r"cannot start exec:/bin/cat: user no-such-user-here: "
                r"no such user")
    assert children(gw.pid) == []


def test_user_and_cwd(gateway, tmp_path):
    if os.getuid() != 0:
        pytest.skip("user needs root")
    # (tmp_path is root's alone: a program nobody can run)
    gw = gateway(routes=[("/w", {"backend": "exec:/bin/sh -c 'id -un; pwd'",
                                 "framing": "line", "user": "nobody",
                                 "cwd": "/tmp"})])
    ws = RawWS.open(gw.port, path="/w")
    assert recv_text(ws) == "nobody"
    assert recv_text(ws) == "/tmp"
    ws.expect_close(1000)


def test_drain_and_reload_leave_no_process(gateway, tmp_path):
    prog = script(tmp_path, "pid.sh", "echo $$\nexec cat\n")
    gw = gateway(routes=[("/c", {"backend": "exec:" + prog,
                                 "framing": "line",
                                 "exec_kill_timeout": "200ms"})])
    a = RawWS.open(gw.port, path="/c")
    pa = int(recv_text(a))
    gw.send_signal(signal.SIGHUP)
    gw.wait_log(r"reload")
    # the live session keeps its process across the reload
    a.send_frame(OP_TEXT, b"still here")
    assert recv_text(a) == "still here"
    b = RawWS.open(gw.port, path="/c")
    pb = int(recv_text(b))
    rc = gw.stop(signal.SIGTERM, timeout=15)
    assert rc == 0
    for pid in (pa, pb):
        wait_for(lambda: gone(pid), 10, what="pid %d gone" % pid)


def test_two_hundred_sessions_leave_no_process_and_no_fd(gateway):
    gw = gateway(routes=[("/cat", {"backend": "exec:/bin/cat"})])
    # one session first: lazily opened descriptors (resolver, log) count
    # in the baseline
    ws = RawWS.open(gw.port, path="/cat")
    ws.send_frame(OP_BINARY, b"warm")
    assert ws.recv_frame().payload == b"warm"
    ws.send_close(1000)
    ws.expect_close(1000)
    wait_for(lambda: children(gw.pid) == [], 10, what="no child")
    base = nfds(gw.pid)
    for i in range(200):
        ws = RawWS.open(gw.port, path="/cat")
        msg = b"message %d" % i
        ws.send_frame(OP_BINARY, msg)
        assert ws.recv_frame().payload == msg
        if i % 2:
            ws.send_close(1000)
            ws.expect_close(1000)
        else:
            ws.abort()
    wait_for(lambda: children(gw.pid) == [], 20,
             what="every cat gone: %s" % children(gw.pid))
    wait_for(lambda: nfds(gw.pid) <= base, 10,
             what="descriptors back to %d (now %d)" % (base, nfds(gw.pid)))


def test_program_gone_after_load_is_500(gateway, tmp_path):
    prog = script(tmp_path, "gone.sh", "echo hi\n")
    gw = gateway(routes=[("/g", {"backend": "exec:" + prog})])
    os.chmod(prog, 0o644)         # no longer executable
    RawWS.open(gw.port, path="/g", expect=500).close()
    gw.wait_log(r"cannot start exec:%s: %s: Permission denied"
                % (prog, prog))
    assert children(gw.pid) == []
    os.chmod(prog, 0o755)
    ws = RawWS.open(gw.port, path="/g")
    assert ws.recv_frame().payload == b"hi\n"
    ws.expect_close(1000)


def test_many_sessions_at_once_never_stall_the_worker(gateway):
    """32 clients at once, each opening, echoing a byte through /bin/cat
    and closing, over and over. Found by the websocketd bench: the read
    end of a program's stderr pipe was a blocking descriptor, and a
    read on it could stop a whole worker (no 101 for anyone after)."""
    import threading
    gw = gateway(routes=[("/cat", {"backend": "exec:/bin/cat",
                                   "max_processes": "0"})])
    errors, done = [], []

    def client(k):
        try:
            for i in range(15):
                ws = RawWS.open(gw.port, path="/cat", timeout=10)
                ws.send_frame(OP_BINARY, b"%d.%d" % (k, i))
                assert ws.recv_frame().payload == b"%d.%d" % (k, i)
                ws.send_close(1000)
                ws.expect_close(1000)
                ws.close()
            done.append(k)
        except Exception as e:     # noqa: BLE001 - reported below
            errors.append("%d: %r" % (k, e))
    threads = [threading.Thread(target=client, args=(k,)) for k in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and len(done) == 32, errors[:5]
    wait_for(lambda: children(gw.pid) == [], 20, what="every cat gone")


async def _exec_cycles(port, path, slots, cycles, sizes, deadline):
    """slots connections at once, each doing cycles sessions one after
    another: upgrade, one binary message of sizes[i % len(sizes)] bytes,
    every byte back through the program, close 1000 both ways. Returns
    the number of sessions that got their bytes back and the first
    failures."""
    import asyncio
    import base64
    import struct
    from wskit import build_frame, close_payload, OP_CLOSE

    done, errors = [0], []

    async def read_frame(r):
        b0, b1 = await r.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await r.readexactly(8))[0]
        return b0 & 0x0F, await r.readexactly(n)

    async def one(k, i):
        size = sizes[(k + i) % len(sizes)]
        data = bytes((k * 31 + i + j) & 0xFF for j in range(size))
        r, w = await asyncio.open_connection("127.0.0.1", port)
        try:
            key = base64.b64encode(os.urandom(16))
            # the head and the message in one write: pipelined
            w.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: " + key + b"\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n" +
                    build_frame(OP_BINARY, data))
            head = await r.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101"), head
            got = bytearray()
            while len(got) < size:
                op, payload = await read_frame(r)
                assert op == OP_BINARY, (op, payload[:40])
                got += payload
            assert bytes(got) == data, "bytes differ"
            w.write(build_frame(OP_CLOSE, close_payload(1000)))
            op, payload = await read_frame(r)
            assert op == OP_CLOSE and payload[:2] == b"\x03\xe8", \
                (op, payload)
            done[0] += 1
        finally:
            w.close()

    async def slot(k):
        for i in range(cycles):
            try:
                await asyncio.wait_for(one(k, i), deadline)
            except Exception as e:     # noqa: BLE001 - reported below
                errors.append("slot %d cycle %d: %r" % (k, i, e))
                return

    await asyncio.gather(*(slot(k) for k in range(slots)))
    return done[0], errors[:5]


def test_back_to_back_sessions_get_every_byte_from_both_workers(gateway,
                                                                 tmp_path):
    """32 connections at once, 40 sessions each, back to back through a
    cat that writes a stderr line last: every session gets every byte of
    its message (1 B to 70 KiB: within, at and past the 4 KiB first read)
    and its close. The bench's exec: row (bench/beyond.sh) once made 0
    cycles/s: a worker blocked reading an empty stderr pipe that looked
    readable (a reused descriptor number of an open file a program being
    spawned still held). Both legs and the stderr pipe read through
    leg_read.c; a worker that blocks shows here as a session past its
    10 s deadline."""
    import asyncio
    prog = script(tmp_path, "cat.sh",
                  "cat\nprintf 'cat done' >&2\n")
    gw = gateway(routes=[("/cat", {"backend": "exec:" + prog,
                                   "max_processes": "0"})])
    done, errors = asyncio.run(_exec_cycles(
        gw.port, "/cat", 32, 40, [1, 4095, 4096, 4097, 70000, 17], 10))
    assert errors == [] and done == 32 * 40, (done, errors)
    wait_for(lambda: children(gw.pid) == [], 20, what="every program gone")
    # the stderr line without a newline, logged at the pipe's EOF
    gw.wait_log(r"pid \d+ stderr: cat done", timeout=10)
