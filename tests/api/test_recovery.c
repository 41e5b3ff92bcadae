/* SPDX-License-Identifier: MIT */
/* API: reopen after clean and unclean stops, torn tails, flipped bytes,
 * the recovery report. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "varve.h"

static t_log lg;

static void setup(void)
{
	t_setup();
	t_log_init(&lg);
}

static void teardown(void)
{
	t_log_free(&lg);
	t_teardown();
}

TestSuite(recovery, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers -------------------------------------------------------------- */

static varve_options opts(void)
{
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.index_interval_bytes = 64;
	o.log_fn = t_log_fn;
	o.log_ctx = &lg;
	return o;
}

static size_t value_of(const char *topic, uint32_t part, int64_t off, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%u/%" PRId64 "|", topic, part, off);
	size_t len = (size_t)n + (size_t)((off * 131 + part * 17) % 150);
	if (len > cap)
		len = cap;
	memset(buf + n, 'a' + (int)((off + part) % 26), len - (size_t)n);
	return len;
}

/* Append n single-record batches to topic/part; returns the new end. */
static int64_t produce_n(varve_db *db, const char *topic, uint32_t part, int64_t n)
{
	int64_t end;
	t_ok(varve_offsets(db, topic, part, NULL, &end));
	for (int64_t i = 0; i < n; i++) {
		char v[256];
		size_t l = value_of(topic, part, end, v, sizeof v);
		varve_record r = t_rec("k", 1, v, l);
		r.partition = (int32_t)part;
		int64_t off;
		t_ok(varve_produce(db, topic, &r, NULL, &off));
		cr_assert_eq(off, end);
		end++;
	}
	return end;
}

/* Every record of [start, end) is there with its own value; returns end. */
static int64_t verify(varve_db *db, const char *topic, uint32_t part, int64_t want_end)
{
	int64_t start, end;
	t_ok(varve_offsets(db, topic, part, &start, &end));
	cr_assert_eq(end, want_end, "%s/%u: end %" PRId64 ", want %" PRId64, topic, part, end,
		     want_end);
	varve_iter *it;
	t_ok(varve_iter_open(db, topic, part, start, &it));
	const varve_record *r;
	int64_t off = start;
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		char v[256];
		size_t l = value_of(topic, part, off, v, sizeof v);
		cr_assert_eq(r->offset, off);
		cr_assert_eq(r->value_len, l, "%s/%u@%" PRId64, topic, part, off);
		cr_assert(memcmp(r->value, v, l) == 0, "%s/%u@%" PRId64 ": wrong bytes", topic, part,
			  off);
		off++;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(off, end);
	varve_iter_close(it);
	return end;
}

static size_t ncuts(varve_db *db, const varve_recovery_cut **cuts)
{
	size_t n = 99;
	t_ok(varve_recovery_cuts(db, cuts, &n));
	return n;
}

static const char *pdir(const char *dir, uint32_t p) { return t_part_dir(dir, "t", p); }

/* ---- clean reopen -------------------------------------------------------------- */

Test(recovery, clean_reopen_keeps_everything)
{
	const char *dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	const char *topics[3] = { "plain", "lz4", "many" };
	const int codecs[3] = { VARVE_CODEC_NONE, VARVE_CODEC_LZ4, VARVE_CODEC_NONE };
	const uint32_t parts[3] = { 1, 2, 5 };
	int64_t ends[3][5];
	for (int t = 0; t < 3; t++) {
		t_topic(db, topics[t], parts[t], codecs[t]);
		for (uint32_t p = 0; p < parts[t]; p++)
			ends[t][p] = produce_n(db, topics[t], p, 30 + 11 * p);
	}
	t_close(db);
	cr_assert(t_exists(t_fmt("%s/CLEAN", dir)), "clean close leaves the CLEAN marker");
	for (int round = 0; round < 2; round++) {
		db = t_open(dir, &o);
		cr_assert(!t_exists(t_fmt("%s/CLEAN", dir)), "an open store is not clean");
		const varve_recovery_cut *cuts;
		cr_assert_eq(ncuts(db, &cuts), 0);
		for (int t = 0; t < 3; t++)
			for (uint32_t p = 0; p < parts[t]; p++)
				verify(db, topics[t], p, ends[t][p]);
		t_close(db);
	}
	cr_assert_eq(t_log_count(&lg, "", VARVE_LOG_WARN), 0, "warnings on clean reopens");
}

