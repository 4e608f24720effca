#!/bin/bash
# profile.sh: where wsgate's time goes in stream-up, stream-down and echo.
#   bench/profile.sh [WSGATE_BINARY]     (default: ../build/release/wsgate)
#   PROFILE_MODES="stream-up stream-down echo connect" picks the modes.
# For each direction: one loadgen run of PROFILE_SECS (3) seconds while
#   perf stat   counts wsgate's syscalls (tracepoints), CPU time, context
#               switches, migrations and page faults, and
#   perf record samples wsgate's stacks (-g) for the same window;
# then prints CPU (user and system, from /proc/PID/stat) and syscalls per
# MiB relayed, message or cycle, and the top symbols. Output and the
# perf.data files go to bench/out/profile-<stamp>/. Needs perf (Debian
# linux-perf) and permission to use it (root, or perf_event_paranoid <= 1).
# PROFILE_ENV="K=V ..." is put in wsgate's environment (for experiments).
# PROFILE_PEER=haproxy profiles HAProxy in TCP mode instead (raw TCP
# loadgen, same backend), to compare the same counts.
# PROFILE_TLS=1: every mode over TLS 1.3, as make bench's wss rows (one
# ECDSA P-256 certificate made here, TLS_AES_128_GCM_SHA256; HAProxy
# terminating TLS with `bind ... ssl crt`); connect is then a full
# handshake cycle.
# PROFILE_WORKERS=N: `workers = N` for wsgate and `nbthread N` for HAProxy
# (unset: their defaults, `auto` and one thread per CPU, as make bench).
# PROFILE_CONNS=N: loadgen -n (unset: the loadgen's default per mode, but
# 32 for connect, as make bench).
set -u
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
WSGATE_BIN=${1:-$TOP/build/release/wsgate}
SECS=${PROFILE_SECS:-3}
P=${BENCH_PORT:-23100}
OUT=$BENCH_DIR/out/profile-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "profile: perf not found" >&2; exit 1; }
make -s -C "$BENCH_DIR" all >/dev/null || exit 1

B_ECHO=$((P + 1)); B_SINK=$((P + 4)); B_SOURCE=$((P + 5)); B_CTL=$((P + 9)); W_PORT=$((P + 10))
TLS=${PROFILE_TLS:-0}
WORKERS=${PROFILE_WORKERS:-}
TLS_LISTEN=""; HA_SSL=""; LG_TLS=""
if [ "$TLS" = 1 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj /CN=localhost -days 2 -keyout "$OUT/key.pem" \
	    -out "$OUT/cert.pem" >"$OUT/openssl.log" 2>&1 ||
	    { echo "profile: openssl req failed" >&2; exit 1; }
	chmod 600 "$OUT/key.pem"
	cat "$OUT/cert.pem" "$OUT/key.pem" > "$OUT/both.pem"
	chmod 600 "$OUT/both.pem"
	TLS_LISTEN=" tls"; HA_SSL=" ssl crt $OUT/both.pem"; LG_TLS="-S"
fi
{
cat <<EOF
[gateway]
listen = 127.0.0.1:$W_PORT$TLS_LISTEN
log_level = warn
heartbeat_interval = 0
drain_timeout = 1s
EOF
[ -n "$WORKERS" ] && echo "workers = $WORKERS"
[ "$TLS" = 1 ] && cat <<EOF
[tls]
certificate = $OUT/cert.pem
private_key = $OUT/key.pem
min_version = TLS1.3
ciphersuites = TLS_AES_128_GCM_SHA256
EOF
cat <<EOF
[route /echo]
backend = tcp:127.0.0.1:$B_ECHO
[route /sink]
backend = tcp:127.0.0.1:$B_SINK
max_message_size = 0
[route /source]
backend = tcp:127.0.0.1:$B_SOURCE
EOF
} > "$OUT/wsgate.conf"

PIDS=""
cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
"$BENCH_DIR/backend" -e $B_ECHO -k $B_SINK -s $B_SOURCE -c $B_CTL 2>"$OUT/backend.log" &
PIDS="$PIDS $!"
PEER=${PROFILE_PEER:-wsgate}
case $PEER in
wsgate)
	env ${PROFILE_ENV:-} "$WSGATE_BIN" -d -c "$OUT/wsgate.conf" \
	    2>"$OUT/wsgate.log" &
	NAME="wsgate: $WSGATE_BIN ($("$WSGATE_BIN" --version 2>/dev/null))" ;;
haproxy)
	command -v haproxy >/dev/null ||
	    { echo "profile: haproxy not found" >&2; exit 1; }
	{
		printf 'global\n    maxconn 9900\n'
		[ -n "$WORKERS" ] && printf '    nbthread %s\n' "$WORKERS"
		[ "$TLS" = 1 ] && printf '    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256\n    ssl-default-bind-options ssl-min-ver TLSv1.3\n'
		printf 'defaults\n    mode tcp\n'
		printf '    timeout connect 5s\n    timeout client 1h\n'
		printf '    timeout server 1h\n'
		for l in "echo $W_PORT $B_ECHO" "sink $((W_PORT + 1)) $B_SINK" \
		    "source $((W_PORT + 2)) $B_SOURCE"; do
			set -- $l
			printf 'listen %s\n    bind 127.0.0.1:%s%s\n' $1 $2 "$HA_SSL"
			printf '    server s1 127.0.0.1:%s\n' $3
		done
	} > "$OUT/haproxy.cfg"
	haproxy -db -f "$OUT/haproxy.cfg" 2>"$OUT/haproxy.log" &
	NAME="haproxy: $(haproxy -v | head -1)" ;;
