/* SPDX-License-Identifier: MIT */
/*
 * test_torn_tails.c -- a torn or damaged tail of the last segment.
 *
 * A partition is filled with batches of uneven sizes (several segments),
 * closed cleanly, then for a fresh copy each time:
 *
 *  - truncation: the last segment is cut at every byte offset inside its
 *    last 4 batches (and at its end);
 *  - fill: the last segment is cut at each of those batch boundaries and
 *    zeros or garbage of various lengths are appended;
 *
 * and opened in two ways: "scan" (CLEAN and recovery-point removed first,
 * so recovery scans the tail) and "present" (both kept: a truncated file is
 * shorter than its recovery point, and recovery must rescan it). Recovery
 * must stop exactly at the last whole valid batch: the end offset is the
 * offset after it, reading returns every record before it byte for byte and
 * nothing else, and the cut report (varve_recovery_cuts) names the last
 * segment at exactly that boundary -- or reports nothing when the tail was
 * clean (a cut at a boundary, or zeros: preallocated space). A read-only
 * open sees the same records and cuts nothing; a second writer open after a
 * clean close sees the same and reports nothing.
 *
 * A fill that reaches past the recovery point with CLEAN present is not
 * rescanned by design (the recovery point says the bytes below it were
 * fsynced): those cases are only checked for "no wrong record, the damage
 * reported as VARVE_ECORRUPT naming the segment" (by a read, or by the open
 * itself), and counted separately.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash_util.h"

static void fini(void) { cu_cleanup(); }

TestSuite(torn_tails, .fini = fini, .timeout = 900);

typedef struct fixture {
	char dir[1024];     /* pristine store, cleanly closed */
	char seg[1300];     /* relative path of the last segment */
	int64_t seg_base;
	uint64_t pos[4096]; /* batch boundaries in the last segment (pos[nb] = end) */
	int64_t next[4096]; /* offset after the batch ending at pos[i+1]; next[-1] = base */
	size_t nb;
	m_rec recs[4096]; /* every record by offset */
	int64_t total;
	varve_options o;
	uint64_t rng;
} fixture;

static fixture F;

static void gen(uint64_t *rng, m_rec *r)
{
	memset(r, 0, sizeof *r);
	r->knull = cu_rand(rng) % 3 == 0;
	if (!r->knull) {
		r->klen = 1 + (size_t)(cu_rand(rng) % 8);
		r->key = malloc(r->klen);
		for (size_t i = 0; i < r->klen; i++)
			r->key[i] = (uint8_t)('a' + cu_rand(rng) % 26);
	}
	r->vlen = (size_t)(cu_rand(rng) % 300);
	r->val = malloc(r->vlen ? r->vlen : 1);
	for (size_t i = 0; i < r->vlen; i++)
		r->val[i] = (uint8_t)(i % 5 ? cu_rand(rng) : 'z');
	/* ascending: out-of-order timestamps in a batch are a known bug
	 * (test_regressions: batch_timestamps_out_of_order) */
	static int64_t ts = 1700000000000LL;
	ts += (int64_t)(cu_rand(rng) % 1000);
	r->ts = ts;
}

