/* SPDX-License-Identifier: MIT */
/*
 * users.c -- the users file: parsing, formatting, atomic private writes,
 * the editors' lock, and the server's self-refreshing copy (see users.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sfile.h"
#include "users.h"

#define FILE_HEADER                                                                       \
	"# varve users: SCRAM credentials of `varve serve` (docs/SECURITY.md).\n"         \
	"# Edited by `varve user`; no passwords are stored.\n"                            \
	"# name mechanism iterations salt stored_key server_key\n"

void vs_users_init(vs_users *u) { memset(u, 0, sizeof *u); }

void vs_users_free(vs_users *u)
{
	if (u->v)
		OPENSSL_cleanse(u->v, u->cap * sizeof *u->v);
	free(u->v);
	memset(u, 0, sizeof *u);
}

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* Length of the well-formed UTF-8 sequence of a byte >= 0x80 at p, or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t b = p[0];
	size_t len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((b == 0xe0 && p[1] < 0xa0) || (b == 0xed && p[1] > 0x9f) || (b == 0xf0 && p[1] < 0x90) ||
	    (b == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

int vs_user_name_ok(const char *name, size_t len)
{
	const uint8_t *s = (const uint8_t *)name;
	if (len == 0 || len > VS_USERS_MAX_NAME || s[0] == '#')
		return 0;
	for (size_t i = 0; i < len;) {
		if (s[i] >= 0x80) {
			size_t u = utf8_len(s + i, len - i);
			if (!u)
				return 0;
			i += u;
			continue;
		}
		if (s[i] <= 0x20 || s[i] == 0x7f)
			return 0;
		i++;
	}
	return 1;
}

/* ---- the in-memory list ----------------------------------------------------------- */

static int cred_ok(const vs_scram_cred *c)
{
	return vs_scram_hash_len(c->mech) && c->iterations >= 1 && c->iterations <= INT_MAX &&
	       c->salt_len >= VS_SCRAM_MIN_SALT && c->salt_len <= VS_SCRAM_MAX_SALT;
}

const vs_user_cred *vs_users_find(const vs_users *u, const char *name, size_t len, int mech)
{
	for (size_t i = 0; i < u->n; i++) {
		const vs_user_cred *e = &u->v[i];
		if (e->cred.mech == mech && strlen(e->name) == len && memcmp(e->name, name, len) == 0)
			return e;
	}
	return NULL;
}

int vs_users_put(vs_users *u, const char *name, const vs_scram_cred *cred)
{
	size_t len = strlen(name);
	if (!vs_user_name_ok(name, len) || !cred_ok(cred))
		return -EINVAL;
	vs_user_cred *e = (vs_user_cred *)vs_users_find(u, name, len, cred->mech);
	if (!e) {
		if (u->n == u->cap) {
			size_t ncap = u->cap ? u->cap * 2 : 8;
			vs_user_cred *nv = calloc(ncap, sizeof *nv);
			if (!nv)
				return -ENOMEM;
			if (u->n)
				memcpy(nv, u->v, u->n * sizeof *nv);
			if (u->v)
				OPENSSL_cleanse(u->v, u->cap * sizeof *u->v);
			free(u->v);
			u->v = nv;
			u->cap = ncap;
		}
		e = &u->v[u->n++];
		memcpy(e->name, name, len + 1);
	}
	e->cred = *cred;
	return 0;
}

size_t vs_users_remove(vs_users *u, const char *name, int mech)
{
	size_t removed = 0, o = 0;
	for (size_t i = 0; i < u->n; i++) {
		vs_user_cred *e = &u->v[i];
		if (strcmp(e->name, name) == 0 && (mech == 0 || e->cred.mech == mech)) {
			removed++;
			continue;
		}
		if (o != i)
			u->v[o] = *e;
		o++;
	}
	if (o < u->n)
		OPENSSL_cleanse(u->v + o, (u->n - o) * sizeof *u->v);
	u->n = o;
	return removed;
}

/* ---- text ------------------------------------------------------------------------ */

