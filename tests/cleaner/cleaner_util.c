/* SPDX-License-Identifier: MIT */
/* cleaner_util.c -- see cleaner_util.h. */
#include "cleaner_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cl_dbg_log(void *ctx, int level, const char *m)
{
	(void)ctx;
	if (level >= VARVE_LOG_WARN)
		fprintf(stderr, "[varve %d] %s\n", level, m);
}

varve_options cl_opts(t_clock *clk)
{
	varve_options o = t_opts();
	atomic_store(&clk->now, T0);
	o.clock_fn = t_clock_fn;
	o.clock_ctx = clk;
	o.segment_ms = 0;
	if (getenv("CL_DEBUG_LOG")) {
		o.log_fn = cl_dbg_log;
	}
	return o;
}

varve_topic_config cl_cfg(void)
{
	varve_topic_config c;
	cr_assert_eq(varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION), 0);
	return c;
}

void cl_topic(varve_db *db, const char *name, const varve_topic_config *c)
{
	int rc = varve_topic_create(db, name, c);
	t_assert_rc(rc, VARVE_OK);
}

void cl_list_init(cl_list *l) { memset(l, 0, sizeof *l); }

static uint8_t *dup_bytes(const void *p, size_t n)
{
	if (!p)
		return NULL;
	uint8_t *d = malloc(n ? n : 1);
	cr_assert(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

void cl_list_add(cl_list *l, const varve_record *r, int64_t off)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		cr_assert(l->v);
	}
	cl_rec *x = &l->v[l->n++];
	memset(x, 0, sizeof *x);
	x->off = off;
	x->ts = r->timestamp;
	x->key = dup_bytes(r->key, r->key_len);
	x->klen = r->key ? r->key_len : 0;
	x->val = dup_bytes(r->value, r->value_len);
	x->vlen = r->value ? r->value_len : 0;
	x->nh = r->header_count;
	if (x->nh) {
		x->hk = calloc(x->nh, sizeof *x->hk);
		x->hv = calloc(x->nh, sizeof *x->hv);
		x->hkl = calloc(x->nh, sizeof *x->hkl);
		x->hvl = calloc(x->nh, sizeof *x->hvl);
		cr_assert(x->hk && x->hv && x->hkl && x->hvl);
		for (size_t i = 0; i < x->nh; i++) {
			x->hk[i] = dup_bytes(r->headers[i].key ? r->headers[i].key : "",
					     r->headers[i].key_len);
			x->hkl[i] = r->headers[i].key_len;
			x->hv[i] = dup_bytes(r->headers[i].value, r->headers[i].value_len);
			x->hvl[i] = r->headers[i].value ? r->headers[i].value_len : 0;
		}
	}
}

void cl_list_free(cl_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		cl_rec *x = &l->v[i];
		free(x->key);
		free(x->val);
		for (size_t h = 0; h < x->nh; h++) {
			free(x->hk[h]);
			free(x->hv[h]);
		}
		free(x->hk);
		free(x->hv);
		free(x->hkl);
		free(x->hvl);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

void cl_read(varve_db *db, const char *topic, uint32_t part, cl_list *out)
{
	cl_list_init(out);
	int64_t start = -1, end = -1;
	t_ok(varve_offsets(db, topic, part, &start, &end));
	varve_iter *it = NULL;
	t_ok(varve_iter_open(db, topic, part, start, &it));
	const varve_record *r;
	int rc;
	int64_t prev = -1;
	while ((rc = varve_iter_next(it, &r)) == VARVE_OK) {
		cr_assert_gt(r->offset, prev, "offsets not increasing: %" PRId64 " after %" PRId64,
			     r->offset, prev);
		cr_assert_geq(r->offset, start);
		cr_assert_lt(r->offset, end);
		prev = r->offset;
		cl_list_add(out, r, r->offset);
	}
	t_assert_rc(rc, VARVE_EEND);
	varve_iter_close(it);
}

static int blob_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	if (!a || !b)
		return !a && !b;
	return al == bl && (al == 0 || !memcmp(a, b, al));
}