/* ---- unclean stops ---------------------------------------------------------------- */

Test(recovery, copy_of_an_open_store)
{
	const char *dir = t_tmpdir(), *copy = t_newpath("copy");
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 3, VARVE_CODEC_NONE);
	int64_t ends[3];
	for (uint32_t p = 0; p < 3; p++)
		ends[p] = produce_n(db, "t", p, 40 + 20 * p);
	t_copy_tree(dir, copy);
	/* the writer goes on in the original */
	produce_n(db, "t", 0, 5);
	cr_assert(!t_exists(t_fmt("%s/CLEAN", copy)));
	varve_db *c = t_open(copy, &o);
	const varve_recovery_cut *cuts;
	cr_assert_eq(ncuts(c, &cuts), 0, "nothing was torn: %s", ncuts(c, &cuts) ? cuts[0].reason : "");
	for (uint32_t p = 0; p < 3; p++)
		verify(c, "t", p, ends[p]);
	/* appends continue at the right offsets in the copy */
	ends[1] = produce_n(c, "t", 1, 7);
	verify(c, "t", 1, ends[1]);
	t_close(c);
	t_close(db);
	c = t_open(copy, &o);
	verify(c, "t", 1, ends[1]);
	t_close(c);
}

typedef struct child_args {
	const char *dir;
	int sync;
	int64_t n;
	int no_cleaner; /* keep the recovery point where the open left it */
} child_args;

/* Produce and _exit() without closing: no CLEAN, no final recovery point. */
static int produce_and_die(void *arg)
{
	child_args *a = arg;
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.sync_policy = a->sync;
	o.start_cleaner = !a->no_cleaner;
	varve_db *db;
	if (varve_open(a->dir, &o, &db))
		return 10;
	for (int64_t i = 0; i < a->n; i++) {
		uint32_t p = (uint32_t)(i % 3);
		int64_t end;
		if (varve_offsets(db, "t", p, NULL, &end))
			return 11;
		char v[256];
		size_t l = value_of("t", p, end, v, sizeof v);
		varve_record r = t_rec("k", 1, v, l);
		r.partition = (int32_t)p;
		if (varve_produce(db, "t", &r, NULL, NULL))
			return 12;
	}
	_exit(0);
}

static void unclean_child(int sync)
{
	const char *dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 3, VARVE_CODEC_NONE);
	int64_t before = produce_n(db, "t", 0, 10);
	t_close(db);
	child_args a = { dir, sync, 150, 0 };
	cr_assert_eq(t_run_child(produce_and_die, &a), 0);
	cr_assert(!t_exists(t_fmt("%s/CLEAN", dir)));
	db = t_open(dir, &o);
	const varve_recovery_cut *cuts;
	cr_assert_eq(ncuts(db, &cuts), 0);
	verify(db, "t", 0, before + 50);
	verify(db, "t", 1, 50);
	verify(db, "t", 2, 50);
	produce_n(db, "t", 2, 3);
	verify(db, "t", 2, 53);
	t_close(db);
	db = t_open(dir, &o);
	verify(db, "t", 2, 53);
	t_close(db);
}

Test(recovery, child_exits_without_close_sync_always) { unclean_child(VARVE_SYNC_ALWAYS); }
Test(recovery, child_exits_without_close_sync_none) { unclean_child(VARVE_SYNC_NONE); }

/* ---- torn tails ----------------------------------------------------------------------- */

typedef enum tear { TEAR_MID_HEADER, TEAR_MID_BODY, TEAR_GARBAGE } tear;

