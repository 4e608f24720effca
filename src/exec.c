/*
 * exec: process backends (see include/exec.h).
 *
 * posix_spawn() (glibc: clone with CLONE_VM | CLONE_VFORK, no copy of the
 * daemon's page tables) for most routes; fork() when the route has a
 * "user", since the child then needs setgroups, setgid and setuid, which
 * posix_spawn cannot do. Between fork and execve the child makes only
 * async-signal-safe calls: everything it needs (argv, envp, the user's ids
 * and groups) is prepared before the fork.
 *
 * The child's descriptors: 0 and 1 are one end of a socketpair, 2 a pipe
 * to us; every other descriptor is closed (close_range), so no listener,
 * client or backend socket of the daemon leaks into a program. Signal
 * mask and dispositions are reset (wsgate ignores SIGPIPE; a program
 * must not inherit that).
 *
 * Lifetime: the session holds the process until exec_release(); then
 * SIGTERM goes to the group and a timer sends SIGKILL after
 * exec_kill_timeout. The object is freed when the leader is reaped and
 * the group is empty or has been sent SIGKILL.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include <linux/wait.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "exec.h"
#include "confgen.h"
#include "gw.h"
#include "leg_read.h"
#include "log.h"

#define EXEC_MAX_GROUPS		256	/* supplementary groups of "user" */
#define EXEC_STDERR_LINE	1024	/* longest stderr line logged whole */

struct exec_proc {
	LIST_ENTRY(exec_proc)	 entry;		/* exec_procs, under exec_lock */
	struct gw_worker	*w;
	struct gw_gen		*gen;		/* a ref; holds the slot */
	size_t			 ri;		/* route index in gen */
	uint64_t		 sid;
	pid_t			 pid;		/* also the process group */
	int			 pidfd;
	struct event		*exit_ev;	/* pidfd readable: exited */
	struct event		*kill_timer;	/* SIGKILL after release */
	struct bufferevent	*err;		/* its stderr */
	uint64_t		 kill_ms;
	exec_exit_fn		*cb;
	void			*arg;
	int			 code, status;	/* waitid() si_code, si_status */
	bool			 reaped;
	bool			 released;	/* the session let go */
	bool			 killed;	/* SIGKILL sent to the group */
	bool			 in_cb;		/* inside cb: do not free */
};

static pthread_mutex_t exec_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, exec_proc) exec_procs = LIST_HEAD_INITIALIZER(exec_procs);
static _Atomic uint64_t exec_alive;

/* What the child needs, prepared before fork(). */
struct exec_child_args {
	char *const	*argv;
	char *const	*envp;
	const char	*cwd;
	int		 sock, errfd;
	bool		 setuser;
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 groups[EXEC_MAX_GROUPS];
	int		 ngroups;
};

/*
 * max_processes counts per route across configuration generations: a
 * reload makes a new generation while the old one's programs still run,
 * so a count kept in the generation would let a reload double the
 * limit. The route is known by its path (and prefix flag), the name it
 * keeps across reloads; an entry lives while a process of it does.
 */
struct exec_route_count {
	LIST_ENTRY(exec_route_count) entry;
	uint64_t		 n;		/* slots held */
	bool			 prefix;
	char			 path[];
};

static pthread_mutex_t exec_route_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, exec_route_count) exec_route_counts =
    LIST_HEAD_INITIALIZER(exec_route_counts);

/* The entry of route r, under exec_route_lock; NULL if there is none. */
static struct exec_route_count *
exec_route_find(const struct config_route *r)
{
	struct exec_route_count *c;

	LIST_FOREACH(c, &exec_route_counts, entry)
		if (c->prefix == r->prefix && strcmp(c->path, r->path) == 0)
			return c;
	return NULL;
}

