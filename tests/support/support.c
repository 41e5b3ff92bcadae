/* SPDX-License-Identifier: MIT */
/* support.c -- see support.h. */
#include "support.h"
#include "valgrind_fork.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- fixture state ------------------------------------------------------ */

#define MAX_OWNED 4096

static char *owned_dirs[256];
static size_t n_owned_dirs;
static char *owned_strs[MAX_OWNED];
static size_t n_owned_strs;
static char root[2048];

static void mkdir_p(const char *path)
{
	char buf[2048];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			cr_assert_fail("mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		cr_assert_fail("mkdir %s: %s", buf, strerror(errno));
}

static const char *t_root(void)
{
	if (!root[0]) {
		const char *env = getenv("VARVE_TEST_TMPDIR");
		if (env && *env) {
			snprintf(root, sizeof root, "%s", env);
		} else {
			const char *tmp = getenv("TMPDIR");
			snprintf(root, sizeof root, "%s/varve-tests", tmp && *tmp ? tmp : "/tmp");
		}
		mkdir_p(root);
	}
	return root;
}

void t_setup(void)
{
	n_owned_dirs = 0;
	n_owned_strs = 0;
	(void)t_root();
}

void t_teardown(void)
{
	for (size_t i = 0; i < n_owned_dirs; i++) {
		if (!getenv("VARVE_TEST_KEEP"))
			t_rm_rf(owned_dirs[i]);
		free(owned_dirs[i]);
	}
	n_owned_dirs = 0;
	for (size_t i = 0; i < n_owned_strs; i++)
		free(owned_strs[i]);
	n_owned_strs = 0;
}

static char *own(char *s)
{
	cr_assert(s, "out of memory");
	if (n_owned_strs == MAX_OWNED) {
		/* Recycle: tests that format many paths keep only the last ones. */
		for (size_t i = 0; i < MAX_OWNED / 2; i++)
			free(owned_strs[i]);
		memmove(owned_strs, owned_strs + MAX_OWNED / 2,
			(MAX_OWNED / 2) * sizeof owned_strs[0]);
		n_owned_strs = MAX_OWNED / 2;
	}
	owned_strs[n_owned_strs++] = s;
	return s;
}

const char *t_fmt(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0, "vasprintf failed");
	return own(s);
}

const char *t_tmpdir(void)
{
	cr_assert(n_owned_dirs < sizeof owned_dirs / sizeof owned_dirs[0], "too many temp dirs");
	char tmpl[2100];
	snprintf(tmpl, sizeof tmpl, "%s/t-XXXXXX", t_root());
	char *d = mkdtemp(tmpl);
	cr_assert(d, "mkdtemp %s: %s", tmpl, strerror(errno));
	char *copy = strdup(d);
	cr_assert(copy);
	owned_dirs[n_owned_dirs++] = copy;
	return copy;
}

const char *t_newpath(const char *name)
{
	return t_fmt("%s/%s", t_tmpdir(), name);
}

/* ---- files ---------------------------------------------------------------- */

int t_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int64_t t_fsize(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_size;
}

void t_truncate(const char *path, uint64_t size)
{
	cr_assert(truncate(path, (off_t)size) == 0, "truncate %s: %s", path, strerror(errno));
}

static int open_rw(const char *path, int extra)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | extra, 0600);
	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

void t_write_at(const char *path, uint64_t off, const void *buf, size_t n)
{
	int fd = open_rw(path, 0);
	ssize_t w = pwrite(fd, buf, n, (off_t)off);
	close(fd);
	cr_assert(w == (ssize_t)n, "pwrite %s: %s", path, strerror(errno));
}

void t_flip(const char *path, uint64_t off, uint8_t mask)
{
	int fd = open_rw(path, 0);
	uint8_t b;
	cr_assert(pread(fd, &b, 1, (off_t)off) == 1, "pread %s at %" PRIu64, path, off);
	b ^= mask;
	cr_assert(pwrite(fd, &b, 1, (off_t)off) == 1, "pwrite %s", path);
	close(fd);
}

void t_append(const char *path, const void *buf, size_t n)
{
	int fd = open_rw(path, O_APPEND);
	ssize_t w = write(fd, buf, n);
	close(fd);
	cr_assert(w == (ssize_t)n, "append %s: %s", path, strerror(errno));
}

void t_append_zeros(const char *path, size_t n)
{
	void *z = calloc(1, n ? n : 1);
	t_append(path, z, n);
	free(z);
}

void t_append_garbage(const char *path, size_t n, uint64_t seed)
{
	uint8_t *g = malloc(n ? n : 1);
	t_fill(g, n, seed);
	t_append(path, g, n);
	free(g);
}

