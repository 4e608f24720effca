#!/bin/bash
# instr.sh: `make bench-instr`. Instructions (and syscalls, and the TCP
# segments on loopback) wsgate spends per echoed message and per connect
# cycle, counted by valgrind's callgrind on fixed runs, so the figure does
# not move with the machine's load.
#
#   bench/instr.sh [show]     measure, print, compare with the baseline
#   bench/instr.sh check      the same; exit 1 if a figure grew > 5 %
#   bench/instr.sh record     measure and write bench/instr-baseline.txt
#
# How: the release wsgate (workers = 1, heartbeats off, log_level = warn)
# runs under `valgrind --tool=callgrind --collect-systime=yes`, with the
# bench backend (native) behind it and bench/loadgen (native) in front,
# which does exactly N messages (-N; echo: 1 connection, 1 KiB messages,
# one in flight) or N cycles (connect: 1 slot; TCP connect, upgrade, one
# byte echoed, close handshake, close) and exits; then wsgate gets SIGTERM
# and callgrind writes its totals. Each mode runs at two lengths, N1 and N2,
# each in a fresh process; the figure is (total(N2) - total(N1)) / (N2 - N1),
# so start-up, the first connection and shutdown cancel out.
# Ir counts user-space instructions only (wsgate, libevent, libc, OpenSSL).
# The kernel's work shows as the syscalls made, counted by `strace -f -c`
# on native runs of the same two lengths: strace sees exactly the calls
# that enter the kernel, so a vDSO clock read is not one and a
# clock_gettime(CLOCK_THREAD_CPUTIME_ID) is (HAProxy makes 4 per echoed
# message and ~4.5 per connect cycle). Without strace (or INSTR_STRACE=0)
# callgrind's sysCount is used instead, every clock_gettime and
# gettimeofday left out (under valgrind the vDSO ones trap too), which
# undercounts a peer that reads its thread's CPU clock.
#
# TCP segments per operation (shown, never gated): Tcp OutSegs of
# /proc/net/snmp read before and after each run, the same difference of
# the two lengths; every segment on loopback of both legs, both directions,
# the loadgen's and the backend's included. The counter is per network
# namespace, so as root (with unshare and ip) the whole script runs itself
# in a private one (only its own loopback: nothing else on the machine is
# counted, and the figure is exact); without one the figures are skipped
# with a note. INSTR_SEGS=host reads the host's counter instead (right only
# on a quiet machine); INSTR_SEGS=0: not counted.
#
# INSTR_PEER=haproxy counts HAProxy (TCP mode, nbthread 1, raw TCP from the
# loadgen) the same way instead, for comparison; the baseline is wsgate's.
# INSTR_TLS=1 runs both modes over TLS 1.3 (the wss rows' setup; the
# connect cycle then includes a full handshake): shown, never gated.
# Knobs: INSTR_ECHO="N1 N2" (5000 25000), INSTR_CONNECT="N1 N2" (1000 5000),
# INSTR_TOLERANCE=5 (percent), INSTR_BASELINE=file, WSGATE=binary,
# BENCH_PORT=23200 (base of the ports tried; the next free range is used).
# The figures depend on the compiler, glibc, libevent and OpenSSL builds and
# on the CPU features glibc and OpenSSL pick code for: compare runs on the
# same kind of machine (Debian 12, this project's CI machine).
set -u
exec 2>&1	# one stream: progress and verdict in order in CI logs
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
ACTION=${1:-show}
case $ACTION in
show|check|record) ;;
*) echo "usage: instr.sh [show|check|record]" >&2; exit 2 ;;
esac
# A private network namespace for the segment count (see the top).
SEGS=${INSTR_SEGS:-1}
if [ "$SEGS" = 1 ] && [ -z "${INSTR_NETNS:-}" ]; then
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	    command -v ip >/dev/null &&
	    unshare -n -- ip link set lo up >/dev/null 2>&1; then
		export INSTR_NETNS=1
		exec unshare -n -- bash -c 'ip link set lo up && exec bash "$0" "$@"' \
		    "$BENCH_DIR/instr.sh" "$@"
	fi
	INSTR_NETNS=0
