/*
 * xform: framing, permessage-deflate and process backends on a session's
 * data path (see include/xform.h). The pure parts are framing.c (where
 * messages end), zstream.c (zlib), pmd.c (negotiation) and exec_env.c
 * (the environment); this file puts them on the evbuffers.
 *
 * Backend to client: the backend leg's input holds the bytes of a line
 * not yet complete; fed counts those the scanner has seen (it equals the
 * scanner's pending count after every message). A message is taken off
 * the front of the input: moved as chains when sent as is, read through
 * zlib when compressed.
 *
 * Client to backend: payload is unmasked in place in the client's input,
 * inflated when the message is compressed (RSV1 on its first frame), and
 * copied to the backend's output; a text message's bytes are checked as
 * UTF-8 after inflation (RFC 7692 §6.1: the extension's output is the
 * message's data).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "exec.h"
#include "exec_env.h"
#include "framing.h"
#include "gw.h"
#include "heartbeat.h"
#include "log.h"
#include "pmd.h"
#include "record.h"
#include "session-int.h"
#include "session.h"
#include "upgrade.h"
#include "ws_conn.h"
#include "ws_frame.h"
#include "ws_utf8.h"
#include "xform.h"
#include "zstream.h"

/* Messages shorter than this go uncompressed (RSV1 clear): zlib would
 * grow them, and with no context takeover each costs a zlib setup. */
#define XFORM_MIN_DEFLATE	64
#define XFORM_ZLIB_LEVEL	6	/* zlib's default ratio/CPU point */

extern char **environ;

struct xform {
	struct session	*s;
	/* permessage-deflate */
	bool		 pmd;
	struct pmd_params pmdp;
	char		 ext[PMD_RESPONSE_MAX];
	struct zstream	 def, inf;
	/* client -> backend: the current message */
	bool		 up_compressed;
	bool		 up_any;		/* it has bytes */
	uint8_t		 up_last;		/* ... its last */
	bool		 up_utf8_bad;
	/* an inflate the backend's full output paused: the compressed bytes
	 * not yet taken, and whether the message's last frame came */
	struct evbuffer	*zin;
	bool		 zin_end;
	/* backend -> client */
	bool		 down;			/* anything to do that way */
	struct framing	 fr;
	size_t		 fed;
	struct evbuffer	*msg;			/* one message's chains */
	/* exec: backend */
	struct exec_proc *proc;
	int		 proc_fd;
	bool		 eof;			/* stdout ended, exit awaited */
	bool		 exited;
	int		 exit_code, exit_status;
	struct event	*timer;			/* bounds either wait */
};

static const char *
xform_header_value(const char *head, size_t len, size_t *off,
    const char *name, size_t nlen, size_t *vlen)
{
	const char *line, *eol, *colon, *v;

	while (*off < len) {
		line = head + *off;
		if ((eol = memchr(line, '\n', len - *off)) == NULL)
			return NULL;
		*off = (size_t)(eol - head) + 1;
		if (eol > line && eol[-1] == '\r')
			eol--;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL || (size_t)(colon - line) != nlen ||
		    strncasecmp(line, name, nlen) != 0)
			continue;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t'))
			eol--;
		*vlen = (size_t)(eol - v);
		return v;
	}
	return NULL;
}

/* RFC 7692 §5: the client's offers, from every Sec-WebSocket-Extensions
 * line of the head; the first acceptable wins. */
static void
xform_negotiate(struct xform *x, const char *head, size_t head_len)
{
	const char		*vals[16];
	size_t			 lens[16], n = 0, off, vl;
	struct pmd_policy	 pol;
	const char		*v;

	off = 0;
	if ((v = memchr(head, '\n', head_len)) != NULL)
		off = (size_t)(v - head) + 1;
	while (n < 16 && (v = xform_header_value(head, head_len, &off,
	    "Sec-WebSocket-Extensions", 24, &vl)) != NULL) {
		vals[n] = v;
		lens[n++] = vl;
	}
	pmd_policy_default(&pol);
	if (n == 0 || pmd_negotiate(vals, lens, n, &pol, &x->pmdp) !=
	    PMD_ACCEPTED)
		return;
	if (pmd_render(&x->pmdp, x->ext, sizeof(x->ext)) < 0)
		return;
	x->pmd = true;
	zstream_init(&x->def, false, x->pmdp.server_max_window_bits,
	    XFORM_ZLIB_LEVEL, x->pmdp.server_no_context_takeover);
	zstream_init(&x->inf, true, 15, -1,
	    x->pmdp.client_no_context_takeover);
}