*) echo "profile: PROFILE_PEER=$PEER?" >&2; exit 2 ;;
esac
GW=$!
PIDS="$PIDS $GW"
sleep 0.5
kill -0 $GW 2>/dev/null || { echo "profile: $PEER did not start" >&2; exit 1; }

# user and system CPU seconds of a process (utime + stime ticks)
proc_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, "")
	    printf "%.3f %.3f\n", $12 / hz, $13 / hz }' "/proc/$1/stat"
}

EV=task-clock,context-switches,cpu-migrations,page-faults
for s in readv writev read write recvfrom sendto epoll_wait epoll_ctl ioctl \
    accept4 connect close socket shutdown setsockopt getsockopt getpeername \
    getsockname fcntl futex madvise brk mmap munmap mprotect getrandom; do
	EV="$EV,syscalls:sys_enter_$s"
done

echo "$NAME$([ "$TLS" = 1 ] && echo ", over TLS 1.3")$([ -n "$WORKERS" ] && echo ", $WORKERS worker(s)")"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in ${PROFILE_MODES:-stream-up stream-down echo}; do
	case $mode in
	stream-up) path=/sink; unit=MiB; port=$((W_PORT + 1)) ;;
	stream-down) path=/source; unit=MiB; port=$((W_PORT + 2)) ;;
	echo) path=/echo; unit=msg; port=$W_PORT ;;
	connect) path=/echo; unit=cycle; port=$W_PORT ;;
	*) echo "profile: mode $mode?" >&2; continue ;;
	esac
	read -r u0 s0 <<<"$(proc_cpu $GW)"
	perf stat -x, -e "$EV" -p $GW -o "$OUT/$mode.stat" -- sleep "$SECS" &
	ST=$!
	perf record -q -g -p $GW -o "$OUT/$mode.data" -- sleep "$SECS" \
	    2>"$OUT/$mode.record.log" &
	RE=$!
	sleep 0.1
	if [ $PEER = haproxy ]; then
		args="-r -p $port"
	else
		args="-p $W_PORT -u $path"
	fi
	n=${PROFILE_CONNS:-}
	[ -z "$n" ] && [ $mode = connect ] && n=32
	[ -n "$n" ] && args="$args -n $n"
	line=$("$BENCH_DIR/loadgen" -m $mode $args $LG_TLS -C $B_CTL -P $GW \
	    -t "$SECS" -W 0)
	wait $ST $RE
	read -r u1 s1 <<<"$(proc_cpu $GW)"
	echo
	echo "== $mode: $line"
	if [ $unit = msg ]; then
		# per echoed message (1 KiB up and 1 KiB down)
		per=$(echo "$line" | sed -n 's/.* msgs=\([0-9]*\).*/\1/p')
	elif [ $unit = cycle ]; then
		per=$(echo "$line" | sed -n 's/.* cycles=\([0-9]*\).*/\1/p')
	else
		per=$(echo "$line" | sed -n 's/.* bytes=\([0-9]*\).*/\1/p')
		per=$(( ${per:-0} / 1048576 ))
	fi
	awk -v u="$u0 $u1" -v s="$s0 $s1" -v per="${per:-0}" -v unit=$unit 'BEGIN {
	    split(u, a, " "); split(s, b, " "); if (per == 0) exit
	    printf "  user %.1f us, system %.1f us per %s (/proc/PID/stat)\n",
		(a[2] - a[1]) * 1e6 / per, (b[2] - b[1]) * 1e6 / per, unit }'
	awk -F, -v per="${per:-0}" -v unit=$unit -v peer=$PEER '
	    /^#/ || NF < 3 { next }
	    $3 == "task-clock" { printf "  %s CPU: %.0f ms, %.1f us per %s\n", peer, $1, per ? $1 * 1000 / per : 0, unit; next }
	    $3 == "context-switches" || $3 == "cpu-migrations" ||
	    $3 == "page-faults" { printf "  %-16s %9d  %8.2f per %s\n", $3,
		$1, per ? $1 / per : 0, unit; next }
	    $1 + 0 > 0 { sub("syscalls:sys_enter_", "", $3);
		printf "  %-11s %9d calls  %8.2f per %s\n", $3, $1,
		    per ? $1 / per : 0, unit }' "$OUT/$mode.stat"
	echo "  self time by object:"
	perf report -i "$OUT/$mode.data" --no-children --sort dso --stdio \
	    2>/dev/null | grep -E '^ +[0-9.]+%' | head -6 | sed 's/^/  /'
	echo "  top symbols (self time, all threads):"
	perf report -i "$OUT/$mode.data" --no-children --sort dso,sym --stdio \
	    2>/dev/null | grep -E '^ +[0-9.]+%' | head -20 | sed 's/^/  /'
done
echo
echo "perf data: $OUT/*.data  (perf report -i FILE --children for call graphs)"
