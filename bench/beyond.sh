#!/bin/bash
# beyond.sh: `make bench`, the rows of issue 16 (after run.sh):
#   exec       wsgate `backend = exec:/bin/cat` and websocketd (Debian
#              `websocketd`, --binary /bin/cat) side by side: connect
#              cycles per second (loadgen -m connect: connect, handshake,
#              one byte through the program, close), CPU per cycle (the
#              server and its programs), and PSS per open session (the
#              server and every program, fresh processes, N sessions)
#   deflate    a text-like stream (JSON log lines) from a TCP backend read
#              through wsgate with compression on and off: wire bytes and
#              wsgate CPU per MiB
# Knobs: BENCH_RUNS=3, BENCH_SECS=2, BENCH_EXEC_SESSIONS=100,
# BENCH_DEFLATE_MIB=64, BENCH_PORT_BEYOND=23100 (23100..23109),
# BENCH_INSTALL=1 (apt-get install websocketd when missing), WSGATE=path.
# Results: a table on stdout and in out/<stamp>-beyond/table.md.
# Only 127.0.0.1; processes started here are stopped by pid at exit.
set -u
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECS:-2}
NSESS=${BENCH_EXEC_SESSIONS:-100}
MIB=${BENCH_DEFLATE_MIB:-64}
P=${BENCH_PORT_BEYOND:-23100}
# WSGATE=path: that binary as it is; else ./wsgate, built first (make is
# a no-op when it is fresh; a stale one would be measured otherwise).
WSGATE_GIVEN=${WSGATE:-}
WSGATE=${WSGATE:-$TOP/wsgate}
LOADGEN=$BENCH_DIR/loadgen
PY=/usr/bin/python3
OUT=$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-beyond
mkdir -p "$OUT"
W_PORT=$P; D_PORT=$((P + 1)); Z_PORT=$((P + 2)); Z_BACKEND=$((P + 3))

