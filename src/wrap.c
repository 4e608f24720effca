/*
 * wrap: see include/wrap.h.
 *
 * The program runs in a process group of its own (so a TERM reaches what
 * it forks), with SIGPIPE and the other signals wsgate handles back at
 * their defaults and nothing blocked, as websockify resets SIGPIPE for it.
 * Only our own child is ever waited for (waitpid of its pid), so other
 * children (exec: backends) are left to whoever started them.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "wrap.h"

#define WRAP_RESPAWN_WINDOW_S	10	/* websockify: 3 starts in 10 s */
#define WRAP_STOP_WAIT_MS	3000

extern char **environ;

static const struct config *wrap_cfg;
static struct event_base *wrap_base;
static struct event	*wrap_chld_ev, *wrap_retry_ev;
static void		(*wrap_stop_fn)(const char *);
static char		**wrap_argv;
static char		**wrap_envp;
static pid_t		 wrap_pid = -1;
static int		 wrap_status;
/* The last three start times, CLOCK_MONOTONIC seconds (a step of the
 * wall clock must not hold a respawn back for hours); 0: none yet. */
static time_t		 wrap_starts[3];
static bool		 wrap_warned;

/* CLOCK_MONOTONIC in seconds, never 0 (the "no start" mark). */
static time_t
wrap_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1;
}

char **
wrap_split(const char *cmd)
{
	size_t	 len = strlen(cmd), nw = 0, i;
	char	**v, *out, q;
	const char *p;

	/* At most len/2+1 words; words and NULs fit in len+1 more bytes. */
	if ((v = malloc((len / 2 + 2) * sizeof(*v) + 2 * len + 2)) == NULL)
		return NULL;
	out = (char *)(v + len / 2 + 2);
	for (p = cmd; ; ) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		v[nw++] = out;
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if (*p != '"' && *p != '\'') {
				*out++ = *p++;
				continue;
			}
			for (q = *p++; *p != q; p++) {
				if (*p == '\0')
					goto bad;
				if (q == '"' && *p == '\\' &&
				    (p[1] == '"' || p[1] == '\\'))
					p++;
				*out++ = *p;
			}
			p++;
		}
		*out++ = '\0';
	}
	v[nw] = NULL;
	if (nw == 0)
		goto bad;
	for (i = 0; i < nw; i++)
		if (v[i][0] == '\0' && i == 0)
			goto bad;
	return v;
 bad:
	free(v);
	return NULL;
}

/* Where rebind.so is: $WSGATE_REBIND, beside us, in our lib dir, or in
 * the build tree of a ./wsgate. */
static int
wrap_find_rebind(char *out, size_t len)
{
	const char	*env = getenv("WSGATE_REBIND");
	char		 exe[PATH_MAX - 64], *slash;
	ssize_t		 n;

	if (env != NULL && env[0] != '\0') {
		snprintf(out, len, "%s", env);
		return access(out, R_OK);
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(out, len, "%s/rebind.so", exe);
		if (access(out, R_OK) == 0)
			return 0;
		snprintf(out, len, "%s/../lib/wsgate/rebind.so", exe);
		if (access(out, R_OK) == 0)
			return 0;
		/* ./wsgate in a source tree */
		snprintf(out, len, "%s/build/release/rebind.so", exe);
		if (access(out, R_OK) == 0)
			return 0;
	}
	snprintf(out, len, "%s/wsgate/rebind.so", WSGATE_LIBDIR);
	return access(out, R_OK);
}

/* Our environment plus LD_PRELOAD (ours first) and the two ports. */
static char **
wrap_env(const char *rebind)
{
	size_t	 n, i, k = 0;
	char	**e, *old = getenv("LD_PRELOAD");

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((e = calloc(n + 4, sizeof(*e))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "REBIND_OLD_PORT=", 16) != 0 &&
		    strncmp(environ[i], "REBIND_NEW_PORT=", 16) != 0)
			e[k++] = environ[i];
	if (asprintf(&e[k++], "LD_PRELOAD=%s%s%s", rebind, old != NULL &&
	    *old != '\0' ? ":" : "", old != NULL ? old : "") == -1 ||
	    asprintf(&e[k++], "REBIND_OLD_PORT=%llu",
	    (unsigned long long)wrap_cfg->wrap_port) == -1 ||
	    asprintf(&e[k++], "REBIND_NEW_PORT=%llu",
	    (unsigned long long)wrap_cfg->wrap_private_port) == -1)
		return NULL;	/* boot time: the process exits anyway */
	return e;
}

