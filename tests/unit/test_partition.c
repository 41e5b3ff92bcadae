/* SPDX-License-Identifier: MIT */
/* Unit tests: partitions -- append, roll, recovery, recovery points,
 * lookups (partition.c, reader.c). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "partition.h"
#include "reader.h"
#include "support.h"
#include "util.h"

TestSuite(recovery_point, .timeout = 10);

/* ---- fixtures ------------------------------------------------------------ */

typedef struct cuts {
	varve_recovery_cut v[16];
	size_t n;
} cuts;

static void on_cut(void *ctx, const varve_recovery_cut *c)
{
	cuts *x = ctx;
	cr_assert_lt(x->n, 16);
	x->v[x->n++] = *c;
}

static t_clock clk;
static cuts cut_log;
static t_log plog;

static vv_part_config pcfg(int read_only)
{
	vv_part_config c;
	memset(&c, 0, sizeof c);
	c.seg.index_interval = 128;
	c.seg.max_batch = 1u << 20;
	c.seg.file_mode = 0600;
	c.seg.read_only = read_only;
	c.segment_bytes = 4096;
	c.segment_ms = 0;
	c.sync_policy = VARVE_SYNC_NONE;
	c.codec = VARVE_CODEC_NONE;
	c.dir_mode = 0700;
	c.clock_fn = t_clock_fn;
	c.clock_ctx = &clk;
	c.log_fn = t_log_fn;
	c.log_ctx = &plog;
	c.on_cut = on_cut;
	c.cut_ctx = &cut_log;
	return c;
}

static vv_partition *popen_(const char *dir, const vv_part_config *c, int clean)
{
	vv_partition *p = NULL;
	int rc = vv_partition_open(dir, "t", 0, c, clean, &p);
	cr_assert_eq(rc, 0, "open: %d (%s)", rc, varve_last_error()->message);
	return p;
}

/* Record i of a test: value derived from i, timestamp given. */
static void append_n(vv_partition *p, int64_t first_id, size_t n, size_t per_batch, int64_t ts0)
{
	char vals[8][96];
	varve_record recs[8];
	const varve_record *ptrs[8];
	size_t done = 0;
	while (done < n) {
		size_t k = n - done < per_batch ? n - done : per_batch;
		for (size_t i = 0; i < k; i++) {
			int64_t id = first_id + (int64_t)(done + i);
			int l = snprintf(vals[i], sizeof vals[i], "record-%" PRId64 "-%0*d", id,
					 (int)(id % 50), 0);
			recs[i] = t_rec("k", 1, vals[i], (size_t)l);
			recs[i].timestamp = ts0 + id;
			ptrs[i] = &recs[i];
		}
		int64_t base = -1;
		int64_t end_before = atomic_load(&p->end_offset);
		int rc = vv_partition_append(p, ptrs, k, NULL, &base);
		cr_assert_eq(rc, 0, "append: %d (%s)", rc, varve_last_error()->message);
		cr_assert_eq(base, end_before);
		cr_assert_eq(atomic_load(&p->end_offset), base + (int64_t)k);
		done += k;
	}
}

/* Read [from, end) and check values against their ids (id == offset here). */
static int64_t read_check(vv_partition *p, int64_t from)
{
	vv_reader r;
	cr_assert_eq(vv_reader_init(&r, p, from), 0, "%s", varve_last_error()->message);
	const varve_record *rec;
	int64_t want = from;
	int rc;
	while ((rc = vv_reader_next(&r, &rec)) == 0) {
		cr_assert_eq(rec->offset, want);
		char v[96];
		int l = snprintf(v, sizeof v, "record-%" PRId64 "-%0*d", want, (int)(want % 50), 0);
		cr_assert_eq(rec->value_len, (size_t)l, "offset %" PRId64, want);
		cr_assert(memcmp(rec->value, v, (size_t)l) == 0, "offset %" PRId64, want);
		want++;
	}
	cr_assert_eq(rc, VARVE_EEND, "read ended with %d (%s)", rc, varve_last_error()->message);
	vv_reader_free(&r);
	return want;
}

static void reset_logs(void)
{
	memset(&cut_log, 0, sizeof cut_log);
	t_log_free(&plog);
	t_log_init(&plog);
	atomic_store(&clk.now, 1700000000000LL);
}

