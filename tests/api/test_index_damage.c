/* SPDX-License-Identifier: MIT */
/* API: index files deleted, truncated, zero-filled or filled with garbage --
 * every offset and every time lookup is still answered from the log. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(index_damage, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define T0 1700000000000LL
#define N 240

static int64_t ts_of(int64_t off)
{
	uint64_t st = (uint64_t)off * 977 + 3;
	return T0 + off * 20 + (int64_t)(t_rand(&st) % 500); /* wobbles across batches */
}

static size_t value_of(int64_t off, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "v%" PRId64 ":", off);
	size_t len = (size_t)n + (size_t)((off * 37) % 120);
	memset(buf + n, 'x', len - (size_t)n);
	return len;
}

static varve_options opts(int read_only)
{
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.index_interval_bytes = 64;
	o.read_only = read_only;
	return o;
}

/* A pristine store: N records, one per batch (timestamps wobble between
 * batches), several segments with many index entries each. */
static const char *pristine(void)
{
	const char *dir = t_newpath("pristine");
	varve_options o = opts(0);
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int64_t i = 0; i < N; i++) {
		char v[256];
		size_t l = value_of(i, v, sizeof v);
		varve_record r = t_rec("k", 1, v, l);
		r.timestamp = ts_of(i);
		t_ok(varve_produce(db, "t", &r, NULL, NULL));
	}
	t_close(db);
	cr_assert_gt(t_count_suffix(t_part_dir(dir, "t", 0), ".log"), 3);
	return dir;
}

static void check_all(varve_db *db, const char *ctx)
{
	for (int64_t off = 0; off < N; off++) {
		varve_iter *it;
		int rc = varve_iter_open(db, "t", 0, off, &it);
		cr_assert_eq(rc, 0, "%s: open at %" PRId64 ": %s (%s)", ctx, off, varve_errmsg(rc),
			     varve_last_error()->message);
		const varve_record *r;
		rc = varve_iter_next(it, &r);
		cr_assert_eq(rc, 0, "%s: next at %" PRId64 ": %s (%s)", ctx, off, varve_errmsg(rc),
			     varve_last_error()->message);
		char v[256];
		size_t l = value_of(off, v, sizeof v);
		cr_assert_eq(r->offset, off, "%s: asked %" PRId64 " got %" PRId64, ctx, off, r->offset);
		cr_assert(r->value_len == l && memcmp(r->value, v, l) == 0, "%s: bytes at %" PRId64,
			  ctx, off);
		cr_assert_eq(r->timestamp, ts_of(off));
		varve_iter_close(it);
	}
	int64_t maxts = INT64_MIN;
	for (int64_t i = 0; i < N; i++)
		if (ts_of(i) > maxts)
			maxts = ts_of(i);
	for (int64_t T = T0 - 10; T <= maxts + 10; T += 13) {
		int64_t want = -1;
		for (int64_t i = 0; i < N; i++)
			if (ts_of(i) >= T) {
				want = i;
				break;
			}
		int64_t got = -5;
		int rc = varve_offset_for_time(db, "t", 0, T, &got);
		if (want < 0) {
			t_assert_rc(rc, VARVE_ENOTFOUND);
		} else {
			cr_assert_eq(rc, 0, "%s: time %" PRId64 ": %s", ctx, T, varve_errmsg(rc));
			cr_assert_eq(got, want, "%s: time %" PRId64 " -> %" PRId64 ", want %" PRId64, ctx,
				     T, got, want);
		}
	}
}

typedef void (*damage_fn)(const char *path, int is_time, uint64_t seed);

static void damage_all(const char *dir, damage_fn fn)
{
	const char *pd = t_part_dir(dir, "t", 0);
	int64_t bases[128];
	size_t ns = t_segments(pd, bases, 128);
	for (size_t i = 0; i < ns; i++) {
		fn(t_seg_path(dir, "t", 0, bases[i], ".index"), 0, (uint64_t)i + 1);
		fn(t_seg_path(dir, "t", 0, bases[i], ".timeindex"), 1, (uint64_t)i + 100);
	}
}

/* Copy the pristine store, damage it, and check it three ways: a writer
 * after a clean close, a writer after an unclean stop, and a reader (which
 * must not change a byte). */
static void run(damage_fn fn, const char *what)
{
	const char *src = pristine();
	for (int mode = 0; mode < 3; mode++) {
		const char *dir = t_newpath("copy");
		t_copy_tree(src, dir);
		damage_all(dir, fn);
		if (mode == 1)
			t_unlink(t_fmt("%s/CLEAN", dir));
		t_snap *before = t_snapshot(dir);
		varve_options o = opts(mode == 2);
		varve_db *db = t_open(dir, &o);
		const char *ctx = t_fmt("%s, %s", what, mode == 0 ? "clean" : mode == 1 ? "unclean" : "read-only");
		check_all(db, ctx);
		const varve_recovery_cut *cuts;
		size_t n;
		t_ok(varve_recovery_cuts(db, &cuts, &n));
		cr_assert_eq(n, 0, "%s: index damage cut the log", ctx);
		t_close(db);
		if (mode == 2) {
			t_snap *after = t_snapshot(dir);
			char why[512];
			cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0,
				     "%s: the reader changed the store: %s", ctx, why);
			t_snap_free(after);
		} else {
			/* and again, with whatever the writer left */
			db = t_open(dir, &o);
			check_all(db, ctx);
			t_close(db);
		}
		t_snap_free(before);
	}
}

