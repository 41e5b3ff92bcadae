/* SPDX-License-Identifier: MIT */
/* fault_util.c -- see fault_util.h. */
#include "fault_util.h"
#include "../support/valgrind_fork.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ---- directories ---------------------------------------------------------- */

static void mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		(void)mkdir(buf, 0700);
		*p = '/';
	}
	(void)mkdir(buf, 0700);
}

char *fu_tmpdir(const char *tag)
{
	const char *env = getenv("VARVE_TEST_TMPDIR");
	char root[2048];
	if (env && *env)
		snprintf(root, sizeof root, "%s", env);
	else
		snprintf(root, sizeof root, "%s/varve-faults",
			 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	mkdir_p(root);
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", root, tag ? tag : "t");
	if (!mkdtemp(tmpl))
		return NULL;
	return strdup(tmpl);
}

char *fu_fast_tmpdir(const char *tag)
{
	const char *env = getenv("VARVE_FAULTS_FASTDIR");
	char root[2048] = "";
	struct statfs sf;
	if (env && *env)
		snprintf(root, sizeof root, "%s", env);
	else if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK) == 0)
		snprintf(root, sizeof root, "/dev/shm/varve-faults-%u", (unsigned)getuid());
	if (!root[0])
		return fu_tmpdir(tag);
	mkdir_p(root);
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", root, tag ? tag : "t");
	if (!mkdtemp(tmpl))
		return fu_tmpdir(tag);
	return strdup(tmpl);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(p) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(p) < 0 && errno != ENOENT ? -1 : 0;
}

int fu_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	/* make everything writable first (tests chmod things) */
	if (S_ISDIR(st.st_mode))
		(void)chmod(path, 0700);
	return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

/* Sparse copy: only the data ranges (SEEK_DATA / SEEK_HOLE), so copying a
 * store with preallocated segment tails stays cheap; the copy reads back
 * the same bytes. */
static int copy_range(int in, int out, off_t from, off_t to)
{
	char buf[65536];
	while (from < to) {
		size_t want = (size_t)(to - from) < sizeof buf ? (size_t)(to - from) : sizeof buf;
		ssize_t r = pread(in, buf, want, from);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (pwrite(out, buf, (size_t)r, from) != r)
			return -1;
		from += r;
	}
	return 0;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -1; /* vanished while copying a live store */
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	struct stat st;
	int rc = fstat(in, &st);
	off_t size = rc == 0 ? st.st_size : 0;
	if (rc == 0 && ftruncate(out, size) < 0)
		rc = -1;
	off_t pos = 0;
	while (rc == 0 && pos < size) {
		off_t d = lseek(in, pos, SEEK_DATA);
		if (d < 0) {
			if (errno == ENXIO)
				break; /* only a hole left */
			rc = copy_range(in, out, pos, size); /* no SEEK_DATA here */
			break;
		}
		off_t h = lseek(in, d, SEEK_HOLE);
		if (h < 0)
			h = size;
		rc = copy_range(in, out, d, h);
		pos = h;
	}
	close(in);
	close(out);
	return rc;
}

int fu_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	if (lstat(src, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISREG(st.st_mode))
		return copy_file(src, dst, st.st_mode);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST)
		return -1;
	DIR *d = opendir(src);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char s[4096], t[4096];
		snprintf(s, sizeof s, "%s/%s", src, e->d_name);
		snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
		rc = fu_copy_tree(s, t);
	}
	closedir(d);
	return rc;
}

uint64_t fu_free_bytes(const char *path)
{
	struct statvfs st;
	if (statvfs(path, &st) < 0)
		return 0;
	return (uint64_t)st.f_bavail * st.f_frsize;
}

uint64_t fu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- records ---------------------------------------------------------------- */