static void build(int codec)
{
	memset(&F, 0, sizeof F);
	F.rng = cu_env_u64("VARVE_CRASH_SEED", 77);
	cu_newpath(F.dir, sizeof F.dir, "pristine");
	varve_options o = VARVE_OPTIONS_INIT;
	o.segment_bytes = 4096;
	o.index_interval_bytes = 64;
	o.start_cleaner = 0;
	F.o = o;
	varve_db *db;
	cr_assert_eq(varve_open(F.dir, &o, &db), 0);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.codec = codec;
	cr_assert_eq(varve_topic_create(db, "t", &c), 0);
	int64_t off = 0;
	for (int b = 0; b < 40; b++) {
		size_t n = 1 + (size_t)(cu_rand(&F.rng) % 4);
		varve_record v[4];
		varve_header h[4][2];
		for (size_t i = 0; i < n; i++) {
			gen(&F.rng, &F.recs[off + (int64_t)i]);
			v[i] = m_rec_view(&F.recs[off + (int64_t)i], h[i]);
			v[i].partition = 0;
		}
		cr_assert_eq(varve_produce_batch(db, "t", v, n, NULL), 0, "%s",
			     varve_last_error()->message);
		off += (int64_t)n;
	}
	F.total = off;
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(varve_partition_info_get(db, "t", 0, &info), 0);
	cr_assert_geq(info.segments, 3, "want several segments, got %u", info.segments);
	cr_assert_eq(varve_close(db), 0);
	/* the last segment and its batches (docs/FORMAT.md: length at byte 12,
	 * base offset at 16, last offset delta at 24) */
	char pdir[1200];
	snprintf(pdir, sizeof pdir, "%s/topics/t/0", F.dir);
	int64_t best = -1;
	for (int64_t b = 0; b <= F.total; b++) {
		char p[1300];
		snprintf(p, sizeof p, "%s/%020" PRId64 ".log", pdir, b);
		if (cu_exists(p))
			best = b;
	}
	cr_assert_geq(best, 0);
	F.seg_base = best;
	snprintf(F.seg, sizeof F.seg, "topics/t/0/%020" PRId64 ".log", best);
	char p[2400];
	snprintf(p, sizeof p, "%s/%s", F.dir, F.seg);
	size_t len;
	uint8_t *b = cu_read_file(p, &len);
	cr_assert(b);
	uint64_t q = 0;
	F.nb = 0;
	while (q + 80 <= len) {
		uint32_t l = (uint32_t)b[q + 12] | (uint32_t)b[q + 13] << 8 | (uint32_t)b[q + 14] << 16 |
			     (uint32_t)b[q + 15] << 24;
		int64_t base = 0;
		uint32_t delta = 0;
		memcpy(&base, b + q + 16, 8);
		memcpy(&delta, b + q + 24, 4);
		cr_assert(l >= 80 && q + l <= len, "unexpected layout at %" PRIu64, q);
		F.pos[F.nb] = q;
		F.next[F.nb] = base + (int64_t)delta + 1;
		F.nb++;
		q += l;
	}
	cr_assert_eq(q, len, "the closed segment has bytes after its last batch");
	cr_assert_geq(F.nb, 5, "want at least 5 batches in the last segment, got %zu", F.nb);
	F.pos[F.nb] = q;
	free(b);
}

static void release(void)
{
	for (int64_t i = 0; i < F.total; i++)
		m_rec_free(&F.recs[i]);
	cu_rm_rf(F.dir);
}

/* Offset after the last whole batch at or before byte L of the last segment. */
static int64_t expect_end(uint64_t L, uint64_t *boundary)
{
	int64_t end = F.seg_base;
	*boundary = 0;
	for (size_t i = 0; i < F.nb; i++)
		if (F.pos[i + 1] <= L) {
			end = F.next[i];
			*boundary = F.pos[i + 1];
		}
	return end;
}

enum { SCAN, PRESENT };
typedef struct stats {
	uint64_t opens, cases, cuts_checked, trusted, refused;
} stats;

/* Open dir (writer or read-only) and check what recovery kept. */
static void check_open(const char *dir, int ro, int64_t want_end, uint64_t boundary, int want_cut,
		       const char *what, stats *st)
{
	varve_options o = F.o;
	o.read_only = ro;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	cr_assert_eq(rc, 0, "%s: %s open failed: %s (%s)", what, ro ? "read-only" : "writer",
		     varve_errmsg(rc), varve_last_error()->message);
	st->opens++;
	int64_t start, end;
	cr_assert_eq(varve_offsets(db, "t", 0, &start, &end), 0);
	cr_assert_eq(end, want_end, "%s (%s): end offset %" PRId64 ", expected %" PRId64, what,
		     ro ? "read-only" : "writer", end, want_end);
	varve_iter *it;
	cr_assert_eq(varve_iter_open(db, "t", 0, 0, &it), 0);
	const varve_record *r;
	int64_t n = 0;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		char why[160];
		cr_assert_eq(r->offset, n, "%s: offset %" PRId64 " returned, expected %" PRId64, what,
			     r->offset, n);
		cr_assert(!m_rec_cmp(&F.recs[n], r, why, sizeof why), "%s: offset %" PRId64 ": %s", what,
			  n, why);
		n++;
	}
	cr_assert_eq(rc, VARVE_EEND, "%s: read error at %" PRId64 ": %s", what, n,
		     varve_last_error()->message);
	varve_iter_close(it);
	cr_assert_eq(n, want_end, "%s: %" PRId64 " records read, expected %" PRId64, what, n,
		     want_end);
	const varve_recovery_cut *cuts;
	size_t nc;
	varve_recovery_cuts(db, &cuts, &nc);
	size_t mine = 0;
	for (size_t i = 0; i < nc; i++) {
		if (strcmp(cuts[i].topic, "t"))
			continue;
		mine++;
		cr_assert_eq(cuts[i].segment_base, F.seg_base,
			     "%s: cut in segment %" PRId64 ", expected %" PRId64, what,
			     cuts[i].segment_base, F.seg_base);
		cr_assert_eq(cuts[i].position, boundary,
			     "%s: cut at byte %" PRIu64 ", expected the boundary %" PRIu64 " (%s)", what,
			     cuts[i].position, boundary, cuts[i].reason);
		cr_assert_eq(cuts[i].first_offset_lost, want_end, "%s: cut says first lost %" PRId64,
			     what, cuts[i].first_offset_lost);
	}
	if (ro)
		cr_assert_eq(mine, 0, "%s: a read-only open reported %zu cuts", what, mine);
	else
		cr_assert_eq(mine, (size_t)want_cut, "%s: %zu cuts reported, expected %d", what, mine,
			     want_cut);
	st->cuts_checked += mine;
	cr_assert_eq(varve_close(db), 0, "%s: close: %s", what, varve_last_error()->message);
}

