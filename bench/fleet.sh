#!/bin/bash
# fleet.sh: `make bench-fleet`. What the fleet's Redis costs a handshake and
# a session, on loopback, with a real redis-server:
#   connect, no redis       connect cycles on a plain route, wsgate alone
#   connect, registry       the same with redis set: each session's entry
#                           is written (HSET) and removed (HDEL)
#   connect, token_file     ?token= looked up in a token_file (in memory)
#   connect, token_redis    ?token= looked up with GET in Redis (a wait)
#   idle, registry          N idle sessions: Redis memory per entry
# A connect cycle: TCP connect, upgrade, one byte echoed, close handshake
# (bench/loadgen -m connect, 32 at once). Each row: the median of
# FLEET_RUNS runs of FLEET_SECS seconds: cycles/s, wsgate CPU µs per cycle,
# redis-server CPU µs per cycle (from INFO cpu).
#
# Knobs: FLEET_RUNS=3, FLEET_SECS=2, FLEET_IDLE=5000, WSGATE=binary,
# BENCH_PORT=23400 (base of the loopback ports). Only 127.0.0.1; every
# process started here is stopped by pid at exit.
set -u
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${FLEET_RUNS:-3}
SECS=${FLEET_SECS:-2}
IDLE=${FLEET_IDLE:-5000}
P=${BENCH_PORT:-23400}
WSGATE_BIN=${WSGATE:-$TOP/wsgate}
OUT=$BENCH_DIR/out/fleet-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$OUT"
LOADGEN=$BENCH_DIR/loadgen
REDIS_PORT=$((P + 1)); B_ECHO=$((P + 2)); W_PORT=$((P + 3))

command -v redis-server >/dev/null ||
    { echo "fleet: redis-server not found (sh packaging/install-deps.sh test)" >&2; exit 1; }
make -s -C "$BENCH_DIR" all >/dev/null || { echo "fleet: bench build failed" >&2; exit 1; }
[ -x "$WSGATE_BIN" ] || make -s -C "$TOP" wsgate >/dev/null ||
    { echo "fleet: cannot build wsgate" >&2; exit 1; }

PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

wait_port() {	# wait_port PORT: until something accepts there (10 s)
	local i
	for i in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "fleet: nothing listens on $1" >&2
	return 1
}

rcli() {	# rcli ARGS...: one command, RESP by hand (no redis-cli needed)
	local a out
	out="*$#\r\n"
	for a in "$@"; do out="$out\$${#a}\r\n$a\r\n"; done
	exec 5<>"/dev/tcp/127.0.0.1/$REDIS_PORT"
	printf "$out*1\r\n\$4\r\nQUIT\r\n" >&5
	tr -d '\r' <&5 | grep -v '^+OK$'
	exec 5<&-
}

redis_cpu_us() {	# used_cpu_sys + used_cpu_user, in µs
	exec 5<>"/dev/tcp/127.0.0.1/$REDIS_PORT"
	printf '*2\r\n$4\r\nINFO\r\n$3\r\ncpu\r\n*1\r\n$4\r\nQUIT\r\n' >&5
	tr -d '\r' <&5 | awk -F: '/^used_cpu_(sys|user):/ { s += $2 }
	    END { printf "%.0f\n", s * 1e6 }'
	exec 5<&-
}

redis_mem() {
	exec 5<>"/dev/tcp/127.0.0.1/$REDIS_PORT"
	printf '*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n*1\r\n$4\r\nQUIT\r\n' >&5
	tr -d '\r' <&5 | awk -F: '/^used_memory:/ { print $2 }'
	exec 5<&-
}

printf 'bind 127.0.0.1\nport %d\nsave ""\nappendonly no\ndir %s\nlogfile %s/redis.log\n' \
    "$REDIS_PORT" "$OUT" "$OUT" > "$OUT/redis.conf"
redis-server "$OUT/redis.conf" & PIDS="$PIDS $!"
"$BENCH_DIR/backend" -e "$B_ECHO" > "$OUT/backend.log" 2>&1 & PIDS="$PIDS $!"
wait_port "$REDIS_PORT" && wait_port "$B_ECHO" || exit 1
printf 'bench: 127.0.0.1:%d\n' "$B_ECHO" > "$OUT/targets"
rcli SET bench "127.0.0.1:$B_ECHO" >/dev/null

