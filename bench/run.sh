#!/bin/bash
# run.sh: `make bench`. Builds wsgate, starts the bench backend, and runs the
# same load generator against each peer:
#   direct      raw TCP straight to the backend (the ceiling)
#   wsgate      this project, WebSocket
#   haproxy     HAProxy in TCP mode (Debian `haproxy`), raw TCP
#   websockify  Debian `websockify` (Python), WebSocket
# Every cell is the median of its runs; a ratio to HAProxy (or direct) is the
# median of the per-round ratios (see "1. rates"). One table comes out at the end
# (also written to out/<stamp>/table.md), with every raw result line in
# out/<stamp>/results.txt and every process's log next to it.
#
# Knobs (environment):
#   BENCH_QUICK=1        1 run per cell, 1 s runs, smaller idle/large/hold
#   BENCH_ROUNDS=5       rounds of the rate modes (stream, echo, rtt, connect,
#                        wss-*): every peer runs once per round, back to back
#                        (default: BENCH_RUNS when that is set, else 5)
#   BENCH_SECS=2         measuring seconds per rate run (after BENCH_WARM=0.5)
#   BENCH_RUNS=3         runs per cell of idle and large (fresh peer each)
#   BENCH_PEERS="direct wsgate haproxy websockify"
#   BENCH_MODES="verify stream-up stream-down echo rtt connect wss-stream-up
#                wss-stream-down wss-echo wss-connect idle large hold"
#                wss-*: the same runs over TLS 1.3 (wsgate and haproxy only;
#                one ECDSA P-256 certificate, TLS_AES_128_GCM_SHA256, both
#                servers issuing session tickets, the loadgen never resuming)
#   BENCH_IDLE_CONNS=10000           idle sessions (wsgate, haproxy)
#   BENCH_IDLE_CONNS_WEBSOCKIFY=100  websockify forks a process per session
#   BENCH_HOLD_CONNS=50000           wsgate only: hold this many idle (0: skip)
#   BENCH_LARGE_BYTES=1073741824     the one large frame
#   BENCH_LARGE_WEBSOCKIFY_SECS=20   websockify gets one bounded try
#   BENCH_WORKERS=auto   `workers =` for wsgate, if its config accepts the key
#   BENCH_PIN=P:L        run the peer on CPUs P and the loadgen and backend on
#                        CPUs L (taskset -c lists: "0:1", "0-3:4-7"), so the
#                        peer has cores of its own; unset, all share them.
#                        wsgate's auto workers and HAProxy's default nbthread
#                        both follow the peer's CPUs
#   BENCH_INSTALL=1      apt-get install haproxy websockify when missing
#   BENCH_PORT=23000     base of the loopback ports used (23000..23099); keep
#                        it below net.ipv4.ip_local_port_range, or a busy
#                        ephemeral port can take a listener's place
#   WSGATE=path          a wsgate binary to use instead of building one
#   BENCH_REV=HEAD       build wsgate from this git revision (out of tree)
# Only 127.0.0.1 is used. Processes started here are stopped by pid at exit.
set -u
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-1}; ROUNDS=${BENCH_ROUNDS:-$RUNS}
	SECS=${BENCH_SECS:-1}; WARM=${BENCH_WARM:-0.3}
	IDLE_N=${BENCH_IDLE_CONNS:-2000}; HOLD_N=${BENCH_HOLD_CONNS:-0}
	LARGE=${BENCH_LARGE_BYTES:-268435456}
else
	RUNS=${BENCH_RUNS:-3}; ROUNDS=${BENCH_ROUNDS:-${BENCH_RUNS:-5}}
	SECS=${BENCH_SECS:-2}; WARM=${BENCH_WARM:-0.5}
	IDLE_N=${BENCH_IDLE_CONNS:-10000}; HOLD_N=${BENCH_HOLD_CONNS:-50000}
	LARGE=${BENCH_LARGE_BYTES:-1073741824}
