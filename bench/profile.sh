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
env ${PROFILE_ENV:-} "$WSGATE_BIN" -d -c "$OUT/wsgate.conf" 2>"$OUT/wsgate.log" &
GW=$!
PIDS="$PIDS $GW"
sleep 0.5
kill -0 $GW 2>/dev/null || { echo "profile: wsgate did not start" >&2; exit 1; }

EV=task-clock,context-switches
for s in readv writev read write recvfrom sendto epoll_wait epoll_ctl ioctl \
    accept4 connect close; do
	EV="$EV,syscalls:sys_enter_$s"
done

echo "wsgate: $WSGATE_BIN ($("$WSGATE_BIN" --version 2>/dev/null))"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in ${PROFILE_MODES:-stream-up stream-down echo}; do
	case $mode in
	stream-up) path=/sink; unit=MiB ;;
	stream-down) path=/source; unit=MiB ;;
	echo) path=/echo; unit=msg ;;
	connect) path=/echo; unit=cycle ;;
	*) echo "profile: mode $mode?" >&2; continue ;;
	esac
	perf stat -x, -e "$EV" -p $GW -o "$OUT/$mode.stat" -- sleep "$SECS" &
	ST=$!
	perf record -q -g -p $GW -o "$OUT/$mode.data" -- sleep "$SECS" \
	    2>"$OUT/$mode.record.log" &
	RE=$!
	sleep 0.1
	line=$("$BENCH_DIR/loadgen" -m $mode -p $W_PORT -u $path -C $B_CTL \
	    -P $GW -t "$SECS" -W 0)
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
	awk -F, -v per="${per:-0}" -v unit=$unit '
	    /^#/ || NF < 3 { next }
	    $3 == "task-clock" { printf "  wsgate CPU: %.0f ms, %.1f us per %s\n", $1, per ? $1 * 1000 / per : 0, unit; next }
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