uint64_t fu_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void fu_rec_make(fu_rec *fr, uint32_t uid, uint32_t key_space, int64_t ts)
{
	memset(fr, 0, sizeof *fr);
	uint64_t st = 0x1234567ull ^ ((uint64_t)uid << 20);
	uint8_t *p = fr->buf;
	/* key */
	int kl = snprintf((char *)p, 24, "key-%u", key_space ? uid % key_space : uid);
	fr->r.key = p;
	fr->r.key_len = (size_t)kl;
	p += 24;
	/* value: uid, 'V', pseudo-random tail */
	size_t vl = 5 + (size_t)(fu_rand(&st) % 300);
	p[0] = (uint8_t)uid;
	p[1] = (uint8_t)(uid >> 8);
	p[2] = (uint8_t)(uid >> 16);
	p[3] = (uint8_t)(uid >> 24);
	p[4] = 'V';
	for (size_t i = 5; i < vl; i++)
		p[i] = (uint8_t)fu_rand(&st);
	fr->r.value = p;
	fr->r.value_len = vl;
	p += vl;
	/* headers: 0..2, one of them valueless */
	size_t nh = uid % 3;
	for (size_t i = 0; i < nh; i++) {
		int hl = snprintf((char *)p, 16, "h%zu", i);
		fr->hdrs[i].key = (const char *)p;
		fr->hdrs[i].key_len = (size_t)hl;
		p += 16;
		if (i == 1) {
			fr->hdrs[i].value = NULL;
		} else {
			size_t l = (size_t)(fu_rand(&st) % 40);
			for (size_t k = 0; k < l; k++)
				p[k] = (uint8_t)fu_rand(&st);
			fr->hdrs[i].value = p;
			fr->hdrs[i].value_len = l;
			p += 40;
		}
	}
	fr->r.headers = nh ? fr->hdrs : NULL;
	fr->r.header_count = nh;
	fr->r.timestamp = ts;
	fr->r.partition = VARVE_PARTITION_ANY;
}

int64_t fu_rec_uid(const varve_record *r)
{
	if (!r->value || r->value_len < 5 || ((const uint8_t *)r->value)[4] != 'V')
		return -1;
	const uint8_t *v = r->value;
	return (int64_t)((uint32_t)v[0] | ((uint32_t)v[1] << 8) | ((uint32_t)v[2] << 16) |
			 ((uint32_t)v[3] << 24));
}

static int blob_eq(const void *a, size_t al, const void *b, size_t bl)
{
	if (!a || !b)
		return !a && !b && al == bl;
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

int fu_rec_cmp(const varve_record *a, const varve_record *b, char *why, size_t cap)
{
	const char *w = NULL;
	if (!blob_eq(a->key, a->key_len, b->key, b->key_len))
		w = "key";
	else if (!blob_eq(a->value, a->value_len, b->value, b->value_len))
		w = "value";
	else if (a->timestamp != b->timestamp)
		w = "timestamp";
	else if (a->header_count != b->header_count)
		w = "header count";
	else
		for (size_t i = 0; i < a->header_count && !w; i++)
			if (!blob_eq(a->headers[i].key, a->headers[i].key_len, b->headers[i].key,
				     b->headers[i].key_len) ||
			    !blob_eq(a->headers[i].value, a->headers[i].value_len, b->headers[i].value,
				     b->headers[i].value_len))
				w = "header";
	if (!w)
		return 0;
	if (why)
		snprintf(why, cap, "%s differs", w);
	return 1;
}

/* ---- ledger -------------------------------------------------------------------- */

void fu_ledger_init(fu_ledger *l) { memset(l, 0, sizeof *l); }

void fu_ledger_free(fu_ledger *l)
{
	free(l->e);
	free(l->c);
	memset(l, 0, sizeof *l);
}

int fu_ledger_topic(fu_ledger *l, const char *name, int kind, uint32_t partitions)
{
	int i = l->ntopics++;
	snprintf(l->topics[i].name, sizeof l->topics[i].name, "%s", name);
	l->topics[i].kind = kind;
	l->topics[i].partitions = partitions;
	return i;
}

size_t fu_ledger_add(fu_ledger *l, int topic, uint32_t key_space, int64_t ts)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->e = realloc(l->e, l->cap * sizeof *l->e);
		if (!l->e)
			abort();
	}
	fu_entry *e = &l->e[l->n];
	memset(e, 0, sizeof *e);
	e->uid = l->next_uid++;
	e->topic = topic;
	e->key_space = key_space;
	e->ts = ts;
	e->part = -1;
	e->offset = -1;
	return l->n++;
}