fi
IDLE_N_WSK=${BENCH_IDLE_CONNS_WEBSOCKIFY:-100}
LARGE_WSK_SECS=${BENCH_LARGE_WEBSOCKIFY_SECS:-$([ "$QUICK" = 1 ] && echo 5 || echo 20)}
PEERS=${BENCH_PEERS:-direct wsgate haproxy websockify}
MODES=${BENCH_MODES:-verify stream-up stream-down echo rtt connect wss-stream-up wss-stream-down wss-echo wss-connect idle large hold}
WORKERS=${BENCH_WORKERS:-auto}
PIN=${BENCH_PIN:-}
PIN_PEER=""; PIN_LOAD=""
if [ -n "$PIN" ]; then
	case $PIN in
	?*:?*) ;;
	*) echo "bench: BENCH_PIN=$PIN: want PEER_CPUS:LOAD_CPUS, as 0:1" >&2
	   exit 2 ;;
	esac
	command -v taskset >/dev/null ||
	    { echo "bench: BENCH_PIN needs taskset (util-linux)" >&2; exit 2; }
	taskset -c "${PIN%%:*}" true && taskset -c "${PIN#*:}" true ||
	    { echo "bench: BENCH_PIN=$PIN: no such CPUs here" >&2; exit 2; }
	PIN_PEER="taskset -c ${PIN%%:*}"; PIN_LOAD="taskset -c ${PIN#*:}"
fi
P=${BENCH_PORT:-23000}

# Ports: backend echo x3, sink, source, control; wsgate x3 + 1 TLS;
# haproxy x3 + 3 TLS; websockify x3.
B_ECHO1=$((P + 1)); B_ECHO2=$((P + 2)); B_ECHO3=$((P + 3))
B_SINK=$((P + 4)); B_SOURCE=$((P + 5)); B_CTL=$((P + 9))
W_PORTS="$((P + 10)),$((P + 11)),$((P + 12))"; W_PORT=$((P + 10))
H_ECHO=$((P + 20)); H_SINK=$((P + 21)); H_SOURCE=$((P + 22))
W_TLS=$((P + 13))
H_TLS_ECHO=$((P + 23)); H_TLS_SINK=$((P + 24)); H_TLS_SOURCE=$((P + 25))
K_ECHO=$((P + 30)); K_SINK=$((P + 31)); K_SOURCE=$((P + 32))

STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_DIR/out/$STAMP
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: > "$RESULTS"
LOADGEN=$BENCH_DIR/loadgen
BACKEND=$BENCH_DIR/backend
T0=$(date +%s)

log() { printf '%s\n' "$*" | tee -a "$OUT/run.log" >&2; }

