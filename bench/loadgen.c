/*
 * loadgen: the benchmark's WebSocket (and raw TCP) load generator.
 * One process, one epoll loop, non-blocking sockets, no dependency beyond
 * libc and, for -S (TLS), OpenSSL.
 *
 * As a WebSocket client it masks every frame with a fresh random key (a
 * word-at-a-time XOR fused with the copy), parses the server's frames
 * incrementally (any split), answers pings with pongs and echoes a close.
 * With -r it speaks raw TCP instead: the "direct" baseline and L4 proxies.
 * With -S every connection first does a full TLS 1.3 handshake (OpenSSL,
 * TLS_AES_128_GCM_SHA256 only, no certificate check, never resumed: the
 * server's session tickets are received and counted, never used), and all
 * of the above runs inside it; a connection ends with a close_notify.
 *
 * Every stream carries the pattern of common.h, so -V (here) and the
 * backend's -V check every payload byte that crosses the gateway.
 *
 * Modes (-m):
 *   stream-up    -n conns send S-byte frames as fast as they can. The figure
 *                is what the sink *received*: the backend's byte counter
 *                (control port, -C) is read after the warm-up and again T
 *                seconds later, and the delta is divided by the delta of the
 *                backend's own clock. Without -C, bytes written are used.
 *   stream-down  -n conns read from a source backend; payload bytes
 *                received over T seconds.
 *   echo         -n conns, each keeps -w messages of S bytes in flight to an
 *                echo backend; messages fully echoed per second. (The
 *                gateway re-frames per backend read, so a message is "back"
 *                when S more payload bytes have arrived.)
 *   rtt          one connection, S-byte (64) ping-pong; p50/p90/p99 in µs.
 *   connect      -n slots loop: connect, handshake (ws), one byte echoed
 *                through the backend, close handshake (ws), close.
 *                Cycles per second.
 *   With -N COUNT, echo and connect do exactly COUNT messages or cycles
 *   (no warm-up, no clock) and stop: the fixed runs of bench/instr.sh,
 *   whose figure is the instructions the gateway spent, not the time.
 *   idle         open -n connections (handshake done, backend connected,
 *                as the backend's control port confirms), hold them, and
 *                report the RSS growth of -P PID per connection.
 *   large        one frame of S bytes (default 1 GiB) to a sink: seconds
 *                until the sink has all of it, and the peak RSS growth of
 *                -P PID (VmHWM after clear_refs, and sampled VmRSS).
 *
 * CPU: -P PID is the proxy (-T: with its children), -B PID the backend.
 * echo and connect report each one's CPU per message or cycle, and ours,
 * since all three share the cores the figure depends on.
 *
 * Output: one line of key=value pairs on stdout (see lg_report_*), errors on
 * stderr. Exit status 0 on success, 1 if any connection failed or a byte
 * was wrong, 2 on usage errors.
 *
 * Bounds: the whole run stops at -x seconds (default 60) whatever happens;
 * every inner loop reads or writes a fixed number of times per wakeup.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common.h"

#define LG_RBUF		(256 * 1024)
#define LG_EVENTS	1024
#define LG_IO_ROUNDS	16		/* reads or writes per wakeup */
#define LG_WRITE_BUDGET	(4u << 20)	/* bytes per conn per wakeup */
#define LG_HS_CAP	2048		/* handshake response head */
#define LG_OPENING_MAX	128		/* connects in flight while opening */
#define LG_MAX_PORTS	16
#define LG_RTT_MAX	(1u << 21)	/* samples kept */
#define LG_LARGE_CHUNK	(256 * 1024)	/* multiple of 4: mask phase stays 0 */

enum lg_mode {
	LG_STREAM_UP = 0,
	LG_STREAM_DOWN,
	LG_ECHO,
	LG_RTT,
	LG_CONNECT,
	LG_IDLE,
	LG_LARGE,
};

static const char *const lg_mode_names[] = {
	"stream-up", "stream-down", "echo", "rtt", "connect", "idle", "large",
};

enum lg_state {
	LG_C_FREE = 0,
	LG_C_CONNECTING,	/* connect() in progress */
	LG_C_TLS,		/* TLS handshake in progress (-S) */
	LG_C_HS,		/* request sent, waiting for the 101 */
	LG_C_OPEN,
	LG_C_CLOSING,		/* our close frame is out; waiting for theirs */
};

enum lg_phase {
	LG_P_SETUP = 0,		/* opening connections */
	LG_P_WARM,
	LG_P_MEASURE,
	LG_P_END,
};

struct lg_conn {
	int		 fd;
	enum lg_state	 state;
	uint32_t	 events;	/* registered with epoll */
	int		 port;		/* index into lg.ports */
	/* handshake (LG_C_HS only) */
	char		*hs;
	SSL		*ssl;		/* -S; owned */
	size_t		 hs_len;
	/* server frame parser */
	uint8_t		 rh[14];
	uint8_t		 rh_len, rh_need;
	bool		 in_payload;
	uint8_t		 r_op;
	uint64_t	 r_left;	/* payload bytes left in this frame */
	uint8_t		 ctl[125];
	uint8_t		 ctl_len;
	bool		 got_close;
	/* pending pong, sent at the next frame boundary */
	uint8_t		 pong[2 + 4 + 125];
	uint8_t		 pong_len;
	/* output: the unit being written is txp[tx_off..tx_len) */
	uint8_t		*txb;		/* owned; txp often points into it */
	size_t		 txcap;
	const uint8_t	*txp;
	size_t		 tx_len, tx_off;
	/* payload accounting (stream offsets of the pattern) */
	uint64_t	 tx_pay;	/* payload bytes put into units */
	uint64_t	 rx_pay;	/* payload bytes received */
	uint64_t	 msgs_sent, msgs_done;
	uint64_t	 t_sent;	/* rtt: when the message went out */
	uint8_t		 large_key[4];	/* large: the one frame's mask key */
};

struct lg_snap {
	uint64_t	 ns;		/* our clock */
	uint64_t	 rx, tx, msgs, cycles;
	uint64_t	 sink_rx, sink_ns;	/* backend counter and clock */
	double		 cpu_s;		/* of -P */
	double		 self_cpu_s;	/* ours */
	double		 backend_cpu_s;	/* of -B */
};

struct lg_sink {
	uint64_t	 rx, tx, ns, conns, verr;
};

static struct {
	enum lg_mode	 mode;
	bool		 raw, verify, tree, tls;
	SSL_CTX		*ssl_ctx;
	uint64_t	 tickets;	/* TLS session tickets received */
	uint64_t	 tls_done;	/* TLS handshakes completed */
	struct in_addr	 addr;
	uint16_t	 ports[LG_MAX_PORTS];
	int		 nports;
	const char	*path;
	int		 nconns;
	double		 secs, warm, hold, deadline_s;
	uint64_t	 count;		/* -N: messages or cycles, then stop */
	uint64_t	 begun;		/* messages or cycles started (-N) */
	size_t		 size;
	unsigned	 window;
	int		 ctl_port;
	int		 ctl_fd;
	int		 pid;
	int		 backend_pid;

