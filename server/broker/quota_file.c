/* SPDX-License-Identifier: MIT */
/*
 * quota_file.c -- quota entries (quota.h): the sorted list, the text of
 * <store>/quotas, and reading and writing that file. Shared by the broker
 * (quota.c) and `varve quota` (tools/cli_quota.c).
 *
 * The file: UTF-8 text, one entity per line, '#' starts a comment line,
 * blank lines are ignored:
 *
 *   user alice produce_bytes_per_sec=1048576 requests_per_sec=200
 *   client-id billing%20batch fetch_bytes_per_sec=4194304
 *
 * The first word is the entity (user or client-id), the second its name
 * with every byte outside [A-Za-z0-9._~:@+-] written %XX, then one or more
 * KIND=RATE words (quota.h's kind names; RATE an integer 1..2^50). An
 * entity appears at most once. Anything else is refused with its line
 * number: a half-understood file must not silently drop a limit.
 *
 * Invariant: a vs_quota_list is sorted by (entity, name bytes) and holds
 * no duplicate and no entry without a rate. Calls libc only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quota.h"
#include "security/sfile.h"

/* The file is small text; anything larger is not one of ours. */
#define QUOTA_FILE_MAX ((size_t)64 << 20)

static const char *const kind_names[VS_QUOTA_KINDS] = { "produce_bytes_per_sec",
							 "fetch_bytes_per_sec", "requests_per_sec" };

const char *vs_quota_kind_name(int kind)
{
	return kind >= 0 && kind < VS_QUOTA_KINDS ? kind_names[kind] : "unknown";
}

/* ---- the sorted list ------------------------------------------------------------- */

static int entry_cmp(int entity, const void *name, size_t len, const vs_quota_entry *e)
{
	if (entity != e->entity)
		return entity < e->entity ? -1 : 1;
	size_t n = len < e->name_len ? len : e->name_len;
	int c = n ? memcmp(name, e->name, n) : 0;
	if (c)
		return c;
	return len < e->name_len ? -1 : len > e->name_len ? 1 : 0;
}

/* The index of (entity, name), or where it would go (*found = 0). */
static size_t list_search(const vs_quota_list *l, int entity, const void *name, size_t len,
			  int *found)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = entry_cmp(entity, name, len, &l->v[mid]);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = 0;
	return lo;
}

void vs_quota_list_free(vs_quota_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

const vs_quota_entry *vs_quota_list_find(const vs_quota_list *l, int entity, const void *name,
					 size_t len)
{
	if (len > VS_QUOTA_MAX_NAME)
		len = VS_QUOTA_MAX_NAME;
	int found;
	size_t i = list_search(l, entity, name, len, &found);
	return found ? &l->v[i] : NULL;
}

static int name_ok(const char *name, size_t len)
{
	return len >= 1 && len <= VS_QUOTA_MAX_NAME && !memchr(name, 0, len);
}

static int has_rate(const vs_quota_entry *e)
{
	for (int k = 0; k < VS_QUOTA_KINDS; k++)
		if (e->rate[k] > 0)
			return 1;
	return 0;
}

static void list_delete(vs_quota_list *l, size_t i)
{
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
	l->n--;
}

/* A new zeroed entry for (entity, name) at index i. */
static vs_quota_entry *list_insert(vs_quota_list *l, size_t i, int entity, const char *name,
				   size_t len)
{
	if (l->n >= VS_QUOTA_MAX_ENTRIES)
		return NULL;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		vs_quota_entry *nv = realloc(l->v, ncap * sizeof *nv);
		if (!nv)
			return NULL;
		l->v = nv;
		l->cap = ncap;
	}
	/* built aside, then copied in: GCC's bounds warning (with the
	 * sanitizers) loses track of l->v's size across the memmove */
	vs_quota_entry ne;
	memset(&ne, 0, sizeof ne);
	ne.entity = entity;
	memcpy(ne.name, name, len);
	ne.name_len = len;
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof *l->v);
	l->n++;
	l->v[i] = ne;
	return &l->v[i];
}

