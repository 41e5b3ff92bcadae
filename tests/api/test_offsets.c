/* SPDX-License-Identifier: MIT */
/* API: segment rolls, offset lookups, seek, tailing, time lookups. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(offsets, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define T0 1700000000000LL

static t_clock clk;

/* Value of record `off`: its offset in text, padded to a length derived from it. */
static size_t value_for(int64_t off, char *buf, size_t cap)
{
	size_t len = 20 + (size_t)((off * 7919) % 380);
	if (len > cap)
		len = cap;
	memset(buf, 'a' + (int)(off % 26), len);
	int n = snprintf(buf, cap, "offset=%" PRId64 ";", off);
	buf[n] = ';';
	return len;
}

static void check_record(const varve_record *r, int64_t off, const char *ctx)
{
	char v[512];
	size_t l = value_for(off, v, sizeof v);
	cr_assert_eq(r->offset, off, "%s: offset %" PRId64 ", want %" PRId64, ctx, r->offset, off);
	cr_assert_eq(r->value_len, l, "%s: offset %" PRId64 ": value length", ctx, off);
	cr_assert(memcmp(r->value, v, l) == 0, "%s: offset %" PRId64 ": wrong bytes", ctx, off);
}

/* Produce n records into partition 0 of `topic`, in batches of 1..5
 * (single produce for batches of 1); timestamps from ts(). */
static void fill(varve_db *db, const char *topic, int64_t n, uint64_t seed,
		 int64_t (*ts)(int64_t off))
{
	int64_t end;
	t_ok(varve_offsets(db, topic, 0, NULL, &end));
	uint64_t st = seed;
	char vals[5][512];
	while (n > 0) {
		int k = 1 + (int)(t_rand(&st) % 5);
		if (k > n)
			k = (int)n;
		varve_record rs[5];
		for (int i = 0; i < k; i++) {
			size_t l = value_for(end + i, vals[i], sizeof vals[i]);
			rs[i] = t_rec("key", 3, vals[i], l);
			rs[i].partition = 0;
			rs[i].timestamp = ts ? ts(end + i) : VARVE_TIMESTAMP_NOW;
		}
		if (k == 1) {
			int64_t off;
			t_ok(varve_produce(db, topic, &rs[0], NULL, &off));
			cr_assert_eq(off, end);
		} else {
			t_ok(varve_produce_batch(db, topic, rs, (size_t)k, NULL));
			for (int i = 0; i < k; i++)
				cr_assert_eq(rs[i].offset, end + i);
		}
		end += k;
		n -= k;
	}
}

static varve_db *small_segments(const char *dir, uint32_t parts)
{
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.index_interval_bytes = 256;
	varve_db *db = t_open(dir, &o);
	if (parts)
		t_topic(db, "t", parts, VARVE_CODEC_NONE);
	return db;
}

/* ---- rolls -------------------------------------------------------------------- */

static void check_roll_rule(const char *dir, const char *topic, uint64_t segment_bytes,
			    int64_t end)
{
	const char *pd = t_part_dir(dir, topic, 0);
	int64_t bases[512];
	size_t ns = t_segments(pd, bases, 512);
	cr_assert_gt(ns, 1, "no roll happened");
	cr_assert_lt(ns, 512);
	cr_assert_eq(bases[0], 0);
	for (size_t i = 0; i < ns; i++) {
		const char *log = t_seg_path(dir, topic, 0, bases[i], ".log");
		uint64_t pos[512], e;
		size_t nb = t_batch_positions(log, pos, 512, &e);
		if (i + 1 < ns) {
			cr_assert_eq(e, (uint64_t)t_fsize(log), "segment %zu has a partial batch", i);
		} else {
			/* the active segment may be preallocated: zeros after the data */
			size_t n;
			uint8_t *b = t_read_file(log, &n);
			for (size_t k = (size_t)e; k < n; k++)
				cr_assert_eq(b[k], 0, "active segment: junk after the data at %zu", k);
			free(b);
		}
		cr_assert_gt(nb, 0, "empty segment %zu", i);
		if (nb > 1)
			cr_assert_leq(e, segment_bytes, "segment %" PRId64 " is %" PRIu64 " bytes",
				      bases[i], e);
		if (i + 1 < ns) {
			/* it rolled because the next batch would not fit */
			const char *next = t_seg_path(dir, topic, 0, bases[i + 1], ".log");
			uint64_t p2[512], e2;
			size_t nb2 = t_batch_positions(next, p2, 512, &e2);
			uint64_t first_len = nb2 > 1 ? p2[1] : e2;
			cr_assert_gt(e + first_len, segment_bytes,
				     "segment %" PRId64 " rolled with room left", bases[i]);
		}
	}
	(void)end;
}

