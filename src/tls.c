/*
 * tls: see include/tls.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tls.h"

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

SSL_CTX *
tls_server_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
	struct stat st;
	SSL_CTX *ctx;

	if (cfg->tls_certificate == NULL || cfg->tls_private_key == NULL) {
		snprintf(err, errlen, "tls listener needs [tls] certificate "
		    "and private_key");
		return NULL;
	}
	if (stat(cfg->tls_private_key, &st) == -1) {
		snprintf(err, errlen, "private_key %s: %s",
		    cfg->tls_private_key, strerror(errno));
		return NULL;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "private_key %s: readable by group or "
		    "others (mode %03o); chmod 600 it", cfg->tls_private_key,
		    (unsigned)(st.st_mode & 0777));
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_openssl_err(err, errlen, "SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate) != 1) {
		tls_openssl_err(err, errlen, "certificate",
		    cfg->tls_certificate);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_private_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		tls_openssl_err(err, errlen, "private_key",
		    cfg->tls_private_key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
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
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* libevent 2.1 frees neither on failure. */
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	/* Peers that drop TCP without close_notify are common, not errors. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void
tls_shutdown(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl != NULL)
		SSL_shutdown(ssl);
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