static void torn_tail(tear how, int clean)
{
	const char *dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	int64_t end = produce_n(db, "t", 0, 80);
	t_close(db);
	int64_t bases[64];
	size_t ns = t_segments(pdir(dir, 0), bases, 64);
	cr_assert_gt(ns, 1, "the test wants several segments");
	int64_t last = bases[ns - 1];
	const char *log = t_seg_path(dir, "t", 0, last, ".log");
	uint64_t pos[128], e;
	size_t nb = t_batch_positions(log, pos, 128, &e);
	cr_assert_eq(last + (int64_t)nb, end, "one record per batch");
	cr_assert_geq(nb, 2);
	uint64_t keep;
	int64_t first_lost, last_lost;
	switch (how) {
	case TEAR_MID_HEADER:
		t_truncate(log, pos[nb - 1] + 30);
		keep = pos[nb - 1];
		first_lost = end - 1;
		last_lost = -1;
		break;
	case TEAR_MID_BODY:
		t_truncate(log, e - 7);
		keep = pos[nb - 1];
		first_lost = end - 1;
		last_lost = end - 1;
		break;
	case TEAR_GARBAGE:
		t_append_garbage(log, 200, 1);
		keep = e;
		first_lost = end;
		last_lost = -1;
		break;
	default:
		cr_assert_fail("use torn_after_unclean_stop");
		return;
	}
	if (!clean)
		t_unlink(t_fmt("%s/CLEAN", dir));
	int64_t fsize = t_fsize(log);
	db = t_open(dir, &o);
	const varve_recovery_cut *cuts;
	size_t n = ncuts(db, &cuts);
	if (n != 1)
		t_log_dump(&lg);
	cr_assert_eq(n, 1, "%zu cuts", n);
	cr_assert_str_eq(cuts[0].topic, "t");
	cr_assert_eq(cuts[0].partition, 0);
	cr_assert_eq(cuts[0].segment_base, last);
	cr_assert_eq(cuts[0].position, keep, "cut at %" PRIu64 ", want %" PRIu64, cuts[0].position,
		     keep);
	cr_assert_eq(cuts[0].bytes_lost, (uint64_t)fsize - keep);
	cr_assert_eq(cuts[0].first_offset_lost, first_lost);
	cr_assert_eq(cuts[0].last_offset_lost, last_lost);
	cr_assert_gt(strlen(cuts[0].reason), 0);
	cr_assert_gt(t_log_count(&lg, "cut", VARVE_LOG_WARN), 0, "the log callback heard nothing");
	cr_assert_eq(t_fsize(log), (int64_t)keep, "the file was not cut");
	verify(db, "t", 0, first_lost);
	/* appends continue right after the last whole batch */
	int64_t e2 = produce_n(db, "t", 0, 5);
	cr_assert_eq(e2, first_lost + 5);
	verify(db, "t", 0, e2);
	t_close(db);
	/* nothing left to cut */
	db = t_open(dir, &o);
	cr_assert_eq(ncuts(db, &cuts), 0);
	verify(db, "t", 0, e2);
	t_close(db);
}

Test(recovery, torn_tail_mid_header_unclean) { torn_tail(TEAR_MID_HEADER, 0); }
Test(recovery, torn_tail_mid_header_clean) { torn_tail(TEAR_MID_HEADER, 1); }
Test(recovery, torn_tail_mid_body_unclean) { torn_tail(TEAR_MID_BODY, 0); }
Test(recovery, torn_tail_mid_body_clean) { torn_tail(TEAR_MID_BODY, 1); }
Test(recovery, torn_tail_garbage_unclean) { torn_tail(TEAR_GARBAGE, 0); }
Test(recovery, torn_tail_garbage_clean) { torn_tail(TEAR_GARBAGE, 1); }
/* The realistic torn append: a writer dies (no close) after appending past
 * its recovery point, and its last batch was only partly written into the
 * preallocated, zeroed space. */