Test(offsets, roll_by_size)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	fill(db, "t", 300, 1, NULL);
	varve_partition_info info = { .version = VARVE_PARTITION_INFO_VERSION };
	t_ok(varve_partition_info_get(db, "t", 0, &info));
	const char *pd = t_part_dir(dir, "t", 0);
	cr_assert_eq(info.segments, t_count_suffix(pd, ".log"));
	cr_assert_eq(t_count_suffix(pd, ".index"), info.segments);
	cr_assert_eq(t_count_suffix(pd, ".timeindex"), info.segments);
	check_roll_rule(dir, "t", 4096, 300);
	/* segment names are the first offsets they hold */
	int64_t bases[512];
	size_t ns = t_segments(pd, bases, 512);
	for (size_t i = 0; i < ns; i++) {
		varve_iter *it;
		t_ok(varve_iter_open(db, "t", 0, bases[i], &it));
		const varve_record *r;
		t_ok(varve_iter_next(it, &r));
		check_record(r, bases[i], "segment start");
		varve_iter_close(it);
	}
	cr_assert_eq(t_count(db, "t", 0), 300);
	t_close(db);
	/* the rolls go on at the same place after reopening */
	db = small_segments(dir, 0);
	fill(db, "t", 100, 2, NULL);
	cr_assert_eq(t_count(db, "t", 0), 400);
	check_roll_rule(dir, "t", 4096, 400);
	t_close(db);
}

Test(offsets, topic_segment_bytes_overrides_the_store)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 0);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.segment_bytes = 2048;
	t_ok(varve_topic_create(db, "small", &c));
	c.segment_bytes = 1 << 20;
	t_ok(varve_topic_create(db, "large", &c));
	fill(db, "small", 100, 3, NULL);
	fill(db, "large", 100, 3, NULL);
	check_roll_rule(dir, "small", 2048, 100);
	cr_assert_eq(t_count_suffix(t_part_dir(dir, "large", 0), ".log"), 1);
	t_close(db);
}

static void produce_at(varve_db *db, const char *topic, int64_t now, int64_t want_off)
{
	atomic_store(&clk.now, now);
	char v[512];
	size_t l = value_for(want_off, v, sizeof v);
	varve_record r = t_rec("k", 1, v, l);
	r.partition = 0;
	int64_t off;
	t_ok(varve_produce(db, topic, &r, NULL, &off));
	cr_assert_eq(off, want_off);
}