fi
case $SEGS in
1)	if [ "${INSTR_NETNS:-0}" = 1 ]; then
		SEGS_NOTE="counted in a private network namespace (exact)"
	else
		SEGS=0
		SEGS_NOTE="not counted: no private network namespace (needs root, unshare and ip; INSTR_SEGS=host counts host-wide)"
	fi ;;
host)	SEGS=1
	SEGS_NOTE="counted host-wide (INSTR_SEGS=host): every process's TCP traffic counts" ;;
*)	SEGS_NOTE="not counted (INSTR_SEGS=$SEGS)"; SEGS=0 ;;
esac
read -r E1 E2 <<<"${INSTR_ECHO:-5000 25000}"
read -r C1 C2 <<<"${INSTR_CONNECT:-1000 5000}"
TOL=${INSTR_TOLERANCE:-5}
BASELINE=${INSTR_BASELINE:-$BENCH_DIR/instr-baseline.txt}
OUT=$BENCH_DIR/out/instr-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$OUT"

STRACE=${INSTR_STRACE:-1}
if [ "$STRACE" = 1 ] && ! strace -f -c -o /dev/null true >/dev/null 2>&1; then
	STRACE=0	# not installed, or ptrace not allowed here
	echo "instr: strace cannot run here: syscalls from callgrind's sysCount, clock calls left out" >&2
fi
[ "$STRACE" = 1 ] && SYS_NOTE="counted natively by strace -f -c" ||
    SYS_NOTE="callgrind's sysCount, every clock_gettime and gettimeofday left out"
command -v valgrind >/dev/null ||
    { echo "instr: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
make -s -C "$BENCH_DIR" all >/dev/null || { echo "instr: bench build failed" >&2; exit 1; }
if [ -n "${WSGATE:-}" ]; then
	WSGATE_BIN=$WSGATE
else
	make -s -C "$TOP" build/release/wsgate >/dev/null 2>"$OUT/build.log" ||
	    { echo "instr: wsgate build failed (see $OUT/build.log)" >&2; exit 1; }
	WSGATE_BIN=$TOP/build/release/wsgate
fi
cp "$WSGATE_BIN" "$OUT/wsgate" || exit 1

# --- ports: a free range of 12 from BENCH_PORT on ---------------------------
port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
P=${BENCH_PORT:-23200}
for try in $(seq 20); do
	ok=1
	for q in $(seq $((P + 1)) $((P + 11))); do
		port_free "$q" || { ok=0; break; }
	done
	[ $ok = 1 ] && break
	P=$((P + 100))
done
[ $ok = 1 ] || { echo "instr: no free port range found" >&2; exit 1; }
B_ECHO=$((P + 1)); B_CTL=$((P + 9)); W_PORT=$((P + 10))

PIDS=""
cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_port() {	# wait_port PORT SECS
	local i
	for i in $(seq $(( $2 * 20 ))); do
		port_free "$1" || return 0
		sleep 0.05
	done
	return 1
}

TLS=${INSTR_TLS:-0}
TLS_LISTEN=""
if [ "$TLS" = 1 ]; then
	[ "$ACTION" = show ] || { echo "instr: INSTR_TLS=1 only shows" >&2; exit 2; }
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj /CN=localhost -days 2 -keyout "$OUT/key.pem" \
	    -out "$OUT/cert.pem" >"$OUT/openssl.log" 2>&1 ||
	    { echo "instr: openssl req failed" >&2; exit 1; }
	chmod 600 "$OUT/key.pem"
	cat "$OUT/cert.pem" "$OUT/key.pem" > "$OUT/both.pem"
	chmod 600 "$OUT/both.pem"
	TLS_LISTEN=" tls"
fi
{
cat <<EOF
[gateway]
listen = 127.0.0.1:$W_PORT$TLS_LISTEN
workers = 1
log_level = warn
heartbeat_interval = 0
drain_timeout = 1s
[route /echo]
backend = tcp:127.0.0.1:$B_ECHO
EOF
[ "$TLS" = 1 ] && printf '[tls]\ncertificate = %s\nprivate_key = %s\nmin_version = TLS1.3\nciphersuites = TLS_AES_128_GCM_SHA256\n' \
    "$OUT/cert.pem" "$OUT/key.pem"
} > "$OUT/wsgate.conf"
PEER=${INSTR_PEER:-wsgate}
case $PEER in
wsgate)
	PEER_CMD="$OUT/wsgate -d -c $OUT/wsgate.conf"; LG_ARGS="-u /echo" ;;
