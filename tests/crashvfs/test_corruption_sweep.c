/* SPDX-License-Identifier: MIT */
/*
 * test_corruption_sweep.c -- flip every byte of every file of a small store.
 *
 * The store: topic a (2 partitions, several segments, an idempotent
 * producer's batches), topic z (LZ4), topic k (compacted once: a cleaner
 * checkpoint), committed offsets, a clean close. Files: segments (.log,
 * .index, .timeindex), recovery-point, cleaner-checkpoint,
 * producer-snapshot, the metadata log, VERSION.
 *
 * For every byte of every file, xor 0xff (even positions) or a random
 * single bit (odd positions; VARVE_SWEEP_FULL=1 does both everywhere), on a
 * fresh copy each time, the store is opened as the writer and, on another
 * fresh copy, read-only (in an ASan build one of the two, alternately:
 * VARVE_SWEEP_FULL=1 does both); every partition is read from its start to
 * VARVE_EEND, then a seek to every offset and time lookups are compared with
 * the undamaged store. VARVE_SWEEP_STRIDE=k flips only every kth byte of each
 * file (default 1: every byte; .ci/valgrind uses a stride). Nothing may crash
 * (ASan-clean), and:
 *
 *  - no read ever returns a record whose bytes differ from what was written;
 *  - a flip in a .log file is detected: the open fails with VARVE_ECORRUPT
 *    naming the file (the metadata log is replayed at open), recovery
 *    reports a cut in that segment, or a read returns VARVE_ECORRUPT naming
 *    the file and a byte position -- records never just go missing;
 *  - a flip anywhere else (indexes, recovery point, cleaner checkpoint,
 *    producer snapshot) changes nothing a read returns; a flipped VERSION
 *    may fail the open with VARVE_EFORMAT.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crash_util.h"

static void fini(void) { cu_cleanup(); }

TestSuite(corruption_sweep, .fini = fini, .timeout = 1200);

/* ---- the reference store ----------------------------------------------------- */

typedef struct ref_part {
	char topic[16];
	uint32_t part;
	int64_t start, end;
	m_rec *recs; /* by offset - start; knull == 2: no record at that offset (compacted) */
	int64_t seek_first[256];  /* first offset an iterator opened at start+i returns (-1 EEND) */
	int64_t time_q[32], time_a[32];
	int time_rc[32];
	size_t ntime;
} ref_part;

static struct {
	char dir[1024];
	varve_options o;
	ref_part parts[8];
	size_t nparts;
	int64_t commit_g1_a0, commit_g1_a1, commit_g2_z0;
	char *files[256];
	size_t nfiles;
	uint64_t total_bytes;
} R;

static void copy_rec(m_rec *d, const varve_record *r)
{
	memset(d, 0, sizeof *d);
	d->knull = r->key == NULL;
	d->klen = r->key_len;
	d->key = malloc(r->key_len + 1);
	if (r->key_len)
		memcpy(d->key, r->key, r->key_len);
	d->vnull = r->value == NULL;
	d->vlen = r->value_len;
	d->val = malloc(r->value_len + 1);
	if (r->value_len)
		memcpy(d->val, r->value, r->value_len);
	d->ts = r->timestamp;
	cr_assert_leq(r->header_count, 2);
	d->nh = r->header_count;
	for (size_t i = 0; i < r->header_count; i++) {
		m_hdr *h = &d->hdr[i];
		cr_assert_leq(r->headers[i].key_len, sizeof h->key);
		cr_assert_leq(r->headers[i].value_len, sizeof h->val);
		memcpy(h->key, r->headers[i].key, r->headers[i].key_len);
		h->klen = r->headers[i].key_len;
		h->vnull = r->headers[i].value == NULL;
		h->vlen = r->headers[i].value_len;
		if (h->vlen)
			memcpy(h->val, r->headers[i].value, h->vlen);
	}
}

static void produce(varve_db *db, const char *topic, int32_t part, const char *key, size_t vlen,
		    int64_t ts, int with_header)
{
	char v[256];
	for (size_t i = 0; i < vlen && i < sizeof v; i++)
		v[i] = (char)('A' + (i * 7 + (size_t)ts) % 26);
	varve_header h = { "h", 1, "hv", 2 };
	varve_record r;
	memset(&r, 0, sizeof r);
	r.key = key;
	r.key_len = key ? strlen(key) : 0;
	r.value = v;
	r.value_len = vlen;
	r.headers = with_header ? &h : NULL;
	r.header_count = with_header ? 1 : 0;
	r.timestamp = ts;
	r.partition = part;
	cr_assert_eq(varve_produce(db, topic, &r, NULL, NULL), 0, "%s", varve_last_error()->message);
}