static void setup(void)
{
	t_setup();
	t_log_init(&plog);
	reset_logs();
}

static void teardown(void)
{
	t_log_free(&plog);
	t_teardown();
}

TestSuite(partition_rec, .init = setup, .fini = teardown, .timeout = 30);

static const char *seglog(const char *dir, int64_t base)
{
	return t_fmt("%s/%020" PRId64 ".log", dir, base);
}

static vv_recovery_point read_rp(const char *dir)
{
	size_t n;
	uint8_t *b = t_read_file(t_fmt("%s/recovery-point", dir), &n);
	vv_recovery_point rp;
	cr_assert_eq(vv_recovery_point_decode(b, n, &rp), 0, "recovery point does not decode");
	free(b);
	return rp;
}

/* ---- recovery point codec ------------------------------------------------------ */

Test(recovery_point, round_trip)
{
	vv_recovery_point rp = { 123456789, 123000000, 4000000000u, 5 }, back;
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&rp, buf);
	cr_assert_eq(vv_load32(buf), VV_RECOVERY_POINT_MAGIC);
	cr_assert_eq(vv_recovery_point_decode(buf, sizeof buf, &back), 0);
	cr_assert_eq(back.offset, rp.offset);
	cr_assert_eq(back.segment_base, rp.segment_base);
	cr_assert_eq(back.position, rp.position);
	cr_assert_eq(back.log_start, rp.log_start);
}

Test(recovery_point, every_flipped_bit_is_rejected)
{
	vv_recovery_point rp = { 1000, 900, 4096, 0 }, back;
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&rp, buf);
	for (size_t i = 0; i < sizeof buf; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			cr_assert_eq(vv_recovery_point_decode(buf, sizeof buf, &back), -1,
				     "byte %zu bit %d", i, bit);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	cr_assert_eq(vv_recovery_point_decode(buf, sizeof buf, &back), 0);
	uint8_t longer[VV_RECOVERY_POINT_SIZE + 1];
	memcpy(longer, buf, sizeof buf);
	longer[VV_RECOVERY_POINT_SIZE] = 0;
	cr_assert_eq(vv_recovery_point_decode(buf, sizeof buf - 1, &back), -1);
	cr_assert_eq(vv_recovery_point_decode(longer, sizeof longer, &back), -1);
	cr_assert_eq(vv_recovery_point_decode(buf, 0, &back), -1);
}

Test(recovery_point, checksummed_nonsense_is_rejected)
{
	const vv_recovery_point bad[] = {
		{ -1, 0, 0, 0 },                    /* negative offset */
		{ 10, -1, 0, 0 },                   /* negative segment base */
		{ 10, 0, 0, -1 },                   /* negative log start */
		{ 10, 11, 0, 0 },                   /* segment base past the offset */
		{ 10, 0, (uint64_t)UINT32_MAX + 1, 0 }, /* position past 4 GiB */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t buf[VV_RECOVERY_POINT_SIZE];
		vv_recovery_point_encode(&bad[i], buf);
		cr_assert_eq(vv_load64(buf + 40), XXH3_64bits(buf, 40));
		vv_recovery_point back;
		cr_assert_eq(vv_recovery_point_decode(buf, sizeof buf, &back), -1, "case %zu", i);
	}
	/* version must be 1 */
	vv_recovery_point ok = { 10, 0, 0, 0 }, back;
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&ok, buf);
	vv_store32(buf + 4, 2);
	vv_store64(buf + 40, XXH3_64bits(buf, 40));
	cr_assert_eq(vv_recovery_point_decode(buf, sizeof buf, &back), -1);
}

/* ---- append, roll, read --------------------------------------------------------- */