void fu_ledger_commit(fu_ledger *l, const char *group, int topic, uint32_t part, int64_t off,
		      int acked)
{
	if (l->nc == l->ccap) {
		l->ccap = l->ccap ? l->ccap * 2 : 64;
		l->c = realloc(l->c, l->ccap * sizeof *l->c);
		if (!l->c)
			abort();
	}
	fu_commit *c = &l->c[l->nc++];
	memset(c, 0, sizeof *c);
	snprintf(c->group, sizeof c->group, "%s", group);
	c->topic = topic;
	c->part = part;
	c->offset = off;
	c->acked = acked;
}

static void failf(fu_report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(fu_report *rep, const char *fmt, ...)
{
	if (rep->failures++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(rep->first_failure, sizeof rep->first_failure, fmt, ap);
		va_end(ap);
	}
}

typedef struct part_state {
	int64_t start, end;
} part_state;

int fu_verify(const char *path, const struct varve_io_methods *io, const fu_ledger *l, int probe,
	      fu_report *rep)
{
	memset(rep, 0, sizeof *rep);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.io = io;
	varve_db *db = NULL;
	int rc = varve_open(path, &o, &db);
	if (rc) {
		failf(rep, "reopen failed: %s (%s)", varve_errmsg(rc),
		      varve_last_error()->message);
		return -1;
	}
	uint8_t *seen = calloc(l->n ? l->n : 1, 1);
	/* partition bounds per topic, for the legitimate-loss rules */
	part_state *ps[8];
	int present[8] = { 0 };
	for (int k = 0; k < 8; k++)
		ps[k] = calloc(VARVE_MAX_PARTITIONS, sizeof **ps);
	char **names = NULL;
	size_t nn = 0;
	if ((rc = varve_topic_list(db, &names, &nn)))
		failf(rep, "topic list: %s", varve_last_error()->message);
	for (size_t i = 0; i < nn; i++) {
		int ti = -1;
		for (int k = 0; k < l->ntopics; k++)
			if (!strcmp(l->topics[k].name, names[i]))
				ti = k;
		if (ti < 0) {
			failf(rep, "topic %s exists but was never created", names[i]);
			continue;
		}
		present[ti] = 1;
	}
	for (int ti = 0; ti < l->ntopics; ti++) {
		const fu_topic *t = &l->topics[ti];
		if (t->created && !t->deleted && !t->delete_tried && !present[ti])
			failf(rep, "topic %s was created (acknowledged) but is gone", t->name);
		if (t->deleted && present[ti])
			failf(rep, "topic %s was deleted (acknowledged) but is still listed", t->name);
		if (!present[ti])
			continue;
		varve_topic_config cfg;
		cfg.version = VARVE_TOPIC_CONFIG_VERSION;
		if ((rc = varve_topic_describe(db, t->name, &cfg))) {
			failf(rep, "describe %s: %s", t->name, varve_last_error()->message);
			continue;
		}
		if (cfg.partitions != t->partitions)
			failf(rep, "topic %s has %u partitions, created with %u", t->name, cfg.partitions,
			      t->partitions);
		for (uint32_t p = 0; p < cfg.partitions && p < VARVE_MAX_PARTITIONS; p++) {
			int64_t start = 0, end = 0;
			if ((rc = varve_offsets(db, t->name, p, &start, &end))) {
				failf(rep, "offsets %s/%u: %s", t->name, p, varve_last_error()->message);
				continue;
			}
			ps[ti][p].start = start;
			ps[ti][p].end = end;
			varve_iter *it = NULL;
			if ((rc = varve_iter_open(db, t->name, p, start, &it))) {
				failf(rep, "iter_open %s/%u at %" PRId64 ": %s", t->name, p, start,
				      varve_last_error()->message);
				continue;
			}
			int64_t expect = start, prev = -1;
			const varve_record *r;
			while ((rc = varve_iter_next(it, &r)) == 0) {
				rep->read++;
				if (r->offset <= prev)
					failf(rep, "%s/%u: offset %" PRId64 " after %" PRId64, t->name, p,
					      r->offset, prev);
				if (t->kind != FU_COMPACTED && r->offset != expect)
					failf(rep, "%s/%u: offset %" PRId64 ", expected %" PRId64 " (gap)",
					      t->name, p, r->offset, expect);
				if (r->offset >= end)
					failf(rep, "%s/%u: offset %" PRId64 " at or past end %" PRId64,
					      t->name, p, r->offset, end);
				prev = r->offset;
				expect = r->offset + 1;
				int64_t uid = fu_rec_uid(r);
				if (uid < 0 || (size_t)uid >= l->n) {
					failf(rep, "%s/%u@%" PRId64 ": a record that was never sent",
					      t->name, p, r->offset);
					continue;
				}
				const fu_entry *e = &l->e[uid];
				if (e->topic != ti) {
					failf(rep, "%s/%u@%" PRId64 ": uid %" PRId64 " was sent to %s",
					      t->name, p, r->offset, uid, l->topics[e->topic].name);
					continue;
				}
				if (seen[uid])
					failf(rep, "%s/%u@%" PRId64 ": uid %" PRId64 " read twice", t->name, p,
					      r->offset, uid);
				seen[uid] = 1;
				fu_rec want;
				fu_rec_make(&want, e->uid, e->key_space, e->ts);
				char why[64];
				if (fu_rec_cmp(r, &want.r, why, sizeof why))
					failf(rep, "%s/%u@%" PRId64 ": uid %" PRId64 ": %s", t->name, p,
					      r->offset, uid, why);
				if (e->acked) {
					rep->acked_found++;
					if (e->part != (int32_t)p || e->offset != r->offset)
						failf(rep, "uid %" PRId64 " acknowledged at %d@%" PRId64
						      ", found at %u@%" PRId64, uid, e->part, e->offset, p,
						      r->offset);
				} else {
					rep->unacked_found++;
				}
			}
			if (rc != VARVE_EEND)
				failf(rep, "%s/%u: iteration stopped at %" PRId64 " with %s (%s)", t->name,
				      p, expect, varve_errmsg(rc), varve_last_error()->message);
			else if (t->kind != FU_COMPACTED && expect != end)
				failf(rep, "%s/%u: iteration ended at %" PRId64 ", end offset %" PRId64,
				      t->name, p, expect, end);
			varve_iter_close(it);
		}
	}
	/* Every acknowledged record: found, or legitimately gone. */
	for (size_t i = 0; i < l->n; i++) {
		const fu_entry *e = &l->e[i];
		if (!e->acked)
			continue;
		rep->acked++;
		if (seen[i])
			continue;
		const fu_topic *t = &l->topics[e->topic];
		int legit = 0;
		if (t->deleted || (t->delete_tried && !present[e->topic]))
			legit = 1;
		else if (t->kind == FU_RETAINED && e->part >= 0 && e->part < VARVE_MAX_PARTITIONS &&
			 e->offset < ps[e->topic][e->part].start)
			legit = 1;
		else if (t->kind == FU_COMPACTED && e->key_space) {
			for (size_t j = 0; j < l->n && !legit; j++)
				if (seen[j] && l->e[j].topic == e->topic && l->e[j].key_space &&
				    l->e[j].uid % l->e[j].key_space == e->uid % e->key_space &&
				    j > i)
					legit = 1;
		}
		if (legit)
			rep->acked_gone_legit++;
		else
			failf(rep, "acknowledged record lost: uid %u, %s/%d@%" PRId64, e->uid, t->name,
			      e->part, e->offset);
	}
	/* Commits: at least the last acknowledged one. */
	for (size_t i = 0; i < l->nc; i++) {
		const fu_commit *c = &l->c[i];
		if (!c->acked || l->topics[c->topic].deleted || l->topics[c->topic].delete_tried)
			continue;
		int later = 0;
		for (size_t j = i + 1; j < l->nc; j++)
			if (l->c[j].acked && !strcmp(l->c[j].group, c->group) &&
			    l->c[j].topic == c->topic && l->c[j].part == c->part)
				later = 1;
		if (later)
			continue;
		int64_t got = -1;
		rc = varve_group_offset(db, c->group, l->topics[c->topic].name, c->part, &got);
		if (rc)
			failf(rep, "group %s %s/%u: committed %" PRId64 " (acknowledged), now %s",
			      c->group, l->topics[c->topic].name, c->part, c->offset, varve_errmsg(rc));
		else if (got < c->offset)
			failf(rep, "group %s %s/%u: committed %" PRId64 " (acknowledged), now %" PRId64,
			      c->group, l->topics[c->topic].name, c->part, c->offset, got);
	}
	/* The store still takes writes. */
	for (int ti = 0; probe && ti < l->ntopics; ti++) {
		if (!present[ti])
			continue;
		fu_rec fr;
		fu_rec_make(&fr, 0xFFFFFF00u, 0, 1);
		fr.r.partition = 0;
		int64_t off = -1;
		rc = varve_produce(db, l->topics[ti].name, &fr.r, NULL, &off);
		if (rc) {
			failf(rep, "probe append to %s after reopen: %s (%s)", l->topics[ti].name,
			      varve_errmsg(rc), varve_last_error()->message);
			continue;
		}
		varve_iter *it;
		const varve_record *r;
		if ((rc = varve_iter_open(db, l->topics[ti].name, 0, off, &it)) == 0) {
			rc = varve_iter_next(it, &r);
			if (rc || r->offset != off || fu_rec_cmp(r, &fr.r, NULL, 0))
				failf(rep, "probe record of %s does not read back", l->topics[ti].name);
			varve_iter_close(it);
		} else {
			failf(rep, "probe iter %s: %s", l->topics[ti].name, varve_last_error()->message);
		}
	}
	varve_strings_free(names, nn);
	free(seen);
	for (int k = 0; k < 8; k++)
		free(ps[k]);
	rc = varve_close(db);
	if (rc)
		failf(rep, "close after verify: %s (%s)", varve_errmsg(rc), varve_last_error()->message);
	return rep->failures ? -1 : 0;
}

/* ---- errors ---------------------------------------------------------------------- */

int fu_check_error(int rc, const char *what, char *why, size_t cap)
{
	const varve_error_info *e = varve_last_error();
	if (rc >= 0) {
		snprintf(why, cap, "%s: returned %d, not a negative code", what, rc);
		return -1;
	}
	if (!e->message || !e->message[0]) {
		snprintf(why, cap, "%s: %s with an empty varve_last_error() message", what,
			 varve_errmsg(rc));
		return -1;
	}
	if (e->code != rc) {
		snprintf(why, cap, "%s: returned %s but varve_last_error() says %s (%s)", what,
			 varve_errmsg(rc), varve_errmsg(e->code), e->message);
		return -1;
	}
	if (rc == VARVE_EINVAL || rc == VARVE_ECORRUPT || rc == VARVE_EFORMAT || rc == VARVE_ERROR ||
	    !strcmp(varve_errmsg(rc), "unknown error code")) {
		snprintf(why, cap, "%s: unexpected code %s (%s)", what, varve_errmsg(rc), e->message);
		return -1;
	}
	return 0;
}

/* ---- tree listings ------------------------------------------------------------------- */

static char **lines;
static size_t nlines, caplines;
static size_t root_len;

static uint64_t hash_file(const char *p)
{
	uint64_t h = 1469598103934665603ull;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	uint8_t buf[65536];
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < r; i++) {
			h ^= buf[i];
			h *= 1099511628211ull;
		}
	close(fd);
	return h;
}