	int		 ep;
	struct lg_conn	*conns;
	uint64_t	 rng;
	uint64_t	 t_start, t_deadline;
	enum lg_phase	 phase;
	uint64_t	 t_phase;
	bool		 running;	/* may start new messages/cycles */

	int		 opening;	/* conns in CONNECTING or HS */
	int		 started;	/* conns ever started (idle/setup) */
	int		 open;		/* conns in OPEN */
	uint64_t	 rx, tx, msgs, cycles;
	uint64_t	 errors, verr;
	char		 first_err[160];

	uint32_t	*rtt;		/* ns */
	size_t		 nrtt;

	struct lg_snap	 s0, s1;
	uint8_t		 rbuf[LG_RBUF];
} lg;

/* --- small helpers --------------------------------------------------- */

static uint64_t
lg_rand(void)
{
	/* xorshift64*: plenty for mask keys and Sec-WebSocket-Key. */
	lg.rng ^= lg.rng >> 12;
	lg.rng ^= lg.rng << 25;
	lg.rng ^= lg.rng >> 27;
	return lg.rng * 2685821657736338717ull;
}

/* Count an error; keep the first text ("what: detail") for the report. */
static void
lg_err(const char *what, const char *detail)
{
	lg.errors++;
	if (lg.first_err[0] != '\0')
		return;
	if (detail != NULL)
		snprintf(lg.first_err, sizeof(lg.first_err), "%s: %s", what,
		    detail);
	else
		snprintf(lg.first_err, sizeof(lg.first_err), "%s", what);
}

/*
 * dst[0..n) = src[0..n) XOR the 4-byte key, starting at key phase 0.
 * Eight bytes at a time; dst and src may be the same.
 */
static void
lg_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
	uint64_t k8, w;
	uint32_t k4;
	size_t i = 0;

	memcpy(&k4, key, 4);
	k8 = (uint64_t)k4 << 32 | k4;
	for (; i + 32 <= n; i += 32) {
		uint64_t a, b, c, d;

		memcpy(&a, src + i, 8);
		memcpy(&b, src + i + 8, 8);
		memcpy(&c, src + i + 16, 8);
		memcpy(&d, src + i + 24, 8);
		a ^= k8; b ^= k8; c ^= k8; d ^= k8;
		memcpy(dst + i, &a, 8);
		memcpy(dst + i + 8, &b, 8);
		memcpy(dst + i + 16, &c, 8);
		memcpy(dst + i + 24, &d, 8);
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= k8;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ key[i & 3];
}

/*
 * Write a masked client frame header (FIN set) for len bytes into h and the
 * key into key. Returns the header length (6, 8 or 14).
 */