Test(partition_rec, append_rolls_by_size_and_reads_back)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	cr_assert_eq(atomic_load(&p->end_offset), 0);
	append_n(p, 0, 400, 3, 5000);
	cr_assert_eq(atomic_load(&p->end_offset), 400);
	cr_assert_gt(p->nsegs, 3, "4 KiB segments should have rolled");
	for (size_t i = 0; i < p->nsegs; i++) {
		vv_segment *s = p->segs[i];
		cr_assert_leq(atomic_load(&s->size), c.segment_bytes);
		/* sealed segments are trimmed; the active one may be preallocated */
		if (i + 1 < p->nsegs)
			cr_assert_eq(t_fsize(seglog(dir, s->base)), (int64_t)atomic_load(&s->size));
		else
			cr_assert_geq(t_fsize(seglog(dir, s->base)), (int64_t)atomic_load(&s->size));
		if (i + 1 < p->nsegs)
			cr_assert_eq(atomic_load(&s->next_offset), p->segs[i + 1]->base,
				     "offsets do not continue across segments");
	}
	uint32_t nsegs = 0;
	uint64_t total = vv_partition_size(p, &nsegs);
	cr_assert_eq(nsegs, p->nsegs);
	uint64_t sum = 0;
	for (size_t i = 0; i < p->nsegs; i++) {
		uint64_t e;
		t_batch_positions(seglog(dir, p->segs[i]->base), NULL, 0, &e);
		sum += e;
	}
	cr_assert_eq(total, sum);
	for (int64_t from = 0; from <= 400; from += 37)
		cr_assert_eq(read_check(p, from), 400);
	cr_assert_eq(read_check(p, 400), 400);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	vv_recovery_point rp = read_rp(dir);
	cr_assert_eq(rp.offset, 400);
	cr_assert_eq(rp.log_start, 0);
	cr_assert_eq(rp.position, (uint64_t)t_fsize(seglog(dir, rp.segment_base)));
}

Test(partition_rec, segment_for_and_bounds)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 200, 2, 1000);
	vv_segment *s = NULL;
	cr_assert_eq(vv_partition_segment_for(p, -1, &s), VARVE_EOFFSET);
	cr_assert_null(s);
	cr_assert_eq(vv_partition_segment_for(p, 201, &s), VARVE_EOFFSET);
	for (int64_t off = 0; off <= 200; off++) {
		cr_assert_eq(vv_partition_segment_for(p, off, &s), 0);
		cr_assert_leq(s->base, off);
		vv_segment *n = vv_partition_next_segment(p, s);
		if (n) {
			cr_assert_gt(n->base, off, "offset %" PRId64 " belongs to a later segment", off);
			vv_segment_unref(n);
		} else {
			cr_assert(vv_partition_is_last(p, s));
		}
		vv_segment_unref(s);
	}
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(partition_rec, roll_by_age_with_the_injected_clock)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	c.segment_bytes = 1u << 20;
	c.segment_ms = 1000;
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 3, 1, 1000);
	atomic_fetch_add(&clk.now, 999);
	append_n(p, 3, 1, 1, 1000);
	cr_assert_eq(p->nsegs, 1);
	atomic_fetch_add(&clk.now, 1);
	append_n(p, 4, 1, 1, 1000);
	cr_assert_eq(p->nsegs, 2);
	cr_assert_eq(p->segs[1]->base, 4);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	cr_assert_eq(t_count_suffix(dir, ".log"), 2);
}

