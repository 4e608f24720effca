/*
 * backend: the benchmark's TCP server. One process, one epoll loop, no
 * dependency beyond libc.
 *
 *   backend [-e PORT]... [-k PORT] [-s PORT] [-c PORT] [-b BYTES] [-V]
 *
 *   -e PORT   echo listener (repeatable): every byte read is written back
 *   -k PORT   sink listener: bytes are read, counted and dropped
 *   -s PORT   source listener: the pattern is written as fast as the
 *             peer takes it, until it closes
 *   -c PORT   control listener: each line "S" is answered with one line
 *               rx=BYTES tx=BYTES ns=MONOTONIC_NS conns=N accepted=N verr=N
 *             rx/tx count payload bytes over all data connections, ns is
 *             CLOCK_MONOTONIC when the line was made (the loadgen divides
 *             byte deltas by ns deltas, so its own query latency does not
 *             enter the figure)
 *   -b BYTES  source write size (default 65536, at most 1 MiB)
 *   -V        verify: sink and echo input must be the stream pattern
 *             (common.h); a mismatch is counted in verr
 *
 * Runs until SIGINT or SIGTERM, then prints the counters on stderr.
 * Every loop below is bounded: a wakeup reads or writes at most a fixed
 * number of times per connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define BK_MAX_LISTEN	16
#define BK_RBUF		(256 * 1024)
#define BK_EVENTS	512
#define BK_IO_ROUNDS	16		/* reads or writes per wakeup */

enum bk_kind {
	BK_ECHO = 0,
	BK_SINK,
	BK_SOURCE,
	BK_CTL,
};

/* A connection, or (is_listener) a listening socket. */
struct bk_conn {
	int		 fd;
	enum bk_kind	 kind;
	bool		 is_listener;
	uint32_t	 events;	/* registered with epoll */
	uint64_t	 in_off;	/* stream offset of the next byte read */
	uint64_t	 out_off;	/* source: stream offset of next write */
	uint8_t		*pend;		/* echo: bytes not yet written back */
	size_t		 pend_len, pend_off;
	char		 line[64];	/* control: the request line so far */
	size_t		 line_len;
};

static volatile sig_atomic_t bk_stop;
static int bk_ep;
static bool bk_verify;
static size_t bk_chunk = 65536;
static uint8_t bk_rbuf[BK_RBUF];
/* Counters over data connections (control connections are left out). */
static uint64_t bk_rx, bk_tx, bk_conns, bk_accepted, bk_verr;

static void
bk_sig_cb(int sig)
{
	(void)sig;
	bk_stop = 1;
}

static int
bk_listen(const char *port, enum bk_kind kind, struct bk_conn *l)
{
	struct sockaddr_in sin;
	struct epoll_event ev;
	int one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l->fd == -1)
		return -1;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l->fd, 4096) == -1) {
		fprintf(stderr, "backend: port %s: %s\n", port,
		    strerror(errno));
		return -1;
	}
	l->kind = kind;
	l->is_listener = true;
	ev.events = EPOLLIN;
	ev.data.ptr = l;
	return epoll_ctl(bk_ep, EPOLL_CTL_ADD, l->fd, &ev);
}

static void
bk_set_events(struct bk_conn *c, uint32_t events)
{
	struct epoll_event ev;

	if (c->events == events)
		return;
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(bk_ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

static void
bk_close(struct bk_conn *c)
{
	close(c->fd);		/* also removes it from the epoll set */
	free(c->pend);
	if (c->kind != BK_CTL)
		bk_conns--;
	free(c);
}

static void
bk_accept(struct bk_conn *l)
{
	struct epoll_event ev;
	struct bk_conn *c;
	int fd, i;

	for (i = 0; i < 256; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK);
		if (fd == -1)
			return;		/* EAGAIN, or EMFILE: retried later */
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			return;
		}
		bench_nodelay(fd);
		c->fd = fd;
		c->kind = l->kind;
		c->events = l->kind == BK_SOURCE ? EPOLLIN | EPOLLOUT :
		    EPOLLIN;
		ev.events = c->events;
		ev.data.ptr = c;
		if (epoll_ctl(bk_ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(c);
			continue;
		}
		if (c->kind != BK_CTL) {
			bk_conns++;
			bk_accepted++;
		}
	}
}

/* Control: answer each complete "S" line. Returns -1 to close. */
static int
bk_ctl_input(struct bk_conn *c, const uint8_t *p, size_t n)
{
	char out[256];
	size_t i;
	int len;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (c->line_len < sizeof(c->line) - 1)
				c->line[c->line_len++] = (char)p[i];
			continue;
		}
		c->line_len = 0;
		len = snprintf(out, sizeof(out), "rx=%llu tx=%llu ns=%llu "
		    "conns=%llu accepted=%llu verr=%llu\n",
		    (unsigned long long)bk_rx, (unsigned long long)bk_tx,
		    (unsigned long long)bench_now_ns(),
		    (unsigned long long)bk_conns,
		    (unsigned long long)bk_accepted,
		    (unsigned long long)bk_verr);
		/* A few dozen bytes on a fresh socket buffer: never partial. */
		if (send(c->fd, out, (size_t)len, MSG_NOSIGNAL) != len)
			return -1;
	}
	return 0;
}