int vs_quota_list_set(vs_quota_list *l, int entity, const char *name,
		      const int64_t rate[VS_QUOTA_KINDS])
{
	size_t len = name ? strlen(name) : 0;
	if ((entity != VS_QUOTA_USER && entity != VS_QUOTA_CLIENT_ID) || !name_ok(name, len))
		return -EINVAL;
	for (int k = 0; k < VS_QUOTA_KINDS; k++)
		if (rate[k] < -1 || rate[k] > VS_QUOTA_MAX_RATE)
			return -EINVAL;
	int found;
	size_t i = list_search(l, entity, name, len, &found);
	vs_quota_entry *e = found ? &l->v[i] : NULL; /* l->v may be NULL yet */
	if (!found) {
		if (l->n >= VS_QUOTA_MAX_ENTRIES)
			return -ENOSPC;
		if (!(e = list_insert(l, i, entity, name, len)))
			return -ENOMEM;
	}
	for (int k = 0; k < VS_QUOTA_KINDS; k++) {
		if (rate[k] == -1)
			e->rate[k] = VS_QUOTA_UNSET;
		else if (rate[k] > 0)
			e->rate[k] = rate[k];
	}
	if (!has_rate(e))
		list_delete(l, i);
	return 0;
}

int vs_quota_list_remove(vs_quota_list *l, int entity, const char *name)
{
	int found;
	size_t i = list_search(l, entity, name, strlen(name), &found);
	if (!found)
		return 0;
	list_delete(l, i);
	return 1;
}

/* ---- text ------------------------------------------------------------------------ */