Test(partition_rec, expected_end_offset_conflicts)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 5, 5, 1000);
	varve_record r = t_rec("k", 1, "v", 1);
	const varve_record *one[1] = { &r };
	vv_append_opts o = { .expected_end = 4, .producer_id = -1, .base_sequence = -1 };
	int64_t base;
	cr_assert_eq(vv_partition_append(p, one, 1, &o, &base), VARVE_ECONFLICT);
	cr_assert_eq(atomic_load(&p->end_offset), 5);
	o.expected_end = 5;
	cr_assert_eq(vv_partition_append(p, one, 1, &o, &base), 0);
	cr_assert_eq(base, 5);
	cr_assert_eq(vv_partition_append(p, one, 0, NULL, &base), VARVE_EINVAL);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(partition_rec, offset_for_time_matches_brute_force)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	enum { N = 300 };
	int64_t ts[N];
	uint64_t st = 17;
	for (int i = 0; i < N; i++) {
		/* one record per batch; timestamps go up and down */
		ts[i] = 100000 + i * 10 + (int64_t)(t_rand(&st) % 200) - 100;
		varve_record r = t_rec("k", 1, "some value of a few bytes", 25);
		r.timestamp = ts[i];
		const varve_record *one[1] = { &r };
		int64_t base;
		cr_assert_eq(vv_partition_append(p, one, 1, NULL, &base), 0);
	}
	cr_assert_gt(p->nsegs, 1);
	for (int round = 0; round < 2; round++) {
		for (int64_t T = 99800; T <= 100000 + N * 10 + 120; T += 7) {
			int64_t want = -1;
			for (int i = 0; i < N; i++)
				if (ts[i] >= T) {
					want = i;
					break;
				}
			int64_t got = -2;
			int rc = vv_partition_offset_for_time(p, T, &got);
			if (want < 0) {
				cr_assert_eq(rc, VARVE_ENOTFOUND, "T=%" PRId64, T);
				cr_assert_eq(got, N);
			} else {
				cr_assert_eq(rc, 0, "T=%" PRId64 ": %d", T, rc);
				cr_assert_eq(got, want, "T=%" PRId64 ": got %" PRId64 ", want %" PRId64
							 " (round %d)",
					     T, got, want, round);
			}
		}
		cr_assert_eq(vv_partition_close(p, 1), 0);
		p = popen_(dir, &c, 1);
	}
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

/* ---- recovery --------------------------------------------------------------------- */

Test(partition_rec, clean_reopen_trusts_the_recovery_point)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 100, 4, 1000);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	p = popen_(dir, &c, 1);
	cr_assert_eq(atomic_load(&p->end_offset), 100);
	cr_assert_eq(atomic_load(&p->durable_offset), 100);
	cr_assert_eq(atomic_load(&p->start_offset), 0);
	cr_assert_eq(cut_log.n, 0);
	append_n(p, 100, 10, 3, 1000);
	cr_assert_eq(read_check(p, 0), 110);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

static void torn_tail_case(int clean, void (*damage)(const char *dir, int64_t base, uint64_t *end),
			   const char *what)
{
	reset_logs();
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	/* batches of 2 until the last of at least 2 segments holds 4 batches */
	int64_t n = 0;
	size_t in_last = 0, segs = 1;
	while (p->nsegs < 2 || in_last < 4) {
		append_n(p, n, 2, 2, 1000);
		n += 2;
		in_last = p->nsegs == segs ? in_last + 1 : 1;
		segs = p->nsegs;
	}
	int64_t last_base = p->segs[p->nsegs - 1]->base;
	cr_assert_eq(vv_partition_close(p, 1), 0);
	uint64_t pos[512], end;
	size_t nb = t_batch_positions(seglog(dir, last_base), pos, 512, &end);
	cr_assert_gt(nb, 2);
	cr_assert_eq(nb, in_last);
	uint64_t keep = end; /* where the cut must land */
	damage(dir, last_base, &keep);
	int64_t fsize = t_fsize(seglog(dir, last_base));
	/* offsets in whole batches below the cut */
	int64_t first_lost = last_base;
	for (size_t i = 0; i < nb && pos[i] < keep; i++)
		first_lost += 2;
	p = popen_(dir, &c, clean);
	cr_assert_eq(cut_log.n, 1, "%s: %zu cuts", what, cut_log.n);
	const varve_recovery_cut *k = &cut_log.v[0];
	cr_assert_str_eq(k->topic, "t");
	cr_assert_eq(k->segment_base, last_base, "%s", what);
	cr_assert_eq(k->position, keep, "%s: cut at %" PRIu64 ", want %" PRIu64, what, k->position,
		     keep);
	cr_assert_eq(k->bytes_lost, (uint64_t)fsize - keep, "%s", what);
	cr_assert_eq(k->first_offset_lost, first_lost, "%s", what);
	cr_assert_gt(t_log_count(&plog, "recovery cut", VARVE_LOG_WARN), 0, "%s: not logged", what);
	cr_assert_eq(atomic_load(&p->end_offset), first_lost);
	cr_assert_eq(t_fsize(seglog(dir, last_base)), (int64_t)keep, "%s: not truncated", what);
	append_n(p, first_lost, 7, 3, 1000);
	cr_assert_eq(read_check(p, 0), first_lost + 7);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	/* and the next open finds nothing more to cut */
	reset_logs();
	p = popen_(dir, &c, 0);
	cr_assert_eq(cut_log.n, 0);
	cr_assert_eq(read_check(p, 0), first_lost + 7);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

static void tt_garbage(const char *dir, int64_t base, uint64_t *keep)
{
	t_append_garbage(seglog(dir, base), 333, 9);
	(void)keep;
}
static void tt_mid_batch(const char *dir, int64_t base, uint64_t *keep)
{
	uint64_t pos[512], end;
	size_t nb = t_batch_positions(seglog(dir, base), pos, 512, &end);
	t_truncate(seglog(dir, base), pos[nb - 1] + 100);
	*keep = pos[nb - 1];
}
static void tt_mid_header(const char *dir, int64_t base, uint64_t *keep)
{
	uint64_t pos[512], end;
	size_t nb = t_batch_positions(seglog(dir, base), pos, 512, &end);
	t_truncate(seglog(dir, base), pos[nb - 1] + 20);
	*keep = pos[nb - 1];
}

Test(partition_rec, torn_tail_garbage_unclean) { torn_tail_case(0, tt_garbage, "garbage, unclean"); }
Test(partition_rec, torn_tail_garbage_clean) { torn_tail_case(1, tt_garbage, "garbage, clean"); }
/* A torn append into preallocated space: a partial batch, then zeros. A
 * crash leaves it only after the recovery point (the recovery point only
 * covers durable data), so the recovery point is moved back to the batch
 * before it, as the background thread would have left it. */
static void tt_partial_then_zeros(const char *dir, int64_t base, uint64_t *keep)
{
	uint64_t pos[512], end;
	size_t nb = t_batch_positions(seglog(dir, base), pos, 512, &end);
	tt_mid_batch(dir, base, keep);
	t_append_zeros(seglog(dir, base), 3000);
	vv_recovery_point rp = read_rp(dir);
	rp.segment_base = base;
	rp.position = pos[nb - 2];
	rp.offset = base + 2 * (int64_t)(nb - 2); /* two records per batch */
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&rp, buf);
	t_write_file(t_fmt("%s/recovery-point", dir), buf, sizeof buf);
}