static size_t
lg_frame_header(uint8_t *h, uint8_t opcode, uint64_t len, uint8_t key[4])
{
	uint32_t r = (uint32_t)lg_rand();
	size_t n;
	int i;

	h[0] = 0x80 | opcode;
	if (len < 126) {
		h[1] = 0x80 | (uint8_t)len;
		n = 2;
	} else if (len <= 0xffff) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		n = 4;
	} else {
		h[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	memcpy(key, &r, 4);
	memcpy(h + n, key, 4);
	return n + 4;
}

/* One whole masked frame of pattern payload at stream offset off. */
static size_t
lg_frame_pattern(uint8_t *dst, uint64_t off, size_t len)
{
	uint8_t key[4];
	size_t hl;

	hl = lg_frame_header(dst, 0x2, len, key);
	lg_mask_copy(dst + hl, bench_pat_at(off), len, key);
	return hl + len;
}

static void
lg_reserve(struct lg_conn *c, size_t need)
{
	if (c->txcap >= need)
		return;
	free(c->txb);
	if ((c->txb = malloc(need)) == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	c->txcap = need;
}

static void
lg_set_events(struct lg_conn *c, uint32_t events)
{
	struct epoll_event ev;

	if (c->events == events || c->fd < 0)
		return;
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(lg.ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

/* --- /proc readings of the gateway (-P) --------------------------------- */

/* utime + stime of one process in seconds, or -1. */
static double
lg_proc_cpu1(int pid, int *ppid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;
	int pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* After ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &pp, &ut, &st) != 3)
		return -1;
	if (ppid != NULL)
		*ppid = pp;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* One "Key:   N kB" field of a /proc file, in KiB, or -1. */
static long
lg_proc_kib(int pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * The pids of lg.pid and all its descendants (websockify forks a process
 * per connection). Returns the count stored in out (at most max).
 */
static size_t
lg_proc_tree(int *out, size_t max)
{
	static int pids[1 << 16], ppids[1 << 16];
	size_t n = 0, k = 0, i, added;
	struct dirent *de;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < sizeof(pids) / sizeof(*pids)) {
		int pid, pp;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (lg_proc_cpu1(pid, &pp) < 0)
			continue;
		pids[n] = pid;
		ppids[n++] = pp;
	}
	closedir(d);
	out[k++] = lg.pid;
	/* Repeated sweeps: bounded by the tree depth, itself at most n. */
	do {
		added = 0;
		for (i = 0; i < n && k < max; i++) {
			size_t j;
			bool parent = false, have = false;

			for (j = 0; j < k; j++) {
				if (out[j] == pids[i])
					have = true;
				if (out[j] == ppids[i])
					parent = true;
			}
			if (parent && !have) {
				out[k++] = pids[i];
				added++;
			}
		}
	} while (added > 0 && k < max);
	return k;
}

/* CPU seconds of -P (and its tree with -T); -1 without -P. */
static double
lg_pid_cpu(void)
{
	static int tree[1 << 14];
	double sum = 0, v;
	size_t n, i;

	if (lg.pid <= 0)
		return -1;
	if (!lg.tree)
		return lg_proc_cpu1(lg.pid, NULL);
	n = lg_proc_tree(tree, sizeof(tree) / sizeof(*tree));
	for (i = 0; i < n; i++)
		if ((v = lg_proc_cpu1(tree[i], NULL)) > 0)
			sum += v;
	return sum;
}

/*
 * Memory of -P in KiB: VmRSS, or with -T the sum of Pss over the tree
 * (shared pages split between the processes that map them).
 */
static long
lg_pid_mem(void)
{
	static int tree[1 << 14];
	long sum = 0, v;
	size_t n, i;

	if (lg.pid <= 0)
		return -1;
	if (!lg.tree)
		return lg_proc_kib(lg.pid, "status", "VmRSS");
	n = lg_proc_tree(tree, sizeof(tree) / sizeof(*tree));
	for (i = 0; i < n; i++)
		if ((v = lg_proc_kib(tree[i], "smaps_rollup", "Pss")) > 0)
			sum += v;
	return sum;
}

/* --- the backend's control port ----------------------------------------- */

static int
lg_sink_query(struct lg_sink *s)
{
	char buf[256];
	size_t len = 0;
	ssize_t r;

	memset(s, 0, sizeof(*s));
	if (lg.ctl_fd < 0)
		return -1;
	if (send(lg.ctl_fd, "S\n", 2, MSG_NOSIGNAL) != 2)
		return -1;
	/* Blocking with SO_RCVTIMEO; one line. */
	while (len < sizeof(buf) - 1) {
		r = recv(lg.ctl_fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		if (buf[len - 1] == '\n')
			break;
	}
	buf[len] = '\0';
	if (sscanf(buf, "rx=%" SCNu64 " tx=%" SCNu64 " ns=%" SCNu64
	    " conns=%" SCNu64 " accepted=%*u verr=%" SCNu64,
	    &s->rx, &s->tx, &s->ns, &s->conns, &s->verr) != 5)
		return -1;
	return 0;
}

static void
lg_ctl_open(void)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };

	lg.ctl_fd = -1;
	if (lg.ctl_port <= 0)
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)lg.ctl_port);
	sin.sin_addr = lg.addr;
	lg.ctl_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (lg.ctl_fd < 0 ||
	    connect(lg.ctl_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		fprintf(stderr, "loadgen: control port %d: %s\n", lg.ctl_port,
		    strerror(errno));
		exit(1);
	}
	setsockopt(lg.ctl_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	bench_nodelay(lg.ctl_fd);
}

/* --- connections ---------------------------------------------------------- */

static void lg_conn_start(struct lg_conn *);
static int lg_conn_write(struct lg_conn *);

/* Close c's socket; c may be started again. */
static void
lg_conn_close(struct lg_conn *c)
{
	if (c->state == LG_C_CONNECTING || c->state == LG_C_TLS ||
	    c->state == LG_C_HS)
		lg.opening--;
	if (c->state == LG_C_OPEN || c->state == LG_C_CLOSING)
		lg.open--;
	if (c->ssl != NULL) {
		/* close_notify if the handshake finished; never wait for one */
		if (c->state != LG_C_CONNECTING && c->state != LG_C_TLS)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->hs);
	c->hs = NULL;
	c->state = LG_C_FREE;
}

static void
lg_conn_fail(struct lg_conn *c, const char *why)
{
	if (lg.phase != LG_P_END)
		lg_err("connection failed", why);
	lg_conn_close(c);
}

/* The connection is open (101 received, or TCP connected with -r). */
static void
lg_conn_opened(struct lg_conn *c)
{
	size_t s = lg.size;

	if (c->state == LG_C_CONNECTING || c->state == LG_C_TLS ||
	    c->state == LG_C_HS)
		lg.opening--;
	c->state = LG_C_OPEN;
	lg.open++;
	switch (lg.mode) {
	case LG_STREAM_UP:
		lg_reserve(c, s + 14);
		lg_set_events(c, EPOLLIN | EPOLLOUT);
		break;
	case LG_ECHO:
	case LG_RTT:
		lg_reserve(c, (size_t)lg.window * (s + 14));
		break;
	case LG_CONNECT:
		lg_reserve(c, 64);
		break;
	case LG_LARGE:
		lg_reserve(c, LG_LARGE_CHUNK + 14);
		break;
	default:
		break;
	}
	if (lg.mode != LG_STREAM_UP && lg.mode != LG_STREAM_DOWN &&
	    lg.mode != LG_IDLE)
		(void)lg_conn_write(c);	/* first messages, first byte */
}

/*
 * Set up the next unit to write, if any. Returns false when there is
 * nothing to send now.
 */
static bool
lg_refill(struct lg_conn *c)
{
	unsigned k, i;
	size_t n = 0;

	c->tx_off = c->tx_len = 0;
	/* A pong goes between frames; large's one frame spans every unit. */
	if (c->pong_len > 0 && (lg.mode != LG_LARGE || lg.raw ||
	    c->tx_pay == 0 || c->tx_pay >= lg.size)) {
		lg_reserve(c, sizeof(c->pong));
		memcpy(c->txb, c->pong, c->pong_len);
		c->txp = c->txb;
		c->tx_len = c->pong_len;
		c->pong_len = 0;
		return true;
	}
	if (c->state != LG_C_OPEN || !lg.running)
		return false;
	switch (lg.mode) {
	case LG_STREAM_UP:
		if (lg.raw) {
			c->txp = bench_pat_at(c->tx_pay);
			c->tx_len = lg.size;
		} else {
			c->tx_len = lg_frame_pattern(c->txb, c->tx_pay,
			    lg.size);
			c->txp = c->txb;
		}
		c->tx_pay += lg.size;
		return true;
	case LG_ECHO:
	case LG_RTT:
		if (c->msgs_sent - c->msgs_done >= lg.window)
			return false;
		k = lg.window - (unsigned)(c->msgs_sent - c->msgs_done);
		if (lg.count > 0) {
			if (lg.begun >= lg.count)
				return false;
			if (k > lg.count - lg.begun)
				k = (unsigned)(lg.count - lg.begun);
			lg.begun += k;
		}
		if (lg.raw && (size_t)k * lg.size <= BENCH_PAT_SPAN) {
			c->txp = bench_pat_at(c->tx_pay);
			n = (size_t)k * lg.size;
			c->tx_pay += n;
		} else {
			for (i = 0; i < k; i++) {
				if (lg.raw) {
					memcpy(c->txb + n,
					    bench_pat_at(c->tx_pay), lg.size);
					n += lg.size;
				} else
					n += lg_frame_pattern(c->txb + n,
					    c->tx_pay, lg.size);
				c->tx_pay += lg.size;
			}
			c->txp = c->txb;
		}
		c->tx_len = n;
		c->msgs_sent += k;
		if (lg.mode == LG_RTT)
			c->t_sent = bench_now_ns();
		return true;
	case LG_LARGE:
		if (c->tx_pay >= lg.size)
			return false;
		if (c->tx_pay == 0 && !lg.raw) {
			uint8_t key[4];

			/* One frame for everything; the key for all chunks. */
			n = lg_frame_header(c->txb, 0x2, lg.size, key);
			memcpy(c->large_key, key, 4);
		}
		{
			uint64_t left = lg.size - c->tx_pay;
			size_t k2 = left < LG_LARGE_CHUNK ? (size_t)left :
			    LG_LARGE_CHUNK;

			if (lg.raw) {
				c->txp = bench_pat_at(c->tx_pay);
				c->tx_len = k2;
			} else {
				lg_mask_copy(c->txb + n,
				    bench_pat_at(c->tx_pay), k2,
				    c->large_key);
				c->txp = c->txb;
				c->tx_len = n + k2;
			}
			c->tx_pay += k2;
		}
		return true;
	default:
		return false;
	}
}

/*
 * send() or SSL_write(): bytes written, or -1 with errno (EAGAIN when the
 * socket or TLS wants to wait). SSL_MODE_ENABLE_PARTIAL_WRITE and
 * ACCEPT_MOVING_WRITE_BUFFER let a retry start from where we stopped.
 */
static ssize_t
lg_io_send(struct lg_conn *c, const void *p, size_t n)
{
	int r, e;

	if (c->ssl == NULL)
		return send(c->fd, p, n, MSG_NOSIGNAL);
	if (n > INT32_MAX)
		n = INT32_MAX;
	if ((r = SSL_write(c->ssl, p, (int)n)) > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ?
	    EAGAIN : e == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
	return -1;
}

/* recv() or SSL_read(): as recv (0 is EOF, clean or not). */
static ssize_t
lg_io_recv(struct lg_conn *c, void *p, size_t n)
{
	int r, e;

	if (c->ssl == NULL)
		return recv(c->fd, p, n, 0);
	if ((r = SSL_read(c->ssl, p, (int)n)) > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN ||
	    (e == SSL_ERROR_SYSCALL && errno == 0))
		return 0;
	errno = e == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
	return -1;
}

/* Write what there is to write. Returns -1 if c failed (and is closed). */
static int
lg_conn_write(struct lg_conn *c)
{
	size_t done = 0;
	ssize_t w;
	int i;

	for (i = 0; i < LG_IO_ROUNDS && done < LG_WRITE_BUDGET; i++) {
		if (c->tx_off == c->tx_len && !lg_refill(c))
			break;
		w = lg_io_send(c, c->txp + c->tx_off, c->tx_len - c->tx_off);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			lg_conn_fail(c, strerror(errno));
			return -1;
		}
		c->tx_off += (size_t)w;
		lg.tx += (uint64_t)w;
		done += (size_t)w;
	}
	/* Keep EPOLLOUT while a unit is half written or more will come. */
	if (c->tx_off < c->tx_len || c->pong_len > 0 ||
	    (lg.running && c->state == LG_C_OPEN &&
	    (lg.mode == LG_STREAM_UP ||
	    (lg.mode == LG_LARGE && c->tx_pay < lg.size))))
		lg_set_events(c, EPOLLIN | EPOLLOUT);
	else
		lg_set_events(c, EPOLLIN);
	return 0;
}

/* A single unit for the connect mode's little state machine. */
static void
lg_send_unit(struct lg_conn *c, const uint8_t *p, size_t n)
{
	lg_reserve(c, n);
	memcpy(c->txb, p, n);
	c->txp = c->txb;
	c->tx_len = n;
	c->tx_off = 0;
}

static void
lg_send_close(struct lg_conn *c)
{
	uint8_t f[8], key[4];
	static const uint8_t code[2] = { 0x03, 0xe8 };	/* 1000 */
	size_t hl;

	hl = lg_frame_header(f, 0x8, 2, key);
	lg_mask_copy(f + hl, code, 2, key);
	lg_send_unit(c, f, hl + 2);
	c->state = LG_C_CLOSING;
}

/* One connect cycle is complete. */
static void
lg_cycle_done(struct lg_conn *c)
{
	lg.cycles++;
	lg_conn_close(c);
	if (lg.running && (lg.count == 0 || lg.begun < lg.count)) {
		lg.begun++;
		lg_conn_start(c);
	}
}

/* Payload bytes from the server (after unframing). */
static void
lg_payload(struct lg_conn *c, const uint8_t *p, size_t n)
{
	if (lg.verify && bench_pat_check(p, n, c->rx_pay) == -1 &&
	    lg.verr++ == 0)
		fprintf(stderr, "loadgen: wrong payload bytes at stream offset "
		    "%" PRIu64 "..+%zu\n", c->rx_pay, n);
	c->rx_pay += n;
	lg.rx += n;
}

/* A whole control frame has arrived. Returns -1 if c is closed. */
static int
lg_control(struct lg_conn *c)
{
	uint8_t key[4];
	size_t hl;

	switch (c->r_op) {
	case 0x9:		/* ping: answer with the same payload */
		hl = lg_frame_header(c->pong, 0xa, c->ctl_len, key);
		lg_mask_copy(c->pong + hl, c->ctl, c->ctl_len, key);
		c->pong_len = (uint8_t)(hl + c->ctl_len);
		return 0;
	case 0xa:
		return 0;
	case 0x8:
		c->got_close = true;
		if (c->state == LG_C_CLOSING) {
			if (lg.mode == LG_CONNECT)
				lg_cycle_done(c);
			else
				lg_conn_close(c);
			return -1;
		}
		lg_conn_fail(c, "the server sent a close frame");
		return -1;
	default:
		lg_conn_fail(c, "unknown control opcode");
		return -1;
	}
}

/* Server frames (RFC 6455 §5.2), any split. Returns -1 if c is closed. */
static int
lg_ws_input(struct lg_conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (!c->in_payload) {
			uint8_t b1;
			uint64_t len = 0;
			int i;

			c->rh[c->rh_len++] = *p++;
			n--;
			if (c->rh_len == 2) {
				b1 = c->rh[1];
				if (b1 & 0x80) {
					lg_conn_fail(c, "masked server frame");
					return -1;
				}
				c->rh_need = 2 + ((b1 & 0x7f) == 126 ? 2 :
				    (b1 & 0x7f) == 127 ? 8 : 0);
			}
			if (c->rh_len < 2 || c->rh_len < c->rh_need)
				continue;
			if (c->rh[0] & 0x70) {
				lg_conn_fail(c, "RSV bits in a server frame");
				return -1;
			}
			len = c->rh[1] & 0x7f;
			if (len == 126)
				len = (uint64_t)c->rh[2] << 8 | c->rh[3];
			else if (len == 127)
				for (len = 0, i = 0; i < 8; i++)
					len = len << 8 | c->rh[2 + i];
			c->r_op = c->rh[0] & 0x0f;
			c->rh_len = 0;
			c->r_left = len;
			if (c->r_op & 0x8) {
				if (len > 125 || !(c->rh[0] & 0x80)) {
					lg_conn_fail(c, "bad control frame");
					return -1;
				}
				c->ctl_len = 0;
			}
			c->in_payload = len > 0;
			if (len == 0 && (c->r_op & 0x8) && lg_control(c) == -1)
				return -1;
			continue;
		}
		{
			size_t k = n < c->r_left ? n : (size_t)c->r_left;

			if (c->r_op & 0x8) {
				memcpy(c->ctl + c->ctl_len, p, k);
				c->ctl_len += (uint8_t)k;
			} else
				lg_payload(c, p, k);
			p += k;
			n -= k;
			c->r_left -= k;
			if (c->r_left == 0) {
				c->in_payload = false;
				if ((c->r_op & 0x8) && lg_control(c) == -1)
					return -1;
			}
		}
	}
	return 0;
}

/* Handshake response bytes. Returns -1 if c is closed. */
static int
lg_hs_input(struct lg_conn *c, const uint8_t *p, size_t n)
{
	char *end;
	size_t used;

	memcpy(c->hs + c->hs_len, p, n);	/* n <= room: see lg_conn_read */
	c->hs_len += n;
	c->hs[c->hs_len] = '\0';
	if ((end = strstr(c->hs, "\r\n\r\n")) == NULL) {
		if (c->hs_len >= LG_HS_CAP - 1) {
			lg_conn_fail(c, "handshake response too long");
			return -1;
		}
		return 0;
	}
	if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
		char line[64];

		snprintf(line, sizeof(line), "%.*s", (int)strcspn(c->hs, "\r"),
		    c->hs);
		lg_conn_fail(c, line);
		return -1;
	}
	used = (size_t)(end + 4 - c->hs);
	/* Frames that came with the 101 */
	{
		size_t rest = c->hs_len - used;
		char *tail = c->hs;

		c->hs = NULL;
		lg_conn_opened(c);
		if (c->state == LG_C_OPEN && rest > 0 &&
		    lg_ws_input(c, (uint8_t *)tail + used, rest) == -1) {
			free(tail);
			return -1;
		}
		free(tail);
	}
	if (c->fd >= 0 && lg.mode == LG_CONNECT && c->state == LG_C_OPEN &&
	    c->tx_pay == 0) {
		/* send the one byte through the backend */
		uint8_t f[8], key[4];
		size_t hl = lg_frame_header(f, 0x2, 1, key);

		lg_mask_copy(f + hl, bench_pat_at(0), 1, key);
		lg_send_unit(c, f, hl + 1);
		c->tx_pay = 1;
	}
	return 0;
}