# --- process bookkeeping: only what we started, by pid -------------------
STARTED=""
start_bg() {	# start_bg NAME CMD...; sets BG_PID
	local name=$1; shift
	"$@" > "$OUT/$name.log" 2>&1 &
	BG_PID=$!
	STARTED="$STARTED $BG_PID"
}
stop_pid() {	# stop_pid PID: TERM it and its children, KILL after 5 s
	local pid=$1 kids i
	[ -n "$pid" ] || return 0
	kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
	kill -TERM "$pid" $kids 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" $kids 2>/dev/null
	wait "$pid" 2>/dev/null
	STARTED=$(echo "$STARTED" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
	return 0
}
cleanup() {
	local pid
	for pid in $STARTED; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {	# wait_port PORT: until something listens (5 s at most)
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

# --- our ports must be free (a stale SO_REUSEPORT listener would share them) --
for port in $(seq $((P + 1)) $((P + 32))); do
	if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
		log "bench: port $port is in use; set BENCH_PORT to a free range"
		exit 1
	fi
done

# --- the file-descriptor limit -----------------------------------------------
# A proxied session costs the proxy 2 fds. Raising the hard limit needs
# CAP_SYS_RESOURCE; without it the session counts are capped to fit.
NOTES=""
ulimit -Hn 1048576 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
FD_HARD=$(ulimit -Hn)
[ "$FD_HARD" = unlimited ] && FD_HARD=1048576
MAX_SESS=$(( (FD_HARD - 200) / 2 ))
if [ "$IDLE_N" -gt "$MAX_SESS" ]; then
	NOTES="$NOTES\n- idle: $MAX_SESS sessions, not $IDLE_N: RLIMIT_NOFILE hard limit is $FD_HARD (2 fds per session; raising it needs CAP_SYS_RESOURCE)"
	IDLE_N=$MAX_SESS
fi
if [ "$HOLD_N" -gt "$MAX_SESS" ]; then
	NOTES="$NOTES\n- hold: skipped, $HOLD_N sessions need $((2 * HOLD_N + 200)) fds, RLIMIT_NOFILE hard limit is $FD_HARD"
	HOLD_N=0
fi

# --- build ----------------------------------------------------------------
make -s -C "$BENCH_DIR" all >/dev/null || { log "bench: build failed"; exit 1; }
WSGATE_NOTE=""
if [ -n "${WSGATE:-}" ]; then
	WSGATE_SRC=$WSGATE
	WSGATE_NOTE="binary $WSGATE"
elif [ -n "${BENCH_REV:-}" ]; then
	# A committed revision, built out of tree (git archive only reads).
	mkdir -p "$OUT/src"
	git -C "$TOP" archive "$BENCH_REV" | tar -x -C "$OUT/src" &&
	    make -s -C "$OUT/src" build/release/wsgate >/dev/null \
	    2>"$OUT/build.log" ||
	    { log "bench: cannot build $BENCH_REV (see $OUT/build.log)"; exit 1; }
	WSGATE_SRC=$OUT/src/build/release/wsgate
	WSGATE_NOTE="git $(git -C "$TOP" rev-parse --short "$BENCH_REV")"
elif make -s -C "$TOP" build/release/wsgate >/dev/null 2>"$OUT/build.log"; then
	# build/release/wsgate: ./wsgate may be busy (a running daemon).
	WSGATE_SRC=$TOP/build/release/wsgate
	WSGATE_NOTE="working tree of $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)"
elif [ -x "$TOP/build/release/wsgate" ]; then
	WSGATE_SRC=$TOP/build/release/wsgate
	WSGATE_NOTE="the last good build (build/release/wsgate of $(date -r "$WSGATE_SRC" '+%F %T')): the tree does not build now"
	NOTES="$NOTES\n- wsgate: the tree did not build ($OUT/build.log); benchmarked the last good build"
	log "bench: warning: wsgate does not build; using the last good build"
else
	log "bench: wsgate build failed (see $OUT/build.log)"; exit 1
fi
# Our own copy: a concurrent rebuild must not swap it mid-run.
cp "$WSGATE_SRC" "$OUT/wsgate" || exit 1
WSGATE_BIN=$OUT/wsgate

# --- peers: install when missing -----------------------------------------
have_peer() {
	case $1 in
	haproxy) command -v haproxy >/dev/null ;;
	websockify) command -v websockify >/dev/null ;;
	*) return 0 ;;
	esac
}
if [ "${BENCH_INSTALL:-1}" = 1 ] && [ "$(id -u)" = 0 ] &&
    { ! have_peer haproxy || ! have_peer websockify; }; then
	log "bench: installing haproxy websockify (apt-get)"
	had_haproxy=0; have_peer haproxy && had_haproxy=1
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy \
	    websockify > "$OUT/apt.log" 2>&1; then
		(apt-get update && DEBIAN_FRONTEND=noninteractive \
		    apt-get install -y haproxy websockify) >> "$OUT/apt.log" 2>&1
	fi
	# Debian's package may start its own haproxy service: stop it.
	if [ "$had_haproxy" = 0 ] && have_peer haproxy; then
		(systemctl stop haproxy || service haproxy stop) \
		    >/dev/null 2>&1 || true
	fi
fi
ACTIVE=""
for peer in $PEERS; do
	if have_peer "$peer"; then
		ACTIVE="$ACTIVE $peer"
	else
		NOTES="$NOTES\n- $peer: not installed, skipped"
		log "bench: $peer not installed, skipped"
	fi
done

# --- TLS: one certificate for both servers ------------------------------------
WSS=0
case " $MODES " in *" wss-"*) WSS=1 ;; esac
TLS_DIR=$OUT/tls
if [ $WSS = 1 ]; then
	mkdir -p "$TLS_DIR"
	if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj /CN=localhost -days 7 -keyout "$TLS_DIR/key.pem" \
	    -out "$TLS_DIR/cert.pem" > "$TLS_DIR/openssl.log" 2>&1; then
		chmod 600 "$TLS_DIR/key.pem"
		cat "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" > "$TLS_DIR/both.pem"
		chmod 600 "$TLS_DIR/both.pem"
	else
		WSS=0
		NOTES="$NOTES\n- wss rows: skipped, no certificate (openssl req failed, see $TLS_DIR/openssl.log)"
	fi
fi

