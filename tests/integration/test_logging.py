"""log_format = json: every line is one JSON object; session ends and
refused handshakes are structured events with typed fields."""
import json

from backendkit import echo_handler
from wskit import OP_BINARY, RawWS, http_exchange


def test_json_log_lines_are_structured_events(gateway_factory, backends):
    echo = backends(echo_handler)
    g = gateway_factory(routes=[("/echo", {"backend": echo.spec})],
                        gateway={"log_format": "json"})
    ws = RawWS.open(g.port, path="/echo")
    ws.send_frame(OP_BINARY, b"hello")
    assert ws.recv_frame(timeout=5).payload == b"hello"
    ws.send_close(1000, b"bye")
    ws.expect_close(1000, timeout=5)
    ws.close()
    head, _ = RawWS.request_head(path="/missing")
    r = http_exchange(g.port, head)
    assert r.status == 404
    r.close()
    g.wait_log(r'"event":"handshake_refused"')
    g.wait_log(r'"event":"session_end"')
    assert g.stop() == 0
    events = []
    for line in g.log_text().splitlines():
        if line.startswith("###"):
            continue            # the harness's own header line
        obj = json.loads(line)  # every line the daemon wrote parses
        assert obj["level"] in ("error", "warn", "info", "debug")
        if "event" in obj:
            events.append(obj)
    end = [e for e in events if e["event"] == "session_end"]
    assert len(end) == 1
    assert end[0]["route"] == "/echo"
    assert end[0]["up"] == 5 and end[0]["down"] == 5
    assert end[0]["code"] == 1000
    assert end[0]["cause"] == "client sent close 1000"
    refused = [e for e in events if e["event"] == "handshake_refused"]
    assert refused and refused[0]["status"] == 404


def test_long_request_paths_are_logged_whole(gateway_factory, tmp_path):
    """Log lines that echo client input are not cut at a fixed size: a
    static request's path (visible ASCII, up to max_header_size) appears
    whole in its debug line, status and all, in text and in JSON."""
    root = tmp_path / "www"
    root.mkdir()
    path = "/files/" + "".join("seg%04d/" % i for i in range(500)) + "end"
    assert len(path) > 4000
    for fmt in ("text", "json"):
        g = gateway_factory(routes=[("/files/*", {"root": str(root)})],
                            gateway={"log_level": "debug",
                                     "log_format": fmt})
        r = http_exchange(g.port, ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
                                   % path).encode())
        assert r.status == 404
        r.close()
        line = g.wait_log(r"client=\S+ GET /files/\S*: 404").group(0)
        assert path in line
        if fmt == "json":
            for text in g.log_text().splitlines():
                if not text.startswith("###"):
                    json.loads(text)
        g.stop()