Test(recovery, torn_append_into_preallocated_space_after_unclean_stop)
{
	const char *dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 3, VARVE_CODEC_NONE);
	produce_n(db, "t", 0, 10);
	t_close(db);
	child_args a = { dir, VARVE_SYNC_ALWAYS, 30, 1 }; /* 10 more per partition */
	cr_assert_eq(t_run_child(produce_and_die, &a), 0);
	int64_t bases[64];
	size_t ns = t_segments(pdir(dir, 0), bases, 64);
	const char *log = t_seg_path(dir, "t", 0, bases[ns - 1], ".log");
	uint64_t pos[128], e;
	size_t nb = t_batch_positions(log, pos, 128, &e);
	cr_assert_geq(nb, 2);
	int64_t end = bases[ns - 1] + (int64_t)nb;
	cr_assert_eq(end, 20);
	/* the last batch loses its tail: zeros from the middle of it on */
	int64_t fsize = t_fsize(log);
	size_t zeros = (size_t)((uint64_t)fsize - (e - 9));
	t_truncate(log, e - 9);
	t_append_zeros(log, zeros + 4096);
	fsize = t_fsize(log);
	db = t_open(dir, &o);
	const varve_recovery_cut *cuts;
	size_t n = ncuts(db, &cuts);
	if (n != 1)
		t_log_dump(&lg);
	cr_assert_eq(n, 1, "%zu cuts", n);
	cr_assert_eq(cuts[0].partition, 0);
	cr_assert_eq(cuts[0].segment_base, bases[ns - 1]);
	cr_assert_eq(cuts[0].position, pos[nb - 1]);
	cr_assert_eq(cuts[0].first_offset_lost, end - 1);
	cr_assert_eq(cuts[0].bytes_lost, (uint64_t)fsize - pos[nb - 1]);
	verify(db, "t", 0, end - 1);
	verify(db, "t", 1, 10);
	verify(db, "t", 2, 10);
	cr_assert_eq(produce_n(db, "t", 0, 2), end + 1);
	verify(db, "t", 0, end + 1);
	t_close(db);
}

/* Zeros after the last whole batch are preallocated space, not a torn
 * write: trimmed without loss and without a cut. */
static void zero_tail(int clean)
{
	const char *dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	int64_t end = produce_n(db, "t", 0, 40);
	t_close(db);
	int64_t bases[64];
	size_t ns = t_segments(pdir(dir, 0), bases, 64);
	const char *log = t_seg_path(dir, "t", 0, bases[ns - 1], ".log");
	uint64_t e;
	t_batch_positions(log, NULL, 0, &e);
	cr_assert_eq(t_fsize(log), (int64_t)e, "a clean close leaves no preallocated space");
	t_append_zeros(log, 64 * 1024);
	if (!clean)
		t_unlink(t_fmt("%s/CLEAN", dir));
	db = t_open(dir, &o);
	const varve_recovery_cut *cuts;
	cr_assert_eq(ncuts(db, &cuts), 0, "zeros reported as lost data");
	verify(db, "t", 0, end);
	int64_t e2 = produce_n(db, "t", 0, 3);
	cr_assert_eq(e2, end + 3);
	t_close(db);
	db = t_open(dir, &o);
	verify(db, "t", 0, e2);
	t_close(db);
	t_batch_positions(log, NULL, 0, &e);
	cr_assert_eq(t_fsize(log), (int64_t)e, "zeros left after the data");
}

Test(recovery, zero_tail_unclean) { zero_tail(0); }
Test(recovery, zero_tail_clean) { zero_tail(1); }

Test(recovery, torn_tails_in_several_partitions)
{
	const char *dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 3, VARVE_CODEC_NONE);
	int64_t ends[3];
	for (uint32_t p = 0; p < 3; p++)
		ends[p] = produce_n(db, "t", p, 10);
	t_close(db);
	t_unlink(t_fmt("%s/CLEAN", dir));
	t_append_garbage(t_seg_path(dir, "t", 0, 0, ".log"), 100, 3);
	t_append_garbage(t_seg_path(dir, "t", 2, 0, ".log"), 100, 4);
	db = t_open(dir, &o);
	const varve_recovery_cut *cuts;
	cr_assert_eq(ncuts(db, &cuts), 2);
	int seen = 0;
	for (int i = 0; i < 2; i++) {
		cr_assert(cuts[i].partition == 0 || cuts[i].partition == 2);
		seen |= 1 << cuts[i].partition;
		cr_assert_eq(cuts[i].bytes_lost, 100);
		cr_assert_eq(cuts[i].first_offset_lost, 10);
	}
	cr_assert_eq(seen, 5);
	for (uint32_t p = 0; p < 3; p++)
		verify(db, "t", p, ends[p]);
	t_close(db);
}