# --- configs ---------------------------------------------------------------
W_CONF=$OUT/wsgate.conf
w_conf() {	# w_conf [EXTRA GATEWAY LINE]
	echo "[gateway]"
	for p in ${W_PORTS//,/ }; do echo "listen = 127.0.0.1:$p"; done
	[ $WSS = 1 ] && echo "listen = 127.0.0.1:$W_TLS tls"
	echo "max_connections = 100000"
	echo "log_level = warn"
	echo "heartbeat_interval = 0"
	echo "drain_timeout = 1s"
	[ -n "${1:-}" ] && echo "$1"
	[ $WSS = 1 ] && cat <<EOF
[tls]
certificate = $TLS_DIR/cert.pem
private_key = $TLS_DIR/key.pem
min_version = TLS1.3
ciphersuites = TLS_AES_128_GCM_SHA256
EOF
	cat <<EOF
[route /echo]
backend = tcp:127.0.0.1:$B_ECHO1
backend = tcp:127.0.0.1:$B_ECHO2
backend = tcp:127.0.0.1:$B_ECHO3
[route /sink]
backend = tcp:127.0.0.1:$B_SINK
max_message_size = 0
[route /source]
backend = tcp:127.0.0.1:$B_SOURCE
EOF
}
# `workers` when this wsgate knows the key (`wsgate -t` says so).
if [ -n "$WORKERS" ]; then
	w_conf "workers = $WORKERS" > "$W_CONF"
	"$WSGATE_BIN" -t -c "$W_CONF" >/dev/null 2>&1 || WORKERS=""
fi
[ -n "$WORKERS" ] || w_conf > "$W_CONF"
"$WSGATE_BIN" -t -c "$W_CONF" > "$OUT/wsgate-t.log" 2>&1 ||
    { log "bench: wsgate rejects $W_CONF:"; cat "$OUT/wsgate-t.log" >&2; exit 1; }

H_CONF=$OUT/haproxy.cfg
{
cat <<EOF
# TCP mode, defaults otherwise (nbthread: one per CPU).
global
    maxconn $MAX_SESS
EOF
[ $WSS = 1 ] && cat <<EOF
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
    ssl-default-bind-options ssl-min-ver TLSv1.3
EOF
cat <<EOF
defaults
    mode tcp
    maxconn $MAX_SESS
    timeout connect 5s
    timeout client 1h
    timeout server 1h
listen echo
    bind 127.0.0.1:$H_ECHO
    server s1 127.0.0.1:$B_ECHO1
listen sink
    bind 127.0.0.1:$H_SINK
    server s1 127.0.0.1:$B_SINK
listen source
    bind 127.0.0.1:$H_SOURCE
    server s1 127.0.0.1:$B_SOURCE
EOF
[ $WSS = 1 ] && cat <<EOF
# TLS terminated here (session tickets on: HAProxy's default), TCP behind.
listen tls-echo
    bind 127.0.0.1:$H_TLS_ECHO ssl crt $TLS_DIR/both.pem
    server s1 127.0.0.1:$B_ECHO1
listen tls-sink
    bind 127.0.0.1:$H_TLS_SINK ssl crt $TLS_DIR/both.pem
    server s1 127.0.0.1:$B_SINK
listen tls-source
    bind 127.0.0.1:$H_TLS_SOURCE ssl crt $TLS_DIR/both.pem
    server s1 127.0.0.1:$B_SOURCE
EOF
} > "$H_CONF"

# --- starting and stopping peers ---------------------------------------------
BACKEND_PID=""
start_backend() {	# start_backend [-V]
	[ -n "$BACKEND_PID" ] && stop_pid "$BACKEND_PID"
	start_bg backend $PIN_LOAD "$BACKEND" -e $B_ECHO1 -e $B_ECHO2 -e $B_ECHO3 \
	    -k $B_SINK -s $B_SOURCE -c $B_CTL "$@"
	BACKEND_PID=$BG_PID
	wait_port $B_CTL || { log "bench: backend did not start"; exit 1; }
}

PEER_PID=""
start_peer() {	# start_peer PEER: sets PEER_PID and PID_<PEER> (empty: direct)
	local rc=0
	PEER_PID=""
	case $1 in
	direct) ;;
	wsgate)
		start_bg wsgate $PIN_PEER "$WSGATE_BIN" -d -c "$W_CONF"
		PEER_PID=$BG_PID; peer_up $W_PORT ;;
	haproxy)
		start_bg haproxy $PIN_PEER haproxy -db -f "$H_CONF"
		PEER_PID=$BG_PID; peer_up $H_SOURCE ;;
	websockify)
		# Three servers (one per target); the measured one is picked in
		# peer_args. Each forks a process per connection.
		start_bg websockify-echo $PIN_PEER websockify 127.0.0.1:$K_ECHO \
		    127.0.0.1:$B_ECHO1
		WSK_ECHO=$BG_PID
		start_bg websockify-sink $PIN_PEER websockify 127.0.0.1:$K_SINK \
		    127.0.0.1:$B_SINK
		WSK_SINK=$BG_PID
		start_bg websockify-source $PIN_PEER websockify 127.0.0.1:$K_SOURCE \
		    127.0.0.1:$B_SOURCE
		WSK_SOURCE=$BG_PID
		PEER_PID="$WSK_ECHO $WSK_SINK $WSK_SOURCE"
		peer_up $K_ECHO && peer_up $K_SINK && peer_up $K_SOURCE ;;
	esac
	rc=$?
	eval "PID_$1=\$PEER_PID"
	return $rc
}
# peer_up PORT: the peer listens there (and our pids are alive), or log why not
peer_up() {
	local pid thr
	if wait_port "$1"; then
		for pid in $PEER_PID; do
			kill -0 "$pid" 2>/dev/null || break
		done
		if kill -0 "$pid" 2>/dev/null; then
			thr=$(awk '/^Threads:/ {print $2}' /proc/$pid/status)
			eval "THREADS_$peer=\$thr"
			return 0
		fi
	fi
	log "bench: $peer did not start (port $1); see $OUT/*.log"
	stop_peer
	return 1
}
stop_peer() {	# stop_peer [PEER]: the last started peer, or PEER
	local pid pids=$PEER_PID
	[ -n "${1:-}" ] && eval "pids=\${PID_$1:-}"
	for pid in $pids; do stop_pid "$pid"; done
	[ -n "${1:-}" ] && eval "PID_$1="
	PEER_PID=""
}