static void prepare(char *out, size_t cap, int mode)
{
	cu_newpath(out, cap, "case");
	cr_assert_eq(cu_copy_tree(F.dir, out), 0);
	if (mode == SCAN) {
		char p[2400];
		snprintf(p, sizeof p, "%s/CLEAN", out);
		cr_assert_eq(unlink(p), 0);
		snprintf(p, sizeof p, "%s/topics/t/0/recovery-point", out);
		cr_assert_eq(unlink(p), 0);
	}
}

static void run_case(int mode, uint64_t L, const uint8_t *fill, size_t fill_len, int fill_zero,
		     stats *st)
{
	char dir[1024], seg[2400], what[256];
	prepare(dir, sizeof dir, mode);
	snprintf(seg, sizeof seg, "%s/%s", dir, F.seg);
	cr_assert_eq(truncate(seg, (off_t)L), 0);
	if (fill_len) {
		size_t n;
		uint8_t *b = cu_read_file(seg, &n);
		b = realloc(b, n + fill_len);
		memcpy(b + n, fill, fill_len);
		cr_assert_eq(cu_write_file(seg, b, n + fill_len), 0);
		free(b);
	}
	uint64_t boundary;
	int64_t want = expect_end(L, &boundary);
	int torn = fill_len ? !fill_zero : L != boundary;
	if (torn && !fill_len) {
		/* A torn batch whose bytes so far are all zeros (its checksum
		 * starts with zero bytes: a chance of 1 in 256 per byte) cannot
		 * be told from preallocated space, which recovery gives back
		 * without a report (docs/DURABILITY.md). */
		size_t n;
		uint8_t *b = cu_read_file(seg, &n);
		int nonzero = 0;
		for (uint64_t q = boundary; b && q < L && q < n; q++)
			nonzero |= b[q] != 0;
		free(b);
		torn = nonzero;
	}
	snprintf(what, sizeof what, "%s, last segment cut at %" PRIu64 " of %" PRIu64 "%s%s (+%zu)",
		 mode == SCAN ? "CLEAN and recovery point removed" : "CLEAN and recovery point kept",
		 L, F.pos[F.nb], fill_len ? (fill_zero ? ", zeros" : ", garbage") : "", "", fill_len);
	st->cases++;
	if (mode == PRESENT && L + fill_len >= F.pos[F.nb]) {
		/* reaches the recovery point: trusted by design; only no wrong
		 * record and the damage reported when read */
		st->trusted++;
		varve_db *db;
		int orc = varve_open(dir, &F.o, &db);
		if (orc == VARVE_ECORRUPT && strstr(varve_last_error()->message, F.seg + 11)) {
			/* the damage, named: an error the caller sees */
			st->refused++;
			cu_rm_rf(dir);
			return;
		}
		cr_assert_eq(orc, 0, "%s: %s", what, varve_last_error()->message);
		varve_iter *it;
		cr_assert_eq(varve_iter_open(db, "t", 0, 0, &it), 0);
		const varve_record *r;
		int rc;
		int64_t n = 0;
		while ((rc = varve_iter_next(it, &r)) == 0) {
			char why[160];
			cr_assert(!m_rec_cmp(&F.recs[r->offset], r, why, sizeof why), "%s: %s", what, why);
			n = r->offset + 1;
		}
		cr_assert(rc == VARVE_EEND || rc == VARVE_ECORRUPT, "%s: %s", what, varve_errmsg(rc));
		if (n < want)
			cr_assert_eq(rc, VARVE_ECORRUPT, "%s: records before %" PRId64 " lost silently",
				     what, want);
		varve_iter_close(it);
		varve_close(db);
		cu_rm_rf(dir);
		return;
	}
	if (getenv("CV_DEBUG"))
		fprintf(stderr, "case dir %s\n", dir);
	check_open(dir, 1, want, boundary, 0, what, st);
	check_open(dir, 0, want, boundary, torn, what, st);
	char again[300];
	snprintf(again, sizeof again, "%s, second open", what);
	check_open(dir, 0, want, boundary, 0, again, st);
	cu_rm_rf(dir);
}

