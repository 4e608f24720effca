/*
 * main: command line, config load, reload, signals, the process's life;
 * the worker threads are worker.c.
 *
 *   wsgate [-dtv] [-c FILE]
 *   wsgate [websockify's options] [HOST:]PORT [TARGET]   (cli_front.c)
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <systemd/sd-daemon.h>

#include "admin.h"
#include "admin_sessions.h"
#include "cli_front.h"
#include "fleet.h"
#include "config.h"
#include "confgen.h"
#include "gw.h"
#include "lifecycle.h"
#include "worker.h"
#include "wrap.h"
#include "listener.h"
#include "log.h"
#include "lookup.h"
#include "pwcheck.h"
#include "redis.h"
#include "registry.h"
#include "session.h"
#include "token_api.h"
#include "token_file.h"

#define MAIN_ERRLEN	8192

struct main_opts {
	const char	*conf;		/* -c */
	bool		 check;		/* -t */
	bool		 foreground;	/* -d */
	int		 verbose;	/* -v count */
	char		*ws_text;	/* websockify form: its gateway.conf */
};

static struct main_opts	 main_opts;
static enum log_level	 main_level;	/* -v floor for reloads */
_Atomic uint64_t	 gw_sessions_total;
_Atomic uint64_t	 gw_session_ids;
_Atomic bool		 gw_stopping;
_Atomic uint64_t	 gw_session_cap = UINT64_MAX;
_Atomic uint64_t	 gw_fd_room = UINT64_MAX;
static uint64_t		 main_nofile = UINT64_MAX;
/* Descriptors free at start less the fixed reserve; UINT64_MAX: no limit. */
static uint64_t		 main_fd_spare = UINT64_MAX;
static struct gw_worker	*main_workers;
static unsigned		 main_nworkers;
static struct redis_opts	 main_redis;	/* [gateway] redis; spec NULL: none */

static void
main_usage(FILE *f)
{
	fprintf(f,
"usage: wsgate [-dtv] [-c FILE]\n"
"       wsgate [websockify options] [HOST:]PORT [TARGET_HOST:TARGET_PORT]\n"
"       wsgate --print-config [websockify options] [HOST:]PORT [TARGET]\n"
"\n"
"WebSocket-to-TCP/Unix-socket gateway.\n"
"\n"
"  -c, --config FILE  configuration file (default ./gateway.conf)\n"
"  -t, --test         check the configuration and exit (0 if it is OK)\n"
"  -d, --foreground   stay in the foreground and log to stderr\n"
"                     (without it wsgate detaches and logs to syslog)\n"
"  -v, --verbose      log at debug level\n"
"  -h, --help         show this help and exit\n"
"  -V, --version      show the version and exit\n"
"\n"
"The second form takes websockify's command line (wsgate --help PORT TARGET\n"
"lists its options) and needs no config file: it relays ws://[HOST:]PORT/\n"
"<any path> to TARGET_HOST:TARGET_PORT and stays in the foreground (unless\n"
"-D). --print-config prints the gateway.conf it runs (docs/MIGRATING.md).\n"
"Signals: TERM/INT turn /readyz 503, then (drain_delay later) close every\n"
"session with 1001 and exit (drain_timeout).\n"
"See wsgate(8) and gateway.conf(5).\n");
}