static void roll_by_age(int topic_level)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	o.clock_fn = t_clock_fn;
	o.clock_ctx = &clk;
	o.segment_ms = topic_level ? 0 : 1000;
	atomic_store(&clk.now, T0);
	varve_db *db = t_open(dir, &o);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.segment_ms = topic_level ? 1000 : 0;
	t_ok(varve_topic_create(db, "t", &c));
	const char *pd = t_part_dir(dir, "t", 0);
	produce_at(db, "t", T0, 0);
	produce_at(db, "t", T0 + 10, 1);
	produce_at(db, "t", T0 + 999, 2);
	cr_assert_eq(t_count_suffix(pd, ".log"), 1, "rolled before segment_ms");
	produce_at(db, "t", T0 + 1000, 3);
	cr_assert_eq(t_count_suffix(pd, ".log"), 2, "did not roll at segment_ms");
	cr_assert(t_exists(t_seg_path(dir, "t", 0, 3, ".log")));
	produce_at(db, "t", T0 + 1999, 4); /* the new segment's age counts from its first append */
	cr_assert_eq(t_count_suffix(pd, ".log"), 2);
	produce_at(db, "t", T0 + 2000, 5);
	cr_assert_eq(t_count_suffix(pd, ".log"), 3);
	t_close(db);
	/* after reopening, the active segment's age is still known */
	atomic_store(&clk.now, T0 + 2500);
	db = t_open(dir, &o);
	produce_at(db, "t", T0 + 2500, 6);
	cr_assert_eq(t_count_suffix(pd, ".log"), 3, "reopen restarted the segment's age");
	produce_at(db, "t", T0 + 3000, 7);
	cr_assert_eq(t_count_suffix(pd, ".log"), 4);
	cr_assert(t_exists(t_seg_path(dir, "t", 0, 7, ".log")));
	/* time going backwards does not roll */
	produce_at(db, "t", T0, 8);
	cr_assert_eq(t_count_suffix(pd, ".log"), 4);
	cr_assert_eq(t_count(db, "t", 0), 9);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	for (int64_t i = 0; i < 9; i++) {
		t_ok(varve_iter_next(it, &r));
		check_record(r, i, "after age rolls");
	}
	varve_iter_close(it);
	t_close(db);
}

Test(offsets, roll_by_age_store_option) { roll_by_age(0); }
Test(offsets, roll_by_age_topic_option) { roll_by_age(1); }

Test(offsets, no_roll_by_age_when_zero)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	o.clock_fn = t_clock_fn;
	o.clock_ctx = &clk;
	o.segment_ms = 0;
	atomic_store(&clk.now, T0);
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 5; i++)
		produce_at(db, "t", T0 + i * 100000000LL, i);
	cr_assert_eq(t_count_suffix(t_part_dir(dir, "t", 0), ".log"), 1);
	t_close(db);
}

/* ---- offset lookups ------------------------------------------------------------- */

static void every_offset(varve_db *db, int64_t end, const char *ctx)
{
	for (int64_t off = 0; off < end; off++) {
		varve_iter *it;
		int rc = varve_iter_open(db, "t", 0, off, &it);
		cr_assert_eq(rc, 0, "%s: iter_open(%" PRId64 "): %s (%s)", ctx, off, varve_errmsg(rc),
			     varve_last_error()->message);
		cr_assert_eq(varve_iter_position(it), off);
		const varve_record *r;
		t_ok(varve_iter_next(it, &r));
		check_record(r, off, ctx);
		cr_assert_eq(varve_iter_position(it), off + 1);
		if (off + 1 < end) {
			t_ok(varve_iter_next(it, &r));
			check_record(r, off + 1, ctx);
		}
		varve_iter_close(it);
	}
}

Test(offsets, iter_open_at_every_offset_across_segments)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	fill(db, "t", 400, 5, NULL);
	cr_assert_gt(t_count_suffix(t_part_dir(dir, "t", 0), ".log"), 5);
	every_offset(db, 400, "live");
	t_close(db);
	db = small_segments(dir, 0);
	every_offset(db, 400, "reopened");
	t_close(db);
}

Test(offsets, seek_anywhere_in_any_order)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	fill(db, "t", 300, 6, NULL);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	uint64_t st = 8;
	const varve_record *r;
	for (int i = 0; i < 600; i++) {
		int64_t off = (int64_t)(t_rand(&st) % 300);
		t_ok(varve_iter_seek(it, off));
		cr_assert_eq(varve_iter_position(it), off);
		int steps = 1 + (int)(t_rand(&st) % 4);
		for (int k = 0; k < steps && off + k < 300; k++) {
			t_ok(varve_iter_next(it, &r));
			check_record(r, off + k, "seek");
		}
	}
	t_ok(varve_iter_seek(it, 300));
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	t_assert_rc(varve_iter_seek(it, 301), VARVE_EOFFSET);
	t_assert_rc(varve_iter_seek(it, -1), VARVE_EOFFSET);
	/* a failed seek leaves a usable iterator once sought again */
	t_ok(varve_iter_seek(it, 299));
	t_ok(varve_iter_next(it, &r));
	check_record(r, 299, "after failed seeks");
	varve_iter_close(it);
	t_close(db);
}