static int safe_byte(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("._~:@+-", ch) != NULL;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decode word[0, n) into out (VS_QUOTA_MAX_NAME + 1 bytes). */
static int decode_name(const char *word, size_t n, char *out, size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)word[i];
		if (ch == '%') {
			if (n - i < 3)
				return -1;
			int hi = hex_value(word[i + 1]), lo = hex_value(word[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (!safe_byte(ch)) {
			return -1;
		}
		if (o >= VS_QUOTA_MAX_NAME || ch == 0)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = 0;
	*out_len = o;
	return o ? 0 : -1;
}

/* One KIND=RATE word into rate[]. */
static int parse_rate(const char *w, size_t n, int64_t rate[VS_QUOTA_KINDS])
{
	const char *eq = memchr(w, '=', n);
	if (!eq)
		return -1;
	size_t klen = (size_t)(eq - w);
	int kind = -1;
	for (int k = 0; k < VS_QUOTA_KINDS; k++)
		if (strlen(kind_names[k]) == klen && !memcmp(w, kind_names[k], klen))
			kind = k;
	if (kind < 0 || rate[kind] != VS_QUOTA_UNSET)
		return -1;
	int64_t v = 0;
	const char *p = eq + 1, *end = w + n;
	if (p == end || end - p > 16)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > VS_QUOTA_MAX_RATE)
		return -1;
	rate[kind] = v;
	return 0;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* The words of one line (at most 2 + VS_QUOTA_KINDS + 1 are looked at). */
typedef struct words {
	const char *w[VS_QUOTA_KINDS + 3];
	size_t len[VS_QUOTA_KINDS + 3];
	size_t n;
} words;

static void split_words(const char *p, const char *end, words *ws)
{
	ws->n = 0;
	while (p < end && ws->n < sizeof ws->w / sizeof ws->w[0]) {
		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		const char *start = p;
		while (p < end && !is_space(*p))
			p++;
		ws->w[ws->n] = start;
		ws->len[ws->n++] = (size_t)(p - start);
	}
}

static int word_is(const words *ws, size_t i, const char *z)
{
	return ws->len[i] == strlen(z) && !memcmp(ws->w[i], z, ws->len[i]);
}

/* One non-comment line into l; a message in why on failure. */
static int parse_line(const char *p, const char *end, vs_quota_list *l, const char **why)
{
	words ws;
	split_words(p, end, &ws);
	int entity = ws.n >= 1 && word_is(&ws, 0, "user") ? VS_QUOTA_USER
		     : ws.n >= 1 && word_is(&ws, 0, "client-id") ? VS_QUOTA_CLIENT_ID
								  : 0;
	if (!entity) {
		*why = "expected \"user\" or \"client-id\"";
		return -EINVAL;
	}
	char name[VS_QUOTA_MAX_NAME + 1];
	size_t name_len;
	if (ws.n < 2 || decode_name(ws.w[1], ws.len[1], name, &name_len)) {
		*why = "a name of 1 to 255 bytes, %XX-escaped, is expected";
		return -EINVAL;
	}
	if (ws.n < 3 || ws.n > 2 + VS_QUOTA_KINDS) {
		*why = "expected one to three KIND=RATE after the name";
		return -EINVAL;
	}
	int64_t rate[VS_QUOTA_KINDS] = { VS_QUOTA_UNSET };
	for (size_t i = 2; i < ws.n; i++) {
		if (parse_rate(ws.w[i], ws.len[i], rate)) {
			*why = "a rate is not KIND=N (N from 1 to 2^50) or repeats its kind";
			return -EINVAL;
		}
	}
	if (vs_quota_list_find(l, entity, name, name_len)) {
		*why = "this entity already has a line";
		return -EINVAL;
	}
	int rc = vs_quota_list_set(l, entity, name, rate);
	*why = rc == -ENOMEM ? "out of memory" : "too many entries";
	return rc;
}

int vs_quota_parse(const char *text, size_t len, vs_quota_list *out, char *err, size_t cap)
{
	vs_quota_list l = { 0 };
	const char *p = text, *end = text + len;
	for (size_t line = 1; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *q = p;
		while (q < eol && is_space(*q))
			q++;
		if (q < eol && *q != '#') {
			const char *why = "";
			int rc = parse_line(q, eol, &l, &why);
			if (rc) {
				snprintf(err, cap, "line %zu: %s", line, why);
				vs_quota_list_free(&l);
				return rc;
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	vs_quota_list_free(out);
	*out = l;
	return 0;
}

char *vs_quota_format(const vs_quota_list *l)
{
	/* a line: entity, a name of at most 3 * 255 bytes, three rates */
	size_t cap = 256 + l->n * (16 + 3 * VS_QUOTA_MAX_NAME + 3 * 48);
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t o = (size_t)snprintf(out, cap, "# varve quotas (written by `varve quota`; "
					      "docs/SECURITY.md)\n");
	for (size_t i = 0; i < l->n; i++) {
		const vs_quota_entry *e = &l->v[i];
		o += (size_t)snprintf(out + o, cap - o, "%s ",
				      e->entity == VS_QUOTA_USER ? "user" : "client-id");
		for (size_t k = 0; k < e->name_len; k++) {
			unsigned char ch = (unsigned char)e->name[k];
			if (safe_byte(ch))
				out[o++] = (char)ch;
			else
				o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
		}
		for (int k = 0; k < VS_QUOTA_KINDS; k++)
			if (e->rate[k] > 0)
				o += (size_t)snprintf(out + o, cap - o, " %s=%lld", kind_names[k],
						      (long long)e->rate[k]);
		out[o++] = '\n';
		out[o] = 0;
	}
	return out;
}

/* ---- the file -------------------------------------------------------------------- */

static void file_id_of(const struct stat *st, vs_quota_file_id *id)
{
	id->exists = 1;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The whole of fd (a regular file of at most QUOTA_FILE_MAX bytes). */
static int read_all(int fd, const struct stat *st, char **out, size_t *len)
{
	if (!S_ISREG(st->st_mode) || (size_t)st->st_size > QUOTA_FILE_MAX)
		return -EINVAL;
	int rc = vs_sfile_read(fd, QUOTA_FILE_MAX, out, len);
	return rc == -EFBIG ? -EINVAL : rc; /* it grew past the limit while read */
}

int vs_quota_file_read(const char *path, vs_quota_list *out, vs_quota_file_id *id, char *err,
		       size_t cap)
{
	if (id)
		memset(id, 0, sizeof *id);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		vs_quota_list_free(out);
		return 0;
	}
	if (fd < 0) {
		int e = errno;
		snprintf(err, cap, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int rc = fstat(fd, &st) ? -errno : read_all(fd, &st, &text, &len);
	close(fd);
	if (rc) {
		snprintf(err, cap, "%s: %s", path,
			 rc == -EINVAL ? "not a regular file of at most 64 MiB" : strerror(-rc));
		return rc;
	}
	char why[200];
	rc = vs_quota_parse(text, len, out, why, sizeof why);
	free(text);
	if (rc) {
		snprintf(err, cap, "%s: %s", path, why);
		return rc;
	}
	if (id)
		file_id_of(&st, id);
	return 0;
}

int vs_quota_file_write(const char *path, const vs_quota_list *l)
{
	char *text = vs_quota_format(l);
	if (!text)
		return -ENOMEM;
	int rc = vs_sfile_write(path, text, strlen(text));
	free(text);
	return rc;
}
