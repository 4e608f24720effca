#!/bin/bash
# profile.sh: where wsgate's time goes in stream-up, stream-down and echo.
#   bench/profile.sh [WSGATE_BINARY]     (default: ../build/release/wsgate)
#   PROFILE_MODES="stream-up stream-down echo connect" picks the modes.
# For each direction: one loadgen run of PROFILE_SECS (3) seconds while
#   perf stat   counts wsgate's syscalls (tracepoints) and CPU time, and
#   perf record samples wsgate's stacks (-g) for the same window;
# then prints syscalls per MiB relayed and the top symbols. Output and the
# perf.data files go to bench/out/profile-<stamp>/. Needs perf (Debian
# linux-perf) and permission to use it (root, or perf_event_paranoid <= 1).
# PROFILE_ENV="K=V ..." is put in wsgate's environment (for experiments).
# PROFILE_PEER=haproxy profiles HAProxy in TCP mode instead (raw TCP
# loadgen, same backend), to compare the same counts.
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
cat > "$OUT/wsgate.conf" <<EOF
[gateway]
listen = 127.0.0.1:$W_PORT
log_level = warn
heartbeat_interval = 0
drain_timeout = 1s
[route /echo]
backend = tcp:127.0.0.1:$B_ECHO
[route /sink]
backend = tcp:127.0.0.1:$B_SINK
max_message_size = 0
[route /source]
backend = tcp:127.0.0.1:$B_SOURCE
EOF

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
		printf 'global\n    maxconn 9900\ndefaults\n    mode tcp\n'
		printf '    timeout connect 5s\n    timeout client 1h\n'
		printf '    timeout server 1h\n'
		for l in "echo $W_PORT $B_ECHO" "sink $((W_PORT + 1)) $B_SINK" \
		    "source $((W_PORT + 2)) $B_SOURCE"; do
			set -- $l
			printf 'listen %s\n    bind 127.0.0.1:%s\n' $1 $2
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

EV=task-clock,context-switches
for s in readv writev read write recvfrom sendto epoll_wait epoll_ctl ioctl \
    accept4 connect close socket shutdown setsockopt getsockopt getpeername \
    getsockname fcntl; do
	EV="$EV,syscalls:sys_enter_$s"
done

echo "$NAME"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in ${PROFILE_MODES:-stream-up stream-down echo}; do
	case $mode in
	stream-up) path=/sink; unit=MiB; port=$((W_PORT + 1)) ;;
	stream-down) path=/source; unit=MiB; port=$((W_PORT + 2)) ;;
	echo) path=/echo; unit=msg; port=$W_PORT ;;
	connect) path=/echo; unit=cycle; port=$W_PORT ;;
	*) echo "profile: mode $mode?" >&2; continue ;;
	esac
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
	line=$("$BENCH_DIR/loadgen" -m $mode $args -C $B_CTL -P $GW \
	    -t "$SECS" -W 0)
	wait $ST $RE
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
	awk -F, -v per="${per:-0}" -v unit=$unit -v peer=$PEER '
	    /^#/ || NF < 3 { next }
	    $3 == "task-clock" { printf "  %s CPU: %.0f ms, %.1f us per %s\n", peer, $1, per ? $1 * 1000 / per : 0, unit; next }
	    $3 == "context-switches" { printf "  context switches: %s\n", $1; next }
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