static void d_delete(const char *path, int is_time, uint64_t seed)
{
	(void)is_time;
	(void)seed;
	t_unlink(path);
}
static void d_empty(const char *path, int is_time, uint64_t seed)
{
	(void)is_time;
	(void)seed;
	t_truncate(path, 0);
}
static void d_half(const char *path, int is_time, uint64_t seed)
{
	(void)is_time;
	(void)seed;
	t_truncate(path, (uint64_t)t_fsize(path) / 2);
}
static void d_odd(const char *path, int is_time, uint64_t seed)
{
	(void)seed;
	int64_t n = t_fsize(path);
	if (n > 13)
		t_truncate(path, (uint64_t)n - (is_time ? 5 : 3)); /* a partial last entry */
}
static void d_zero_extend(const char *path, int is_time, uint64_t seed)
{
	(void)is_time;
	(void)seed;
	t_append_zeros(path, 10 * 1024); /* preallocated, never written */
}
static void d_zero_fill(const char *path, int is_time, uint64_t seed)
{
	(void)is_time;
	(void)seed;
	int64_t n = t_fsize(path);
	t_truncate(path, 0);
	t_append_zeros(path, (size_t)(n > 0 ? n : 96));
}
static void d_garbage(const char *path, int is_time, uint64_t seed)
{
	(void)is_time;
	int64_t n = t_fsize(path);
	t_truncate(path, 0);
	t_append_garbage(path, (size_t)(n > 0 ? n : 96), seed);
}
static void d_garbage_tail(const char *path, int is_time, uint64_t seed)
{
	(void)is_time;
	t_append_garbage(path, 480, seed);
}
/* Each entry swapped with its neighbour: not increasing. */
static void d_swapped(const char *path, int is_time, uint64_t seed)
{
	(void)seed;
	size_t n, e = is_time ? 12 : 8;
	uint8_t *b = t_read_file(path, &n);
	for (size_t i = 0; i + 2 * e <= n; i += 2 * e) {
		uint8_t tmp[12];
		memcpy(tmp, b + i, e);
		memcpy(b + i, b + i + e, e);
		memcpy(b + i + e, tmp, e);
	}
	t_write_file(path, b, n);
	free(b);
}
/* Offset entries that are increasing and inside the log but point between
 * batches (positions shifted by a few bytes). */
static void d_shifted(const char *path, int is_time, uint64_t seed)
{
	(void)seed;
	if (is_time)
		return;
	size_t n;
	uint8_t *b = t_read_file(path, &n);
	for (size_t i = 8; i + 8 <= n; i += 8) {
		uint32_t pos = (uint32_t)b[i + 4] | ((uint32_t)b[i + 5] << 8) |
			       ((uint32_t)b[i + 6] << 16) | ((uint32_t)b[i + 7] << 24);
		pos += 3;
		b[i + 4] = (uint8_t)pos;
		b[i + 5] = (uint8_t)(pos >> 8);
		b[i + 6] = (uint8_t)(pos >> 16);
		b[i + 7] = (uint8_t)(pos >> 24);
	}
	t_write_file(path, b, n);
	free(b);
}

Test(index_damage, deleted) { run(d_delete, "deleted"); }
Test(index_damage, emptied) { run(d_empty, "emptied"); }
Test(index_damage, truncated_to_half) { run(d_half, "half"); }
Test(index_damage, truncated_mid_entry) { run(d_odd, "mid entry"); }
Test(index_damage, extended_with_zeros) { run(d_zero_extend, "zero-extended"); }
Test(index_damage, zero_filled) { run(d_zero_fill, "zero-filled"); }
Test(index_damage, garbage) { run(d_garbage, "garbage"); }
Test(index_damage, garbage_after_the_entries) { run(d_garbage_tail, "garbage tail"); }
Test(index_damage, entries_out_of_order) { run(d_swapped, "swapped"); }
Test(index_damage, entries_between_batches) { run(d_shifted, "shifted"); }

/* A time index that is well formed (increasing, offsets inside the
 * segment) but whose timestamps are lower than the records' -- e.g. left
 * from before the log was restored or rewritten. Index files are hints,
 * never the truth (index.h): a time lookup must still find the first
 * record at or after T. */
static void d_time_lies(const char *path, int is_time, uint64_t seed)
{
	(void)seed;
	if (!is_time)
		return;
	size_t n;
	uint8_t *b = t_read_file(path, &n);
	for (size_t i = 0; i + 12 <= n; i += 12) {
		/* keep the offsets, claim timestamps near the epoch */
		uint64_t ts = 1000 + i;
		for (int k = 0; k < 8; k++)
			b[i + (size_t)k] = (uint8_t)(ts >> (8 * k));
	}
	t_write_file(path, b, n);
	free(b);
}

Test(index_damage, time_index_with_wrong_timestamps) { run(d_time_lies, "time lies"); }