Test(offsets, out_of_range_offsets)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	varve_iter *it = (varve_iter *)1;
	/* empty partition: only offset 0 is in range */
	t_assert_rc(varve_iter_open(db, "t", 0, -1, &it), VARVE_EOFFSET);
	cr_assert_null(it);
	t_assert_rc(varve_iter_open(db, "t", 0, 1, &it), VARVE_EOFFSET);
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	varve_iter_close(it);
	fill(db, "t", 50, 9, NULL);
	t_assert_rc(varve_iter_open(db, "t", 0, -1, &it), VARVE_EOFFSET);
	t_assert_rc(varve_iter_open(db, "t", 0, 51, &it), VARVE_EOFFSET);
	t_assert_rc(varve_iter_open(db, "t", 0, INT64_MAX, &it), VARVE_EOFFSET);
	t_assert_rc(varve_iter_open(db, "t", 1, 0, &it), VARVE_ENOTFOUND);
	t_assert_rc(varve_iter_open(db, "nope", 0, 0, &it), VARVE_ENOTFOUND);
	t_assert_rc(varve_iter_open(db, "t", 0, 0, NULL), VARVE_EINVAL);
	t_close(db);
}

Test(offsets, below_the_log_start)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	fill(db, "t", 200, 10, NULL);
	t_close(db);
	/* remove the oldest segment, as retention would */
	int64_t bases[256];
	size_t ns = t_segments(t_part_dir(dir, "t", 0), bases, 256);
	cr_assert_gt(ns, 2);
	t_unlink(t_seg_path(dir, "t", 0, 0, ".log"));
	t_unlink(t_seg_path(dir, "t", 0, 0, ".index"));
	t_unlink(t_seg_path(dir, "t", 0, 0, ".timeindex"));
	db = small_segments(dir, 0);
	int64_t start, end;
	t_ok(varve_offsets(db, "t", 0, &start, &end));
	cr_assert_eq(start, bases[1]);
	cr_assert_eq(end, 200);
	varve_iter *it;
	t_assert_rc(varve_iter_open(db, "t", 0, 0, &it), VARVE_EOFFSET);
	t_assert_rc(varve_iter_open(db, "t", 0, bases[1] - 1, &it), VARVE_EOFFSET);
	t_ok(varve_iter_open(db, "t", 0, bases[1], &it));
	const varve_record *r;
	t_ok(varve_iter_next(it, &r));
	check_record(r, bases[1], "log start");
	t_assert_rc(varve_iter_seek(it, bases[1] - 1), VARVE_EOFFSET);
	varve_iter_close(it);
	t_close(db);
}

Test(offsets, tailing_from_the_end)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	fill(db, "t", 20, 11, NULL);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 20, &it));
	const varve_record *r = (const varve_record *)1;
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	cr_assert_null(r);
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	cr_assert_eq(varve_iter_position(it), 20);
	/* records produced later show up, across several rolls */
	int64_t next = 20;
	for (int round = 0; round < 30; round++) {
		fill(db, "t", 1 + round % 7, 100 + (uint64_t)round, NULL);
		int64_t end;
		t_ok(varve_offsets(db, "t", 0, NULL, &end));
		while (next < end) {
			t_ok(varve_iter_next(it, &r));
			check_record(r, next, "tail");
			next++;
		}
		t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	}
	cr_assert_gt(t_count_suffix(t_part_dir(dir, "t", 0), ".log"), 2);
	varve_iter_close(it);
	t_close(db);
}

/* ---- time lookups ------------------------------------------------------------------ */

static int64_t wobbly_ts(int64_t off)
{
	/* up and down, with repeats; never below T0 */
	uint64_t st = (uint64_t)off * 31 + 7;
	return T0 + off * 10 + (int64_t)(t_rand(&st) % 300);
}