/* The next field of a line (separated by spaces or tabs). */
static int next_field(const char **p, const char *end, const char **f, size_t *n)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	if (*p == end)
		return -1;
	*f = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*n = (size_t)(*p - *f);
	return 0;
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* One credential line into *e; the reason on failure. */
static const char *parse_line(const char *p, const char *end, vs_user_cred *e)
{
	const char *f[6];
	size_t n[6];
	for (int i = 0; i < 6; i++)
		if (next_field(&p, end, &f[i], &n[i]))
			return "expected: name mechanism iterations salt stored_key server_key";
	const char *extra;
	size_t extra_n;
	if (next_field(&p, end, &extra, &extra_n) == 0)
		return "more than six fields";
	if (!vs_user_name_ok(f[0], n[0]))
		return "not a valid user name";
	memcpy(e->name, f[0], n[0]);
	e->name[n[0]] = 0;
	vs_scram_cred *c = &e->cred;
	c->mech = vs_scram_mech_by_name(f[1], n[1]);
	if (!c->mech)
		return "unknown mechanism (SCRAM-SHA-256 or SCRAM-SHA-512)";
	if (parse_u32(f[2], n[2], &c->iterations) || c->iterations < 1)
		return "bad iteration count";
	size_t hl = vs_scram_hash_len(c->mech), kl;
	if (vs_b64_decode(f[3], n[3], c->salt, sizeof c->salt, &c->salt_len) ||
	    c->salt_len < VS_SCRAM_MIN_SALT)
		return "bad salt (base64 of 8 to 64 bytes)";
	if (vs_b64_decode(f[4], n[4], c->stored_key, sizeof c->stored_key, &kl) || kl != hl)
		return "bad stored key (base64 of the mechanism's hash length)";
	if (vs_b64_decode(f[5], n[5], c->server_key, sizeof c->server_key, &kl) || kl != hl)
		return "bad server key (base64 of the mechanism's hash length)";
	return NULL;
}