log() { printf '%s\n' "$*" | tee -a "$OUT/run.log" >&2; }
STARTED=""
start_bg() {	# start_bg NAME CMD...; sets BG_PID
	local name=$1; shift
	"$@" >> "$OUT/$name.log" 2>&1 &
	BG_PID=$!
	STARTED="$STARTED $BG_PID"
}
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	STARTED=$(echo "$STARTED" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
}
cleanup() { local pid; for pid in $STARTED; do stop_pid "$pid"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_port() {
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	return 1
}
# utime + stime + cutime + cstime of PID in clock ticks: the server and
# the programs it has reaped (loadgen -T sees live children only).
ticks() { awk '{sub(/.*\) /, ""); print $12 + $13 + $14 + $15}' "/proc/$1/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "-")}'; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p"; }

# Our ports must be free: a stale listener would answer in our place.
for port in $(seq "$P" $((P + 9))); do
	if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
		log "bench: port $port is in use; set BENCH_PORT_BEYOND"
		exit 1
	fi
done
if [ -z "$WSGATE_GIVEN" ]; then
	make -C "$TOP" --no-print-directory wsgate >&2 ||
	    { log "bench: wsgate does not build"; exit 1; }
fi
[ -x "$WSGATE" ] || { log "bench: $WSGATE is not executable"; exit 1; }
make -C "$BENCH_DIR" --no-print-directory loadgen >&2
if ! command -v websocketd >/dev/null 2>&1 && [ "${BENCH_INSTALL:-1}" = 1 ]; then
	sh "$TOP/packaging/install-deps.sh" only websocketd >&2 || true
fi
cat > "$OUT/gateway.conf" <<CONF
[gateway]
listen             = 127.0.0.1:$W_PORT
listen             = 127.0.0.1:$Z_PORT
log_level          = warn
heartbeat_interval = 0

[route /cat]
backend            = exec:/bin/cat
max_processes      = 0

[route /z-on]
backend            = tcp:127.0.0.1:$Z_BACKEND
compression        = on

[route /z-off]
backend            = tcp:127.0.0.1:$Z_BACKEND
CONF
start_wsgate() {
	start_bg wsgate "$WSGATE" -d -c "$OUT/gateway.conf"
	W_PID=$BG_PID
	wait_port $W_PORT || { log "bench: wsgate did not start"; exit 1; }
}
start_websocketd() {
	D_PID=""
	command -v websocketd >/dev/null 2>&1 || return 1
	start_bg websocketd websocketd --port=$D_PORT --address=127.0.0.1 \
	    --binary --loglevel=error /bin/cat
	D_PID=$BG_PID
	wait_port $D_PORT || { stop_pid "$D_PID"; D_PID=""; return 1; }
}

# --- connect cycles, interleaved runs --------------------------------------
start_wsgate
start_websocketd || log "bench: no websocketd (apt-get install websocketd)"
: > "$OUT/connect.txt"
for run in $(seq "$RUNS"); do
	for peer in wsgate websocketd; do
		if [ $peer = wsgate ]; then port=$W_PORT path=/cat pid=$W_PID
		else [ -n "$D_PID" ] || continue; port=$D_PORT path=/ pid=$D_PID
		fi
		t0=$(ticks "$pid")
		r=$("$LOADGEN" -m connect -p $port -u $path -n 32 -t "$SECS" \
		    -W 0.5 -P "$pid" -T 2>>"$OUT/loadgen.log")
		t1=$(ticks "$pid")
		# warm-up cycles are not counted by loadgen: per cycle over the
		# whole run, cycles scaled by (secs + warm-up) / secs
		all=$(echo "$r" | field cycles | awk -v s="$SECS" \
		    '{printf "%d", $1 * (s + 0.5) / s}')
		tree_us=$(awk -v a="$t0" -v b="$t1" -v n="$all" \
		    -v hz="$(getconf CLK_TCK)" \
		    'BEGIN {printf "%.1f", (b - a) / hz * 1e6 / (n ? n : 1)}')
		echo "peer=$peer run=$run $r tree_us_per_cycle=$tree_us" |
		    tee -a "$OUT/connect.txt" >&2
	done
done
stop_pid "$W_PID"; [ -n "$D_PID" ] && stop_pid "$D_PID"

# --- PSS per open session: fresh processes ---------------------------------
: > "$OUT/pss.txt"
start_wsgate
r=$($PY "$BENCH_DIR/beyond.py" pss $W_PORT /cat "$NSESS" "$W_PID")
echo "peer=wsgate $r" | tee -a "$OUT/pss.txt" >&2
stop_pid "$W_PID"
if start_websocketd; then
	r=$($PY "$BENCH_DIR/beyond.py" pss $D_PORT / "$NSESS" "$D_PID")
	echo "peer=websocketd $r" | tee -a "$OUT/pss.txt" >&2
	stop_pid "$D_PID"
fi

# --- compression: wire bytes and CPU per MiB --------------------------------
: > "$OUT/deflate.txt"
start_wsgate
for path in /z-on /z-off; do
	r=$($PY "$BENCH_DIR/beyond.py" deflate $Z_PORT $path "$MIB" "$W_PID")
	echo "path=$path $r" | tee -a "$OUT/deflate.txt" >&2
done
stop_pid "$W_PID"

# --- the table -----------------------------------------------------------------
cyc() { grep "peer=$1 " "$OUT/connect.txt" | field cycles_per_s | median; }
cpu() { grep "peer=$1 " "$OUT/connect.txt" | field tree_us_per_cycle | median; }
pss() { grep "peer=$1 " "$OUT/pss.txt" | field pss_per_session_kib; }
zb() { grep "path=$1 " "$OUT/deflate.txt" | field wire_bytes_per_mib; }
zc() { grep "path=$1 " "$OUT/deflate.txt" | field cpu_ms_per_mib; }
{
	echo "| exec: /bin/cat ($RUNS runs, median) | wsgate | websocketd |"
	echo "|---|---|---|"
	echo "| connect cycles/s (32 in flight) | $(cyc wsgate) | $(cyc websocketd) |"
	echo "| CPU µs per cycle (server + programs) | $(cpu wsgate) | $(cpu websocketd) |"
	echo "| PSS KiB per open session ($NSESS open, programs included) | $(pss wsgate) | $(pss websocketd) |"
	echo
	echo "| compression ($MIB MiB of JSON log lines) | on | off |"
	echo "|---|---|---|"
	echo "| wire bytes per MiB | $(zb /z-on) | $(zb /z-off) |"
	echo "| wsgate CPU ms per MiB | $(zc /z-on) | $(zc /z-off) |"
} | tee "$OUT/table.md"
