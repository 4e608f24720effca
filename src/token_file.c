/*
 * token_file: websockify "token: host:port" files -> a sorted table of
 * SHA-256(token) -> target. The format is documented in token_file.h.
 *
 * Entries are gathered from every file first, then sorted by digest; a
 * repeated token shows up as two equal neighbours and is reported at
 * the later of its two places. Tokens themselves are not kept.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "addr.h"
#include "loadfile.h"
#include "token_file.h"

#define TOKEN_FILE_MAX_LINE	4096
#define TOKEN_FILE_MAX_SIZE	(64 * 1024 * 1024)
#define TOKEN_FILE_MAX_FILES	10000

struct token_file_entry {
	unsigned char	 digest[SHA256_DIGEST_LENGTH];
	size_t		 seq;		/* order read, for "first at" */
	struct token_target t;
};

struct token_map {
	struct token_file_entry *v;	/* sorted by digest once built */
	size_t		 n, cap;
	char		**sources;	/* file names the targets point at */
	size_t		 nsources;
	bool		 loaded;	/* from token_file_load */
	uint64_t	 stamp;		/* token_file_stamp of the files */
};

void
token_file_free(struct token_map *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->v[i].t.host);
		free(m->v[i].t.path);
	}
	for (i = 0; i < m->nsources; i++)
		free(m->sources[i]);
	free(m->sources);
	free(m->v);
	free(m);
}

size_t
token_file_count(const struct token_map *m)
{
	return m->n;
}

static bool
token_file_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trim blanks at both ends of s[0..*len). */
static const char *
token_file_trim(const char *s, size_t *len)
{
	while (*len > 0 && token_file_blank(*s))
		s++, (*len)--;
	while (*len > 0 && token_file_blank(s[*len - 1]))
		(*len)--;
	return s;
}

