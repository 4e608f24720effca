# summarize.awk: results.txt (one "peer=.. run=.. rc=.. mode=.. k=v .." line
# per loadgen run) -> one markdown table. Cells are medians over the runs that
# succeeded (rc=0); "†" marks a cell where some run failed. Ratios are paired:
# "×h" is the median over the rounds of (this peer's run i ÷ HAProxy's run i),
# over the rounds where both succeeded, and "[lo–hi]" the smallest and the
# largest of those per-round ratios; "×d" the same against direct (median only).
# Usage: awk -v peers="direct wsgate haproxy websockify" -f summarize.awk FILE

# Sorts a[1..n] (insertion sort: n is a handful) and returns its median.
function amedian(a, n,    i, j, t) {
	if (n == 0)
		return ""
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	if (n % 2)
		return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

# The values are strings (substr of the line): + 0 makes the sort numeric;
# compared as strings, "101" sorts before "68".
function median(key,    n, i, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++)
		a[i] = val[key, i] + 0
	return amedian(a, n)
}

# Paired ratio of peer p to reference q for mode/key: the median over the
# runs (rounds) both have of p's value ÷ q's; sets PR_LO, PR_HI, PR_N.
function pratio(p, q, mode, key,    i, r, n, a, kp, kq) {
	kp = p SUBSEP mode SUBSEP key
	kq = q SUBSEP mode SUBSEP key
	n = 0
	for (i = 1; i <= cnt[kp]; i++) {
		r = run_of[kp, i]
		if (!((kq, r) in at) || val[kq, at[kq, r]] + 0 == 0)
			continue
		a[++n] = val[kp, i] / val[kq, at[kq, r]]
	}
	PR_N = n
	if (n == 0)
		return ""
	r = amedian(a, n)
	PR_LO = a[1]; PR_HI = a[n]
	return sprintf("%.2f", r)
}

function commas(s,    out) {
	out = ""
	while (length(s) > 3) {
		out = "," substr(s, length(s) - 2) out
		s = substr(s, 1, length(s) - 3)
	}
	return s out
}

function fmt(v) {
	if (v == "")
		return ""
	if (v >= 1000)
		return commas(sprintf("%.0f", v))
	if (v >= 100)
		return sprintf("%.0f", v)
	if (v >= 10)
		return sprintf("%.1f", v)
	return sprintf("%.2f", v)
}

# One row: label, mode, key, scale (divide by).
function row(label, mode, key, scale,    i, p, m, cell, d, h, r, out) {
	out = "| " label
	any = 0
	for (i = 1; i <= np; i++) {
		p = plist[i]
		m = median(p SUBSEP mode SUBSEP key)
		if (m == "") {
			cell = fails[p, mode] ? ((p SUBSEP mode) in why ? \
			    why[p, mode] : "FAIL") : "—"
			if (fails[p, mode] && !(p SUBSEP mode in note))
				note[p SUBSEP mode] = 1
		} else {
			any = 1
			m /= scale
			cell = fmt(m)
			r = ""
			if (p != "direct" && (d = pratio(p, "direct", mode, key)) != "")
				r = d "×d"
			if (p != "haproxy" && (h = pratio(p, "haproxy", mode, key)) != "") {
				r = r (r != "" ? ", " : "") h "×h"
				if (PR_N > 1)
					r = r sprintf(" [%.2f–%.2f]", PR_LO, PR_HI)
			}
			if (r != "")
				cell = cell " (" r ")"
			if (fails[p, mode])
				cell = cell " †"
		}
		out = out " | " cell
	}
	if (any)
		print out " |"
}

BEGIN {
	units["msg"]; units["cycle"]
}

{
	delete f
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		if (eq > 0)
			f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	p = f["peer"]; m = f["mode"]
	if (f["run"] == "v") {
		if (f["rc"] != 0 || f["verify_errors"] > 0 || f["errors"] > 0)
			vbad[p] = vbad[p] " " m
		vseen[p] = 1
		next
	}
	if (f["rc"] != 0) {
		fails[p, m] = 1
		if (f["timeout_s"] != "")
			why[p, m] = sprintf("timeout (%s s; %.0f MiB arrived)",
			    f["timeout_s"], f["sink_got"] / 1048576)
		next
	}
	# The whole system's CPU per operation: proxy + loadgen + backend (on
	# 2 shared cores the rate is set by the sum; direct has no proxy).
	for (u in units)
		if (("gen_backend_us_per_" u) in f)
			f["all_us_per_" u] = f["gen_backend_us_per_" u] + \
			    (("cpu_us_per_" u) in f ? f["cpu_us_per_" u] : 0)
	for (k in f) {
		if (k == "peer" || k == "run" || k == "rc" || k == "mode")
			continue
		key = p SUBSEP m SUBSEP k
		val[key, ++cnt[key]] = f[k]
		run_of[key, cnt[key]] = f["run"]
		at[key, f["run"]] = cnt[key]
	}
}