/* After payload arrived: messages done, next sends, connect steps. */
static int
lg_after_input(struct lg_conn *c)
{
	uint64_t done, now;

	switch (lg.mode) {
	case LG_ECHO:
	case LG_RTT:
		done = c->rx_pay / lg.size;
		if (done == c->msgs_done)
			break;
		if (lg.mode == LG_RTT && lg.phase == LG_P_MEASURE &&
		    lg.nrtt < LG_RTT_MAX) {
			now = bench_now_ns();
			lg.rtt[lg.nrtt++] = (uint32_t)((now - c->t_sent) >
			    UINT32_MAX ? UINT32_MAX : now - c->t_sent);
		}
		lg.msgs += done - c->msgs_done;
		c->msgs_done = done;
		break;
	case LG_CONNECT:
		if (c->rx_pay < 1 || c->state != LG_C_OPEN)
			break;
		if (lg.raw) {
			lg_cycle_done(c);
			return -1;
		}
		lg_send_close(c);
		break;
	default:
		break;
	}
	return lg_conn_write(c);
}

static int
lg_conn_read(struct lg_conn *c)
{
	size_t cap;
	ssize_t r;
	int i;

	/* TLS: keep on while OpenSSL holds decrypted bytes epoll cannot see */
	for (i = 0; i < LG_IO_ROUNDS ||
	    (c->ssl != NULL && SSL_pending(c->ssl) > 0); i++) {
		cap = sizeof(lg.rbuf);
		if (c->state == LG_C_HS)
			cap = LG_HS_CAP - 1 - c->hs_len;
		r = lg_io_recv(c, lg.rbuf, cap);
		if (r == 0) {
			if (c->state == LG_C_CLOSING && lg.mode == LG_CONNECT) {
				lg_cycle_done(c);	/* EOF after our close */
				return -1;
			}
			lg_conn_fail(c, c->state == LG_C_HS ?
			    "EOF during the handshake" : "EOF from the server");
			return -1;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			lg_conn_fail(c, strerror(errno));
			return -1;
		}
		if (c->state == LG_C_HS) {
			if (lg_hs_input(c, lg.rbuf, (size_t)r) == -1)
				return -1;
		} else if (!lg.raw) {
			if (lg_ws_input(c, lg.rbuf, (size_t)r) == -1)
				return -1;
		} else
			lg_payload(c, lg.rbuf, (size_t)r);
		if (c->fd < 0)
			return -1;
		if ((size_t)r < cap && c->ssl == NULL)
			break;
	}
	if (c->state == LG_C_HS)
		return 0;
	return lg_after_input(c);
}