void t_write_file(const char *path, const void *buf, size_t n)
{
	int fd = open_rw(path, O_CREAT | O_TRUNC);
	ssize_t w = n ? write(fd, buf, n) : 0;
	close(fd);
	cr_assert(w == (ssize_t)n, "write %s: %s", path, strerror(errno));
}

uint8_t *t_read_file(const char *path, size_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	struct stat st;
	cr_assert(fstat(fd, &st) == 0);
	uint8_t *b = malloc((size_t)st.st_size + 1);
	cr_assert(b);
	ssize_t r = st.st_size ? pread(fd, b, (size_t)st.st_size, 0) : 0;
	close(fd);
	cr_assert(r == st.st_size, "read %s", path);
	b[st.st_size] = 0;
	*n = (size_t)st.st_size;
	return b;
}

void t_unlink(const char *path)
{
	if (unlink(path) < 0)
		cr_assert(errno == ENOENT, "unlink %s: %s", path, strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

void t_rm_rf(const char *path)
{
	if (!t_exists(path))
		return;
	cr_assert(nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) == 0, "rm -rf %s: %s", path,
		  strerror(errno));
}

void t_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	cr_assert(lstat(src, &st) == 0, "stat %s", src);
	if (S_ISDIR(st.st_mode)) {
		cr_assert(mkdir(dst, 0700) == 0 || errno == EEXIST, "mkdir %s", dst);
		DIR *d = opendir(src);
		cr_assert(d, "opendir %s", src);
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char s[4096], t[4096];
			snprintf(s, sizeof s, "%s/%s", src, e->d_name);
			snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
			t_copy_tree(s, t);
		}
		closedir(d);
		return;
	}
	size_t n;
	uint8_t *b = t_read_file(src, &n);
	t_write_file(dst, b, n);
	free(b);
}

size_t t_count_suffix(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0, sl = strlen(suffix);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t l = strlen(e->d_name);
		if (l >= sl && !strcmp(e->d_name + l - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

size_t t_segments(const char *dir, int64_t *bases, size_t max)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l != 24 || strcmp(e->d_name + 20, ".log"))
			continue;
		if (n < max)
			bases[n] = strtoll(e->d_name, NULL, 10);
		n++;
	}
	closedir(d);
	if (n && max)
		qsort(bases, n < max ? n : max, sizeof *bases, cmp_i64);
	return n;
}

const char *t_part_dir(const char *store, const char *topic, uint32_t part)
{
	return t_fmt("%s/topics/%s/%u", store, topic, part);
}

const char *t_seg_path(const char *store, const char *topic, uint32_t part, int64_t base,
		       const char *suffix)
{
	return t_fmt("%s/topics/%s/%u/%020" PRId64 "%s", store, topic, part, base, suffix);
}

static uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

size_t t_batch_positions(const char *log_path, uint64_t *pos, size_t max, uint64_t *end_out)
{
	size_t n;
	uint8_t *b = t_read_file(log_path, &n);
	size_t k = 0;
	uint64_t q = 0;
	while (q + 80 <= n) {
		uint32_t len = ld32(b + q + 12);
		if (len < 80 || q + len > n)
			break;
		if (k < max)
			pos[k] = q;
		k++;
		q += len;
	}
	free(b);
	if (end_out)
		*end_out = q;
	return k;
}

/* ---- snapshots --------------------------------------------------------------- */

typedef struct snap_ent {
	char *path;
	mode_t mode;
	off_t size;
	struct timespec mtime;
	ino_t ino;
} snap_ent;

struct t_snap {
	snap_ent *v;
	size_t n, cap;
};

static void snap_walk(t_snap *s, const char *base, const char *rel)
{
	char full[4096];
	snprintf(full, sizeof full, "%s%s%s", base, *rel ? "/" : "", rel);
	DIR *d = opendir(full);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char r[4096], f[4096];
		snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		snprintf(f, sizeof f, "%s/%s", base, r);
		struct stat st;
		if (lstat(f, &st) < 0)
			continue;
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->v = realloc(s->v, s->cap * sizeof *s->v);
			cr_assert(s->v);
		}
		snap_ent *x = &s->v[s->n++];
		x->path = strdup(r);
		x->mode = st.st_mode;
		/* a directory's size and mtime change when entries come and go:
		 * that is caught by the entries themselves, but keep them too */
		x->size = st.st_size;
		x->mtime = st.st_mtim;
		x->ino = st.st_ino;
		if (S_ISDIR(st.st_mode))
			snap_walk(s, base, r);
	}
	closedir(d);
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const snap_ent *)a)->path, ((const snap_ent *)b)->path);
}

