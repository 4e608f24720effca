/*
 * config_addr: listen and backend addresses as gateway.conf writes them:
 * HOST:PORT, [V6]:PORT, PORT, *:PORT, tcp:, tls:, unix:PATH, fd:N and
 * exec:PROGRAM ARG..., with the listen options after them (tls, auto,
 * proxy_protocol, mode=).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "config_int.h"
#include "exec_env.h"

void
config_addr_clear(struct config_addr *a)
{
	if (a == NULL)
		return;
	free(a->host);
	free(a->path);
	free(a->spec);
	free(a->argv);
	memset(a, 0, sizeof(*a));
}

int
config_addr_copy(struct config_addr *dst, const struct config_addr *src)
{
	char	err[64];

	*dst = *src;
	dst->host = dst->path = dst->spec = NULL;
	dst->argv = NULL;
	if ((src->host && (dst->host = strdup(src->host)) == NULL) ||
	    (src->path && (dst->path = strdup(src->path)) == NULL) ||
	    (src->spec && (dst->spec = strdup(src->spec)) == NULL) ||
	    (src->argv && (dst->argv = exec_argv_parse(src->path, err,
	    sizeof(err))) == NULL)) {
		config_addr_clear(dst);
		return -1;
	}
	return 0;
}

/*
 * "HOST:PORT", "[V6]:PORT" (a "%zone" allowed), and for listen
 * (host_optional) also "PORT" and "*:PORT" (host NULL: every interface).
 * An address literal is kept parsed in a->sa (a->salen > 0), so nobody
 * parses it again per connection. Returns 0, -1 with why set to a
 * reason, -2 out of memory.
 */
static int
config_hostport(const char *s, int host_optional, struct config_addr *a,
    const char **why)
{
	struct addr_hostport	hp;

	switch (addr_hostport_parse(s, strlen(s), ADDR_HP_ZONE |
	    (host_optional ? ADDR_HP_HOST_OPTIONAL : 0), &hp)) {
	case ADDR_OK:
		break;
	case ADDR_E_BRACKET:
		return *why = "missing ']'", -1;
	case ADDR_E_NOPORT:
	case ADDR_E_PORT_EMPTY:
		return *why = "missing port", -1;
	case ADDR_E_PORT:
		return *why = "port must be 1..65535", -1;
	case ADDR_E_V6_BARE:
		return *why = "IPv6 addresses need brackets: [V6]:PORT", -1;
	case ADDR_E_V6:
		return *why = "bad IPv6 address", -1;
	case ADDR_E_HOST:
	default:
		return *why = "bad host name", -1;
	}
	a->port = hp.port;
	if (hp.host == NULL)
		return 0;
	if (hp.literal)
		a->salen = addr_ip_to_sockaddr(&hp.ip, hp.port, &a->sa);
	if ((a->host = strndup(hp.host, hp.hostlen)) == NULL)
		return -2;
	return 0;
}

/* "0660": octal permission bits of a unix listen socket, not 0. */
static int
config_mode(const char *s, size_t n, unsigned *mode)
{
	unsigned	v = 0;
	size_t		i;

	if (n == 0 || n > 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 0777)
		return -1;
	*mode = v;
	return 0;
}

/*
 * "exec:PROGRAM ARG...": split like a command line without a shell; the
 * program must be an executable file now (checked again at each spawn).
 * 0, -1 (bad, message in err) or -2 (out of memory).
 */
static int
config_exec_parse(const char *s, struct config_addr *a, char *err,
    size_t errlen)
{
	struct stat	st;
	char		why[256];

	a->kind = CONFIG_ADDR_EXEC;
	if ((a->path = strdup(s + 5)) == NULL || (a->spec = strdup(s)) == NULL)
		goto oom;
	if ((a->argv = exec_argv_parse(a->path, why, sizeof(why))) == NULL) {
		if (strcmp(why, "out of memory") == 0)
			goto oom;
		goto bad;
	}
	if (stat(a->argv[0], &st) == -1)
		snprintf(why, sizeof(why), "'%s': %s", a->argv[0],
		    strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(a->argv[0], X_OK) == -1)
		snprintf(why, sizeof(why), "'%s' is not an executable file",
		    a->argv[0]);
	else
		return 0;
 bad:
	snprintf(err, errlen, "%s: %s", s, why);
	config_addr_clear(a);
	return -1;
 oom:
	snprintf(err, errlen, "out of memory");
	config_addr_clear(a);
	return -2;
}

/*
 * The options after a listen address, s + n on ("tls", "auto",
 * "proxy_protocol", "mode="), into a. 0, or -1 with err (s as written).
 */
static int
config_addr_options(const char *s, size_t n, int want_listen,
    struct config_addr *a, char *err, size_t errlen)
{
	const char	*p, *opt;
	size_t		 olen;