/* ---- flipped bytes ------------------------------------------------------------------------ */

typedef struct flipped {
	const char *dir;
	int64_t bases[64];
	size_t ns;
	uint64_t pos[128], e0;
	size_t nb0;
	uint64_t later_bytes;
	int64_t end;
} flipped;

/* 60 records, one per batch, several segments; flip one byte of batch 5 of
 * the first segment. */
static void flip_setup(flipped *f, size_t byte_in_batch)
{
	f->dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(f->dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	f->end = produce_n(db, "t", 0, 60);
	t_close(db);
	f->ns = t_segments(pdir(f->dir, 0), f->bases, 64);
	cr_assert_gt(f->ns, 2);
	const char *log0 = t_seg_path(f->dir, "t", 0, 0, ".log");
	f->nb0 = t_batch_positions(log0, f->pos, 128, &f->e0);
	cr_assert_gt(f->nb0, 7);
	f->later_bytes = 0;
	for (size_t i = 1; i < f->ns; i++)
		f->later_bytes += (uint64_t)t_fsize(t_seg_path(f->dir, "t", 0, f->bases[i], ".log"));
	t_flip(log0, f->pos[5] + byte_in_batch, 0x04);
}

Test(recovery, flipped_byte_found_by_a_full_scan_cuts_the_log)
{
	flipped f;
	flip_setup(&f, 90);
	/* no recovery point and no CLEAN: everything is scanned */
	t_unlink(t_fmt("%s/CLEAN", f.dir));
	t_unlink(t_fmt("%s/recovery-point", pdir(f.dir, 0)));
	varve_options o = opts();
	varve_db *db = t_open(f.dir, &o);
	const varve_recovery_cut *cuts;
	cr_assert_eq(ncuts(db, &cuts), 1);
	cr_assert_eq(cuts[0].segment_base, 0);
	cr_assert_eq(cuts[0].position, f.pos[5]);
	cr_assert_eq(cuts[0].first_offset_lost, 5);
	cr_assert_eq(cuts[0].bytes_lost, (f.e0 - f.pos[5]) + f.later_bytes,
		     "bytes_lost %" PRIu64 " should count the later segments too", cuts[0].bytes_lost);
	cr_assert_gt(t_log_count(&lg, "cut", VARVE_LOG_WARN), 0);
	verify(db, "t", 0, 5);
	cr_assert_eq(t_count_suffix(pdir(f.dir, 0), ".log"), 1, "later segments must go");
	cr_assert_eq(t_fsize(t_seg_path(f.dir, "t", 0, 0, ".log")), (int64_t)f.pos[5]);
	int64_t e2 = produce_n(db, "t", 0, 3);
	cr_assert_eq(e2, 8);
	verify(db, "t", 0, 8);
	/* varve.h: last_offset_lost is the last offset found in removed,
	 * readable data -- the removed later segments were readable */
	cr_expect_eq(cuts[0].last_offset_lost, f.end - 1,
		     "last_offset_lost %" PRId64 " ignores the removed later segments (want %" PRId64
		     ")",
		     cuts[0].last_offset_lost, f.end - 1);
	t_close(db);
}

/* Below the recovery point nothing is scanned at open: the damage must
 * surface as VARVE_ECORRUPT when read, and never as wrong data. */
static void flipped_below_rp(size_t byte_in_batch, int clean)
{
	flipped f;
	flip_setup(&f, byte_in_batch);
	if (!clean)
		t_unlink(t_fmt("%s/CLEAN", f.dir));
	if (clean == 2) /* no producer snapshot either (older store, or lost) */
		t_unlink(t_fmt("%s/producer-snapshot", pdir(f.dir, 0)));
	varve_options o = opts();
	varve_db *db = t_open(f.dir, &o);
	const varve_recovery_cut *cuts;
	cr_assert_eq(ncuts(db, &cuts), 0, "data below the recovery point was cut");
	int64_t end;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, f.end);
	/* a sequential read stops with ECORRUPT at offset 5 */
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	for (int64_t off = 0; off < 5; off++) {
		t_ok(varve_iter_next(it, &r));
		char v[256];
		size_t l = value_of("t", 0, off, v, sizeof v);
		cr_assert_eq(r->offset, off);
		cr_assert(r->value_len == l && memcmp(r->value, v, l) == 0);
	}
	int rc = varve_iter_next(it, &r);
	t_assert_rc(rc, VARVE_ECORRUPT);
	cr_assert_null(r);
	cr_assert_gt(strlen(varve_last_error()->message), 0);
	/* it stays an error, never a record */
	rc = varve_iter_next(it, &r);
	cr_assert_neq(rc, VARVE_OK, "iterator went past corrupt data");
	varve_iter_close(it);
	/* random access: every offset is right or an error; 5 is an error */
	for (int64_t off = 0; off < f.end; off++) {
		it = NULL;
		rc = varve_iter_open(db, "t", 0, off, &it);
		if (rc == 0)
			rc = varve_iter_next(it, &r);
		if (off == 5) {
			t_assert_rc(rc, VARVE_ECORRUPT);
		} else {
			if (off < 5)
				t_ok(rc);
			if (rc) {
				t_assert_rc(rc, VARVE_ECORRUPT);
			} else {
				char v[256];
				size_t l = value_of("t", 0, off, v, sizeof v);
				cr_assert_eq(r->offset, off, "asked for %" PRId64 ", got %" PRId64, off,
					     r->offset);
				cr_assert(r->value_len == l && memcmp(r->value, v, l) == 0,
					  "offset %" PRId64 ": wrong data", off);
			}
		}
		varve_iter_close(it);
	}
	t_close(db);
}