int
exec_admit(struct gw_gen *gen, size_t ri)
{
	const struct config_route *r = &gen->cfg->routes[ri];
	struct exec_route_count *c;
	size_t len;
	int rc = -1;

	pthread_mutex_lock(&exec_route_lock);
	if ((c = exec_route_find(r)) == NULL) {
		len = strlen(r->path) + 1;
		if ((c = calloc(1, sizeof(*c) + len)) == NULL)
			goto out;	/* no memory: refuse, as when full */
		c->prefix = r->prefix;
		memcpy(c->path, r->path, len);
		LIST_INSERT_HEAD(&exec_route_counts, c, entry);
	}
	if (r->max_processes == 0 || c->n < r->max_processes) {
		c->n++;
		rc = 0;
	}
 out:
	pthread_mutex_unlock(&exec_route_lock);
	return rc;
}

void
exec_unadmit(struct gw_gen *gen, size_t ri)
{
	struct exec_route_count *c;

	pthread_mutex_lock(&exec_route_lock);
	if ((c = exec_route_find(&gen->cfg->routes[ri])) != NULL &&
	    --c->n == 0) {
		LIST_REMOVE(c, entry);
		free(c);
	}
	pthread_mutex_unlock(&exec_route_lock);
}

uint64_t
exec_count(void)
{
	return atomic_load(&exec_alive);
}

/* Write s to fd, as much as goes (async-signal-safe). */
static void
exec_child_say(int fd, const char *s)
{
	ssize_t	n;
	size_t	len = strlen(s);

	while (len > 0 && (n = write(fd, s, len)) > 0) {
		s += n;
		len -= (size_t)n;
	}
}

/* The child: set up and execve, or say why not on stderr and exit 127.
 * Only async-signal-safe calls from here. */
static void __attribute__((noreturn))
exec_child(const struct exec_child_args *c)
{
	struct sigaction	sa;
	sigset_t		none;
	const char		*what;
	char			num[16];
	int			i, e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		(void)sigaction(i, &sa, NULL);
	(void)setpgid(0, 0);
	what = "dup2";
	if (dup2(c->sock, 0) == -1 || dup2(c->sock, 1) == -1 ||
	    dup2(c->errfd, 2) == -1)
		goto fail;
	(void)close_range(3, ~0U, 0);
	what = "chdir";
	if (chdir(c->cwd != NULL ? c->cwd : "/") == -1)
		goto fail;
	what = "setuid";
	if (c->setuser && (setgroups((size_t)c->ngroups, c->groups) == -1 ||
	    setgid(c->gid) == -1 || setuid(c->uid) == -1))
		goto fail;
	what = "execve";
	execve(c->argv[0], c->argv, c->envp);
 fail:
	e = errno;
	i = (int)sizeof(num) - 1;
	num[i] = '\0';
	do {
		num[--i] = (char)('0' + e % 10);
		e /= 10;
	} while (e > 0 && i > 0);
	exec_child_say(2, "wsgate: cannot start ");
	exec_child_say(2, c->argv[0]);
	exec_child_say(2, ": ");
	exec_child_say(2, what);
	exec_child_say(2, " failed, errno ");
	exec_child_say(2, num + i);
	exec_child_say(2, "\n");
	_exit(127);
}

/*
 * Start the program without a user change: posix_spawn with the same
 * set-up as exec_child(). Returns the pid, or -1 with errno (an execve
 * failure is reported here too, not as an exit status).
 */
