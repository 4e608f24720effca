#!/bin/bash
# token_lookup.sh: the handshake cost of a Redis token lookup against a
# token_file lookup and a plain route, with bench/loadgen's connect mode
# (handshake, one echo, close) on one wsgate worker. Starts its own
# redis-server (Debian), bench backend and wsgate on 127.0.0.1, stops them
# by pid. Prints one loadgen line per (route, concurrency).
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
EOF
"$WSGATE" -d -c "$D/g.conf" >"$D/wsgate.log" 2>&1 &
WPID=$!
PIDS="$PIDS $WPID"
wait_port $((P + 3))
wait_port $((P + 9))
for n in $CONNS; do
	for u in "/plain" "/file?token=t" "/redis?token=t"; do
		printf '%-16s ' "$u"
		"$TOP/bench/loadgen" -m connect -p $((P + 3)) -u "$u" -t "$SECS" \
		    -n "$n" -P "$WPID" 2>&1 | tail -1
	done
done