/* Start the program of an exec: backend. 0, or -1 with *status. */
static int
xform_spawn(struct xform *x, const struct config_route *r, size_t ri,
    const struct upgrade_req *req, const char *head, size_t head_len,
    int *status, const char **detail)
{
	struct session		*s = x->s;
	struct exec_env_req	 er;
	char			 host[NI_MAXHOST], port[NI_MAXSERV], id[24];
	char			 err[160], **envp;

	/* A program holds more descriptors than a socket backend: refuse
	 * it like any session the open-files limit has no room for. */
	if (session_admit_exec(s) == -1) {
		*status = 503;
		*detail = "open-files limit reached";
		return -1;
	}
	if (exec_admit(s->gen, ri) == -1) {
		*status = 503;
		*detail = "too many processes on this route (max_processes)";
		log_info("session %llu: client=%s refused: max_processes %llu "
		    "reached", (unsigned long long)s->id, s->peer,
		    (unsigned long long)r->max_processes);
		return -1;
	}
	if (getnameinfo((const struct sockaddr *)&s->peer_sa,
	    sizeof(s->peer_sa), host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, sizeof(host), "unknown");
		snprintf(port, sizeof(port), "0");
	}
	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
	memset(&er, 0, sizeof(er));
	er.remote_addr = host;
	er.remote_port = port;
	er.target = req->target.p;
	er.target_len = req->target.len;
	er.script_name = r->path;
	er.https = s->client.tls;
	er.unique_id = id;
	er.software = "wsgate/" WSGATE_VERSION;
	er.head = head;
	er.head_len = head_len;
	envp = exec_env_build(&er, (const char *const *)r->exec_env,
	    r->nexec_env, (const char *const *)environ);
	if (envp == NULL) {
		exec_unadmit(s->gen, ri);
		*status = 500;
		*detail = "out of memory";
		return -1;
	}
	x->proc = exec_spawn(s->w, s->gen, ri, &r->backends[0], envp, s->id,
	    &x->proc_fd, err, sizeof(err));
	free(envp);
	if (x->proc == NULL) {
		metrics_inc(&s->w->m.exec_spawn_failed);
		log_warnx("session %llu: client=%s cannot start %s: %s",
		    (unsigned long long)s->id, s->peer, r->backends[0].spec,
		    err);
		*status = 500;
		*detail = "cannot start the backend program";
		return -1;
	}
	return 0;
}

static void xform_exit_cb(void *, int, int);
static void xform_timer_cb(evutil_socket_t, short, void *);

int
xform_accept(struct session *s, const struct config_route *r, size_t ri,
    const struct upgrade_req *req, const char *head, size_t head_len,
    int *status, const char **detail)
{
	struct xform	*x;
	bool		 exec = r->nbackends > 0 &&
			    r->backends[0].kind == CONFIG_ADDR_EXEC;

	if (!r->compression && r->framing == FRAMING_STREAM && !exec)
		return 0;
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		*status = 500;
		*detail = "out of memory";
		return -1;
	}
	x->s = s;
	x->proc_fd = -1;
	if (r->compression)
		xform_negotiate(x, head, head_len);
	framing_init(&x->fr, (enum framing_mode)r->framing, r->line_max,
	    r->line_overflow != 0, r->line_invalid != 0);
	x->down = x->pmd || r->framing != FRAMING_STREAM;
	if (exec) {
		if ((x->timer = evtimer_new(s->w->base, xform_timer_cb, s)) == NULL ||
		    xform_spawn(x, r, ri, req, head, head_len, status,
		    detail) == -1) {
			if (x->timer != NULL)
				event_free(x->timer);
			if (*status == 0) {
				*status = 500;
				*detail = "out of memory";
			}
			free(x);
			return -1;
		}
		exec_watch(x->proc, xform_exit_cb, s);
	}
	s->x = x;
	return 0;
}