static pid_t
exec_posix_spawn(const struct exec_child_args *c)
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		at;
	sigset_t			none, all;
	pid_t				pid = -1;
	int				r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0) {
		errno = r;
		return -1;
	}
	if ((r = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		errno = r;
		return -1;
	}
	sigemptyset(&none);
	sigfillset(&all);
	if ((r = posix_spawn_file_actions_adddup2(&fa, c->sock, 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, c->sock, 1)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, c->errfd, 2)) != 0 ||
	    (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (r = posix_spawn_file_actions_addchdir_np(&fa, c->cwd != NULL ?
	    c->cwd : "/")) != 0 ||
	    (r = posix_spawnattr_setpgroup(&at, 0)) != 0 ||
	    (r = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(&at, &all)) != 0 ||
	    (r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (r = posix_spawn(&pid, c->argv[0], &fa, &at, c->argv,
	    c->envp)) != 0)
		pid = -1;
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (pid == -1)
		errno = r;
	return pid;
}

/* The ids and groups of name, into c. 0, or -1 with err. */
static int
exec_user(const char *name, struct exec_child_args *c, char *err,
    size_t errlen)
{
	struct passwd	 pw, *pwp = NULL;
	char		 buf[4096];
	int		 n = EXEC_MAX_GROUPS;

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL) {
		snprintf(err, errlen, "user %s: no such user", name);
		return -1;
	}
	if (getgrouplist(pw.pw_name, pw.pw_gid, c->groups, &n) == -1) {
		snprintf(err, errlen, "user %s: more than %d groups", name,
		    EXEC_MAX_GROUPS);
		return -1;
	}
	c->setuser = true;
	c->uid = pw.pw_uid;
	c->gid = pw.pw_gid;
	c->ngroups = n;
	return 0;
}

/* Log one stderr line (cut at EXEC_STDERR_LINE, control bytes as '?'). */
static void
exec_log_line(const struct exec_proc *p, const char *s, size_t n)
{
	char	line[EXEC_STDERR_LINE + 1];
	size_t	i;

	if (n > EXEC_STDERR_LINE)
		n = EXEC_STDERR_LINE;
	for (i = 0; i < n; i++)
		line[i] = ((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f ? '?' : s[i];
	line[n] = '\0';
	log_info("session %llu: pid %ld stderr: %s",
	    (unsigned long long)p->sid, (long)p->pid, line);
}

static void
exec_err_read_cb(struct bufferevent *bev, void *arg)
{
	struct exec_proc	*p = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) != NULL) {
		exec_log_line(p, line, n);
		free(line);
	}
	/* A line that never ends is logged in pieces. */
	while (evbuffer_get_length(in) >= EXEC_STDERR_LINE) {
		line = (char *)evbuffer_pullup(in, EXEC_STDERR_LINE);
		if (line == NULL)
			break;
		exec_log_line(p, line, EXEC_STDERR_LINE);
		evbuffer_drain(in, EXEC_STDERR_LINE);
	}
}

static void
exec_err_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct exec_proc	*p = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 n = evbuffer_get_length(in);
	char			*s;

	(void)what;
	if (n > 0 && (s = (char *)evbuffer_pullup(in, (ssize_t)n)) != NULL)
		exec_log_line(p, s, n);
	bufferevent_free(bev);
	p->err = NULL;
}

static void
exec_free(struct exec_proc *p)
{
	pthread_mutex_lock(&exec_lock);
	LIST_REMOVE(p, entry);
	pthread_mutex_unlock(&exec_lock);
	atomic_fetch_sub(&exec_alive, 1);
	if (p->exit_ev != NULL)
		event_free(p->exit_ev);
	if (p->kill_timer != NULL)
		event_free(p->kill_timer);
	if (p->err != NULL) {
		exec_err_read_cb(p->err, p);	/* what it said last */
		bufferevent_free(p->err);
	}
	if (p->pidfd != -1)
		close(p->pidfd);
	exec_unadmit(p->gen, p->ri);
	confgen_unref(p->gen);
	free(p);
}

/* Free p if nothing of it can still run. */
static void
exec_maybe_free(struct exec_proc *p)
{
	if (!p->released || !p->reaped || p->in_cb)
		return;
	/* The leader is gone; its group may not be (a child it left). */
	if (!p->killed && kill(-p->pid, 0) == 0)
		return;		/* the kill timer will see to it */
	exec_free(p);
}

/* Reap p if it exited. Returns true when it did. */
static bool
exec_reap(struct exec_proc *p, bool block)
{
	siginfo_t	si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si,
	    WEXITED | (block ? 0 : WNOHANG)) == -1) {
		if (errno == EINTR && block)
			return exec_reap(p, block);
		/* ECHILD: somebody reaped it; treat as gone. */
		si.si_pid = p->pid;
		si.si_code = CLD_KILLED;
		si.si_status = 0;
	}
	if (si.si_pid == 0)
		return false;
	p->reaped = true;
	p->code = si.si_code;
	p->status = si.si_status;
	log_debug("session %llu: pid %ld %s", (unsigned long long)p->sid,
	    (long)p->pid, si.si_code == CLD_EXITED ? "exited" : "killed");
	return true;
}