int
token_file_parse_target(const char *s, size_t len, struct token_target *t,
    const char **why)
{
	struct addr_hostport hp;
	const char	*p = NULL;
	size_t		 i;

	if (len >= 12 && memcmp(s, "unix_socket:", 12) == 0)
		p = s + 12;
	else if (len >= 5 && memcmp(s, "unix:", 5) == 0)
		p = s + 5;
	if (p != NULL) {
		len -= (size_t)(p - s);
		if (len == 0 || p[0] != '/')
			return *why = "unix socket path must be absolute", -1;
		if (!addr_unix_path_fits(len))
			return *why = "unix socket path too long", -1;
		for (i = 0; i < len; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return *why = "control character in path", -1;
		t->kind = TOKEN_FILE_UNIX;
		return (t->path = strndup(p, len)) == NULL ?
		    (*why = "out of memory", -1) : 0;
	}
	/* websockify's form: the last ':' splits, so a bare IPv6 host
	 * ("::1:5900") is read too; no zone. */
	switch (addr_hostport_parse(s, len, ADDR_HP_BARE_V6, &hp)) {
	case ADDR_OK:
		break;
	case ADDR_E_BRACKET:
	case ADDR_E_V6:
		return *why = "bad IPv6 address in brackets", -1;
	case ADDR_E_NOPORT:
		return *why = len > 0 && s[0] == '[' ? "expected [v6]:port" :
		    "target must be host:port or unix_socket:/path", -1;
	case ADDR_E_PORT_EMPTY:
	case ADDR_E_PORT:
		return *why = "port must be 1..65535", -1;
	default:
		return *why = "bad host name or address", -1;
	}
	t->kind = TOKEN_FILE_TCP;
	t->port = hp.port;
	t->literal = hp.literal;
	t->ip = hp.ip;
	return (t->host = strndup(hp.host, hp.hostlen)) == NULL ?
	    (*why = "out of memory", -1) : 0;
}

/* Add "token: target" s[0..len) (trimmed, not a comment) to m. */
static int
token_file_line(struct token_map *m, const char *s, size_t len,
    const char *source, unsigned line, const char **why)
{
	struct token_file_entry	*e;
	const char		*sep, *target, *p, *end = s + len;
	size_t			 tlen, i;

	/* websockify splits at ": "; ":\t" too, else the first colon. */
	for (sep = NULL, p = s; p < s + len &&
	    (p = memchr(p, ':', (size_t)(s + len - p))) != NULL; p++)
		if (p + 1 < s + len && (p[1] == ' ' || p[1] == '\t')) {
			sep = p;
			break;
		}
	if (sep == NULL && (sep = memchr(s, ':', len)) == NULL)
		return *why = "expected \"token: host:port\"", -1;
	tlen = (size_t)(sep - s);
	s = token_file_trim(s, &tlen);
	if (tlen == 0)
		return *why = "empty token", -1;
	if (tlen > TOKEN_FILE_MAX_TOKEN)
		return *why = "token longer than 256 bytes", -1;
	for (i = 0; i < tlen; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return *why = "blank or control character in token",
			    -1;
	len = (size_t)(end - sep - 1);
	target = token_file_trim(sep + 1, &len);
	if (m->n == m->cap) {
		size_t	 cap = m->cap ? m->cap * 2 : 16;

		if ((e = reallocarray(m->v, cap, sizeof(*e))) == NULL)
			return *why = "out of memory", -1;
		m->v = e;
		m->cap = cap;
	}
	e = &m->v[m->n];
	memset(e, 0, sizeof(*e));
	if (token_file_parse_target(target, len, &e->t, why) == -1)
		return -1;
	SHA256((const unsigned char *)s, tlen, e->digest);
	e->seq = m->n;
	e->t.source = source;
	e->t.line = line;
	m->n++;
	return 0;
}

/* Parse one file's text into m; the source name is kept by m. */
static int
token_file_add_text(struct token_map *m, const char *text, size_t len,
    const char *name, char *err, size_t errlen)
{
	const char	*s = text, *end = text + len, *nl, *why = NULL;
	char		*src, **v;
	size_t		 llen;
	unsigned	 line = 0;

	if ((v = reallocarray(m->sources, m->nsources + 1, sizeof(*v))) ==
	    NULL || (m->sources = v, src = strdup(name)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	m->sources[m->nsources++] = src;
	for (; s < end; s = nl + 1) {
		line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		llen = (size_t)(nl - s);
		if (llen > TOKEN_FILE_MAX_LINE)
			why = "line longer than 4096 bytes";
		else if (memchr(s, '\0', llen) != NULL)
			why = "NUL byte";
		if (why == NULL) {
			s = token_file_trim(s, &llen);
			if (llen == 0 || s[0] == '#')
				continue;
			if (token_file_line(m, s, llen, src, line, &why) == 0)
				continue;
		}
		snprintf(err, errlen, "%s:%u: %s", name, line, why);
		return -1;
	}
	return 0;
}

static int
token_file_cmp(const void *a, const void *b)
{
	const struct token_file_entry *x = a, *y = b;
	int	 c = memcmp(x->digest, y->digest, sizeof(x->digest));

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort and refuse repeated tokens. */
static int
token_file_finish(struct token_map *m, char *err, size_t errlen)
{
	const struct token_target *a, *b;
	size_t	 i;

	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), token_file_cmp);
	for (i = 1; i < m->n; i++) {
		if (memcmp(m->v[i - 1].digest, m->v[i].digest,
		    sizeof(m->v[i].digest)) != 0)
			continue;
		a = &m->v[i - 1].t;	/* read first: seq breaks ties */
		b = &m->v[i].t;
		snprintf(err, errlen, "%s:%u: duplicate token (first at "
		    "%s:%u)", b->source, b->line, a->source, a->line);
		return -1;
	}
	return 0;
}

int
token_file_parse_string(const char *text, size_t len, const char *name,
    struct token_map **out, char *err, size_t errlen)
{
	struct token_map *m;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	if (token_file_add_text(m, text, len, name, err, errlen) == -1 ||
	    token_file_finish(m, err, errlen) == -1) {
		token_file_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

const struct token_target *
token_file_lookup(const struct token_map *m, const char *token, size_t len)
{
	unsigned char	 d[SHA256_DIGEST_LENGTH];
	size_t		 lo = 0, hi = m->n, mid;
	int		 c;

	if (len == 0 || len > TOKEN_FILE_MAX_TOKEN)
		return NULL;
	SHA256((const unsigned char *)token, len, d);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = memcmp(d, m->v[mid].digest, sizeof(d))) == 0)
			return &m->v[mid].t;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- files --------------------------------------------------------- */

/* Directory entries that are loaded (see token_file.h). */
static bool
token_file_wanted(const char *name)
{
	size_t	 n = strlen(name);

	return n > 0 && name[0] != '.' && name[n - 1] != '~';
}

static int
token_file_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names path/x of the files a directory load reads. */
static int
token_file_list(const char *dir, char ***names, size_t *n, char *err,
    size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		**v = NULL, **nv, *p;

	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!token_file_wanted(de->d_name))
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) == -1)
			goto oom;
		if (stat(p, &st) == -1 || !S_ISREG(st.st_mode)) {
			free(p);	/* sockets, subdirectories, dangling */
			continue;
		}
		if (*n == TOKEN_FILE_MAX_FILES) {
			free(p);
			snprintf(err, errlen, "%s: more than %d files", dir,
			    TOKEN_FILE_MAX_FILES);
			goto fail;
		}
		if ((nv = reallocarray(v, *n + 1, sizeof(*v))) == NULL) {
			free(p);
			goto oom;
		}
		v = nv;
		v[(*n)++] = p;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), token_file_strcmp);
	*names = v;
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory", dir);
fail:
	closedir(d);
	while (*n > 0)
		free(v[--*n]);
	free(v);
	return -1;
}