static void
lg_base64(char *out, const uint8_t *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
		*out++ = tab[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		*out++ = tab[in[i + 2] & 63];
	}
	if (n - i == 1) {
		*out++ = tab[in[i] >> 2];
		*out++ = tab[(in[i] & 3) << 4];
		*out++ = '=';
		*out++ = '=';
	}
	*out = '\0';
}

/* TCP is up: send the upgrade request, or start relaying with -r. */
static void
lg_conn_connected(struct lg_conn *c)
{
	char req[512], key[32];
	uint8_t nonce[16];
	uint64_t a = lg_rand(), b = lg_rand();
	int n;

	if (lg.raw) {
		lg_conn_opened(c);
		if (lg.mode == LG_CONNECT) {
			lg_send_unit(c, bench_pat_at(0), 1);
			c->tx_pay = 1;
			(void)lg_conn_write(c);
		}
		return;
	}
	memcpy(nonce, &a, 8);
	memcpy(nonce + 8, &b, 8);
	lg_base64(key, nonce, 16);
	n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s:%u\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "\r\n", lg.path, inet_ntoa(lg.addr), lg.ports[c->port], key);
	if ((c->hs = malloc(LG_HS_CAP)) == NULL) {
		lg_conn_fail(c, "out of memory");
		return;
	}
	c->hs_len = 0;
	c->state = LG_C_HS;
	lg_send_unit(c, (const uint8_t *)req, (size_t)n);
	(void)lg_conn_write(c);
}

/* Start (or restart) connection c on its port. */
static void
lg_conn_start(struct lg_conn *c)
{
	struct sockaddr_in sin;
	struct epoll_event ev;
	int fd;
	uint8_t *txb = c->txb;
	size_t txcap = c->txcap;

	/* A clean slate, but the output buffer is kept for reuse. */
	memset(&c->hs, 0, sizeof(*c) - offsetof(struct lg_conn, hs));
	c->txb = txb;
	c->txcap = txcap;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(lg.ports[c->port]);
	sin.sin_addr = lg.addr;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		lg_err("socket", strerror(errno));
		return;
	}
	bench_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		lg_err("connect", strerror(errno));
		close(fd);
		return;
	}
	c->fd = fd;
	c->state = LG_C_CONNECTING;
	c->events = EPOLLIN | EPOLLOUT;
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(lg.ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		lg_err("epoll_ctl", strerror(errno));
		close(fd);
		c->fd = -1;
		c->state = LG_C_FREE;
		return;
	}
	lg.opening++;
	lg.started++;
}