Test(partition_rec, torn_tail_partial_then_zeros_unclean)
{
	torn_tail_case(0, tt_partial_then_zeros, "partial batch then zeros, unclean");
}

/* Zeros after the last batch are preallocated space: trimmed, not a cut. */
static void zero_tail_case(int clean)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 40, 2, 1000);
	int64_t last_base = p->segs[p->nsegs - 1]->base;
	cr_assert_eq(vv_partition_close(p, 1), 0);
	uint64_t end;
	t_batch_positions(seglog(dir, last_base), NULL, 0, &end);
	cr_assert_eq(t_fsize(seglog(dir, last_base)), (int64_t)end, "close did not trim");
	t_append_zeros(seglog(dir, last_base), 20000);
	p = popen_(dir, &c, clean);
	cr_assert_eq(cut_log.n, 0, "preallocated zeros reported as a cut");
	cr_assert_eq(atomic_load(&p->end_offset), 40);
	cr_assert_eq(read_check(p, 0), 40);
	append_n(p, 40, 4, 2, 1000);
	cr_assert_eq(read_check(p, 0), 44);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	t_batch_positions(seglog(dir, last_base), NULL, 0, &end);
	cr_assert_eq(t_fsize(seglog(dir, last_base)), (int64_t)end);
}

Test(partition_rec, zero_tail_unclean) { zero_tail_case(0); }
Test(partition_rec, zero_tail_clean) { zero_tail_case(1); }
Test(partition_rec, torn_tail_mid_batch_unclean)
{
	torn_tail_case(0, tt_mid_batch, "mid batch, unclean");
}
Test(partition_rec, torn_tail_mid_batch_clean) { torn_tail_case(1, tt_mid_batch, "mid batch, clean"); }
Test(partition_rec, torn_tail_mid_header_unclean)
{
	torn_tail_case(0, tt_mid_header, "mid header, unclean");
}
Test(partition_rec, torn_tail_mid_header_clean)
{
	torn_tail_case(1, tt_mid_header, "mid header, clean");
}