static void
token_file_names_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

static uint64_t
token_file_mix(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len-- > 0)
		h = (h ^ *b++) * 0x100000001b3ULL;	/* FNV-1a */
	return h;
}

static uint64_t
token_file_mix_stat(uint64_t h, const char *name, const struct stat *st)
{
	h = token_file_mix(h, name, strlen(name) + 1);
	h = token_file_mix(h, &st->st_dev, sizeof(st->st_dev));
	h = token_file_mix(h, &st->st_ino, sizeof(st->st_ino));
	h = token_file_mix(h, &st->st_size, sizeof(st->st_size));
	h = token_file_mix(h, &st->st_mtim.tv_sec, sizeof(st->st_mtim.tv_sec));
	return token_file_mix(h, &st->st_mtim.tv_nsec,
	    sizeof(st->st_mtim.tv_nsec));
}

/*
 * What path looks like now: the files to read (*names, *n; one for a
 * plain file) and a stamp over their stat data and the directory's.
 */
static int
token_file_scan(const char *path, char ***names, size_t *n, uint64_t *stamp,
    char *err, size_t errlen)
{
	struct stat	 st;
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	h = token_file_mix_stat(h, path, &st);
	if (S_ISDIR(st.st_mode)) {
		if (token_file_list(path, names, n, err, errlen) == -1)
			return -1;
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a file or directory", path);
		return -1;
	} else if ((*names = calloc(1, sizeof(**names))) == NULL ||
	    ((*names)[0] = strdup(path)) == NULL) {
		free(*names);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	} else {
		*n = 1;
		*stamp = h;
		return 0;
	}
	for (i = 0; i < *n; i++)
		if (stat((*names)[i], &st) == 0)
			h = token_file_mix_stat(h, (*names)[i], &st);
	*stamp = h;
	return 0;
}


int
token_file_load(const char *path, struct token_map **out, char *err,
    size_t errlen)
{
	struct token_map *m;
	char		**names = NULL, *buf;
	size_t		 n = 0, i, len;
	int		 rc = -1;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	/* Stamp before reading: a change during the read shows next time. */
	if (token_file_scan(path, &names, &n, &m->stamp, err, errlen) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if ((rc = loadfile_read(names[i], TOKEN_FILE_MAX_SIZE, 0, &buf,
		    &len, err, errlen)) == -1)
			goto out;
		rc = token_file_add_text(m, buf, len, names[i], err, errlen);
		loadfile_free(buf, len);
		if (rc == -1)
			goto out;
	}
	rc = token_file_finish(m, err, errlen);
out:
	token_file_names_free(names, n);
	if (rc == -1) {
		token_file_free(m);
		return -1;
	}
	m->loaded = true;
	*out = m;
	return 0;
}

bool
token_file_changed(const struct token_map *m, const char *path)
{
	char		**names, err[256];
	size_t		 n = 0;
	uint64_t	 stamp;

	if (!m->loaded ||
	    token_file_scan(path, &names, &n, &stamp, err, sizeof(err)) == -1)
		return true;
	token_file_names_free(names, n);
	return stamp != m->stamp;
}