END {
	np = split(peers, plist, " ")
	hdr = "| metric"
	sep = "|---"
	for (i = 1; i <= np; i++) {
		hdr = hdr " | " plist[i]
		sep = sep "|---"
	}
	print hdr " |"
	print sep "|"
	row("stream up, MB/s (1 conn, 64 KiB frames) ↑", "stream-up", "mbps", 1)
	row("stream down, MB/s (1 conn) ↑", "stream-down", "mbps", 1)
	row("echo, msg/s (100 conns × 1 KiB, 1 in flight) ↑", "echo", "msgs_per_s", 1)
	row("rtt p50, µs (64 B) ↓", "rtt", "p50_us", 1)
	row("rtt p90, µs ↓", "rtt", "p90_us", 1)
	row("rtt p99, µs ↓", "rtt", "p99_us", 1)
	row("connect+handshake+1 B echo+close, /s (32 at once) ↑", "connect", "cycles_per_s", 1)
	row("proxy CPU s per GB, stream up ↓", "stream-up", "cpu_s_per_gb", 1)
	row("proxy CPU s per GB, stream down ↓", "stream-down", "cpu_s_per_gb", 1)
	row("proxy CPU µs per echoed message ↓", "echo", "cpu_us_per_msg", 1)
	row("loadgen + backend CPU µs per echoed message", "echo", "gen_backend_us_per_msg", 1)
	row("whole system CPU µs per echoed message (proxy + loadgen + backend) ↓", "echo", "all_us_per_msg", 1)
	row("proxy CPU µs per connect cycle ↓", "connect", "cpu_us_per_cycle", 1)
	row("loadgen + backend CPU µs per connect cycle", "connect", "gen_backend_us_per_cycle", 1)
	row("whole system CPU µs per connect cycle (proxy + loadgen + backend) ↓", "connect", "all_us_per_cycle", 1)
	row("wss stream up, MB/s (TLS 1.3, 1 conn, 64 KiB frames) ↑", "wss-stream-up", "mbps", 1)
	row("wss stream down, MB/s (TLS 1.3, 1 conn) ↑", "wss-stream-down", "mbps", 1)
	row("wss echo, msg/s (TLS 1.3, 100 conns × 1 KiB) ↑", "wss-echo", "msgs_per_s", 1)
	row("wss full handshakes/s: TCP+TLS 1.3+upgrade+1 B echo+close (32 at once) ↑", "wss-connect", "cycles_per_s", 1)
	row("wss proxy CPU s per GB, stream up ↓", "wss-stream-up", "cpu_s_per_gb", 1)
	row("wss proxy CPU s per GB, stream down ↓", "wss-stream-down", "cpu_s_per_gb", 1)
	row("wss proxy CPU µs per echoed message ↓", "wss-echo", "cpu_us_per_msg", 1)
	row("wss proxy CPU µs per full handshake cycle ↓", "wss-connect", "cpu_us_per_cycle", 1)
	row("wss loadgen + backend CPU µs per full handshake cycle", "wss-connect", "gen_backend_us_per_cycle", 1)
	row("wss whole system CPU µs per full handshake cycle (proxy + loadgen + backend) ↓", "wss-connect", "all_us_per_cycle", 1)
	row("wss session tickets received per handshake", "wss-connect", "tickets_per_handshake", 1)
	row("idle memory per session, KiB ↓", "idle", "kib_per_conn", 1)
	row("idle sessions opened", "idle", "open", 1)
	big = large >= 1073741824 ? sprintf("%g GiB", large / 1073741824) : \
	    sprintf("%g MiB", large / 1048576)
	row("one " big " frame (raw: a " big " stream), s ↓", "large", "secs", 1)
	row("one " big " frame, peak RSS growth, MiB (VmHWM) ↓", "large", "hwm_growth_kib", 1024)
	row("one " big " frame, peak RSS growth, MiB (sampled) ↓", "large", "growth_sampled_kib", 1024)
	row("hold: sessions held", "hold", "open", 1)
	row("hold: memory per session, KiB ↓", "hold", "kib_per_conn", 1)
	out = "| every payload byte verified (up, down, echo)"
	for (i = 1; i <= np; i++) {
		p = plist[i]
		if (!(p in vseen))
			out = out " | —"
		else if (p in vbad)
			out = out " | FAIL:" vbad[p]
		else
			out = out " | OK"
	}
	print out " |"
	print ""
	print "↑ higher is better, ↓ lower is better. direct and HAProxy speak raw TCP;"
	print "wsgate and websockify speak WebSocket (masked frames up, framing down)."
	print "wss rows: the same over TLS 1.3 (HAProxy: `bind ... ssl crt`, TCP mode),"
	print "one ECDSA P-256 certificate, TLS_AES_128_GCM_SHA256, tickets issued by both."
	print "— = not measured for that peer; FAIL / † = every / some run failed (see results.txt)."
}