# peer_args PEER SERVICE(echo|sink|source) [tls]: loadgen target flags, and
# WATCH_PID for -P (the process whose CPU and memory we read).
peer_args() {
	local peer=$1 svc=$2
	WATCH_PID=""
	if [ "${3:-}" = tls ]; then
		case $peer in
		wsgate) ARGS="-S -p $W_TLS -u /$svc"; WATCH_PID=$PID_wsgate ;;
		haproxy)
			case $svc in
			echo) ARGS="-S -r -p $H_TLS_ECHO" ;;
			sink) ARGS="-S -r -p $H_TLS_SINK" ;;
			source) ARGS="-S -r -p $H_TLS_SOURCE" ;;
			esac
			WATCH_PID=$PID_haproxy ;;
		*) return 1 ;;
		esac
		ARGS="$ARGS -P $WATCH_PID"
		return 0
	fi
	case $peer in
	direct)
		case $svc in
		echo) ARGS="-r -p $B_ECHO1" ;;
		sink) ARGS="-r -p $B_SINK" ;;
		source) ARGS="-r -p $B_SOURCE" ;;
		esac ;;
	wsgate)
		ARGS="-p $W_PORT -u /$svc"; WATCH_PID=$PID_wsgate ;;
	haproxy)
		case $svc in
		echo) ARGS="-r -p $H_ECHO" ;;
		sink) ARGS="-r -p $H_SINK" ;;
		source) ARGS="-r -p $H_SOURCE" ;;
		esac
		WATCH_PID=$PID_haproxy ;;
	websockify)
		case $svc in
		echo) ARGS="-p $K_ECHO"; WATCH_PID=$WSK_ECHO ;;
		sink) ARGS="-p $K_SINK"; WATCH_PID=$WSK_SINK ;;
		source) ARGS="-p $K_SOURCE"; WATCH_PID=$WSK_SOURCE ;;
		esac ;;
	esac
	[ -n "$WATCH_PID" ] && ARGS="$ARGS -P $WATCH_PID"
	# websockify forks a process per connection: count the whole tree
	[ "$peer" = websockify ] && ARGS="$ARGS -T"
	return 0
}