/* Echo: write p back; keep what the socket refuses. -1 to close. */
static int
bk_echo_input(struct bk_conn *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	w = send(c->fd, p, n, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		w = 0;
	}
	bk_tx += (uint64_t)w;
	if ((size_t)w == n)
		return 0;
	if ((c->pend = malloc(n - (size_t)w)) == NULL)
		return -1;
	memcpy(c->pend, p + w, n - (size_t)w);
	c->pend_len = n - (size_t)w;
	c->pend_off = 0;
	bk_set_events(c, EPOLLOUT);	/* stop reading until drained */
	return 0;
}

static int
bk_read(struct bk_conn *c)
{
	ssize_t r;
	int i;

	for (i = 0; i < BK_IO_ROUNDS; i++) {
		if (c->pend != NULL)
			return 0;
		r = recv(c->fd, bk_rbuf, sizeof(bk_rbuf), 0);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (c->kind == BK_CTL) {
			if (bk_ctl_input(c, bk_rbuf, (size_t)r) == -1)
				return -1;
			continue;
		}
		if (bk_verify && c->kind != BK_SOURCE &&
		    bench_pat_check(bk_rbuf, (size_t)r, c->in_off) == -1) {
			bk_verr++;
			fprintf(stderr, "backend: pattern mismatch at stream "
			    "offset %llu..+%zd\n",
			    (unsigned long long)c->in_off, r);
			bk_verify = false;	/* one report is enough */
		}
		c->in_off += (uint64_t)r;
		bk_rx += (uint64_t)r;
		if (c->kind == BK_ECHO &&
		    bk_echo_input(c, bk_rbuf, (size_t)r) == -1)
			return -1;
		if ((size_t)r < sizeof(bk_rbuf))
			return 0;
	}
	return 0;
}

static int
bk_write(struct bk_conn *c)
{
	ssize_t w;
	int i;

	for (i = 0; i < BK_IO_ROUNDS; i++) {
		if (c->kind == BK_SOURCE) {
			w = send(c->fd, bench_pat_at(c->out_off), bk_chunk,
			    MSG_NOSIGNAL);
		} else if (c->pend != NULL) {
			w = send(c->fd, c->pend + c->pend_off,
			    c->pend_len - c->pend_off, MSG_NOSIGNAL);
		} else {
			bk_set_events(c, EPOLLIN);
			return 0;
		}
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		bk_tx += (uint64_t)w;
		if (c->kind == BK_SOURCE) {
			c->out_off += (uint64_t)w;
			continue;
		}
		c->pend_off += (size_t)w;
		if (c->pend_off == c->pend_len) {
			free(c->pend);
			c->pend = NULL;
			bk_set_events(c, EPOLLIN);
			return 0;
		}
	}
	return 0;
}

static void
bk_usage(void)
{
	fprintf(stderr, "usage: backend [-e PORT]... [-k PORT] [-s PORT] "
	    "[-c PORT] [-b BYTES] [-V]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct bk_conn ls[BK_MAX_LISTEN];
	struct epoll_event evs[BK_EVENTS];
	struct sigaction sa;
	int nls = 0, ch, n, i;
	enum bk_kind kind;
	const char *ports[BK_MAX_LISTEN];
	enum bk_kind kinds[BK_MAX_LISTEN];

	while ((ch = getopt(argc, argv, "e:k:s:c:b:V")) != -1) {
		switch (ch) {
		case 'e': kind = BK_ECHO; break;
		case 'k': kind = BK_SINK; break;
		case 's': kind = BK_SOURCE; break;
		case 'c': kind = BK_CTL; break;
		case 'b':
			bk_chunk = strtoul(optarg, NULL, 0);
			if (bk_chunk == 0 || bk_chunk > BENCH_PAT_SPAN)
				bk_usage();
			continue;
		case 'V': bk_verify = true; continue;
		default: bk_usage();
		}
		if (nls == BK_MAX_LISTEN)
			bk_usage();
		ports[nls] = optarg;
		kinds[nls++] = kind;
	}
	if (nls == 0)
		bk_usage();
	bench_pat_init();
	bench_raise_nofile();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bk_sig_cb;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((bk_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 1;
	for (i = 0; i < nls; i++)
		if (bk_listen(ports[i], kinds[i], &ls[i]) == -1)
			return 1;
	while (!bk_stop) {
		n = epoll_wait(bk_ep, evs, BK_EVENTS, 200);
		for (i = 0; i < n; i++) {
			struct bk_conn *c = evs[i].data.ptr;

			if (c->is_listener) {
				bk_accept(c);
				continue;
			}
			if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
			    bk_read(c) == -1) {
				bk_close(c);
				continue;
			}
			if ((evs[i].events & EPOLLOUT) && bk_write(c) == -1)
				bk_close(c);
		}
	}
	fprintf(stderr, "backend: rx=%llu tx=%llu accepted=%llu verr=%llu\n",
	    (unsigned long long)bk_rx, (unsigned long long)bk_tx,
	    (unsigned long long)bk_accepted, (unsigned long long)bk_verr);
	return bk_verr ? 3 : 0;
}