static int list_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	char line[4608];
	char type = S_ISDIR(st->st_mode) ? 'd' : S_ISREG(st->st_mode) ? 'f' : S_ISLNK(st->st_mode) ? 'l' : '?';
	snprintf(line, sizeof line, "%s %c %o %lld %lld.%09ld %016" PRIx64, p + root_len, type,
		 (unsigned)(st->st_mode & 07777), (long long)st->st_size, (long long)st->st_mtim.tv_sec,
		 st->st_mtim.tv_nsec, type == 'f' ? hash_file(p) : 0);
	if (nlines == caplines) {
		caplines = caplines ? caplines * 2 : 64;
		lines = realloc(lines, caplines * sizeof *lines);
	}
	lines[nlines++] = strdup(line);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *fu_tree_listing(const char *dir)
{
	nlines = 0;
	root_len = strlen(dir);
	nftw(dir, list_cb, 32, FTW_PHYS);
	qsort(lines, nlines, sizeof *lines, cmp_str);
	size_t total = 1;
	for (size_t i = 0; i < nlines; i++)
		total += strlen(lines[i]) + 1;
	char *out = malloc(total), *q = out;
	for (size_t i = 0; i < nlines; i++) {
		size_t l = strlen(lines[i]);
		memcpy(q, lines[i], l);
		q[l] = '\n';
		q += l + 1;
		free(lines[i]);
	}
	*q = 0;
	free(lines);
	lines = NULL;
	caplines = 0;
	nlines = 0;
	return out;
}