t_snap *t_snapshot(const char *dir)
{
	t_snap *s = calloc(1, sizeof *s);
	cr_assert(s);
	snap_walk(s, dir, "");
	if (s->n)
		qsort(s->v, s->n, sizeof *s->v, cmp_ent);
	return s;
}

int t_snap_diff(const t_snap *a, const t_snap *b, char *why, size_t cap)
{
	size_t i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].path, b->v[j].path);
		if (c < 0) {
			snprintf(why, cap, "%s disappeared", a->v[i].path);
			return 1;
		}
		if (c > 0) {
			snprintf(why, cap, "%s appeared", b->v[j].path);
			return 1;
		}
		const snap_ent *x = &a->v[i], *y = &b->v[j];
		if (x->mode != y->mode || x->size != y->size || x->ino != y->ino ||
		    x->mtime.tv_sec != y->mtime.tv_sec || x->mtime.tv_nsec != y->mtime.tv_nsec) {
			snprintf(why, cap,
				 "%s changed: mode %o->%o size %lld->%lld ino %llu->%llu mtime "
				 "%lld.%09ld->%lld.%09ld",
				 x->path, (unsigned)x->mode, (unsigned)y->mode, (long long)x->size,
				 (long long)y->size, (unsigned long long)x->ino,
				 (unsigned long long)y->ino, (long long)x->mtime.tv_sec,
				 x->mtime.tv_nsec, (long long)y->mtime.tv_sec, y->mtime.tv_nsec);
			return 1;
		}
		i++;
		j++;
	}
	if (cap)
		why[0] = 0;
	return 0;
}

void t_snap_free(t_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	free(s);
}

/* ---- bytes and records ---------------------------------------------------------- */

uint64_t t_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void t_fill(void *buf, size_t n, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t st = seed;
	size_t i = 0;
	while (i + 8 <= n) {
		uint64_t r = t_rand(&st);
		memcpy(p + i, &r, 8);
		i += 8;
	}
	if (i < n) {
		uint64_t r = t_rand(&st);
		memcpy(p + i, &r, n - i);
	}
}

uint64_t t_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t t_seed_from_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t s = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s ^= (uint64_t)getpid() << 32;
	return t_rand(&s);
}

varve_record t_rec(const void *key, size_t key_len, const void *value, size_t value_len)
{
	varve_record r;
	memset(&r, 0, sizeof r);
	r.key = key;
	r.key_len = key_len;
	r.value = value;
	r.value_len = value_len;
	r.timestamp = VARVE_TIMESTAMP_NOW;
	r.partition = VARVE_PARTITION_ANY;
	r.offset = -1;
	return r;
}

varve_record t_rec_s(const char *key, const char *value)
{
	return t_rec(key, key ? strlen(key) : 0, value, value ? strlen(value) : 0);
}

static void assert_blob(const void *g, size_t gl, const void *w, size_t wl, const char *ctx,
			const char *what)
{
	if (!w) {
		cr_assert_null(g, "%s: %s should be null", ctx, what);
		return;
	}
	cr_assert_not_null(g, "%s: %s should not be null (len %zu)", ctx, what, wl);
	cr_assert_eq(gl, wl, "%s: %s length %zu, want %zu", ctx, what, gl, wl);
	cr_assert(wl == 0 || memcmp(g, w, wl) == 0, "%s: %s bytes differ", ctx, what);
}

void t_assert_rec_eq(const varve_record *got, const varve_record *want, const char *ctx)
{
	cr_assert_not_null(got, "%s: no record", ctx);
	assert_blob(got->key, got->key_len, want->key, want->key_len, ctx, "key");
	assert_blob(got->value, got->value_len, want->value, want->value_len, ctx, "value");
	cr_assert_eq(got->header_count, want->header_count, "%s: %zu headers, want %zu", ctx,
		     got->header_count, want->header_count);
	for (size_t i = 0; i < want->header_count; i++) {
		char what[64];
		snprintf(what, sizeof what, "header %zu key", i);
		cr_assert_eq(got->headers[i].key_len, want->headers[i].key_len, "%s: %s length",
			     ctx, what);
		cr_assert(memcmp(got->headers[i].key, want->headers[i].key,
				 want->headers[i].key_len) == 0,
			  "%s: %s", ctx, what);
		snprintf(what, sizeof what, "header %zu value", i);
		assert_blob(got->headers[i].value, got->headers[i].value_len,
			    want->headers[i].value, want->headers[i].value_len, ctx, what);
	}
	if (want->timestamp != VARVE_TIMESTAMP_NOW)
		cr_assert_eq(got->timestamp, want->timestamp, "%s: timestamp %" PRId64 ", want %" PRId64,
			     ctx, got->timestamp, want->timestamp);
}