uint64_t
xform_frame_limit(const struct session *s, uint64_t max)
{
	/* Deflate grows what it cannot compress (5 bytes per stored block
	 * of 16 to 64 KiB; more when a compressor picks Huffman blocks for
	 * noise): allow 1/64 more on the wire. The inflated size is held to
	 * max exactly. */
	if (s->x == NULL || !s->x->pmd || max == 0)
		return max;
	return max + max / 64 + 1024;
}

const char *
xform_ext_header(const struct session *s)
{
	return s->x != NULL && s->x->pmd ? s->x->ext : NULL;
}

int
xform_exec_fd(struct session *s)
{
	int	fd;

	if (s->x == NULL)
		return -1;
	fd = s->x->proc_fd;
	s->x->proc_fd = -1;
	return fd;
}

/* ---- backend to client ---- */

static int
xform_evbuffer_sink(void *arg, const uint8_t *p, size_t n)
{
	return evbuffer_add(arg, p, n);
}

/*
 * The first n bytes of in become one message to the client (then leave
 * in): their chains moved as they are, or compressed into a frame with
 * RSV1 (RFC 7692 §6.1); ws_conn_send() writes either. Returns 0, or -1
 * after closing s (out of memory).
 */
static int
xform_emit(struct session *s, struct evbuffer *in, size_t n, bool binary)
{
	struct xform		*x = s->x;
	struct evbuffer_iovec	 v[8];
	struct evbuffer_ptr	 ptr;
	unsigned		 op = binary ? WS_OP_BINARY : WS_OP_TEXT;
	size_t			 left = n, k;
	int			 nv, i, r = 0;

	if (x->msg == NULL && (x->msg = evbuffer_new()) == NULL)
		goto oom;
	if (!x->pmd || n < XFORM_MIN_DEFLATE) {
		evbuffer_remove_buffer(in, x->msg, n);
		ws_conn_send(s, WS_CONN_FIN | op, NULL, 0, x->msg);
		return 0;
	}
	evbuffer_ptr_set(in, &ptr, 0, EVBUFFER_PTR_SET);
	while (left > 0 && r == 0) {
		nv = evbuffer_peek(in, (ev_ssize_t)left, &ptr, v, 8);
		if (nv <= 0)
			break;
		for (i = 0; i < nv && i < 8 && left > 0 && r == 0; i++) {
			k = v[i].iov_len < left ? v[i].iov_len : left;
			left -= k;
			r = zstream_deflate(&x->def, v[i].iov_base, k,
			    left == 0, xform_evbuffer_sink, x->msg);
			evbuffer_ptr_set(in, &ptr, k, EVBUFFER_PTR_ADD);
		}
	}
	if (r != 0 || left > 0)
		goto oom;
	evbuffer_drain(in, n);
	ws_conn_send(s, WS_CONN_FIN | WS_CONN_RSV1 | op, NULL, 0, x->msg);
	return 0;
 oom:
	if (x->msg != NULL)
		evbuffer_drain(x->msg, evbuffer_get_length(x->msg));
	zstream_release(&x->def);
	session_close(s, 1011, "internal error: compression failed");
	return -1;
}

/* Act on one framing event. Returns payload bytes sent, or -1. */
static int64_t
xform_down_event(struct session *s, const struct framing_ev *ev,
    struct evbuffer *in)
{
	struct xform	*x = s->x;