# lg PEER MODE RUN ARGS...: one loadgen run, its line kept in results.txt.
lg() {
	local peer=$1 mode=$2 run=$3 line rc
	shift 3
	line=$($PIN_LOAD "$LOADGEN" -m "$mode" "$@" 2>>"$OUT/loadgen.err")
	rc=$?
	[ -n "$line" ] || line="mode=$mode errors=1 failed=1"
	[ -n "${LABEL:-}" ] && line=${line/mode=$mode/mode=$LABEL}
	echo "peer=$peer run=$run rc=$rc $line" >> "$RESULTS"
	mode=${LABEL:-$mode}
	if [ $rc != 0 ]; then
		log "  $peer $mode run $run: FAILED (rc=$rc): $line"
		tail -n 2 "$OUT/loadgen.err" | sed 's/^/    /' >&2
	else
		log "  $peer $mode run $run: $line"
	fi
	return 0
}

svc_of() {
	case ${1#wss-} in
	stream-up|large) echo sink ;;
	stream-down) echo source ;;
	*) echo echo ;;
	esac
}

mode_wanted() { case " $MODES " in *" $1 "*) return 0 ;; esac; return 1; }

# --- machine ------------------------------------------------------------------
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
NPROC=$(nproc)
HAPROXY_V=$(haproxy -v 2>/dev/null | head -1 | awk '{print $3}')
WSK_V=$(dpkg-query -W -f '${Version}' websockify 2>/dev/null)
log "bench: $NPROC cores ($CPU_MODEL), kernel $(uname -r); loadgen, backend"
log "bench: and the peer share these cores. rounds=$ROUNDS secs=$SECS warm=$WARM runs=$RUNS"
log "bench: output in $OUT"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
case $LOAD0 in
0.[0-4]*) ;;
*) log "bench: warning: load average $LOAD0 at start: other work shares the cores" ;;
esac

# --- 0. correctness: every payload byte checked, once per peer ---------------
if mode_wanted verify; then
	log "== verify (backend -V, loadgen -V)"
	start_backend -V
	for peer in $ACTIVE; do
		start_peer "$peer" || continue
		peer_args "$peer" sink
		lg "$peer" stream-up v $ARGS -C $B_CTL -t 1 -W 0.2 -V
		peer_args "$peer" source
		lg "$peer" stream-down v $ARGS -t 1 -W 0.2 -V
		peer_args "$peer" echo
		lg "$peer" echo v $ARGS -t 1 -W 0.2 -V
		if [ $WSS = 1 ] && peer_args "$peer" sink tls; then
			LABEL=wss-stream-up lg "$peer" stream-up v $ARGS \
			    -C $B_CTL -t 1 -W 0.2 -V
			peer_args "$peer" source tls
			LABEL=wss-stream-down lg "$peer" stream-down v $ARGS \
			    -t 1 -W 0.2 -V
			peer_args "$peer" echo tls
			LABEL=wss-echo lg "$peer" echo v $ARGS -t 1 -W 0.2 -V
		fi
		stop_peer
	done
	if ! "$LOADGEN" -m rtt -r -p $B_ECHO1 -t 0.1 -W 0 >/dev/null 2>&1; then
		log "bench: backend check failed"
	fi
fi

# --- 1. rates: stream-up, stream-down, echo, rtt, connect --------------------
# Every peer runs at once and each round runs every peer once, back to back,
# so a burst of outside load on the shared cores hits every column alike; the
# order is reversed every second round (wsgate before HAProxy in odd rounds,
# after it in even ones), so a steady drift of the load cancels in the
# per-round ratios that summarize.awk takes the median of.
start_backend
UP=""
for peer in $ACTIVE; do
	start_peer "$peer" && UP="$UP $peer"