Test(partition_rec, damaged_recovery_point_means_a_full_scan)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 120, 3, 1000);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	/* damage a middle batch of the first segment, and the recovery point */
	uint64_t pos[512], end;
	size_t nb = t_batch_positions(seglog(dir, 0), pos, 512, &end);
	cr_assert_gt(nb, 6);
	t_flip(seglog(dir, 0), pos[5] + 90, 0x20);
	t_flip(t_fmt("%s/recovery-point", dir), 20, 0x01);
	cr_assert_gt(t_count_suffix(dir, ".log"), 1, "the test needs later segments");
	p = popen_(dir, &c, 1);
	cr_assert_gt(t_log_count(&plog, "recovery point damaged", VARVE_LOG_WARN), 0);
	cr_assert_eq(cut_log.n, 1);
	cr_assert_eq(cut_log.v[0].segment_base, 0);
	cr_assert_eq(cut_log.v[0].position, pos[5]);
	cr_assert_eq(cut_log.v[0].first_offset_lost, 15);
	cr_assert_eq(atomic_load(&p->end_offset), 15);
	cr_assert_eq(p->nsegs, 1, "later segments must go with the cut");
	/* varve.h: "last offset found in removed, readable data" -- the later
	 * segments were removed and were readable */
	cr_expect_eq(cut_log.v[0].last_offset_lost, 119,
		     "last_offset_lost is %" PRId64 ": it does not cover the removed later segments",
		     cut_log.v[0].last_offset_lost);
	cr_assert_eq(t_count_suffix(dir, ".log"), 1);
	cr_assert_eq(read_check(p, 0), 15);
	append_n(p, 15, 5, 1, 1000);
	cr_assert_eq(read_check(p, 0), 20);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(partition_rec, segment_shorter_than_its_recovery_point)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	c.segment_bytes = 1u << 20;
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 30, 1, 1000);
	cr_assert_eq(p->nsegs, 1);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	uint64_t pos[64], end;
	size_t nb = t_batch_positions(seglog(dir, 0), pos, 64, &end);
	cr_assert_eq(nb, 30);
	t_truncate(seglog(dir, 0), pos[20]); /* whole batches, below the recovery point */
	p = popen_(dir, &c, 1);
	cr_assert_gt(t_log_count(&plog, "shorter than its recovery point", VARVE_LOG_ERROR), 0);
	cr_assert_eq(atomic_load(&p->end_offset), 20);
	cr_assert_eq(read_check(p, 0), 20);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(partition_rec, segments_below_the_log_start_are_finished_off)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 200, 2, 1000);
	cr_assert_geq(p->nsegs, 3);
	int64_t b1 = p->segs[1]->base, b2 = p->segs[2]->base;
	cr_assert_eq(vv_partition_close(p, 1), 0);
	/* a retention delete that moved the log start, then crashed */
	vv_recovery_point rp = read_rp(dir);
	rp.log_start = b2;
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&rp, buf);
	t_write_file(t_fmt("%s/recovery-point", dir), buf, sizeof buf);
	p = popen_(dir, &c, 1);
	cr_assert_eq(atomic_load(&p->start_offset), b2);
	cr_assert(!t_exists(seglog(dir, 0)));
	cr_assert(!t_exists(seglog(dir, b1)));
	cr_assert(t_exists(seglog(dir, b2)));
	cr_assert_eq(read_check(p, b2), 200);
	vv_segment *s;
	cr_assert_eq(vv_partition_segment_for(p, b2 - 1, &s), VARVE_EOFFSET);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(partition_rec, leftover_tmp_files_are_removed_by_a_writer_only)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0), ro = pcfg(1);
	vv_partition *p = popen_(dir, &c, 0);
	append_n(p, 0, 3, 1, 1000);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	t_write_file(t_fmt("%s/recovery-point.tmp", dir), "x", 1);
	p = popen_(dir, &ro, 1);
	cr_assert(t_exists(t_fmt("%s/recovery-point.tmp", dir)));
	cr_assert_eq(vv_partition_close(p, 1), 0);
	p = popen_(dir, &c, 1);
	cr_assert(!t_exists(t_fmt("%s/recovery-point.tmp", dir)));
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(partition_rec, read_only_partition_sees_later_appends)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0), ro = pcfg(1);
	vv_partition *w = popen_(dir, &c, 0);
	append_n(w, 0, 20, 2, 1000);
	vv_partition *r = popen_(dir, &ro, 0);
	cr_assert_eq(atomic_load(&r->end_offset), 20);
	varve_record rec = t_rec("k", 1, "v", 1);
	const varve_record *one[1] = { &rec };
	int64_t base;
	cr_assert_eq(vv_partition_append(r, one, 1, NULL, &base), VARVE_EREADONLY);
	append_n(w, 20, 200, 2, 1000); /* rolls several segments */
	cr_assert_gt(w->nsegs, 1);
	cr_assert_eq(vv_partition_refresh(r), 0);
	cr_assert_eq(atomic_load(&r->end_offset), 220);
	cr_assert_eq(read_check(r, 0), 220);
	cr_assert_eq(vv_partition_close(r, 0), 0);
	cr_assert_eq(vv_partition_close(w, 1), 0);
}