/* Drive the TLS handshake (-S); on success the connection is connected. */
static void
lg_conn_tls(struct lg_conn *c)
{
	int r, e;

	if ((r = SSL_connect(c->ssl)) == 1) {
		lg.tls_done++;
		lg_conn_connected(c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		lg_set_events(c, EPOLLIN);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		lg_set_events(c, EPOLLIN | EPOLLOUT);
		return;
	}
	{
		char why[120];

		ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
		ERR_clear_error();
		lg_conn_fail(c, why);
	}
	if (lg.mode == LG_CONNECT && lg.running)
		lg_conn_start(c);
}

/* A server's session ticket (TLS 1.3 NewSessionTicket): counted, dropped. */
static int
lg_tls_ticket_cb(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	lg.tickets++;
	return 0;	/* not kept: every handshake is a full one */
}

static void
lg_tls_init(void)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1) {
		fprintf(stderr, "loadgen: cannot set up TLS\n");
		exit(1);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* The callback runs only with client caching on; nothing is stored. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, lg_tls_ticket_cb);
	lg.ssl_ctx = ctx;
}

static void
lg_conn_event(struct lg_conn *c, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == LG_C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			lg_conn_fail(c, strerror(err));
			if (lg.mode == LG_CONNECT && lg.running)
				lg_conn_start(c);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (lg.tls) {
			if ((c->ssl = SSL_new(lg.ssl_ctx)) == NULL ||
			    SSL_set_fd(c->ssl, c->fd) != 1) {
				lg_conn_fail(c, "SSL_new");
				return;
			}
			c->state = LG_C_TLS;
			lg_conn_tls(c);
			return;
		}
		lg_conn_connected(c);
		return;
	}
	if (c->state == LG_C_TLS) {
		lg_conn_tls(c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    lg_conn_read(c) == -1)
		return;
	if (c->fd >= 0 && (events & EPOLLOUT))
		(void)lg_conn_write(c);
}

/* --- phases and results --------------------------------------------------- */

static void
lg_snapshot(struct lg_snap *s)
{
	struct lg_sink k;

	if (lg_sink_query(&k) == 0) {
		s->sink_rx = k.rx;
		s->sink_ns = k.ns;
	}
	s->cpu_s = lg_pid_cpu();
	s->self_cpu_s = lg_proc_cpu1(getpid(), NULL);
	s->backend_cpu_s = lg.backend_pid > 0 ?
	    lg_proc_cpu1(lg.backend_pid, NULL) : -1;
	s->ns = bench_now_ns();
	s->rx = lg.rx;
	s->tx = lg.tx;
	s->msgs = lg.msgs;
	s->cycles = lg.cycles;
}

static int
lg_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
lg_report_common(void)
{
	printf("mode=%s ws=%d conns=%d size=%zu errors=%" PRIu64
	    " verify_errors=%" PRIu64, lg_mode_names[lg.mode], !lg.raw,
	    lg.nconns, lg.size, lg.errors, lg.verr);
	if (lg.tls)
		printf(" tls=1 tls_handshakes=%" PRIu64 " tls_tickets=%" PRIu64
		    " tickets_per_handshake=%.2f", lg.tls_done, lg.tickets,
		    lg.tls_done ? (double)lg.tickets / (double)lg.tls_done : 0);
}

/*
 * CPU per message or cycle (µs) of the proxy (-P), of us and of the
 * backend (-B), over the measuring window: where the 2 shared cores went.
 */
static void
lg_report_cpu_per(const char *unit, uint64_t n)
{
	if (n == 0)
		return;
	if (lg.s0.cpu_s >= 0 && lg.s1.cpu_s >= 0)
		printf(" cpu_s=%.2f cpu_us_per_%s=%.2f", lg.s1.cpu_s - lg.s0.cpu_s,
		    unit, (lg.s1.cpu_s - lg.s0.cpu_s) * 1e6 / (double)n);
	if (lg.s0.self_cpu_s >= 0 && lg.s1.self_cpu_s >= 0)
		printf(" gen_us_per_%s=%.2f", unit,
		    (lg.s1.self_cpu_s - lg.s0.self_cpu_s) * 1e6 / (double)n);
	if (lg.s0.backend_cpu_s >= 0 && lg.s1.backend_cpu_s >= 0)
		printf(" backend_us_per_%s=%.2f gen_backend_us_per_%s=%.2f",
		    unit, (lg.s1.backend_cpu_s - lg.s0.backend_cpu_s) * 1e6 /
		    (double)n, unit, (lg.s1.backend_cpu_s - lg.s0.backend_cpu_s +
		    lg.s1.self_cpu_s - lg.s0.self_cpu_s) * 1e6 / (double)n);
}

static void
lg_report_rates(void)
{
	double secs = (double)(lg.s1.ns - lg.s0.ns) / 1e9;
	double bytes, mbps, cpu = -1;

	lg_report_common();
	if (lg.mode == LG_STREAM_UP || lg.mode == LG_STREAM_DOWN) {
		if (lg.mode == LG_STREAM_UP && lg.ctl_fd >= 0 &&
		    lg.s1.sink_ns > lg.s0.sink_ns) {
			secs = (double)(lg.s1.sink_ns - lg.s0.sink_ns) / 1e9;
			bytes = (double)(lg.s1.sink_rx - lg.s0.sink_rx);
			printf(" measured_at=sink");
		} else if (lg.mode == LG_STREAM_UP) {
			bytes = (double)(lg.s1.tx - lg.s0.tx);
			printf(" measured_at=writer");
		} else
			bytes = (double)(lg.s1.rx - lg.s0.rx);
		mbps = bytes / secs / 1e6;
		printf(" secs=%.3f bytes=%.0f mbps=%.1f", secs, bytes, mbps);
		if (lg.s0.cpu_s >= 0 && lg.s1.cpu_s >= 0) {
			cpu = lg.s1.cpu_s - lg.s0.cpu_s;
			printf(" cpu_s=%.2f cpu_s_per_gb=%.3f", cpu,
			    bytes > 0 ? cpu / (bytes / 1e9) : 0);
		}
	} else if (lg.mode == LG_ECHO) {
		printf(" secs=%.3f msgs=%" PRIu64 " msgs_per_s=%.0f", secs,
		    lg.s1.msgs - lg.s0.msgs,
		    (double)(lg.s1.msgs - lg.s0.msgs) / secs);
		lg_report_cpu_per("msg", lg.s1.msgs - lg.s0.msgs);
	} else if (lg.mode == LG_CONNECT) {
		printf(" secs=%.3f cycles=%" PRIu64 " cycles_per_s=%.0f", secs,
		    lg.s1.cycles - lg.s0.cycles,
		    (double)(lg.s1.cycles - lg.s0.cycles) / secs);
		lg_report_cpu_per("cycle", lg.s1.cycles - lg.s0.cycles);
	} else if (lg.mode == LG_RTT) {
		size_t n = lg.nrtt;

		qsort(lg.rtt, n, sizeof(*lg.rtt), lg_cmp_u32);
		if (n == 0)
			printf(" samples=0");
		else
			printf(" samples=%zu p50_us=%.1f p90_us=%.1f "
			    "p99_us=%.1f max_us=%.1f", n,
			    lg.rtt[n / 2] / 1e3, lg.rtt[n * 9 / 10] / 1e3,
			    lg.rtt[n * 99 / 100] / 1e3, lg.rtt[n - 1] / 1e3);
	}
	printf("\n");
}

