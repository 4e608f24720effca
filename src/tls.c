/*
 * tls: see include/tls.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "config.h"
#include "loadfile.h"
#include "log.h"
#include "tls.h"
#include "tls_sock.h"

#define TLS_KEY_FILE_MAX	(1024 * 1024)	/* a PEM key (RSA 16384 is 13K) */
#define TLS_PASSWORD_FILE_MAX	(64 * 1024)

/* The last OpenSSL error as text into err. */
static void
tls_openssl_err(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s %s: %s", what, path, buf);
}

/* Client certificates: the CA to check them against, and the mode. */
static int
tls_client_ca(SSL_CTX *ctx, const struct config *cfg, X509_STORE **sys,
    char *err, size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	X509_STORE *st;
	char why[400];

	/* "system": OpenSSL's default store (SSL_CERT_FILE, SSL_CERT_DIR), as
	 * websockify --verify-client without --cafile; no CA names sent. The
	 * generation's, shared with its other contexts that use it. */
	if (strcmp(cfg->tls_client_ca, "system") == 0) {
		if ((st = tls_system_store(sys, why, sizeof(why))) == NULL) {
			snprintf(err, errlen, "client_ca system: %s", why);
			return -1;
		}
		SSL_CTX_set1_cert_store(ctx, st);
	} else if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(cfg->tls_client_ca)) == NULL) {
		tls_openssl_err(err, errlen, "client_ca", cfg->tls_client_ca);
		return -1;
	} else
		SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (cfg->tls_verify_client == 2 ?
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	return 0;
}

