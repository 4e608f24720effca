#!/bin/bash
# summarize-test.sh: `make -C bench check`. summarize.awk on made-up
# results.txt lines, against the cells a reader must see.
set -u
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
fail=0
# expect NAME PEERS ROW-PREFIX EXPECTED-ROW: RESULTS on stdin
expect() {
	local got
	got=$(awk -v peers="$2" -v large=1073741824 \
	    -f "$BENCH_DIR/summarize.awk" | grep -F -- "| $3 |")
	if [ "$got" = "| $3 | $4 |" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1"
		echo "     want: | $3 | $4 |"
		echo "     got:  $got"
		fail=1
	fi
}

# Medians are numeric: 68, 72, 101 (a string sort puts "101" first).
expect "median across digit counts" haproxy "rtt p50, µs (64 B) ↓" "72.0" <<'EOF2'
peer=haproxy run=1 rc=0 mode=rtt p50_us=101
peer=haproxy run=2 rc=0 mode=rtt p50_us=68
peer=haproxy run=3 rc=0 mode=rtt p50_us=72
EOF2

# Paired ratios: round 1 1.00, round 2 left out (HAProxy failed), round 3
# 0.75: the median of 1.00 and 0.75, not 20 / 25 (the ratio of medians).
expect "paired ratio, a failed round left out" "wsgate haproxy" \
    "echo, msg/s (100 conns × 1 KiB, 1 in flight) ↑" \
    "20.0 (0.88×h [0.75–1.00]) | 25.0 †" <<'EOF2'
peer=wsgate run=1 rc=0 mode=echo msgs_per_s=10
peer=haproxy run=1 rc=0 mode=echo msgs_per_s=10
peer=haproxy run=2 rc=1 mode=echo errors=1 failed=1
peer=wsgate run=2 rc=0 mode=echo msgs_per_s=20
peer=wsgate run=3 rc=0 mode=echo msgs_per_s=30
peer=haproxy run=3 rc=0 mode=echo msgs_per_s=40
EOF2

# Whole system: proxy + loadgen + backend per run (direct: no proxy).
expect "whole system CPU per connect cycle" "direct wsgate haproxy" \
    "whole system CPU µs per connect cycle (proxy + loadgen + backend) ↓" \
    "50.0 (0.50×h) | 150 (3.00×d, 1.50×h) | 100 (2.00×d)" <<'EOF2'
peer=direct run=1 rc=0 mode=connect cycles_per_s=9 gen_backend_us_per_cycle=50
peer=wsgate run=1 rc=0 mode=connect cycles_per_s=5 cpu_us_per_cycle=60 gen_backend_us_per_cycle=90
peer=haproxy run=1 rc=0 mode=connect cycles_per_s=7 cpu_us_per_cycle=40 gen_backend_us_per_cycle=60
EOF2

exit $fail