static void
main_parse_args(int argc, char **argv, struct main_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_front f;
	int ch;

	memset(o, 0, sizeof(*o));
	if (cli_front_args(argc, argv, &f)) {
		o->ws_text = f.text;
		o->foreground = f.foreground;
		o->verbose = f.verbose;
		o->check = f.check;
		return;
	}
	while ((ch = getopt_long(argc, argv, "c:dhtvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->conf = optarg;
			break;
		case 'd':
			o->foreground = true;
			break;
		case 't':
			o->check = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			main_usage(stdout);
			exit(0);
		case 'V':
			printf("wsgate %s\n", WSGATE_VERSION);
			exit(0);
		default:
			main_usage(stderr);
			exit(2);
		}
	}
	if (o->conf == NULL)
		o->conf = "gateway.conf";
}

static struct config *
main_load_config(const struct main_opts *o)
{
	struct config *cfg = NULL;
	char *err;
	int r;

	if ((err = calloc(1, MAIN_ERRLEN)) == NULL) {
		fprintf(stderr, "wsgate: out of memory\n");
		exit(1);
	}
	if (o->ws_text != NULL)
		r = config_parse_string(o->ws_text, "command line", &cfg, err,
		    MAIN_ERRLEN);
	else
		r = config_load(o->conf, &cfg, err, MAIN_ERRLEN);
	if (r == -1) {
		fprintf(stderr, "%s%s", err,
		    err[0] != '\0' && err[strlen(err) - 1] != '\n' ? "\n" : "");
		free(err);
		exit(1);
	}
	free(err);
	return cfg;
}

static bool
main_same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

static void	main_fd_room_set(void);
static void	main_reload(struct gw_worker *);
static bool	main_reload_again;	/* asked while one was under way */
static int	main_stop_sig;	/* the TERM or INT that set gw_stopping */

/*
 * Every worker serves the new generation: only now is the reload said
 * done (systemd's READY=1 after main_reload's RELOADING=1). One asked
 * for meanwhile runs now.
 *
 * A TERM or INT may have come while the workers took it (a SIGHUP just
 * before it): systemd has had STOPPING=1 since, and READY=1 now would
 * tell it a stopping service is up again. STOPPING=1 ends the reload
 * for systemd as well, so nothing is sent.
 */
static void
main_reloaded(struct gw_worker *w0)
{
	if (atomic_load(&gw_stopping)) {
		log_info("reloaded %s: %zu routes, %zu listen addresses "
		    "(draining after signal %d: not ready)", main_opts.conf,
		    w0->cfg->nroutes, w0->cfg->nlistens, main_stop_sig);
		return;
	}
	log_info("reloaded %s: %zu routes, %zu listen addresses%s",
	    main_opts.conf, w0->cfg->nroutes, w0->cfg->nlistens,
	    w0->draining ? " (stopping: not accepting connections)" : "");
	sd_notify(0, "READY=1\nSTATUS=reloaded");
	if (main_reload_again) {
		main_reload_again = false;
		main_reload(w0);
	}
}

/*
 * SIGHUP: build the new generation aside; if anything is wrong, say
 * where and keep running the old one. Worker 0 switches first (others
 * share its Unix listeners), then the rest are handed the new one; a
 * SIGHUP before they all took it is taken up after (main_reloaded).
 */
static void
main_reload(struct gw_worker *w0)
{
	struct config *cfg = NULL;
	struct gw_gen *gen = NULL;
	char *err, *line, *save = NULL;

	if (main_opts.ws_text != NULL) {
		log_warnx("SIGHUP: nothing to reload (no config file)");
		return;
	}
	if (worker_reloading()) {
		log_debug("SIGHUP: after the reload under way");
		main_reload_again = true;
		return;
	}
	if ((err = calloc(1, MAIN_ERRLEN)) == NULL)
		return;
	if (config_load(main_opts.conf, &cfg, err, MAIN_ERRLEN) == -1)
		config_free(cfg);
	else if ((gen = confgen_new(cfg, main_nworkers)) == NULL)
		snprintf(err, MAIN_ERRLEN, "out of memory");
	if (gen == NULL || confgen_load_tls(gen, err, MAIN_ERRLEN) == -1 ||
	    confgen_load_routes(gen, err, MAIN_ERRLEN) == -1) {
		for (line = strtok_r(err, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("reload: %s", line);
		log_warnx("reload failed: still running the previous "
		    "configuration");
		confgen_unref(gen);
		free(err);
		return;
	}
	free(err);
	cfg = gen->cfg;
	if ((cfg->admin_listen == NULL) != (w0->cfg->admin_listen == NULL) ||
	    (cfg->admin_listen != NULL &&
	    strcmp(cfg->admin_listen, w0->cfg->admin_listen) != 0))
		log_warnx("reload: admin_listen changes take a restart");
	admin_reload(cfg);
	main_fd_room_set();
	if (!main_same_string(cfg->log_file, w0->cfg->log_file) ||
	    !main_same_string(cfg->syslog_server, w0->cfg->syslog_server) ||
	    cfg->syslog_format != w0->cfg->syslog_format)
		log_warnx("reload: log_file and syslog changes take a restart");
	if (!main_same_string(cfg->wrap_command, w0->cfg->wrap_command) ||
	    cfg->wrap_mode != w0->cfg->wrap_mode ||
	    cfg->wrap_port != w0->cfg->wrap_port ||
	    cfg->wrap_private_port != w0->cfg->wrap_private_port ||
	    cfg->exit_after_ms != w0->cfg->exit_after_ms ||
	    cfg->exit_when_idle_ms != w0->cfg->exit_when_idle_ms ||
	    cfg->exit_after_sessions != w0->cfg->exit_after_sessions)
		log_warnx("reload: wrap_* and exit_* changes take a restart");
	if (!main_same_string(cfg->redis != NULL ? cfg->redis->spec : NULL,
	    main_redis.spec) || cfg->redis_db != main_redis.db ||
	    cfg->redis_timeout_ms != (main_redis.spec != NULL ?
	    main_redis.timeout_ms : cfg->redis_timeout_ms) ||
	    !main_same_string(cfg->redis_password_file,
	    w0->cfg->redis_password_file))
		log_warnx("reload: redis changes take a restart (still using "
		    "%s)", main_redis.spec != NULL ? main_redis.spec :
		    "no redis");
	log_set((int)cfg->log_level > (int)main_level ?
	    (enum log_level)cfg->log_level : main_level,
	    cfg->log_format == CONFIG_LOG_JSON);
	sd_notify(0, "RELOADING=1");
	worker_reload_all(w0, gen, main_reloaded);
	confgen_unref(gen);
}

/*
 * token_file targets change while running (websockify's users edit them
 * live): worker 0 looks every few seconds and reloads when one changed.
 */
#define MAIN_TOKEN_POLL_MS	2000

static void
main_token_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval tick = { MAIN_TOKEN_POLL_MS / 1000, 0 };
	struct gw_worker *w0 = arg;
	const struct config *cfg = w0->cfg;
	size_t i;

	(void)fd;
	(void)what;
	/* Not after a TERM or INT either (drain_delay: not draining yet),
	 * which refuses a SIGHUP too: RELOADING=1 after STOPPING=1. */
	if (w0->draining || atomic_load(&gw_stopping))
		return;
	for (i = 0; i < cfg->nroutes; i++)
		if (cfg->routes[i].token_file != NULL &&
		    token_file_changed(w0->gen->routes[i].tokens,
		    cfg->routes[i].token_file)) {
			log_info("token_file %s changed: reloading",
			    cfg->routes[i].token_file);
			main_reload(w0);
			break;
		}
	event_base_once(w0->base, -1, EV_TIMEOUT, main_token_poll_cb, w0,
	    &tick);
}

/* The drain proper: every worker stops accepting and sends 1001s. */
static void
main_drain_start_cb(evutil_socket_t sig, short what, void *arg)
{
	struct gw_worker *w0 = arg;

	(void)what;
	log_info("%s%d: draining %llu sessions (up to %llums)",
	    sig >= 0 ? "signal " : "drain_delay over after signal ",
	    sig >= 0 ? (int)sig : SIGTERM,
	    (unsigned long long)atomic_load(&gw_sessions_total),
	    (unsigned long long)w0->cfg->drain_timeout_ms);
	worker_drain_all(w0);
}

/* Signals are caught by worker 0 only; it tells the others. */
static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct gw_worker *w0 = arg;
	struct timeval tv;
	uint64_t delay;

	(void)what;
	if (sig == SIGHUP) {
		if (!atomic_load(&gw_stopping))
			main_reload(w0);
		else
			log_warnx("SIGHUP: draining (signal %d), not "
			    "reloading", (int)main_stop_sig);
		return;
	}
	if (atomic_load(&gw_stopping)) {
		log_warnx("signal %d again: exiting now", (int)sig);
		worker_exit_all();
		return;
	}
	atomic_store(&gw_stopping, true);
	main_stop_sig = (int)sig;
	sd_notify(0, "STOPPING=1\nSTATUS=draining");
	delay = w0->cfg->drain_delay_ms;
	if (delay == 0) {
		main_drain_start_cb(sig, 0, w0);
		return;
	}
	/* Rolling restarts: the balancer's health check sees /readyz 503
	 * and stops sending new clients before anyone is closed. */
	log_info("signal %d: not ready; draining in %llums", (int)sig,
	    (unsigned long long)delay);
	tv = gw_ms_to_tv(delay);
	if (event_base_once(w0->base, -1, EV_TIMEOUT, main_drain_start_cb,
	    w0, &tv) == -1)
		main_drain_start_cb(sig, 0, w0);
}

/*
 * gw_fd_room and gw_session_cap: the spare descriptors less those the
 * admin endpoint may hold (admin_fds_max: admin_max_connections + 1, or
 * more while more are open), which a SIGHUP changes, and the admin
 * endpoint as those open past a lowered cap close (admin_start's
 * fds_changed). Without that, sessions filling the limit
 * left admin accepts failing with EMFILE (and libevent's listener
 * spinning on them), or admin connections left sessions short.
 */
static void
main_fd_room_set(void)
{
	uint64_t admin = admin_fds_max(), room;

	if (main_fd_spare == UINT64_MAX)
		return;
	room = main_fd_spare > admin ? main_fd_spare - admin : 0;
	gw_fd_room = room;
	gw_session_cap = room / GW_FDS_SESSION;
}

/*
 * Room left under the open-files limit once everything is set up: two
 * descriptors per session (more for exec: routes, see gw.h), a reserve
 * for evdns and accepts in flight, and the admin endpoint's connections
 * (main_fd_room_set).
 */
static void
main_session_cap(void)
{
	uint64_t used = 0, reserve = 16 + 2 * (uint64_t)main_nworkers;
	struct dirent *d;
	DIR *dir;

	if (main_nofile == UINT64_MAX || (dir = opendir("/proc/self/fd")) ==
	    NULL)
		return;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			used++;
	closedir(dir);
	main_fd_spare = main_nofile > used + reserve ?
	    main_nofile - used - reserve : 0;
	main_fd_room_set();
	log_debug("open-files limit %llu, %llu in use, %llu for the admin "
	    "endpoint: room for %llu sessions",
	    (unsigned long long)main_nofile, (unsigned long long)used,
	    (unsigned long long)admin_fds_max(),
	    (unsigned long long)gw_session_cap);
}

/*
 * user = NAME: once every socket is bound and every key read, run as NAME
 * (ports below 1024 stay bound). Without root there is nothing to drop.
 */
static void
main_drop_privileges(const struct config *cfg)
{
	struct passwd *pw;

	if (cfg->user == NULL)
		return;
	if ((pw = getpwnam(cfg->user)) == NULL)
		fatalx("user %s: no such user", cfg->user);
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			log_warnx("user %s: not running as root, staying uid "
			    "%u", cfg->user, (unsigned)geteuid());
		return;
	}
	if (setgroups(0, NULL) == -1 || initgroups(pw->pw_name,
	    pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", cfg->user);
	if (setuid(0) != -1)
		fatalx("could regain root after dropping to %s", cfg->user);
	log_info("running as user %s (uid %u)", cfg->user,
	    (unsigned)pw->pw_uid);
}

/* As many descriptors as we may have: two per session. */
static void
main_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit(RLIMIT_NOFILE)");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	main_nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX :
	    (uint64_t)rl.rlim_cur;
}

static struct evdns_base *
main_dns(struct event_base *base)
{
	struct evdns_base *dns;

	dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (dns == NULL) {
		log_warnx("no usable /etc/resolv.conf: backend host names "
		    "resolve through /etc/hosts only");
		dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (dns != NULL)
			evdns_base_load_hosts(dns, NULL);
	}
	return dns;
}

/* The generation at start: its server TLS context, if any listener
 * wants one, or exit saying what is wrong. */
static struct gw_gen *
main_gen(struct config *cfg, unsigned nworkers)
{
	char err[512];
	struct gw_gen *gen;

	if ((gen = confgen_new(cfg, nworkers)) == NULL)
		fatal("calloc");
	if (confgen_load_tls(gen, err, sizeof(err)) == -1)
		fatalx("%s: [tls]: %s", cfg->file != NULL ? cfg->file :
		    "command line", err);
	return gen;
}

/* log_file and syslog: opened once, at start (a change takes a restart). */
static void
main_log_sinks(const struct config *cfg, bool foreground)
{
	char err[512];

	if (cfg->log_file != NULL && log_open_file(cfg->log_file) == -1)
		fatal("log_file %s", cfg->log_file);
	if (cfg->syslog_server != NULL && log_open_syslog(cfg->syslog_server,
	    cfg->syslog_format == 1, !foreground, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/* Key and token files of every route, or exit saying what is wrong. */
static void
main_load_routes(struct gw_gen *gen)
{
	char *err;

	if ((err = calloc(1, MAIN_ERRLEN)) == NULL)
		fatal("calloc");
	if (confgen_load_routes(gen, err, MAIN_ERRLEN) == -1) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	free(err);
}

/* admin_token_file and token_id_key_file, or exit saying what is wrong. */
static void
main_load_keys(const struct config *cfg)
{
	char err[512];

	if (registry_load_keys(cfg, err, sizeof(err)) == -1 ||
	    admin_sessions_load(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", cfg->file != NULL ? cfg->file :
		    "command line", err);
		exit(1);
	}
}

/*
 * [gateway] redis, resolved and its password read once, at start (a
 * reload keeps them: a change takes a restart), or exit saying why.
 */
static void
main_load_redis(const struct config *cfg)
{
	char err[512];

	if (redis_opts_load(cfg, &main_redis, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", cfg->file != NULL ? cfg->file :
		    "command line", err);
		exit(1);
	}
}

/* This gateway's name in the fleet: instance, or the host name. */
static void
main_instance(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->instance != NULL)
		snprintf(buf, len, "%s", cfg->instance);
	else if (gethostname(buf, len) == -1 || buf[0] == '\0')
		snprintf(buf, len, "wsgate");
	buf[len - 1] = '\0';
}

/*
 * The process before any worker: logging (level returned), SIGPIPE
 * ignored, signums blocked (*mask; main unblocks once worker 0 catches
 * them), the open-files limit, malloc's tuning, libevent's threads.
 */
static int
main_process_setup(const struct config *cfg, const int *signums,
    sigset_t *mask)
{
	const struct main_opts *o = &main_opts;
	unsigned i;
	int level;

	main_level = o->verbose > 0 ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR;
	level = o->verbose > 0 ? LOG_LEVEL_DEBUG : (int)cfg->log_level;
	log_init(true, (enum log_level)level, cfg->log_format == CONFIG_LOG_JSON);
	main_log_sinks(cfg, o->foreground);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * From the first listener on, a client (or systemd) may see us up
	 * and send TERM before worker 0 catches it: keep TERM, INT and HUP
	 * pending until their events are in place, or one would end the
	 * process by the signal's default action instead of a drain.
	 */
	sigemptyset(mask);
	for (i = 0; signums[i] != 0; i++)
		sigaddset(mask, signums[i]);
	pthread_sigmask(SIG_BLOCK, mask, NULL);
	main_raise_nofile();
	/*
	 * Relay buffers are 4-64 KiB chains freed and taken again all the
	 * time; glibc's defaults hand the top of the heap back to the kernel
	 * and fault it in again at once (16 % of stream CPU in page faults,
	 * docs/PERFORMANCE.md). Keep up to 8 MiB of free heap; allocations
	 * up to 1 MiB come from the heap.
	 */
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	/*
	 * libevent's zeroed allocations (each bufferevent, evbuffer and
	 * callback entry: 8 per connect cycle) go to calloc() unless it is
	 * given allocator functions; then it calls malloc() and memset().
	 * glibc 2.36's calloc() skips the per-thread cache and takes the
	 * arena lock (the process has threads): ~260 instructions against
	 * ~90 for malloc() plus the memset, measured with bench-instr. The
	 * same allocator either way, so blocks allocated before this call
	 * are freed alike.
	 */
	event_set_mem_functions(malloc, realloc, free);
	/*
	 * The workers' bases have no lock (worker.c: other threads reach a
	 * worker through post.c), but libevent's process-wide state is
	 * still shared by the worker threads and needs its locks: the random
	 * generator every worker's evdns draws its query ids from, the one
	 * signal base, and each evdns base's lock (uncontended: one per
	 * worker).
	 */
	if (evthread_use_pthreads() == -1)
		fatalx("evthread_use_pthreads failed");
	return level;
}

/* -t: the config, and the files it names, load; exit status. */
static int
main_check(struct config *cfg)
{
	struct gw_gen *gen;

	/* Certificates, keys and token files load too? */
	gen = main_gen(cfg, 1);
	main_load_routes(gen);
	main_load_redis(cfg);
	if (cfg->user != NULL && getpwnam(cfg->user) == NULL) {
		fprintf(stderr, "%s: user %s: no such user\n", cfg->file,
		    cfg->user);
		return 1;
	}
	main_load_keys(cfg);
	if (!admin_sessions_guarded(cfg))
		fprintf(stderr, "%s: warning: admin_listen %s is not a "
		    "loopback address and no admin_token_file is set: "
		    "/sessions will answer 403\n", cfg->file != NULL ?
		    cfg->file : "command line", cfg->admin_listen);
	confgen_unref(gen);
	printf("configuration OK\n");
	return 0;
}

/*
 * The workers on generation gen with their listeners, the registry and
 * the admin endpoint; then (without -d) into the background; then each
 * worker's resolver and Redis connection, and the fleet. Fatal on error.
 */
static void
main_workers_open(const struct config *cfg, struct gw_gen *gen,
    const char *instance, int level)
{
	struct gw_worker *w;
	char name[32];
	unsigned i;

	main_workers = worker_pool_new(main_nworkers);
	for (i = 0; i < main_nworkers; i++) {
		w = &main_workers[i];
		worker_init(w, i, gen);
		if (listener_open_all(w, i > 0 ? &main_workers[0] : NULL,
		    cfg) == -1)
			fatalx("cannot listen; exiting");
	}
	registry_start(main_workers, main_nworkers, instance);
	if (admin_start(main_workers, main_nworkers, cfg,
	    main_fd_room_set) == -1)
		fatalx("cannot serve admin_listen; exiting");
	if (!main_opts.foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(false, (enum log_level)level,
		    cfg->log_format == CONFIG_LOG_JSON);
		for (i = 0; i < main_nworkers; i++)
			if (event_reinit(main_workers[i].base) == -1)
				fatalx("event_reinit failed");
	}
	for (i = 0; i < main_nworkers; i++)
		if ((main_workers[i].dns = main_dns(main_workers[i].base)) ==
		    NULL)
			fatalx("evdns_base_new failed");
	for (i = 0; i < main_nworkers && main_redis.spec != NULL; i++) {
		snprintf(name, sizeof(name), "worker %u", i);
		w = &main_workers[i];
		if ((w->redis = redis_conn_new(w->base, &main_redis, &w->m,
		    name)) == NULL)
			fatalx("redis: out of memory");
	}
	fleet_start(main_workers, main_nworkers, &main_redis, cfg);
}

/* The process-wide services, once every worker has stopped. */
static void
main_services_stop(void)
{
	admin_stop();
	admin_sessions_stop();
	fleet_stop();
	registry_stop();
	lifecycle_stop();
	wrap_stop();
}

int
main(int argc, char **argv)
{
	struct gw_worker *w;
	struct event *sigs[4];
	static const int signums[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	sigset_t mask;
	pthread_t *threads;
	struct gw_gen *gen;
	struct main_opts *o = &main_opts;
	struct config *cfg;
	char instance[256];
	unsigned i;
	int level;

	main_parse_args(argc, argv, o);
	cfg = main_load_config(o);
	if (o->check)
		return main_check(cfg);
	level = main_process_setup(cfg, signums, &mask);

	main_nworkers = worker_count(cfg);
	gen = main_gen(cfg, main_nworkers);
	main_load_routes(gen);
	main_load_keys(cfg);
	main_instance(cfg, instance, sizeof(instance));
	main_load_redis(cfg);
	threads = calloc(main_nworkers, sizeof(*threads));
	if (threads == NULL || token_api_init(main_nworkers) == -1)
		fatal("calloc");
	main_workers_open(cfg, gen, instance, level);
	main_drop_privileges(cfg);
	main_session_cap();
	/* htpasswd checks: half the cores, at a lower priority (pwcheck.h). */
	if (pwcheck_start(main_nworkers / 2 > 4 ? 4 : main_nworkers / 2) == -1)
		fatalx("cannot start the password check threads");
	w = &main_workers[0];
	for (i = 0; signums[i] != 0; i++) {
		sigs[i] = evsignal_new(w->base, signums[i], main_signal_cb, w);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot catch signal %d", signums[i]);
	}
	sigs[i] = NULL;
	/* A signal that came meanwhile is delivered now, to its event. */
	pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	log_info("wsgate %s started: %u workers, %zu routes, "
	    "max_connections %llu", WSGATE_VERSION, main_nworkers,
	    cfg->nroutes, (unsigned long long)cfg->max_connections);
	/* systemd Type=notify: listening now (no-op outside systemd). */
	sd_notifyf(0, "READY=1\nMAINPID=%lu\nSTATUS=serving %zu routes",
	    (unsigned long)getpid(), cfg->nroutes);

	main_token_poll_cb(-1, 0, w);
	if (lifecycle_start(w->base, cfg, worker_stop_accepting) == -1)
		fatalx("cannot arm the exit_* timers");
	if (wrap_start(w->base, cfg, worker_stop_accepting) == -1)
		fatalx("cannot start wrap_command; exiting");
	for (i = 1; i < main_nworkers; i++)
		if (pthread_create(&threads[i], NULL, worker_run,
		    &main_workers[i]) != 0)
			fatalx("pthread_create failed");
	worker_run(w);
	for (i = 1; i < main_nworkers; i++)
		pthread_join(threads[i], NULL);
	pwcheck_stop();
	main_services_stop();
	/*
	 * On the way out a TERM or INT has nothing left to speed up. Freeing
	 * the signal events restores the default action, and one arriving
	 * while the sessions are freed would end the process by that signal
	 * instead of with status 0: keep them pending (blocked) until exit.
	 * The workers are joined, so this thread is the only one left.
	 */
	sigemptyset(&mask);
	for (i = 0; signums[i] != 0; i++)
		sigaddset(&mask, signums[i]);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	for (i = 0; sigs[i] != NULL; i++)
		event_free(sigs[i]);
	for (i = 0; i < main_nworkers; i++)
		worker_free(&main_workers[i]);
	worker_pool_free();
	free(threads);
	log_info("exiting");
	redis_opts_clear(&main_redis);
	confgen_unref(gen);
	return wrap_exit_status();	/* wrap_mode = exit: the program's */
}