Test(recovery, flipped_body_byte_below_recovery_point_clean) { flipped_below_rp(90, 1); }
Test(recovery, flipped_body_byte_below_recovery_point_unclean) { flipped_below_rp(90, 0); }
Test(recovery, flipped_checksum_byte_below_recovery_point) { flipped_below_rp(3, 1); }
Test(recovery, flipped_magic_byte_below_recovery_point) { flipped_below_rp(9, 1); }
Test(recovery, flipped_length_byte_below_recovery_point) { flipped_below_rp(12, 0); }
Test(recovery, flipped_offset_byte_below_recovery_point) { flipped_below_rp(16, 1); }
Test(recovery, flipped_timestamp_byte_below_recovery_point) { flipped_below_rp(41, 0); }
Test(recovery, flipped_body_byte_below_recovery_point_no_snapshot) { flipped_below_rp(90, 2); }
Test(recovery, flipped_magic_byte_below_recovery_point_no_snapshot) { flipped_below_rp(9, 2); }

Test(recovery, damaged_recovery_point_file_is_not_fatal)
{
	const char *dir = t_tmpdir();
	varve_options o = opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	int64_t end = produce_n(db, "t", 0, 50);
	t_close(db);
	const char *rp = t_fmt("%s/recovery-point", pdir(dir, 0));
	t_flip(rp, 10, 0xff);
	db = t_open(dir, &o);
	verify(db, "t", 0, end);
	cr_assert_gt(t_log_count(&lg, "recovery point", VARVE_LOG_WARN), 0);
	t_close(db);
	/* garbage of another size */
	t_write_file(rp, "not a recovery point at all", 27);
	t_unlink(t_fmt("%s/CLEAN", dir));
	db = t_open(dir, &o);
	verify(db, "t", 0, end);
	t_close(db);
}