/* Wait (bounded) until the backend has n more live connections than base. */
static void
lg_wait_backend(uint64_t base, uint64_t n, uint64_t until)
{
	struct lg_sink k;
	int i;

	for (i = 0; i < 2000 && bench_now_ns() < until; i++) {
		if (lg_sink_query(&k) == -1 || k.conns >= base + n)
			return;
		usleep(10000);
	}
	lg_err("the backend never saw every connection", NULL);
}

/* --- the loop --------------------------------------------------------------- */

static void
lg_poll(int timeout_ms)
{
	struct epoll_event evs[LG_EVENTS];
	int n, i;

	n = epoll_wait(lg.ep, evs, LG_EVENTS, timeout_ms);
	for (i = 0; i < n; i++) {
		struct lg_conn *c = evs[i].data.ptr;

		if (c->fd >= 0)
			lg_conn_event(c, evs[i].events);
	}
}

/* Open connections up to lg.nconns, LG_OPENING_MAX at a time. */
static void
lg_open_more(void)
{
	while (lg.started < lg.nconns && lg.opening < LG_OPENING_MAX) {
		struct lg_conn *c = &lg.conns[lg.started];

		c->port = lg.started % lg.nports;
		lg_conn_start(c);
		if (c->state == LG_C_FREE)
			return;		/* failed; counted */
	}
}

static void
lg_run_rates(void)
{
	uint64_t now;

	lg.running = true;
	lg.phase = lg.mode == LG_CONNECT ? LG_P_WARM : LG_P_SETUP;
	lg.t_phase = bench_now_ns();
	if (lg.mode == LG_CONNECT) {
		int i;

		for (i = 0; i < lg.nconns; i++) {
			if (lg.count > 0 && lg.begun >= lg.count)
				break;
			lg.begun++;
			lg.conns[i].port = i % lg.nports;
			lg_conn_start(&lg.conns[i]);
		}
	}
	while ((now = bench_now_ns()) < lg.t_deadline) {
		if (lg.phase == LG_P_SETUP) {
			lg_open_more();
			if (lg.open == lg.nconns) {
				lg.phase = LG_P_WARM;
				lg.t_phase = now;
			} else if (lg.errors > 0)
				break;
		}
		if (lg.phase == LG_P_WARM &&
		    now >= lg.t_phase + (uint64_t)(lg.warm * 1e9)) {
			lg_snapshot(&lg.s0);
			lg.phase = LG_P_MEASURE;
			lg.t_phase = now;
		}
		if (lg.phase == LG_P_MEASURE && (lg.count > 0 ?
		    (lg.mode == LG_CONNECT ? lg.cycles : lg.msgs) >= lg.count :
		    now >= lg.t_phase + (uint64_t)(lg.secs * 1e9))) {
			lg_snapshot(&lg.s1);
			lg.phase = LG_P_END;
			break;
		}
		if (lg.mode != LG_CONNECT && lg.phase != LG_P_SETUP &&
		    lg.open < lg.nconns)
			break;		/* a connection died: already counted */
		if (lg.mode == LG_CONNECT && lg.cycles == 0 &&
		    lg.errors >= 1000)
			break;		/* nothing works: stop hammering */
		lg_poll(5);
	}
	lg.running = false;
	if (lg.phase != LG_P_END) {
		lg_err("run did not finish (deadline, or lost connections)", NULL);
		lg_report_common();
		printf(" failed=1 open=%d\n", lg.open);
		return;
	}
	lg_report_rates();
}

static void
lg_run_idle(void)
{
	struct lg_sink k0;
	long before, after;
	uint64_t t0 = bench_now_ns(), base = 0;
	double secs_open;

	lg.running = true;
	if (lg_sink_query(&k0) == 0)
		base = k0.conns;
	before = lg_pid_mem();
	while (bench_now_ns() < lg.t_deadline && lg.open < lg.nconns) {
		lg_open_more();
		if (lg.opening == 0 && lg.open < lg.nconns &&
		    lg.started >= lg.nconns)
			break;		/* some failed */
		lg_poll(5);
	}
	secs_open = (double)(bench_now_ns() - t0) / 1e9;
	if (lg.ctl_fd >= 0)
		lg_wait_backend(base, (uint64_t)lg.open, lg.t_deadline);
	/* Hold: keep answering pings while the gateway settles. */
	{
		uint64_t until = bench_now_ns() + (uint64_t)(lg.hold * 1e9);

		while (bench_now_ns() < until && bench_now_ns() < lg.t_deadline)
			lg_poll(10);
	}
	after = lg_pid_mem();
	lg_report_common();
	printf(" open=%d open_secs=%.2f", lg.open, secs_open);
	if (before >= 0 && after >= 0 && lg.open > 0)
		printf(" mem_before_kib=%ld mem_after_kib=%ld "
		    "kib_per_conn=%.2f", before, after,
		    (double)(after - before) / lg.open);
	printf("\n");
	if (lg.open < lg.nconns)
		lg_err("not every connection opened", NULL);
}

static void
lg_run_large(void)
{
	struct lg_sink k0, k;
	long rss0 = -1, peak = -1, v, hwm = -1;
	uint64_t t0 = 0, t1 = 0, next = 0, now;
	bool ok = false;
	char path[64];
	FILE *f;

	if (lg.ctl_fd < 0 || lg_sink_query(&k0) == -1) {
		fprintf(stderr, "loadgen: large needs the sink's -C port\n");
		exit(2);
	}
	if (lg.pid > 0 && !lg.tree) {
		/* Reset VmHWM to the current RSS (proc(5), clear_refs "5"). */
		snprintf(path, sizeof(path), "/proc/%d/clear_refs", lg.pid);
		if ((f = fopen(path, "w")) != NULL) {
			fputs("5", f);
			fclose(f);
		}
	}
	rss0 = peak = lg_pid_mem();
	lg.running = true;
	lg.conns[0].port = 0;
	lg.started = 0;
	t0 = bench_now_ns();
	lg_open_more();
	while ((now = bench_now_ns()) < lg.t_deadline && lg.errors == 0) {
		struct lg_conn *c = &lg.conns[0];

		if (now >= next) {
			if ((v = lg_pid_mem()) > peak)
				peak = v;
			next = now + 5000000;	/* 5 ms */
		}
		/*
		 * Ask the sink only once everything is written: a query
		 * blocks this loop (and so the writer) for a round trip.
		 */
		if (c->state == LG_C_OPEN && c->tx_pay >= lg.size &&
		    c->tx_off == c->tx_len && lg_sink_query(&k) == 0 &&
		    k.rx - k0.rx >= lg.size) {
			t1 = bench_now_ns();
			ok = true;
			break;
		}
		lg_poll(1);
	}
	lg.running = false;
	if (lg.pid > 0 && !lg.tree)
		hwm = lg_proc_kib(lg.pid, "status", "VmHWM");
	if ((v = lg_pid_mem()) > peak)
		peak = v;
	lg_report_common();
	if (ok)
		printf(" secs=%.3f mbps=%.1f", (double)(t1 - t0) / 1e9,
		    (double)lg.size / ((double)(t1 - t0) / 1e9) / 1e6);
	else {
		lg_err("the sink did not get every byte in time", NULL);
		printf(" timeout_s=%.0f sink_got=%" PRIu64, lg.deadline_s,
		    lg_sink_query(&k) == 0 ? k.rx - k0.rx : 0);
	}
	if (rss0 >= 0)
		printf(" rss_before_kib=%ld rss_peak_sampled_kib=%ld "
		    "growth_sampled_kib=%ld", rss0, peak, peak - rss0);
	if (hwm >= 0)
		printf(" hwm_kib=%ld hwm_growth_kib=%ld", hwm, hwm - rss0);
	printf("\n");
}

