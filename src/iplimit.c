/*
 * iplimit: see include/iplimit.h.
 *
 * A chained hash table of entries, each an address with its open
 * connections and its token bucket. An entry goes away when it has no
 * connection and its bucket is full again, so the table holds only
 * addresses that are active or were recently: memory follows load.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "iplimit.h"

#define IPLIMIT_BUCKETS	4096	/* hash chains */

struct iplimit_entry {
	struct iplimit_entry	*next;
	uint8_t			 addr[16];
	uint8_t			 alen;		/* 4 or 16 */
	uint64_t		 conns;		/* open connections */
	uint64_t		 tokens_milli;	/* bucket, thousandths */
	uint64_t		 refilled_ms;	/* last refill */
	uint64_t		 burst_milli;	/* full bucket */
	uint64_t		 rate;		/* tokens a second */
};

static pthread_mutex_t		 iplimit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iplimit_entry	*iplimit_table[IPLIMIT_BUCKETS];
static uint64_t			 iplimit_count;
static size_t			 iplimit_sweep_pos;

/* The address bytes of sa (v4-mapped as IPv4); 0 if none we limit. */
static size_t
iplimit_key(const struct sockaddr *sa, uint8_t out[16])
{
	struct addr_ip	ip;
	size_t		len;

	if (addr_ip_from_sockaddr(sa, &ip) == -1)
		return 0;
	len = ip.family == AF_INET ? 4 : 16;
	memcpy(out, ip.b, len);
	return len;
}

static size_t
iplimit_hash(const uint8_t *a, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % IPLIMIT_BUCKETS;
}