static void
exec_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc	*p = arg;

	(void)fd;
	(void)what;
	if (!exec_reap(p, false)) {
		event_add(p->exit_ev, NULL);	/* not yet after all */
		return;
	}
	if (p->cb != NULL && !p->released) {
		p->in_cb = true;
		p->cb(p->arg, p->code, p->status);
		p->in_cb = false;
	}
	exec_maybe_free(p);
}

static void
exec_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc	*p = arg;

	(void)fd;
	(void)what;
	if (kill(-p->pid, SIGKILL) == 0)
		log_info("session %llu: pid %ld group killed after "
		    "exec_kill_timeout", (unsigned long long)p->sid,
		    (long)p->pid);
	p->killed = true;
	exec_maybe_free(p);
}

/* Events and the stderr reader of a new process. 0 or -1. */
static int
exec_watch_setup(struct exec_proc *p, int errfd)
{
	p->exit_ev = event_new(p->w->base, p->pidfd, EV_READ, exec_exit_cb, p);
	p->kill_timer = evtimer_new(p->w->base, exec_kill_cb, p);
	p->err = bufferevent_socket_new(p->w->base, errfd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (p->err == NULL)
		close(errfd);
	if (p->exit_ev == NULL || p->kill_timer == NULL || p->err == NULL ||
	    event_add(p->exit_ev, NULL) == -1)
		return -1;
	bufferevent_setcb(p->err, exec_err_read_cb, NULL, exec_err_event_cb, p);
	leg_read_own(p->err);	/* a pipe: no FIONREAD per read either */
	bufferevent_enable(p->err, EV_READ);
	return 0;
}

/*
 * Start the program c describes: posix_spawn, or fork + exec_child when it
 * must change user (posix_spawn cannot). Returns its pid, or -1 with err.
 */
static pid_t
exec_start(const struct exec_child_args *c, const char *prog, char *err,
    size_t errlen)
{
	pid_t	pid;

	if (!c->setuser) {
		if ((pid = exec_posix_spawn(c)) == -1)
			snprintf(err, errlen, "%s: %s", prog, strerror(errno));
		return pid;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		exec_child(c);
	return pid;
}

/* Record the running pid in p and in the process list; p then owns a
 * reference to gen and is freed by exec_free. */
static void
exec_adopt(struct exec_proc *p, struct gw_worker *w, struct gw_gen *gen,
    size_t ri, uint64_t sid, pid_t pid)
{
	p->w = w;
	p->gen = gen;
	p->ri = ri;
	p->sid = sid;
	p->pid = pid;
	p->kill_ms = gen->cfg->routes[ri].exec_kill_timeout_ms;
	confgen_ref(gen);
	atomic_fetch_add(&exec_alive, 1);
	pthread_mutex_lock(&exec_lock);
	LIST_INSERT_HEAD(&exec_procs, p, entry);
	pthread_mutex_unlock(&exec_lock);
}

/*
 * Watch the adopted p: its pidfd, its stderr (errfd) and our socket end
 * sock. 0; or -1 with err, after the process group is killed, reaped, both
 * fds closed and p freed.
 */
static int
exec_attach(struct exec_proc *p, int sock, int errfd, char *err,
    size_t errlen)
{
	pid_t	pid = p->pid;

	if ((p->pidfd = pidfd_open(pid, 0)) == -1) {
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);	/* killed: at once */
		p->reaped = p->released = p->killed = true;
		close(errfd);
		close(sock);
		exec_free(p);
		return -1;
	}
	/* Our ends only: libevent must never block on them (the child's
	 * ends stay blocking, as programs expect). */
	if (evutil_make_socket_nonblocking(errfd) == -1 ||
	    exec_watch_setup(p, errfd) == -1 ||
	    evutil_make_socket_nonblocking(sock) == -1) {
		snprintf(err, errlen, "out of memory");
		close(sock);
		p->released = true;
		kill(-pid, SIGKILL);
		p->killed = true;
		exec_reap(p, true);
		exec_free(p);
		return -1;
	}
	return 0;
}

struct exec_proc *
exec_spawn(struct gw_worker *w, struct gw_gen *gen, size_t ri,
    const struct config_addr *a, char **envp, uint64_t sid, int *fd,
    char *err, size_t errlen)
{
	const struct config_route	*r = &gen->cfg->routes[ri];
	struct exec_child_args		 c;
	struct exec_proc		*p;
	int				 sv[2] = { -1, -1 }, ep[2] = { -1, -1 };
	pid_t				 pid;

	memset(&c, 0, sizeof(c));
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		exec_unadmit(gen, ri);
		return NULL;
	}
	p->pidfd = -1;
	if (r->exec_user != NULL && exec_user(r->exec_user, &c, err,
	    errlen) == -1)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    pipe2(ep, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "socketpair/pipe: %s", strerror(errno));
		goto fail;
	}
	c.argv = a->argv;
	c.envp = envp;
	c.cwd = r->exec_cwd;
	c.sock = sv[1];
	c.errfd = ep[1];
	if ((pid = exec_start(&c, a->argv[0], err, errlen)) == -1)
		goto fail;
	/* Both sides set the group: a kill(-pid) from here may come before
	 * the child has run at all. */
	(void)setpgid(pid, pid);
	close(sv[1]);
	close(ep[1]);
	exec_adopt(p, w, gen, ri, sid, pid);
	if (exec_attach(p, sv[0], ep[0], err, errlen) == -1)
		return NULL;
	log_debug("session %llu: started %s as pid %ld",
	    (unsigned long long)sid, a->spec, (long)pid);
	*fd = sv[0];
	return p;
 fail:
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	if (ep[0] != -1)
		close(ep[0]);
	if (ep[1] != -1)
		close(ep[1]);
	free(p);
	exec_unadmit(gen, ri);
	return NULL;
}

