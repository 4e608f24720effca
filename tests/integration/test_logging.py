"""log_format = json: every line is one JSON object; session ends and
refused handshakes are structured events with typed fields."""
import json

from conftest import RawWS, OP_BINARY, echo_handler, http_exchange


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