done
for mode in stream-up stream-down echo rtt connect wss-stream-up \
    wss-stream-down wss-echo wss-connect; do
	mode_wanted $mode || continue
	LABEL=""
	case $mode in wss-*) [ $WSS = 1 ] || continue; LABEL=$mode ;; esac
	log "== $mode"
	for run in $(seq "$ROUNDS"); do
		order=$UP
		[ $((run % 2)) = 0 ] && order=$(echo $UP | tr ' ' '\n' | tac)
		for peer in $order; do
			if [ -n "$LABEL" ]; then
				peer_args "$peer" "$(svc_of $mode)" tls || continue
			else
				peer_args "$peer" "$(svc_of $mode)"
			fi
			case ${mode#wss-} in
			stream-up) lg "$peer" stream-up $run $ARGS -C $B_CTL \
			    -t "$SECS" -W "$WARM" ;;
			echo) lg "$peer" echo $run $ARGS -n 100 -s 1024 -w 1 \
			    -B "$BACKEND_PID" -t "$SECS" -W "$WARM" ;;
			connect) lg "$peer" connect $run $ARGS -n 32 \
			    -B "$BACKEND_PID" -t "$SECS" -W "$WARM" ;;
			*) lg "$peer" ${mode#wss-} $run $ARGS -t "$SECS" \
			    -W "$WARM" ;;
			esac
		done
	done
done
LABEL=""

for peer in $UP; do
	stop_peer "$peer"
done

# --- 2. idle memory: a fresh peer process per run -----------------------------
if mode_wanted idle; then
	for peer in $ACTIVE; do
		[ "$peer" = direct ] && continue
		n=$IDLE_N; [ "$peer" = websockify ] && n=$IDLE_N_WSK
		log "== $peer idle ($n connections)"
		for run in $(seq "$RUNS"); do
			start_peer "$peer" || continue
			sleep 0.3
			peer_args "$peer" echo
			ports=$ARGS
			[ "$peer" = wsgate ] &&
			    ports="-p $W_PORTS -u /echo -P $PID_wsgate"
			lg "$peer" idle $run $ports -n "$n" -C $B_CTL -H 1 -x 120
			stop_peer
		done
	done
fi

# --- 3. one large frame (1 GiB): time and peak RSS growth --------------------
if mode_wanted large; then
	for peer in $ACTIVE; do
		runs=$RUNS; deadline=120
		if [ "$peer" = websockify ]; then
			runs=1; deadline=$LARGE_WSK_SECS
		fi
		log "== $peer large ($LARGE bytes)"
		for run in $(seq "$runs"); do
			start_peer "$peer" || continue
			sleep 0.3
			peer_args "$peer" sink
			lg "$peer" large $run $ARGS -C $B_CTL -s "$LARGE" \
			    -x "$deadline"
			stop_peer
		done
	done
fi

# --- 4. hold 50,000 idle sessions on wsgate --------------------------------------
if mode_wanted hold && [ "$HOLD_N" -gt 0 ] && case " $ACTIVE " in
    *" wsgate "*) true ;; *) false ;; esac; then
	log "== wsgate hold ($HOLD_N idle connections)"
	if start_peer wsgate; then
		sleep 0.3
		LABEL=hold lg wsgate idle 1 -p "$W_PORTS" -u /echo \
		    -P "$PEER_PID" -n "$HOLD_N" -C $B_CTL -H 2 -x 180
		stop_peer
	fi
fi
stop_pid "$BACKEND_PID"

# --- table ----------------------------------------------------------------------
T1=$(date +%s)
{
	echo "wsgate benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $((T1 - T0)) s"
	echo
	echo "Machine: $NPROC cores, $CPU_MODEL, Linux $(uname -r)."
	if [ -n "$PIN" ]; then
		echo "Pinned (BENCH_PIN=$PIN): the peer on CPUs ${PIN%%:*}," \
		    "the load generator and the backend on CPUs ${PIN#*:}."
	else
		echo "The load generator, the backend and the peer share those $NPROC cores."
	fi
	echo "Load average at start: $LOAD0; at end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Peers: $("$WSGATE_BIN" --version 2>/dev/null | head -1)" \
	    "($WSGATE_NOTE)" \
	    "(workers = ${WORKERS:-not set}; ${THREADS_wsgate:-?} thread(s));" \
	    "HAProxy ${HAPROXY_V:-n/a} in TCP mode (default nbthread;" \
	    "${THREADS_haproxy:-?} thread(s));" \
	    "websockify ${WSK_V:-n/a} (a process per connection)."
	echo "Rate rows: the median of $ROUNDS round(s) of ${SECS}s runs" \
	    "(after ${WARM}s warm-up), each round every peer back to back," \
	    "the order reversed every second round; idle and large: the" \
	    "median of $RUNS run(s). Ratios (×d vs direct, ×h vs HAProxy):" \
	    "the median of the per-round ratios (run i ÷ the reference's run" \
	    "i), [lo–hi] the smallest and the largest of them (×h)."
	[ -n "$NOTES" ] && printf "Notes:$NOTES\n"
	echo
	awk -v peers="${ACTIVE# }" -v large="$LARGE" -f "$BENCH_DIR/summarize.awk" "$RESULTS"
} > "$OUT/table.md"
cat "$OUT/table.md"
rm -f "$BENCH_DIR/out/latest"
ln -s "$STAMP" "$BENCH_DIR/out/latest"