TOKEN_REDIS_OK=1
gw_conf() {	# gw_conf WITH_REDIS
	echo "[gateway]"
	echo "listen = 127.0.0.1:$W_PORT"
	echo "workers = 1"
	echo "log_level = warn"
	echo "heartbeat_interval = 0"
	[ "$1" = 1 ] && echo "redis = 127.0.0.1:$REDIS_PORT"
	echo "[route /plain]"
	echo "backend = tcp:127.0.0.1:$B_ECHO"
	echo "[route /tf]"
	echo "token_file = $OUT/targets"
	if [ "$1" = 1 ] && [ $TOKEN_REDIS_OK = 1 ]; then
		echo "[route /tr]"
		echo "token_redis = on"
	fi
}

GW_PID=""
start_gw() {	# start_gw WITH_REDIS
	gw_conf "$1" > "$OUT/gw$1.conf"
	if ! "$WSGATE_BIN" -t -c "$OUT/gw$1.conf" > "$OUT/gw$1.check" 2>&1; then
		if [ "$1" = 1 ] && [ $TOKEN_REDIS_OK = 1 ]; then
			echo "fleet: token_redis not available in this build; that row is left out" >&2
			TOKEN_REDIS_OK=0
			gw_conf "$1" > "$OUT/gw$1.conf"
		fi
	fi
	"$WSGATE_BIN" -d -c "$OUT/gw$1.conf" >> "$OUT/gw$1.log" 2>&1 &
	GW_PID=$!
	PIDS="$PIDS $GW_PID"
	wait_port "$W_PORT"
	sleep 0.3	# Redis connection up (logged as "connected")
}

stop_gw() {
	kill "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	GW_PID=""
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# row LABEL PATH: RUNS connect runs; prints cycles/s, µs/cycle, redis µs/cycle
row() {
	local label=$1 path=$2 i line cyc cpu r0 r1 n
	: > "$OUT/row.tmp"
	for i in $(seq "$RUNS"); do
		r0=$(redis_cpu_us)
		line=$("$LOADGEN" -m connect -p "$W_PORT" -u "$path" -n 32 \
		    -t "$SECS" -W 0.5 -P "$GW_PID" 2>&1 | tail -1)
		r1=$(redis_cpu_us)
		echo "$label run $i: $line" >> "$OUT/results.txt"
		cyc=$(sed -n 's/.*cycles_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
		cpu=$(sed -n 's/.*cpu_us_per_cycle=\([0-9.]*\).*/\1/p' <<<"$line")
		n=$(sed -n 's/.* cycles=\([0-9]*\).*/\1/p' <<<"$line")
		[ -n "$cyc" ] || { echo "fleet: $label: $line" >&2; continue; }
		echo "$cyc $cpu $(awk -v a="$r0" -v b="$r1" -v n="$n" \
		    'BEGIN { printf "%.1f", (n > 0 ? (b - a) / n : 0) }')" \
		    >> "$OUT/row.tmp"
	done
	printf '| %s | %s | %s | %s |\n' "$label" \
	    "$(cut -d' ' -f1 "$OUT/row.tmp" | median)" \
	    "$(cut -d' ' -f2 "$OUT/row.tmp" | median)" \
	    "$(cut -d' ' -f3 "$OUT/row.tmp" | median)"
}

{
echo "| connect cycles (32 at once) | cycles/s | wsgate CPU µs/cycle | redis CPU µs/cycle |"
echo "|---|---|---|---|"
start_gw 0
row "plain route, no redis" /plain
row "token_file lookup, no redis" "/tf?token=bench"
stop_gw
start_gw 1
row "plain route, registry in redis" /plain
row "token_file lookup, registry in redis" "/tf?token=bench"
[ $TOKEN_REDIS_OK = 1 ] && row "token_redis lookup (GET), registry in redis" "/tr?token=bench"
m0=$(redis_mem)
"$LOADGEN" -m idle -p "$W_PORT" -u /plain -n "$IDLE" -H 2 > "$OUT/idle.txt" 2>&1 &
LG=$!
sleep 1.5
m1=$(redis_mem)
entries=$(rcli HLEN "wsgate:fleet:sessions:$(hostname)" | tail -1 | tr -dc 0-9)
wait $LG
stop_gw
echo
echo "| idle sessions | entries in redis | redis memory per session, bytes |"
echo "|---|---|---|"
awk -v n="$IDLE" -v e="${entries:-0}" -v a="$m0" -v b="$m1" \
    'BEGIN { printf "| %d | %d | %.0f |\n", n, e, (e > 0 ? (b - a) / e : 0) }'
} | tee "$OUT/table.md"
echo "fleet: raw results in $OUT" >&2