/* The entry for a (created if create); NULL if absent or out of memory. */
static struct iplimit_entry *
iplimit_find(const uint8_t *a, size_t len, bool create)
{
	struct iplimit_entry *e, **head = &iplimit_table[iplimit_hash(a, len)];

	for (e = *head; e != NULL; e = e->next)
		if (e->alen == len && memcmp(e->addr, a, len) == 0)
			return e;
	if (!create || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	memcpy(e->addr, a, len);
	e->alen = (uint8_t)len;
	e->next = *head;
	*head = e;
	iplimit_count++;
	return e;
}

/* Drop e if nothing about it needs remembering. */
static void
iplimit_maybe_drop(struct iplimit_entry *e)
{
	struct iplimit_entry **p = &iplimit_table[iplimit_hash(e->addr,
	    e->alen)];

	if (e->conns != 0 || e->tokens_milli < e->burst_milli)
		return;
	for (; *p != NULL; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			free(e);
			iplimit_count--;
			return;
		}
}

int
iplimit_acquire(const struct sockaddr *sa, uint64_t max)
{
	struct iplimit_entry *e;
	uint8_t a[16];
	size_t len;
	int r = 1;

	if (max == 0 || (len = iplimit_key(sa, a)) == 0)
		return 0;
	pthread_mutex_lock(&iplimit_lock);
	if ((e = iplimit_find(a, len, true)) == NULL)
		r = 0;		/* out of memory: do not limit */
	else if (e->conns >= max)
		r = -1;
	else
		e->conns++;
	pthread_mutex_unlock(&iplimit_lock);
	return r;
}

void
iplimit_release(const struct sockaddr *sa)
{
	struct iplimit_entry *e;
	uint8_t a[16];
	size_t len;

	if ((len = iplimit_key(sa, a)) == 0)
		return;
	pthread_mutex_lock(&iplimit_lock);
	if ((e = iplimit_find(a, len, false)) != NULL && e->conns > 0) {
		e->conns--;
		iplimit_maybe_drop(e);
	}
	pthread_mutex_unlock(&iplimit_lock);
}

uint64_t
iplimit_conns(const struct sockaddr *sa)
{
	struct iplimit_entry *e;
	uint8_t a[16];
	uint64_t n = 0;
	size_t len;

	if ((len = iplimit_key(sa, a)) == 0)
		return 0;
	pthread_mutex_lock(&iplimit_lock);
	if ((e = iplimit_find(a, len, false)) != NULL)
		n = e->conns;
	pthread_mutex_unlock(&iplimit_lock);
	return n;
}

/*
 * Forget idle addresses whose bucket has refilled by now, one chain per
 * call, so addresses seen once do not stay forever.
 */
/*
 * Milliseconds from then to now; none when now is earlier. Workers read
 * their clocks at different moments, so a caller may come with a time a
 * little before the last refill another one recorded: that must not wrap
 * to an almost endless time that refills (or forgets) a spent bucket.
 */
static uint64_t
iplimit_elapsed(uint64_t now_ms, uint64_t then_ms)
{
	return now_ms > then_ms ? now_ms - then_ms : 0;
}

static void
iplimit_sweep_one(uint64_t now_ms)
{
	struct iplimit_entry *e, **p;

	p = &iplimit_table[iplimit_sweep_pos++ % IPLIMIT_BUCKETS];
	while ((e = *p) != NULL) {
		if (e->conns == 0 && e->tokens_milli + iplimit_elapsed(now_ms,
		    e->refilled_ms) * e->rate >= e->burst_milli) {
			*p = e->next;
			free(e);
			iplimit_count--;
		} else {
			p = &e->next;
		}
	}
}

bool
iplimit_rate_ok(const struct sockaddr *sa, uint64_t rate, uint64_t burst,
    uint64_t now_ms)
{
	struct iplimit_entry *e;
	uint8_t a[16];
	size_t len;
	bool ok = true;

	if (rate == 0 || (len = iplimit_key(sa, a)) == 0)
		return true;
	if (burst == 0)
		burst = rate;
	pthread_mutex_lock(&iplimit_lock);
	iplimit_sweep_one(now_ms);
	if ((e = iplimit_find(a, len, true)) != NULL) {
		e->rate = rate;
		if (e->burst_milli == 0) {	/* new: a full bucket */
			e->burst_milli = burst * 1000;
			e->tokens_milli = e->burst_milli;
			e->refilled_ms = now_ms;
		}
		/* rate tokens a second = rate thousandths a millisecond */
		e->tokens_milli += iplimit_elapsed(now_ms, e->refilled_ms) *
		    rate;
		if (e->tokens_milli > e->burst_milli)
			e->tokens_milli = e->burst_milli;
		if (now_ms > e->refilled_ms)
			e->refilled_ms = now_ms;
		if (e->tokens_milli >= 1000)
			e->tokens_milli -= 1000;
		else
			ok = false;
		iplimit_maybe_drop(e);
	}
	pthread_mutex_unlock(&iplimit_lock);
	return ok;
}

bool
iplimit_trusted(const struct sockaddr *sa, const struct addr_cidr *nets,
    size_t n)
{
	struct addr_ip	ip;
	size_t		i;

	if (n == 0 || addr_ip_from_sockaddr(sa, &ip) == -1)
		return false;
	for (i = 0; i < n; i++)
		if (addr_cidr_match(&nets[i], &ip))
			return true;
	return false;
}

/*
 * The rightmost entry of xff[0..*end) not yet taken: its trimmed bounds
 * in [*a, *b), and *end moved before it. False when none is left.
 */
static bool
iplimit_xff_prev(const char *xff, size_t *end, size_t *a, size_t *b)
{
	size_t e = *end, start;

	while (e > 0 && (xff[e - 1] == ' ' || xff[e - 1] == '\t' ||
	    xff[e - 1] == ','))
		e--;
	if (e == 0) {
		*end = 0;
		return false;
	}
	for (start = e; start > 0 && xff[start - 1] != ','; start--)
		;
	for (*a = start; *a < e && (xff[*a] == ' ' || xff[*a] == '\t');
	    (*a)++)
		;
	*b = e;
	*end = start;
	return true;
}

/* One entry as an address (port 0): IPv4 or IPv6, nothing else. */
static bool
iplimit_xff_addr(const char *p, size_t len, struct sockaddr_storage *out)
{
	struct addr_ip	ip;

	if (addr_ip_parse(p, len, 0, &ip) == -1)
		return false;
	(void)addr_ip_to_sockaddr(&ip, 0, out);
	return true;
}

bool
iplimit_forwarded_for(struct sockaddr_storage *sa,
    const struct iplimit_span *lines, size_t nlines,
    const struct addr_cidr *trusted, size_t n)
{
	struct sockaddr_storage cur = *sa;
	size_t line = nlines, end = 0, a, b;
	bool changed = false;

	if (nlines > 0)
		end = lines[nlines - 1].len;
	/* Right to left across the lines: the last proxy appended last. */
	while (line > 0 && iplimit_trusted((struct sockaddr *)&cur, trusted,
	    n)) {
		if (!iplimit_xff_prev(lines[line - 1].p, &end, &a, &b)) {
			if (--line > 0)
				end = lines[line - 1].len;
			continue;
		}
		if (!iplimit_xff_addr(lines[line - 1].p + a, b - a, &cur))
			break;		/* not an address: trust no further */
		*sa = cur;
		changed = true;
	}
	return changed;
}

uint64_t
iplimit_tracked(void)
{
	uint64_t n;

	pthread_mutex_lock(&iplimit_lock);
	n = iplimit_count;
	pthread_mutex_unlock(&iplimit_lock);
	return n;
}