/* OpenSSL's pem_password_cb: hand over the password read at load. */
static int
tls_password_cb(char *buf, int size, int rwflag, void *arg)
{
	const char *pw = arg;
	size_t n = strlen(pw);

	(void)rwflag;
	if (n >= (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

/*
 * private_key_password: pass:SECRET, env:VARIABLE or file:PATH (its first
 * line). Returns a malloc'd copy (the caller wipes and frees it), or NULL
 * with the reason in err.
 */
static char *
tls_password(const char *spec, char *err, size_t errlen)
{
	const char *v;
	char *buf, why[512];
	size_t len;

	if (strncmp(spec, "pass:", 5) == 0)
		return strdup(spec + 5);
	if (strncmp(spec, "env:", 4) == 0) {
		if ((v = getenv(spec + 4)) == NULL) {
			snprintf(err, errlen, "private_key_password: "
			    "environment variable %s is not set", spec + 4);
			return NULL;
		}
		return strdup(v);
	}
	/* A password is as secret as the key it opens. */
	if (loadfile_read(spec + 5, TLS_PASSWORD_FILE_MAX, LOADFILE_PRIVATE,
	    &buf, &len, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "private_key_password %s", why);
		return NULL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';	/* its first line */
	v = strdup(buf);
	loadfile_free(buf, len);
	return (char *)(uintptr_t)v;
}

/*
 * The PEM private key at path (mode 600: relayd's check_file_secrecy),
 * opened with pw (NULL: OpenSSL's default prompt) into ctx. what names
 * the key in messages. 0, or -1 with err.
 */
static int
tls_use_key_file(SSL_CTX *ctx, const char *what, const char *path,
    char *pw, char *err, size_t errlen)
{
	EVP_PKEY *pk = NULL;
	BIO *bio;
	char *buf, why[512];
	size_t len;
	int ok;

	if (loadfile_read(path, TLS_KEY_FILE_MAX, LOADFILE_PRIVATE, &buf, &len,
	    why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s %s", what, why);
		return -1;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, pw != NULL ?
		    tls_password_cb : NULL, pw);
	BIO_free(bio);
	loadfile_free(buf, len);
	ok = pk != NULL && SSL_CTX_use_PrivateKey(ctx, pk) == 1;
	EVP_PKEY_free(pk);
	if (!ok) {
		tls_openssl_err(err, errlen, what, path);
		return -1;
	}
	return 0;
}

/* The key (and its password, if any) into ctx. 0 or -1 with err. */
static int
tls_load_key(SSL_CTX *ctx, const struct config *cfg, char *err,
    size_t errlen)
{
	char *pw = NULL;
	int ok;

	if (cfg->tls_key_password != NULL) {
		if ((pw = tls_password(cfg->tls_key_password, err, errlen)) ==
		    NULL) {
			if (err[0] == '\0')
				snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	ok = tls_use_key_file(ctx, "private_key", cfg->tls_private_key, pw,
	    err, errlen) == 0;
	if (pw != NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	if (ok && SSL_CTX_check_private_key(ctx) != 1) {
		tls_openssl_err(err, errlen, "private_key",
		    cfg->tls_private_key);
		return -1;
	}
	return ok ? 0 : -1;
}

SSL_CTX *
tls_server_ctx_new(const struct config *cfg, X509_STORE **sys, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;

	if (cfg->tls_certificate == NULL || cfg->tls_private_key == NULL) {
		snprintf(err, errlen, "tls listener needs [tls] certificate "
		    "and private_key");
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_openssl_err(err, errlen, "SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, cfg->tls_min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	if ((cfg->tls_ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) ||
	    (cfg->tls_ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1)) {
		tls_openssl_err(err, errlen, "ciphers/ciphersuites", "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cfg->tls_verify_client != 0 && tls_client_ca(ctx, cfg, sys, err,
	    errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/*
	 * session_tickets: what a TLS 1.3 full handshake sends (each costs
	 * the server a session encoded and sealed, ~170 k instructions, and
	 * the client one to decode). 0 also stops TLS 1.2's one ticket;
	 * 1.2 clients may still resume by session ID (the server cache).
	 */
	SSL_CTX_set_num_tickets(ctx, (size_t)cfg->tls_session_tickets);
	if (cfg->tls_session_tickets == 0)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	/*
	 * Buffers only while in use (an idle session holds none), and read
	 * ahead: one read() takes whatever the socket has, up to the read
	 * buffer, instead of a record's 5-byte header and then its body (two
	 * syscalls per record). Records read ahead are invisible to the
	 * socket's readiness and to libevent 2.1 (it reads on only while
	 * SSL_pending(), which does not count them): tls_read_pending() is
	 * their kick, after every read and whenever reading is turned on.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate) != 1) {
		tls_openssl_err(err, errlen, "certificate",
		    cfg->tls_certificate);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tls_load_key(ctx, cfg, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

X509_STORE *
tls_system_store(X509_STORE **sys, char *err, size_t errlen)
{
	X509_STORE *st;

	if (*sys != NULL)
		return *sys;
	/* The whole bundle is parsed here (~235 M instructions, ~1 MiB, for
	 * Debian's): once per generation, however many contexts use it. */
	if ((st = X509_STORE_new()) == NULL ||
	    X509_STORE_set_default_paths(st) != 1) {
		X509_STORE_free(st);
		tls_openssl_err(err, errlen, "CA store", "(system)");
		return NULL;
	}
	*sys = st;
	return st;
}

/* What route r's backends are verified against into ctx: backend_ca, or
 * the system store only for a check that uses it. 0, or -1 with err. */
static int
tls_backend_store(SSL_CTX *ctx, const struct config_route *r,
    X509_STORE **sys, char *err, size_t errlen)
{
	X509_STORE *st;

	if (r->backend_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, r->backend_ca, NULL) !=
		    1) {
			tls_openssl_err(err, errlen, "backend_ca",
			    r->backend_ca);
			return -1;
		}
	} else if (r->backend_verify) {
		if ((st = tls_system_store(sys, err, errlen)) == NULL)
			return -1;
		SSL_CTX_set1_cert_store(ctx, st);
	}
	return 0;
}

SSL_CTX *
tls_backend_ctx_new(const struct config_route *r, X509_STORE **sys,
    char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_openssl_err(err, errlen, "SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* backend_verify = off: the opt-out, warned about at load (gen.c). */
	SSL_CTX_set_verify(ctx, r->backend_verify ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	if (tls_backend_store(ctx, r, sys, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (r->backend_certificate != NULL) {
		if (r->backend_private_key == NULL) {
			snprintf(err, errlen, "backend_certificate %s: needs "
			    "backend_private_key", r->backend_certificate);
			SSL_CTX_free(ctx);
			return NULL;
		}
		if (SSL_CTX_use_certificate_chain_file(ctx,
		    r->backend_certificate) != 1) {
			tls_openssl_err(err, errlen, "backend_certificate",
			    r->backend_certificate);
			SSL_CTX_free(ctx);
			return NULL;
		}
		if (tls_use_key_file(ctx, "backend_private_key",
		    r->backend_private_key, NULL, err, errlen) == -1) {
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

int
tls_set_peer_name(SSL *ssl, const char *name)
{
	struct addr_ip ip;

	/* RFC 6066 §3: no SNI for address literals; verify the IP instead. */
	if (addr_ip_parse(name, strlen(name), 0, &ip) == 0)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    name) == 1 ? 0 : -1;
	/* SSL_set_tlsext_host_name() is a macro whose cast drops const;
	 * OpenSSL copies the name, so the uintptr_t round trip is honest. */
	if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
	    TLSEXT_NAMETYPE_host_name, (void *)(uintptr_t)name) != 1 ||
	    SSL_set1_host(ssl, name) != 1)
		return -1;
	return 0;
}

struct bufferevent *
tls_connect_bev(struct event_base *base, SSL_CTX *ctx,
    struct bufferevent *under, const char *name)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	if (tls_set_peer_name(ssl, name) == -1) {
		SSL_free(ssl);
		return NULL;
	}
	/* On failure libevent 2.1.12 has freed ssl (BEV_OPT_CLOSE_ON_FREE)
	 * and left under alone. */
	bev = bufferevent_openssl_filter_new(base, under, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/*
 * tls_flush() hands SSL_write() one TLS record's worth at a time: 2^14
 * bytes of plaintext at most (RFC 8446 §5.1), so every call makes exactly
 * one record. Where the bytes to send lie in several evbuffer chains (a
 * frame header and its payload, say), up to TLS_PULLUP of them are first
 * made contiguous: that copy costs a small fraction of what one more
 * record costs (an AEAD seal, its nonce setup, a write). TLS_PULLUP stays
 * a little under 2^14 so that libevent's chain for it is a 16 KiB
 * allocation, not 32 KiB (it rounds chain sizes up to a power of two).
 */
#define TLS_RECORD_MAX	16384
#define TLS_PULLUP	(TLS_RECORD_MAX - 256)

/*
 * The SSL's app data while a write of ours (tls_send, tls_flush) waits for
 * the socket: libevent retries it (OpenSSL wants the same bytes again, at
 * least as many; they stay at the front of the output, in one chain), and
 * until it has, we leave the output to libevent.
 */
#define TLS_WRITE_WAITS	((void *)(uintptr_t)1)

/*
 * Write-through for a TLS client leg. libevent 2.1's OpenSSL bufferevent
 * answers bytes queued on an empty output by arming EV_WRITE, and writes
 * them only when the loop next polls and finds the socket writable; then
 * it disarms EV_WRITE: an epoll_ctl, a loop turn and another epoll_ctl
 * around every message. Instead the bufferevent's own write event is armed
 * here and run at once (still in this loop turn, after the callback that
 * queued the bytes), which writes them now. Arming and disarming in one
 * turn costs no epoll_ctl on the worker's changelist base
 * (main_base_new); what the socket does not take waits with EV_WRITE
 * armed, as before. The event is armed before it is activated: event_add()
 * skips an event that is already active, so libevent's own callback (run
 * after this one) could not arm it then, and a short write would stall.
 */
static void
tls_outbuf_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct bufferevent *bev = arg;
	SSL *ssl;

	(void)buf;
	if (info->n_deleted > 0 && (ssl = bufferevent_openssl_get_ssl(bev)) !=
	    NULL && SSL_get_app_data(ssl) == TLS_WRITE_WAITS)
		/* libevent wrote: the write that waited is done (only a
		 * successful SSL_write drains the output). */
		SSL_set_app_data(ssl, NULL);
	if (info->n_added == 0 || info->orig_size != 0 ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE))
		return;
	if ((ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    !SSL_is_init_finished(ssl))
		return;		/* the handshake's own events drive writing */
	if (event_add(&bev->ev_write, NULL) == -1)
		return;		/* libevent's callback tries the same */
	event_active(&bev->ev_write, EV_WRITE, 1);
}

/*
 * bev's SSL, if we may write on it ourselves now: a TLS client leg (a
 * socket, not a filter) past its handshake, writing enabled, and no write
 * of ours waiting for libevent to retry it. Otherwise NULL.
 */
static SSL *
tls_writes_now(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || bufferevent_get_underlying(bev) != NULL ||
	    !SSL_is_init_finished(ssl) ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE) ||
	    SSL_get_app_data(ssl) == TLS_WRITE_WAITS)
		return NULL;
	return ssl;
}

/*
 * A write of ours did not complete (the socket is full, or the connection
 * failed): the bytes given to SSL_write() are at the front of the output,
 * in one chain. libevent's write event, armed since the output filled,
 * retries when the socket takes more, and reports a failure through the
 * event callback; it is armed, not run now (the socket just said no).
 */
static int
tls_write_waits(struct bufferevent *bev, SSL *ssl)
{
	SSL_set_app_data(ssl, TLS_WRITE_WAITS);
	event_del(&bev->ev_write);
	return event_add(&bev->ev_write, NULL) == -1 ? -1 : 1;
}

int
tls_send(struct bufferevent *bev, const void *hdr, size_t hl,
    const void *p, struct evbuffer *chain, size_t len)
{
	/* One record's plaintext, per worker thread. */
	static _Thread_local unsigned char rec[TLS_RECORD_MAX];
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t n = hl + len;
	SSL *ssl;

	if (n == 0 || n > sizeof(rec) || evbuffer_get_length(out) != 0 ||
	    (ssl = tls_writes_now(bev)) == NULL)
		return -1;
	if (chain != NULL && evbuffer_get_length(chain) < len)
		return -1;
	memcpy(rec, hdr, hl);
	if (chain != NULL)
		(void)evbuffer_remove(chain, rec + hl, len);
	else if (len > 0)
		memcpy(rec + hl, p, len);
	/* No ERR_clear_error() first (it costs ~800 instructions): we do
	 * not ask SSL_get_error() what a failure was; libevent's retry
	 * clears the queue before its own SSL_write() and asks then. */
	if (SSL_write(ssl, rec, (int)n) > 0)
		return 0;	/* the whole record (no partial writes) */
	/* OpenSSL holds the sealed record and wants these bytes again. */
	if (evbuffer_add(out, rec, n) == -1 || tls_write_waits(bev, ssl) == -1) {
		/* The stream cannot go on without them: end it, and the
		 * event callback reports the connection gone. */
		log_warnx("tls: out of memory: dropping a connection");
		(void)shutdown(bufferevent_getfd(bev), SHUT_RDWR);
	}
	return 0;
}

int
tls_flush(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	struct evbuffer_iovec v;
	SSL *ssl;
	size_t len, n;
	void *p;
	int r;

	if ((ssl = tls_writes_now(bev)) == NULL)
		return 0;	/* libevent writes this one */
	while ((len = evbuffer_get_length(out)) > 0) {
		if (evbuffer_peek(out, -1, NULL, &v, 1) < 1)
			return -1;
		if (v.iov_len >= TLS_RECORD_MAX || v.iov_len == len) {
			n = v.iov_len < TLS_RECORD_MAX ? v.iov_len :
			    TLS_RECORD_MAX;
			p = v.iov_base;
		} else {
			n = len < TLS_PULLUP ? len : TLS_PULLUP;
			if ((p = evbuffer_pullup(out, (ev_ssize_t)n)) == NULL)
				return -1;
		}
		/* No ERR_clear_error(): see tls_send(). */
		if ((r = SSL_write(ssl, p, (int)n)) <= 0)
			return tls_write_waits(bev, ssl);
		evbuffer_drain(out, (size_t)r);
	}
	/* All sent: nothing for libevent's write event to do (its arming and
	 * our activation of it cancel out in this loop turn: no epoll_ctl,
	 * no callback). */
	event_del(&bev->ev_write);
	return 0;
}


struct bufferevent *
tls_accept_bev(struct event_base *base, SSL_CTX *ctx, int fd)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL) {
		close(fd);
		return NULL;
	}
	if (tls_sock_attach(ssl, fd) == -1) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* libevent 2.1.12 has freed ssl (BEV_OPT_CLOSE_ON_FREE: its
		 * bufferevent_openssl_new_impl() error path), not fd. */
		close(fd);
		return NULL;
	}
	/* Peers that drop TCP without close_notify are common, not errors. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	/* Removed with the output buffer, i.e. when bev is freed. */
	if (evbuffer_add_cb(bufferevent_get_output(bev), tls_outbuf_cb,
	    bev) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	/*
	 * libevent arms the write event with the read event for the
	 * handshake, though a server has nothing to write before the
	 * ClientHello: an EPOLLOUT wakeup and an epoll_ctl to drop it again
	 * once OpenSSL wants to read. Disarmed in this loop turn it costs no
	 * epoll_ctl (the changelist); libevent arms it again if OpenSSL ever
	 * wants to write.
	 */
	event_del(&bev->ev_write);
	return bev;
}

void
tls_handshake_done(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || bufferevent_get_underlying(bev) != NULL)
		return;
	/* libevent re-enables writing as the handshake ends, with nothing to
	 * write: disarmed in this loop turn it costs no epoll_ctl, where
	 * libevent's write callback would disarm it a wakeup later. What is
	 * written later arms it again (tls_outbuf_cb, libevent's own). */
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		event_del(&bev->ev_write);
	tls_read_pending(bev);
}

size_t
tls_read_more(struct bufferevent *bev, size_t room)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	size_t got = 0;
	int r;

	if (ssl == NULL || bufferevent_get_underlying(bev) != NULL ||
	    !SSL_is_init_finished(ssl))
		return 0;
	/* Only while OpenSSL holds bytes: a record read ahead, or part of
	 * one whose rest the socket may have (then SSL_read reads it). */
	while (got < room && (SSL_pending(ssl) > 0 || SSL_has_pending(ssl))) {
		if (evbuffer_reserve_space(in, TLS_PULLUP, &v, 1) < 1)
			break;
		/* No ERR_clear_error(): SSL_want_read() and SSL_want_write()
		 * tell a wait from a failure without the error queue. */
		r = SSL_read(ssl, v.iov_base, (int)v.iov_len);
		if (r <= 0) {
			evbuffer_commit_space(in, &v, 0);
			/* EOF or an error: libevent's read meets it again and
			 * reports it through the event callback. */
			if (!SSL_want_read(ssl) && !SSL_want_write(ssl))
				event_active(&bev->ev_read, EV_READ, 1);
			break;
		}
		v.iov_len = (size_t)r;
		evbuffer_commit_space(in, &v, 1);
		got += (size_t)r;
	}
	return got;
}

void
tls_read_pending(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL || bufferevent_get_underlying(bev) != NULL ||
	    !SSL_is_init_finished(ssl) ||
	    !(bufferevent_get_enabled(bev) & EV_READ))
		return;
	/* SSL_pending() counts what is decrypted but not yet read;
	 * SSL_has_pending() also what was read ahead, still sealed. */
	if (SSL_pending(ssl) > 0 || SSL_has_pending(ssl))
		event_active(&bev->ev_read, EV_READ, 1);
}

void
tls_hold_last(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl != NULL && SSL_is_init_finished(ssl) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		tls_sock_hold(ssl);
}

int
tls_shutdown(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL)
		return 0;
	/* The close_notify joins what waits (tls_hold_last), and all of it
	 * goes in one send(); the caller's shutdown() adds the FIN. A call
	 * again (the socket had no room) sends what is left. */
	if (!(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN)) {
		tls_sock_hold(ssl);
		(void)SSL_shutdown(ssl);
	}
	return tls_sock_send_held(ssl);
}

/* Does name (len bytes) appear in list? */
static bool
tls_listed(const char *name, size_t len, char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
			return true;
	return false;
}

bool
tls_client_allowed(struct bufferevent *bev, char *const *cns, size_t ncn,
    char *const *sans, size_t nsan)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	X509 *cert;
	char cn[256];
	int i, len;
	bool ok = false;

	if (ssl == NULL || (cert = SSL_get0_peer_certificate(ssl)) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return false;
	len = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn));
	if (len > 0 && (size_t)len < sizeof(cn) - 1 &&
	    tls_listed(cn, (size_t)len, cns, ncn))
		return true;
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && !ok;
	    i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS || g->type == GEN_EMAIL ||
		    g->type == GEN_URI)
			ok = tls_listed((const char *)ASN1_STRING_get0_data(
			    g->d.ia5), (size_t)ASN1_STRING_length(g->d.ia5),
			    sans, nsan);
	}
	GENERAL_NAMES_free(gens);
	return ok;
}

const char *
tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long e = bufferevent_get_openssl_error(bev);

	buf[0] = '\0';
	if (e != 0)
		ERR_error_string_n(e, buf, len);
	return buf;
}