	if (ev->type == FRAMING_EV_ERROR) {
		session_close(s, ev->close_code, ev->close_code == 1009 ?
		    "backend line longer than line_max" :
		    "backend sent invalid UTF-8");
		return -1;
	}
	if (xform_emit(s, in, ev->len, ev->binary) == -1)
		return -1;
	evbuffer_drain(in, ev->drop);
	x->fed = x->fr.cur;
	return (int64_t)ev->len;
}

int64_t
xform_down(struct session *s, struct evbuffer *in)
{
	struct xform		*x = s->x;
	struct framing_ev	 ev;
	struct evbuffer_ptr	 ptr;
	struct evbuffer_iovec	 v;
	size_t			 used;
	int64_t			 sent = 0, r;

	if (x->fr.mode == FRAMING_STREAM) {
		size_t n = evbuffer_get_length(in);

		if (xform_emit(s, in, n, true) == -1)
			return -1;
		return (int64_t)n;
	}
	while (x->fed < evbuffer_get_length(in)) {
		evbuffer_ptr_set(in, &ptr, x->fed, EVBUFFER_PTR_SET);
		if (evbuffer_peek(in, -1, &ptr, &v, 1) < 1)
			break;
		used = framing_feed(&x->fr, v.iov_base, v.iov_len, &ev);
		x->fed += used;
		if (ev.type == FRAMING_EV_NONE)
			continue;
		if ((r = xform_down_event(s, &ev, in)) < 0)
			return -1;
		sent += r;
	}
	for (;;) {
		framing_flush(&x->fr, &ev);
		if (ev.type == FRAMING_EV_NONE)
			break;
		if ((r = xform_down_event(s, &ev, in)) < 0)
			return -1;
		sent += r;
	}
	return sent;
}

size_t
xform_down_seen(const struct session *s)
{
	return s->x != NULL ? s->x->fed : 0;
}

bool
xform_down_takes(const struct session *s)
{
	return s->x != NULL && s->x->down;
}

/* ---- client to backend ---- */

bool
xform_client_takes(const struct session *s)
{
	return s->x != NULL && (s->x->up_compressed ||
	    s->x->fr.mode == FRAMING_LINE);
}

bool
xform_client_inflating(const struct session *s)
{
	return s->x != NULL && s->x->up_compressed;
}

void
xform_client_message(struct session *s, const struct ws_frame_ev *ev)
{
	struct xform	*x = s->x;

	x->up_compressed = x->pmd && ev->rsv1;
	x->up_any = false;
	x->up_utf8_bad = false;
}

/* Inflated (or plain) message bytes to the backend. */
static int
xform_up_sink(void *arg, const uint8_t *p, size_t n)
{
	struct session	*s = arg;
	struct xform	*x = s->x;

	if (s->rx.msg_text && ws_utf8_feed(&s->rx.utf8, p, n) == -1) {
		x->up_utf8_bad = true;
		return -1;
	}
	if (s->upstream.bev != NULL) {
		struct evbuffer *o = bufferevent_get_output(s->upstream.bev);

		if (evbuffer_add(o, p, n) == -1)
			return -1;
		/* --record, --traffic: what the backend gets */
		record_chunk(s->rec, 0, o, evbuffer_get_length(o) - n, n);
	}
	x->up_any = true;
	x->up_last = p[n - 1];
	s->bytes_up += n;
	metrics_addn(&s->mr->bytes_up, n);
	/* Inflating: stop once the backend's output is full, as the plain
	 * relay stops reading the client (a bomb never piles up here). */
	if (x->up_compressed && s->upstream.bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(s->upstream.bev)) >=
	    s->cfg->max_buffer)
		return 1;
	return 0;
}

/* A zstream or sink error: the close it calls for. -1. */
static int
xform_up_fail(struct session *s, int r)
{
	if (s->x->up_utf8_bad)
		session_close(s, 1007, "invalid UTF-8 in a text message");
	else if (r == ZSTREAM_ERR_TOO_BIG)
		session_close(s, 1009, "message too big (inflated)");
	else if (r == ZSTREAM_ERR_DATA)
		session_close(s, 1007, "invalid compressed data");
	else
		session_close(s, 1011, "internal error: out of memory");
	return -1;
}

