/*
 * pwcheck: password checks (htpasswd hashes: bcrypt and crypt(3)'s other
 * slow hashes) on a small pool of helper threads, so a 50 ms hash never
 * stalls a worker's event loop. The answer goes back to the asking
 * worker through lookup_answer_async: LOOKUP_OK (the password matches)
 * or LOOKUP_DENIED.
 *
 * The pool threads run at a lower scheduling priority (nice 10) than the
 * workers: under a burst of logins, relaying keeps the CPU it needs and
 * the logins queue instead.
 */
#ifndef PWCHECK_H
#define PWCHECK_H

#include <stddef.h>
#include <stdint.h>

struct auth_htpasswd;
struct gw_gen;
struct gw_worker;

/* Allow nthreads helper threads (1..16), started by the first
 * pwcheck_submit(). Returns 0 (-1 is kept for callers: never now). */
int	pwcheck_start(unsigned nthreads);

/* Stop the pool: queued checks are dropped, running ones finish. */
void	pwcheck_stop(void);

/*
 * Queue a check of user/pass against h (which gen owns: a reference to
 * gen is held until the check is done, so a reload cannot free h under
 * it). user and pass are copied (and the copy wiped after). The answer
 * for ticket goes to w. Returns 0, or -1 (pool not running, out of
 * memory, over 4096 queued, no thread could start): nothing will answer.
 */
int	pwcheck_submit(struct gw_worker *w, uint64_t ticket,
	    struct gw_gen *gen, const struct auth_htpasswd *h,
	    const char *user, size_t ulen, const char *pass, size_t plen);

#endif
