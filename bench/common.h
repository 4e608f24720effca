/*
 * common.h: helpers shared by the benchmark's loadgen.c and backend.c.
 *
 * Everything here is static so each program stays one translation unit
 * with no dependency beyond libc.
 *
 * The pattern: byte i of every benchmark stream (each connection, each
 * direction, counted in payload bytes) is i % BENCH_PAT_MOD. 251 is prime,
 * so frame and read boundaries never line up with it, and a slice of n
 * bytes at stream offset o is simply bench_pat + o % 251.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define BENCH_PAT_MOD	251
#define BENCH_PAT_SPAN	(1u << 20)	/* longest slice handed out at once */

static uint8_t bench_pat[BENCH_PAT_MOD + BENCH_PAT_SPAN];

static inline void
bench_pat_init(void)
{
	size_t i;

	for (i = 0; i < sizeof(bench_pat); i++)
		bench_pat[i] = (uint8_t)(i % BENCH_PAT_MOD);
}

/* The pattern from stream offset off; valid for BENCH_PAT_SPAN bytes. */
static inline const uint8_t *
bench_pat_at(uint64_t off)
{
	return bench_pat + off % BENCH_PAT_MOD;
}

/* 0 if p[0..n) is the pattern at stream offset off, else -1. */
static inline int
bench_pat_check(const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		size_t k = n < BENCH_PAT_SPAN ? n : BENCH_PAT_SPAN;

		if (memcmp(p, bench_pat_at(off), k) != 0)
			return -1;
		p += k;
		n -= k;
		off += k;
	}
	return 0;
}

static inline uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Soft RLIMIT_NOFILE up to the hard limit; returns the new soft limit. */
static inline rlim_t
bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

static inline int
bench_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static inline void
bench_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

#endif /* BENCH_COMMON_H */