/* The periodic checkpoint writes the recovery point after releasing the
 * append lock, while rolls, retention (advance_start) and the compaction
 * checkpoint write it under the lock: no write may fail on another's
 * temporary file, and the point on disk never goes back (its log start
 * stays the partition's, and it names a segment that exists). */
typedef struct {
	vv_partition *p;
	atomic_int stop;
	int failures, calls;
	char first[256];
} checkpointer;

static void *checkpoint_loop(void *arg)
{
	checkpointer *k = arg;
	while (!atomic_load(&k->stop)) {
		int rc = vv_partition_checkpoint(k->p);
		k->calls++;
		if (rc && k->failures++ == 0)
			snprintf(k->first, sizeof k->first, "%d: %s", rc, varve_last_error()->message);
	}
	return NULL;
}

Test(partition_rec, checkpoint_races_rolls_retention_and_compaction_checkpoints)
{
	const char *dir = t_fmt("%s/p", t_tmpdir());
	vv_part_config c = pcfg(0);
	c.segment_bytes = 1024;
	c.sync_policy = VARVE_SYNC_ALWAYS; /* the durable offset moves: checkpoints write */
	vv_partition *p = popen_(dir, &c, 0);
	checkpointer k = { .p = p };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, checkpoint_loop, &k), 0);
	int64_t id = 0;
	for (int round = 0; round < 300; round++) {
		append_n(p, id, 4, 4, 1000);
		id += 4;
		if (round % 5 == 4) {
			uint64_t bytes = 0;
			cr_assert_eq(vv_partition_advance_start(p, id - 6, &bytes), 0, "%s",
				     varve_last_error()->message);
		}
		if (round % 7 == 6)
			cr_assert_eq(vv_partition_checkpoint_active(p), 0, "%s",
				     varve_last_error()->message);
	}
	atomic_store(&k.stop, 1);
	pthread_join(th, NULL);
	cr_assert_eq(k.failures, 0, "%d of %d checkpoints failed, the first: %s", k.failures,
		     k.calls, k.first);
	cr_assert_eq(vv_partition_checkpoint(p), 0);
	size_t n;
	uint8_t *buf = t_read_file(t_fmt("%s/%s", dir, VV_RECOVERY_POINT_FILE), &n);
	vv_recovery_point rp;
	cr_assert_eq(vv_recovery_point_decode(buf, n, &rp), 0);
	free(buf);
	cr_assert_eq(rp.log_start, atomic_load(&p->start_offset), "log start on disk %" PRId64
		     ", partition %" PRId64, rp.log_start, atomic_load(&p->start_offset));
	cr_assert_leq(rp.offset, atomic_load(&p->end_offset));
	cr_assert(t_exists(seglog(dir, rp.segment_base)), "the point names segment %" PRId64
		  ", which is gone", rp.segment_base);
	int64_t start = atomic_load(&p->start_offset);
	cr_assert_eq(vv_partition_close(p, 0), 0);
	p = popen_(dir, &c, 0);
	cr_assert_eq(atomic_load(&p->start_offset), start, "deleted records came back");
	cr_assert_eq(atomic_load(&p->end_offset), id);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}