static void list_files(const char *base, const char *rel)
{
	char path[2048];
	snprintf(path, sizeof path, "%s%s%s", base, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	cr_assert(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char sub[2048], full[4096];
		snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		snprintf(full, sizeof full, "%s/%s", base, sub);
		struct stat st;
		cr_assert_eq(stat(full, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			list_files(base, sub);
		} else if (st.st_size > 0 && strcmp(e->d_name, "LOCK")) {
			cr_assert_lt(R.nfiles, 256);
			R.files[R.nfiles++] = strdup(sub);
			R.total_bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
}

static void reference(varve_db *db, const char *topic, uint32_t part)
{
	ref_part *rp = &R.parts[R.nparts++];
	memset(rp, 0, sizeof *rp);
	snprintf(rp->topic, sizeof rp->topic, "%s", topic);
	rp->part = part;
	cr_assert_eq(varve_offsets(db, topic, part, &rp->start, &rp->end), 0);
	cr_assert_leq(rp->end - rp->start, 255);
	rp->recs = calloc((size_t)(rp->end - rp->start) + 1, sizeof *rp->recs);
	for (int64_t o = rp->start; o < rp->end; o++)
		rp->recs[o - rp->start].knull = 2;
	varve_iter *it;
	cr_assert_eq(varve_iter_open(db, topic, part, rp->start, &it), 0);
	const varve_record *r;
	int rc;
	int64_t mints = INT64_MAX, maxts = INT64_MIN;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		copy_rec(&rp->recs[r->offset - rp->start], r);
		if (r->timestamp < mints)
			mints = r->timestamp;
		if (r->timestamp > maxts)
			maxts = r->timestamp;
	}
	cr_assert_eq(rc, VARVE_EEND);
	varve_iter_close(it);
	for (int64_t o = rp->start; o <= rp->end; o++) {
		cr_assert_eq(varve_iter_open(db, topic, part, o, &it), 0);
		rc = varve_iter_next(it, &r);
		rp->seek_first[o - rp->start] = rc == 0 ? r->offset : -1;
		varve_iter_close(it);
	}
	rp->ntime = 0;
	for (int64_t t = mints - 1; t <= maxts + 1 && rp->ntime < 32;
	     t += (maxts - mints) / 20 + 1) {
		rp->time_q[rp->ntime] = t;
		rp->time_rc[rp->ntime] = varve_offset_for_time(db, topic, part, t, &rp->time_a[rp->ntime]);
		rp->ntime++;
	}
}

static void build(void)
{
	memset(&R, 0, sizeof R);
	cu_newpath(R.dir, sizeof R.dir, "pristine");
	varve_options o = VARVE_OPTIONS_INIT;
	o.segment_bytes = 1024;
	o.index_interval_bytes = 64;
	o.max_record_bytes = 8192;
	o.start_cleaner = 0;
	R.o = o;
	varve_db *db;
	cr_assert_eq(varve_open(R.dir, &o, &db), 0);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = 2;
	cr_assert_eq(varve_topic_create(db, "a", &c), 0);
	c = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;
	c.codec = VARVE_CODEC_LZ4;
	cr_assert_eq(varve_topic_create(db, "z", &c), 0);
	c = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.min_cleanable_dirty_ratio = 0;
	cr_assert_eq(varve_topic_create(db, "k", &c), 0);
	int64_t ts = 1700000000000LL;
	for (int i = 0; i < 14; i++)
		produce(db, "a", 0, i % 3 ? "key" : NULL, 30 + (size_t)(i * 13) % 90, ts += 1000, i % 4 == 0);
	for (int i = 0; i < 3; i++)
		produce(db, "a", 1, "p1", 20, ts += 1000, 0);
	for (int i = 0; i < 4; i++)
		produce(db, "z", 0, "zz", 120, ts += 1000, i == 1);
	for (int i = 0; i < 12; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i % 3);
		produce(db, "k", 0, k, 60, ts += 1000, 0);
	}
	/* an idempotent producer: a producer snapshot and producer metadata */
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	po.name = "idem";
	varve_producer *p;
	cr_assert_eq(varve_producer_open(db, &po, &p), 0);
	for (int i = 0; i < 2; i++) {
		varve_record r;
		memset(&r, 0, sizeof r);
		r.value = "idempotent";
		r.value_len = 10;
		r.timestamp = (ts += 1000);
		int32_t seq = VARVE_SEQUENCE_AUTO;
		cr_assert_eq(varve_producer_send(p, "a", 1, &r, 1, &seq), 0, "%s",
			     varve_last_error()->message);
	}
	varve_producer_close(p);
	cr_assert_eq(varve_clean_now(db, 1), 0); /* compacts k: a cleaner checkpoint */
	cr_assert_eq(varve_group_commit(db, "g1", "a", 0, 5, "meta"), 0);
	cr_assert_eq(varve_group_commit(db, "g1", "a", 1, 2, NULL), 0);
	cr_assert_eq(varve_group_commit(db, "g2", "z", 0, 3, NULL), 0);
	R.commit_g1_a0 = 5;
	R.commit_g1_a1 = 2;
	R.commit_g2_z0 = 3;
	cr_assert_eq(varve_close(db), 0);
	o.read_only = 1;
	cr_assert_eq(varve_open(R.dir, &o, &db), 0);
	reference(db, "a", 0);
	reference(db, "a", 1);
	reference(db, "z", 0);
	reference(db, "k", 0);
	varve_close(db);
	list_files(R.dir, "");
}

/* ---- one damaged copy ---------------------------------------------------------- */

typedef struct failure {
	char key[160];  /* file kind + what went wrong, without numbers */
	char example[1400];
	uint64_t count;
} failure;

typedef struct sweep {
	uint64_t flips, opens, refused, cuts, read_errors, clean;
	uint64_t log_flips, bad;
	int failed; /* this flip */
	char why[1024];
	failure fails[32];
	size_t nfails;
} sweep;

static int is_log(const char *f)
{
	size_t l = strlen(f);
	return l > 4 && !strcmp(f + l - 4, ".log");
}

#define BAD(...)                                                     \
	do {                                                         \
		if (!sw->failed)                                     \
			snprintf(sw->why, sizeof sw->why, __VA_ARGS__); \
		sw->failed = 1;                                      \
		goto out;                                            \
	} while (0)

/* An error naming the flipped file and a byte position. */
static int names_file(const char *msg, const char *file)
{
	return strstr(msg, file) != NULL && strstr(msg, "at byte") != NULL;
}

static void check(const char *dir, const char *file, uint64_t off, int ro, sweep *sw)
{
	varve_options o = R.o;
	o.read_only = ro;
	varve_db *db = NULL;
	int log = is_log(file);
	int detected = 0;
	const char *mode = ro ? "read-only" : "writer";
	int rc = varve_open(dir, &o, &db);
	sw->opens++;
	if (rc) {
		const char *msg = varve_last_error()->message;
		if (log && rc == VARVE_ECORRUPT && strstr(msg, file)) {
			sw->refused++;
			return;
		}
		if (!strcmp(file, "VERSION") && rc == VARVE_EFORMAT) {
			sw->refused++;
			return;
		}
		BAD("%s open failed: %s (%s)", mode, varve_errmsg(rc), msg);
	}
	const varve_recovery_cut *cuts;
	size_t nc;
	varve_recovery_cuts(db, &cuts, &nc);
	for (size_t i = 0; i < nc; i++) {
		char seg[64];
		snprintf(seg, sizeof seg, "%020" PRId64 ".log", cuts[i].segment_base);
		if (log && strstr(file, seg) && cuts[i].position <= off)
			detected = 1;
	}
	if (nc && !detected)
		BAD("%s open: recovery cut %s/%d segment %" PRId64 " at %" PRIu64 " (%s), not where the "
		    "flip is",
		    mode, cuts[0].topic, cuts[0].partition, cuts[0].segment_base, cuts[0].position,
		    cuts[0].reason);
	if (detected)
		sw->cuts++;
	for (size_t k = 0; k < R.nparts; k++) {
		ref_part *rp = &R.parts[k];
		int64_t start, end;
		rc = varve_offsets(db, rp->topic, rp->part, &start, &end);
		if (rc)
			BAD("%s: varve_offsets %s/%u: %s", mode, rp->topic, rp->part, varve_errmsg(rc));
		if (!detected && (start != rp->start || end != rp->end))
			BAD("%s: %s/%u is [%" PRId64 ", %" PRId64 "), was [%" PRId64 ", %" PRId64 ")", mode,
			    rp->topic, rp->part, start, end, rp->start, rp->end);
		/* read all */
		varve_iter *it;
		rc = varve_iter_open(db, rp->topic, rp->part, start, &it);
		if (rc == VARVE_ECORRUPT && log && names_file(varve_last_error()->message, file)) {
			detected = 1;
			continue;
		}
		if (rc)
			BAD("%s: iter_open %s/%u: %s (%s)", mode, rp->topic, rp->part, varve_errmsg(rc),
			    varve_last_error()->message);
		const varve_record *r;
		int64_t next = start;
		while ((rc = varve_iter_next(it, &r)) == 0) {
			char d[160];
			if (r->offset < next || r->offset >= rp->end || rp->recs[r->offset - rp->start].knull == 2) {
				varve_iter_close(it);
				BAD("%s: %s/%u returned offset %" PRId64 " that was never written there",
				    mode, rp->topic, rp->part, r->offset);
			}
			if (m_rec_cmp(&rp->recs[r->offset - rp->start], r, d, sizeof d)) {
				varve_iter_close(it);
				BAD("%s: %s/%u offset %" PRId64 " differs from what was written: %s", mode,
				    rp->topic, rp->part, r->offset, d);
			}
			/* nothing skipped */
			for (int64_t q = next; q < r->offset; q++)
				if (rp->recs[q - rp->start].knull != 2) {
					varve_iter_close(it);
					BAD("%s: %s/%u skipped offset %" PRId64 " silently", mode, rp->topic,
					    rp->part, q);
				}
			next = r->offset + 1;
		}
		varve_iter_close(it);
		if (rc == VARVE_ECORRUPT && log && names_file(varve_last_error()->message, file)) {
			detected = 1;
			sw->read_errors++;
			continue;
		}
		if (rc != VARVE_EEND)
			BAD("%s: reading %s/%u after %" PRId64 ": %s (%s)", mode, rp->topic, rp->part, next,
			    varve_errmsg(rc), varve_last_error()->message);
		for (int64_t q = next; q < rp->end; q++)
			if (rp->recs[q - rp->start].knull != 2 && !detected)
				BAD("%s: %s/%u: reading stopped at %" PRId64 " without an error, %" PRId64
				    " records were written",
				    mode, rp->topic, rp->part, next, rp->end);
		if (detected)
			continue;
		/* seeks and time lookups: as in the undamaged store */
		for (int64_t s = rp->start; s <= rp->end; s++) {
			rc = varve_iter_open(db, rp->topic, rp->part, s, &it);
			if (rc == VARVE_ECORRUPT && log && names_file(varve_last_error()->message, file)) {
				detected = 1;
				break;
			}
			if (rc)
				BAD("%s: seek %s/%u to %" PRId64 ": %s (%s)", mode, rp->topic, rp->part, s,
				    varve_errmsg(rc), varve_last_error()->message);
			rc = varve_iter_next(it, &r);
			int64_t got = rc == 0 ? r->offset : -1;
			const char *msg = varve_last_error()->message;
			varve_iter_close(it);
			if (rc && rc != VARVE_EEND) {
				if (rc == VARVE_ECORRUPT && log && names_file(msg, file)) {
					detected = 1;
					break;
				}
				BAD("%s: seek %s/%u to %" PRId64 ", next: %s (%s)", mode, rp->topic,
				    rp->part, s, varve_errmsg(rc), msg);
			}
			if (got != rp->seek_first[s - rp->start])
				BAD("%s: seek %s/%u to %" PRId64 " returns offset %" PRId64 ", was %" PRId64,
				    mode, rp->topic, rp->part, s, got, rp->seek_first[s - rp->start]);
		}
		for (size_t t = 0; !detected && t < rp->ntime; t++) {
			int64_t a = -1;
			rc = varve_offset_for_time(db, rp->topic, rp->part, rp->time_q[t], &a);
			if (rc == VARVE_ECORRUPT && log && names_file(varve_last_error()->message, file)) {
				detected = 1;
				break;
			}
			if (rc != rp->time_rc[t] || a != rp->time_a[t])
				BAD("%s: offset_for_time(%s/%u, %" PRId64 ") = %d/%" PRId64 ", was %d/%" PRId64,
				    mode, rp->topic, rp->part, rp->time_q[t], rc, a, rp->time_rc[t],
				    rp->time_a[t]);
		}
	}
	/* committed offsets: as they were, unless the metadata log was damaged
	 * and that was reported; then a group falls back to an earlier commit
	 * (or to none), never to a later one */
	{
		const char *gs[3] = { "g1", "g1", "g2" }, *ts[3] = { "a", "a", "z" };
		int32_t ps[3] = { 0, 1, 0 };
		int64_t want[3] = { R.commit_g1_a0, R.commit_g1_a1, R.commit_g2_z0 };
		int meta_cut = detected && strstr(file, "meta/") != NULL;
		for (int i = 0; i < 3; i++) {
			int64_t g = -1;
			int grc = varve_group_offset(db, gs[i], ts[i], ps[i], &g);
			if (grc == 0 && g == want[i])
				continue;
			if (meta_cut && ((grc == VARVE_ENOTFOUND) || (grc == 0 && g < want[i])))
				continue;
			BAD("%s: committed offset of %s %s/%d changed: %s %" PRId64 ", was %" PRId64, mode,
			    gs[i], ts[i], ps[i], varve_errmsg(grc), g, want[i]);
		}
	}
	if (log && !detected)
		BAD("%s: a flipped byte of a log went unnoticed (no cut, no error)", mode);
	if (!detected)
		sw->clean++;
out:
	if (db)
		varve_close(db);
}

static const char *kind_of(const char *file)
{
	const char *dot = strrchr(file, '.'), *slash = strrchr(file, '/');
	const char *name = slash ? slash + 1 : file;
	if (dot && dot > name)
		return dot;
	return name;
}

/* Count the failure under a key made of the file kind and the message with
 * its numbers blanked; keep the first example of each. */
static void record_failure(sweep *sw, const char *file, uint64_t off, uint8_t mask)
{
	sw->bad++;
	char key[160];
	int n = snprintf(key, sizeof key, "%s%s: ", strncmp(file, "meta/", 5) ? "" : "meta ",
			 kind_of(file));
	for (const char *c = sw->why; *c && n < (int)sizeof key - 1; c++) {
		if (*c >= '0' && *c <= '9') {
			if (n && key[n - 1] != '#')
				key[n++] = '#';
			continue;
		}
		if (!strncmp(c, " (kept", 6) || !strncmp(c, " [", 2))
			break;
		key[n++] = *c;
	}
	key[n] = 0;
	for (size_t i = 0; i < sw->nfails; i++)
		if (!strcmp(sw->fails[i].key, key)) {
			sw->fails[i].count++;
			return;
		}
	if (sw->nfails == 32)
		return;
	failure *f = &sw->fails[sw->nfails++];
	snprintf(f->key, sizeof f->key, "%s", key);
	snprintf(f->example, sizeof f->example, "%s byte %llu ^ 0x%02x: %s", file,
		 (unsigned long long)off, mask, sw->why);
	f->count = 1;
}

/* Which opens of a flipped copy: both (writer, read-only); in an ASan build
 * one of them, alternately, unless VARVE_SWEEP_FULL=1. */
static int open_modes(uint64_t off, int *from, int *to)
{
	if (cu_asan() && !cu_env_u64("VARVE_SWEEP_FULL", 0)) {
		*from = *to = (int)(off / 2 % 2);
		return 1;
	}
	*from = 0;
	*to = 1;
	return 2;
}

static void flip_and_check(const char *file, uint64_t off, uint8_t mask, sweep *sw)
{
	int ro_from, ro_to;
	open_modes(off, &ro_from, &ro_to);
	for (int ro = ro_from; ro <= ro_to; ro++) {
		sw->failed = 0;
		char dir[1024], path[2048];
		cu_newpath(dir, sizeof dir, "flip");
		cr_assert_eq(cu_copy_tree(R.dir, dir), 0);
		snprintf(path, sizeof path, "%s/%s", dir, file);
		size_t n;
		uint8_t *b = cu_read_file(path, &n);
		cr_assert(b && off < n);
		b[off] ^= mask;
		cr_assert_eq(cu_write_file(path, b, n), 0);
		free(b);
		check(dir, file, off, ro, sw);
		if (sw->failed) {
			record_failure(sw, file, off, mask);
			/* keep the damaged copy (the run's root is removed only when
			 * VARVE_CRASH_KEEP is unset) */
			const char *base = getenv("VARVE_TEST_TMPDIR");
			if (base && *base) {
				char k[1300];
				mkdir(base, 0700);
				snprintf(k, sizeof k, "%s/flip-%s-%llu", base, ro ? "ro" : "rw",
					 (unsigned long long)off);
				for (char *c = k + strlen(base) + 1; *c; c++)
					if (*c == '/')
						*c = '_';
				cu_rm_rf(k);
				cu_copy_tree(R.dir, k);
				char kp[2400];
				snprintf(kp, sizeof kp, "%s/%s", k, file);
				b = cu_read_file(kp, &n);
				if (b) {
					b[off] ^= mask;
					cu_write_file(kp, b, n);
					free(b);
				}
			}
		} else {
			cu_rm_rf(dir);
		}
	}
	sw->flips++;
}

static void sweep_files(int logs)
{
	double t0 = cu_now_s();
	build();
	int full = cu_env_u64("VARVE_SWEEP_FULL", 0) != 0;
	uint64_t stride = cu_env_u64("VARVE_SWEEP_STRIDE", 1);
	if (stride < 1)
		stride = 1;
	uint64_t rng = cu_env_u64("VARVE_CRASH_SEED", 99);
	sweep sw;
	memset(&sw, 0, sizeof sw);
	uint64_t bytes = 0;
	for (size_t i = 0; i < R.nfiles; i++) {
		const char *f = R.files[i];
		if (is_log(f) != logs)
			continue;
		char path[2048];
		snprintf(path, sizeof path, "%s/%s", R.dir, f);
		int64_t n = cu_fsize(path);
		bytes += (uint64_t)n;
		for (int64_t off = 0; off < n; off++) {
			/* one flip per byte: xor 0xff or a random bit, alternately
			 * (VARVE_SWEEP_FULL=1: both) */
			uint8_t bit = (uint8_t)(1u << (cu_rand(&rng) % 8));
			if ((uint64_t)off % stride)
				continue;
			if (full || off % 2 == 0)
				flip_and_check(f, (uint64_t)off, 0xff, &sw);
			if (full || off % 2 == 1)
				flip_and_check(f, (uint64_t)off, bit, &sw);
			if (logs)
				sw.log_flips++;
		}
	}
	printf("crashvfs: corruption_sweep[%s]: %llu bytes in %s flipped (%llu flips, %llu opens): "
	       "%llu opens refused with the file named, %llu cuts at the damage, %llu reads "
	       "returned VARVE_ECORRUPT naming file and position, %llu unchanged reads; store of "
	       "%zu files, %llu bytes; %.1f s\n",
	       logs ? ".log" : "other files", (unsigned long long)bytes, logs ? "logs" : "the rest",
	       (unsigned long long)sw.flips, (unsigned long long)sw.opens,
	       (unsigned long long)sw.refused, (unsigned long long)sw.cuts,
	       (unsigned long long)sw.read_errors, (unsigned long long)sw.clean, R.nfiles,
	       (unsigned long long)R.total_bytes, cu_now_s() - t0);
	for (size_t i = 0; i < sw.nfails; i++)
		printf("crashvfs: corruption_sweep[%s]: FAILED %llu times: %s\n   e.g. %s\n",
		       logs ? ".log" : "other files", (unsigned long long)sw.fails[i].count,
		       sw.fails[i].key, sw.fails[i].example);
	fflush(stdout);
	cr_assert_eq(sw.bad, 0, "%llu damaged copies broke a promise (%zu kinds, listed on stdout); "
		     "first: %s", (unsigned long long)sw.bad, sw.nfails,
		     sw.nfails ? sw.fails[0].example : "");
}

Test(corruption_sweep, log_files) { sweep_files(1); }
Test(corruption_sweep, other_files) { sweep_files(0); }