/* --- main ------------------------------------------------------------------- */

static void
lg_usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -m MODE -p PORT[,PORT...] [-a ADDR] [-u PATH] [-r]\n"
	    "               [-n CONNS] [-t SECS] [-W SECS] [-s BYTES] [-w N]\n"
	    "               [-C CTLPORT] [-P PID [-T]] [-B PID] [-H SECS] [-V]\n"
	    "               [-x SECS] [-N COUNT] [-S]\n"
	    "modes: stream-up stream-down echo rtt connect idle large\n");
	exit(2);
}

static void
lg_parse_ports(char *s)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(s, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (lg.nports == LG_MAX_PORTS)
			lg_usage();
		lg.ports[lg.nports++] = (uint16_t)atoi(tok);
	}
}

static void
lg_defaults(void)
{
	switch (lg.mode) {
	case LG_STREAM_UP:
	case LG_STREAM_DOWN:
		if (lg.nconns == 0) lg.nconns = 1;
		if (lg.size == 0) lg.size = 65536;
		break;
	case LG_ECHO:
		if (lg.nconns == 0) lg.nconns = 100;
		if (lg.size == 0) lg.size = 1024;
		break;
	case LG_RTT:
		lg.nconns = 1;
		lg.window = 1;
		if (lg.size == 0) lg.size = 64;
		break;
	case LG_CONNECT:
		if (lg.nconns == 0) lg.nconns = 32;
		lg.size = 1;
		break;
	case LG_IDLE:
		if (lg.nconns == 0) lg.nconns = 1000;
		break;
	case LG_LARGE:
		lg.nconns = 1;
		if (lg.size == 0) lg.size = (size_t)1 << 30;
		break;
	}
	if (lg.window == 0)
		lg.window = 1;
	if (lg.mode == LG_STREAM_UP && lg.size > BENCH_PAT_SPAN)
		lg_usage();
	if ((lg.mode == LG_ECHO || lg.mode == LG_RTT) &&
	    lg.size > BENCH_PAT_SPAN)
		lg_usage();
}

int
main(int argc, char **argv)
{
	int ch, i;
	char *ports = NULL;

	lg.secs = 2;
	lg.warm = 0.5;
	lg.hold = 1;
	lg.deadline_s = 60;
	lg.path = "/";
	lg.mode = (enum lg_mode)-1;
	inet_aton("127.0.0.1", &lg.addr);
	while ((ch = getopt(argc, argv, "m:a:p:u:rn:t:W:s:w:C:P:B:TH:Vx:N:S")) != -1) {
		switch (ch) {
		case 'm':
			for (i = 0; i < (int)(sizeof(lg_mode_names) /
			    sizeof(*lg_mode_names)); i++)
				if (strcmp(optarg, lg_mode_names[i]) == 0)
					lg.mode = (enum lg_mode)i;
			if ((int)lg.mode < 0)
				lg_usage();
			break;
		case 'a':
			if (inet_aton(optarg, &lg.addr) == 0)
				lg_usage();
			break;
		case 'p': ports = optarg; break;
		case 'u': lg.path = optarg; break;
		case 'r': lg.raw = true; break;
		case 'n': lg.nconns = atoi(optarg); break;
		case 't': lg.secs = atof(optarg); break;
		case 'W': lg.warm = atof(optarg); break;
		case 's': lg.size = strtoull(optarg, NULL, 0); break;
		case 'w': lg.window = (unsigned)atoi(optarg); break;
		case 'C': lg.ctl_port = atoi(optarg); break;
		case 'P': lg.pid = atoi(optarg); break;
		case 'B': lg.backend_pid = atoi(optarg); break;
		case 'T': lg.tree = true; break;
		case 'H': lg.hold = atof(optarg); break;
		case 'V': lg.verify = true; break;
		case 'x': lg.deadline_s = atof(optarg); break;
		case 'N': lg.count = strtoull(optarg, NULL, 0); break;
		case 'S': lg.tls = true; break;
		default: lg_usage();
		}
	}
	if ((int)lg.mode < 0 || ports == NULL || lg.nconns < 0 ||
	    lg.secs <= 0 || lg.warm < 0 || lg.deadline_s <= 0)
		lg_usage();
	lg_parse_ports(ports);
	if (lg.nports == 0)
		lg_usage();
	lg_defaults();
	if (lg.count > 0) {
		if (lg.mode != LG_ECHO && lg.mode != LG_CONNECT)
			lg_usage();
		lg.warm = 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (lg.tls)
		lg_tls_init();
	bench_pat_init();
	if (bench_raise_nofile() < (rlim_t)lg.nconns + 16)
		fprintf(stderr, "loadgen: warning: RLIMIT_NOFILE is below %d\n",
		    lg.nconns + 16);
	lg.rng = bench_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	lg.conns = calloc((size_t)lg.nconns, sizeof(*lg.conns));
	if (lg.conns == NULL)
		return 1;
	for (i = 0; i < lg.nconns; i++)
		lg.conns[i].fd = -1;
	if (lg.mode == LG_RTT &&
	    (lg.rtt = malloc(LG_RTT_MAX * sizeof(*lg.rtt))) == NULL)
		return 1;
	if ((lg.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 1;
	lg_ctl_open();
	lg.t_start = bench_now_ns();
	lg.t_deadline = lg.t_start + (uint64_t)(lg.deadline_s * 1e9);
	switch (lg.mode) {
	case LG_IDLE:
		lg_run_idle();
		break;
	case LG_LARGE:
		lg_run_large();
		break;
	default:
		lg_run_rates();
		break;
	}
	if (lg.errors > 0)
		fprintf(stderr, "loadgen: %" PRIu64 " error(s); first: %s\n",
		    lg.errors, lg.first_err);
	fflush(stdout);
	/* Sockets close at exit: abrupt by design (see PERFORMANCE.md). */
	return lg.errors > 0 || lg.verr > 0 ? 1 : 0;
}