int
xform_client_payload(struct session *s, const struct ws_frame_ev *ev,
    uint8_t *p, struct evbuffer *in)
{
	struct xform	*x = s->x;
	size_t		 unused;
	int		 r;

	ws_frame_unmask(s->rx.dec.mask, ev->mask_off, p, p, ev->len);
	if (x->up_compressed) {
		r = zstream_inflate(&x->inf, p, ev->len, false,
		    s->route->max_message_size, xform_up_sink, s);
		if (r == ZSTREAM_PAUSED) {
			/* The rest waits, unmasked, until the backend drains
			 * (xform_client_resume from ws_conn_input). */
			unused = zstream_unused(&x->inf);
			r = 0;
			if (unused > 0 && ((x->zin == NULL &&
			    (x->zin = evbuffer_new()) == NULL) ||
			    evbuffer_add(x->zin, p + ev->len - unused,
			    unused) == -1))
				r = ZSTREAM_ERR_NOMEM;
		}
	} else
		r = ev->len > 0 && xform_up_sink(s, p, ev->len) == -1 ?
		    ZSTREAM_ERR_SINK : 0;
	evbuffer_drain(in, ev->len);
	if (r != 0)
		return xform_up_fail(s, r);
	return 0;
}

/* The newline that makes a client message one line (line framing). */
static void
xform_newline(struct session *s)
{
	struct xform	*x = s->x;
	struct evbuffer	*o;

	if (!framing_needs_newline(&x->fr, x->up_any ? 1 : 0, x->up_last) ||
	    s->upstream.bev == NULL)
		return;
	o = bufferevent_get_output(s->upstream.bev);
	evbuffer_add(o, "\n", 1);
	record_chunk(s->rec, 0, o, evbuffer_get_length(o) - 1, 1);
	s->bytes_up++;
	metrics_inc(&s->mr->bytes_up);
}

bool
xform_client_pending(const struct session *s)
{
	const struct xform *x = s->x;

	return x != NULL && ((x->zin != NULL &&
	    evbuffer_get_length(x->zin) > 0) || x->zin_end ||
	    zstream_paused(&x->inf));
}

int
xform_client_message_end(struct session *s)
{
	struct xform	*x = s->x;
	int		 r;

	if (x->up_compressed) {
		if (xform_client_pending(s)) {
			x->zin_end = true;	/* after what waits */
			return 1;
		}
		r = zstream_inflate(&x->inf, NULL, 0, true,
		    s->route->max_message_size, xform_up_sink, s);
		if (r == ZSTREAM_PAUSED) {
			x->zin_end = true;
			return 1;
		}
		x->up_compressed = false;
		if (r != 0)
			return xform_up_fail(s, r);
	}
	xform_newline(s);
	return 0;
}

int
xform_client_resume(struct session *s)
{
	struct xform	*x = s->x;
	uint64_t	 max = s->route->max_message_size;
	size_t		 n;
	uint8_t		*p;
	int		 r;

	if (!xform_client_pending(s))
		return 0;
	while (x->zin != NULL && (n = evbuffer_get_length(x->zin)) > 0) {
		if (n > 16384)
			n = 16384;
		if ((p = evbuffer_pullup(x->zin, (ev_ssize_t)n)) == NULL)
			return xform_up_fail(s, ZSTREAM_ERR_NOMEM);
		r = zstream_inflate(&x->inf, p, n, false, max, xform_up_sink, s);
		evbuffer_drain(x->zin, n - (r == ZSTREAM_PAUSED ?
		    zstream_unused(&x->inf) : 0));
		if (r == ZSTREAM_PAUSED)
			return 1;
		if (r != 0)
			return xform_up_fail(s, r);
	}
	if (zstream_paused(&x->inf) && !x->zin_end) {
		/* zlib's own output left over, no input to add */
		r = zstream_inflate(&x->inf, NULL, 0, false, max,
		    xform_up_sink, s);
		if (r == ZSTREAM_PAUSED)
			return 1;
		if (r != 0)
			return xform_up_fail(s, r);
	}
	if (!x->zin_end)
		return 0;
	r = zstream_inflate(&x->inf, NULL, 0, true, max, xform_up_sink, s);
	if (r == ZSTREAM_PAUSED)
		return 1;
	x->zin_end = false;
	x->up_compressed = false;
	if (r != 0)
		return xform_up_fail(s, r);
	/* ws_conn_frame_end left these to the message's real end */
	if (s->rx.msg_text && !ws_utf8_complete(&s->rx.utf8)) {
		session_close(s, 1007, "text message ends inside a UTF-8 "
		    "sequence");
		return -1;
	}
	xform_newline(s);
	return 0;
}