	for (p = s + n; *p != '\0'; p = opt + olen) {
		for (opt = p; config_isspace(*opt); opt++)
			;
		for (olen = 0; opt[olen] != '\0' && !config_isspace(opt[olen]);
		    olen++)
			;
		if (olen == 0)
			break;
		if (want_listen && olen == 3 && memcmp(opt, "tls", 3) == 0)
			a->tls = true;
		else if (want_listen && olen == 4 && memcmp(opt, "auto", 4) == 0)
			a->tls_auto = true;
		else if (want_listen && olen == 14 &&
		    memcmp(opt, "proxy_protocol", 14) == 0)
			a->proxy_protocol = true;
		else if (want_listen && olen > 5 && memcmp(opt, "mode=", 5) == 0) {
			if (config_mode(opt + 5, olen - 5, &a->mode) == -1)
				return snprintf(err, errlen, "bad address '%s': "
				    "mode must be octal 0001..0777, as in "
				    "mode=0660", s), -1;
		} else
			return snprintf(err, errlen, "bad address '%s': unknown "
			    "option '%.*s'%s", s, (int)olen, opt,
			    want_listen ? " (known: tls, auto, proxy_protocol, "
			    "mode=)" : ""), -1;
		if (a->tls_auto && !a->tls)
			return snprintf(err, errlen, "bad address '%s': auto "
			    "goes after tls (\"tls auto\": TLS and plain "
			    "clients on one port)", s), -1;
		if (a->tls && a->proxy_protocol)
			return snprintf(err, errlen, "bad address '%s': tls and "
			    "proxy_protocol on one listener are not supported "
			    "yet", s), -1;
	}
	return 0;
}

/*
 * The address proper, addr (without options), by its kind into a.
 * Returns 0, -1 with *why set, or -2 out of memory.
 */
static int
config_addr_kind(const char *addr, int want_listen, struct config_addr *a,
    const char **why)
{
	if (strncmp(addr, "unix:", 5) == 0) {
		a->kind = CONFIG_ADDR_UNIX;
		if (addr[5] == '\0')
			return *why = "empty unix socket path", -1;
		if (!addr_unix_path_fits(strlen(addr + 5)))
			return *why = "unix socket path too long", -1;
		return (a->path = strdup(addr + 5)) == NULL ? -2 : 0;
	}
	if (want_listen && strncmp(addr, "fd:", 3) == 0) {
		/* A socket handed over already listening (inetd "wait", a
		 * supervisor): websockify's --inetd is fd:0. */
		a->kind = CONFIG_ADDR_FD;
		if (strspn(addr + 3, "0123456789") != strlen(addr + 3) ||
		    addr[3] == '\0' || strlen(addr + 3) > 4)
			return *why = "fd: takes a descriptor number, as in "
			    "fd:0", -1;
		a->fd = atoi(addr + 3);
		return 0;
	}
	if (strncmp(addr, "tcp:", 4) == 0)
		return config_hostport(addr + 4, 0, a, why);
	if (!want_listen && strncmp(addr, "tls:", 4) == 0) {
		a->tls = true;	/* a TCP backend spoken to over TLS */
		return config_hostport(addr + 4, 0, a, why);
	}
	if (want_listen && addr[0] != '\0')
		return config_hostport(addr, 1, a, why);
	*why = want_listen ?
	    "use HOST:PORT, [V6]:PORT, PORT, unix:/path or fd:N" :
	    "use tcp:HOST:PORT, tcp:[V6]:PORT, tls:HOST:PORT, unix:/path or "
	    "exec:/PROGRAM ARG...";
	return -1;
}

/* config_parse_addr, telling allocation failure (-2) from bad input. */
int
config_addr_parse(const char *s, int want_listen, struct config_addr *a,
    char *err, size_t errlen)
{
	const char	*why = NULL;
	char		*addr = NULL;
	size_t		 n;
	int		 r;

	memset(a, 0, sizeof(*a));
	if (!want_listen && strncmp(s, "exec:", 5) == 0)
		return config_exec_parse(s, a, err, errlen);
	for (n = 0; s[n] != '\0' && !config_isspace(s[n]); n++)
		;
	if ((addr = strndup(s, n)) == NULL)
		goto oom;
	if (config_addr_options(s, n, want_listen, a, err, errlen) == -1)
		goto fail;
	if (a->mode != 0 && strncmp(addr, "unix:", 5) != 0) {
		snprintf(err, errlen, "bad address '%s': mode= is for unix: "
		    "sockets", s);
		goto fail;
	}
	if ((r = config_addr_kind(addr, want_listen, a, &why)) == -2)
		goto oom;
	if (r == -1) {
		snprintf(err, errlen, "bad address '%s' (%s)", s, why);
		goto fail;
	}
	a->spec = addr;
	return 0;
 oom:
	snprintf(err, errlen, "out of memory");
	free(addr);
	config_addr_clear(a);
	return -2;
 fail:
	free(addr);
	config_addr_clear(a);
	return -1;
}

int
config_parse_addr(const char *s, bool want_listen, struct config_addr *a,
    char *err, size_t errlen)
{
	return config_addr_parse(s, want_listen, a, err, errlen) == 0 ? 0 : -1;
}

/* Parse an address for key k at the current line; -1 after reporting. */
int
config_addr_key(struct config_ctx *c, const struct config_key *k,
    const char *value, int want_listen, struct config_addr *a)
{
	char	why[CONFIG_MSG_MAX];
	int	r;

	r = config_addr_parse(value, want_listen, a, why, sizeof(why));
	if (r == -2)
		c->oom = 1;
	else if (r == -1)
		config_errorx(c, "%s: %s", k->name, why);
	a->line = c->lineno;
	return r == 0 ? 0 : -1;
}

int
config_addrv_add(struct config_ctx *c, struct config_addr **v, size_t *nv,
    struct config_addr *a)
{
	struct config_addr	*nvec;

	if ((nvec = realloc(*v, (*nv + 1) * sizeof(**v))) == NULL) {
		config_addr_clear(a);
		c->oom = 1;
		return -1;
	}
	nvec[(*nv)++] = *a;
	*v = nvec;
	return 0;
}