int vs_users_parse(const char *text, size_t len, vs_users *u, char *err, size_t err_cap)
{
	vs_users_free(u);
	const char *p = text, *end = text + len;
	if (len && memchr(text, 0, len)) {
		set_err(err, err_cap, "a NUL byte in the file");
		return -EINVAL;
	}
	for (unsigned line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *q = p;
		while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		const char *stop = le > q && le[-1] == '\r' ? le - 1 : le;
		if (q < le && *q != '#') {
			vs_user_cred e;
			memset(&e, 0, sizeof e);
			const char *why = parse_line(q, stop, &e);
			if (!why && vs_users_find(u, e.name, strlen(e.name), e.cred.mech))
				why = "a second credential for the same user and mechanism";
			if (why) {
				OPENSSL_cleanse(&e, sizeof e);
				vs_users_free(u);
				set_err(err, err_cap, "line %u: %s", line, why);
				return -EINVAL;
			}
			int rc = vs_users_put(u, e.name, &e.cred);
			OPENSSL_cleanse(&e, sizeof e);
			if (rc) {
				vs_users_free(u);
				set_err(err, err_cap, "line %u: %s", line,
					rc == -ENOMEM ? "out of memory" : "bad credential");
				return rc;
			}
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int vs_users_format(const vs_users *u, char **text, size_t *len)
{
	/* a line: name, mechanism, 10 digits, three base64 fields, spaces */
	size_t per = VS_USERS_MAX_NAME + 16 + 12 + 3 * (VS_B64_LEN(VS_SCRAM_MAX_SALT) + 2) + 8;
	size_t cap = sizeof FILE_HEADER + u->n * per;
	char *out = malloc(cap);
	if (!out)
		return -ENOMEM;
	size_t o = (size_t)snprintf(out, cap, "%s", FILE_HEADER);
	for (size_t i = 0; i < u->n; i++) {
		const vs_user_cred *e = &u->v[i];
		size_t hl = vs_scram_hash_len(e->cred.mech);
		char salt[VS_B64_LEN(VS_SCRAM_MAX_SALT) + 1];
		char sk[VS_B64_LEN(VS_SCRAM_MAX_HASH) + 1], svk[VS_B64_LEN(VS_SCRAM_MAX_HASH) + 1];
		vs_b64_encode(e->cred.salt, e->cred.salt_len, salt, sizeof salt);
		vs_b64_encode(e->cred.stored_key, hl, sk, sizeof sk);
		vs_b64_encode(e->cred.server_key, hl, svk, sizeof svk);
		o += (size_t)snprintf(out + o, cap - o, "%s %s %u %s %s %s\n", e->name,
				      vs_scram_mech_name(e->cred.mech), (unsigned)e->cred.iterations,
				      salt, sk, svk);
	}
	*text = out;
	*len = o;
	return 0;
}

/* ---- files ---------------------------------------------------------------------------- */

/* Read an open users file into u. */
static int load_fd(int fd, const char *path, vs_users *u, char *err, size_t err_cap)
{
	char *text = NULL;
	size_t len = 0;
	int rc = vs_sfile_read(fd, VS_USERS_MAX_FILE, &text, &len);
	if (rc) {
		set_err(err, err_cap, "%s: %s", path, strerror(-rc));
		return rc;
	}
	char why[200];
	rc = vs_users_parse(text, len, u, why, sizeof why);
	OPENSSL_cleanse(text, len);
	free(text);
	if (rc)
		set_err(err, err_cap, "%s: %s", path, why);
	return rc;
}

int vs_users_load(const char *path, vs_users *u, char *err, size_t err_cap)
{
	vs_users_free(u);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		set_err(err, err_cap, "%s: %s", path, strerror(e));
		return -e;
	}
	int rc = load_fd(fd, path, u, err, err_cap);
	close(fd);
	return rc;
}

int vs_users_save(const char *path, const vs_users *u, char *err, size_t err_cap)
{
	char *text;
	size_t len;
	if (vs_users_format(u, &text, &len)) {
		set_err(err, err_cap, "%s: out of memory", path);
		return -ENOMEM;
	}
	int rc = vs_sfile_write(path, text, len);
	OPENSSL_cleanse(text, len);
	free(text);
	if (rc)
		set_err(err, err_cap, "%s: %s", path, strerror(-rc));
	return rc;
}

int vs_users_lock(const char *path, char *err, size_t err_cap)
{
	char lock[PATH_MAX];
	int fd = vs_sfile_lock(path, lock, sizeof lock);
	if (fd < 0)
		set_err(err, err_cap, "%s: %s", fd == -ENAMETOOLONG ? path : lock, strerror(-fd));
	return fd;
}

void vs_users_unlock(int fd)
{
	vs_sfile_unlock(fd);
}

/* ---- the server's copy ---------------------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int vs_users_file_open(vs_users_file *f, const char *path)
{
	memset(f, 0, sizeof *f);
	vs_users_init(&f->users);
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	int rc = vs_users_file_refresh(f);
	return rc < 0 ? -EINVAL : 0;
}

int vs_users_file_refresh(vs_users_file *f)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			f->failures++;
			set_err(f->error, sizeof f->error, "%s: %s", f->path, strerror(errno));
			return -1;
		}
		/* no file: no users */
		int changed = f->seen || !f->loads;
		f->seen = 0;
		if (changed) {
			vs_users_free(&f->users);
			f->loads++;
		}
		return changed;
	}
	/* the stat and the read are of the same open file, so a rename in
	 * between cannot pair one file's identity with another's content */
	if (fstat(fd, &st)) {
		close(fd);
		f->failures++;
		set_err(f->error, sizeof f->error, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	if (f->seen && st.st_dev == f->dev && st.st_ino == f->ino && st.st_size == f->size &&
	    mtime_ns(&st) == f->mtime_ns) {
		close(fd);
		return 0;
	}
	vs_users fresh;
	vs_users_init(&fresh);
	int rc = load_fd(fd, f->path, &fresh, f->error, sizeof f->error);
	close(fd);
	if (rc) {
		f->failures++;
		return -1;
	}
	vs_users_free(&f->users);
	f->users = fresh;
	f->seen = 1;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime_ns = mtime_ns(&st);
	f->loads++;
	return 1;
}

void vs_users_file_close(vs_users_file *f)
{
	vs_users_free(&f->users);
	free(f->path);
	memset(f, 0, sizeof *f);
}