/* ---- the end ---- */

/* Close s for the program's exit: 1000, or 1011 with the status. */
static void
xform_close_exit(struct session *s)
{
	struct xform	*x = s->x;
	char		 why[96], st[64];

	event_del(x->timer);
	exec_status_text(x->exit_code, x->exit_status, st, sizeof(st));
	snprintf(why, sizeof(why), "backend program %s", st);
	if (x->exit_code == CLD_EXITED && x->exit_status == 0)
		session_close(s, 1000, "backend program exited");
	else
		session_close(s, 1011, why);
}

static void
xform_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	struct xform	*x = s->x;

	(void)fd;
	(void)what;
	if (s->state == SESSION_CLOSING) {
		/* Its stdin ended a grace ago and it still runs. */
		exec_release(x->proc);
		x->proc = NULL;
		return;
	}
	if (x->eof) {
		/* It closed its output but lives on: end as for a socket. */
		session_close(s, 1000, "backend program closed its output");
		return;
	}
	/* It exited, something it left holds its output: kill that. */
	exec_signal(x->proc, SIGKILL);
}

static void
xform_arm(struct session *s)
{
	struct timeval	tv;
	uint64_t	ms = s->route->exec_kill_timeout_ms;

	if (ms < 100)
		ms = 100;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(s->x->timer, &tv);
}

static void
xform_exit_cb(void *arg, int code, int status)
{
	struct session	*s = arg;
	struct xform	*x = s->x;

	x->exited = true;
	x->exit_code = code;
	x->exit_status = status;
	if (x->eof || s->state == SESSION_CLOSING) {
		if (x->eof)
			xform_close_exit(s);
		return;
	}
	/* Its output may still be on the way: deliver it, then close when
	 * the socket ends; whatever it left running goes now. */
	exec_signal(x->proc, SIGTERM);
	xform_arm(s);
}

void
xform_stdin_closed(struct session *s)
{
	if (s->x != NULL && s->x->proc != NULL && !s->x->exited)
		xform_arm(s);
}

int
xform_backend_eof(struct session *s)
{
	struct xform		*x = s->x;
	struct framing_ev	 ev;
	struct evbuffer		*in = bufferevent_get_input(s->upstream.bev);

	if (x->down && x->fr.mode != FRAMING_STREAM && s->client.bev != NULL) {
		/* Whatever is pending: read it as a last message. */
		for (;;) {
			framing_end(&x->fr, &ev);
			if (ev.type == FRAMING_EV_NONE)
				break;
			if (xform_down_event(s, &ev, in) < 0)
				return 1;
		}
	}
	if (x->proc == NULL)
		return 0;
	if (x->exited) {
		xform_close_exit(s);
		return 1;
	}
	x->eof = true;
	xform_arm(s);
	return 1;
}

void
xform_free(struct session *s)
{
	struct xform	*x = s->x;

	if (x == NULL)
		return;
	exec_release(x->proc);
	if (x->proc_fd != -1)
		close(x->proc_fd);
	if (x->timer != NULL)
		event_free(x->timer);
	zstream_release(&x->def);
	zstream_release(&x->inf);
	if (x->msg != NULL)
		evbuffer_free(x->msg);
	if (x->zin != NULL)
		evbuffer_free(x->zin);
	free(x);
	s->x = NULL;
}