static int
wrap_spawn(void)
{
	static const int sigs[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD,
	    SIGQUIT };
	posix_spawnattr_t attr;
	sigset_t def, none;
	size_t i;
	int e;

	sigemptyset(&def);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&def, sigs[i]);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setsigmask(&attr, &none);
	e = posix_spawnp(&wrap_pid, wrap_argv[0], NULL, &attr, wrap_argv,
	    wrap_envp);
	posix_spawnattr_destroy(&attr);
	if (e != 0) {
		wrap_pid = -1;
		log_warnx("wrap_command: cannot start %s: %s", wrap_argv[0],
		    strerror(e));
		return -1;
	}
	memmove(wrap_starts, wrap_starts + 1, sizeof(wrap_starts[0]) * 2);
	wrap_starts[2] = wrap_now_s();
	log_info("wrap_command: started '%s' (pid %ld), its port %llu moved "
	    "to 127.0.0.1:%llu", wrap_cfg->wrap_command, (long)wrap_pid,
	    (unsigned long long)wrap_cfg->wrap_port,
	    (unsigned long long)wrap_cfg->wrap_private_port);
	return 0;
}

/* respawn: again now, or once the last three starts span 10 s. */
static void
wrap_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval sec = { 1, 0 };

	(void)fd;
	(void)what;
	(void)arg;
	if (wrap_pid != -1)
		return;
	if (wrap_starts[0] != 0 && wrap_now_s() - wrap_starts[0] <
	    WRAP_RESPAWN_WINDOW_S) {
		if (!wrap_warned)
			log_warnx("wrap_command: respawning too fast (3 "
			    "starts in %d s); waiting", WRAP_RESPAWN_WINDOW_S);
		wrap_warned = true;
		evtimer_add(wrap_retry_ev, &sec);
		return;
	}
	wrap_warned = false;
	if (wrap_spawn() == -1)
		evtimer_add(wrap_retry_ev, &sec);
}

static void
wrap_exited(int st)
{
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

	if (WIFEXITED(st))
		log_info("wrap_command: pid %ld exited with status %d",
		    (long)wrap_pid, code);
	else
		log_info("wrap_command: pid %ld killed by signal %d",
		    (long)wrap_pid, WTERMSIG(st));
	wrap_pid = -1;
	switch (wrap_cfg->wrap_mode) {
	case 0:		/* exit, with its status */
		wrap_status = code;
		wrap_stop_fn("wrap_command exited (wrap_mode = exit)");
		break;
	case 1:		/* ignore */
		break;
	default:	/* respawn */
		wrap_retry_cb(-1, 0, NULL);
		break;
	}
}

static void
wrap_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	int st;

	(void)sig;
	(void)what;
	(void)arg;
	if (wrap_pid != -1 && waitpid(wrap_pid, &st, WNOHANG) == wrap_pid)
		wrap_exited(st);
}

int
wrap_start(struct event_base *base, const struct config *cfg,
    void (*stop)(const char *why))
{
	char rebind[PATH_MAX];

	if (cfg->wrap_command == NULL)
		return 0;
	wrap_cfg = cfg;
	wrap_base = base;
	wrap_stop_fn = stop;
	if ((wrap_argv = wrap_split(cfg->wrap_command)) == NULL) {
		log_warnx("wrap_command: bad quoting in '%s'",
		    cfg->wrap_command);
		return -1;
	}
	if (wrap_find_rebind(rebind, sizeof(rebind)) == -1) {
		log_warnx("wrap_command: rebind.so not found (looked beside "
		    "the wsgate binary and in %s/wsgate; WSGATE_REBIND names "
		    "it)", WSGATE_LIBDIR);
		return -1;
	}
	if ((wrap_envp = wrap_env(rebind)) == NULL ||
	    (wrap_chld_ev = evsignal_new(base, SIGCHLD, wrap_chld_cb,
	    NULL)) == NULL || evsignal_add(wrap_chld_ev, NULL) == -1 ||
	    (wrap_retry_ev = evtimer_new(base, wrap_retry_cb, NULL)) == NULL) {
		log_warnx("wrap_command: cannot set up");
		return -1;
	}
	return wrap_spawn();
}

void
wrap_stop(void)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	int st, i;

	if (wrap_retry_ev != NULL)
		event_free(wrap_retry_ev);
	if (wrap_chld_ev != NULL)
		event_free(wrap_chld_ev);
	wrap_retry_ev = wrap_chld_ev = NULL;
	if (wrap_pid != -1) {
		log_info("wrap_command: stopping pid %ld", (long)wrap_pid);
		kill(-wrap_pid, SIGTERM);
		for (i = 0; i < WRAP_STOP_WAIT_MS / 20; i++) {
			if (waitpid(wrap_pid, &st, WNOHANG) == wrap_pid)
				break;
			nanosleep(&nap, NULL);
		}
		if (i == WRAP_STOP_WAIT_MS / 20) {
			kill(-wrap_pid, SIGKILL);
			waitpid(wrap_pid, &st, 0);
		}
		wrap_pid = -1;
	}
	free(wrap_argv);
	wrap_argv = NULL;
}

int
wrap_exit_status(void)
{
	return wrap_status;
}
