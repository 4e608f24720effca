/*
 * Unit tests for redis: the connection that keeps itself up, against a
 * real redis-server (Debian's) started here on a free loopback port and
 * stopped by pid; skipped when redis-server is not installed. Links
 * libevent and hiredis, and stubs the logger.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "metrics.h"
#include "redis.h"

/* ---- logger stubs ---- */

void log_warnx(const char *fmt, ...) { (void)fmt; }
void log_info(const char *fmt, ...) { (void)fmt; }
bool log_enabled(enum log_level level) { (void)level; return false; }
void log_debug_emit(const char *fmt, ...) { (void)fmt; }

/* ---- a redis-server of our own ---- */

static const char *redis_bin = "/usr/bin/redis-server";
static pid_t	 redis_pid = -1;
static int	 redis_port;

static int
free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
redis_start(void)
{
	char port[16];

	snprintf(port, sizeof(port), "%d", redis_port);
	if ((redis_pid = fork()) == 0) {
		execl(redis_bin, redis_bin, "--port", port, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no",
		    "--loglevel", "warning", "--logfile", "/dev/null",
		    (char *)NULL);
		_exit(127);
	}
	assert_true(redis_pid > 0);
}

static void
redis_kill(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
	}
	redis_pid = -1;
}

/* ---- fixture ---- */

struct fx {
	struct event_base	*base;
	struct redis_opts	 o;
	struct metrics		 m;
	struct redis_conn	*c;
	int			 ups, downs;
	int			 replies;
	int			 nulls;
	char			 got[64];
	int			 messages;
	char			 msg[64];
};

static void
on_state(void *arg, bool up)
{
	struct fx *f = arg;

	if (up)
		f->ups++;
	else
		f->downs++;
}

static void
on_reply(void *arg, struct redisReply *r)
{
	struct fx *f = arg;

	f->replies++;
	if (r == NULL)
		f->nulls++;
	else if (r->type == REDIS_REPLY_STRING || r->type ==
	    REDIS_REPLY_STATUS)
		snprintf(f->got, sizeof(f->got), "%.*s", (int)r->len, r->str);
	else if (r->type == REDIS_REPLY_NIL)
		snprintf(f->got, sizeof(f->got), "(nil)");
}

static void
on_message(void *arg, const char *ch, size_t clen, const char *msg,
    size_t mlen)
{
	struct fx *f = arg;

	assert_int_equal(clen, 4);
	assert_memory_equal(ch, "news", 4);
	f->messages++;
	snprintf(f->msg, sizeof(f->msg), "%.*s", (int)mlen, msg);
}

/* Run the loop until *flag reaches want, or fail after secs. */
static void
run_until(struct fx *f, const int *flag, int want, int secs)
{
	time_t end = time(NULL) + secs;
	struct timeval tick = { 0, 20000 };

	while (*flag < want) {
		if (time(NULL) > end)
			fail_msg("timed out waiting (%d of %d)", *flag, want);
		event_base_loopexit(f->base, &tick);
		event_base_dispatch(f->base);
	}
}

/* One 20 ms turn of the loop. */
static void
spin(struct fx *f)
{
	struct timeval tick = { 0, 20000 };

	event_base_loopexit(f->base, &tick);
	event_base_dispatch(f->base);
}