int cl_rec_eq(const cl_rec *a, const cl_rec *b)
{
	if (a->off != b->off || a->ts != b->ts || a->nh != b->nh)
		return 0;
	if (!blob_eq(a->key, a->klen, b->key, b->klen) || !blob_eq(a->val, a->vlen, b->val, b->vlen))
		return 0;
	for (size_t i = 0; i < a->nh; i++)
		if (!blob_eq(a->hk[i], a->hkl[i], b->hk[i], b->hkl[i]) ||
		    !blob_eq(a->hv[i], a->hvl[i], b->hv[i], b->hvl[i]))
			return 0;
	return 1;
}

int cl_list_diff(const cl_list *a, const cl_list *b, char *why, size_t cap)
{
	size_t n = a->n < b->n ? a->n : b->n;
	for (size_t i = 0; i < n; i++) {
		if (!cl_rec_eq(&a->v[i], &b->v[i])) {
			snprintf(why, cap,
				 "record %zu differs: offset %" PRId64 " (key %.*s, %s, %zu bytes) vs "
				 "offset %" PRId64 " (key %.*s, %s, %zu bytes)",
				 i, a->v[i].off, (int)(a->v[i].klen > 40 ? 40 : a->v[i].klen),
				 a->v[i].key ? (const char *)a->v[i].key : "", a->v[i].val ? "value" : "tombstone",
				 a->v[i].vlen, b->v[i].off, (int)(b->v[i].klen > 40 ? 40 : b->v[i].klen),
				 b->v[i].key ? (const char *)b->v[i].key : "", b->v[i].val ? "value" : "tombstone",
				 b->v[i].vlen);
			return 1;
		}
	}
	if (a->n != b->n) {
		snprintf(why, cap, "%zu records vs %zu (first extra at offset %" PRId64 ")", a->n, b->n,
			 a->n > b->n ? a->v[n].off : b->v[n].off);
		return 1;
	}
	if (cap)
		why[0] = 0;
	return 0;
}

size_t cl_segments(const char *store, const char *topic, uint32_t part, int64_t *bases,
		   size_t max)
{
	return t_segments(t_part_dir(store, topic, part), bases, max);
}

uint64_t cl_seg_data(const char *log_path)
{
	/* walk the batch headers (lengths at byte 12) without reading the
	 * whole file: an active segment's file holds megabytes of zeros */
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0, "open %s", log_path);
	struct stat st;
	cr_assert(fstat(fd, &st) == 0);
	uint64_t q = 0, n = (uint64_t)st.st_size;
	uint8_t hb[16];
	while (q + 80 <= n && pread(fd, hb, sizeof hb, (off_t)q) == (ssize_t)sizeof hb) {
		uint32_t len = (uint32_t)hb[12] | ((uint32_t)hb[13] << 8) | ((uint32_t)hb[14] << 16) |
			       ((uint32_t)hb[15] << 24);
		if (len < 80 || q + len > n)
			break;
		q += len;
	}
	close(fd);
	return q;
}

uint8_t *cl_read_prefix(const char *path, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0, "open %s", path);
	uint8_t *b = malloc(n ? n : 1);
	cr_assert(b);
	cr_assert(pread(fd, b, n, 0) == (ssize_t)n, "read %zu bytes of %s", n, path);
	close(fd);
	return b;
}

uint64_t cl_log_bytes(const char *store, const char *topic, uint32_t part)
{
	int64_t bases[4096];
	size_t n = cl_segments(store, topic, part, bases, 4096);
	cr_assert_leq(n, 4096);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += cl_seg_data(t_seg_path(store, topic, part, bases[i], ".log"));
	return total;
}

size_t cl_junk(const char *store, const char *topic, uint32_t part)
{
	return t_count_suffix(t_part_dir(store, topic, part), ".cleaned") +
	       t_count_suffix(t_part_dir(store, topic, part), ".swap") +
	       t_count_suffix(t_part_dir(store, topic, part), ".replaces");
}

varve_stats cl_stats(varve_db *db)
{
	varve_stats s;
	memset(&s, 0, sizeof s);
	s.version = VARVE_STATS_VERSION;
	t_ok(varve_stats_get(db, &s));
	return s;
}
