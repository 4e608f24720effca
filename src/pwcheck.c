/*
 * pwcheck: the password check pool; see include/pwcheck.h.
 *
 * A mutex-protected FIFO and a condition variable; each thread takes a
 * job, hashes without the lock, answers, and frees the job.
 */
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "confgen.h"
#include "log.h"
#include "lookup.h"
#include "pwcheck.h"

#define PWCHECK_MAX_THREADS	16
#define PWCHECK_MAX_QUEUE	4096
#define PWCHECK_NICE		10

struct pwcheck_job {
	STAILQ_ENTRY(pwcheck_job) link;
	struct gw_worker	*w;
	uint64_t		 ticket;
	struct gw_gen		*gen;		/* a reference */
	const struct auth_htpasswd *h;
	size_t			 ulen, plen;
	char			 buf[];		/* user then pass */
};

static pthread_mutex_t	 pwcheck_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 pwcheck_cond = PTHREAD_COND_INITIALIZER;
static STAILQ_HEAD(, pwcheck_job) pwcheck_queue =
    STAILQ_HEAD_INITIALIZER(pwcheck_queue);
static size_t		 pwcheck_queued;
static bool		 pwcheck_running;
static pthread_t	 pwcheck_threads[PWCHECK_MAX_THREADS];
static unsigned		 pwcheck_nthreads;	/* started so far */
static unsigned		 pwcheck_wanted;	/* pwcheck_start()'s count */

static void
pwcheck_job_free(struct pwcheck_job *j)
{
	confgen_unref(j->gen);
	explicit_bzero(j->buf, j->ulen + j->plen);
	free(j);
}

static void *
pwcheck_main(void *arg)
{
	struct pwcheck_job *j;
	int ok;

	(void)arg;
	/* Linux: a thread's nice value is its own. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	    PWCHECK_NICE);
	pthread_mutex_lock(&pwcheck_lock);
	for (;;) {
		while (pwcheck_running && STAILQ_EMPTY(&pwcheck_queue))
			pthread_cond_wait(&pwcheck_cond, &pwcheck_lock);
		if (!pwcheck_running)
			break;
		j = STAILQ_FIRST(&pwcheck_queue);
		STAILQ_REMOVE_HEAD(&pwcheck_queue, link);
		pwcheck_queued--;
		pthread_mutex_unlock(&pwcheck_lock);
		ok = auth_htpasswd_check(j->h, j->buf, j->ulen, j->buf +
		    j->ulen, j->plen) == 0;
		if (lookup_answer_async(j->w, j->ticket, ok ? LOOKUP_OK :
		    LOOKUP_DENIED, NULL, 0) == -1)
			log_warnx("pwcheck: out of memory answering a check");
		pwcheck_job_free(j);
		pthread_mutex_lock(&pwcheck_lock);
	}
	pthread_mutex_unlock(&pwcheck_lock);
	return NULL;
}

int
pwcheck_start(unsigned nthreads)
{
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > PWCHECK_MAX_THREADS)
		nthreads = PWCHECK_MAX_THREADS;
	pthread_mutex_lock(&pwcheck_lock);
	pwcheck_wanted = nthreads;
	pwcheck_running = true;
	pthread_mutex_unlock(&pwcheck_lock);
	return 0;
}

/*
 * The threads start with the first check, not at pwcheck_start(): a
 * process with no htpasswd route stays single-threaded per worker, and
 * glibc keeps its unlocked fast paths (+4.5 % instructions per echoed
 * message measured with the pool always running, bench/instr.sh).
 * Called with pwcheck_lock held. Returns 0, or -1 when no thread starts.
 */
static int
pwcheck_spawn_locked(void)
{
	unsigned i;

	for (i = pwcheck_nthreads; i < pwcheck_wanted; i++)
		if (pthread_create(&pwcheck_threads[i], NULL, pwcheck_main,
		    NULL) != 0) {
			log_warnx("pwcheck: cannot start a thread");
			break;
		}
	pwcheck_nthreads = i;
	return i == 0 ? -1 : 0;
}

void
pwcheck_stop(void)
{
	struct pwcheck_job *j;
	unsigned i;

	pthread_mutex_lock(&pwcheck_lock);
	pwcheck_running = false;
	pthread_cond_broadcast(&pwcheck_cond);
	pthread_mutex_unlock(&pwcheck_lock);
	for (i = 0; i < pwcheck_nthreads; i++)
		pthread_join(pwcheck_threads[i], NULL);
	pwcheck_nthreads = 0;
	while ((j = STAILQ_FIRST(&pwcheck_queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&pwcheck_queue, link);
		pwcheck_job_free(j);
	}
	pwcheck_queued = 0;
}

int
pwcheck_submit(struct gw_worker *w, uint64_t ticket, struct gw_gen *gen,
    const struct auth_htpasswd *h, const char *user, size_t ulen,
    const char *pass, size_t plen)
{
	struct pwcheck_job *j;

	if ((j = malloc(sizeof(*j) + ulen + plen)) == NULL)
		return -1;
	j->w = w;
	j->ticket = ticket;
	j->gen = gen;
	j->h = h;
	j->ulen = ulen;
	j->plen = plen;
	memcpy(j->buf, user, ulen);
	memcpy(j->buf + ulen, pass, plen);
	pthread_mutex_lock(&pwcheck_lock);
	if (!pwcheck_running || pwcheck_queued >= PWCHECK_MAX_QUEUE ||
	    (pwcheck_nthreads == 0 && pwcheck_spawn_locked() == -1)) {
		pthread_mutex_unlock(&pwcheck_lock);
		explicit_bzero(j->buf, ulen + plen);
		free(j);
		return -1;
	}
	confgen_ref(gen);
	STAILQ_INSERT_TAIL(&pwcheck_queue, j, link);
	pwcheck_queued++;
	pthread_cond_signal(&pwcheck_cond);
	pthread_mutex_unlock(&pwcheck_lock);
	return 0;
}
