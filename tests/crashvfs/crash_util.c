/* SPDX-License-Identifier: MIT */
/* crash_util.c -- see crash_util.h. */
#include "../support/valgrind_fork.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crash_util.h"
#include "db.h"
#include "meta.h"
#include "registry.h" /* white-box: small metadata segments */

/* ---- environment -------------------------------------------------------------- */

int cu_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return 1;
#else
	return 0;
#endif
#else
	return 0;
#endif
}

uint64_t cu_env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	unsigned long long x = strtoull(v, &end, 0);
	return end != v ? (uint64_t)x : dflt;
}

uint64_t cu_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double cu_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t cu_seed(void)
{
	uint64_t s = cu_env_u64("VARVE_CRASH_SEED", 0);
	if (s)
		return s;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	return s ? s : 1;
}

/* ---- files -------------------------------------------------------------------- */

static char g_root[1024];
static unsigned g_counter;

static int dir_usable(const char *d)
{
	struct stat st;
	return d && *d && stat(d, &st) == 0 && S_ISDIR(st.st_mode) && access(d, W_OK | X_OK) == 0;
}

const char *cu_tmproot(void)
{
	if (g_root[0])
		return g_root;
	const char *base = getenv("VARVE_CRASH_TMPDIR");
	if (!dir_usable(base))
		base = dir_usable("/dev/shm") ? "/dev/shm" : NULL;
	if (!base) {
		base = getenv("VARVE_TEST_TMPDIR");
		if (base && *base)
			mkdir(base, 0700);
		if (!dir_usable(base))
			base = "/tmp";
	}
	snprintf(g_root, sizeof g_root, "%s/varve-crashvfs-%d", base, (int)getpid());
	cu_rm_rf(g_root);
	if (mkdir(g_root, 0700) < 0) {
		fprintf(stderr, "crash_util: cannot create %s: %s\n", g_root, strerror(errno));
		abort();
	}
	return g_root;
}

void cu_newpath(char *out, size_t cap, const char *tag)
{
	snprintf(out, cap, "%s/%s-%u", cu_tmproot(), tag, ++g_counter);
}

void cu_cleanup(void)
{
	if (getenv("VARVE_CRASH_KEEP")) /* debugging: keep every directory */
		return;
	if (g_root[0])
		cu_rm_rf(g_root);
	g_root[0] = 0;
}

int cu_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	char sub[4096];
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		cu_rm_rf(sub);
	}
	closedir(d);
	return rmdir(path) < 0 ? -errno : 0;
}

uint8_t *cu_read_file(const char *path, size_t *n)
{
	*n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	uint8_t *b = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (b && got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (b)
		b[got] = 0;
	*n = got;
	return b;
}

int cu_write_file(const char *path, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	const uint8_t *p = b;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		p += w;
		n -= (size_t)w;
	}
	close(fd);
	return 0;
}

int64_t cu_fsize(const char *path)
{
	struct stat st;
	return stat(path, &st) < 0 ? -1 : (int64_t)st.st_size;
}

int cu_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int cu_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	if (lstat(src, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0700) < 0)
			return -errno;
		DIR *d = opendir(src);
		if (!d)
			return -errno;
		struct dirent *e;
		int rc = 0;
		char a[4096], b[4096];
		while (rc == 0 && (e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(a, sizeof a, "%s/%s", src, e->d_name);
			snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
			rc = cu_copy_tree(a, b);
		}
		closedir(d);
		return rc;
	}
	size_t n;
	uint8_t *buf = cu_read_file(src, &n);
	if (!buf)
		return -EIO;
	int rc = cu_write_file(dst, buf, n);
	free(buf);
	return rc;
}

/* ---- records ------------------------------------------------------------------- */

void m_rec_free(m_rec *r)
{
	free(r->key);
	free(r->val);
	memset(r, 0, sizeof *r);
}

varve_record m_rec_view(const m_rec *r, varve_header *hdrs)
{
	varve_record v;
	memset(&v, 0, sizeof v);
	v.key = r->knull ? NULL : (r->key ? (const void *)r->key : (const void *)"");
	v.key_len = r->knull ? 0 : r->klen;
	v.value = r->vnull ? NULL : (r->val ? (const void *)r->val : (const void *)"");
	v.value_len = r->vnull ? 0 : r->vlen;
	for (size_t i = 0; i < r->nh; i++) {
		hdrs[i].key = r->hdr[i].key;
		hdrs[i].key_len = r->hdr[i].klen;
		hdrs[i].value = r->hdr[i].vnull ? NULL : (const void *)r->hdr[i].val;
		hdrs[i].value_len = r->hdr[i].vnull ? 0 : r->hdr[i].vlen;
	}
	v.headers = r->nh ? hdrs : NULL;
	v.header_count = r->nh;
	v.timestamp = r->ts;
	v.partition = VARVE_PARTITION_ANY;
	return v;
}