static void check_times(varve_db *db, const int64_t *ts, int64_t n, const char *ctx)
{
	int64_t maxts = INT64_MIN;
	for (int64_t i = 0; i < n; i++)
		if (ts[i] > maxts)
			maxts = ts[i];
	for (int64_t T = T0 - 50; T <= maxts + 20; T += 3) {
		int64_t want = -1;
		for (int64_t i = 0; i < n; i++)
			if (ts[i] >= T) {
				want = i;
				break;
			}
		int64_t got = -99;
		int rc = varve_offset_for_time(db, "t", 0, T, &got);
		if (want < 0) {
			t_assert_rc(rc, VARVE_ENOTFOUND);
			cr_assert_eq(got, n, "%s: past the max the end offset is returned", ctx);
		} else {
			cr_assert_eq(rc, 0, "%s: T=%" PRId64 ": %s (%s)", ctx, T, varve_errmsg(rc),
				     varve_last_error()->message);
			cr_assert_eq(got, want, "%s: T=%" PRId64 ": got %" PRId64 " want %" PRId64, ctx,
				     T, got, want);
		}
	}
	int64_t got;
	t_assert_rc(varve_offset_for_time(db, "t", 0, INT64_MAX, &got), VARVE_ENOTFOUND);
	cr_assert_eq(got, n);
	t_ok(varve_offset_for_time(db, "t", 0, INT64_MIN, &got));
	cr_assert_eq(got, 0);
}

Test(offsets, offset_for_time_across_segments)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	enum { N = 250 };
	int64_t ts[N];
	/* one record per call, so each batch holds one timestamp */
	for (int64_t i = 0; i < N; i++) {
		ts[i] = wobbly_ts(i);
		char v[512];
		size_t l = value_for(i, v, sizeof v);
		varve_record r = t_rec("k", 1, v, l);
		r.timestamp = ts[i];
		t_ok(varve_produce(db, "t", &r, NULL, NULL));
	}
	cr_assert_gt(t_count_suffix(t_part_dir(dir, "t", 0), ".log"), 3);
	check_times(db, ts, N, "live");
	t_close(db);
	db = small_segments(dir, 0);
	check_times(db, ts, N, "reopened");
	t_close(db);
}

/* Batches of several records with timestamps in any order. */
Test(offsets, offset_for_time_inside_batches)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 1);
	enum { N = 200 };
	int64_t ts[N];
	for (int64_t i = 0; i < N; i++)
		ts[i] = wobbly_ts(i);
	fill(db, "t", N, 12, wobbly_ts);
	check_times(db, ts, N, "batches");
	t_close(db);
}

Test(offsets, offset_for_time_on_an_empty_partition)
{
	const char *dir = t_tmpdir();
	varve_db *db = small_segments(dir, 2);
	int64_t got = 5;
	t_assert_rc(varve_offset_for_time(db, "t", 1, 0, &got), VARVE_ENOTFOUND);
	cr_assert_eq(got, 0);
	t_assert_rc(varve_offset_for_time(db, "t", 2, 0, &got), VARVE_ENOTFOUND);
	t_assert_rc(varve_offset_for_time(db, "t", 0, 0, NULL), VARVE_EINVAL);
	t_close(db);
}

/* Default index interval: one time-index entry for a small segment, so the
 * time index alone does not know the segment's max timestamp. Lookups must
 * be right after every kind of open. */
static void time_after_reopen(int mode)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts(); /* index_interval_bytes 4096 */
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	enum { M = 30 };
	int64_t ts[M];
	for (int64_t i = 0; i < M; i++) {
		ts[i] = T0 + i * 100;
		char v[512];
		size_t l = value_for(i, v, sizeof v);
		varve_record r = t_rec("k", 1, v, l);
		r.timestamp = ts[i];
		t_ok(varve_produce(db, "t", &r, NULL, NULL));
	}
	check_times(db, ts, M, "live");
	t_close(db);
	const char *ctx = mode == 0 ? "clean reopen" : mode == 1 ? "unclean reopen" : "read-only";
	if (mode == 1)
		t_unlink(t_fmt("%s/CLEAN", dir));
	o.read_only = mode == 2;
	db = t_open(dir, &o);
	check_times(db, ts, M, ctx);
	t_close(db);
}

Test(offsets, offset_for_time_after_clean_reopen) { time_after_reopen(0); }
Test(offsets, offset_for_time_after_unclean_reopen) { time_after_reopen(1); }
Test(offsets, offset_for_time_read_only) { time_after_reopen(2); }