haproxy)
	command -v haproxy >/dev/null || PATH=$PATH:/usr/sbin
	{
	printf 'global\n    nbthread 1\n'
	[ "$TLS" = 1 ] && printf '    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256\n    ssl-default-bind-options ssl-min-ver TLSv1.3\n'
	printf 'defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 1h\n    timeout server 1h\nlisten echo\n'
	if [ "$TLS" = 1 ]; then
		printf '    bind 127.0.0.1:%s ssl crt %s\n' $W_PORT "$OUT/both.pem"
	else
		printf '    bind 127.0.0.1:%s\n' $W_PORT
	fi
	printf '    server s1 127.0.0.1:%s\n' $B_ECHO
	} > "$OUT/haproxy.cfg"
	PEER_CMD="$(command -v haproxy) -db -f $OUT/haproxy.cfg"; LG_ARGS="-r"
	[ "$ACTION" = show ] || { echo "instr: INSTR_PEER=haproxy only shows" >&2; exit 2; } ;;
*) echo "instr: INSTR_PEER=$PEER?" >&2; exit 2 ;;
esac
[ "$TLS" = 1 ] && LG_ARGS="$LG_ARGS -S"
# The baseline is plain wsgate's: nothing to compare other setups with.
[ "$TLS" = 1 ] || [ "$PEER" != wsgate ] && BASELINE=/dev/null
"$OUT/wsgate" -t -c "$OUT/wsgate.conf" >"$OUT/wsgate-t.log" 2>&1 ||
    { echo "instr: wsgate rejects its config:" >&2; cat "$OUT/wsgate-t.log" >&2; exit 1; }

"$BENCH_DIR/backend" -e $B_ECHO -c $B_CTL 2>"$OUT/backend.log" &
BACKEND=$!
PIDS="$PIDS $BACKEND"
wait_port $B_CTL 5 || { echo "instr: backend did not start" >&2; exit 1; }

# out_segs: Tcp OutSegs (this network namespace's), or 0 when not counted.
out_segs() {
	[ "$SEGS" = 1 ] || { echo 0; return; }
	awk '$1 == "Tcp:" { if (!n++) { for (i = 2; i <= NF; i++) c[$i] = i }
	    else { print $c["OutSegs"]; exit } }' /proc/net/snmp 2>/dev/null
}

# lg_run MODE N FILE: the loadgen does exactly N messages (1 connection,
# 1 KiB, one in flight) or N cycles (1 slot) and exits; its output to FILE.
lg_run() {
	local args="-n 1"
	[ "$1" = echo ] && args="-n 1 -s 1024 -w 1"
	"$BENCH_DIR/loadgen" -m "$1" -p $W_PORT $LG_ARGS $args -N "$2" \
	    -x 300 >"$3" 2>&1
}