static int bytes_eq(const void *a, size_t al, const void *b, size_t bl)
{
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

int m_rec_cmp(const m_rec *w, const varve_record *g, char *why, size_t cap)
{
	if (w->knull != (g->key == NULL)) {
		snprintf(why, cap, "key null-ness differs (want %s)", w->knull ? "null" : "non-null");
		return 1;
	}
	if (!w->knull && !bytes_eq(w->key, w->klen, g->key, g->key_len)) {
		snprintf(why, cap, "key differs (len %zu vs %zu)", w->klen, g->key_len);
		return 1;
	}
	if (w->vnull != (g->value == NULL)) {
		snprintf(why, cap, "value null-ness differs (want %s)", w->vnull ? "null" : "non-null");
		return 1;
	}
	if (!w->vnull && !bytes_eq(w->val, w->vlen, g->value, g->value_len)) {
		snprintf(why, cap, "value differs (len %zu vs %zu)", w->vlen, g->value_len);
		return 1;
	}
	if (w->ts != g->timestamp) {
		snprintf(why, cap, "timestamp %" PRId64 " vs %" PRId64, w->ts, g->timestamp);
		return 1;
	}
	if (w->nh != g->header_count) {
		snprintf(why, cap, "%zu headers vs %zu", w->nh, g->header_count);
		return 1;
	}
	for (size_t i = 0; i < w->nh; i++) {
		const varve_header *h = &g->headers[i];
		if (!bytes_eq(w->hdr[i].key, w->hdr[i].klen, h->key, h->key_len) ||
		    w->hdr[i].vnull != (h->value == NULL) ||
		    (!w->hdr[i].vnull && !bytes_eq(w->hdr[i].val, w->hdr[i].vlen, h->value, h->value_len))) {
			snprintf(why, cap, "header %zu differs", i);
			return 1;
		}
	}
	return 0;
}

static void gen_rec(uint64_t *rng, m_rec *r, int compact, int64_t ts)
{
	memset(r, 0, sizeof *r);
	unsigned x = (unsigned)(cu_rand(rng) % 100);
	if (compact) {
		char k[16];
		int kl = snprintf(k, sizeof k, "k%u", (unsigned)(cu_rand(rng) % 8));
		r->key = malloc((size_t)kl);
		memcpy(r->key, k, (size_t)kl);
		r->klen = (size_t)kl;
	} else if (x < 30) {
		r->knull = 1;
	} else {
		r->klen = (size_t)(cu_rand(rng) % 13);
		r->key = malloc(r->klen ? r->klen : 1);
		for (size_t i = 0; i < r->klen; i++)
			r->key[i] = (uint8_t)cu_rand(rng);
	}
	x = (unsigned)(cu_rand(rng) % 100);
	if (x < (compact ? 10u : 4u)) {
		r->vnull = 1;
	} else if (x < 14) {
		r->vlen = 0;
	} else {
		r->vlen = 1 + (size_t)(cu_rand(rng) % 160);
		r->val = malloc(r->vlen);
		int pattern = (cu_rand(rng) & 1) != 0; /* compressible for LZ4 */
		uint8_t c = (uint8_t)cu_rand(rng);
		for (size_t i = 0; i < r->vlen; i++)
			r->val[i] = pattern ? (uint8_t)(c + i % 7) : (uint8_t)cu_rand(rng);
	}
	if (cu_rand(rng) % 5 == 0) {
		r->nh = 1 + (size_t)(cu_rand(rng) % 2);
		for (size_t i = 0; i < r->nh; i++) {
			m_hdr *h = &r->hdr[i];
			h->klen = (size_t)snprintf(h->key, sizeof h->key, "h%zu", i);
			h->vnull = cu_rand(rng) % 5 == 0;
			h->vlen = h->vnull ? 0 : (size_t)(cu_rand(rng) % 9);
			for (size_t k = 0; k < h->vlen; k++)
				h->val[k] = (uint8_t)cu_rand(rng);
		}
	}
	r->ts = ts;
}

/* ---- oracle bookkeeping -------------------------------------------------------------- */

static void part_reserve(m_part *p, size_t n)
{
	if (n <= p->cap)
		return;
	size_t nc = p->cap ? p->cap : 64;
	while (nc < n)
		nc *= 2;
	p->v = realloc(p->v, nc * sizeof *p->v);
	if (!p->v)
		abort();
	p->cap = nc;
}

static void model_free(model *m)
{
	for (size_t i = 0; i < m->nt; i++) {
		m_topic *t = &m->t[i];
		for (uint32_t p = 0; p < t->cfg.partitions; p++) {
			for (size_t k = 0; k < t->parts[p].nin; k++)
				m_rec_free(&t->parts[p].v[k]);
			free(t->parts[p].v);
		}
		free(t->parts);
	}
	free(m->t);
	for (size_t i = 0; i < m->nc; i++)
		free(m->c[i].hist);
	free(m->c);
	memset(m, 0, sizeof *m);
}

static m_commit *commit_slot(model *m, const char *group, int ti, uint32_t part)
{
	for (size_t i = 0; i < m->nc; i++)
		if (!strcmp(m->c[i].group, group) && m->c[i].ti == ti && m->c[i].part == part)
			return &m->c[i];
	if (m->nc == m->ccap) {
		m->ccap = m->ccap ? m->ccap * 2 : 16;
		m->c = realloc(m->c, m->ccap * sizeof *m->c);
		if (!m->c)
			abort();
	}
	m_commit *c = &m->c[m->nc++];
	memset(c, 0, sizeof *c);
	snprintf(c->group, sizeof c->group, "%s", group);
	c->ti = ti;
	c->part = part;
	c->off = -1;
	c->off_in = -2;
	c->off_dur = -1;
	return c;
}

/* ---- verification ------------------------------------------------------------------------ */

#define FAIL(...)                                  \
	do {                                       \
		snprintf(why, cap, __VA_ARGS__);   \
		rc = 1;                            \
		goto out;                          \
	} while (0)

static _Atomic uint64_t g_relaxed_short;

uint64_t cu_relaxed_short(void) { return atomic_load(&g_relaxed_short); }

/* Relaxed mode: the end is at or past the durable floor, inside what was
 * produced, and at a batch boundary. 0 if so, else 1 and why. */
static int relaxed_end_bad(const m_topic *t, uint32_t p, int64_t end, char *why, size_t cap)
{
	const m_part *mp = &t->parts[p];
	if (end < (int64_t)mp->n)
		atomic_fetch_add(&g_relaxed_short, 1);
	if (end < (int64_t)mp->dur) {
		snprintf(why, cap,
			 "%s/%u: end offset %" PRId64 ", but [0, %zu) was synced: durable records lost",
			 t->name, p, end, mp->dur);
		return 1;
	}
	if (end > (int64_t)mp->nin) {
		snprintf(why, cap, "%s/%u: end offset %" PRId64 ", but only %zu records were produced",
			 t->name, p, end, mp->nin);
		return 1;
	}
	if (end > (int64_t)mp->dur && !mp->v[end - 1].batch_end) {
		snprintf(why, cap, "%s/%u: end offset %" PRId64 " is inside a batch (a batch in part)",
			 t->name, p, end);
		return 1;
	}
	return 0;
}

static int verify_part(varve_db *db, const m_topic *t, uint32_t p, int mrelaxed, char *why,
		       size_t cap)
{
	const m_part *mp = &t->parts[p];
	int compact = (t->cfg.cleanup_policy & VARVE_CLEANUP_COMPACT) != 0;
	int64_t start = 0, end = 0;
	int rc = 0;
	varve_iter *it = NULL;
	uint8_t *seen = NULL;
	int r = varve_offsets(db, t->name, p, &start, &end);
	if (r)
		FAIL("%s/%u: varve_offsets failed: %s (%s)", t->name, p, varve_errmsg(r),
		     varve_last_error()->message);
	if (mrelaxed && relaxed_end_bad(t, p, end, why, cap)) {
		rc = 1;
		goto out;
	}
	if (!mrelaxed && !(end == (int64_t)mp->n || (mp->nin > mp->n && end == (int64_t)mp->nin)))
		FAIL("%s/%u: end offset %" PRId64 ", but %zu acknowledged%s%zu", t->name, p, end, mp->n,
		     mp->nin > mp->n ? " and the in-flight batch ends at " : "",
		     mp->nin > mp->n ? mp->nin : (size_t)0);
	int64_t hi = mp->start_hi > mp->start ? mp->start_hi : mp->start;
	if (start < mp->start || start > hi)
		FAIL("%s/%u: log start %" PRId64 ", acknowledged %" PRId64 " (in flight up to %" PRId64 ")",
		     t->name, p, start, mp->start, hi);
	seen = calloc((size_t)(end - start) + 1, 1);
	r = varve_iter_open(db, t->name, p, start, &it);
	if (r)
		FAIL("%s/%u: iter_open(%" PRId64 ") failed: %s (%s)", t->name, p, start, varve_errmsg(r),
		     varve_last_error()->message);
	int64_t expect = start, prev = start - 1;
	for (;;) {
		const varve_record *rec;
		r = varve_iter_next(it, &rec);
		if (r == VARVE_EEND)
			break;
		if (r)
			FAIL("%s/%u: read error after offset %" PRId64 ": %s (%s)", t->name, p, prev,
			     varve_errmsg(r), varve_last_error()->message);
		int64_t o = rec->offset;
		if (o <= prev || o < start || o >= end)
			FAIL("%s/%u: offset %" PRId64 " out of order or outside [%" PRId64 ", %" PRId64
			     ") after %" PRId64, t->name, p, o, start, end, prev);
		if (!compact && o != expect)
			FAIL("%s/%u: offset %" PRId64 " returned, expected %" PRId64 " (acknowledged records lost)",
			     t->name, p, o, expect);
		char d[160];
		if (m_rec_cmp(&mp->v[o], rec, d, sizeof d))
			FAIL("%s/%u offset %" PRId64 ": record differs from the one written%s: %s", t->name, p,
			     o, (size_t)o >= mp->n ? " (in flight)" : "", d);
		seen[o - start] = 1;
		prev = o;
		expect = o + 1;
	}
	if (!compact && expect != end)
		FAIL("%s/%u: reading stopped at %" PRId64 " (VARVE_EEND) but the end offset is %" PRId64,
		     t->name, p, expect, end);
	if (compact) {
		/* the latest acknowledged record of every key is there */
		const m_rec *keys[64];
		size_t nk = 0;
		int64_t floor = mrelaxed ? (int64_t)mp->dur : (int64_t)mp->n;
		for (int64_t o = floor - 1; o >= start; o--) {
			const m_rec *mr = &mp->v[o];
			size_t k = 0;
			while (k < nk && !bytes_eq(keys[k]->key, keys[k]->klen, mr->key, mr->klen))
				k++;
			if (k < nk)
				continue;
			if (nk < 64)
				keys[nk++] = mr;
			if (!mr->vnull && !seen[o - start])
				FAIL("%s/%u: offset %" PRId64 ", the latest record of key %.*s, is gone", t->name,
				     p, o, (int)mr->klen, (const char *)mr->key);
		}
		if (end > floor)
			for (int64_t o = floor; o < end; o++)
				if (!seen[o - start])
					FAIL("%s/%u: in-flight offset %" PRId64 " is below the end but not readable",
					     t->name, p, o);
	}
out:
	varve_iter_close(it);
	free(seen);
	return rc;
}

static int in_hist(const m_commit *c, int64_t off)
{
	if (off == c->off_dur)
		return 1;
	for (size_t i = 0; i < c->nhist; i++)
		if (c->hist[i] == off)
			return 1;
	return 0;
}

/* Relaxed mode: a committed offset is the one of the last metadata sync, one
 * acknowledged since, or the in-flight one (that call all or nothing), and
 * never past the recovered end of its partition. */
static int verify_commits_relaxed(varve_db *db, const model *m, char *why, size_t cap)
{
	int in_new = 0, in_old = 0, rc = 0;
	char old_ex[160] = "", new_ex[160] = "";
	for (size_t i = 0; i < m->nc; i++) {
		const m_commit *c = &m->c[i];
		const m_topic *t = &m->t[c->ti];
		int64_t got = -1, end = 0;
		int r = varve_group_offset(db, c->group, t->name, c->part, &got);
		if (r && r != VARVE_ENOTFOUND)
			FAIL("varve_group_offset failed: %s", varve_errmsg(r));
		if (r)
			got = -1;
		/* the in-flight offset tells this call apart only if no earlier
		 * call left the same offset */
		int telling = c->off_in != -2 && !in_hist(c, c->off_in);
		if (telling && got == c->off_in) {
			in_new++;
			snprintf(new_ex, sizeof new_ex, "%s %s/%u", c->group, t->name, c->part);
		} else if (in_hist(c, got)) {
			if (telling) {
				in_old++;
				snprintf(old_ex, sizeof old_ex, "%s %s/%u", c->group, t->name, c->part);
			}
		} else if (got != c->off_in) {
			FAIL("group %s %s/%u: committed offset %" PRId64 ", synced %" PRId64
			     " and %zu acknowledged since (last %" PRId64 "), in flight %" PRId64,
			     c->group, t->name, c->part, got, c->off_dur, c->nhist, c->off, c->off_in);
		}
		if (got < 0 || !t->live || t->creating || t->deleting)
			continue;
		if ((r = varve_offsets(db, t->name, c->part, NULL, &end)))
			FAIL("%s/%u: varve_offsets failed: %s", t->name, c->part, varve_errmsg(r));
		if (got > end)
			FAIL("group %s %s/%u: committed offset %" PRId64 " is past the end %" PRId64
			     " (a commit ahead of durable data)", c->group, t->name, c->part, got, end);
	}
	if (in_new && in_old)
		FAIL("a commit call was applied in part: %s has the new offset, %s an old one", new_ex,
		     old_ex);
out:
	return rc;
}

int cu_verify_db(varve_db *db, const model *m, char *why, size_t cap)
{
	char **names = NULL;
	size_t nn = 0;
	int rc = 0;
	int r = varve_topic_list(db, &names, &nn);
	if (r)
		FAIL("varve_topic_list failed: %s", varve_errmsg(r));
	for (size_t i = 0; i < nn; i++) {
		const m_topic *t = NULL;
		for (size_t k = 0; k < m->nt; k++)
			if (!strcmp(m->t[k].name, names[i]) &&
			    (!t || m->t[k].live || m->t[k].creating || m->t[k].deleting))
				t = &m->t[k];
		if (!t)
			FAIL("topic %s exists but was never created", names[i]);
		if (!t->live && !t->creating && !t->deleting)
			FAIL("topic %s exists but its delete was acknowledged", names[i]);
	}
	for (size_t k = 0; k < m->nt; k++) {
		const m_topic *t = &m->t[k];
		/* a deleted topic whose name was created again: the new one counts */
		int shadowed = 0;
		for (size_t j = 0; j < m->nt; j++)
			shadowed |= j != k && !t->live && !t->creating && !t->deleting &&
				    !strcmp(m->t[j].name, t->name) &&
				    (m->t[j].live || m->t[j].creating || m->t[j].deleting);
		if (shadowed)
			continue;
		int listed = 0;
		for (size_t i = 0; i < nn; i++)
			listed |= !strcmp(names[i], t->name);
		if (!listed) {
			if (t->live && !t->deleting)
				FAIL("acknowledged topic %s is gone", t->name);
			continue;
		}
		varve_topic_config c;
		memset(&c, 0, sizeof c);
		c.version = VARVE_TOPIC_CONFIG_VERSION;
		r = varve_topic_describe(db, t->name, &c);
		if (r)
			FAIL("describe %s failed: %s", t->name, varve_errmsg(r));
		if (c.partitions != t->cfg.partitions || c.codec != t->cfg.codec ||
		    c.cleanup_policy != t->cfg.cleanup_policy)
			FAIL("topic %s: configuration differs (partitions %u vs %u)", t->name, c.partitions,
			     t->cfg.partitions);
		for (uint32_t p = 0; p < t->cfg.partitions; p++)
			if ((rc = verify_part(db, t, p, m->relaxed, why, cap)))
				goto out;
	}
	if (m->relaxed) {
		rc = verify_commits_relaxed(db, m, why, cap);
		goto out;
	}
	/* commits: acknowledged or in flight, the in-flight call all or nothing */
	int in_new = 0, in_old = 0;
	char old_ex[160] = "", new_ex[160] = "";
	for (size_t i = 0; i < m->nc; i++) {
		const m_commit *c = &m->c[i];
		int64_t got = -1;
		r = varve_group_offset(db, c->group, m->t[c->ti].name, c->part, &got);
		if (r && r != VARVE_ENOTFOUND)
			FAIL("varve_group_offset failed: %s", varve_errmsg(r));
		if (r)
			got = -1;
		int inflight = c->off_in != -2 && c->off_in != c->off;
		if (got == c->off) {
			if (inflight) {
				in_old++;
				snprintf(old_ex, sizeof old_ex, "%s %s/%u", c->group, m->t[c->ti].name, c->part);
			}
			continue;
		}
		if (inflight && got == c->off_in) {
			in_new++;
			snprintf(new_ex, sizeof new_ex, "%s %s/%u", c->group, m->t[c->ti].name, c->part);
			continue;
		}
		FAIL("group %s %s/%u: committed offset %" PRId64 ", acknowledged %" PRId64
		     " (in flight %" PRId64 ")",
		     c->group, m->t[c->ti].name, c->part, got, c->off, c->off_in);
	}
	if (in_new && in_old)
		FAIL("a commit call was applied in part: %s has the new offset, %s the old one", new_ex,
		     old_ex);
out:
	varve_strings_free(names, nn);
	return rc;
}

/* ---- the world ------------------------------------------------------------------------------- */

static int64_t world_clock(void *ctx)
{
	cu_world *w = ctx;
	return atomic_load(&w->now);
}

void cu_default_opts(cu_world *w, varve_options *o)
{
	varve_options d = VARVE_OPTIONS_INIT;
	*o = d;
	o->sync_policy = VARVE_SYNC_ALWAYS;
	o->segment_bytes = 1024;
	o->index_interval_bytes = 64;
	o->max_record_bytes = 8192; /* small mappings and preallocation in mmap mode */
	o->start_cleaner = 0;
	o->clock_fn = world_clock;
	o->clock_ctx = w;
}

static void fail(cu_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(cu_world *w, const char *fmt, ...)
{
	if (w->failed)
		return;
	w->failed = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->fail, sizeof w->fail, fmt, ap);
	va_end(ap);
}

static void hook(void *ctx, int ev, const char *path)
{
	cu_world *w = ctx;
	if (w->in_op && w->capture && !w->failed)
		w->capture(w, ev, path);
}

void cu_take_tree(cu_world *w, cv_tree *t, unsigned flags, const char *why)
{
	if (w->dedupe) {
		uint64_t h = cv_tree_hash(t) ^ flags;
		for (size_t i = 0; i < w->nseen; i++)
			if (w->seen[i] == h) {
				w->deduped++;
				cv_tree_free(t);
				return;
			}
		if (w->nseen == w->seen_cap) {
			w->seen_cap = w->seen_cap ? w->seen_cap * 2 : 256;
			w->seen = realloc(w->seen, w->seen_cap * sizeof *w->seen);
		}
		w->seen[w->nseen++] = h;
	}
	if (w->nq == w->qcap) {
		w->qcap = w->qcap ? w->qcap * 2 : 64;
		w->q = realloc(w->q, w->qcap * sizeof *w->q);
	}
	w->q[w->nq].t = t;
	w->q[w->nq].flags = flags;
	snprintf(w->q[w->nq].why, sizeof w->q[w->nq].why, "%s", why ? why : "");
	w->nq++;
}

void cu_take(cu_world *w, uint64_t seed, int ns_mode, int data_mode, unsigned flags, const char *why)
{
	cu_take_tree(w, cv_crash_random(seed, ns_mode, data_mode), flags, why);
}

static void after_open(cu_world *w)
{
	if (w->meta_segment_bytes && w->db)
		vv_meta_partition(w->db->meta)->cfg.segment_bytes = w->meta_segment_bytes;
}

/* Open the tree in dir with the real backend (cv_io_fast: no fsyncs, which
 * the check does not need) and compare with the oracle. */
static int check_one(cu_world *w, const struct cu_q *q)
{
	char dir[1024], store[1100], why[2048];
	cu_newpath(dir, sizeof dir, "state");
	int r = cv_tree_write(q->t, dir);
	if (r) {
		fail(w, "cannot write a crash state to %s: %s", dir, strerror(-r));
		return -1;
	}
	snprintf(store, sizeof store, "%s/store", dir);
	varve_options o = w->opts;
	o.start_cleaner = 0;
	o.io = &cv_io_fast; /* not the world's crash VFS: the model is not touched */
	varve_db *db = NULL;
	int rc = 0;
	why[0] = 0;
	double t0 = cu_now_s();
	unsigned flags = q->flags;
	if ((flags & CU_RO_FIRST) && cv_tree_has_suffix(q->t, ".log.swap"))
		w->ro_mid_swap++; /* read-only opens must honour the committed swap */
	if (flags & CU_RO_FIRST) {
		o.read_only = 1;
		r = varve_open(store, &o, &db);
		if (r && w->nops == 0) {
			/* the store's creation is in flight, nothing was acknowledged:
			 * the directory, VERSION or the metadata segment may be
			 * missing (a read-only open then fails with VARVE_ENOTFOUND,
			 * or VARVE_EOFFSET "partition __meta/0 has no segments") */
			r = 0;
		} else if (r) {
			snprintf(why, sizeof why, "read-only open failed: %s (%s)", varve_errmsg(r),
				 varve_last_error()->message);
			rc = 1;
		} else {
			rc = cu_verify_db(db, &w->m, why, sizeof why);
			if (rc) {
				char tmp[2048];
				snprintf(tmp, sizeof tmp, "read-only open: %s", why);
				snprintf(why, sizeof why, "%s", tmp);
			}
			varve_close(db);
			db = NULL;
			w->ro_checked++;
		}
		o.read_only = 0;
	}
	if (rc == 0) {
		r = varve_open(store, &o, &db);
		w->opens++;
		if (r) {
			snprintf(why, sizeof why, "open failed: %s (%s)", varve_errmsg(r),
				 varve_last_error()->message);
			rc = 1;
		}
	}
	if (rc == 0) {
		const varve_recovery_cut *cuts;
		size_t ncuts = 0;
		varve_recovery_cuts(db, &cuts, &ncuts);
		if (ncuts)
			w->with_cuts++;
		rc = cu_verify_db(db, &w->m, why, sizeof why);
	}
	if (rc == 0 && (flags & CU_REOPEN)) {
		r = varve_close(db);
		db = NULL;
		if (r) {
			snprintf(why, sizeof why, "close after recovery failed: %s (%s)", varve_errmsg(r),
				 varve_last_error()->message);
			rc = 1;
		} else if ((r = varve_open(store, &o, &db))) {
			snprintf(why, sizeof why, "second open failed: %s (%s)", varve_errmsg(r),
				 varve_last_error()->message);
			rc = 1;
		} else {
			rc = cu_verify_db(db, &w->m, why, sizeof why);
			if (rc) {
				char tmp[2048];
				snprintf(tmp, sizeof tmp, "after recovery, close and reopen: %s", why);
				snprintf(why, sizeof why, "%s", tmp);
			}
			w->reopen_checked++;
		}
	}
	if (db)
		varve_close(db);
	w->check_s += cu_now_s() - t0;
	w->checked++;
	if (rc) {
		/* keep the state where the run's root will not remove it */
		char keep[1200];
		const char *base = getenv("VARVE_TEST_TMPDIR");
		if (base && *base) {
			mkdir(base, 0700);
			snprintf(keep, sizeof keep, "%s/crash-state-%d-%u", base, (int)getpid(),
				 (unsigned)w->checked);
			cu_rm_rf(keep);
			if (cu_copy_tree(dir, keep))
				snprintf(keep, sizeof keep, "%s", dir);
			/* and the state as the crash left it, before recovery touched it */
			char raw[1300];
			snprintf(raw, sizeof raw, "%s/crash-state-%d-%u-raw", base, (int)getpid(),
				 (unsigned)w->checked);
			cu_rm_rf(raw);
			(void)cv_tree_write(q->t, raw);
		} else {
			snprintf(keep, sizeof keep, "%s", dir);
		}
		fail(w, "crash state #%llu taken during operation #%llu [%s] at %s: %s (state kept in %s)",
		     (unsigned long long)w->checked, (unsigned long long)w->nops, w->op_desc, q->why, why,
		     keep);
		return -1;
	}
	cu_rm_rf(dir);
	return 0;
}

int cu_drain(cu_world *w)
{
	for (size_t i = 0; i < w->nq; i++) {
		if (!w->failed)
			check_one(w, &w->q[i]);
		cv_tree_free(w->q[i].t);
	}
	w->nq = 0;
	return w->failed ? -1 : 0;
}

static void hist_push(m_commit *c, int64_t off)
{
	if (c->nhist == c->hcap) {
		c->hcap = c->hcap ? c->hcap * 2 : 8;
		c->hist = realloc(c->hist, c->hcap * sizeof *c->hist);
		if (!c->hist)
			abort();
	}
	c->hist[c->nhist++] = off;
}

static void op_begin(cu_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void op_begin(cu_world *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->op_desc, sizeof w->op_desc, fmt, ap);
	va_end(ap);
	w->nseen = 0;
	w->in_op = 1;
}

/* Check the states taken while the operation ran, then fold it into the
 * acknowledged state (when ok). */
static int op_end(cu_world *w, int ok)
{
	w->in_op = 0;
	cu_drain(w);
	w->nops++;
	model *m = &w->m;
	for (size_t i = 0; i < m->nt; i++) {
		m_topic *t = &m->t[i];
		if (ok && t->creating)
			t->live = 1;
		if (ok && t->deleting)
			t->live = 0;
		t->creating = t->deleting = 0;
		for (uint32_t p = 0; t->parts && p < t->cfg.partitions; p++) {
			m_part *mp = &t->parts[p];
			if (ok) {
				mp->n = mp->nin;
				if (mp->start_hi > mp->start)
					mp->start = mp->start_hi;
			} else {
				for (size_t k = mp->n; k < mp->nin; k++)
					m_rec_free(&mp->v[k]);
				mp->nin = mp->n;
			}
			mp->start_hi = mp->start;
		}
	}
	for (size_t i = 0; i < m->nc; i++) {
		if (ok && m->c[i].off_in != -2) {
			m->c[i].off = m->c[i].off_in;
			if (m->relaxed)
				hist_push(&m->c[i], m->c[i].off_in);
		}
		m->c[i].off_in = -2;
	}
	return w->failed ? -1 : 0;
}

/* ---- relaxed mode: what becomes durable when ------------------------------------ */

/* The metadata log was synced: every acknowledged commit is durable. */
static void relaxed_meta_synced(model *m)
{
	for (size_t i = 0; m->relaxed && i < m->nc; i++) {
		m->c[i].off_dur = m->c[i].off;
		m->c[i].nhist = 0;
	}
}

/* varve_sync or close: everything acknowledged is durable. */
static void relaxed_all_durable(model *m)
{
	for (size_t i = 0; m->relaxed && i < m->nt; i++)
		for (uint32_t p = 0; m->t[i].parts && p < m->t[i].cfg.partitions; p++)
			m->t[i].parts[p].dur = m->t[i].parts[p].n;
	relaxed_meta_synced(m);
}

/* A commit of `off` synced its partition up to there first. */
static void relaxed_floor(model *m, int ti, uint32_t part, int64_t off)
{
	m_part *mp = &m->t[ti].parts[part];
	if (m->relaxed && off > 0 && (size_t)off > mp->dur)
		mp->dur = (size_t)off < mp->n ? (size_t)off : mp->n;
}

#define EXPECT_OK(w, r, what)                                                             \
	do {                                                                              \
		if ((r) != 0) {                                                           \
			fail((w), "%s failed: %s (%s)", (what), varve_errmsg(r),          \
			     varve_last_error()->message);                                \
			op_end((w), 0);                                                   \
			return -1;                                                        \
		}                                                                         \
	} while (0)

void cu_world_init(cu_world *w, const varve_options *opts, uint64_t seed)
{
	w->rng = seed;
	atomic_store(&w->now, 1700000000000LL);
	if (opts)
		w->opts = *opts;
	else
		cu_default_opts(w, &w->opts);
	w->opts.clock_fn = world_clock;
	w->opts.clock_ctx = w;
	w->m.relaxed = w->opts.sync_policy != VARVE_SYNC_ALWAYS;
	cu_newpath(w->root, sizeof w->root, "world");
	if (mkdir(w->root, 0700) < 0) {
		fail(w, "mkdir %s: %s", w->root, strerror(errno));
		return;
	}
	snprintf(w->store, sizeof w->store, "%s/store", w->root);
	if (w->use_mmap)
		w->opts.use_mmap = 1;
	int r = cv_install(w->root);
	if (r) {
		fail(w, "cv_install: %s", strerror(-r));
		return;
	}
	/* in mmap mode a mapping must stay backed: varve caps preallocation at
	 * the mapping size there anyway (segment_bytes + max_record_bytes) */
	cv_set_extend_cap(w->full_prealloc || w->opts.use_mmap ? 0
			  : w->extend_cap ? w->extend_cap : 65536);
	w->opts.io = cv_table(); /* the world's store, and only it, runs on the crash VFS */
	cv_set_hook(hook, w);
	op_begin(w, "create the store");
	r = varve_open(w->store, &w->opts, &w->db);
	if (r) {
		fail(w, "varve_open failed: %s (%s)", varve_errmsg(r), varve_last_error()->message);
		op_end(w, 0);
		return;
	}
	after_open(w);
	op_end(w, 1);
}

void cu_world_fini(cu_world *w)
{
	if (w->db)
		varve_close(w->db);
	w->db = NULL;
	for (size_t i = 0; i < w->nq; i++)
		cv_tree_free(w->q[i].t);
	w->nq = 0;
	cv_uninstall();
	cu_rm_rf(w->root);
	model_free(&w->m);
	free(w->q);
	free(w->seen);
	w->q = NULL;
	w->seen = NULL;
}

int cu_topic_index(const cu_world *w, const char *name)
{
	for (size_t i = 0; i < w->m.nt; i++)
		if (w->m.t[i].live && !strcmp(w->m.t[i].name, name))
			return (int)i;
	return -1;
}

int cu_create_dynamic(cu_world *w, uint64_t *rng, const char *prefix, uint32_t max_parts)
{
	char name[32];
	snprintf(name, sizeof name, "%s%u", prefix, w->dyn++);
	return cu_create_topic(w, name, 1 + (uint32_t)(cu_rand(rng) % max_parts),
			       cu_rand(rng) & 1 ? VARVE_CODEC_LZ4 : VARVE_CODEC_NONE,
			       VARVE_CLEANUP_DELETE, -1, -1);
}

int cu_create_topic_cfg(cu_world *w, const char *name, const varve_topic_config *c)
{
	if (w->failed)
		return -1;
	model *m = &w->m;
	if (m->nt == m->tcap) {
		m->tcap = m->tcap ? m->tcap * 2 : 16;
		m->t = realloc(m->t, m->tcap * sizeof *m->t);
	}
	m_topic *t = &m->t[m->nt++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->cfg = *c;
	t->cfg.retain_for_groups = NULL;
	t->parts = calloc(c->partitions, sizeof *t->parts);
	t->creating = 1;
	op_begin(w, "create topic %s (%u partitions)", name, c->partitions);
	int r = varve_topic_create(w->db, name, c);
	EXPECT_OK(w, r, "varve_topic_create");
	if (op_end(w, 1))
		return -1;
	relaxed_meta_synced(m); /* topic metadata is synced under every policy */
	return 0;
}

int cu_create_topic(cu_world *w, const char *name, uint32_t parts, int codec, int policy,
		    int64_t retention_ms, int64_t retention_records)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = parts;
	c.codec = codec;
	c.cleanup_policy = policy;
	c.retention_ms = retention_ms;
	c.retention_records = retention_records;
	if (policy & VARVE_CLEANUP_COMPACT) {
		c.min_cleanable_dirty_ratio = 0.0;
		c.delete_retention_ms = 30000;
	}
	return cu_create_topic_cfg(w, name, &c);
}

int cu_delete_topic(cu_world *w, int ti)
{
	if (w->failed)
		return -1;
	m_topic *t = &w->m.t[ti];
	t->deleting = 1;
	op_begin(w, "delete topic %s", t->name);
	int r = varve_topic_delete(w->db, t->name);
	EXPECT_OK(w, r, "varve_topic_delete");
	if (op_end(w, 1))
		return -1;
	relaxed_meta_synced(&w->m);
	return 0;
}

/* Segments per partition of topic ti (the first 32). */
static int segment_counts(cu_world *w, int ti, uint32_t *out)
{
	m_topic *t = &w->m.t[ti];
	for (uint32_t p = 0; p < t->cfg.partitions && p < 32; p++) {
		varve_partition_info pi;
		memset(&pi, 0, sizeof pi);
		pi.version = VARVE_PARTITION_INFO_VERSION;
		int r = varve_partition_info_get(w->db, t->name, (int32_t)p, &pi);
		if (r) {
			fail(w, "partition_info: %s", varve_errmsg(r));
			return -1;
		}
		out[p] = pi.segments;
	}
	return 0;
}

/* Relaxed mode under interval: a partition that rolled during the append
 * synced the segment it sealed, which held every record before it. */
static int interval_rolls(cu_world *w, int ti, const uint32_t *segs_before,
			  const size_t *n_before)
{
	m_topic *t = &w->m.t[ti];
	uint32_t segs_after[32];
	if (segment_counts(w, ti, segs_after))
		return -1;
	for (uint32_t p = 0; p < t->cfg.partitions && p < 32; p++)
		if (segs_after[p] != segs_before[p] && n_before[p] > t->parts[p].dur)
			t->parts[p].dur = n_before[p];
	return 0;
}

int cu_produce(cu_world *w, int ti, size_t n, uint32_t mask)
{
	if (w->failed)
		return -1;
	m_topic *t = &w->m.t[ti];
	int compact = (t->cfg.cleanup_policy & VARVE_CLEANUP_COMPACT) != 0;
	uint32_t np = t->cfg.partitions;
	uint32_t segs_before[32];
	int rolls_sync = w->m.relaxed && w->opts.sync_policy == VARVE_SYNC_INTERVAL;
	if (rolls_sync && segment_counts(w, ti, segs_before))
		return -1;
	uint32_t cand[32], nc = 0;
	for (uint32_t p = 0; p < np && p < 32; p++)
		if (!mask || (mask & (1u << p)))
			cand[nc++] = p;
	varve_record *recs = calloc(n, sizeof *recs);
	varve_header *hdrs = calloc(n * 2, sizeof *hdrs);
	int64_t *want = calloc(n, sizeof *want);
	int64_t now = atomic_load(&w->now);
	uint32_t *pick = calloc(n, sizeof *pick);
	/* reserve first: the views below point into the records */
	for (size_t i = 0; i < n; i++)
		pick[i] = cand[cu_rand(&w->rng) % nc];
	for (uint32_t p = 0; p < np; p++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += pick[i] == p;
		part_reserve(&t->parts[p], t->parts[p].nin + k);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t p = pick[i];
		m_part *mp = &t->parts[p];
		gen_rec(&w->rng, &mp->v[mp->nin], compact, now);
		recs[i] = m_rec_view(&mp->v[mp->nin], hdrs + 2 * i);
		recs[i].partition = (int32_t)p;
		want[i] = (int64_t)mp->nin;
		mp->nin++;
	}
	/* one call writes one batch per partition */
	for (uint32_t p = 0; p < np; p++)
		if (t->parts[p].nin > t->parts[p].n)
			t->parts[p].v[t->parts[p].nin - 1].batch_end = 1;
	op_begin(w, "produce %zu record%s to %s", n, n == 1 ? "" : "s", t->name);
	int r;
	if (n == 1) {
		int32_t po;
		int64_t oo;
		r = varve_produce(w->db, t->name, &recs[0], &po, &oo);
		recs[0].partition = po;
		recs[0].offset = oo;
	} else {
		r = varve_produce_batch(w->db, t->name, recs, n, NULL);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		if (recs[i].offset != want[i]) {
			fail(w, "%s: record %zu got offset %" PRId64 ", expected %" PRId64, t->name, i,
			     recs[i].offset, want[i]);
			break;
		}
	free(recs);
	free(hdrs);
	free(want);
	free(pick);
	EXPECT_OK(w, r, n == 1 ? "varve_produce" : "varve_produce_batch");
	size_t n_before[32];
	for (uint32_t p = 0; p < np && p < 32; p++)
		n_before[p] = t->parts[p].n;
	if (op_end(w, 1))
		return -1;
	if (rolls_sync)
		return interval_rolls(w, ti, segs_before, n_before);
	return 0;
}

int cu_roll(cu_world *w, int ti, uint32_t part)
{
	varve_partition_info a, b;
	memset(&a, 0, sizeof a);
	a.version = VARVE_PARTITION_INFO_VERSION;
	b = a;
	int r = varve_partition_info_get(w->db, w->m.t[ti].name, part, &a);
	if (r) {
		fail(w, "partition_info: %s", varve_errmsg(r));
		return -1;
	}
	for (int i = 0; i < 400; i++) {
		if (cu_produce(w, ti, 1, 1u << part))
			return -1;
		if ((r = varve_partition_info_get(w->db, w->m.t[ti].name, part, &b))) {
			fail(w, "partition_info: %s", varve_errmsg(r));
			return -1;
		}
		if (b.segments != a.segments)
			return 0;
	}
	fail(w, "%s/%u never rolled", w->m.t[ti].name, part);
	return -1;
}

int cu_commit(cu_world *w, const char *group, int ti, uint32_t part, int64_t off)
{
	if (w->failed)
		return -1;
	m_commit *c = commit_slot(&w->m, group, ti, part);
	c->off_in = off;
	op_begin(w, "commit %s %s/%u = %" PRId64, group, w->m.t[ti].name, part, off);
	int r = varve_group_commit(w->db, group, w->m.t[ti].name, part, off, NULL);
	EXPECT_OK(w, r, "varve_group_commit");
	if (op_end(w, 1))
		return -1;
	relaxed_floor(&w->m, ti, part, off);
	return 0;
}

int cu_consumer_commit(cu_world *w, const char *group, int ti)
{
	if (w->failed)
		return -1;
	m_topic *t = &w->m.t[ti];
	varve_consumer_options co = VARVE_CONSUMER_OPTIONS_INIT;
	co.max_records = 1 + (uint32_t)(cu_rand(&w->rng) % 40);
	const char *topics[1] = { t->name };
	op_begin(w, "consumer %s on %s: poll and commit", group, t->name);
	varve_consumer *c = NULL;
	int r = varve_consumer_open(w->db, group, topics, 1, &co, &c);
	EXPECT_OK(w, r, "varve_consumer_open");
	const varve_msg *msgs;
	size_t nm;
	r = varve_consumer_poll(c, 0, &msgs, &nm);
	for (uint32_t p = 0; r == 0 && p < t->cfg.partitions; p++) {
		int64_t pos;
		r = varve_consumer_position(c, t->name, p, &pos);
		if (r == 0) {
			m_commit *mc = commit_slot(&w->m, group, ti, p);
			mc->off_in = pos;
		}
	}
	if (r == 0)
		r = varve_consumer_commit(c);
	varve_consumer_close(c);
	EXPECT_OK(w, r, "consumer poll/position/commit");
	if (op_end(w, 1))
		return -1;
	for (uint32_t p = 0; p < t->cfg.partitions; p++)
		relaxed_floor(&w->m, ti, p, commit_slot(&w->m, group, ti, p)->off);
	return 0;
}

static void checkpoint_all(cu_world *w)
{
	vv_topic **ts;
	size_t n;
	if (vv_topics_snapshot(w->db->topics, &ts, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			for (uint32_t k = 0; k < ts[i]->nparts; k++) {
				(void)vv_partition_flush_index(ts[i]->parts[k]);
				(void)vv_partition_checkpoint(ts[i]->parts[k]);
			}
		vv_topics_release(ts, n);
	}
	(void)vv_partition_flush_index(vv_meta_partition(w->db->meta));
	(void)vv_partition_checkpoint(vv_meta_partition(w->db->meta));
}

int cu_checkpoint(cu_world *w)
{
	if (w->failed)
		return -1;
	op_begin(w, "background checkpoint");
	checkpoint_all(w);
	return op_end(w, 1);
}

int cu_clean(cu_world *w, int64_t advance_ms, int force)
{
	if (w->failed)
		return -1;
	if (w->checkpoint_before_clean && cu_checkpoint(w))
		return -1;
	atomic_fetch_add(&w->now, advance_ms);
	op_begin(w, "clean (clock +%" PRId64 " ms, force %d)", advance_ms, force);
	int r = varve_clean_now(w->db, force);
	EXPECT_OK(w, r, "varve_clean_now");
	/* where retention moved the log starts to (verified below, then folded) */
	for (size_t i = 0; i < w->m.nt; i++) {
		m_topic *t = &w->m.t[i];
		if (!t->live)
			continue;
		for (uint32_t p = 0; p < t->cfg.partitions; p++) {
			int64_t s = 0;
			r = varve_offsets(w->db, t->name, p, &s, NULL);
			EXPECT_OK(w, r, "varve_offsets");
			if (s < t->parts[p].start) {
				fail(w, "%s/%u: log start went back from %" PRId64 " to %" PRId64, t->name, p,
				     t->parts[p].start, s);
				op_end(w, 0);
				return -1;
			}
			t->parts[p].start_hi = s;
		}
	}
	return op_end(w, 1);
}

int cu_reopen(cu_world *w)
{
	if (w->failed)
		return -1;
	op_begin(w, "close and reopen");
	int r = varve_close(w->db);
	w->db = NULL;
	EXPECT_OK(w, r, "varve_close");
	r = varve_open(w->store, &w->opts, &w->db);
	EXPECT_OK(w, r, "varve_open");
	after_open(w);
	if (op_end(w, 1))
		return -1;
	relaxed_all_durable(&w->m); /* close synced everything */
	return 0;
}

int cu_sync(cu_world *w)
{
	if (w->failed)
		return -1;
	op_begin(w, "varve_sync");
	int r = varve_sync(w->db);
	EXPECT_OK(w, r, "varve_sync");
	if (op_end(w, 1))
		return -1;
	relaxed_all_durable(&w->m);
	return 0;
}

void cu_take_now(cu_world *w, uint64_t seed)
{
	if (w->failed)
		return;
	snprintf(w->op_desc, sizeof w->op_desc, "(idle, after operation #%llu)",
		 (unsigned long long)w->nops);
	cu_take(w, seed, CV_NS_MIXED, CV_DATA_MIXED, CU_REOPEN, "idle");
	cu_drain(w);
}

/* ---- capture policies and budgets ---------------------------------------------------------- */

uint64_t cu_budget(double share)
{
	uint64_t total = cu_env_u64("VARVE_CRASH_STATES", cu_asan() ? 4000 : 20000);
	uint64_t b = (uint64_t)((double)total * share + 0.5);
	return b ? b : 1;
}

int cu_ns_mode(void)
{
	static int mode = -1;
	if (mode < 0) {
		const char *v = getenv("VARVE_CRASH_NS");
		mode = CV_NS_MIXED;
		if (v && !strcmp(v, "subset"))
			mode = CV_NS_SUBSET;
		else if (v && !strcmp(v, "prefix"))
			mode = CV_NS_PREFIX;
		else if (v && !strcmp(v, "dirprefix"))
			mode = CV_NS_DIR_PREFIX;
		else if (v && !strcmp(v, "none"))
			mode = CV_NS_NONE;
		else if (v && !strcmp(v, "all"))
			mode = CV_NS_ALL;
	}
	return mode;
}

void cu_policy_capture(cu_world *w, int ev, const char *path)
{
	cu_policy *pl = w->capture_ctx;
	int sync = ev == CV_EV_DATASYNC || ev == CV_EV_SYNC_DIR;
	double p = sync ? pl->p_sync : pl->p_write;
	if ((double)(cu_rand(&pl->rng) % 1000000) / 1e6 >= p)
		return;
	static const char *const names[] = { "?", "write", "truncate", "create", "mkdir", "rename",
					     "unlink", "rmdir", "datasync", "sync_dir",
					     "write through the mapping" };
	char why[160];
	snprintf(why, sizeof why, "%s %s (persistence point %llu)",
		 ev > 0 && ev <= CV_EV_MAP_WRITE ? names[ev] : "?", path,
		 (unsigned long long)cv_persistence_points());
	for (unsigned v = 0; v < pl->variants; v++) {
		pl->taken++;
		pl->taken_in_map += ev == CV_EV_MAP_WRITE;
		unsigned flags = 0;
		if (w->ro_every && pl->taken % w->ro_every == 0)
			flags |= CU_RO_FIRST;
		if (w->reopen_every && pl->taken % w->reopen_every == 0)
			flags |= CU_REOPEN;
		cu_take(w, cu_rand(&pl->rng), pl->ns_mode, CV_DATA_MIXED, flags, why);
	}
}