static int
setup(void **state)
{
	struct fx *f;

	if (access(redis_bin, X_OK) != 0) {
		print_message("redis-server not installed: skipped\n");
		*state = NULL;
		return 0;
	}
	assert_non_null(f = calloc(1, sizeof(*f)));
	redis_port = free_port();
	redis_start();
	assert_non_null(f->base = event_base_new());
	f->o.host = strdup("127.0.0.1");
	f->o.port = redis_port;
	f->o.spec = strdup("test");
	f->o.timeout_ms = 300;
	f->c = redis_conn_new(f->base, &f->o, &f->m, "t");
	assert_non_null(f->c);
	redis_conn_set_state_cb(f->c, on_state, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		return 0;
	redis_conn_free(f->c);
	redis_kill();
	event_base_free(f->base);
	free(f->o.host);
	free(f->o.spec);
	free(f);
	return 0;
}

static int
cmd(struct fx *f, struct redis_conn *c, const char *a0, const char *a1,
    const char *a2)
{
	const char *argv[3] = { a0, a1, a2 };
	size_t lens[3] = { strlen(a0), a1 ? strlen(a1) : 0,
	    a2 ? strlen(a2) : 0 };

	return redis_command(c, on_reply, f, a2 ? 3 : a1 ? 2 : 1, argv, lens);
}

/* ---- tests ---- */

static void
test_commands_and_reconnect(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		skip();
	/* The server may still be starting: the connection retries. */
	run_until(f, &f->ups, 1, 10);
	assert_int_equal(f->m.redis_up, 1);
	assert_int_equal(f->m.redis_workers, 1);
	assert_int_equal(cmd(f, f->c, "SET", "k", "v1"), 0);
	assert_int_equal(f->replies, 0);	/* never inside the call */
	assert_int_equal(cmd(f, f->c, "GET", "k", NULL), 0);
	run_until(f, &f->replies, 2, 5);
	assert_string_equal(f->got, "v1");
	/* Killed: pending and later commands, state down. */
	redis_kill();
	run_until(f, &f->downs, 1, 5);
	assert_int_equal(f->m.redis_up, 0);
	assert_true(f->m.redis_errors >= 1);
	assert_int_equal(cmd(f, f->c, "GET", "k", NULL), -1);
	/* Back: up again by itself, within the backoff. */
	redis_start();
	run_until(f, &f->ups, 2, 10);
	assert_int_equal(cmd(f, f->c, "GET", "k", NULL), 0);
	run_until(f, &f->replies, 3, 5);
	assert_string_equal(f->got, "(nil)");	/* a new, empty server */
}

static void
test_unanswered_command_times_out(void **state)
{
	struct fx *f = *state;
	time_t t0;

	if (f == NULL)
		skip();
	run_until(f, &f->ups, 1, 10);
	kill(redis_pid, SIGSTOP);
	t0 = time(NULL);
	assert_int_equal(cmd(f, f->c, "GET", "k", NULL), 0);
	run_until(f, &f->nulls, 1, 5);	/* redis_timeout is 300 ms */
	assert_true(time(NULL) - t0 <= 2);
	assert_int_equal(f->downs, 1);
	kill(redis_pid, SIGCONT);
	run_until(f, &f->ups, 2, 10);
}

static void
test_subscribe_survives_a_restart(void **state)
{
	struct fx *f = *state;
	struct redis_conn *sub;
	int sub_ups = 0;

	if (f == NULL)
		skip();
	assert_non_null(sub = redis_conn_new(f->base, &f->o, NULL, "sub"));
	assert_int_equal(redis_subscribe(sub, "news", on_message, f), 0);
	run_until(f, &f->ups, 1, 10);
	/* Publish until the subscription is in place (it follows the PING). */
	while (f->messages == 0) {
		int before = f->replies;

		assert_int_equal(cmd(f, f->c, "PUBLISH", "news", "one"), 0);
		run_until(f, &f->replies, before + 1, 5);
	}
	assert_string_equal(f->msg, "one");
	redis_kill();
	run_until(f, &f->downs, 1, 5);
	redis_start();
	run_until(f, &f->ups, 2, 10);
	f->messages = 0;
	while (f->messages == 0) {
		int before = f->replies;

		if (++sub_ups > 500)
			fail_msg("no message after the restart");
		if (cmd(f, f->c, "PUBLISH", "news", "two") == 0)
			run_until(f, &f->replies, before + 1, 5);
		else
			spin(f);
	}
	assert_string_equal(f->msg, "two");
	redis_conn_free(sub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commands_and_reconnect,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unanswered_command_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_subscribe_survives_a_restart, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