# drive WHAT LOG LG MODE N CMD...: start CMD (the peer under WHAT), let
# the loadgen do its N operations (output to LG), then SIGTERM the peer
# and wait for CMD to exit. Returns 1, saying why, if either failed. The
# peer is CMD's child under strace; valgrind runs it in its own process.
drive() {
	local what=$1 log=$2 lg=$3 mode=$4 n=$5 pid rc peer
	shift 5
	"$@" >"$log" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	if ! wait_port $W_PORT 60; then
		echo "instr: $PEER did not start under $what (see $log)" >&2
		return 1
	fi
	lg_run "$mode" "$n" "$lg"
	rc=$?
	peer=$(cat /proc/$pid/task/*/children 2>/dev/null | awk '{ print $1; exit }')
	kill -TERM ${peer:-$pid} 2>/dev/null
	wait $pid
	PIDS=${PIDS% $pid}
	if [ $rc != 0 ]; then
		echo "instr: loadgen $mode -N $n ($what) failed: $(cat "$lg")" >&2
		return 1
	fi
}

# one MODE N: wsgate under callgrind for N messages or cycles; sets TOT to
# "Ir syscalls segments" (the whole process; segments: every TCP segment
# sent from before its start to after its exit).
one() {
	local mode=$1 n=$2 f=$OUT/$1-$2 s0 s1 vdso st
	s0=$(out_segs)
	drive valgrind "$f.log" "$f.lg" "$mode" "$n" \
	    valgrind --tool=callgrind --collect-systime=yes \
	    --callgrind-out-file="$f.cg" $PEER_CMD || return 1
	s1=$(out_segs)
	# callgrind's "totals:" line follows "events: Ir sysCount sysTime".
	TOT=$(awk '/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i - 1 }
	    /^(totals|summary):/ { print $(col["Ir"] + 1), $(col["sysCount"] + 1); exit }' \
	    "$f.cg")
	[ -n "$TOT" ] || { echo "instr: no totals in $f.cg" >&2; return 1; }
	if [ "$STRACE" = 1 ]; then
		# The syscalls: the same run natively under strace -c (see
		# the top): exactly the calls that entered the kernel.
		drive strace "$f.strace.log" "$f.strace.lg" "$mode" "$n" \
		    strace -f -c -o "$f.strace" $PEER_CMD || return 1
		st=$(awk '$NF == "total" { print $4; ok = 1 } END { exit !ok }' \
		    "$f.strace") ||
		    { echo "instr: no total in $f.strace" >&2; return 1; }
		TOT="${TOT% *} $st"
	else
		# Natively clock_gettime and gettimeofday are mostly vDSO
		# calls; under valgrind they trap. Leave them out.
		vdso=$(callgrind_annotate --show=sysCount --sort=sysCount "$f.cg" \
		    2>/dev/null | awk '/clock_gettime|gettimeofday|:time[@ ]/ {
		    gsub(",", "", $1); n += $1 } END { print n + 0 }')
		TOT=$(echo "$TOT $vdso" | awk '{ print $1, $2 - $3 }')
	fi
	TOT="$TOT $(( ${s1:-0} - ${s0:-0} ))"
}

measure() {	# measure MODE N1 N2: sets IR, SYS and SEG per op
	local ir1 sys1 seg1 ir2 sys2 seg2 segs=""
	one "$1" "$2" || exit 1
	read -r ir1 sys1 seg1 <<<"$TOT"
	one "$1" "$3" || exit 1
	read -r ir2 sys2 seg2 <<<"$TOT"
	IR=$(( (ir2 - ir1) / ($3 - $2) ))
	SYS=$(awk -v a="$sys1" -v b="$sys2" -v n=$(( $3 - $2 )) \
	    'BEGIN { printf "%.2f", (b - a) / n }')
	SEG=-
	if [ "$SEGS" = 1 ]; then
		SEG=$(awk -v a="$seg1" -v b="$seg2" -v n=$(( $3 - $2 )) \
		    'BEGIN { printf "%.2f", (b - a) / n }')
		segs=" segments=$seg1/$seg2"
	fi
	echo "  $1: N=$2: Ir=$ir1 syscalls=$sys1; N=$3: Ir=$ir2 syscalls=$sys2;$segs" >&2
}

if [ $PEER = haproxy ]; then
	echo "instr: $(haproxy -v | head -1), $(valgrind --version), output in $OUT" >&2
else
	echo "instr: $("$OUT/wsgate" --version 2>/dev/null | head -1), $(valgrind --version), output in $OUT" >&2
fi
measure echo "$E1" "$E2"
ECHO_IR=$IR; ECHO_SYS=$SYS; ECHO_SEG=$SEG
measure connect "$C1" "$C2"
CONN_IR=$IR; CONN_SYS=$SYS; CONN_SEG=$SEG

REV=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$TOP" status --porcelain -- src include 2>/dev/null)" ] &&
    REV="$REV+dirty"
cat > "$OUT/result.txt" <<EOF
# make bench-instr: callgrind counts on the release wsgate (workers = 1).
# peer: $PEER$([ "$TLS" = 1 ] && echo ", over TLS 1.3")
# per_msg: one 1 KiB message echoed (client -> backend -> client), 1 conn.
# per_cycle: TCP connect, upgrade, 1 byte echoed, close handshake, close.
# Ir = user-space instructions; sys = syscalls ($SYS_NOTE).
# segs = TCP segments sent, both legs, loadgen and backend included:
# $SEGS_NOTE.
# Each figure is (total(N2) - total(N1)) / (N2 - N1).
commit $REV
date $(date -u '+%Y-%m-%d %H:%M UTC')
echo_ir_per_msg $ECHO_IR
echo_sys_per_msg $ECHO_SYS
connect_ir_per_cycle $CONN_IR
connect_sys_per_cycle $CONN_SYS
echo_segs_per_msg $ECHO_SEG
connect_segs_per_cycle $CONN_SEG
EOF

base() { awk -v k="$1" '$1 == k { print $2 }' "$BASELINE" 2>/dev/null; }
fail=0
printf '%-22s %12s %12s %8s\n' figure now baseline change
for k in echo_ir_per_msg echo_sys_per_msg connect_ir_per_cycle connect_sys_per_cycle \
    echo_segs_per_msg connect_segs_per_cycle; do
	now=$(awk -v k=$k '$1 == k { print $2 }' "$OUT/result.txt")
	was=$(base $k)
	if [ -z "$was" ] || [ "$now" = - ] || [ "$was" = - ]; then
		printf '%-22s %12s %12s %8s\n' $k "$now" - -
		continue
	fi
	verdict=$(awk -v a="$now" -v b="$was" -v t="$TOL" -v k=$k 'BEGIN {
	    d = (a - b) * 100 / b
	    # The gate is on instructions; syscalls and segments are shown.
	    bad = (k ~ /_ir_/ && d > t)
	    printf "%+.1f%%%s", d, bad ? " FAIL" : ""; exit }')
	printf '%-22s %12s %12s %8s\n' $k "$now" "$was" "$verdict"
	case $verdict in *FAIL) fail=1 ;; esac
done
echo "segments: $SEGS_NOTE"
[ -f "$BASELINE" ] && echo "baseline: $BASELINE (commit $(base commit), $(awk '$1 == "date" { $1 = ""; print substr($0, 2) }' "$BASELINE"))"
case $ACTION in
record)
	cp "$OUT/result.txt" "$BASELINE"
	echo "instr: recorded $BASELINE" ;;
check)
	if [ $fail = 1 ]; then
		echo "instr: FAIL: instructions per operation grew more than $TOL % over $BASELINE" >&2
		echo "instr: (a deliberate cost? re-record with 'make bench-instr-record' and say why in the commit)" >&2
		exit 1
	fi
	[ -f "$BASELINE" ] || { echo "instr: FAIL: no baseline $BASELINE" >&2; exit 1; }
	echo "instr: OK (within $TOL % of the baseline)" ;;
esac
exit 0
