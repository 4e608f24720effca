#!/bin/bash
# token_lookup.sh: the handshake cost of a Redis token lookup against a
# token_file lookup and a plain route, with bench/loadgen's connect mode
# (handshake, one echo, close) on one wsgate worker. Starts its own
# redis-server (Debian), bench backend and wsgate on 127.0.0.1, stops them
# by pid, and a token API (python3 http.server) for a token_api route.
# Prints one loadgen line per (route, concurrency).
#   bench/token_lookup.sh               (builds ./wsgate and bench/ first)
#   TL_SECS=3 TL_CONNS="1 16" TL_PORT=24500 WSGATE=./wsgate
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
SECS=${TL_SECS:-3}
CONNS=${TL_CONNS:-1 16}
P=${TL_PORT:-24500}
WSGATE=${WSGATE:-$TOP/wsgate}
make -C "$TOP" --no-print-directory wsgate >/dev/null
make -C "$TOP/bench" --no-print-directory all >/dev/null
D=$(mktemp -d /tmp/wsgate-tl.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT INT TERM
wait_port() {
	i=0
	until (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && { echo "port $1 never opened" >&2; exit 1; }
		sleep 0.05
	done
}
"$TOP/bench/backend" -e $((P + 1)) -c $((P + 9)) >"$D/backend.log" 2>&1 &
PIDS="$PIDS $!"
printf 'port %d\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\n' \
    $((P + 2)) "$D" >"$D/redis.conf"
redis-server "$D/redis.conf" >"$D/redis.log" 2>&1 &
PIDS="$PIDS $!"
wait_port $((P + 2))
redis-cli -p $((P + 2)) SET tok:t "127.0.0.1:$((P + 1))" >/dev/null
echo "t: 127.0.0.1:$((P + 1))" >"$D/tokens"
# A token API (HTTP/1.1, kept alive; TL_API_HTTP10=1: HTTP/1.0, one
# connection per lookup) answering every token with the backend.
/usr/bin/python3 - $((P + 4)) "127.0.0.1:$((P + 1))" "${TL_API_HTTP10:-0}" \
    >"$D/api.log" 2>&1 <<'PY' &
import http.server, sys
port, target, http10 = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0" if http10 == "1" else "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are two writes
    def log_message(self, *a):
        pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(target)))
        self.end_headers()
        self.wfile.write(target)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
PIDS="$PIDS $!"
wait_port $((P + 4))
cat >"$D/g.conf" <<EOF
[gateway]
listen = 127.0.0.1:$((P + 3))
workers = 1
redis = 127.0.0.1:$((P + 2))
heartbeat_interval = 0
log_level = warn
[route /plain]
backend = tcp:127.0.0.1:$((P + 1))
[route /file]
token_file = $D/tokens
[route /redis]
token_redis = on
token_redis_prefix = tok:
[route /api]
token_api = http://127.0.0.1:$((P + 4))/t/%s
EOF
"$WSGATE" -d -c "$D/g.conf" >"$D/wsgate.log" 2>&1 &
WPID=$!
PIDS="$PIDS $WPID"
wait_port $((P + 3))
wait_port $((P + 9))
for n in $CONNS; do
	for u in "/plain" "/file?token=t" "/redis?token=t" "/api?token=t"; do
		printf '%-16s ' "$u"
		"$TOP/bench/loadgen" -m connect -p $((P + 3)) -u "$u" -t "$SECS" \
		    -n "$n" -P "$WPID" 2>&1 | tail -1
	done
done