const char *fu_code_name(int rc)
{
	static const char *const n[] = {
		"OK", "ERROR", "EINVAL", "ENOMEM", "EIO", "ECORRUPT", "ENOTFOUND", "EEXISTS",
		"ELOCKED", "EREADONLY", "EFORMAT", "EOFFSET", "ETIMEDOUT", "EAGAIN", "ENOSPC",
		"EEND", "ETOOBIG", "ECLOSED", "ENOTSUP", "ECONFLICT", "EBUSY", "ESEQUENCE",
		"EFENCED", "EDUPLICATE",
	};
	if (rc <= 0 && -rc < (int)(sizeof n / sizeof n[0]))
		return n[-rc];
	return "?";
}

/* The failure text without numbers and paths: failures of one kind at many
 * N count once in the report. */
static void failure_key(const char *msg, char *key, size_t cap)
{
	const char *m = strstr(msg, "): ");
	m = m ? m + 3 : msg;
	size_t k = 0;
	for (; *m && k + 1 < cap; m++) {
		if (*m >= '0' && *m <= '9')
			continue;
		if (*m == '/') { /* skip a path */
			while (*m && *m != ' ' && *m != ':' && *m != ')')
				m++;
			if (!*m)
				break;
		}
		key[k++] = *m;
	}
	key[k] = 0;
}

void fu_fail(fu_failures *t, const char *fmt, ...)
{
	char msg[1200], key[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	failure_key(msg, key, sizeof key);
	t->failures++;
	for (int i = 0; i < t->kinds; i++)
		if (!strcmp(t->key[i], key)) {
			t->count[i]++;
			return;
		}
	if (t->kinds < 8) {
		snprintf(t->first[t->kinds], sizeof t->first[0], "%s", msg);
		snprintf(t->key[t->kinds], sizeof t->key[0], "%s", key);
		t->count[t->kinds++] = 1;
	}
}