static void truncation_sweep(int codec, const char *name)
{
	double t0 = cu_now_s();
	build(codec);
	stats st = { 0, 0, 0, 0, 0 };
	uint64_t from = F.pos[F.nb - 4];
	/* VARVE_SWEEP_STRIDE=k: every kth length only, the batch boundaries
	 * always (default 1: every byte; .ci/valgrind uses a stride) */
	uint64_t stride = cu_env_u64("VARVE_SWEEP_STRIDE", 1);
	for (int mode = SCAN; mode <= PRESENT; mode++)
		for (uint64_t L = from; L <= F.pos[F.nb]; L++) {
			int boundary = 0;
			for (size_t i = F.nb - 4; i <= F.nb; i++)
				boundary |= F.pos[i] == L;
			if (stride > 1 && !boundary && (L - from) % stride)
				continue;
			run_case(mode, L, NULL, 0, 0, &st);
		}
	printf("crashvfs: torn_tails[%s]: %llu truncation cases (every byte of the last 4 batches, "
	       "2 modes), %llu opens, %llu cut reports checked, %.1f s\n",
	       name, (unsigned long long)st.cases, (unsigned long long)st.opens,
	       (unsigned long long)st.cuts_checked, cu_now_s() - t0);
	fflush(stdout);
	release();
}

Test(torn_tails, truncate_every_byte) { truncation_sweep(VARVE_CODEC_NONE, "none"); }
Test(torn_tails, truncate_every_byte_lz4) { truncation_sweep(VARVE_CODEC_LZ4, "lz4"); }

static void fill_sweep(int codec, const char *name)
{
	double t0 = cu_now_s();
	build(codec);
	stats st = { 0, 0, 0, 0, 0 };
	static const size_t lens[] = { 1, 7, 8, 15, 79, 80, 81, 200, 1000, 4096, 70000 };
	uint8_t *fill = malloc(70000);
	for (int mode = SCAN; mode <= PRESENT; mode++)
		for (size_t i = F.nb - 4; i <= F.nb; i++)
			for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++)
				for (int zero = 0; zero < 2; zero++) {
					for (size_t j = 0; j < lens[k]; j++)
						fill[j] = zero ? 0 : (uint8_t)cu_rand(&F.rng);
					run_case(mode, F.pos[i], fill, lens[k], zero, &st);
				}
	/* a plausible header (magic, length) at the boundary, then garbage */
	for (int mode = SCAN; mode <= PRESENT; mode++)
		for (size_t i = F.nb - 4; i < F.nb; i++) {
			char p[2400];
			snprintf(p, sizeof p, "%s/%s", F.dir, F.seg);
			size_t n;
			uint8_t *b = cu_read_file(p, &n);
			size_t bl = (size_t)(F.pos[i + 1] - F.pos[i]);
			memcpy(fill, b + F.pos[i], bl); /* a copy of the batch, bytes 80+ damaged */
			for (size_t j = 80; j < bl; j++)
				fill[j] ^= 0x5a;
			free(b);
			run_case(mode, F.pos[i], fill, bl, 0, &st);
		}
	free(fill);
	printf("crashvfs: torn_tails[%s]: %llu fill cases (zeros and garbage after each of the last "
	       "5 boundaries, 11 lengths, 2 modes), %llu opens, %llu cut reports checked, %llu "
	       "reaching the recovery point (trusted; %llu of them refused at open, file named)\n",
	       name, (unsigned long long)st.cases, (unsigned long long)st.opens,
	       (unsigned long long)st.cuts_checked, (unsigned long long)st.trusted,
	       (unsigned long long)st.refused);
	printf("crashvfs: torn_tails[%s]: fill sweep %.1f s\n", name, cu_now_s() - t0);
	fflush(stdout);
	release();
}

Test(torn_tails, fill_zeros_and_garbage) { fill_sweep(VARVE_CODEC_NONE, "none"); }
Test(torn_tails, fill_zeros_and_garbage_lz4) { fill_sweep(VARVE_CODEC_LZ4, "lz4"); }