/* ---- store helpers ------------------------------------------------------------- */

varve_options t_opts(void)
{
	varve_options o;
	cr_assert_eq(varve_options_init(&o, VARVE_OPTIONS_VERSION), 0);
	o.sync_policy = VARVE_SYNC_NONE;
	o.start_cleaner = 0;
	return o;
}

varve_db *t_open(const char *path, const varve_options *o)
{
	varve_db *db = NULL;
	int rc = varve_open(path, o, &db);
	cr_assert_eq(rc, 0, "varve_open %s: %s (%s)", path, varve_errmsg(rc),
		     varve_last_error()->message);
	cr_assert_not_null(db);
	return db;
}

void t_close(varve_db *db)
{
	int rc = varve_close(db);
	cr_assert_eq(rc, 0, "varve_close: %s (%s)", varve_errmsg(rc), varve_last_error()->message);
}

void t_topic(varve_db *db, const char *name, uint32_t partitions, int codec)
{
	varve_topic_config c;
	cr_assert_eq(varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION), 0);
	c.partitions = partitions;
	c.codec = codec;
	int rc = varve_topic_create(db, name, &c);
	cr_assert_eq(rc, 0, "topic_create %s: %s (%s)", name, varve_errmsg(rc),
		     varve_last_error()->message);
}

int64_t t_produce_to(varve_db *db, const char *topic, int32_t part, const char *key,
		     const char *value, int64_t ts)
{
	varve_record r = t_rec_s(key, value);
	r.partition = part;
	r.timestamp = ts;
	int32_t p = -2;
	int64_t off = -2;
	int rc = varve_produce(db, topic, &r, &p, &off);
	cr_assert_eq(rc, 0, "produce: %s (%s)", varve_errmsg(rc), varve_last_error()->message);
	if (part >= 0)
		cr_assert_eq(p, part);
	cr_assert_geq(off, 0);
	return off;
}

int64_t t_count(varve_db *db, const char *topic, uint32_t part)
{
	int64_t start = -1, end = -1;
	t_ok(varve_offsets(db, topic, part, &start, &end));
	varve_iter *it = NULL;
	t_ok(varve_iter_open(db, topic, part, start, &it));
	const varve_record *r;
	int64_t want = start;
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		cr_assert_eq(r->offset, want, "offset %" PRId64 ", want %" PRId64, r->offset, want);
		cr_assert_eq(r->partition, (int32_t)part);
		want++;
	}
	t_assert_rc(rc, VARVE_EEND);
	varve_iter_close(it);
	cr_assert_eq(want, end, "iterated to %" PRId64 " but end is %" PRId64, want, end);
	return want - start;
}

int64_t t_clock_fn(void *ctx)
{
	return atomic_load(&((t_clock *)ctx)->now);
}

void t_log_init(t_log *l)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
}

void t_log_free(t_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i]);
	free(l->msgs);
	free(l->levels);
	pthread_mutex_destroy(&l->mu);
	memset(l, 0, sizeof *l);
}

void t_log_fn(void *ctx, int level, const char *message)
{
	t_log *l = ctx;
	pthread_mutex_lock(&l->mu);
	l->msgs = realloc(l->msgs, (l->n + 1) * sizeof *l->msgs);
	l->levels = realloc(l->levels, (l->n + 1) * sizeof *l->levels);
	l->msgs[l->n] = strdup(message ? message : "(null)");
	l->levels[l->n] = level;
	l->n++;
	pthread_mutex_unlock(&l->mu);
}

size_t t_log_count(t_log *l, const char *needle, int min_level)
{
	size_t c = 0;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->n; i++)
		if (l->levels[i] >= min_level && strstr(l->msgs[i], needle))
			c++;
	pthread_mutex_unlock(&l->mu);
	return c;
}

void t_log_dump(t_log *l)
{
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->n; i++)
		fprintf(stderr, "  log[%d] %s\n", l->levels[i], l->msgs[i]);
	pthread_mutex_unlock(&l->mu);
}

/* ---- children ------------------------------------------------------------------ */

int t_run_child(int (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	int st = 0;
	pid_t w;
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	cr_assert_eq(w, pid, "waitpid: %s", strerror(errno));
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return -WTERMSIG(st);
}