void
exec_watch(struct exec_proc *p, exec_exit_fn *cb, void *arg)
{
	p->cb = cb;
	p->arg = arg;
}

void
exec_signal(struct exec_proc *p, int sig)
{
	if (!p->killed)
		(void)kill(-p->pid, sig);
}

void
exec_release(struct exec_proc *p)
{
	struct timeval	tv;

	if (p == NULL || p->released)
		return;
	p->released = true;
	p->cb = NULL;
	if (!p->reaped || kill(-p->pid, 0) == 0) {
		if (p->kill_ms == 0) {
			(void)kill(-p->pid, SIGKILL);
			p->killed = true;
		} else {
			(void)kill(-p->pid, SIGTERM);
			tv.tv_sec = (time_t)(p->kill_ms / 1000);
			tv.tv_usec = (suseconds_t)(p->kill_ms % 1000) * 1000;
			evtimer_add(p->kill_timer, &tv);
		}
	}
	exec_maybe_free(p);
}

void
exec_free_all(struct gw_worker *w)
{
	struct exec_proc	*p, *next;

	pthread_mutex_lock(&exec_lock);
	for (p = LIST_FIRST(&exec_procs); p != NULL; p = next) {
		next = LIST_NEXT(p, entry);
		if (p->w != w)
			continue;
		pthread_mutex_unlock(&exec_lock);
		(void)kill(-p->pid, SIGKILL);
		p->killed = p->released = true;
		if (!p->reaped)
			exec_reap(p, true);
		exec_free(p);
		pthread_mutex_lock(&exec_lock);
		next = LIST_FIRST(&exec_procs);
	}
	pthread_mutex_unlock(&exec_lock);
}

void
exec_status_text(int code, int status, char *buf, size_t len)
{
	if (code == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", status);
	else
		snprintf(buf, len, "killed by signal %d (%s)", status,
		    strsignal(status));
}
